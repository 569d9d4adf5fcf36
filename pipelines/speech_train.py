"""Train the CTC recognizer: ``speechpipe train`` calls :func:`train`.

The loop reads top to bottom: utterances (and generated non-speech clips) -> duration buckets
-> workers read, speed-perturb and codec-code clips -> on the device: reverberation, telephone
band, babble, noise -> log-mel (VTLP-warped) -> SpecAugment -> model -> CTC loss -> AdamW,
with a warm-up then cosine learning rate. Checkpoints (``last.pt``: weights, optimizer,
progress; written to a temp file, then renamed) go out every ``checkpoint_minutes`` and at each
epoch end; ``best.pt`` is the weights bundle (float16) with the lowest mean dev WER.
``resume`` continues from ``last.pt``, mid-epoch included, with the batches an uninterrupted
run would see.

Several processes (``torchrun --nproc-per-node N``) train with DistributedDataParallel: NCCL on
CUDA, gloo on CPU; rank 0 scores the dev sets and writes the files. On CPU a run is bitwise
reproducible given ``seed``; on CUDA the CTC loss backward uses atomic adds, so runs agree only
to rounding.
"""

import json
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from facespeech.pipelines.speech_train_config import (
    ADAM_BETAS,
    GRAD_CLIP_NORM,
    LOG_EVERY_STEPS,
    MAX_BATCH_ITEMS,
    TrainConfig,
    TrainResult,
    autocast_dtype,
    distributed,
    learning_rate,
    seed_everything,
)
from facespeech.pipelines.speech_train_data import (
    Batch,
    EpochBatches,
    TrainClips,
    collate,
    joined_utterances,
    load_utterances,
    non_speech_utterances,
)
from facespeech.pipelines.speech_train_eval import DevScore, DevSet
from facespeech.pipelines.speech_train_state import (
    TrainState,
    load_checkpoint,
    restore_rng,
    save_checkpoint,
)
from facespeech.stages.speech.augment import SpecAugment, Vtlp
from facespeech.stages.speech.recognizer import CtcModel, load_bundle, save_bundle
from facespeech.stages.speech.spectrogram import LogMelFeatures
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

__all__ = ["TrainConfig", "TrainResult", "seed_everything", "train"]

log = logging.getLogger(__name__)


class _Trainer:
    """One process's share of a run; :func:`train` drives it."""

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self.rank, self.world, self.device = distributed(config.device)
        seed_everything(config.seed)
        if self.device.startswith("cuda"):
            # fp32 matrix products in TF32 when bf16 is off: 10-bit mantissas are plenty for SGD.
            torch.backends.cuda.matmul.allow_tf32 = True
        self.out_dir = config.out_dir
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.train_utts = load_utterances(config.train_specs)
        if not self.train_utts:
            raise ValueError(f"no training rows in {', '.join(config.train_specs)}")
        n_rows = len(self.train_utts)
        self.train_utts += joined_utterances(
            self.train_utts, round(config.joined_fraction * n_rows), config.seed
        )
        self.train_utts += non_speech_utterances(
            round(config.non_speech_fraction * n_rows), config.seed
        )
        self.dev_sets = {}
        if self.rank == 0:
            self.dev_sets = {spec: DevSet(load_utterances([spec])) for spec in config.dev_specs}
        self.features = LogMelFeatures().to(self.device)
        self.spec_augment = SpecAugment() if config.spec_augment else nn.Identity()
        self.vtlp = Vtlp(self.features.config()).to(self.device) if config.vtlp else None
        self.batch_augment = config.batch_augment()
        self.state = TrainState(total_epochs=config.epochs)
        self.saved_rng: dict[str, Any] = {}
        self.model = CtcModel(config.model).to(self.device)
        if config.freeze_stack:
            for module in self.model.stack():
                module.requires_grad_(False)
        self.optimizer = torch.optim.AdamW(
            [weights for weights in self.model.parameters() if weights.requires_grad],
            lr=config.lr,
            betas=ADAM_BETAS,
            weight_decay=config.weight_decay,
        )
        if config.resume and (self.out_dir / "last.pt").is_file():
            self._resume()
        elif config.init_from is not None:
            self._initialise(config.init_from)
        elif config.warm_start_from is not None:
            self._warm_start(config.warm_start_from)
        self.ddp: nn.Module = self.model
        if self.world > 1:
            ids = [torch.device(self.device).index] if self.device.startswith("cuda") else None
            self.ddp = DistributedDataParallel(self.model, device_ids=ids)
        self.amp_dtype = autocast_dtype(config, self.device)
        self.ctc = nn.CTCLoss(blank=0, reduction="mean", zero_infinity=True)

    def _resume(self) -> None:
        path = self.out_dir / "last.pt"
        saved_config, state, self.saved_rng = load_checkpoint(
            path, self.model, self.optimizer, self.device
        )
        if saved_config.get("model") != self.config.model.to_dict():
            raise ValueError(f"{path}: saved with another architecture {saved_config.get('model')}")
        if saved_config.get("freeze_stack", False) != self.config.freeze_stack:
            raise ValueError(f"{path}: resume with the freeze_stack setting it was saved with")
        if not state.budget_fixed:
            state.total_epochs = self.config.epochs
        self.state = state
        log.info("resumed %s at epoch %d, step %d", path, state.epoch, state.step_in_epoch)

    def _initialise(self, path: Path) -> None:
        bundle = load_bundle(path)
        if bundle.model.config != self.config.model:
            raise ValueError(
                f"{path}: its architecture {bundle.model.config} differs from {self.config.model}"
            )
        self.model.load_state_dict(bundle.model.state_dict())
        log.info("initialised from %s", path)

    def _warm_start(self, path: Path) -> None:
        bundle = load_bundle(path)
        if bundle.features != self.features.config():
            raise ValueError(f"{path}: another front end ({bundle.features})")
        own = self.model.state_dict()
        shared = {
            name: weights
            for name, weights in bundle.model.state_dict().items()
            if name in own and own[name].shape == weights.shape
        }
        if not any(weights.ndim >= 2 for weights in shared.values()):  # biases alone: nothing
            raise ValueError(f"{path}: no weight matrix has the name and shape of this model's")
        self.model.load_state_dict({**own, **shared})
        new = sorted(set(own) - set(shared))
        log.info(
            "warm start from %s: %d of %d tensors copied; new: %s",
            path, len(shared), len(own), ", ".join(new) or "none",
        )  # fmt: skip

    def sampler(self) -> EpochBatches:
        return EpochBatches(
            durations=[u.duration_s for u in self.train_utts],
            batch_seconds=self.config.batch_seconds,
            max_items=MAX_BATCH_ITEMS,
            seed=self.config.seed,
            total_epochs=self.state.total_epochs,
            start_epoch=self.state.epoch,
            start_step=self.state.step_in_epoch,
            rank=self.rank,
            world_size=self.world,
        )

    def loader(self, sampler: EpochBatches) -> DataLoader[Batch]:
        dataset = TrainClips(
            self.train_utts, seed=self.config.seed, augment=self.config.waveform_augment()
        )
        # Workers only read and resample audio (no CUDA), so the default fork start is safe.
        return DataLoader(
            dataset,  # type: ignore[arg-type]
            batch_sampler=sampler,
            collate_fn=collate,
            num_workers=self.config.workers,
            pin_memory=self.device.startswith("cuda"),
            persistent_workers=False,
        )

    def step(self, batch: Batch, lr: float) -> float:
        """One optimisation step; returns the batch's mean CTC loss (per target label)."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        waveforms = batch.waveforms.to(self.device, non_blocking=True)
        sample_lengths = batch.sample_lengths.to(self.device)
        with torch.no_grad():
            waveforms = self.batch_augment(waveforms, sample_lengths, batch.target_lengths > 0)
            filters = self.vtlp(len(waveforms)) if self.vtlp is not None else None
            values, frame_lengths = self.features(waveforms, sample_lengths, filters)
            values = (
                self.spec_augment(values, frame_lengths) if self.config.spec_augment else values
            )
        device_type = "cuda" if self.device.startswith("cuda") else "cpu"
        with torch.autocast(
            device_type, dtype=self.amp_dtype or torch.float32, enabled=self.amp_dtype is not None
        ):
            log_probs, out_lengths = self.ddp(values, frame_lengths)  # (B, T', n_labels)
        loss = self.ctc(
            log_probs.float().transpose(0, 1),  # CTCLoss wants (T', B, n_labels)
            batch.targets.to(self.device),
            out_lengths.to(self.device),
            batch.target_lengths.to(self.device),
        )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), GRAD_CLIP_NORM)
        self.optimizer.step()
        return float(loss.detach())  # a GPU sync; once per step is cheap next to the step

    def evaluate(self) -> dict[str, DevScore]:
        if self.rank != 0:
            return {}
        return {
            spec: dev.evaluate(self.model, self.features, self.device)
            for spec, dev in self.dev_sets.items()
        }

    def save(self, *, best: bool = False) -> None:
        if self.rank != 0:
            return
        save_checkpoint(
            self.out_dir / "last.pt",
            self.model,
            self.optimizer,
            self.state,
            self.config.to_dict(),
            self.features.config(),
        )
        if best:
            metadata = {
                "train": self.config.to_dict(),
                "epochs_done": self.state.epoch,
                "history": self.state.history,
            }
            save_bundle(
                self.out_dir / "best.pt",
                self.model,
                features=self.features.config(),
                metadata=metadata,
                dtype=torch.float16,
            )

    def reseed_epoch(self, epoch: int) -> None:
        """Dropout and SpecAugment draws of an epoch depend on (seed, epoch, rank) only."""
        torch.manual_seed(self.config.seed * 1_000_003 + epoch * 1_009 + self.rank)

    def agree(self, value: Any) -> Any:
        """Rank 0's ``value`` on every process (decisions that depend on timing)."""
        if self.world == 1:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def end_epoch(self, loss: float, seconds: float) -> dict[str, DevScore]:
        """Score dev sets, record the epoch, apply the time budget, write checkpoints."""
        state, config = self.state, self.config
        dev = self.evaluate()
        state.epoch += 1
        state.step_in_epoch = 0
        record: dict[str, Any] = {
            "epoch": state.epoch,
            "loss": loss,
            "seconds": seconds,
            "train_seconds": state.train_seconds,
        }
        record["dev"] = {spec: asdict(score) for spec, score in dev.items()}
        state.history.append(record)
        if config.time_budget_minutes is not None and not state.budget_fixed:
            fits = int(
                config.time_budget_minutes * 60 // max(state.train_seconds / state.epoch, 1e-9)
            )
            state.total_epochs = self.agree(max(state.epoch, min(config.epochs, fits)))
            state.budget_fixed = True
            log.info("time budget: training for %d epochs", state.total_epochs)
        mean_wer = sum(s.wer for s in dev.values()) / len(dev) if dev else -float(state.epoch)
        best = mean_wer < state.best_wer
        state.best_wer = min(state.best_wer, mean_wer)
        self.save(best=best)
        if self.rank == 0:
            with (self.out_dir / "train_log.jsonl").open("a") as f:
                f.write(json.dumps(record) + "\n")
        return dev


def _log_epoch(state: TrainState, loss: float, dev: dict[str, DevScore]) -> None:
    scores = "; ".join(f"{spec} WER {s.wer:.1%} CER {s.cer:.1%}" for spec, s in dev.items())
    log.info(
        "epoch %d/%d: loss %.3f, %.0f s%s",
        state.epoch,
        state.total_epochs,
        loss,
        state.train_seconds,
        f"; {scores}" if scores else "",
    )


def train(config: TrainConfig) -> TrainResult:
    """Run (or resume) training as configured; returns what it wrote. Under torchrun every
    process calls this; only rank 0 writes files and scores dev sets."""
    trainer = _Trainer(config)
    state = trainer.state
    sampler = trainer.sampler()
    steps_per_epoch = len(sampler.epoch_batches(0))  # batch counts vary a little with the jitter
    started = time.monotonic()
    base_seconds, last_save = state.train_seconds, started
    loss_sum, loss_count, stopped, dev = 0.0, 0, False, {}
    batches = iter(trainer.loader(sampler))  # draws the loader's seed: before the reseed below
    if state.step_in_epoch and trainer.saved_rng:
        restore_rng(trainer.saved_rng, trainer.device)
    for steps_run, batch in enumerate(batches, start=1):
        if batch.step == 0:
            trainer.reseed_epoch(batch.epoch)
            loss_sum, loss_count = 0.0, 0
        lr = learning_rate(config, state.global_step, state.total_epochs * steps_per_epoch)
        loss = trainer.step(batch, lr)
        loss_sum, loss_count = loss_sum + loss, loss_count + 1
        state.global_step += 1
        state.step_in_epoch = batch.step + 1
        now = time.monotonic()
        state.train_seconds = base_seconds + now - started
        if state.global_step % LOG_EVERY_STEPS == 0:
            log.info(
                "step %d (epoch %d, %d/%d): loss %.3f, lr %.2e",
                state.global_step,
                batch.epoch + 1,
                batch.step + 1,
                batch.n_steps,
                loss,
                lr,
            )
        if batch.step + 1 == batch.n_steps:
            dev = trainer.end_epoch(loss_sum / max(loss_count, 1), now - started)
            _log_epoch(state, loss_sum / max(loss_count, 1), dev)
            last_save = now
            if state.epoch >= state.total_epochs:
                # Here, not in the sampler: the time budget may have just lowered
                # total_epochs after a loader worker prefetched the next epoch's batches.
                break
        elif now - last_save > config.checkpoint_minutes * 60:
            trainer.save()
            last_save = now
        out_of_time = (
            config.stop_after_minutes is not None and now - started > config.stop_after_minutes * 60
        )
        out_of_steps = config.stop_after_steps is not None and steps_run >= config.stop_after_steps
        if trainer.agree(out_of_time or out_of_steps) and state.epoch < state.total_epochs:
            if state.step_in_epoch:
                trainer.save()
            stopped = True
            log.info(
                "stopping at epoch %d, step %d; continue with --resume",
                state.epoch,
                state.step_in_epoch,
            )
            break
    if trainer.world > 1:
        dist.barrier()
        dist.destroy_process_group()
    best = config.out_dir / "best.pt"
    return TrainResult(
        config.out_dir / "last.pt", best if best.is_file() else None, state.epoch, stopped, dev
    )
