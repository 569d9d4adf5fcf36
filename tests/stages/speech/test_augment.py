"""Augmentation: speed perturbation, noise at a given SNR, reverberation, telephone band,
codecs, babble, non-speech clips, VTLP and SpecAugment masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from facespeech.stages.speech.augment import (
    VTLP_FACTORS,
    BatchAugment,
    SpecAugment,
    Vtlp,
    WaveformAugment,
    codec_roundtrip,
    non_speech_clip,
    speed_perturb,
)
from facespeech.stages.speech.spectrogram import LogMelFeatures, vtlp_warp


def tone(seconds: float = 1.0, freq_hz: float = 500.0) -> np.ndarray:
    t = np.arange(round(16_000 * seconds)) / 16_000
    return (0.5 * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_speed_changes_length_and_pitch(factor: float) -> None:
    out = speed_perturb(tone(), factor)
    assert out.dtype == np.float32
    assert abs(len(out) - 16_000 / factor) <= 2
    spectrum = np.abs(np.fft.rfft(out))
    peak = np.fft.rfftfreq(len(out), 1 / 16_000)[spectrum.argmax()]
    assert peak == pytest.approx(500.0 * factor, abs=3.0)


def test_speed_one_is_identity() -> None:
    wave = tone()
    assert speed_perturb(wave, 1.0) is wave


def padded_batch(*waves: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(w) for w in waves])
    batch = torch.zeros(len(waves), int(lengths.max()))
    for row, wave in enumerate(waves):
        batch[row, : len(wave)] = torch.from_numpy(wave)
    return batch, lengths


def snr_db(clean: np.ndarray, mixed: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(clean**2) / np.mean((mixed - clean) ** 2)))


def test_noise_within_the_snr_range_and_padding_kept() -> None:
    torch.manual_seed(0)
    batch, lengths = padded_batch(tone(1.0), tone(0.6, 300.0))
    noisy = BatchAugment(noise_prob=1.0).train()(batch, lengths)
    for row in range(2):
        n = int(lengths[row])
        assert 10.0 - 0.1 <= snr_db(batch[row, :n].numpy(), noisy[row, :n].numpy()) <= 40.0 + 0.1
        assert (noisy[row, n:] == 0).all()


def band_energy(wave: np.ndarray, low_hz: float, high_hz: float) -> float:
    spectrum = np.abs(np.fft.rfft(wave)) ** 2
    freqs = np.fft.rfftfreq(len(wave), 1 / 16_000)
    return float(spectrum[(freqs >= low_hz) & (freqs < high_hz)].sum() / spectrum.sum())


def test_clip_augment_draw_depends_on_generator_only() -> None:
    wave = tone()
    augment = WaveformAugment(codec_prob=1.0)
    a = augment(wave, np.random.default_rng([1, 2]))
    b = augment(wave, np.random.default_rng([1, 2]))
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32
    assert not np.array_equal(a, augment(wave, np.random.default_rng([1, 3])))


def test_batch_augment_draw_depends_on_torch_seed_only() -> None:
    batch, lengths = padded_batch(tone(1.0), tone(0.8, 300.0), tone(0.9, 700.0))
    augment = BatchAugment(reverb_prob=1.0, telephone_prob=0.5, babble_prob=1.0, noise_prob=1.0)
    torch.manual_seed(3)
    a = augment.train()(batch, lengths)
    torch.manual_seed(3)
    b = augment(batch, lengths)
    torch.testing.assert_close(a, b)
    assert a.shape == batch.shape
    assert a.abs().max() <= 1.0
    assert torch.equal(augment.eval()(batch, lengths), batch)


@pytest.mark.parametrize("name", ["codec_prob"])
def test_clip_augment_rejects_probability_outside_unit_interval(name: str) -> None:
    with pytest.raises(ValueError, match=name):
        WaveformAugment(**{name: 1.5})


@pytest.mark.parametrize(
    "name", ["reverb_prob", "telephone_prob", "babble_prob", "noise_prob", "gain_prob"]
)
def test_batch_augment_rejects_probability_outside_unit_interval(name: str) -> None:
    with pytest.raises(ValueError, match=name):
        BatchAugment(**{name: -0.1})


def test_gain_plays_items_louder_or_quieter_within_its_range() -> None:
    waves = [tone(1.0, 300.0 + 100 * k) * 0.1 for k in range(32)]
    batch, lengths = padded_batch(*waves)
    torch.manual_seed(0)
    out = BatchAugment(gain_prob=0.5).train()(batch, lengths)
    ratio_db = 20 * torch.log10(out.abs().amax(-1) / batch.abs().amax(-1))
    changed = ratio_db.abs() > 1e-3
    assert 6 <= int(changed.sum()) <= 26  # about half of the 32
    assert bool((ratio_db >= -20.0 - 1e-3).all())
    assert bool((ratio_db <= 6.0 + 1e-3).all())
    assert float(ratio_db.min()) < -10.0  # quieter ones, far down the range
    # Without gain the draws of the other augmentations are as before.
    torch.manual_seed(0)
    plain = BatchAugment(noise_prob=1.0).train()(batch, lengths)
    torch.manual_seed(0)
    also = BatchAugment(noise_prob=1.0, gain_prob=0.0).train()(batch, lengths)
    torch.testing.assert_close(plain, also)


def test_reverberation_spreads_an_impulse_over_its_rt60() -> None:
    click = np.zeros(24_000, dtype=np.float32)
    click[100] = 0.5
    batch, lengths = padded_batch(click)
    torch.manual_seed(0)
    wet = BatchAugment(reverb_prob=1.0).train()(batch, lengths)[0].double().numpy()
    energy = wet**2
    # The direct sound carries 33-94 % of the energy (DRR -3 to 12 dB)...
    direct = energy[95:105].sum() / energy.sum()
    assert 0.3 < direct < 0.95
    # ...the tail follows it (nothing before) and has died out by 0.9 s + pre-delay.
    assert energy[:95].sum() < 1e-6 * energy.sum()
    assert energy[105:15_000].sum() / energy.sum() == pytest.approx(1 - direct, abs=1e-3)
    assert energy[15_000:].sum() < 1e-4 * energy.sum()
    assert np.mean(energy) == pytest.approx(np.mean(click.astype(np.float64) ** 2), rel=1e-3)


def test_telephone_band_removes_low_and_high_frequencies() -> None:
    rng = np.random.default_rng(0)
    noise = (0.1 * rng.standard_normal(16_000)).astype(np.float32)
    batch, lengths = padded_batch(noise)
    torch.manual_seed(0)
    phone = BatchAugment(telephone_prob=1.0).train()(batch, lengths)[0].numpy()
    assert band_energy(noise, 4_000, 8_000) > 0.4
    assert band_energy(phone, 4_050, 8_000) < 1e-4  # the 8 kHz line
    assert band_energy(phone, 0, 250) < 0.01  # quantisation noise only
    assert band_energy(phone, 300, 3_400) > 0.9


@pytest.mark.parametrize("codec", ["opus", "mp3"])
def test_codec_roundtrip_keeps_a_tone(codec: str) -> None:
    wave = tone(1.0, 440.0)
    coded = codec_roundtrip(wave, codec, 0.95)
    assert coded.shape == wave.shape
    assert coded.dtype == np.float32
    assert not np.array_equal(coded, wave)
    assert band_energy(coded, 400, 480) > 0.9  # still the same tone


def test_codec_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="codec"):
        codec_roundtrip(tone(), "flac-ish", 0.5)


def test_babble_mixes_other_speech_items_only() -> None:
    waves = [tone(1.0, 500.0), tone(0.9, 1200.0), tone(1.0, 2000.0), tone(0.7, 3000.0)]
    batch, lengths = padded_batch(*waves)
    is_speech = torch.tensor([True, True, True, False])
    torch.manual_seed(0)
    mixed = BatchAugment(babble_prob=1.0).train()(batch, lengths, is_speech).numpy()
    for row in range(3):
        n = int(lengths[row])
        assert 5.0 - 0.1 <= snr_db(waves[row], mixed[row, :n]) <= 20.0 + 0.1
        assert band_energy(mixed[row, :n] - waves[row], 2_900, 3_100) < 1e-3  # not the tune
    np.testing.assert_array_equal(mixed[3, : len(waves[3])], waves[3])  # no words added
    # A batch with one speech item has no one to babble with.
    alone, alone_lengths = padded_batch(waves[0])
    torch.manual_seed(0)
    same = BatchAugment(babble_prob=1.0).train()(alone, alone_lengths)
    torch.testing.assert_close(same, alone)


@pytest.mark.parametrize("seed", range(12))
def test_non_speech_clips_have_the_asked_length_and_a_sane_level(seed: int) -> None:
    clip = non_speech_clip(np.random.default_rng(seed), 1.5)
    assert clip.shape == (24_000,)
    assert clip.dtype == np.float32
    assert np.isfinite(clip).all()
    assert np.max(np.abs(clip)) <= 10 ** (-1 / 20) + 1e-6
    np.testing.assert_array_equal(clip, non_speech_clip(np.random.default_rng(seed), 1.5))


def test_vtlp_warp_scales_low_frequencies_and_keeps_nyquist() -> None:
    hz = np.array([0.0, 1_000.0, 8_000.0])
    for factor in (0.9, 1.1):
        warped = vtlp_warp(hz, factor, 8_000.0)
        assert warped[1] == pytest.approx(1_000.0 * factor)
        assert warped[2] == pytest.approx(8_000.0)
        assert warped[0] == 0.0


def test_vtlp_draws_warped_banks_in_training_only() -> None:
    features = LogMelFeatures()
    vtlp = Vtlp(features.config())
    assert vtlp.banks.shape == (len(VTLP_FACTORS), 80, 257)
    middle = VTLP_FACTORS.index(1.0)
    torch.testing.assert_close(vtlp.banks[middle], features.mel_filters)
    torch.manual_seed(0)
    banks = vtlp.train()(4)
    assert banks is not None
    assert banks.shape == (4, 80, 257)
    values, lengths = features(torch.randn(4, 8_000), None, banks)
    assert values.shape == (4, 80, int(lengths[0]))
    assert vtlp.eval()(4) is None


def test_spec_augment_masks_within_lengths() -> None:
    torch.manual_seed(0)
    features = torch.ones(3, 80, 200)
    lengths = torch.tensor([200, 120, 50])
    augment = SpecAugment(freq_masks=2, freq_mask_bins=15, time_masks=2, time_mask_frames=40)
    masked = augment.train()(features, lengths)
    assert masked.shape == features.shape
    assert set(masked.unique().tolist()) <= {0.0, 1.0}
    assert (masked == 0).any()
    # A band covers at most 15 bins per mask, so at least 50 of 80 bins stay in every frame
    # that no time mask hits.
    kept_bins = (masked == 1).sum(dim=1).max(dim=1).values
    assert (kept_bins >= 50).all()
    assert torch.equal(augment.eval()(features, lengths), features)


@pytest.mark.gpu
def test_batch_augment_and_vtlp_on_cuda() -> None:
    batch, lengths = padded_batch(tone(1.0), tone(0.5, 300.0), tone(0.8, 900.0))
    augment = BatchAugment(reverb_prob=1.0, telephone_prob=1.0, babble_prob=1.0, noise_prob=1.0)
    torch.manual_seed(0)
    out = augment.train()(batch.cuda(), lengths.cuda(), torch.tensor([True, True, False]))
    assert out.device.type == "cuda"
    assert out.shape == batch.shape
    assert torch.isfinite(out).all()
    assert out.abs().max() <= 1.0
    for row in range(3):
        assert (out[row, int(lengths[row]) :] == 0).all()
    features = LogMelFeatures().cuda()
    banks = Vtlp(features.config()).cuda().train()(3)
    values, _ = features(out, lengths.cuda(), banks)
    assert torch.isfinite(values).all()
