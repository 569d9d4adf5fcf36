from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from facespeech.stages.face import (
    DlibEmbedder,
    FaceAligner,
    HogDetector,
    ImageLoader,
    LandmarkPredictor,
    point_groups,
)
from facespeech.stages.face.types import ImageRef, LoadedImage


@pytest.fixture
def obama(faces_data: Path) -> LoadedImage:
    return ImageLoader()(faces_data / "face_recognition_examples" / "obama.jpg")


@pytest.mark.parametrize("count", [5, 68])
def test_landmarks_shape_and_sanity(obama: LoadedImage, count: int) -> None:
    faces = HogDetector()(obama)
    marked = LandmarkPredictor(points=count)(faces)  # type: ignore[arg-type]
    (points,) = marked.points
    assert points.shape == (count, 2)
    assert points.dtype == np.float32
    box = faces.boxes[0]
    groups = point_groups(points)
    eyes_y = np.concatenate([groups["left_eye"], groups["right_eye"]])[:, 1].mean()
    nose_y = groups["nose_tip"][:, 1].mean()
    assert box.top < eyes_y < nose_y < box.bottom + box.height * 0.2
    if count == 68:
        assert {"chin", "left_eyebrow", "top_lip", "bottom_lip"} <= set(groups)
        assert groups["chin"].shape == (17, 2)


def test_landmarks_and_point_groups_validate() -> None:
    with pytest.raises(ValueError, match="5 or 68"):
        LandmarkPredictor(points=7)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="5 or 68"):
        point_groups(np.zeros((3, 2), dtype=np.float32))


def test_aligned_chips_and_original_coordinates(obama: LoadedImage) -> None:
    marked = LandmarkPredictor()(HogDetector()(obama))
    aligned = FaceAligner()(marked)
    assert aligned.chips.shape == (1, 150, 150, 3)
    assert aligned.chips.dtype == np.uint8
    reduced = LoadedImage(obama.ref, obama.pixels[::2, ::2].copy(), scale=2.0)
    aligned_half = FaceAligner()(LandmarkPredictor()(HogDetector()(reduced)))
    # Boxes and points come back in the original file's pixels whatever size it was decoded
    # at (HOG's box varies a little with scale; landmarks much less).
    (full,), (half,) = aligned.boxes, aligned_half.boxes
    assert abs(half.left + half.right - full.left - full.right) / 2 < 0.05 * full.width
    assert abs(half.top + half.bottom - full.top - full.bottom) / 2 < 0.05 * full.height
    np.testing.assert_allclose(aligned_half.points[0], aligned.points[0], atol=6)


def _embed(image: LoadedImage) -> np.ndarray:
    aligned = FaceAligner()(LandmarkPredictor()(HogDetector()(image)))
    return DlibEmbedder()(aligned).vectors


def test_same_embedding_from_path_and_from_array(obama: LoadedImage) -> None:
    from_array = LoadedImage(ImageRef(Path("array")), np.array(obama.pixels))
    by_path, by_array = _embed(obama), _embed(from_array)
    assert by_path.shape == (1, 128)
    assert by_path.dtype == np.float32
    np.testing.assert_allclose(by_path, by_array, atol=1e-6)


def test_embedder_batches_across_pictures(obama: LoadedImage) -> None:
    aligned = FaceAligner()(LandmarkPredictor()(HogDetector()(obama)))
    single = DlibEmbedder()(aligned).vectors
    batched = DlibEmbedder().batch([aligned, aligned])
    assert [b.vectors.shape for b in batched] == [(1, 128), (1, 128)]
    np.testing.assert_allclose(batched[1].vectors, single, atol=1e-5)


def _pairs(root: Path, limit: int) -> list[tuple[Path, Path, bool]]:
    lines = (root / "pairsDevTest.txt").read_text().split("\n")[1:]
    images = root / "lfw-deepfunneled"
    pairs = []
    for line in lines:
        parts = line.split()
        if len(parts) == 3:
            a = images / parts[0] / f"{parts[0]}_{int(parts[1]):04d}.jpg"
            b = images / parts[0] / f"{parts[0]}_{int(parts[2]):04d}.jpg"
            pairs.append((a, b, True))
        elif len(parts) == 4:
            a = images / parts[0] / f"{parts[0]}_{int(parts[1]):04d}.jpg"
            b = images / parts[2] / f"{parts[2]}_{int(parts[3]):04d}.jpg"
            pairs.append((a, b, False))
    same = [p for p in pairs if p[2]][:limit]
    different = [p for p in pairs if not p[2]][:limit]
    return same + different


def test_lfw_same_person_pairs_closer_than_different(faces_data: Path) -> None:
    loader = ImageLoader()
    distances: dict[bool, list[float]] = {True: [], False: []}
    for a, b, same in _pairs(faces_data / "lfw_view1", limit=15):
        va, vb = _embed(loader(a)), _embed(loader(b))
        if len(va) and len(vb):
            distances[same].append(float(np.linalg.norm(va[0] - vb[0])))
    assert len(distances[True]) >= 12
    assert len(distances[False]) >= 12
    assert np.median(distances[True]) < 0.5 < 0.7 < np.median(distances[False])
    correct = sum(d <= 0.6 for d in distances[True]) + sum(d > 0.6 for d in distances[False])
    assert correct / (len(distances[True]) + len(distances[False])) >= 0.9
