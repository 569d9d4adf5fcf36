"""Issue 10's target: silence, noise and music-like tones transcribe to empty text with the
shipped model and language model (the whole ``transcribe`` pipeline: VAD, recognizer, beam
search). The clips are made here by hand, not by the training generator
(``augment.non_speech_clip``), so they are not the training distribution."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from facespeech.pipelines.speech import transcribe
from facespeech.stages.speech.recognizer import default_model_path

RATE = 16_000
pytestmark = pytest.mark.skipif(
    not default_model_path().is_file(), reason="the shipped recognizer is not there"
)


def seconds(duration: float) -> np.ndarray:
    return np.arange(round(duration * RATE)) / RATE


def glide(start_hz: float, end_hz: float, duration: float, partials: int = 4) -> np.ndarray:
    """A harmonic tone whose pitch slides from ``start_hz`` to ``end_hz``."""
    hz = np.geomspace(start_hz, end_hz, round(duration * RATE))
    phase = 2 * np.pi * np.cumsum(hz) / RATE
    return sum(np.sin(k * phase) / k for k in range(1, partials + 1))


def syllable_envelope(duration: float, rate_hz: float) -> np.ndarray:
    """Rises and falls ``rate_hz`` times a second, as syllables do."""
    return 0.5 * (1 - np.cos(2 * np.pi * rate_hz * seconds(duration)))


def melody(rng: np.random.Generator) -> np.ndarray:
    notes = []
    for _ in range(14):
        start = 220 * 2 ** (rng.integers(0, 12) / 12)
        note = glide(start, start * 2 ** rng.uniform(-0.3, 0.3), 0.25, partials=6)
        notes.append(note * np.hanning(len(note)))
    return np.concatenate(notes)


CLIPS: dict[str, Callable[[np.random.Generator], np.ndarray]] = {
    "digital silence": lambda rng: np.zeros(3 * RATE),
    "white noise": lambda rng: rng.standard_normal(4 * RATE),
    "noise bursts": lambda rng: (
        rng.standard_normal(4 * RATE) * np.repeat(rng.random(16) < 0.5, RATE // 4)
    ),
    "rising tone": lambda rng: glide(200, 800, 3.0) * syllable_envelope(3.0, 3.0),
    "falling tone": lambda rng: glide(900, 150, 3.0) * syllable_envelope(3.0, 3.0),
    "melody": melody,
    "chord": lambda rng: (
        sum(np.sin(2 * np.pi * f * seconds(3.0)) for f in (262, 330, 392))
        * syllable_envelope(3.0, 1.0)
    ),
    "vibrato": lambda rng: np.sin(
        2 * np.pi * np.cumsum(440 * (1 + 0.05 * np.sin(2 * np.pi * 5 * seconds(3.0)))) / RATE
    ),
    "square-wave tune": lambda rng: np.concatenate(
        [
            np.sign(np.sin(2 * np.pi * 220 * 2 ** (k / 12) * seconds(0.25)))
            for k in (0, 4, 7, 12, 7, 4, 0, 2, 5, 9, 5, 2)
        ]
    ),
}


def test_non_speech_gives_empty_text(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    paths = []
    for name, make in CLIPS.items():
        wave = np.asarray(make(rng), dtype=np.float64)
        peak = float(np.max(np.abs(wave)))
        path = tmp_path / f"{name.replace(' ', '_')}.wav"
        sf.write(path, (0.3 * wave / peak if peak else wave).astype(np.float32), RATE)
        paths.append(path)
    texts = {}
    for path, result in zip(paths, transcribe(paths), strict=True):
        assert result.ok, result.error
        assert result.value is not None
        texts[path.stem] = result.value.text
    assert texts == dict.fromkeys(texts, "")
