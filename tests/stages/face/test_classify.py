from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from facespeech.stages.face.classify import KnnIdentifier
from facespeech.stages.face.types import EmbeddedFaces, ImageRef


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.normal(size=(n, 128)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.fixture
def gallery() -> tuple[np.ndarray, list[str], np.ndarray]:
    rng = np.random.default_rng(7)
    centres = _unit(rng, 3) * 0.6  # identities ~0.85 apart
    vectors = np.concatenate([c + _unit(rng, 3) * 0.1 for c in centres]).astype(np.float32)
    names = [name for name in ("ann", "bob", "cy") for _ in range(3)]
    return vectors, names, centres


def test_enrolled_people_named_and_strangers_unknown(gallery: tuple) -> None:
    vectors, names, centres = gallery
    knn = KnnIdentifier().fit(vectors, names)
    rng = np.random.default_rng(1)
    probes = (centres + _unit(rng, 3) * 0.1).astype(np.float32)
    assert [m.name for m in knn.identify(probes)] == ["ann", "bob", "cy"]
    stranger = (_unit(rng, 1) * 0.6).astype(np.float32)
    (match,) = knn.identify(stranger)
    assert match.name is None
    assert match.label == "unknown"
    assert match.distance > 0.5


def test_face_between_two_people_is_unknown(gallery: tuple) -> None:
    vectors, names, centres = gallery
    knn = KnnIdentifier(tolerance=1.0, margin=0.05).fit(vectors, names)
    halfway = ((centres[0] + centres[1]) / 2)[None].astype(np.float32)
    (match,) = knn.identify(halfway)
    assert match.name is None
    assert match.margin < 0.05


def test_single_identity_has_infinite_margin(gallery: tuple) -> None:
    vectors, names, centres = gallery
    knn = KnnIdentifier().fit(vectors[:3], names[:3])
    (match,) = knn.identify(centres[:1].astype(np.float32))
    assert match.name == "ann"
    assert match.margin == float("inf")


def test_call_on_embedded_faces_keeps_order(gallery: tuple) -> None:
    vectors, names, centres = gallery
    faces = EmbeddedFaces(ImageRef(Path("x.jpg")), (), (), centres[::-1].astype(np.float32), "m")
    identified = KnnIdentifier().fit(vectors, names)(faces)
    assert [m.name for m in identified.matches] == ["cy", "bob", "ann"]
    assert identified.source == Path("x.jpg")


def test_settings_and_fit_are_checked() -> None:
    with pytest.raises(ValueError, match="tolerance"):
        KnnIdentifier(tolerance=0)
    with pytest.raises(ValueError, match="names"):
        KnnIdentifier().fit(np.zeros((2, 128), dtype=np.float32), ["a"])
    with pytest.raises(RuntimeError, match="fit"):
        KnnIdentifier().identify(np.zeros((1, 128), dtype=np.float32))


def test_person_with_one_photo_not_outvoted_by_people_with_many() -> None:
    rng = np.random.default_rng(3)
    centres = _unit(rng, 3) * 0.6
    vectors = np.concatenate(
        [centres[:1] + 0.02, *[c + _unit(rng, 4) * 0.05 for c in centres[1:]]]
    ).astype(np.float32)
    names = ["solo"] + ["bob"] * 4 + ["cy"] * 4
    (match,) = KnnIdentifier(n_neighbors=5).fit(vectors, names).identify(centres[:1])
    assert match.name == "solo"
