"""Alignment: warp each face so eyes and nose land where dlib's ResNet expects them."""

from __future__ import annotations

import numpy as np
from facespeech.stages.face.landmarks import to_dlib_shape
from facespeech.stages.face.types import AlignedFaces, LandmarkedFaces

# dlib's face-recognition ResNet was trained on 150x150 chips with 25 % padding
# (dlib/examples/dnn_face_recognition_ex.cpp).
CHIP_SIZE = 150
CHIP_PADDING = 0.25


class FaceAligner:
    """``LandmarkedFaces -> AlignedFaces``: ``uint8 (n_faces, size, size, 3)`` chips.

    A similarity transform fitted to the landmarks (5 or 68 points) maps each face to the
    canonical pose (``dlib.get_face_chip``). Boxes and points are returned in the original
    file's pixel coordinates.

    Args:
        size: chip side in pixels (150 for dlib's ResNet).
        padding: border around the face, as a fraction of its size (0.25 for dlib's ResNet).
    """

    def __init__(self, *, size: int = CHIP_SIZE, padding: float = CHIP_PADDING) -> None:
        if size < 16:
            raise ValueError(f"size must be >= 16, got {size}")
        if padding < 0:
            raise ValueError(f"padding must be >= 0, got {padding}")
        self.size = size
        self.padding = padding

    def __call__(self, faces: LandmarkedFaces) -> AlignedFaces:
        import dlib

        detected = faces.faces
        image = detected.image
        chips = np.zeros((len(detected.boxes), self.size, self.size, 3), dtype=np.uint8)
        for i, (box, points) in enumerate(zip(detected.boxes, faces.points, strict=True)):
            shape = to_dlib_shape(box, points)
            chips[i] = dlib.get_face_chip(image.pixels, shape, self.size, self.padding)
        scale = image.scale
        return AlignedFaces(
            ref=image.ref,
            boxes=tuple(box.scaled(scale) for box in detected.boxes),
            points=tuple((points * scale).astype(np.float32) for points in faces.points),
            chips=chips,
        )
