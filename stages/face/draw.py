"""Drawing results onto a picture: boxes, names and (optionally) landmark points."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from facespeech.stages.face.types import Box
from numpy.typing import NDArray

KNOWN_COLOUR = (40, 200, 40)  # RGB
UNKNOWN_COLOUR = (220, 40, 40)
POINT_COLOUR = (255, 220, 0)


def draw_faces(
    pixels: NDArray[np.uint8],
    boxes: Sequence[Box],
    labels: Sequence[str | None],
    points: Sequence[NDArray[np.float32]] | None = None,
) -> NDArray[np.uint8]:
    """A copy of ``pixels`` (RGB) with each box and its label drawn; ``None`` = unknown."""
    canvas = np.ascontiguousarray(pixels.copy())
    thickness = max(1, round(max(canvas.shape[:2]) / 400))
    for i, (box, label) in enumerate(zip(boxes, labels, strict=True)):
        colour = UNKNOWN_COLOUR if label is None else KNOWN_COLOUR
        cv2.rectangle(canvas, (box.left, box.top), (box.right, box.bottom), colour, thickness)
        text = label if label is not None else "unknown"
        scale = max(0.4, box.width / 200)
        (width, height), baseline = cv2.getTextSize(
            text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness
        )
        top = min(box.bottom, canvas.shape[0] - height - baseline)
        cv2.rectangle(
            canvas, (box.left, top), (box.left + width, top + height + baseline), colour, -1
        )
        cv2.putText(
            canvas,
            text,
            (box.left, top + height),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            (255, 255, 255),
            thickness,
            cv2.LINE_AA,
        )
        if points is not None:
            for x, y in points[i]:
                cv2.circle(
                    canvas, (round(float(x)), round(float(y))), thickness + 1, POINT_COLOUR, -1
                )
    return canvas
