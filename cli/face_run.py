"""The parts of ``facepipe`` its commands share: pipeline options, the gallery location,
error reporting, and ``Run`` (one pass of the face pipeline with a progress bar)."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click
from facespeech.cli.common import EXIT_USAGE, progress
from facespeech.pipelines.face import EMBEDDERS, FaceSettings, count_inputs, embed_faces
from facespeech.pipelines.gallery import Gallery
from facespeech.pipelines.runner import Profile, Runner
from facespeech.stages.errors import PipelineError
from facespeech.stages.face.classify import KnnIdentifier
from facespeech.stages.face.detect import DETECTORS

log = logging.getLogger("facespeech.cli")
F = TypeVar("F", bound=Callable[..., Any])

GALLERY_ENV = "FACEPIPE_GALLERY"


def default_gallery() -> Path:
    """``$FACEPIPE_GALLERY``, else ``$XDG_DATA_HOME/facespeech/gallery.db``."""
    if os.environ.get(GALLERY_ENV):
        return Path(os.environ[GALLERY_ENV])
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "facespeech" / "gallery.db"


def report(error: PipelineError | str) -> None:
    click.echo(f"facepipe: {error}", err=True)


every_option = click.option(
    "--every",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="For videos: look at every Nth frame.",
)


def pipeline_options(*, cnn_fallback: bool = False) -> Callable[[F], F]:
    """The stage settings every command that looks at faces shares."""
    options = [
        click.option(
            "--detector",
            type=click.Choice(DETECTORS),
            default="hog",
            show_default=True,
            help="Face detector: dlib HOG (fast), dlib CNN (accurate, slow on CPU), "
            "OpenCV Haar cascade (Viola-Jones).",
        ),
        click.option(
            "--upsample",
            type=click.IntRange(0, 4),
            default=1,
            show_default=True,
            help="Times to double the picture before detecting (finds smaller faces).",
        ),
        click.option(
            "--cnn-fallback/--no-cnn-fallback",
            default=cnn_fallback,
            show_default=True,
            help="Retry with the CNN detector where HOG finds no face (slow on big photos).",
        ),
        click.option(
            "--landmarks",
            "landmark_points",
            type=click.Choice(["5", "68"]),
            default="5",
            show_default=True,
            help="Landmark model (68 is non-commercial; see README).",
        ),
        click.option(
            "--jitters",
            type=click.IntRange(0, 100),
            default=0,
            show_default=True,
            help="Re-sample each face this many times, jittered (slower, a bit more accurate).",
        ),
        click.option(
            "--embedder",
            type=click.Choice(EMBEDDERS),
            default="torch",
            show_default=True,
            help="dlib's face ResNet run by its PyTorch port (same numbers, batched, faster; GPU "
            "with --device cuda) or by dlib itself.",
        ),
        click.option(
            "--jobs",
            "-j",
            type=click.IntRange(1, 64),
            default=1,
            show_default=True,
            help="Worker processes for detection and landmarks.",
        ),
        click.option(
            "--device",
            default="cpu",
            show_default=True,
            help="Device for torch stages: cpu, cuda or cuda:N.",
        ),
        click.option("--profile", is_flag=True, help="Print time per stage on stderr at the end."),
    ]

    def decorate(function: F) -> F:
        for option in reversed(options):
            function = option(function)
        return function

    return decorate


def settings_from(options: dict[str, Any]) -> FaceSettings:
    return FaceSettings(
        detector=options["detector"],
        upsample=options["upsample"],
        cnn_fallback=options["cnn_fallback"],
        landmarks=int(options["landmark_points"]),  # type: ignore[arg-type]
        jitters=options["jitters"],
        embedder=options["embedder"],
    )


def show_profile(profile: Profile | None) -> None:
    if profile is None:
        return
    click.echo("stage        total_s   count   ms/item", err=True)
    for name, entry in profile.stages.items():
        per = 1000 * entry.total_s / entry.count if entry.count else 0.0
        click.echo(f"{name:<12}{entry.total_s:8.2f}{entry.count:8d}{per:10.1f}", err=True)


def exit_with(code: int) -> None:
    sys.exit(code)


class Run:
    """One pass of the face pipeline over inputs, with progress bar and error counting."""

    def __init__(
        self,
        paths: Sequence[Path],
        options: dict[str, Any],
        *,
        every: int = 1,
        classifier: KnnIdentifier | None = None,
        desc: str = "faces",
    ) -> None:
        self.failed = 0
        self._runners: list[Runner] = []
        self._profile = options["profile"]
        total = count_inputs(paths, every=every)
        results = embed_faces(
            paths,
            settings_from(options),
            every=every,
            jobs=options["jobs"],
            device=options["device"],
            classifier=classifier,
            runner_out=self._runners,
        )
        self._results = progress(results, total=total, desc=desc, unit="img")

    def __iter__(self) -> Iterator[Any]:
        """Values of the inputs that worked; each failure is one stderr line."""
        for result in self._results:
            if result.error is not None:
                self.failed += 1
                report(result.error)
            else:
                yield result.value

    def finish(self) -> None:
        if self._profile and self._runners:
            show_profile(self._runners[0].profile)


def open_gallery(ctx: click.Context, *, create: bool) -> Gallery:
    try:
        return Gallery(ctx.obj["gallery"], create=create)
    except PipelineError as exc:
        report(exc)
        exit_with(EXIT_USAGE)
        raise  # unreachable; keeps type checkers content
