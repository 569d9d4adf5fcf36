"""Recognizer: log-mel frames -> per-frame log-probabilities over ``alphabet.LABELS`` (CTC).

The model (:class:`CtcModel`, after Deep Speech 2): two 2-D convolutions over (mel, time) that
subsample time ``conv_time_strides`` (4x by default: 40 ms frames), a linear projection,
bidirectional GRU layers, and a linear layer over blank, space, apostrophe and a-z.

A model file ("bundle") is a plain ``dict`` that ``torch.load(weights_only=True)`` reads: the
front-end settings (``features``, see :func:`spectrogram.features_from_config`), the architecture
(``model``), the label alphabet, the weights and free-form training metadata.
"""

from __future__ import annotations

import os
import pickle
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
from facespeech.stages.errors import InputError, ModelError
from facespeech.stages.speech.alphabet import LABELS
from facespeech.stages.speech.spectrogram import LogMelSpectrogram
from facespeech.stages.speech.types import Emissions, Spectrogram
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

BUNDLE_FORMAT = "facespeech-ctc"
BUNDLE_VERSION = 1
DEFAULT_MODEL_NAME = "default.pt"
CONV_KERNEL = (3, 5)  # (mel bins, frames)
CONV_PADDING = (1, 2)
CONV_FREQ_STRIDE = 2


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """Architecture of :class:`CtcModel`; stored in the bundle so loading rebuilds it.

    ``n_bins``: input feature bins (80 mels); ``conv_channels``: channels of both convolutions;
    ``conv_time_strides``: time stride of each convolution (their product subsamples time);
    ``rnn_hidden``: GRU units per direction; ``rnn_layers``: stacked bidirectional layers;
    ``dropout``: between layers (training only); ``n_labels``: output labels;
    ``residual_layers``: bidirectional GRU layers added above those, each as a residual branch
    whose output projection starts at zero (:class:`ResidualGru`), so a model warm-started from
    one without them begins with exactly its outputs.
    """

    n_bins: int = 80
    conv_channels: int = 32
    conv_time_strides: tuple[int, int] = (2, 2)
    rnn_hidden: int = 320
    rnn_layers: int = 4
    dropout: float = 0.15
    n_labels: int = len(LABELS)
    residual_layers: int = 0

    def __post_init__(self) -> None:
        for name in ("n_bins", "conv_channels", "rnn_hidden", "rnn_layers", "n_labels"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.residual_layers < 0:
            raise ValueError(f"residual_layers must be >= 0, got {self.residual_layers}")
        if len(self.conv_time_strides) != 2 or min(self.conv_time_strides) < 1:
            raise ValueError(
                f"conv_time_strides must be two strides >= 1, got {self.conv_time_strides}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def time_stride(self) -> int:
        """Input frames per output frame."""
        return self.conv_time_strides[0] * self.conv_time_strides[1]

    def to_dict(self) -> dict[str, Any]:
        data = {**asdict(self), "conv_time_strides": list(self.conv_time_strides)}
        if not self.residual_layers:  # files without them read as before this field existed
            del data["residual_layers"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        return cls(**{**data, "conv_time_strides": tuple(data["conv_time_strides"])})


def _conv_out(length: Tensor | int, stride: int) -> Any:
    return (length + 2 * CONV_PADDING[1] - CONV_KERNEL[1]) // stride + 1


def _packed_rnn(rnn: nn.GRU, x: Tensor, lengths: Tensor) -> Tensor:
    """``rnn`` over the first ``lengths`` frames of each row of ``x`` ``(B, T, in)`` -> ``(B, T,
    out)``, zeros past each row's end (so padding never reaches the recurrence)."""
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    y, _ = rnn(packed)
    y, _ = pad_packed_sequence(y, batch_first=True, total_length=x.shape[1])
    return y


class ResidualGru(nn.Module):
    """``y + W * dropout(BiGRU(y))`` over ``(B, T, width)`` packed sequences; ``W``
    ``(width, width)`` starts at zero, so the layer starts as the identity (the way to grow a
    trained model deeper without losing what it knows)."""

    def __init__(self, width: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.rnn = nn.GRU(width, hidden, bidirectional=True, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(2 * hidden, width)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, y: Tensor, lengths: Tensor) -> Tensor:
        branch: Tensor = self.out(self.dropout(_packed_rnn(self.rnn, y, lengths)))
        return y + branch


class CtcModel(nn.Module):
    """Features ``(batch, n_bins, n_frames)`` -> log-probs ``(batch, n_out, n_labels)``,
    ``n_out = output_lengths(n_frames)`` (about ``n_frames / time_stride``)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        s1, s2 = config.conv_time_strides
        c = config.conv_channels
        self.conv1 = nn.Conv2d(
            1, c, CONV_KERNEL, stride=(CONV_FREQ_STRIDE, s1), padding=CONV_PADDING
        )
        self.conv2 = nn.Conv2d(
            c, c, CONV_KERNEL, stride=(CONV_FREQ_STRIDE, s2), padding=CONV_PADDING
        )
        bins = config.n_bins
        for _ in range(2):
            bins = (bins + 2 * CONV_PADDING[0] - CONV_KERNEL[0]) // CONV_FREQ_STRIDE + 1
        self.project = nn.Linear(c * bins, config.rnn_hidden)
        self.dropout = nn.Dropout(config.dropout)
        self.rnn = nn.GRU(
            config.rnn_hidden,
            config.rnn_hidden,
            num_layers=config.rnn_layers,
            bidirectional=True,
            batch_first=True,
            dropout=config.dropout if config.rnn_layers > 1 else 0.0,
        )
        self.residual = nn.ModuleList(
            ResidualGru(2 * config.rnn_hidden, config.rnn_hidden, config.dropout)
            for _ in range(config.residual_layers)
        )
        self.classify = nn.Linear(2 * config.rnn_hidden, config.n_labels)

    def stack(self) -> tuple[nn.Module, ...]:
        """The layers below the residual ones and the output layer: the convolutions, the
        projection and the GRU stack (what ``freeze_stack`` training keeps fixed)."""
        return (self.conv1, self.conv2, self.project, self.rnn)

    def output_lengths(self, frame_lengths: Tensor) -> Tensor:
        """Output frames for inputs of ``frame_lengths`` frames (int tensor, same shape)."""
        s1, s2 = self.config.conv_time_strides
        return _conv_out(_conv_out(frame_lengths, s1), s2)  # type: ignore[no-any-return]

    def forward(self, features: Tensor, frame_lengths: Tensor) -> tuple[Tensor, Tensor]:
        """``features`` ``(B, n_bins, T)``, ``frame_lengths`` ``(B,)`` -> log-probs
        ``float32 (B, T', n_labels)`` and ``out_lengths`` ``int64 (B,)`` (on the CPU)."""
        s1 = self.config.conv_time_strides[0]
        x = nn.functional.gelu(self.conv1(features.unsqueeze(1)))  # (B, C, F1, T1)
        # Zero the frames past each item's end, so a padded batch gives each item what it gets
        # alone (conv2 would otherwise see GELU(bias) there instead of its own zero padding).
        valid = (
            torch.arange(x.shape[-1], device=x.device)[None, :]
            < _conv_out(frame_lengths, s1).to(x.device)[:, None]
        )
        x = x * valid[:, None, None, :].to(x.dtype)
        x = nn.functional.gelu(self.conv2(x))  # (B, C, F', T')
        b, c, f, t = x.shape
        x = x.permute(0, 3, 1, 2).reshape(b, t, c * f)  # (B, T', C * F')
        x = self.dropout(self.project(x))  # (B, T', H)
        out_lengths = self.output_lengths(frame_lengths.cpu()).clamp(min=1, max=t)
        y = _packed_rnn(self.rnn, x, out_lengths)  # (B, T', 2H)
        for layer in self.residual:
            y = layer(y, out_lengths)
        logits = self.classify(self.dropout(y))  # (B, T', n_labels)
        return torch.log_softmax(logits.float(), dim=-1), out_lengths


def default_model_path() -> Path:
    """The model shipped inside the package (``stages/speech/models/default.pt``)."""
    return Path(
        str(resources.files("facespeech.stages.speech").joinpath("models", DEFAULT_MODEL_NAME))
    )


@dataclass(frozen=True, slots=True)
class RecognizerBundle:
    """A loaded model file: the front-end settings, the model (in ``eval()``) and metadata."""

    path: Path
    features: dict[str, Any]
    model: CtcModel
    labels: tuple[str, ...]
    metadata: dict[str, Any]


def bundle_dict(
    model: CtcModel,
    *,
    features: dict[str, Any],
    metadata: dict[str, Any] | None = None,
    dtype: torch.dtype = torch.float32,
) -> dict[str, Any]:
    """The bundle of ``model`` as a plain dict (what :func:`save_bundle` writes); floating
    weights are stored as ``dtype`` (``torch.float16`` halves the file)."""
    state = {
        k: v.detach().to("cpu", dtype=dtype if v.is_floating_point() else v.dtype)
        for k, v in model.state_dict().items()
    }
    return {
        "format": BUNDLE_FORMAT,
        "version": BUNDLE_VERSION,
        "features": dict(features),
        "model": model.config.to_dict(),
        "labels": list(LABELS),
        "state_dict": state,
        "metadata": dict(metadata or {}),
    }


def save_atomic(obj: Any, path: Path | str) -> None:
    """``torch.save`` to a temp file beside ``path``, then rename it over ``path``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(obj, tmp)
    tmp.replace(path)


def save_bundle(
    path: Path | str,
    model: CtcModel,
    *,
    features: dict[str, Any],
    metadata: dict[str, Any] | None = None,
    dtype: torch.dtype = torch.float32,
) -> None:
    """Write ``model`` with its front-end settings as a bundle (temp file, then replace).

    ``dtype=torch.float16`` halves the file; :func:`load_bundle` restores float32.
    """
    save_atomic(bundle_dict(model, features=features, metadata=metadata, dtype=dtype), path)


def load_bundle(path: Path | str, *, device: str = "cpu") -> RecognizerBundle:
    """Read a bundle written by :func:`save_bundle` (or a training checkpoint holding one
    under ``"bundle"``). Raises :class:`ModelError` naming the file when it is missing, corrupt,
    of another format, or its labels are not ``alphabet.LABELS``."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(path, "no such model file")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except (
        OSError,
        RuntimeError,
        EOFError,
        ValueError,
        TypeError,
        pickle.UnpicklingError,
        zipfile.BadZipFile,
    ) as exc:
        first_line = str(exc).strip().splitlines()[:1]
        raise ModelError(
            path, f"not a readable model file ({type(exc).__name__}: {first_line})"
        ) from exc
    if isinstance(raw, dict) and isinstance(raw.get("bundle"), dict):
        raw = raw["bundle"]
    if not isinstance(raw, dict) or raw.get("format") != BUNDLE_FORMAT:
        raise ModelError(path, f"not a {BUNDLE_FORMAT} model file")
    if raw.get("version") != BUNDLE_VERSION:
        raise ModelError(
            path, f"model file version {raw.get('version')}, expected {BUNDLE_VERSION}"
        )
    if tuple(raw.get("labels", ())) != LABELS:
        raise ModelError(path, f"model labels {raw.get('labels')!r} differ from {LABELS!r}")
    try:
        config = ModelConfig.from_dict(raw["model"])
        model = CtcModel(config)
        state = {k: v.float() if v.is_floating_point() else v for k, v in raw["state_dict"].items()}
        model.load_state_dict(state)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ModelError(path, f"model file does not match its architecture: {exc}") from exc
    model.eval().to(device)
    return RecognizerBundle(
        path=path,
        features=dict(raw["features"]),
        model=model,
        labels=LABELS,
        metadata=dict(raw.get("metadata", {})),
    )


def quantize_int8(model: CtcModel) -> CtcModel:
    """``model`` with its GRU and linear layers' weights in int8 (dynamic quantisation:
    activations are quantised on the fly), for the CPU only. About 2.4x faster on 2 cores;
    the emissions move by up to about 0.25 in log-probability (see MODEL_CARD.md for WER)."""
    with warnings.catch_warnings():
        # torch.ao.quantization is deprecated in favour of torchao, which is not a dependency.
        warnings.simplefilter("ignore")
        from torch.ao.quantization import quantize_dynamic

        quantized = quantize_dynamic(  # type: ignore[no-untyped-call]
            model, {nn.GRU, nn.Linear}, dtype=torch.qint8
        )
    if not isinstance(quantized, CtcModel):  # a copy with its layers swapped, same class
        raise TypeError(f"quantize_dynamic returned {type(quantized).__name__}")
    return quantized.eval()


class CtcRecognizer:
    """Stage: :class:`Spectrogram` ``(n_bins, n_frames)`` -> :class:`Emissions`
    ``float32 (n_out, n_labels)`` natural-log probabilities over ``alphabet.LABELS``, with
    ``frame_s`` = spectrogram ``frame_s`` x the model's time stride.

    ``model_path``: a bundle file (``None``: the shipped :func:`default_model_path`); loaded
    lazily on first use, so construction is cheap and the stage pickles. ``device``: "cpu",
    "cuda", "cuda:1"... ``int8``: run with int8 weights (:func:`quantize_int8`; CPU only).
    The spectrogram must be made with :meth:`spectrogram` (the same front-end settings as in
    training).
    """

    def __init__(
        self, *, model_path: Path | str | None = None, device: str = "cpu", int8: bool = False
    ) -> None:
        if int8 and device != "cpu":
            raise ValueError(f"int8 weights run on the CPU only, not on {device!r}")
        self.model_path = model_path
        self.device = device
        self.int8 = int8
        self._bundle: RecognizerBundle | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {
            "model_path": self.model_path,
            "device": self.device,
            "int8": self.int8,
            "_bundle": None,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.model_path = state["model_path"]
        self.device = state["device"]
        self.int8 = state.get("int8", False)
        self._bundle = None

    @property
    def path(self) -> Path:
        return default_model_path() if self.model_path is None else Path(self.model_path)

    @property
    def bundle(self) -> RecognizerBundle:
        """The loaded model (loads it on first access; raises :class:`ModelError`)."""
        if self._bundle is None:
            bundle = load_bundle(self.path, device=self.device)
            if self.int8:
                bundle = replace(bundle, model=quantize_int8(bundle.model))
            self._bundle = bundle
        return self._bundle

    def spectrogram(self, *, device: str | None = None) -> LogMelSpectrogram:
        """The spectrogram stage with this model's front-end settings."""
        try:
            return LogMelSpectrogram.from_config(self.bundle.features, device=device or self.device)
        except (TypeError, ValueError) as exc:
            raise ModelError(self.path, f"unsupported front-end settings: {exc}") from exc

    def to(self, device: str) -> None:
        """Move the model to ``device``."""
        if self.int8 and device != "cpu":
            raise ValueError(f"int8 weights run on the CPU only, not on {device!r}")
        self.device = device
        if self._bundle is not None:
            self._bundle.model.to(device)

    def __call__(self, spectrogram: Spectrogram) -> Emissions:
        return self.batch([spectrogram])[0]

    def batch(self, items: Sequence[Spectrogram]) -> list[Emissions]:
        """Many spectrograms at once (padded and packed); same result per item as ``__call__``."""
        if not items:
            return []
        model = self.bundle.model
        n_bins = model.config.n_bins
        for spec in items:
            if spec.values.ndim != 2 or spec.values.shape[0] != n_bins:
                raise InputError(
                    spec.source,
                    f"spectrogram shape {spec.values.shape}, the model needs ({n_bins}, n_frames)",
                )
        lengths = torch.tensor([spec.values.shape[1] for spec in items])
        padded = torch.zeros(len(items), n_bins, int(lengths.max()))
        for row, spec in enumerate(items):
            padded[row, :, : spec.values.shape[1]] = torch.from_numpy(
                np.asarray(spec.values, dtype=np.float32)
            )
        with torch.inference_mode():
            log_probs, out_lengths = model(padded.to(self.device), lengths)
        log_probs_np = log_probs.float().cpu().numpy()
        stride = model.config.time_stride
        return [
            Emissions(
                source=spec.source,
                log_probs=np.ascontiguousarray(log_probs_np[row, : int(out_lengths[row])]),
                frame_s=spec.frame_s * stride,
                offset_s=spec.offset_s,
            )
            for row, spec in enumerate(items)
        ]
