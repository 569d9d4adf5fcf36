"""Face detection: dlib HOG (default), dlib CNN (MMOD), OpenCV Haar cascades (Viola-Jones).

Every detector works on a copy no longer than ``max_side`` pixels (big photos cost HOG
seconds per megapixel) and maps boxes back to the picture's pixels, clipped to it.
"""

from __future__ import annotations

import functools
from typing import Any, Literal

import cv2
import numpy as np
from facespeech.stages.errors import ModelError
from facespeech.stages.face import models
from facespeech.stages.face.types import Box, DetectedFaces, LoadedImage
from numpy.typing import NDArray

DetectorName = Literal["hog", "cnn", "haar"]
DETECTORS: tuple[DetectorName, ...] = ("hog", "cnn", "haar")
# Longest side (pixels) detection runs at; measured on the compreface group photos, faces
# stay above HOG's 80x80 window (after one upsampling) at this size.
MAX_SIDE = 1600
HAAR_CASCADE = "haarcascade_frontalface_default.xml"
# OpenCV's documented defaults for detectMultiScale, with a minimum neighbour count that
# keeps Viola-Jones's false positives rare on group photos.
HAAR_SCALE_FACTOR = 1.1
HAAR_MIN_NEIGHBORS = 5
HAAR_MIN_SIZE = 30


class FaceDetector:
    """Base class: ``LoadedImage -> DetectedFaces``, on a downscaled copy of big pictures.

    Args:
        upsample: times the picture is doubled before detecting (finds smaller faces; slower).
        max_side: longest side (pixels) to detect at; ``None`` never downscales.
    """

    name: DetectorName = "hog"

    def __init__(self, *, upsample: int = 1, max_side: int | None = MAX_SIDE) -> None:
        if upsample < 0:
            raise ValueError(f"upsample must be >= 0, got {upsample}")
        if max_side is not None and max_side < 64:
            raise ValueError(f"max_side must be >= 64 or None, got {max_side}")
        self.upsample = upsample
        self.max_side = max_side

    def __call__(self, image: LoadedImage) -> DetectedFaces:
        pixels = image.pixels
        height, width = pixels.shape[:2]
        factor = 1.0
        if self.max_side is not None and max(height, width) > self.max_side:
            factor = self.max_side / max(height, width)
            size = (max(1, round(width * factor)), max(1, round(height * factor)))
            pixels = np.asarray(cv2.resize(pixels, size, interpolation=cv2.INTER_AREA), np.uint8)
        found = self._detect(np.ascontiguousarray(pixels))
        boxes = tuple(box.scaled(1 / factor).clipped(height, width) for box, _ in found)
        keep = [i for i, box in enumerate(boxes) if box.width > 0 and box.height > 0]
        return DetectedFaces(
            image=image,
            boxes=tuple(boxes[i] for i in keep),
            scores=tuple(float(found[i][1]) for i in keep),
        )

    def _detect(self, pixels: NDArray[np.uint8]) -> list[tuple[Box, float]]:
        raise NotImplementedError


def _box(rect: Any) -> Box:
    return Box(int(rect.top()), int(rect.right()), int(rect.bottom()), int(rect.left()))


class HogDetector(FaceDetector):
    """dlib's HOG + linear SVM frontal face detector (fast on CPU, frontal faces only).

    With ``cnn_fallback=True``, pictures where HOG finds no face are searched again with
    dlib's CNN detector (slow on CPU, but finds turned and small faces).
    """

    name: DetectorName = "hog"

    def __init__(
        self, *, upsample: int = 1, max_side: int | None = MAX_SIDE, cnn_fallback: bool = False
    ) -> None:
        super().__init__(upsample=upsample, max_side=max_side)
        self.cnn_fallback = cnn_fallback

    def _detect(self, pixels: NDArray[np.uint8]) -> list[tuple[Box, float]]:
        rects, scores, _ = models.hog_detector().run(pixels, self.upsample, 0.0)
        found = [(_box(r), float(s)) for r, s in zip(rects, scores, strict=True)]
        if not found and self.cnn_fallback:
            found = CnnDetector(upsample=self.upsample, max_side=None)._detect(pixels)
        return found


class CnnDetector(FaceDetector):
    """dlib's max-margin object detection CNN (MMOD), from face_recognition_models."""

    name: DetectorName = "cnn"

    def _detect(self, pixels: NDArray[np.uint8]) -> list[tuple[Box, float]]:
        found = models.mmod_detector()(pixels, self.upsample)
        return [(_box(d.rect), float(d.confidence)) for d in found]


@functools.cache
def _haar_cascade() -> Any:
    path = f"{cv2.data.haarcascades}{HAAR_CASCADE}"  # type: ignore[attr-defined]
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():
        raise ModelError(path, "cannot load OpenCV Haar cascade")
    return cascade


class HaarDetector(FaceDetector):
    """Viola-Jones Haar cascade (OpenCV 4), the classic detector; score is the neighbour count."""

    name: DetectorName = "haar"

    def _detect(self, pixels: NDArray[np.uint8]) -> list[tuple[Box, float]]:
        gray = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
        factor = 2**self.upsample
        if factor > 1:
            gray = cv2.resize(gray, None, fx=factor, fy=factor, interpolation=cv2.INTER_LINEAR)
        rects, _, weights = _haar_cascade().detectMultiScale3(
            gray,
            scaleFactor=HAAR_SCALE_FACTOR,
            minNeighbors=HAAR_MIN_NEIGHBORS,
            minSize=(HAAR_MIN_SIZE, HAAR_MIN_SIZE),
            outputRejectLevels=True,
        )
        return [
            (Box(int(y), int(x + w), int(y + h), int(x)).scaled(1 / factor), float(weight))
            for (x, y, w, h), weight in zip(rects, np.ravel(weights), strict=True)
        ]


def make_detector(
    name: DetectorName,
    *,
    upsample: int = 1,
    max_side: int | None = MAX_SIDE,
    cnn_fallback: bool = False,
) -> FaceDetector:
    """The detector called ``name`` ("hog", "cnn" or "haar"); unknown names raise."""
    if name == "hog":
        return HogDetector(upsample=upsample, max_side=max_side, cnn_fallback=cnn_fallback)
    if name == "cnn":
        return CnnDetector(upsample=upsample, max_side=max_side)
    if name == "haar":
        return HaarDetector(upsample=upsample, max_side=max_side)
    raise ValueError(f"unknown detector {name!r}; choose one of {', '.join(DETECTORS)}")
