"""Training-time augmentation.

In data-loader workers, on one clip (numpy, a ``numpy.random.Generator`` per (seed, epoch,
clip), STYLE.md section 5): speed perturbation and low-bitrate codecs (:class:`WaveformAugment`,
the two that need soxr and libsndfile), and clips with no speech in them
(:func:`non_speech_clip`). On the training device, on padded batches (``nn.Module``s drawing
from torch's generator, which the trainer seeds per epoch): reverberation, telephone band,
babble and noise (:class:`BatchAugment`), vocal tract length perturbation (:class:`Vtlp`) and
SpecAugment. Work that runs as one batched FFT on a GPU stays off the workers' CPUs, which
were the bottleneck of GPU training.
"""

from __future__ import annotations

import io
import math
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
RIR_DAMPED_HZ = 1_000.0  # the tail fades towards a copy low-passed here...
RIR_MAX_DAMPING = 0.7  # ...reaching this share of it at RT60
TELEPHONE_BAND_HZ = (300.0, 3400.0)
TELEPHONE_RATE_HZ = 8_000
MU_LAW = 255.0  # G.711
CODEC_LEVEL = (0.85, 0.99)  # libsndfile compression level: Opus 7-30, MP3 22-32 kbit/s (16 kHz)
MAX_CODEC_LEVEL = 0.99
OPUS_SHARE = 0.25  # of the coded clips; the rest MP3
BABBLE_TALKERS = (3, 7)
BABBLE_SNR_DB = (5.0, 20.0)
# Recording level: the shipped model heard every clip at its recorded gain and reads
# speechocean762 dev 1-1.5 points worse 6 or 12 dB quieter or 6 dB louder (session 13); the
# range reaches the -20 dBFS peak that LevelNormalizer raises quiet files to, and a little
# clipping above.
GAIN_DB = (-20.0, 6.0)
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


def _fit_length(values: NDArray[Any], n: int) -> NDArray[Any]:
    """Cut or zero-pad ``values`` to ``n`` samples (resampling and codecs move a few)."""
    values = np.asarray(values).reshape(-1)
    if len(values) >= n:
        return values[:n]
    return np.pad(values, (0, n - len(values)))


@dataclass(frozen=True, slots=True)
class WaveformAugment:
    """The per-clip part of a training draw: a speed factor from ``speed_factors``, then with
    probability ``codec_prob`` an Opus or MP3 round trip at a low bitrate. Called in data-loader
    workers with a generator seeded from (seed, epoch, clip), so a draw is reproducible.

    ``__call__(samples, rng)``: ``float32 (n,)`` -> ``float32 (m,)`` (``m != n`` after a speed
    change).
    """

    speed_factors: tuple[float, ...] = SPEED_FACTORS
    codec_prob: float = 0.0
    sample_rate_hz: int = SAMPLE_RATE

    def __post_init__(self) -> None:
        _check_probability("codec_prob", self.codec_prob)

    def __call__(
        self, samples: NDArray[np.float32], rng: np.random.Generator
    ) -> NDArray[np.float32]:
        rate = self.sample_rate_hz
        factor = float(rng.choice(self.speed_factors)) if self.speed_factors else 1.0
        out = speed_perturb(samples, factor, sample_rate_hz=rate)
        # Drawn always (stable draws); Opus is 3-4x slower to encode than MP3, so rarer.
        codec = "opus" if rng.random() < OPUS_SHARE else "mp3"
        quality = float(rng.uniform(*CODEC_LEVEL))
        if rng.random() < self.codec_prob:
            out = codec_roundtrip(out, codec, quality, sample_rate_hz=rate)
        return out


def _check_probability(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}")


class BatchAugment(nn.Module):
    """Reverberation, telephone band, babble and white/pink noise on a padded waveform batch,
    on the batch's device; each ``*_prob`` is the share of items given it, in that order.

    ``forward(waveforms, sample_lengths, is_speech)``: ``float32 (batch, n)`` zero padded,
    ``(batch,)`` lengths, ``(batch,)`` bool (items with words; default all) -> same shape,
    padding still zero, clipped to [-1, 1]. Identity in ``eval()``.

    - reverberation: a generated room impulse response per item: the direct sound, then after
      a pre-delay Gaussian noise decaying by 60 dB in RT60 (Polack's statistical model of a
      diffuse tail), whose treble dies faster (blended towards a 1 kHz low-passed copy as it
      goes on), ``DIRECT_TO_REVERB_DB`` above the tail; convolved by FFT, loudness kept.
    - telephone: 300-3400 Hz band-pass, G.711 mu-law 8-bit companding, 4 kHz band limit.
    - babble: 3-7 other speech items of the batch, each from a random offset (looped), summed,
      at ``BABBLE_SNR_DB``; never added to items without speech, which would put words in them.
    - noise: white or pink Gaussian at ``NOISE_SNR_DB`` below the item's mean power.
    - gain: the item played ``GAIN_DB`` louder (uniform in dB), then clipped to [-1, 1].
    """

    def __init__(
        self,
        *,
        reverb_prob: float = 0.0,
        telephone_prob: float = 0.0,
        babble_prob: float = 0.0,
        noise_prob: float = 0.0,
        gain_prob: float = 0.0,
        sample_rate_hz: int = SAMPLE_RATE,
    ) -> None:
        super().__init__()
        for name, value in (
            ("reverb_prob", reverb_prob),
            ("telephone_prob", telephone_prob),
            ("babble_prob", babble_prob),
            ("noise_prob", noise_prob),
            ("gain_prob", gain_prob),
        ):
            _check_probability(name, value)
        self.reverb_prob = reverb_prob
        self.telephone_prob = telephone_prob
        self.babble_prob = babble_prob
        self.noise_prob = noise_prob
        self.gain_prob = gain_prob
        self.sample_rate_hz = sample_rate_hz

    def forward(
        self, waveforms: Tensor, sample_lengths: Tensor, is_speech: Tensor | None = None
    ) -> Tensor:
        if not self.training:
            return waveforms
        batch, n = waveforms.shape
        device = waveforms.device
        x = waveforms.float()
        valid = torch.arange(n, device=device)[None, :] < sample_lengths.to(device)[:, None]
        speech = (
            torch.ones(batch, dtype=torch.bool, device=device)
            if is_speech is None
            else is_speech.to(device)
        )
        chosen = torch.rand(batch, 4, device=device) < torch.tensor(
            [self.reverb_prob, self.telephone_prob, self.babble_prob, self.noise_prob],
            device=device,
        )
        x = self._on_rows(self._reverberate, x, valid, chosen[:, 0])
        x = self._on_rows(self._telephone, x, valid, chosen[:, 1])
        x = self._babble(x, valid, chosen[:, 2] & speech, speech)
        x = self._on_rows(self._noise, x, valid, chosen[:, 3])
        if self.gain_prob > 0:  # drawn apart, so recipes without it keep their random draws
            louder = torch.rand(batch, device=device) < self.gain_prob
            gain_db = self._uniform(GAIN_DB, batch, device) * louder
            x = x * (10 ** (gain_db / 20))[:, None]
        return (x.clamp(-1.0, 1.0) * valid).to(waveforms.dtype)

    @staticmethod
    def _on_rows(
        change: Callable[[Tensor, Tensor], Tensor], x: Tensor, valid: Tensor, chosen: Tensor
    ) -> Tensor:
        """``change(items, valid)`` on the chosen rows of ``x`` (the others untouched)."""
        rows = chosen.nonzero().squeeze(1)
        if len(rows) == 0:
            return x
        return x.index_copy(0, rows, change(x[rows], valid[rows]))

    def _uniform(self, bounds: tuple[float, float], count: int, device: torch.device) -> Tensor:
        return bounds[0] + (bounds[1] - bounds[0]) * torch.rand(count, device=device)

    def _reverberate(self, x: Tensor, valid: Tensor) -> Tensor:
        count, n = x.shape
        rate = self.sample_rate_hz
        rt60 = self._uniform(RT60_S, count, x.device)[:, None]
        drr_db = self._uniform(DIRECT_TO_REVERB_DB, count, x.device)[:, None]
        predelay = self._uniform(RIR_PREDELAY_S, count, x.device)[:, None]
        t = torch.arange(round(RT60_S[1] * rate), device=x.device)[None, :] / rate
        decay = torch.exp(-math.log(1000.0) * t / rt60)  # amplitude down 60 dB at RT60
        tail = torch.randn(count, t.shape[1], device=x.device) * decay
        damped = _band_limit(tail, rate, high_hz=RIR_DAMPED_HZ)
        blend = RIR_MAX_DAMPING * (t / rt60).clamp(max=1.0)
        tail = ((1 - blend) * tail + blend * damped) * (t >= predelay)
        tail = tail * torch.sqrt(10 ** (-drr_db / 10) / tail.square().sum(-1, keepdim=True))
        tail[:, 0] = 1.0  # the direct sound
        n_fft = 1 << (n + tail.shape[1] - 1).bit_length()
        wet = torch.fft.irfft(torch.fft.rfft(x, n_fft) * torch.fft.rfft(tail, n_fft), n_fft)[:, :n]
        return _match_power(wet * valid, x, valid)

    def _telephone(self, x: Tensor, valid: Tensor) -> Tensor:
        rate = self.sample_rate_hz
        narrow = _band_limit(x, rate, low_hz=TELEPHONE_BAND_HZ[0], high_hz=TELEPHONE_BAND_HZ[1])
        peak = narrow.abs().amax(-1, keepdim=True).clamp_min(1e-9)
        scaled = narrow / peak  # the line's level control: the whole 8-bit range
        companded = torch.sign(scaled) * torch.log1p(MU_LAW * scaled.abs()) / math.log1p(MU_LAW)
        quantised = torch.round(companded * 127) / 127
        expanded = torch.sign(quantised) * torch.expm1(quantised.abs() * math.log1p(MU_LAW))
        line = _band_limit(expanded / MU_LAW * peak, rate, high_hz=TELEPHONE_RATE_HZ / 2)
        return _match_power(line * valid, x, valid)

    def _babble(self, x: Tensor, valid: Tensor, chosen: Tensor, speech: Tensor) -> Tensor:
        rows = chosen.nonzero().squeeze(1)
        talkers = speech.nonzero().squeeze(1)
        if len(rows) == 0 or len(talkers) < 2:
            return x
        count, n = len(rows), x.shape[1]
        most = BABBLE_TALKERS[1]
        picks = talkers[torch.randint(len(talkers), (count, most), device=x.device)]
        voices = torch.randint(BABBLE_TALKERS[0], most + 1, (count, 1), device=x.device)
        use = (torch.arange(most, device=x.device)[None, :] < voices) & (picks != rows[:, None])
        # Each talker from a random point of its own clip, looped (a clip's length >= 1).
        lengths = valid[picks].sum(-1).clamp_min(1)  # (count, most)
        offsets = (torch.rand(count, most, device=x.device) * lengths).long()
        positions = (torch.arange(n, device=x.device)[None, None, :] + offsets[..., None]) % (
            lengths[..., None]
        )
        babble = (x[picks].gather(-1, positions) * use[..., None]).sum(1)
        snr_db = self._uniform(BABBLE_SNR_DB, count, x.device)[:, None]
        mixed = x[rows] + _scaled_to_snr(babble * valid[rows], x[rows], valid[rows], snr_db)
        return x.index_copy(0, rows, mixed)

    def _noise(self, x: Tensor, valid: Tensor) -> Tensor:
        count, n = x.shape
        noise = torch.randn(count, n, device=x.device)
        pink = torch.rand(count, 1, device=x.device) < 0.5
        spectrum = torch.fft.rfft(noise)
        bins = torch.arange(spectrum.shape[-1], device=x.device).clamp_min(1)
        pinked = torch.fft.irfft(spectrum / torch.sqrt(bins.float()), n)
        noise = torch.where(pink, pinked, noise)
        snr_db = self._uniform(NOISE_SNR_DB, count, x.device)[:, None]
        return x + _scaled_to_snr(noise * valid, x, valid, snr_db)


def _mean_power(x: Tensor, valid: Tensor) -> Tensor:
    """Mean square over each row's valid samples, ``(rows, 1)``."""
    return (x.square() * valid).sum(-1, keepdim=True) / valid.sum(-1, keepdim=True).clamp_min(1)


def _match_power(out: Tensor, like: Tensor, valid: Tensor) -> Tensor:
    """``out`` scaled so its rows have the mean power of ``like``'s (silent rows stay)."""
    have = _mean_power(out, valid)
    gain = torch.where(have > 0, torch.sqrt(_mean_power(like, valid) / have.clamp_min(1e-20)), 1)
    return out * gain


def _scaled_to_snr(noise: Tensor, signal_: Tensor, valid: Tensor, snr_db: Tensor) -> Tensor:
    """``noise`` scaled to ``snr_db`` below ``signal_``'s mean power (0 where either is silent)."""
    target = _mean_power(signal_, valid) / 10 ** (snr_db / 10)
    have = _mean_power(noise, valid)
    return noise * torch.where(have > 0, torch.sqrt(target / have.clamp_min(1e-20)), 0)


def _band_limit(
    x: Tensor, sample_rate_hz: int, *, low_hz: float = 0.0, high_hz: float | None = None
) -> Tensor:
    """Rows of ``x`` with the spectrum outside ``[low_hz, high_hz]`` zeroed (an FFT mask)."""
    n = x.shape[-1]
    freqs = torch.fft.rfftfreq(n, 1 / sample_rate_hz, device=x.device)
    keep = freqs >= low_hz
    if high_hz is not None:
        keep &= freqs <= high_hz
    limited: Tensor = torch.fft.irfft(torch.fft.rfft(x) * keep, n)
    return limited


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
        out = np.sum([np.sin(2 * np.pi * mains * h * t) / h for h in range(1, 6)], axis=0)
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
        phases = rng.uniform(0, 2 * np.pi, size=len(freqs))
        out = np.sum(np.sin(2 * np.pi * freqs[:, None] * t[None, :] + phases[:, None]), axis=0)
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
