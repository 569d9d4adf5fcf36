"""Augmentation: speed perturbation, noise at a given SNR, SpecAugment masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from facespeech.stages.speech.augment import (
    SpecAugment,
    add_noise,
    random_waveform_augment,
    speed_perturb,
)


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


def test_augment_draw_depends_on_generator_only() -> None:
    wave = tone()
    a = random_waveform_augment(wave, np.random.default_rng([1, 2]), noise_prob=1.0)
    b = random_waveform_augment(wave, np.random.default_rng([1, 2]), noise_prob=1.0)
    np.testing.assert_array_equal(a, b)


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
