"""The face pipeline: load -> detect -> landmarks -> align -> embed [-> classify].

``FaceSettings`` gathers the stage settings the CLI exposes; ``face_stages`` builds the
chain; ``expand_inputs`` turns files, folders and videos into a lazy stream of items.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from facespeech.pipelines.paths import walk_files
from facespeech.pipelines.runner import NamedStage, Result, Runner
from facespeech.stages.errors import InputError, PipelineError
from facespeech.stages.face.align import FaceAligner
from facespeech.stages.face.classify import KnnIdentifier
from facespeech.stages.face.detect import MAX_SIDE, DetectorName, make_detector
from facespeech.stages.face.embed import DlibEmbedder
from facespeech.stages.face.landmarks import LandmarkPredictor, PointCount
from facespeech.stages.face.load import ImageLoader, is_image_path
from facespeech.stages.face.types import EmbeddedFaces, LoadedImage
from facespeech.stages.face.video import VideoFrameReader
from facespeech.stages.media import is_video_path

log = logging.getLogger(__name__)

EmbedderName = Literal["dlib", "torch"]
EMBEDDERS: tuple[EmbedderName, ...] = ("dlib", "torch")


@dataclass(frozen=True, slots=True)
class FaceSettings:
    """Settings of the face stages, one field per CLI flag."""

    detector: DetectorName = "hog"
    upsample: int = 1
    detect_max_side: int | None = MAX_SIDE
    cnn_fallback: bool = False
    landmarks: PointCount = 5
    jitters: int = 0
    # The torch port computes dlib's numbers (max abs difference < 1e-6, tests) 4-12x faster
    # on CPU (benchmarks/RESULTS.md), so it is the default; "dlib" runs dlib's own code.
    embedder: EmbedderName = "torch"


def make_embedder(settings: FaceSettings) -> DlibEmbedder:
    if settings.embedder == "dlib":
        return DlibEmbedder(jitters=settings.jitters)
    if settings.embedder == "torch":
        from facespeech.stages.face.torch_embed import TorchEmbedder

        return TorchEmbedder(jitters=settings.jitters)  # type: ignore[return-value]
    raise ValueError(f"unknown embedder {settings.embedder!r}; choose one of {EMBEDDERS}")


def face_stages(settings: FaceSettings, *, until: str = "embed") -> list[NamedStage]:
    """The named stage chain, stopping after ``until`` ("detect", "landmarks", ...)."""
    chain: list[NamedStage] = [
        ("load", ImageLoader()),
        (
            "detect",
            make_detector(
                settings.detector,
                upsample=settings.upsample,
                max_side=settings.detect_max_side,
                cnn_fallback=settings.cnn_fallback,
            ),
        ),
        ("landmarks", LandmarkPredictor(points=settings.landmarks)),
        ("align", FaceAligner()),
        ("embed", make_embedder(settings)),
    ]
    names = [name for name, _ in chain]
    if until not in names:
        raise ValueError(f"unknown stage {until!r}; choose one of {names}")
    return chain[: names.index(until) + 1]


def is_face_media(path: Path) -> bool:
    """True for the files a folder is walked for: still images and videos."""
    return is_image_path(path) or is_video_path(path)


def expand_inputs(
    paths: Iterable[Path], *, every: int = 1
) -> Iterator[Path | LoadedImage | PipelineError]:
    """Runner items: image paths, decoded video frames, and errors of videos that failed."""
    reader = VideoFrameReader(every=every)
    for path in walk_files(paths, is_face_media):
        if isinstance(path, InputError) or not is_video_path(path):
            yield path
            continue
        try:
            yield from reader(path)
        except InputError as exc:
            yield exc


def count_inputs(paths: Sequence[Path], *, every: int = 1) -> int | None:
    """How many items ``expand_inputs`` will yield (None when a video does not say)."""
    reader = VideoFrameReader(every=every)
    total = 0
    for path in walk_files(paths, is_face_media):
        if isinstance(path, Path) and is_video_path(path):
            frames = reader.frame_count(path)
            if frames is None:
                return None
            total += frames
        else:
            total += 1
    return total


def embed_faces(
    paths: Sequence[Path],
    settings: FaceSettings = FaceSettings(),
    *,
    every: int = 1,
    jobs: int = 1,
    device: str = "cpu",
    batch_size: int = 16,
    classifier: KnnIdentifier | None = None,
    runner_out: list[Runner] | None = None,
) -> Iterator[Result[object]]:
    """Run the face pipeline on ``paths``; one ``Result`` per picture or video frame.

    Values are ``EmbeddedFaces``, or ``IdentifiedFaces`` when ``classifier`` is given.
    ``runner_out`` receives the runner, for its profile.
    """
    stages = face_stages(settings)
    if classifier is not None:
        stages.append(("classify", classifier))
    runner = Runner(stages, batch_size=batch_size, jobs=jobs, device=device, profile=True)
    if runner_out is not None:
        runner_out.append(runner)
    yield from runner.run(expand_inputs(paths, every=every))


def pick_face(faces: EmbeddedFaces, *, largest: bool) -> int | None:
    """Index of the face to enroll from a photo: its only face, or the largest if asked."""
    if len(faces.boxes) == 1:
        return 0
    if largest and faces.boxes:
        return int(np.argmax([box.width * box.height for box in faces.boxes]))
    return None
