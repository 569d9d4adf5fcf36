"""Settings and helpers of a training run: :class:`TrainConfig`, :func:`seed_everything`, the
learning-rate schedule and the distributed set-up (see ``speech_train.py`` for the loop)."""

from __future__ import annotations

import math
import os
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.distributed as dist
from facespeech.pipelines.speech_train_eval import DevScore
from facespeech.stages.speech.augment import SPEED_FACTORS, BatchAugment, WaveformAugment
from facespeech.stages.speech.recognizer import ModelConfig

LOG_EVERY_STEPS = 50
FINAL_LR_FRACTION = 0.02  # the cosine ends at this share of the peak rate
GRAD_CLIP_NORM = 5.0
ADAM_BETAS = (0.9, 0.98)
MAX_BATCH_ITEMS = 256

Precision = Literal["auto", "fp32", "bf16"]


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """Settings of one training run (stored in every checkpoint).

    ``batch_seconds``: padded audio seconds per batch (per process); ``lr``: peak AdamW rate;
    ``warmup_steps``: linear warm-up; ``time_budget_minutes``: if set, after the first epoch the
    number of epochs is cut to what fits in that much training time (kept across resumes);
    ``*_prob``: share of clips given each waveform augmentation (speed and codec per clip in
    the workers, ``augment.WaveformAugment``; the others per batch on the device,
    ``augment.BatchAugment``);
    ``non_speech_fraction``: generated clips with no speech added, as a share of the training
    rows; ``joined_fraction``: utterances of 2-3 training sentences played in a row, added as
    a share of the training rows; ``vtlp``: vocal tract length perturbation;
    ``stop_after_minutes`` / ``stop_after_steps``: leave this run (checkpointed) after that
    long or that many steps, to ``resume`` later; ``init_from``: start from the weights of this
    bundle (fine-tuning; its architecture must equal ``model``); ``warm_start_from``: start
    ``model`` from this bundle's weights wherever name and shape match (a deeper or wider model
    keeps what it shares with a trained one), the rest at random; ``freeze_stack``: the
    convolutions, projection and GRU stack keep the weights they start with and only the
    residual layers and the output layer learn (capacity added on top of a trained model
    without it forgetting what it knows; steps are cheaper, no gradient goes below the stack).
    """

    train_specs: tuple[str, ...]
    dev_specs: tuple[str, ...]
    out_dir: Path
    epochs: int = 40
    batch_seconds: float = 320.0
    lr: float = 1.5e-3
    weight_decay: float = 1e-2
    warmup_steps: int = 400
    device: str = "cpu"
    precision: Precision = "auto"
    seed: int = 0
    workers: int = 2
    checkpoint_minutes: float = 5.0
    speed_factors: tuple[float, ...] = SPEED_FACTORS
    noise_prob: float = 0.2
    reverb_prob: float = 0.3
    telephone_prob: float = 0.05
    codec_prob: float = 0.05
    babble_prob: float = 0.1
    gain_prob: float = 0.0
    non_speech_fraction: float = 0.02
    joined_fraction: float = 0.0
    vtlp: bool = True
    spec_augment: bool = True
    resume: bool = False
    time_budget_minutes: float | None = None
    stop_after_minutes: float | None = None
    stop_after_steps: int | None = None
    init_from: Path | None = None
    warm_start_from: Path | None = None
    freeze_stack: bool = False
    model: ModelConfig = field(default_factory=ModelConfig)

    def __post_init__(self) -> None:
        if not self.train_specs:
            raise ValueError("need at least one training manifest")
        for name in ("epochs", "batch_seconds", "lr", "checkpoint_minutes"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        for name in (
            "noise_prob",
            "reverb_prob",
            "telephone_prob",
            "codec_prob",
            "babble_prob",
            "gain_prob",
        ):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        for name in ("non_speech_fraction", "joined_fraction"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.init_from is not None and self.warm_start_from is not None:
            raise ValueError("init_from and warm_start_from exclude each other")
        if self.freeze_stack and self.init_from is None and self.warm_start_from is None:
            raise ValueError("freeze_stack needs a trained model to start from (init, warm start)")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ValueError(f"precision must be auto, fp32 or bf16, got {self.precision!r}")

    def waveform_augment(self) -> WaveformAugment:
        """The per-clip augmentation of the data-loader workers."""
        return WaveformAugment(speed_factors=self.speed_factors, codec_prob=self.codec_prob)

    def batch_augment(self) -> BatchAugment:
        """The batch augmentation on the training device."""
        return BatchAugment(
            reverb_prob=self.reverb_prob,
            telephone_prob=self.telephone_prob,
            babble_prob=self.babble_prob,
            noise_prob=self.noise_prob,
            gain_prob=self.gain_prob,
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(out_dir=str(self.out_dir), model=self.model.to_dict())
        for name in ("init_from", "warm_start_from"):
            data[name] = None if getattr(self, name) is None else str(getattr(self, name))
        data.update({k: list(v) for k, v in data.items() if isinstance(v, tuple)})
        return data


@dataclass(frozen=True, slots=True)
class TrainResult:
    """What a run left: the files, epochs done, and the dev scores of the last epoch."""

    last_checkpoint: Path
    best_bundle: Path | None
    epochs_done: int
    stopped_early: bool
    dev: dict[str, DevScore]


def seed_everything(seed: int) -> None:
    """Seed ``random``, ``numpy`` and ``torch`` (every device) from one number."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - seeds libraries that use the global generator
    torch.manual_seed(seed)


def distributed(device: str) -> tuple[int, int, str]:
    """(rank, world size, this process's device); joins the process group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1, device
    cuda = device.startswith("cuda")
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    if cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    return dist.get_rank(), world, device


def learning_rate(config: TrainConfig, step: int, total_steps: int) -> float:
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    progress = min(1.0, (step - config.warmup_steps) / max(1, total_steps - config.warmup_steps))
    cosine = 0.5 * (1 + math.cos(math.pi * progress))
    return config.lr * (FINAL_LR_FRACTION + (1 - FINAL_LR_FRACTION) * cosine)


def autocast_dtype(config: TrainConfig, device: str) -> torch.dtype | None:
    if config.precision == "bf16" or (config.precision == "auto" and device.startswith("cuda")):
        return torch.bfloat16
    return None
