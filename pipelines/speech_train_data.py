"""Training data for the recognizer: utterances from manifests, duration-bucketed batches, and
a dataset that reads and augments clips in data-loader workers.

A batch holds clips of similar length whose padded total stays under ``batch_seconds``; the
batch order is shuffled per epoch from ``(seed, epoch)`` only, so a resumed run sees the same
batches as an uninterrupted one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from facespeech.pipelines.manifest import parse_spec, read_manifest
from facespeech.stages.errors import InputError
from facespeech.stages.speech.alphabet import INDEX
from facespeech.stages.speech.audio import SAMPLE_RATE, AudioLoader
from facespeech.stages.speech.augment import WaveformAugment, non_speech_clip
from facespeech.stages.speech.text import normalize_transcript
from numpy.typing import NDArray
from torch import Tensor
from torch.utils.data import Dataset

log = logging.getLogger(__name__)

MAX_CLIP_S = 30.0  # longer clips are skipped: one would fill a batch and CTC gains little
SORT_JITTER = 0.1  # durations are scaled by 1 +- this before bucketing, so buckets vary per epoch
NON_SPEECH_SET = "non-speech"  # set name of generated clips whose transcript is empty
NON_SPEECH_DURATION_S = (0.5, 6.0)
JOIN_PAUSE_S = 0.4  # silence between the sentences of a joined utterance
JOIN_MAX_S = 12.0  # joined utterances stay under this


@dataclass(frozen=True, slots=True)
class Utterance:
    """One training or dev clip: ``text`` normalised, ``targets`` its label indices. A joined
    utterance (:func:`joined_utterances`) also plays ``more_paths`` after ``path``, each after
    a pause of ``JOIN_PAUSE_S``; ``duration_s`` counts them all."""

    path: Path
    text: str
    targets: tuple[int, ...]
    duration_s: float
    set_name: str
    more_paths: tuple[Path, ...] = ()


def encode(text: str) -> tuple[int, ...]:
    """Normalised text -> label indices of ``alphabet.LABELS``."""
    return tuple(INDEX[c] for c in text)


def _duration(path: Path, listed: float | None) -> float:
    if listed is not None:
        return listed
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, OSError, RuntimeError) as exc:
        raise InputError(path, f"cannot read audio header: {exc}") from exc
    return float(info.frames) / float(info.samplerate)


def load_utterances(specs: Sequence[str], *, max_clip_s: float = MAX_CLIP_S) -> list[Utterance]:
    """Rows of ``specs`` (``manifest.tsv[:split]``) with normalised transcripts. Rows with an
    empty transcript or longer than ``max_clip_s`` are skipped (logged)."""
    utterances = []
    for spec in specs:
        manifest, split = parse_spec(spec)
        set_name = f"{manifest.parent.name}:{split}" if split else manifest.parent.name
        skipped = 0
        for row in read_manifest(spec):
            text = normalize_transcript(row.transcript)
            duration = _duration(row.path, row.duration_s)
            if not text or duration > max_clip_s:
                skipped += 1
                continue
            utterances.append(Utterance(row.path, text, encode(text), duration, set_name))
        if skipped:
            log.warning(
                "%s: skipped %d rows (empty transcript or over %.0f s)", spec, skipped, max_clip_s
            )
    return utterances


def non_speech_utterances(count: int, seed: int) -> list[Utterance]:
    """``count`` placeholders for generated clips with no speech (empty targets): the dataset
    renders each with :func:`augment.non_speech_clip`; durations drawn from ``seed``."""
    rng = np.random.default_rng([seed, 7])
    durations = rng.uniform(*NON_SPEECH_DURATION_S, size=count)
    return [
        Utterance(Path(f"<non-speech {i}>"), "", (), float(d), NON_SPEECH_SET)
        for i, d in enumerate(durations)
    ]


def joined_utterances(
    utterances: Sequence[Utterance], count: int, seed: int, *, max_s: float = JOIN_MAX_S
) -> list[Utterance]:
    """``count`` utterances of 2-3 others of ``utterances`` played one after another (text
    joined by a space), so the recognizer also learns input longer than one sentence, as
    ``transcribe``'s segments can be; drawn from ``seed``, each under ``max_s`` seconds."""
    speech = [u for u in utterances if u.set_name != NON_SPEECH_SET and u.targets]
    if count <= 0 or len(speech) < 2:
        return []
    rng = np.random.default_rng([seed, 11])
    joined: list[Utterance] = []
    for _ in range(count * 4):  # draws over max_s are skipped
        if len(joined) == count:
            break
        parts = [speech[i] for i in rng.choice(len(speech), size=int(rng.integers(2, 4)))]
        duration = sum(u.duration_s for u in parts) + JOIN_PAUSE_S * (len(parts) - 1)
        if duration > max_s:
            continue
        text = " ".join(u.text for u in parts)
        joined.append(
            Utterance(
                parts[0].path,
                text,
                encode(text),
                duration,
                "joined",
                tuple(u.path for u in parts[1:]),
            )
        )
    return joined


def make_batches(
    durations: Sequence[float],
    *,
    batch_seconds: float,
    max_items: int,
    rng: np.random.Generator | None = None,
) -> list[list[int]]:
    """Group indices into batches of similar duration: ``len(batch) * longest <= batch_seconds``
    (a single longer clip gets a batch of its own), at most ``max_items`` each; with ``rng``,
    durations are jittered before sorting and the batch order is shuffled."""
    keys = np.asarray(durations, dtype=np.float64)
    if rng is not None:
        keys = keys * rng.uniform(1 - SORT_JITTER, 1 + SORT_JITTER, size=len(keys))
    order = np.argsort(keys, kind="stable")
    batches: list[list[int]] = []
    current: list[int] = []
    current_longest = 0.0
    for index in order.tolist():
        longest = max(current_longest, durations[index])
        if current and ((len(current) + 1) * longest > batch_seconds or len(current) >= max_items):
            batches.append(current)
            current, longest = [], durations[index]
        current.append(index)
        current_longest = longest
    if current:
        batches.append(current)
    if rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


@dataclass(slots=True)
class EpochBatches:
    """Batch sampler over epochs ``[start_epoch, total_epochs)``: yields lists of
    ``(epoch, step, n_steps, index)`` keys, this rank's share of each epoch's batches.

    The trainer stops at the epochs its time budget allows, which may be fewer."""

    durations: list[float]
    batch_seconds: float
    max_items: int
    seed: int
    total_epochs: int
    start_epoch: int = 0
    start_step: int = 0
    rank: int = 0
    world_size: int = 1
    _n_steps: dict[int, int] = field(default_factory=dict)

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        rng = np.random.default_rng([self.seed, epoch])
        batches = make_batches(
            self.durations, batch_seconds=self.batch_seconds, max_items=self.max_items, rng=rng
        )
        usable = len(batches) - len(batches) % self.world_size  # every rank takes as many steps
        return batches[self.rank : usable : self.world_size]

    def steps_per_epoch(self) -> int:
        return len(self.epoch_batches(0))

    def __iter__(self) -> Iterator[list[tuple[int, int, int, int]]]:
        epoch = self.start_epoch
        while epoch < self.total_epochs:
            batches = self.epoch_batches(epoch)
            first = self.start_step if epoch == self.start_epoch else 0
            for step in range(first, len(batches)):
                yield [(epoch, step, len(batches), i) for i in batches[step]]
            epoch += 1


@dataclass(frozen=True, slots=True)
class Batch:
    """Padded waveforms ``float32 (B, n_samples)`` with ``sample_lengths`` ``(B,)``, CTC
    ``targets`` ``int64 (sum of target_lengths,)``, and where the batch sits in training."""

    waveforms: Tensor
    sample_lengths: Tensor
    targets: Tensor
    target_lengths: Tensor
    epoch: int
    step: int
    n_steps: int


class TrainClips(Dataset[tuple[Tensor, Tensor, tuple[int, int, int]]]):
    """Key ``(epoch, step, n_steps, index)`` -> (waveform ``float32 (n,)``, targets, position);
    the augmentation draw depends on ``(seed, epoch, index)`` only. Utterances of
    ``NON_SPEECH_SET`` are rendered, not read. A clip that cannot be read gives an empty
    waveform (dropped by :func:`collate`, logged)."""

    def __init__(
        self,
        utterances: Sequence[Utterance],
        *,
        seed: int,
        augment: WaveformAugment | None = None,
    ) -> None:
        self.utterances = list(utterances)
        self.seed = seed
        self.augment = augment
        self.loader = AudioLoader(sample_rate_hz=SAMPLE_RATE)

    def __len__(self) -> int:
        return len(self.utterances)

    def _read(self, utt: Utterance) -> NDArray[np.float32]:
        """The clip's samples (a joined utterance's parts with pauses); empty if unreadable."""
        try:
            parts = [self.loader(path).samples for path in (utt.path, *utt.more_paths)]
        except InputError as exc:
            log.warning("skipping training clip: %s", exc)
            return np.zeros(0, dtype=np.float32)
        if len(parts) == 1:
            return parts[0]
        pause = np.zeros(round(JOIN_PAUSE_S * SAMPLE_RATE), dtype=np.float32)
        pieces = [piece for part in parts for piece in (pause, part)][1:]
        return np.concatenate(pieces)

    def __getitem__(
        self, key: tuple[int, int, int, int]
    ) -> tuple[Tensor, Tensor, tuple[int, int, int]]:
        epoch, step, n_steps, index = key
        utt = self.utterances[index]
        rng = np.random.default_rng([self.seed, epoch, index])
        is_speech = utt.set_name != NON_SPEECH_SET
        samples = self._read(utt) if is_speech else non_speech_clip(rng, utt.duration_s)
        if self.augment is not None and len(samples):
            samples = self.augment(samples, rng)
        return (
            torch.from_numpy(samples),
            torch.tensor(utt.targets, dtype=torch.long),
            (epoch, step, n_steps),
        )


def collate(items: Sequence[tuple[Tensor, Tensor, tuple[int, int, int]]]) -> Batch:
    """Pad waveforms with zeros and concatenate targets (empty clips dropped)."""
    kept = [item for item in items if len(item[0])]
    epoch, step, n_steps = items[0][2]
    lengths = torch.tensor([len(w) for w, _, _ in kept], dtype=torch.long)
    waveforms = torch.zeros(len(kept), int(lengths.max()) if kept else 0)
    for row, (w, _, _) in enumerate(kept):
        waveforms[row, : len(w)] = w
    targets = torch.cat([t for _, t, _ in kept]) if kept else torch.zeros(0, dtype=torch.long)
    target_lengths = torch.tensor([len(t) for _, t, _ in kept], dtype=torch.long)
    return Batch(waveforms, lengths, targets, target_lengths, epoch, step, n_steps)
