"""Spectrogram: 20 ms Hann windows every 10 ms -> FFT power -> log-mel (or log-linear) features.

The transforms are ``nn.Module``s (:class:`LogMelFeatures`, :class:`LinearFeatures`) working on
padded batches with ``torch.stft``, so training runs them on the GPU; the stages
(:class:`LogMelSpectrogram`, :class:`LinearSpectrogram`) wrap them for one :class:`Audio` at a time.
Frames are centred: frame ``t`` covers samples ``t * hop_length +- n_fft / 2`` (zero padding at the
ends). With ``pad_s > 0`` each clip first gets ``pad_s`` seconds of zeros at both ends, so frame
``t`` is centred at ``t * frame_s - pad_s`` seconds of the clip. The mel filter bank is
librosa's default (Slaney scale and area normalisation).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from facespeech.stages.errors import InputError
from facespeech.stages.speech.audio import SAMPLE_RATE
from facespeech.stages.speech.types import Audio, Spectrogram
from numpy.typing import NDArray
from torch import Tensor, nn

WIN_LENGTH = 320  # samples: 20 ms at 16 kHz
HOP_LENGTH = 160  # samples: 10 ms at 16 kHz
N_FFT = 512  # the next power of two above WIN_LENGTH (the window is zero-padded to it)
N_MELS = 80
F_MIN_HZ = 20.0  # below the lowest voice fundamental; drops DC offset and mains hum
LOG_FLOOR = 1e-6  # power floor before the log: keeps digital silence finite
NORM_EPS = 1e-5  # added to the variance so constant (silent) bins normalise to 0
# Silence added before and after each clip by the recognizer's front end: a 0.2 s spoken digit
# ("three", 6 CTC labels) otherwise has too few frames after the recognizer's 4x subsampling.
RECOGNIZER_PAD_S = 0.15
VTLP_BOUNDARY = 0.6  # share of Nyquist where the warp turns (4.8 kHz at 16 kHz)

# Slaney's mel scale (librosa's default, htk=False): linear below 1 kHz, logarithmic above.
_MEL_HZ_PER_MEL = 200.0 / 3
_MEL_BREAK_HZ = 1000.0
_MEL_BREAK = _MEL_BREAK_HZ / _MEL_HZ_PER_MEL
_MEL_LOG_STEP = math.log(6.4) / 27.0


def hz_to_mel(hz: NDArray[np.float64]) -> NDArray[np.float64]:
    """Slaney mel of frequencies in Hz (same shape)."""
    linear = hz / _MEL_HZ_PER_MEL
    log = _MEL_BREAK + np.log(np.maximum(hz, _MEL_BREAK_HZ) / _MEL_BREAK_HZ) / _MEL_LOG_STEP
    return np.where(hz >= _MEL_BREAK_HZ, log, linear)


def mel_to_hz(mel: NDArray[np.float64]) -> NDArray[np.float64]:
    """Inverse of :func:`hz_to_mel`."""
    linear = mel * _MEL_HZ_PER_MEL
    log = _MEL_BREAK_HZ * np.exp(_MEL_LOG_STEP * (np.maximum(mel, _MEL_BREAK) - _MEL_BREAK))
    return np.where(mel >= _MEL_BREAK, log, linear)


def vtlp_warp(hz: NDArray[np.float64], factor: float, nyquist_hz: float) -> NDArray[np.float64]:
    """Jaitly and Hinton's (2013) piecewise-linear frequency warp: ``hz * factor`` up to a
    boundary (``VTLP_BOUNDARY`` of Nyquist, scaled so the line stays inside), then a straight
    line to Nyquist, which maps to itself. Same shape as ``hz``."""
    boundary = VTLP_BOUNDARY * nyquist_hz * min(factor, 1.0) / factor
    upper = nyquist_hz - (nyquist_hz - factor * boundary) / (nyquist_hz - boundary) * (
        nyquist_hz - hz
    )
    return np.where(hz <= boundary, hz * factor, upper)


def mel_filter_bank(
    *,
    sample_rate_hz: int,
    n_fft: int,
    n_mels: int,
    f_min_hz: float,
    f_max_hz: float,
    warp: float = 1.0,
) -> NDArray[np.float32]:
    """Triangular filters ``float32 (n_mels, n_fft // 2 + 1)``, each of unit area (Slaney),
    equal to ``librosa.filters.mel`` with the same settings. ``warp != 1`` moves the filter
    edges by :func:`vtlp_warp` (a speaker with a longer or shorter vocal tract)."""
    fft_hz = np.linspace(0.0, sample_rate_hz / 2, n_fft // 2 + 1)
    edges_mel = np.linspace(
        hz_to_mel(np.array(f_min_hz)), hz_to_mel(np.array(f_max_hz)), n_mels + 2
    )
    edges_hz = mel_to_hz(edges_mel)
    if warp != 1.0:
        edges_hz = vtlp_warp(edges_hz, warp, sample_rate_hz / 2)
    widths = np.diff(edges_hz)  # (n_mels + 1,)
    ramps = edges_hz[:, None] - fft_hz[None, :]  # (n_mels + 2, n_bins)
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (edges_hz[2:] - edges_hz[:-2]))[:, None]
    return weights.astype(np.float32)


def normalize_per_utterance(values: Tensor, frame_lengths: Tensor) -> Tensor:
    """Zero mean, unit variance per bin over each item's valid frames; padding set to 0.

    ``values`` ``(batch, n_bins, n_frames)``, ``frame_lengths`` ``(batch,)`` int -> same shape.
    """
    frames = torch.arange(values.shape[-1], device=values.device)
    mask = (frames[None, :] < frame_lengths[:, None]).unsqueeze(1).to(values.dtype)  # (B, 1, T)
    count = mask.sum(dim=-1, keepdim=True).clamp_min(1.0)
    mean = (values * mask).sum(dim=-1, keepdim=True) / count
    var = (((values - mean) * mask) ** 2).sum(dim=-1, keepdim=True) / count
    return (values - mean) / torch.sqrt(var + NORM_EPS) * mask


class _StftFeatures(nn.Module):
    """Shared STFT power front end; subclasses map power to features."""

    window: Tensor

    def __init__(
        self,
        *,
        sample_rate_hz: int = SAMPLE_RATE,
        win_length: int = WIN_LENGTH,
        hop_length: int = HOP_LENGTH,
        n_fft: int = N_FFT,
        normalize: bool = True,
        pad_s: float = 0.0,
    ) -> None:
        super().__init__()
        if pad_s < 0:
            raise ValueError(f"pad_s must be >= 0, got {pad_s}")
        for name, value in (
            ("sample_rate_hz", sample_rate_hz),
            ("win_length", win_length),
            ("hop_length", hop_length),
        ):
            if value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
        if n_fft < win_length:
            raise ValueError(f"n_fft ({n_fft}) must be at least win_length ({win_length})")
        self.sample_rate_hz = sample_rate_hz
        self.win_length = win_length
        self.hop_length = hop_length
        self.n_fft = n_fft
        self.normalize = normalize
        self.pad_s = pad_s
        self.pad_samples = round(pad_s * sample_rate_hz)
        # A buffer, so `.to(device)` moves it (periodic Hann, as librosa's "hann").
        self.register_buffer(
            "window", torch.hann_window(win_length, periodic=True), persistent=False
        )

    @property
    def frame_s(self) -> float:
        """Seconds between frames."""
        return self.hop_length / self.sample_rate_hz

    def frame_lengths(self, sample_lengths: Tensor) -> Tensor:
        """Frames of each item (centred STFT): ``1 + n_samples // hop_length``."""
        return 1 + torch.div(sample_lengths, self.hop_length, rounding_mode="floor")

    def power(self, waveforms: Tensor) -> Tensor:
        """``(batch, n_samples)`` float -> power spectrum ``(batch, n_fft // 2 + 1, n_frames)``."""
        spec = torch.stft(
            waveforms.float(),
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window=self.window,
            center=True,
            pad_mode="constant",
            return_complex=True,
        )
        return spec.real**2 + spec.imag**2

    def to_features(self, power: Tensor, mel_filters: Tensor | None = None) -> Tensor:
        raise NotImplementedError

    def forward(
        self,
        waveforms: Tensor,
        sample_lengths: Tensor | None = None,
        mel_filters: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """``waveforms`` ``(batch, n_samples)`` in [-1, 1] (zero padded), ``sample_lengths``
        ``(batch,)`` (default: all full) -> features ``float32 (batch, n_bins, n_frames)`` and
        their valid ``frame_lengths`` ``int64 (batch,)``. ``mel_filters`` ``(batch, n_mels,
        n_fft // 2 + 1)``: per-item filter banks instead of the module's (training's VTLP)."""
        if sample_lengths is None:
            sample_lengths = torch.full(
                (waveforms.shape[0],), waveforms.shape[-1], device=waveforms.device
            )
        if self.pad_samples:
            # Right padding lands after each item's end: the batch's own zero padding moves in.
            waveforms = nn.functional.pad(waveforms, (self.pad_samples, self.pad_samples))
            sample_lengths = sample_lengths + 2 * self.pad_samples
        frame_lengths = self.frame_lengths(sample_lengths.to(waveforms.device))
        values = self.to_features(self.power(waveforms), mel_filters)
        if self.normalize:
            values = normalize_per_utterance(values, frame_lengths)
        return values, frame_lengths

    def config(self) -> dict[str, Any]:
        """Settings that rebuild this transform with :func:`features_from_config`."""
        raise NotImplementedError


class LogMelFeatures(_StftFeatures):
    """Waveforms -> log-mel features ``(batch, n_mels, n_frames)``: natural log of the mel
    power (floored at ``LOG_FLOOR``), normalised per utterance and bin when ``normalize``.

    Defaults: 16 kHz, 20 ms windows (320 samples) every 10 ms (160), 512-point FFT, 80 mels from
    20 Hz to Nyquist, ``RECOGNIZER_PAD_S`` of silence added at both ends of each clip.
    """

    mel_filters: Tensor

    def __init__(
        self,
        *,
        sample_rate_hz: int = SAMPLE_RATE,
        win_length: int = WIN_LENGTH,
        hop_length: int = HOP_LENGTH,
        n_fft: int = N_FFT,
        n_mels: int = N_MELS,
        f_min_hz: float = F_MIN_HZ,
        f_max_hz: float | None = None,
        normalize: bool = True,
        pad_s: float = RECOGNIZER_PAD_S,
    ) -> None:
        super().__init__(
            sample_rate_hz=sample_rate_hz,
            win_length=win_length,
            hop_length=hop_length,
            n_fft=n_fft,
            normalize=normalize,
            pad_s=pad_s,
        )
        nyquist = sample_rate_hz / 2
        f_max = nyquist if f_max_hz is None else f_max_hz
        if n_mels <= 0:
            raise ValueError(f"n_mels must be positive, got {n_mels}")
        if not 0 <= f_min_hz < f_max <= nyquist:
            raise ValueError(f"need 0 <= f_min_hz < f_max_hz <= {nyquist}, got {f_min_hz}, {f_max}")
        self.n_mels = n_mels
        self.f_min_hz = f_min_hz
        self.f_max_hz = f_max_hz
        filters = mel_filter_bank(
            sample_rate_hz=sample_rate_hz,
            n_fft=n_fft,
            n_mels=n_mels,
            f_min_hz=f_min_hz,
            f_max_hz=f_max,
        )
        self.register_buffer("mel_filters", torch.from_numpy(filters), persistent=False)

    @property
    def n_bins(self) -> int:
        return self.n_mels

    def to_features(self, power: Tensor, mel_filters: Tensor | None = None) -> Tensor:
        filters = self.mel_filters if mel_filters is None else mel_filters
        mel = torch.matmul(filters, power)  # ([B,] mels, bins) @ (B, bins, T) -> (B, mels, T)
        return torch.log(mel.clamp_min(LOG_FLOOR))

    def config(self) -> dict[str, Any]:
        return {
            "kind": "log_mel",
            "sample_rate_hz": self.sample_rate_hz,
            "win_length": self.win_length,
            "hop_length": self.hop_length,
            "n_fft": self.n_fft,
            "n_mels": self.n_mels,
            "f_min_hz": self.f_min_hz,
            "f_max_hz": self.f_max_hz,
            "normalize": self.normalize,
            "pad_s": self.pad_s,
        }


class LinearFeatures(_StftFeatures):
    """Waveforms -> log power spectrum ``(batch, n_fft // 2 + 1, n_frames)`` (the walkthrough's
    linear spectrogram), natural log floored at ``LOG_FLOOR``, normalised when ``normalize``."""

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    def to_features(self, power: Tensor, mel_filters: Tensor | None = None) -> Tensor:
        if mel_filters is not None:
            raise ValueError("linear features have no mel filters to replace")
        return torch.log(power.clamp_min(LOG_FLOOR))

    def config(self) -> dict[str, Any]:
        return {
            "kind": "linear",
            "sample_rate_hz": self.sample_rate_hz,
            "win_length": self.win_length,
            "hop_length": self.hop_length,
            "n_fft": self.n_fft,
            "normalize": self.normalize,
            "pad_s": self.pad_s,
        }


def features_from_config(config: dict[str, Any]) -> LogMelFeatures | LinearFeatures:
    """Rebuild a transform from its :meth:`config` (as stored in a recognizer checkpoint)."""
    settings = dict(config)
    kind = settings.pop("kind", None)
    if kind == "log_mel":
        return LogMelFeatures(**settings)
    if kind == "linear":
        return LinearFeatures(**settings)
    raise ValueError(f"unknown spectrogram kind {kind!r} (expected 'log_mel' or 'linear')")


def vtlp_filter_banks(config: dict[str, Any], factors: Sequence[float]) -> NDArray[np.float32]:
    """The mel filter banks of log-mel ``config`` (a :meth:`LogMelFeatures.config`), one per
    warp factor: ``float32 (len(factors), n_mels, n_fft // 2 + 1)``."""
    features = features_from_config(config)
    if not isinstance(features, LogMelFeatures):
        raise ValueError("vocal tract length perturbation needs log-mel features")
    nyquist = features.sample_rate_hz / 2
    return np.stack(
        [
            mel_filter_bank(
                sample_rate_hz=features.sample_rate_hz,
                n_fft=features.n_fft,
                n_mels=features.n_mels,
                f_min_hz=features.f_min_hz,
                f_max_hz=nyquist if features.f_max_hz is None else features.f_max_hz,
                warp=float(factor),
            )
            for factor in factors
        ]
    )


class _SpectrogramStage:
    features: LogMelFeatures | LinearFeatures

    def __init__(self, *, device: str) -> None:
        self.device = device
        self.features.to(device)

    def to(self, device: str) -> None:
        """Move the transform (window, filters) to ``device`` ("cpu", "cuda", "cuda:1")."""
        self.device = device
        self.features.to(device)

    def __call__(self, audio: Audio) -> Spectrogram:
        """:class:`Audio` at the transform's rate -> :class:`Spectrogram`
        ``float32 (n_bins, n_frames)``."""
        return self.batch([audio])[0]

    def batch(self, items: Sequence[Audio]) -> list[Spectrogram]:
        """Many clips at once (zero padded to the longest), same result per item as ``__call__``."""
        if not items:
            return []
        rate = self.features.sample_rate_hz
        for audio in items:
            if audio.sample_rate_hz != rate:
                raise InputError(
                    audio.source, f"sample rate {audio.sample_rate_hz} Hz, expected {rate} Hz"
                )
            if len(audio.samples) == 0:
                raise InputError(audio.source, "no audio samples")
        lengths = torch.tensor([len(a.samples) for a in items])
        padded = torch.zeros(len(items), int(lengths.max()))
        for row, audio in enumerate(items):
            padded[row, : len(audio.samples)] = torch.from_numpy(
                np.ascontiguousarray(audio.samples)
            )
        with torch.inference_mode():
            values, frame_lengths = self.features(padded.to(self.device), lengths.to(self.device))
        values_np = values.float().cpu().numpy()
        return [
            Spectrogram(
                source=audio.source,
                values=np.ascontiguousarray(values_np[row, :, : int(frame_lengths[row])]),
                frame_s=self.features.frame_s,
                offset_s=audio.offset_s - self.features.pad_s,
            )
            for row, audio in enumerate(items)
        ]


class LogMelSpectrogram(_SpectrogramStage):
    """Stage: :class:`Audio` (16 kHz) -> log-mel :class:`Spectrogram`
    ``float32 (n_mels, n_frames)``, one frame per 10 ms (``frame_s = hop_length /
    sample_rate_hz``). Settings as :class:`LogMelFeatures`; the defaults are the shipped
    recognizer's front end, but build the stage with ``CtcRecognizer.spectrogram()`` to follow
    the model actually loaded.

    ``offset_s`` of the result is the audio's ``offset_s - pad_s``: frame ``t`` is centred at
    ``offset_s + t * frame_s`` seconds of the file (it may start before 0 by the padding).
    """

    def __init__(
        self,
        *,
        sample_rate_hz: int = SAMPLE_RATE,
        win_length: int = WIN_LENGTH,
        hop_length: int = HOP_LENGTH,
        n_fft: int = N_FFT,
        n_mels: int = N_MELS,
        f_min_hz: float = F_MIN_HZ,
        f_max_hz: float | None = None,
        normalize: bool = True,
        pad_s: float = RECOGNIZER_PAD_S,
        device: str = "cpu",
    ) -> None:
        self.features = LogMelFeatures(
            sample_rate_hz=sample_rate_hz,
            win_length=win_length,
            hop_length=hop_length,
            n_fft=n_fft,
            n_mels=n_mels,
            f_min_hz=f_min_hz,
            f_max_hz=f_max_hz,
            normalize=normalize,
            pad_s=pad_s,
        )
        super().__init__(device=device)

    @classmethod
    def from_config(cls, config: dict[str, Any], *, device: str = "cpu") -> LogMelSpectrogram:
        """The stage a recognizer checkpoint was trained with (``config["kind"] == "log_mel"``)."""
        settings = {k: v for k, v in config.items() if k != "kind"}
        if config.get("kind") != "log_mel":
            raise ValueError(f"not a log-mel configuration: {config!r}")
        return cls(**settings, device=device)


class LinearSpectrogram(_SpectrogramStage):
    """Stage: :class:`Audio` -> log power :class:`Spectrogram`
    ``float32 (n_fft // 2 + 1, n_frames)``."""

    def __init__(
        self,
        *,
        sample_rate_hz: int = SAMPLE_RATE,
        win_length: int = WIN_LENGTH,
        hop_length: int = HOP_LENGTH,
        n_fft: int = N_FFT,
        normalize: bool = True,
        pad_s: float = 0.0,
        device: str = "cpu",
    ) -> None:
        self.features = LinearFeatures(
            sample_rate_hz=sample_rate_hz,
            win_length=win_length,
            hop_length=hop_length,
            n_fft=n_fft,
            normalize=normalize,
            pad_s=pad_s,
        )
        super().__init__(device=device)
