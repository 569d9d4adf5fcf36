"""Training progress and checkpoints (``last.pt``) that ``torch.load(weights_only=True)`` reads.

A checkpoint holds the weights as a recognizer bundle (so ``CtcRecognizer`` loads ``last.pt``
too), the optimizer state, the run's progress (:class:`TrainState`), its settings and the
random generators' states (for a bitwise resume mid-epoch).
"""

from __future__ import annotations

import pickle
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from facespeech.stages.errors import ModelError
from facespeech.stages.speech.recognizer import CtcModel, bundle_dict, save_atomic

CHECKPOINT_FORMAT = "facespeech-ctc-train"


@dataclass(slots=True)
class TrainState:
    """Where a run stands: ``epoch`` (epochs done), ``step_in_epoch`` (batches done in the
    current epoch), ``global_step``, ``total_epochs`` (planned), ``train_seconds`` (wall time
    summed over resumes), ``history`` (one dict per epoch), ``best_wer`` (mean dev WER of
    ``best.pt``), ``budget_fixed`` (whether a time budget already set ``total_epochs``)."""

    total_epochs: int
    epoch: int = 0
    step_in_epoch: int = 0
    global_step: int = 0
    train_seconds: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)
    best_wer: float = float("inf")
    budget_fixed: bool = False


def save_checkpoint(
    path: Path,
    model: CtcModel,
    optimizer: torch.optim.Optimizer,
    state: TrainState,
    config: dict[str, Any],
    features: dict[str, Any],
) -> None:
    """Write ``last.pt`` atomically (temp file, then rename)."""
    checkpoint = {
        "format": CHECKPOINT_FORMAT,
        "bundle": bundle_dict(model, features=features, metadata={"train": config}),
        "optimizer": optimizer.state_dict(),
        "state": asdict(state),
        "config": config,
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    save_atomic(checkpoint, path)


def load_checkpoint(
    path: Path, model: CtcModel, optimizer: torch.optim.Optimizer, device: str
) -> tuple[dict[str, Any], TrainState, dict[str, Any]]:
    """Restore weights and optimizer from ``path``; returns the saved settings, progress and
    random generator states (for :func:`restore_rng`). Raises :class:`ModelError` naming the
    file if it is unusable."""
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile) as exc:
        raise ModelError(
            path, f"not a readable training checkpoint ({type(exc).__name__})"
        ) from exc
    if not isinstance(raw, dict) or raw.get("format") != CHECKPOINT_FORMAT:
        raise ModelError(path, "not a training checkpoint (written by speechpipe train)")
    try:
        model.load_state_dict(raw["bundle"]["state_dict"])
        optimizer.load_state_dict(raw["optimizer"])
        state = TrainState(**raw["state"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ModelError(path, f"checkpoint does not fit this model: {exc}") from exc
    model.to(device)
    rng = {"torch_rng": raw.get("torch_rng"), "cuda_rng": raw.get("cuda_rng", [])}
    return dict(raw["config"]), state, rng


def restore_rng(rng: dict[str, Any], device: str) -> None:
    """Put back the generator states saved with a checkpoint."""
    if rng.get("torch_rng") is not None:
        torch.set_rng_state(rng["torch_rng"])
    if rng.get("cuda_rng") and device.startswith("cuda"):
        torch.cuda.set_rng_state_all(rng["cuda_rng"])
