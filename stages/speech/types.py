"""Data passed between speech stages. Every type carries ``source`` so errors name the file.

Conventions: waveforms are ``float32 (n_samples,)`` in [-1, 1] at ``sample_rate_hz``;
spectrograms ``float32 (n_bins, n_frames)``; emissions ``float32 (n_frames, n_labels)``
log-probabilities over ``alphabet.LABELS``; times are seconds from the start of the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, slots=True, eq=False)
class Audio:
    """A mono waveform, or one segment of a longer file starting at ``offset_s``."""

    source: Path
    samples: NDArray[np.float32]  # (n_samples,), [-1, 1]
    sample_rate_hz: int
    offset_s: float = 0.0

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate_hz


@dataclass(frozen=True, slots=True, eq=False)
class Spectrogram:
    """Log-mel (or linear) spectrogram: ``values`` is ``float32 (n_bins, n_frames)``."""

    source: Path
    values: NDArray[np.float32]
    frame_s: float  # seconds between frames (the hop)
    offset_s: float = 0.0


@dataclass(frozen=True, slots=True, eq=False)
class Emissions:
    """The recognizer's output: ``log_probs`` is ``float32 (n_frames, n_labels)``.

    Row ``t`` covers time ``offset_s + t * frame_s``; labels are ``alphabet.LABELS``.
    """

    source: Path
    log_probs: NDArray[np.float32]
    frame_s: float
    offset_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word with its time span (seconds) and a confidence in [0, 1]."""

    text: str
    start_s: float
    end_s: float
    confidence: float


@dataclass(frozen=True, slots=True)
class Transcript:
    """Decoded text of one file or segment; ``words`` in time order."""

    source: Path
    text: str
    words: tuple[Word, ...]
    start_s: float = 0.0
    end_s: float = 0.0
