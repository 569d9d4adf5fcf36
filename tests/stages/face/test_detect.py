from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from facespeech.stages.face.detect import HaarDetector, HogDetector, make_detector
from facespeech.stages.face.load import ImageLoader
from facespeech.stages.face.types import Box, ImageRef, LoadedImage


def _iou(a: Box, b: Box) -> float:
    top, left = max(a.top, b.top), max(a.left, b.left)
    bottom, right = min(a.bottom, b.bottom), min(a.right, b.right)
    inter = max(0, bottom - top) * max(0, right - left)
    return inter / (a.width * a.height + b.width * b.height - inter)


def test_compreface_counts_and_noses(faces_data: Path) -> None:
    """HOG finds the annotated number of faces, each nose inside exactly one box."""
    root = faces_data / "compreface"
    annotations = json.loads((root / "annotations.json").read_text())["images"]
    loader, detector = ImageLoader(), HogDetector()
    exact = 0
    for name, truth in annotations.items():
        image = loader(root / name)
        boxes = [box.scaled(image.scale) for box in detector(image).boxes]
        hits = [
            sum(b.left <= x < b.right and b.top <= y < b.bottom for b in boxes)
            for x, y in truth["noses"]
        ]
        exact += len(boxes) == truth["face_count"] and all(h == 1 for h in hits)
    # HOG is a frontal detector: in 3 of the 18 photos it misses a turned face or adds one;
    # measured 15/18 (see README), the test keeps that floor.
    assert exact >= 15


def test_boxes_match_dlib_annotations(faces_data: Path) -> None:
    root = faces_data / "dlib_examples"
    loader, detector = ImageLoader(), HogDetector(upsample=1)
    found = total = 0
    for image_node in ET.parse(root / "testing.xml").getroot().iter("image"):
        image = loader(root / image_node.get("file", ""))
        boxes = detector(image).boxes
        for node in image_node.iter("box"):
            top, left = int(node.get("top", 0)), int(node.get("left", 0))
            truth = Box(
                top, left + int(node.get("width", 0)), top + int(node.get("height", 0)), left
            )
            total += 1
            found += any(_iou(truth, box) >= 0.5 for box in boxes)
    assert total > 0
    assert found / total >= 0.8


def test_blank_image_has_no_face() -> None:
    image = LoadedImage(ImageRef(Path("blank.png")), np.zeros((64, 64, 3), dtype=np.uint8))
    for name in ("hog", "haar"):
        assert make_detector(name)(image).boxes == ()  # type: ignore[arg-type]


def test_big_picture_detected_on_downscaled_copy_boxes_mapped_back(faces_data: Path) -> None:
    image = ImageLoader()(faces_data / "face_recognition_examples" / "obama.jpg")
    small = HogDetector(max_side=None)(image).boxes
    big_pixels = np.repeat(np.repeat(image.pixels, 2, axis=0), 2, axis=1)
    big = HogDetector(max_side=1200)(LoadedImage(image.ref, big_pixels)).boxes
    assert len(small) == len(big) == 1
    assert _iou(small[0].scaled(2), big[0]) > 0.7


def test_boxes_clipped_to_picture(faces_data: Path) -> None:
    image = ImageLoader()(
        faces_data / "face_recognition_examples" / "test_images" / "obama_partial_face.jpg"
    )
    height, width = image.pixels.shape[:2]
    for box in HaarDetector(upsample=0)(image).boxes + HogDetector()(image).boxes:
        assert 0 <= box.left < box.right <= width
        assert 0 <= box.top < box.bottom <= height


def test_unknown_detector_and_bad_settings_raise() -> None:
    with pytest.raises(ValueError, match="unknown detector"):
        make_detector("sift")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="upsample"):
        HogDetector(upsample=-1)
