"""The speech pipeline: files -> blocks -> pause-cut segments -> spectrogram -> recognizer ->
decoder -> one ``FileTranscript`` per file.

Files are read block by block and cut at pauses (``Segmenter``) before anything else, so an
hour-long recording goes through in flat memory; the segments of all files stream through one
``Runner`` (spectrogram and recognizer batched, on ``device``) and are merged back per file, in
input order. A file that cannot be read, or one of whose segments fails, gives an error result;
the others go on. ``evaluate`` scores transcripts against manifest rows (WER, CER, real-time
factor).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from facespeech.pipelines.runner import Result, Runner
from facespeech.stages.contract import Stage
from facespeech.stages.errors import InputError, PipelineError
from facespeech.stages.speech.audio import AudioLoader
from facespeech.stages.speech.ctc_decode import (
    DEFAULT_BEAM_WIDTH,
    DEFAULT_LM_WEIGHT,
    DEFAULT_WORD_BONUS,
    BeamSearchDecoder,
    GreedyCtcDecoder,
)
from facespeech.stages.speech.level import LevelNormalizer
from facespeech.stages.speech.lm import NgramLM, default_lm_path
from facespeech.stages.speech.recognizer import CtcRecognizer
from facespeech.stages.speech.text import normalize_transcript
from facespeech.stages.speech.types import Audio, Emissions, Transcript, Word
from facespeech.stages.speech.vad import Segmenter

log = logging.getLogger(__name__)

Decoder = Stage[Emissions, Transcript]
# Segments per recognizer batch. The GRU's cost per call dominates short clips: measured real-
# time factor of greedy decoding on fsdd test 0.052 / 0.040 / 0.031 / 0.028 at 8 / 16 / 32 / 64
# (speechocean762 dev 0.034 / 0.024 / 0.023 / 0.021); 32 segments of at most 6 s stay small.
DEFAULT_BATCH_SIZE = 32
Progress = Callable[[Path, float], None]


@dataclass(frozen=True, slots=True)
class FileTranscript:
    """The transcript of one file: its non-empty segments in time order (times in seconds
    from the start of the file) and their text joined by spaces; ``duration_s`` of the audio."""

    source: Path
    text: str
    segments: tuple[Transcript, ...]
    duration_s: float

    @property
    def words(self) -> tuple[Word, ...]:
        return tuple(word for segment in self.segments for word in segment.words)


def make_decoder(
    *,
    beam_width: int = DEFAULT_BEAM_WIDTH,
    lm_path: Path | None = None,
    lm_weight: float = DEFAULT_LM_WEIGHT,
    word_bonus: float = DEFAULT_WORD_BONUS,
    vocabulary: Sequence[str] | None = None,
) -> Decoder:
    """Greedy decoding for ``beam_width`` 0 or 1, else beam search (with the LM at
    ``lm_path`` if given). A vocabulary needs beam search; raises ``ValueError`` otherwise and
    ``ModelError`` for an unreadable LM."""
    if beam_width <= 1:
        if lm_path is not None or vocabulary is not None:
            raise ValueError("a language model or vocabulary needs beam search (beam width >= 2)")
        return GreedyCtcDecoder()
    lm = NgramLM.load(lm_path) if lm_path is not None else None
    return BeamSearchDecoder(
        beam_width=beam_width,
        lm=lm,
        lm_weight=lm_weight,
        word_bonus=word_bonus,
        vocabulary=vocabulary,
    )


def default_decoder() -> Decoder:
    """Beam search with the shipped language model (without one if it is not installed)."""
    path = default_lm_path()
    return make_decoder(lm_path=path if path.is_file() else None)


@dataclass(slots=True)
class _File:
    """Book-keeping for one input file while its segments are in flight."""

    path: Path
    segments: list[Transcript] = field(default_factory=list)
    error: PipelineError | None = None
    duration_s: float = 0.0


def transcribe(
    paths: Iterable[Path],
    *,
    model_path: Path | None = None,
    decoder: Decoder | None = None,
    segmenter: Segmenter | None = None,
    device: str = "cpu",
    int8: bool = False,
    jobs: int = 1,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_progress: Progress | None = None,
) -> Iterator[Result[FileTranscript]]:
    """Transcribe each file; one ``Result`` per path, in order.

    ``decoder`` defaults to ``default_decoder()``; ``on_progress(path, seconds)`` is called
    as the segments of ``path`` are decoded, with the end time of the audio done so far.
    Raises ``ModelError`` up front when the recognizer cannot be loaded.
    """
    recognizer = CtcRecognizer(model_path=model_path, device=device, int8=int8)
    spectrogram = recognizer.spectrogram(device=device)  # loads the model: set-up errors now
    runner = Runner(
        [
            ("spectrogram", spectrogram),
            ("recognize", recognizer),
            ("decode", decoder if decoder is not None else default_decoder()),
        ],
        batch_size=batch_size,
        jobs=jobs,
        device=device,
    )
    files: dict[int, _File] = {}
    # What the segment stream produced, in order: ("segment", file, audio span) for each item
    # handed to the runner, ("end", file) once a file is read. The runner keeps item order, so
    # when an "end" reaches the front, every segment of that file has come back.
    events: deque[tuple[str, int, tuple[float, float]]] = deque()
    stream = _segments(paths, segmenter or Segmenter(), files, events)
    for result in runner.run(stream):
        yield from _finished(files, events)
        kind, index, (start_s, end_s) = events.popleft()
        assert kind == "segment", "the runner yields one result per segment, in order"
        state = files[index]
        if result.error is not None:
            state.error = state.error or result.error
        elif isinstance(result.value, Transcript):
            state.segments.append(_within(result.value, start_s, end_s))
        if on_progress is not None:
            on_progress(state.path, end_s)
    yield from _finished(files, events)


def _segments(
    paths: Iterable[Path],
    segmenter: Segmenter,
    files: dict[int, _File],
    events: deque[tuple[str, int, tuple[float, float]]],
) -> Iterator[Audio]:
    loader = AudioLoader()
    level = LevelNormalizer()
    for index, path in enumerate(paths):
        state = files[index] = _File(Path(path))
        try:
            # Raised before the segmenter: its -55 dBFS speech threshold is absolute too.
            blocks = level(_measured(loader.stream(state.path), state))
            for segment in segmenter(blocks):
                events.append(("segment", index, (segment.offset_s, _end_s(segment))))
                yield segment
        except PipelineError as exc:
            state.error = exc
        except (OSError, ValueError, RuntimeError) as exc:  # a decoder library's own fault
            state.error = InputError(state.path, f"{type(exc).__name__}: {exc}")
        events.append(("end", index, (0.0, 0.0)))


def _measured(blocks: Iterable[Audio], state: _File) -> Iterator[Audio]:
    for block in blocks:
        state.duration_s = _end_s(block)
        yield block


def _end_s(audio: Audio) -> float:
    return audio.offset_s + audio.duration_s


def _finished(
    files: dict[int, _File], events: deque[tuple[str, int, tuple[float, float]]]
) -> Iterator[Result[FileTranscript]]:
    """Results of the files whose "end" is at the front of ``events``."""
    while events and events[0][0] == "end":
        state = files.pop(events.popleft()[1])
        if state.error is not None:
            log.debug("failed: %s", state.error)
            yield Result(source=state.path, error=state.error)
            continue
        segments = tuple(s for s in state.segments if s.text)
        text = " ".join(s.text for s in segments)
        log.debug("%s: %.1f s, %d segments", state.path, state.duration_s, len(segments))
        yield Result(
            source=state.path,
            value=FileTranscript(state.path, text, segments, state.duration_s),
        )


def _within(transcript: Transcript, start_s: float, end_s: float) -> Transcript:
    """The segment's transcript with its span set to the audio's and word times kept inside
    it (the recognizer's padding can put the first frame slightly before the audio)."""

    def clamp(t: float) -> float:
        return min(max(t, start_s), end_s)

    words = tuple(
        Word(w.text, clamp(w.start_s), clamp(w.end_s), w.confidence) for w in transcript.words
    )
    return Transcript(transcript.source, transcript.text, words, start_s, end_s)


# ---------------------------------------------------------------- evaluation


class Row(Protocol):
    """A manifest row as ``pipelines.manifest.read_manifest`` gives it."""

    @property
    def path(self) -> Path: ...
    @property
    def transcript(self) -> str: ...


@dataclass(frozen=True, slots=True)
class FileScore:
    """One file: normalised reference and hypothesis, its error rates (None when it failed or
    its reference is empty) and the error, if any."""

    path: Path
    reference: str
    hypothesis: str
    duration_s: float
    wer: float | None
    cer: float | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class EvalReport:
    """Corpus-level WER and CER (errors over reference words/characters, failed files
    counting as empty output), audio seconds, wall time and the per-file scores."""

    wer: float
    cer: float
    audio_s: float
    elapsed_s: float
    files: tuple[FileScore, ...]

    @property
    def real_time_factor(self) -> float:
        """Wall time over audio time (0.05: an hour of audio in three minutes)."""
        return self.elapsed_s / self.audio_s if self.audio_s > 0 else 0.0

    @property
    def n_failed(self) -> int:
        return sum(1 for f in self.files if f.error is not None)


def evaluate(
    rows: Sequence[Row],
    *,
    model_path: Path | None = None,
    decoder: Decoder | None = None,
    device: str = "cpu",
    int8: bool = False,
    jobs: int = 1,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_progress: Progress | None = None,
) -> EvalReport:
    """Transcribe ``rows`` and score them against their normalised transcripts.

    The wall time runs from the call to the last result: it includes loading the recognizer,
    not building ``decoder`` (so not loading its LM). Raises ``ValueError`` when ``rows`` is
    empty or every reference is, ``ModelError`` when the recognizer cannot be loaded.
    """
    import jiwer

    if not rows:
        raise ValueError("no rows to evaluate")
    decoder = decoder if decoder is not None else default_decoder()
    started = time.perf_counter()
    results = transcribe(
        [row.path for row in rows],
        model_path=model_path,
        decoder=decoder,
        device=device,
        int8=int8,
        jobs=jobs,
        batch_size=batch_size,
        on_progress=on_progress,
    )
    scores: list[FileScore] = []
    for row, result in zip(rows, results, strict=True):
        reference = normalize_transcript(row.transcript)
        if result.value is None:
            scores.append(FileScore(row.path, reference, "", 0.0, None, None, str(result.error)))
            continue
        hypothesis = result.value.text
        wer = jiwer.wer(reference, hypothesis) if reference else None
        cer = jiwer.cer(reference, hypothesis) if reference else None
        scores.append(FileScore(row.path, reference, hypothesis, result.value.duration_s, wer, cer))
    elapsed = time.perf_counter() - started
    if not any(s.reference for s in scores):
        raise ValueError("every reference transcript is empty")
    refs = [s.reference for s in scores if s.reference]
    hyps = [s.hypothesis for s in scores if s.reference]
    return EvalReport(
        wer=float(jiwer.wer(refs, hyps)),
        cer=float(jiwer.cer(refs, hyps)),
        audio_s=sum(s.duration_s for s in scores),
        elapsed_s=elapsed,
        files=tuple(scores),
    )
