"""Manifests: TSV files listing audio clips with their transcripts, split by ``split``.

Format (``../shared/data/speech/*/manifest.tsv``): a header row, tab-separated, at least the
columns ``path`` and ``transcript``; optional ``speaker``, ``split`` and ``duration`` (seconds).
``path`` is relative to the manifest's folder (or absolute).

A spec names a manifest and optionally one split: ``data/manifest.tsv`` (every row) or
``data/manifest.tsv:test``. A manifest with no ``dev`` rows whose train files are named like the
Free Spoken Digit Dataset's (``<digit>_<speaker>_<index>``) gets a dev split of the train rows
with index 5-9 (the dataset's own test split is 0-4), returned with ``split == "dev"``;
``:train`` then leaves them out.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, replace
from pathlib import Path

from facespeech.stages.errors import InputError

REQUIRED_COLUMNS = ("path", "transcript")
DEV_FROM_TRAIN_INDICES = range(5, 10)  # fsdd: train rows with these indices form the dev split
_FSDD_NAME = re.compile(r"^(?P<digit>\d)_(?P<speaker>[A-Za-z]+)_(?P<index>\d+)$")
_SPLIT_SUFFIX = re.compile(r"^(?P<path>.+\.(?:tsv|txt|csv)):(?P<split>[A-Za-z0-9_-]+)$")


@dataclass(frozen=True, slots=True)
class ManifestRow:
    """One clip: ``path`` (absolute), its raw ``transcript`` (as written; normalise with
    ``text.normalize_transcript``), ``speaker`` and ``split`` ("" when absent) and
    ``duration_s`` (seconds, ``None`` when absent)."""

    path: Path
    transcript: str
    speaker: str
    split: str
    duration_s: float | None


def parse_spec(spec: str | Path) -> tuple[Path, str | None]:
    """``"a/manifest.tsv:dev"`` -> ``(Path("a/manifest.tsv"), "dev")``; no suffix: split ``None``.

    A path that exists as written is taken whole (a file may contain a colon)."""
    text = str(spec)
    match = _SPLIT_SUFFIX.match(text)
    if match and not Path(text).is_file():
        return Path(match["path"]), match["split"]
    return Path(text), None


def _fsdd_dev(row: ManifestRow) -> bool:
    match = _FSDD_NAME.match(row.path.stem)
    return match is not None and int(match["index"]) in DEV_FROM_TRAIN_INDICES


def _read_rows(path: Path) -> list[ManifestRow]:
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
            missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or ())]
            if missing:
                raise InputError(path, f"manifest lacks column(s) {', '.join(missing)}")
            rows = []
            for line, record in enumerate(reader, start=2):
                if not record.get("path"):
                    raise InputError(path, f"line {line}: empty path")
                duration = record.get("duration") or record.get("duration_s")
                try:
                    duration_s = float(duration) if duration else None
                except ValueError as exc:
                    raise InputError(path, f"line {line}: bad duration {duration!r}") from exc
                rows.append(
                    ManifestRow(
                        path=(path.parent / record["path"]).resolve(),
                        transcript=record.get("transcript") or "",
                        speaker=record.get("speaker") or "",
                        split=record.get("split") or "",
                        duration_s=duration_s,
                    )
                )
    except FileNotFoundError as exc:
        raise InputError(path, "no such manifest") from exc
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(path, f"cannot read manifest: {exc}") from exc
    return rows


def read_manifest(spec: str | Path) -> list[ManifestRow]:
    """The rows of ``spec`` (``path.tsv`` or ``path.tsv:split``), in file order.

    Raises :class:`InputError` naming the manifest when it is missing, lacks ``path`` or
    ``transcript``, or a split is asked of a manifest without a ``split`` column. A split with no
    rows gives an empty list.
    """
    path, split = parse_spec(spec)
    rows = _read_rows(path)
    if split is None:
        return rows
    if rows and not any(row.split for row in rows):
        raise InputError(path, f"manifest has no split column; cannot select {split!r}")
    derive_dev = not any(row.split == "dev" for row in rows) and any(
        row.split == "train" and _fsdd_dev(row) for row in rows
    )
    if derive_dev and split == "dev":
        return [
            replace(row, split="dev") for row in rows if row.split == "train" and _fsdd_dev(row)
        ]
    if derive_dev and split == "train":
        return [row for row in rows if row.split == "train" and not _fsdd_dev(row)]
    return [row for row in rows if row.split == split]
