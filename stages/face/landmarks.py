"""Facial landmarks: dlib's shape predictors (Kazemi & Sullivan, "One Millisecond Face
Alignment with an Ensemble of Regression Trees", CVPR 2014).

The 5-point model (eye corners and nose) is the default: it is all alignment needs, and the
68-point model's training data (iBUG 300-W) is licensed for non-commercial use only.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from facespeech.stages.face import models
from facespeech.stages.face.types import Box, DetectedFaces, LandmarkedFaces
from numpy.typing import NDArray

PointCount = Literal[5, 68]
MODEL_FILES: dict[int, str] = {5: models.SHAPE_5, 68: models.SHAPE_68}

# Index ranges of the iBUG 300-W 68-point mark-up, named as face_recognition names them.
GROUPS_68: dict[str, list[int]] = {
    "chin": list(range(0, 17)),
    "left_eyebrow": list(range(17, 22)),
    "right_eyebrow": list(range(22, 27)),
    "nose_bridge": list(range(27, 31)),
    "nose_tip": list(range(31, 36)),
    "left_eye": list(range(36, 42)),
    "right_eye": list(range(42, 48)),
    "top_lip": [*range(48, 55), 64, 63, 62, 61, 60],
    "bottom_lip": [*range(54, 60), 48, 60, 67, 66, 65, 64],
}
# dlib's 5-point model: two corners of each eye, then the bottom of the nose.
GROUPS_5: dict[str, list[int]] = {"right_eye": [0, 1], "left_eye": [2, 3], "nose_tip": [4]}


def point_groups(points: NDArray[np.float32]) -> dict[str, NDArray[np.float32]]:
    """Named groups (chin, eyebrows, nose, eyes, lips) of a 5- or 68-point array ``(n, 2)``."""
    groups = {5: GROUPS_5, 68: GROUPS_68}.get(len(points))
    if groups is None:
        raise ValueError(f"expected 5 or 68 points, got {len(points)}")
    return {name: points[index] for name, index in groups.items()}


def to_dlib_rect(box: Box) -> Any:
    import dlib

    return dlib.rectangle(box.left, box.top, box.right, box.bottom)


def to_dlib_shape(box: Box, points: NDArray[np.float32]) -> Any:
    """Rebuild dlib's ``full_object_detection`` from a box and ``(n, 2)`` points."""
    import dlib

    parts = [dlib.point(round(float(x)), round(float(y))) for x, y in points]
    return dlib.full_object_detection(to_dlib_rect(box), parts)


class LandmarkPredictor:
    """``DetectedFaces -> LandmarkedFaces``: ``float32 (n_points, 2)`` (x, y) per face.

    Args:
        points: 5 (default; eyes and nose, for alignment) or 68 (full outline, to show).
    """

    def __init__(self, *, points: PointCount = 5) -> None:
        if points not in MODEL_FILES:
            raise ValueError(f"points must be 5 or 68, got {points}")
        self.points = points

    def __call__(self, faces: DetectedFaces) -> LandmarkedFaces:
        predictor = models.shape_predictor(MODEL_FILES[self.points])
        pixels = faces.image.pixels
        shapes = []
        for box in faces.boxes:
            shape = predictor(pixels, to_dlib_rect(box))
            shapes.append(
                np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32).reshape(-1, 2)
            )
        return LandmarkedFaces(faces=faces, points=tuple(shapes))
