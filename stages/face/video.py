"""Video frames as pictures: every Nth frame of a video file, decoded by OpenCV."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
from facespeech.stages.errors import InputError
from facespeech.stages.face.types import ImageRef, LoadedImage

# Used when a container does not state its frame rate, so times stay defined.
FALLBACK_FPS = 25.0


class VideoFrameReader:
    """Video file -> ``LoadedImage`` for every ``every``-th frame (frame index and time set).

    Frames in between are skipped without decoding (``grab``), which is much faster.
    """

    def __init__(self, *, every: int = 1) -> None:
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.every = every

    def frame_count(self, path: Path) -> int | None:
        """Frames this reader will yield, from the container's header (None if unknown)."""
        capture = cv2.VideoCapture(str(path))
        try:
            total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        finally:
            capture.release()
        return -(-total // self.every) if total > 0 else None

    def __call__(self, path: Path) -> Iterator[LoadedImage]:
        if not path.is_file():
            raise InputError(path, "no such file")
        if path.stat().st_size == 0:
            raise InputError(path, "empty file")
        capture = cv2.VideoCapture(str(path))
        try:
            if not capture.isOpened():
                raise InputError(path, "cannot open video (corrupt or unsupported codec)")
            fps = capture.get(cv2.CAP_PROP_FPS) or FALLBACK_FPS
            index = 0
            while capture.grab():
                if index % self.every == 0:
                    ok, frame = capture.retrieve()
                    if not ok:
                        raise InputError(path, f"cannot decode frame {index}")
                    pixels = np.ascontiguousarray(
                        cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), dtype=np.uint8
                    )
                    ref = ImageRef(path, frame_index=index, time_s=index / fps)
                    yield LoadedImage(ref=ref, pixels=pixels)
                index += 1
            if index == 0:
                raise InputError(path, "video has no readable frames")
        finally:
            capture.release()
