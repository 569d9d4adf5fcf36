"""Output of ``facepipe``: rows as CSV (default), JSON or JSON lines; annotated copies."""

from __future__ import annotations

import csv
import json
import math
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal, TextIO

import cv2
import numpy as np
from facespeech.stages.face.draw import draw_faces
from facespeech.stages.face.landmarks import point_groups
from facespeech.stages.face.load import ImageLoader
from facespeech.stages.face.types import Box, ImageRef
from facespeech.stages.media import is_video_path

OutputFormat = Literal["csv", "json", "jsonl"]
FORMATS: tuple[OutputFormat, ...] = ("csv", "json", "jsonl")
NO_FACE = "no_face"


def face_row(
    ref: ImageRef,
    face: int | None,
    box: Box | None,
    **extra: Any,
) -> dict[str, Any]:
    """One output row: where the face is; ``face``/``box`` None for a picture with no face."""
    row: dict[str, Any] = {
        "file": str(ref.source),
        "frame": ref.frame_index,
        "time_s": None if ref.time_s is None else round(ref.time_s, 3),
        "face": face,
        "top": box.top if box else None,
        "right": box.right if box else None,
        "bottom": box.bottom if box else None,
        "left": box.left if box else None,
    }
    row.update(extra)
    return row


def landmarks_json(points: np.ndarray) -> dict[str, list[list[int]]]:
    """Named landmark groups as ``{"left_eye": [[x, y], ...], ...}`` (rounded pixels)."""
    return {
        name: np.rint(group).astype(int).tolist() for name, group in point_groups(points).items()
    }


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return "inf" if math.isinf(value) else f"{value:.4f}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return value


class RowWriter:
    """Writes rows to ``stream`` as they come (CSV with a header, JSON lines, or a JSON list)."""

    def __init__(self, fmt: OutputFormat, stream: TextIO = sys.stdout) -> None:
        self.fmt = fmt
        self.stream = stream
        self._csv: csv.DictWriter[str] | None = None
        self._count = 0

    def write(self, row: dict[str, Any]) -> None:
        if self.fmt == "csv":
            if self._csv is None:
                self._csv = csv.DictWriter(self.stream, fieldnames=list(row), extrasaction="ignore")
                self._csv.writeheader()
            self._csv.writerow({key: _csv_value(value) for key, value in row.items()})
        else:
            text = json.dumps(_json_safe(row))
            if self.fmt == "jsonl":
                self.stream.write(text + "\n")
            else:
                self.stream.write(("[\n  " if self._count == 0 else ",\n  ") + text)
        self._count += 1
        self.stream.flush()

    def close(self) -> None:
        if self.fmt == "json":
            self.stream.write("[]\n" if self._count == 0 else "\n]\n")


def _json_safe(row: dict[str, Any]) -> dict[str, Any]:
    # JSON has no infinity: a margin with one identity enrolled is written as null.
    return {k: (None if isinstance(v, float) and math.isinf(v) else v) for k, v in row.items()}


def write_rows(rows: Iterable[dict[str, Any]], fmt: OutputFormat) -> None:
    writer = RowWriter(fmt)
    for row in rows:
        writer.write(row)
    writer.close()


class Annotator:
    """Writes a copy of each picture (or video frame) with boxes and names into ``folder``."""

    def __init__(self, folder: Path, *, show_points: bool = False) -> None:
        self.folder = folder
        self.show_points = show_points
        self._loader = ImageLoader(draft_min_side=None)
        self._used: set[str] = set()
        folder.mkdir(parents=True, exist_ok=True)

    def __call__(
        self,
        ref: ImageRef,
        boxes: tuple[Box, ...],
        labels: list[str | None],
        points: tuple[np.ndarray, ...],
    ) -> Path:
        pixels = self._read(ref)
        drawn = draw_faces(pixels, boxes, labels, points if self.show_points else None)
        target = self.folder / self._name(ref)
        tmp = target.with_name(f".{target.name}.tmp.jpg")
        cv2.imwrite(str(tmp), cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR))
        tmp.replace(target)
        return target

    def _read(self, ref: ImageRef) -> np.ndarray:
        if ref.frame_index is None:
            return self._loader(ref).pixels
        capture = cv2.VideoCapture(str(ref.source))
        try:
            capture.set(cv2.CAP_PROP_POS_FRAMES, ref.frame_index)
            ok, frame = capture.read()
        finally:
            capture.release()
        if not ok:
            raise OSError(f"cannot re-read frame {ref.frame_index}")
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)

    def _name(self, ref: ImageRef) -> str:
        stem = ref.source.stem
        if ref.frame_index is not None or is_video_path(ref.source):
            stem = f"{stem}_frame{ref.frame_index or 0:06d}"
        name, n = f"{stem}.jpg", 1
        while name in self._used:  # same file name in two folders
            n += 1
            name = f"{stem}_{n}.jpg"
        self._used.add(name)
        return name


def iter_face_rows(
    ref: ImageRef, boxes: tuple[Box, ...], per_face: Iterable[dict[str, Any]], empty: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    """One row per face, or one ``no_face`` row when the picture has none."""
    if not boxes:
        yield face_row(ref, None, None, **empty)
        return
    for i, (box, extra) in enumerate(zip(boxes, per_face, strict=True)):
        yield face_row(ref, i, box, **extra)
