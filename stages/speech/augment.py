"""Training-time augmentation: speed perturbation and additive noise on waveforms, SpecAugment
on spectrograms.

Waveform functions take a ``numpy.random.Generator`` (STYLE.md section 5) so a data-loader
worker draws the same perturbation for the same (seed, epoch, clip). :class:`SpecAugment` is an
``nn.Module`` working on padded GPU batches; it draws from torch's global generator (seeded by
the trainer).
"""

from __future__ import annotations

import numpy as np
import soxr
import torch
from facespeech.stages.speech.audio import SAMPLE_RATE
from numpy.typing import NDArray
from torch import Tensor, nn

SPEED_FACTORS = (0.9, 1.0, 1.1)  # Ko et al. 2015, "Audio augmentation for speech recognition"
SPEED_RESAMPLE_QUALITY = "MQ"  # soxr medium quality: inaudible loss, a third cheaper than HQ
NOISE_SNR_DB = (10.0, 40.0)  # uniform range of the signal-to-noise ratio of added noise
FREQ_MASKS = 2  # SpecAugment LibriSpeech basic policy (Park et al. 2019): F = 27 of 80 mels,
FREQ_MASK_BINS = 15  # two masks; narrowed here for the smaller data set
TIME_MASKS = 2
TIME_MASK_FRACTION = 0.05  # at most this share of an utterance per time mask (p in the paper)
TIME_MASK_FRAMES = 40  # and at most this many frames (T = 40 for 10 ms frames)


def speed_perturb(
    samples: NDArray[np.float32], factor: float, *, sample_rate_hz: int = SAMPLE_RATE
) -> NDArray[np.float32]:
    """Play ``samples`` ``factor`` times faster (tempo and pitch, as Kaldi's speed perturbation):
    ``float32 (n,)`` -> ``float32 (round(n / factor),)`` at the same rate."""
    if factor <= 0:
        raise ValueError(f"factor must be positive, got {factor}")
    if factor == 1.0:
        return samples
    out = soxr.resample(
        samples, sample_rate_hz * factor, sample_rate_hz, quality=SPEED_RESAMPLE_QUALITY
    )
    return np.asarray(out, dtype=np.float32)


def add_noise(
    samples: NDArray[np.float32], snr_db: float, rng: np.random.Generator, *, color: str = "white"
) -> NDArray[np.float32]:
    """Add white or pink (1/f) Gaussian noise at ``snr_db`` below the clip's mean power.

    ``float32 (n,)`` -> ``float32 (n,)`` clipped to [-1, 1]. A silent clip is returned as is.
    """
    power = float(np.mean(samples.astype(np.float64) ** 2))
    if power == 0.0 or len(samples) == 0:
        return samples
    noise = rng.standard_normal(len(samples))
    if color == "pink":
        spectrum = np.fft.rfft(noise)
        spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1.0))
        noise = np.fft.irfft(spectrum, n=len(samples))
    elif color != "white":
        raise ValueError(f"color must be 'white' or 'pink', got {color!r}")
    noise *= np.sqrt(power / 10 ** (snr_db / 10) / max(float(np.mean(noise**2)), 1e-20))
    return np.clip(samples + noise, -1.0, 1.0).astype(np.float32)


def random_waveform_augment(
    samples: NDArray[np.float32],
    rng: np.random.Generator,
    *,
    speed_factors: tuple[float, ...] = SPEED_FACTORS,
    noise_prob: float = 0.0,
    sample_rate_hz: int = SAMPLE_RATE,
) -> NDArray[np.float32]:
    """One training draw: a speed factor picked uniformly from ``speed_factors``, then with
    probability ``noise_prob`` white or pink noise at an SNR drawn from ``NOISE_SNR_DB``."""
    factor = float(rng.choice(speed_factors)) if speed_factors else 1.0
    out = speed_perturb(samples, factor, sample_rate_hz=sample_rate_hz)
    if noise_prob > 0 and rng.random() < noise_prob:
        color = "pink" if rng.random() < 0.5 else "white"
        out = add_noise(out, float(rng.uniform(*NOISE_SNR_DB)), rng, color=color)
    return out


class SpecAugment(nn.Module):
    """Frequency and time masking (Park et al. 2019) of a padded feature batch.

    ``features`` ``(batch, n_bins, n_frames)`` and ``frame_lengths`` ``(batch,)`` -> masked copy of
    the same shape; masked cells are set to 0, the mean of normalised features. Each item gets
    ``freq_masks`` bands of up to ``freq_mask_bins`` bins and ``time_masks`` spans of up to
    ``min(time_mask_frames, time_mask_fraction * length)`` frames. Identity in ``eval()``.
    """

    def __init__(
        self,
        *,
        freq_masks: int = FREQ_MASKS,
        freq_mask_bins: int = FREQ_MASK_BINS,
        time_masks: int = TIME_MASKS,
        time_mask_frames: int = TIME_MASK_FRAMES,
        time_mask_fraction: float = TIME_MASK_FRACTION,
    ) -> None:
        super().__init__()
        if min(freq_masks, freq_mask_bins, time_masks, time_mask_frames) < 0:
            raise ValueError("mask counts and widths must be >= 0")
        if not 0.0 <= time_mask_fraction <= 1.0:
            raise ValueError(f"time_mask_fraction must be in [0, 1], got {time_mask_fraction}")
        self.freq_masks = freq_masks
        self.freq_mask_bins = freq_mask_bins
        self.time_masks = time_masks
        self.time_mask_frames = time_mask_frames
        self.time_mask_fraction = time_mask_fraction

    @staticmethod
    def _bands(size: Tensor, max_width: Tensor, count: int, axis_len: int) -> Tensor:
        """``count`` random bands per item -> bool mask ``(batch, axis_len)``."""
        batch = size.shape[0]
        device = size.device
        width = (torch.rand(batch, count, device=device) * (max_width[:, None] + 1)).long()
        start = (
            torch.rand(batch, count, device=device) * (size[:, None] - width).clamp_min(1)
        ).long()
        positions = torch.arange(axis_len, device=device)[None, None, :]  # (1, 1, L)
        inside = (positions >= start[..., None]) & (positions < (start + width)[..., None])
        return inside.any(dim=1)  # (batch, L)

    def forward(self, features: Tensor, frame_lengths: Tensor) -> Tensor:
        if not self.training:
            return features
        batch, n_bins, n_frames = features.shape
        lengths = frame_lengths.to(features.device)
        bins = torch.full((batch,), n_bins, device=features.device)
        freq = self._bands(
            bins, torch.full_like(bins, self.freq_mask_bins), self.freq_masks, n_bins
        )
        max_t = torch.minimum(
            (lengths.float() * self.time_mask_fraction).long(),
            torch.full_like(lengths, self.time_mask_frames),
        )
        time = self._bands(lengths, max_t, self.time_masks, n_frames)
        keep = ~(freq[:, :, None] | time[:, None, :])  # (batch, n_bins, n_frames)
        return features * keep.to(features.dtype)
