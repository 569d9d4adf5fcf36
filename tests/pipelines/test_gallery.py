from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pytest
from facespeech.pipelines.gallery import EnrolledFace, Gallery
from facespeech.stages.errors import GalleryError
from facespeech.stages.face.types import Box

MODEL = "dlib_face_recognition_resnet_model_v1"


def _face(name: str, seed: int = 0, model: str = MODEL) -> EnrolledFace:
    vector = np.random.default_rng(seed).normal(size=128).astype(np.float32)
    return EnrolledFace(name, vector, model, Path(f"{name}{seed}.jpg"), Box(1, 20, 30, 2))


def test_round_trip_and_private_file_mode(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "gallery.db"
    with Gallery(path) as gallery:
        assert gallery.add([_face("ann", 1), _face("ann", 2), _face("bob", 3)]) == 3
        faces = gallery.faces()
        vectors, names = gallery.arrays(MODEL)
        people = gallery.people()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert names == ["ann", "ann", "bob"]
    assert vectors.shape == (3, 128)
    assert vectors.dtype == np.float32
    np.testing.assert_array_equal(faces[0].embedding, _face("ann", 1).embedding)
    assert faces[0].box == Box(1, 20, 30, 2)
    assert faces[0].source == Path("ann1.jpg")
    assert faces[0].enrolled_at.endswith("+00:00")
    assert [(p.name, p.faces) for p in people] == [("ann", 2), ("bob", 1)]


def test_remove(tmp_path: Path) -> None:
    with Gallery(tmp_path / "g.db") as gallery:
        gallery.add([_face("ann", 1), _face("bob", 2)])
        assert gallery.remove("ann") == 1
        assert gallery.remove("nobody") == 0
        assert [p.name for p in gallery.people()] == ["bob"]


def test_other_model_refused(tmp_path: Path) -> None:
    with Gallery(tmp_path / "g.db") as gallery:
        gallery.add([_face("ann")])
        with pytest.raises(GalleryError, match="holds embeddings of model"):
            gallery.add([_face("bob", model="other")])
        with pytest.raises(GalleryError, match="not 'other'"):
            gallery.arrays("other")
        assert len(gallery.faces()) == 1


def test_missing_empty_and_foreign_files(tmp_path: Path) -> None:
    with pytest.raises(GalleryError, match="enroll someone first"):
        Gallery(tmp_path / "none.db", create=False)
    with Gallery(tmp_path / "empty.db") as gallery, pytest.raises(GalleryError, match="empty"):
        gallery.arrays(MODEL)
    foreign = tmp_path / "notes.db"
    foreign.write_text("not a database at all, just some text " * 20)
    with pytest.raises(GalleryError, match="not a facespeech gallery"):
        Gallery(foreign)


def _enroll_many(path: str, worker: int) -> None:
    with Gallery(Path(path)) as gallery:
        for i in range(10):
            gallery.add([_face(f"p{worker}", worker * 100 + i)])


def test_concurrent_enrolls_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "g.db"
    context = get_context("spawn")
    processes = [context.Process(target=_enroll_many, args=(str(path), w)) for w in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    with Gallery(path) as gallery:
        assert sorted((p.name, p.faces) for p in gallery.people()) == [
            (f"p{w}", 10) for w in range(4)
        ]


KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from facespeech.pipelines.gallery import Gallery
    from tests.pipelines.test_gallery import _face

    gallery = Gallery(Path(sys.argv[1]))
    with gallery._transaction() as conn:
        rows = [_face("intruder", i) for i in range(500)]
        for face in rows:
            conn.execute(
                "INSERT INTO faces (name, embedding, dim, model_id, source, box_top, box_right,"
                " box_bottom, box_left, enrolled_at) VALUES (?, ?, 128, ?, ?, 0, 1, 1, 0, 'x')",
                (face.name, face.embedding.tobytes(), face.model_id, str(face.source)),
            )
        print("inserted", flush=True)
        time.sleep(60)
    """
)


def test_writer_killed_mid_transaction_leaves_gallery_as_before(tmp_path: Path) -> None:
    path = tmp_path / "g.db"
    with Gallery(path) as gallery:
        gallery.add([_face("ann", 1), _face("bob", 2)])
    repo = Path(__file__).resolve().parents[2]
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(repo)},
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "inserted"
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    with Gallery(path) as gallery:
        assert [(p.name, p.faces) for p in gallery.people()] == [("ann", 1), ("bob", 1)]
