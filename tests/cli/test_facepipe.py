"""``facepipe`` through its installed entry point: exit codes, stdout rows, stderr lines."""

from __future__ import annotations

import csv
import io
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from facespeech.pipelines.gallery import Gallery
from PIL import Image

from tests.face_corpus import make_bad_images

FACEPIPE = Path(sys.executable).with_name("facepipe")


def facepipe(*args: object, gallery: Path | None = None) -> subprocess.CompletedProcess[str]:
    command = [str(FACEPIPE if FACEPIPE.exists() else shutil.which("facepipe"))]
    if gallery is not None:
        command += ["--gallery", str(gallery)]
    return subprocess.run(
        [*command, *map(str, args)], capture_output=True, text=True, timeout=600, check=False
    )


def rows(stdout: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(stdout)))


@pytest.fixture(scope="module")
def knn_gallery(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A gallery enrolled from face_recognition's knn_examples/train; (gallery, test folder)."""
    from tests.conftest import shared_path

    examples = shared_path("faces/face_recognition_examples/knn_examples")
    gallery = tmp_path_factory.mktemp("knn") / "gallery.db"
    done = facepipe("enroll", "--from-dir", examples / "train", gallery=gallery)
    assert done.returncode == 0, done.stderr
    assert "enrolled kit_harington: 2 faces" in done.stdout
    return gallery, examples / "test"


def test_identify_knn_examples_names_everyone(knn_gallery: tuple[Path, Path]) -> None:
    gallery, test_dir = knn_gallery
    done = facepipe("identify", test_dir, gallery=gallery)
    assert done.returncode == 0, done.stderr
    names: dict[str, list[str]] = {}
    for row in rows(done.stdout):
        names.setdefault(Path(row["file"]).stem, []).append(row["name"])
    assert names["alex_lacamoire1"] == ["alex_lacamoire"]
    assert names["johnsnow_test1"] == ["kit_harington"]
    assert sorted(names["kit_with_rose"]) == ["kit_harington", "rose_leslie"]
    assert names["obama1"] == ["obama"]
    named = [n for n in names["obama_and_biden"] if n != "unknown"]
    assert sorted(named) == ["biden", "obama"]  # a background face may be unknown


def test_identify_json_jsonl_and_no_face_row(
    knn_gallery: tuple[Path, Path], tmp_path: Path
) -> None:
    gallery, test_dir = knn_gallery
    blank = tmp_path / "blank.png"
    Image.new("RGB", (120, 90), "gray").save(blank)
    done = facepipe("identify", "--format", "json", test_dir / "obama1.jpg", blank, gallery=gallery)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert [(d["name"], d["face"]) for d in data] == [("obama", 0), ("no_face", None)]
    assert data[0]["top"] < data[0]["bottom"]
    assert 0 <= data[0]["distance"] < 0.5
    done = facepipe("identify", "--format", "jsonl", test_dir / "obama1.jpg", gallery=gallery)
    (line,) = done.stdout.splitlines()
    assert json.loads(line)["name"] == "obama"


def test_bad_inputs_each_one_stderr_line_rest_goes_on(
    knn_gallery: tuple[Path, Path], tmp_path: Path
) -> None:
    gallery, test_dir = knn_gallery
    bad = make_bad_images(tmp_path / "bad", test_dir / "obama1.jpg")
    inputs = [test_dir / "obama1.jpg", *bad.values(), test_dir / "alex_lacamoire1.jpg"]
    done = facepipe("identify", *inputs, gallery=gallery)
    assert done.returncode == 1
    errors = done.stderr.strip().splitlines()
    assert len(errors) == len(bad)
    for path, line in zip(bad.values(), errors, strict=True):
        assert line.startswith(f"facepipe: {path}: ")
    assert [r["name"] for r in rows(done.stdout)] == ["obama", "alex_lacamoire"]


def test_identify_without_gallery_is_a_setup_error(tmp_path: Path) -> None:
    done = facepipe("identify", tmp_path, gallery=tmp_path / "none.db")
    assert done.returncode == 2
    assert "enroll someone first" in done.stderr
    assert done.stdout == ""


def test_enroll_skips_group_photos_unless_largest(
    knn_gallery: tuple[Path, Path], tmp_path: Path
) -> None:
    _, test_dir = knn_gallery
    gallery = tmp_path / "g.db"
    done = facepipe("enroll", "pair", test_dir / "kit_with_rose.jpg", gallery=gallery)
    assert done.returncode == 1
    assert "2 faces (use --largest)" in done.stderr
    assert "nothing enrolled" in done.stderr
    done = facepipe("enroll", "--largest", "pair", test_dir / "kit_with_rose.jpg", gallery=gallery)
    assert done.returncode == 0, done.stderr
    listed = facepipe("list", gallery=gallery)
    assert rows(listed.stdout)[0]["name"] == "pair"
    assert rows(listed.stdout)[0]["faces"] == "1"
    removed = facepipe("remove", "pair", gallery=gallery)
    assert removed.returncode == 0
    assert facepipe("remove", "pair", gallery=gallery).returncode == 1


def test_detect_embed_verify(faces_data: Path) -> None:
    examples = faces_data / "face_recognition_examples"
    done = facepipe("detect", "--format", "json", "--landmarks", "68", examples / "two_people.jpg")
    assert done.returncode == 0, done.stderr
    faces = json.loads(done.stdout)
    assert len(faces) == 2
    assert len(faces[0]["landmarks"]["chin"]) == 17
    done = facepipe("embed", examples / "obama.jpg")
    (face,) = json.loads(done.stdout)
    assert len(face["embedding"]) == 128
    same = facepipe("verify", "--format", "json", examples / "obama.jpg", examples / "obama2.jpg")
    different = facepipe(
        "verify", "--format", "json", examples / "obama.jpg", examples / "biden.jpg"
    )
    assert json.loads(same.stdout)[0]["same_person"] is True
    assert json.loads(different.stdout)[0]["same_person"] is False


def test_video_frames_and_annotation(knn_gallery: tuple[Path, Path], tmp_path: Path) -> None:
    gallery, test_dir = knn_gallery
    frame = cv2.imread(str(test_dir / "obama1.jpg"))
    frame = cv2.resize(frame, (frame.shape[1] // 2 * 2 // 2, frame.shape[0] // 2 * 2 // 2))
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, frame.shape[1::-1])
    for i in range(10):
        writer.write(frame if i < 5 else np.zeros_like(frame))
    writer.release()
    out = tmp_path / "annotated"
    done = facepipe("identify", "--every", "5", "--annotate", out, video, gallery=gallery)
    assert done.returncode == 0, done.stderr
    found = [(int(r["frame"]), float(r["time_s"]), r["name"]) for r in rows(done.stdout)]
    assert found == [(0, 0.0, "obama"), (5, 0.5, "no_face")]
    assert sorted(p.name for p in out.iterdir()) == ["clip_frame000000.jpg", "clip_frame000005.jpg"]


def test_corrupt_video_is_one_error(knn_gallery: tuple[Path, Path], tmp_path: Path) -> None:
    gallery, test_dir = knn_gallery
    video = tmp_path / "broken.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(100))
    done = facepipe("identify", video, test_dir / "obama1.jpg", gallery=gallery)
    assert done.returncode == 1
    assert done.stderr.startswith(f"facepipe: {video}: ")
    assert [r["name"] for r in rows(done.stdout)] == ["obama"]


def test_profile_and_jobs(knn_gallery: tuple[Path, Path]) -> None:
    gallery, test_dir = knn_gallery
    done = facepipe("identify", "--jobs", "2", "--profile", test_dir, gallery=gallery)
    assert done.returncode == 0, done.stderr
    assert len(rows(done.stdout)) >= 7
    for stage in ("load", "detect", "landmarks", "align", "embed", "classify"):
        assert f"\n{stage} " in done.stderr


def test_enroll_killed_midway_leaves_gallery_unchanged(faces_data: Path, tmp_path: Path) -> None:
    gallery = tmp_path / "g.db"
    examples = faces_data / "face_recognition_examples"
    assert facepipe("enroll", "obama", examples / "obama.jpg", gallery=gallery).returncode == 0
    people = faces_data / "lfw_people" / "lfw-deepfunneled"
    command = [str(FACEPIPE), "--gallery", str(gallery), "enroll", "--from-dir", str(people)]
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(4)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    with Gallery(gallery, create=False) as opened:
        assert [(p.name, p.faces) for p in opened.people()] == [("obama", 1)]


def test_help_explains() -> None:
    done = facepipe("--help")
    assert done.returncode == 0
    for command in ("enroll", "identify", "detect", "embed", "verify", "list", "remove"):
        assert command in done.stdout
    assert "--tolerance" in facepipe("identify", "--help").stdout
