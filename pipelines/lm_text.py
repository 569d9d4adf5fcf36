"""Text for the language model: sentences from plain text, manifests and WordNet, normalised.

``read_lm_text(spec)`` yields word lists in the recognizer's alphabet (``normalize_transcript``)
from one source:

- ``MANIFEST.tsv[:split]``: the ``transcript`` column of a speech manifest (only the given
  split when one is named; use ``:train`` so no dev or test transcript leaks into the model);
- a WordNet database folder (one holding ``data.noun``, e.g. Debian's ``wordnet-base``,
  ``/usr/share/wordnet``): every gloss and every quoted usage example;
- any other file (``.gz`` allowed): plain text, one sentence per line or running prose, cut at
  sentence punctuation. A file with blank lines is read as paragraphs (the lines between blank
  lines joined), so the hard-wrapped prose of e-texts ("...half\nyour fortune...") is not cut
  at every line end.

``read_word_frequencies(path)`` reads a word frequency list (``word<TAB>frequency`` lines, as
written from ``wordfreq``'s English list; see ``stages/speech/models/lm.md``) for
``build-lm --unigram-prior``.
"""

from __future__ import annotations

import gzip
import math
import re
from collections.abc import Iterator
from pathlib import Path

from facespeech.stages.speech.text import normalize_transcript

WORDNET_FILES = ("data.noun", "data.verb", "data.adj", "data.adv")
# WordNet data lines: "offset lex_filenum ss_type w_cnt word lex_id ... | gloss; "example"".
_QUOTED = re.compile(r'"([^"]+)"')
# Older prose (Austen) hyphenates these; normalising the hyphen to a space would teach the LM
# "to morrow" as two words, which the per-word bonus then prefers to "tomorrow".
_ARCHAIC_COMPOUNDS = re.compile(r"\b(to)-(day|morrow|night)\b", re.IGNORECASE)
# A sentence ends at . ! ? ; : and any closing quote or bracket after it ('child." He').
_SENTENCE_END = re.compile(r"(?:(?<=[.!?;:])|(?<=[.!?;:][\"')\]\u201d\u2019]))\s+")


def read_lm_text(spec: str) -> Iterator[list[str]]:
    """Normalised sentences (lists of words) from ``spec`` (see the module doc)."""
    path_part, _, split = spec.rpartition(":") if ".tsv:" in spec else (spec, "", "")
    path = Path(path_part)
    if path.suffix == ".tsv":
        lines = _manifest_lines(spec if split else str(path))
    elif path.is_dir() and (path / WORDNET_FILES[0]).is_file():
        lines = _wordnet_lines(path)
    elif path.is_dir():
        raise ValueError(f"{path}: a folder that is not a WordNet database")
    else:
        lines = _prose_lines(path)
    for line in lines:
        words = normalize_transcript(_ARCHAIC_COMPOUNDS.sub(r"\1\2", line)).split()
        if words:
            yield words


def _manifest_lines(spec: str) -> Iterator[str]:
    from facespeech.pipelines.manifest import read_manifest

    for row in read_manifest(spec):
        yield row.transcript


def _wordnet_lines(folder: Path) -> Iterator[str]:
    for name in WORDNET_FILES:
        with open(folder / name, encoding="latin-1") as lines:
            for line in lines:
                if line.startswith("  ") or "|" not in line:  # licence header
                    continue
                gloss = line.split("|", 1)[1]
                yield from _QUOTED.findall(gloss)
                definition = _QUOTED.sub("", gloss).split(";")
                yield from (part for part in definition if part.strip())


def _prose_lines(path: Path) -> Iterator[str]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as text:
        lines = text.read().splitlines()
    if any(not line.strip() for line in lines):
        # Paragraphs: a line break inside one is only wrapping, not a sentence end.
        paragraphs: list[str] = []
        current: list[str] = []
        for line in [*lines, ""]:
            if line.strip():
                current.append(line.strip())
            elif current:
                paragraphs.append(" ".join(current))
                current = []
        lines = paragraphs
    for line in lines:
        yield from _SENTENCE_END.split(line)


def read_word_frequencies(path: Path) -> dict[str, float]:
    """``{word: frequency}`` from ``word<TAB>frequency`` lines (``.gz`` allowed; ``#`` lines and
    blank lines skipped). Words are normalised as transcripts are; an entry that normalises to
    several words or none is skipped, and entries that normalise alike are summed."""
    opener = gzip.open if path.name.endswith(".gz") else open
    frequencies: dict[str, float] = {}
    with opener(path, "rt", encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip() or line.startswith("#"):
                continue
            word, tab, value = line.rstrip("\n").rpartition("\t")
            try:
                frequency = float(value) if tab else math.nan
            except ValueError:
                frequency = math.nan
            if not frequency > 0 or not math.isfinite(frequency):
                raise ValueError(f"{path}: line {number}: expected word<TAB>positive frequency")
            words = normalize_transcript(word).split()
            if len(words) == 1:
                frequencies[words[0]] = frequencies.get(words[0], 0.0) + frequency
    if not frequencies:
        raise ValueError(f"{path}: no word frequencies")
    return frequencies
