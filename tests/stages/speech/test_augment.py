"""Augmentation: speed perturbation, noise at a given SNR, reverberation, telephone band,
codecs, babble, non-speech clips, VTLP and SpecAugment masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from facespeech.stages.speech.augment import (
    VTLP_FACTORS,
    SpecAugment,
    Vtlp,
    WaveformAugment,
    add_noise,
    codec_roundtrip,
    mix_babble,
    non_speech_clip,
    reverberate,
    speed_perturb,
    telephone_band,
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


@pytest.mark.parametrize("color", ["white", "pink"])
def test_noise_at_requested_snr(color: str) -> None:
    wave = tone()
    noisy = add_noise(wave, 20.0, np.random.default_rng(0), color=color)
    noise = noisy - wave
    snr = 10 * np.log10(np.mean(wave**2) / np.mean(noise**2))
    assert snr == pytest.approx(20.0, abs=0.2)


def band_energy(wave: np.ndarray, low_hz: float, high_hz: float) -> float:
    spectrum = np.abs(np.fft.rfft(wave)) ** 2
    freqs = np.fft.rfftfreq(len(wave), 1 / 16_000)
    return float(spectrum[(freqs >= low_hz) & (freqs < high_hz)].sum() / spectrum.sum())


def test_augment_draw_depends_on_generator_only() -> None:
    wave = tone()
    augment = WaveformAugment(
        noise_prob=1.0, reverb_prob=1.0, codec_prob=1.0, babble_prob=1.0, telephone_prob=0.0
    )

    def talkers(count: int) -> list[np.ndarray]:
        return [tone(0.7, 300.0 + 50 * k) for k in range(count)]

    a = augment(wave, np.random.default_rng([1, 2]), talkers)
    b = augment(wave, np.random.default_rng([1, 2]), talkers)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32
    assert not np.array_equal(a, augment(wave, np.random.default_rng([1, 3]), talkers))


def test_augment_rejects_probability_outside_unit_interval() -> None:
    with pytest.raises(ValueError, match="reverb_prob"):
        WaveformAugment(reverb_prob=1.5)


def test_reverberation_spreads_an_impulse_over_its_rt60() -> None:
    click = np.zeros(16_000, dtype=np.float32)
    click[100] = 0.5
    wet = reverberate(click, np.random.default_rng(0), rt60_s=0.5, direct_to_reverb_db=0.0)
    assert wet.shape == click.shape
    assert wet.dtype == np.float32
    energy = wet.astype(np.float64) ** 2
    # Half the energy in the tail at 0 dB DRR; the tail has died out by 0.6 s.
    assert energy[100] / energy.sum() == pytest.approx(0.5, abs=0.1)
    assert energy[200:8_000].sum() > 0.3 * energy.sum()
    assert energy[10_000:].sum() < 1e-3 * energy.sum()
    assert np.sqrt(energy.mean()) == pytest.approx(np.sqrt(np.mean(click**2.0)), rel=1e-3)


def test_telephone_band_removes_low_and_high_frequencies() -> None:
    rng = np.random.default_rng(0)
    noise = (0.1 * rng.standard_normal(16_000)).astype(np.float32)
    phone = telephone_band(noise)
    assert phone.shape == noise.shape
    assert band_energy(noise, 4_000, 8_000) > 0.4
    assert band_energy(phone, 3_800, 8_000) < 0.01
    assert band_energy(phone, 0, 150) < 0.01


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


def test_babble_added_at_requested_snr() -> None:
    wave = tone(1.0, 500.0)
    voices = [tone(0.3, 1200.0), tone(0.45, 2000.0)]
    mixed = mix_babble(wave, voices, 10.0)
    babble = mixed - wave
    snr = 10 * np.log10(np.mean(wave**2) / np.mean(babble**2))
    assert snr == pytest.approx(10.0, abs=0.2)
    assert mix_babble(wave, [], 10.0) is wave


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
