"""Training-time augmentation: speed perturbation, reverberation, telephone band, codecs,
babble and additive noise on waveforms (:class:`WaveformAugment`); clips with no speech in them
(:func:`non_speech_clip`); vocal tract length perturbation (:class:`Vtlp`) and SpecAugment on
spectrograms.

Waveform functions take a ``numpy.random.Generator`` (STYLE.md section 5) so a data-loader
worker draws the same perturbation for the same (seed, epoch, clip). :class:`SpecAugment` is an
``nn.Module`` working on padded GPU batches; it draws from torch's global generator (seeded by
the trainer).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import soundfile as sf
import soxr
import torch
from facespeech.stages.speech.audio import SAMPLE_RATE
from facespeech.stages.speech.spectrogram import vtlp_filter_banks
from numpy.typing import NDArray
from scipy import signal
from torch import Tensor, nn

SPEED_FACTORS = (0.9, 1.0, 1.1)  # Ko et al. 2015, "Audio augmentation for speech recognition"
SPEED_RESAMPLE_QUALITY = "MQ"  # soxr medium quality: inaudible loss, a third cheaper than HQ
NOISE_SNR_DB = (10.0, 40.0)  # uniform range of the signal-to-noise ratio of added noise
FREQ_MASKS = 2  # SpecAugment LibriSpeech basic policy (Park et al. 2019): F = 27 of 80 mels,
FREQ_MASK_BINS = 15  # two masks; narrowed here for the smaller data set
TIME_MASKS = 2
TIME_MASK_FRACTION = 0.05  # at most this share of an utterance per time mask (p in the paper)
TIME_MASK_FRAMES = 40  # and at most this many frames (T = 40 for 10 ms frames)
# Reverberation: rooms from a dry booth to a hall (RT60), the talker near to far (DRR).
RT60_S = (0.15, 0.9)
DIRECT_TO_REVERB_DB = (-3.0, 12.0)
RIR_PREDELAY_S = (0.002, 0.02)
RIR_DAMPING_STEPS = 8  # the tail's low-pass gets stronger in this many steps
RIR_MAX_DAMPING = 0.7  # pole of the last step's one-pole low-pass (cut-off near 1 kHz)
TELEPHONE_RATE_HZ = 8_000
MU_LAW = 255.0  # G.711
_TELEPHONE_SOS = signal.butter(4, (300.0, 3400.0), btype="bandpass", fs=8_000, output="sos")
CODEC_LEVEL = (0.85, 0.99)  # libsndfile compression level: Opus 7-30, MP3 22-32 kbit/s (16 kHz)
MAX_CODEC_LEVEL = 0.99
BABBLE_TALKERS = (3, 7)
BABBLE_SNR_DB = (5.0, 20.0)
NON_SPEECH_KINDS = ("silence", "hum", "clicks", "noise", "steady", "melody", "melody")
# Vocal tract length perturbation (Jaitly and Hinton 2013): frequency warp factors.
VTLP_FACTORS = tuple(np.round(np.linspace(0.9, 1.1, 11), 3).tolist())


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


def reverberate(
    samples: NDArray[np.float32],
    rng: np.random.Generator,
    *,
    rt60_s: float,
    direct_to_reverb_db: float,
    sample_rate_hz: int = SAMPLE_RATE,
) -> NDArray[np.float32]:
    """Convolve with a generated room impulse response: the direct sound, then after a short
    pre-delay Gaussian noise decaying by 60 dB in ``rt60_s`` (Polack's statistical model of a
    diffuse tail), ``direct_to_reverb_db`` above the tail's energy, its high frequencies dying
    faster (a one-pole low-pass whose cut-off falls along the tail).

    ``float32 (n,)`` -> ``float32 (n,)`` (the tail beyond the clip is cut), RMS kept."""
    if rt60_s <= 0:
        raise ValueError(f"rt60_s must be positive, got {rt60_s}")
    if len(samples) == 0:
        return samples
    n_tail = max(1, round(rt60_s * sample_rate_hz))
    predelay = round(float(rng.uniform(*RIR_PREDELAY_S)) * sample_rate_hz)
    t = np.arange(n_tail) / sample_rate_hz
    tail = rng.standard_normal(n_tail) * np.exp(-6.9078 * t / rt60_s)  # ln(1000): -60 dB
    # Air and walls absorb treble first: later parts of the tail get a stronger low-pass.
    for k, part in enumerate(np.array_split(np.arange(n_tail), RIR_DAMPING_STEPS)):
        pole = RIR_MAX_DAMPING * k / max(RIR_DAMPING_STEPS - 1, 1)
        tail[part] = signal.lfilter([1 - pole], [1, -pole], tail[part])
    tail *= np.sqrt(10 ** (-direct_to_reverb_db / 10) / max(float(np.sum(tail**2)), 1e-20))
    impulse = np.zeros(predelay + n_tail)
    impulse[0] = 1.0
    impulse[predelay:] += tail
    wet = signal.fftconvolve(samples.astype(np.float64), impulse)[: len(samples)]
    return _match_rms(wet, samples)


def telephone_band(
    samples: NDArray[np.float32], *, sample_rate_hz: int = SAMPLE_RATE
) -> NDArray[np.float32]:
    """A narrow-band phone line: 300-3400 Hz band-pass, 8 kHz sampling, G.711 mu-law 8-bit
    companding, back to ``sample_rate_hz``. ``float32 (n,)`` -> ``float32 (n,)``, RMS kept."""
    if len(samples) == 0:
        return samples
    narrow = soxr.resample(samples, sample_rate_hz, TELEPHONE_RATE_HZ, quality="MQ")
    narrow = signal.sosfilt(_TELEPHONE_SOS, narrow)
    peak = max(float(np.max(np.abs(narrow))), 1e-9)
    scaled = narrow / peak  # the line's level control: use the whole 8-bit range
    companded = np.sign(scaled) * np.log1p(MU_LAW * np.abs(scaled)) / np.log1p(MU_LAW)
    quantised = np.round(companded * 127) / 127
    expanded = np.sign(quantised) * np.expm1(np.abs(quantised) * np.log1p(MU_LAW)) / MU_LAW
    wide = soxr.resample(expanded * peak, TELEPHONE_RATE_HZ, sample_rate_hz, quality="MQ")
    return _match_rms(_fit_length(wide, len(samples)), samples)


def codec_roundtrip(
    samples: NDArray[np.float32],
    codec: str,
    quality: float,
    *,
    sample_rate_hz: int = SAMPLE_RATE,
) -> NDArray[np.float32]:
    """Encode and decode in memory with libsndfile: ``codec`` ``"opus"`` (Ogg Opus) or ``"mp3"``;
    ``quality`` in [0, 0.99] is libsndfile's compression level (higher: fewer bits; at 16 kHz
    0.99 is about 7 kbit/s Opus, 22 kbit/s MP3; libsndfile refuses 1.0 for MP3).
    ``float32 (n,)`` -> ``float32 (n,)``."""
    formats = {"opus": ("OGG", "OPUS"), "mp3": ("MP3", "MPEG_LAYER_III")}
    if codec not in formats:
        raise ValueError(f"codec must be one of {sorted(formats)}, got {codec!r}")
    if len(samples) == 0:
        return samples
    container, subtype = formats[codec]
    buffer = io.BytesIO()
    sf.write(
        buffer,
        np.clip(samples, -1.0, 1.0),
        sample_rate_hz,
        format=container,
        subtype=subtype,
        compression_level=float(np.clip(quality, 0.0, MAX_CODEC_LEVEL)),
    )
    buffer.seek(0)
    decoded, _ = sf.read(buffer, dtype="float32")
    return _fit_length(decoded, len(samples)).astype(np.float32)


def mix_babble(
    samples: NDArray[np.float32], talkers: Sequence[NDArray[np.float32]], snr_db: float
) -> NDArray[np.float32]:
    """Add ``talkers`` (other utterances, looped to the clip's length from random-looking but
    fixed offsets) summed, at ``snr_db`` below the clip. ``float32 (n,)`` -> ``float32 (n,)``."""
    n = len(samples)
    if n == 0 or not talkers:
        return samples
    babble = np.zeros(n)
    for k, talker in enumerate(talkers):
        if len(talker) == 0:
            continue
        start = (k * 7919) % len(talker)  # different talkers start at different points
        babble += np.resize(np.roll(talker, -start), n)
    noise_power = float(np.mean(babble**2))
    power = float(np.mean(samples.astype(np.float64) ** 2))
    if noise_power == 0.0 or power == 0.0:
        return samples
    babble *= np.sqrt(power / 10 ** (snr_db / 10) / noise_power)
    return np.clip(samples + babble, -1.0, 1.0).astype(np.float32)


def _match_rms(out: NDArray[np.float64], like: NDArray[np.float32]) -> NDArray[np.float32]:
    """``out`` scaled to the RMS of ``like``, clipped to [-1, 1], as float32."""
    target = float(np.sqrt(np.mean(like.astype(np.float64) ** 2)))
    current = float(np.sqrt(np.mean(out**2)))
    scaled = out * (target / current) if current > 0 else out
    return np.clip(scaled, -1.0, 1.0).astype(np.float32)


def _fit_length(values: NDArray[Any], n: int) -> NDArray[Any]:
    """Cut or zero-pad ``values`` to ``n`` samples (resampling and codecs move a few)."""
    values = np.asarray(values).reshape(-1)
    if len(values) >= n:
        return values[:n]
    return np.pad(values, (0, n - len(values)))


@dataclass(frozen=True, slots=True)
class WaveformAugment:
    """One training draw of the waveform augmentations, in this order: speed (a factor from
    ``speed_factors``), reverberation, telephone band or codec, babble, then white/pink noise;
    each ``*_prob`` is the share of clips that get it. Called in data-loader workers with a
    generator seeded from (seed, epoch, clip), so a draw is reproducible.

    ``__call__(samples, rng, talkers)``: ``float32 (n,)`` -> ``float32 (m,)`` (``m != n`` after a
    speed change); ``talkers`` gives other utterances for babble (called only when drawn).
    """

    speed_factors: tuple[float, ...] = SPEED_FACTORS
    noise_prob: float = 0.0
    reverb_prob: float = 0.0
    telephone_prob: float = 0.0
    codec_prob: float = 0.0
    babble_prob: float = 0.0
    sample_rate_hz: int = SAMPLE_RATE

    def __post_init__(self) -> None:
        for name in ("noise_prob", "reverb_prob", "telephone_prob", "codec_prob", "babble_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")

    def __call__(
        self,
        samples: NDArray[np.float32],
        rng: np.random.Generator,
        talkers: Callable[[int], list[NDArray[np.float32]]] | None = None,
    ) -> NDArray[np.float32]:
        rate = self.sample_rate_hz
        factor = float(rng.choice(self.speed_factors)) if self.speed_factors else 1.0
        out = speed_perturb(samples, factor, sample_rate_hz=rate)
        # Every draw below happens whether or not it is used, so one setting's change does not
        # reshuffle the others' draws.
        draws = rng.random(5)
        if draws[0] < self.reverb_prob:
            out = reverberate(
                out,
                rng,
                rt60_s=float(rng.uniform(*RT60_S)),
                direct_to_reverb_db=float(rng.uniform(*DIRECT_TO_REVERB_DB)),
                sample_rate_hz=rate,
            )
        if draws[1] < self.telephone_prob:
            out = telephone_band(out, sample_rate_hz=rate)
        elif draws[2] < self.codec_prob:
            codec = "opus" if rng.random() < 0.5 else "mp3"
            out = codec_roundtrip(out, codec, float(rng.uniform(*CODEC_LEVEL)), sample_rate_hz=rate)
        if draws[3] < self.babble_prob and talkers is not None:
            voices = talkers(int(rng.integers(BABBLE_TALKERS[0], BABBLE_TALKERS[1] + 1)))
            out = mix_babble(out, voices, float(rng.uniform(*BABBLE_SNR_DB)))
        if draws[4] < self.noise_prob:
            color = "pink" if rng.random() < 0.5 else "white"
            out = add_noise(out, float(rng.uniform(*NOISE_SNR_DB)), rng, color=color)
        return out


def non_speech_clip(
    rng: np.random.Generator, duration_s: float, *, sample_rate_hz: int = SAMPLE_RATE
) -> NDArray[np.float32]:
    """A clip with no words in it, for training the recognizer to say nothing: silence, hum,
    clicks, coloured noise (steady or in bursts), steady tones and chords, or music-like tones
    (harmonic notes gliding and stepping in pitch with syllable-like envelopes and vibrato),
    sometimes over faint noise. ``float32 (round(duration_s * rate),)``, peak -40 to -1 dBFS."""
    n = max(1, round(duration_s * sample_rate_hz))
    t = np.arange(n) / sample_rate_hz
    kind = str(rng.choice(NON_SPEECH_KINDS))
    if kind == "silence":
        out = np.zeros(n)
    elif kind == "hum":
        mains = 50.0 if rng.random() < 0.5 else 60.0
        out = sum(np.sin(2 * np.pi * mains * h * t) / h for h in range(1, 6))
    elif kind == "clicks":
        out = np.zeros(n)
        period = round(rng.uniform(0.1, 1.0) * sample_rate_hz)
        out[:: max(period, 1)] = 1.0
        out = signal.lfilter([1.0], [1.0, -0.9], out)
    elif kind == "noise":
        out = _coloured_noise(rng, n, float(rng.uniform(0.0, 2.0)))
        if rng.random() < 0.5:  # bursts: rain, applause, traffic passing
            out *= _envelope(rng, n, sample_rate_hz, rate_hz=float(rng.uniform(0.5, 6.0)))
    elif kind == "steady":
        freqs = rng.uniform(80.0, 4000.0, size=int(rng.integers(1, 4)))
        out = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) for f in freqs)
    else:  # "melody": the music-like tones that speech recognizers like to turn into words
        out = _melody(rng, n, sample_rate_hz)
    out = np.asarray(out, dtype=np.float64)
    if rng.random() < 0.5:
        out = out + _coloured_noise(rng, n, 1.0) * 10 ** (-rng.uniform(20, 50) / 20)
    peak = float(np.max(np.abs(out)))
    if peak > 0:
        out *= 10 ** (rng.uniform(-40.0, -1.0) / 20) / peak
    return out.astype(np.float32)


def _coloured_noise(rng: np.random.Generator, n: int, exponent: float) -> NDArray[np.float64]:
    """Gaussian noise with power falling as 1/f**exponent (0 white, 1 pink, 2 brown), unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum /= np.maximum(np.arange(len(spectrum)), 1.0) ** (exponent / 2)
    noise = np.fft.irfft(spectrum, n=n)
    return noise / max(float(np.sqrt(np.mean(noise**2))), 1e-12)


def _envelope(
    rng: np.random.Generator, n: int, sample_rate_hz: int, *, rate_hz: float
) -> NDArray[np.float64]:
    """Smooth on/off amplitude in [0, 1] with about ``rate_hz`` onsets per second."""
    knots = max(2, int(n / sample_rate_hz * rate_hz) + 2)
    levels = (rng.random(knots) < 0.6) * rng.uniform(0.3, 1.0, knots)
    return np.interp(np.arange(n), np.linspace(0, n - 1, knots), levels)


def _melody(rng: np.random.Generator, n: int, sample_rate_hz: int) -> NDArray[np.float64]:
    """Notes of 0.08-0.6 s, each a harmonic tone (1-8 partials) whose pitch steps, glides up or
    down, or wobbles (vibrato), under an attack-decay envelope; sometimes two voices."""
    out = np.zeros(n)
    for _voice in range(int(rng.integers(1, 3))):
        position = 0
        base = float(rng.uniform(90.0, 900.0))
        partials = int(rng.integers(1, 9))
        rolloff = float(rng.uniform(0.5, 2.0))
        while position < n:
            length = min(n - position, round(rng.uniform(0.08, 0.6) * sample_rate_hz))
            start_hz = base * 2 ** (rng.integers(-7, 8) / 12)
            end_hz = start_hz * 2 ** (rng.uniform(-1.0, 1.0) if rng.random() < 0.5 else 0.0)
            local = np.arange(length) / sample_rate_hz
            f0 = np.geomspace(start_hz, end_hz, length)
            f0 = f0 * (1 + rng.uniform(0, 0.03) * np.sin(2 * np.pi * rng.uniform(4, 7) * local))
            phase = 2 * np.pi * np.cumsum(f0) / sample_rate_hz
            nyquist = sample_rate_hz / 2
            note = sum(
                np.sin(k * phase) / k**rolloff * (k * f0 < nyquist) for k in range(1, partials + 1)
            )
            attack = max(1, round(rng.uniform(0.005, 0.05) * sample_rate_hz))
            envelope = np.minimum(1.0, np.arange(length) / attack) * np.exp(
                -local * rng.uniform(0.0, 8.0)
            )
            if rng.random() < 0.2:  # a rest
                envelope *= 0.0
            out[position : position + length] += note * envelope
            position += length
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


class Vtlp(nn.Module):
    """Vocal tract length perturbation: per-item mel filter banks, each warped in frequency by
    a factor drawn from ``factors`` (``spectrogram.vtlp_filter_banks``), for
    ``LogMelFeatures(..., mel_filters=...)``. ``forward(batch_size)`` -> ``(batch, n_mels,
    n_fft // 2 + 1)``, or ``None`` in ``eval()`` (the features' own bank)."""

    banks: Tensor

    def __init__(self, features_config: dict[str, Any], factors: Sequence[float] = VTLP_FACTORS):
        super().__init__()
        if not factors or min(factors) <= 0:
            raise ValueError(f"factors must be positive, got {factors}")
        banks = vtlp_filter_banks(features_config, factors)
        self.register_buffer("banks", torch.from_numpy(banks), persistent=False)

    def forward(self, batch_size: int) -> Tensor | None:
        if not self.training:
            return None
        index = torch.randint(len(self.banks), (batch_size,), device=self.banks.device)
        return self.banks[index]
