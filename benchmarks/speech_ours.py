"""Our side of benchmarks/speech.py: the library's ``transcribe`` with the shipped model and
the decoders ``speechpipe transcribe`` builds: greedy (``--beam-width 1``), beam search with
the shipped LM (the default) and, with a vocabulary, beam search limited to it without the LM
(``--words``)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from facespeech.pipelines.speech import Decoder, make_decoder, transcribe
from facespeech.stages.speech.lm import default_lm_path
from facespeech.stages.speech.recognizer import default_model_path
from facespeech.stages.speech.text import normalize_transcript

DecoderName = Literal["greedy", "beam"]
DECODERS: tuple[DecoderName, ...] = ("greedy", "beam")
GREEDY_WITH_WORDS = "n/a (a vocabulary needs beam search)"


@dataclass(frozen=True, slots=True)
class SystemRun:
    """One system's hypotheses for one set, in input order, and its processing time."""

    hypotheses: list[str]  # normalized
    process_s: float  # wall-clock seconds
    cpu_s: float  # CPU seconds of the process, all threads (less disturbed by other load)
    errors: int = 0  # files the system failed on (scored as empty text)


def pending_reason(model_path: Path | None) -> str | None:
    """Why our columns cannot be measured yet (``None`` when they can)."""
    if model_path is not None:
        return None if model_path.is_file() else f"pending ({model_path}: no such file)"
    if not default_model_path().is_file():
        return "pending (model not trained yet)"
    return None


def build_decoder(name: DecoderName, words: Sequence[str] | None) -> Decoder | None:
    """The decoder ``speechpipe transcribe`` would use; ``None`` where it has none."""
    if name == "greedy":
        return None if words else make_decoder(beam_width=1)
    if words:
        return make_decoder(vocabulary=list(words))
    lm = default_lm_path()
    return make_decoder(lm_path=lm if lm.is_file() else None)


def label(name: DecoderName, words: Sequence[str] | None) -> str:
    """How the results table names this decoder."""
    if name == "greedy":
        return "ours, greedy"
    if words:
        return "ours, beam + vocabulary (no LM)"
    return "ours, beam + LM" if default_lm_path().is_file() else "ours, beam (no LM shipped)"


def model_description(model_path: Path | None) -> str:
    path = model_path or default_model_path()
    lm = default_lm_path()
    lm_text = f"LM `{lm.name}` ({lm.stat().st_size / 1e6:.2f} MB)" if lm.is_file() else "no LM"
    return f"`{path.name}` ({path.stat().st_size / 1e6:.2f} MB), {lm_text}"


def transcribe_set(
    paths: Sequence[Path], *, decoder: Decoder, threads: int, model_path: Path | None
) -> SystemRun:
    """Transcribe ``paths`` on ``threads`` CPU threads after one warm-up file; the time is
    that of the whole ``transcribe`` call: loading the model file (``transcribe`` does that
    itself, a fraction of a second), reading, segmenting, recognizing, decoding."""
    torch.set_num_threads(threads)
    for _ in transcribe(
        paths[:1], decoder=decoder, model_path=model_path
    ):  # warm-up: model load, first-call set-up
        pass
    start, cpu_start = time.perf_counter(), time.process_time()
    results = list(transcribe(paths, decoder=decoder, model_path=model_path))
    process_s, cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
    return SystemRun(
        hypotheses=[normalize_transcript(r.value.text) if r.value else "" for r in results],
        process_s=process_s,
        cpu_s=cpu_s,
        errors=sum(r.value is None for r in results),
    )
