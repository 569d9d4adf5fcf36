"""Data passed between face stages. Every type carries ``source`` so errors name the file.

Conventions, kept everywhere (as in face_recognition):
- pixels: ``uint8 (height, width, 3)`` RGB;
- box: ``Box(top, right, bottom, left)`` in int pixels, bottom/right exclusive;
- landmark points: ``float32 (n_points, 2)`` as ``(x, y)`` pixels;
- embedding: ``float32 (128,)``, compared by L2 distance.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray


class Box(NamedTuple):
    """A face box in int pixels: ``(top, right, bottom, left)``."""

    top: int
    right: int
    bottom: int
    left: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    def scaled(self, factor: float) -> Box:
        """The box with every coordinate multiplied by ``factor`` (rounded)."""
        return Box(*(round(v * factor) for v in self))

    def clipped(self, height: int, width: int) -> Box:
        """The box clipped to an image of ``height`` x ``width`` pixels."""
        return Box(
            max(0, min(self.top, height)),
            max(0, min(self.right, width)),
            max(0, min(self.bottom, height)),
            max(0, min(self.left, width)),
        )


@dataclass(frozen=True, slots=True)
class ImageRef:
    """Where a picture came from: a file, or one frame of a video file."""

    source: Path
    frame_index: int | None = None  # video frame number, None for a still image
    time_s: float | None = None  # video time of the frame, seconds


@dataclass(frozen=True, slots=True, eq=False)
class LoadedImage:
    """A decoded picture.

    ``pixels`` may be a reduced copy of a big photo (JPEG draft decoding); ``scale`` maps its
    coordinates back to the original file's: ``original = decoded * scale``.
    """

    ref: ImageRef
    pixels: NDArray[np.uint8]  # (height, width, 3) RGB
    scale: float = 1.0

    @property
    def source(self) -> Path:
        return self.ref.source


@dataclass(frozen=True, slots=True, eq=False)
class DetectedFaces:
    """Face boxes found in ``image`` (in ``image.pixels`` coordinates), with detector scores."""

    image: LoadedImage
    boxes: tuple[Box, ...]
    scores: tuple[float, ...]

    @property
    def source(self) -> Path:
        return self.image.source


@dataclass(frozen=True, slots=True, eq=False)
class LandmarkedFaces:
    """``faces`` plus one landmark array per box, ``float32 (n_points, 2)`` (x, y) pixels."""

    faces: DetectedFaces
    points: tuple[NDArray[np.float32], ...]

    @property
    def source(self) -> Path:
        return self.faces.source


@dataclass(frozen=True, slots=True, eq=False)
class AlignedFaces:
    """Faces warped to the canonical pose: ``chips`` is ``uint8 (n_faces, size, size, 3)``.

    Boxes and points here are in the original file's pixel coordinates; the decoded picture
    is dropped so results stay small when they cross process boundaries.
    """

    ref: ImageRef
    boxes: tuple[Box, ...]
    points: tuple[NDArray[np.float32], ...]
    chips: NDArray[np.uint8]

    @property
    def source(self) -> Path:
        return self.ref.source


@dataclass(frozen=True, slots=True, eq=False)
class EmbeddedFaces:
    """One 128-d embedding per face: ``vectors`` is ``float32 (n_faces, 128)``."""

    ref: ImageRef
    boxes: tuple[Box, ...]
    points: tuple[NDArray[np.float32], ...]
    vectors: NDArray[np.float32]
    model_id: str

    @property
    def source(self) -> Path:
        return self.ref.source


@dataclass(frozen=True, slots=True)
class Match:
    """The identity given to one face.

    ``name`` is None for a stranger ("unknown"). ``distance`` is the L2 distance to the
    centroid (mean enrolled embedding) of the candidate identity; ``margin`` how much nearer
    that centroid is than the next identity's (L2; ``inf`` with one identity enrolled).
    """

    name: str | None
    distance: float
    margin: float

    @property
    def label(self) -> str:
        return self.name if self.name is not None else "unknown"


@dataclass(frozen=True, slots=True, eq=False)
class IdentifiedFaces:
    """``faces`` with one ``Match`` per face, in the same order."""

    faces: EmbeddedFaces
    matches: tuple[Match, ...]

    @property
    def source(self) -> Path:
        return self.faces.source
