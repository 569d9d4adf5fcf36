"""Transcript formats of ``speechpipe transcribe``: txt, json, srt, vtt, tsv.

Times in JSON and TSV are seconds from the start of the file (3 decimals); subtitles cut each
segment into cues of at most ``CUE_MAX_S`` seconds and ``CUE_MAX_CHARS`` characters at word
boundaries, timed by the words.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from facespeech.pipelines.speech import FileTranscript
from facespeech.stages.speech.types import Transcript, Word

FORMATS = ("txt", "json", "srt", "vtt", "tsv")
CUE_MAX_S = 6.0
CUE_MAX_CHARS = 84  # two subtitle lines of 42


def to_txt(transcript: FileTranscript) -> str:
    return transcript.text + "\n"


def to_dict(transcript: FileTranscript) -> dict[str, Any]:
    """The JSON document of one file: path, text, duration, segments with words."""
    return {
        "path": str(transcript.source),
        "text": transcript.text,
        "duration_s": round(transcript.duration_s, 3),
        "segments": [
            {
                "start_s": round(segment.start_s, 3),
                "end_s": round(segment.end_s, 3),
                "text": segment.text,
                "words": [_word_dict(word) for word in segment.words],
            }
            for segment in transcript.segments
        ],
    }


def _word_dict(word: Word) -> dict[str, Any]:
    return {
        "text": word.text,
        "start_s": round(word.start_s, 3),
        "end_s": round(word.end_s, 3),
        "confidence": round(word.confidence, 3),
    }


def to_json(transcript: FileTranscript) -> str:
    return json.dumps(to_dict(transcript), ensure_ascii=False) + "\n"


def cues(transcript: FileTranscript) -> Iterator[tuple[float, float, str]]:
    """``(start_s, end_s, text)`` subtitle cues, in time order."""
    for segment in transcript.segments:
        yield from _segment_cues(segment)


def _segment_cues(segment: Transcript) -> Iterator[tuple[float, float, str]]:
    if not segment.words:
        yield segment.start_s, segment.end_s, segment.text
        return
    group: list[Word] = []
    for word in segment.words:
        text = " ".join(w.text for w in [*group, word])
        if group and (len(text) > CUE_MAX_CHARS or word.end_s - group[0].start_s > CUE_MAX_S):
            yield group[0].start_s, group[-1].end_s, " ".join(w.text for w in group)
            group = []
        group.append(word)
    yield group[0].start_s, group[-1].end_s, " ".join(w.text for w in group)


def _clock(seconds: float, separator: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def to_srt(transcript: FileTranscript) -> str:
    blocks = [
        f"{n}\n{_clock(start, ',')} --> {_clock(end, ',')}\n{text}\n"
        for n, (start, end, text) in enumerate(cues(transcript), start=1)
    ]
    return "\n".join(blocks)


def to_vtt(transcript: FileTranscript) -> str:
    blocks = [
        f"{_clock(start, '.')} --> {_clock(end, '.')}\n{text}\n"
        for start, end, text in cues(transcript)
    ]
    return "\n".join(["WEBVTT\n", *blocks])


def to_tsv(transcript: FileTranscript) -> str:
    rows = ["start_s\tend_s\ttext"]
    rows += [f"{start:.3f}\t{end:.3f}\t{text}" for start, end, text in cues(transcript)]
    return "\n".join(rows) + "\n"


WRITERS: dict[str, Callable[[FileTranscript], str]] = {
    "txt": to_txt,
    "json": to_json,
    "srt": to_srt,
    "vtt": to_vtt,
    "tsv": to_tsv,
}


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it over ``path``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
