"""``facepipe``: enroll the people you know, then name every face in photos and videos.

Results go to stdout (one row per face), errors to stderr (one line per bad file).
Exit status: 0 all inputs fine, 1 some inputs failed, 2 bad usage or set-up (no gallery...).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import click
from facespeech.cli.common import EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, configure_logging
from facespeech.cli.face_output import (
    FORMATS,
    NO_FACE,
    Annotator,
    RowWriter,
    iter_face_rows,
    landmarks_json,
)
from facespeech.cli.face_run import (
    GALLERY_ENV,
    Run,
    default_gallery,
    every_option,
    exit_with,
    open_gallery,
    pipeline_options,
    report,
    settings_from,
)
from facespeech.pipelines.face import (
    make_embedder,
    pick_face,
)
from facespeech.pipelines.gallery import EnrolledFace
from facespeech.stages.errors import PipelineError
from facespeech.stages.face.classify import MARGIN, TOLERANCE, VERIFY_TOLERANCE, KnnIdentifier
from facespeech.stages.face.load import is_image_path
from facespeech.stages.face.types import EmbeddedFaces, IdentifiedFaces

log = logging.getLogger("facespeech.cli")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--gallery",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help=f"Gallery file (SQLite). Default: ${GALLERY_ENV} or ~/.local/share/facespeech/gallery.db.",
)
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv: debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
@click.pass_context
def cli(ctx: click.Context, gallery: Path | None, verbose: int, quiet: bool) -> None:
    """Find faces, enroll the people you know, and name them in photos and videos.

    \b
    Pipeline: load -> detect (HOG) -> landmarks -> align -> embed (ResNet, 128-d) -> KNN.
    Examples:
      facepipe enroll alice alice1.jpg alice2.jpg
      facepipe enroll --from-dir known_people/      # one sub-folder per person
      facepipe identify photos/ party.mp4 --every 30 --format jsonl
      facepipe verify a.jpg b.jpg
    """
    configure_logging(verbose, quiet)
    ctx.obj = {"gallery": gallery or default_gallery()}


@cli.command()
@click.argument("name", required=False)
@click.argument("images", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--from-dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Folder with one sub-folder of photos per person (the sub-folder is the name).",
)
@click.option(
    "--largest",
    is_flag=True,
    help="Enroll the largest face of photos with several faces (default: skip them).",
)
@pipeline_options()
@click.pass_context
def enroll(
    ctx: click.Context,
    name: str | None,
    images: tuple[Path, ...],
    from_dir: Path | None,
    largest: bool,
    **options: Any,
) -> None:
    """Enroll NAME from IMAGES (one face each), or everyone in --from-dir.

    Photos with no face, or with several faces (unless --largest), are skipped with a
    warning. All faces are stored in one transaction: if the command is interrupted, the
    gallery stays exactly as it was.
    """
    if from_dir is not None:
        if name or images:
            raise click.UsageError("give either NAME IMAGE... or --from-dir, not both")
        people = {
            p: p.parent.relative_to(from_dir).parts[0]
            for p in sorted(from_dir.rglob("*"))
            if p.is_file() and is_image_path(p) and p.parent != from_dir
        }
        paths = list(people)
    else:
        if not name or not images:
            raise click.UsageError("give NAME and at least one IMAGE, or --from-dir")
        paths = list(images)
        people = {}
    if not paths:
        raise click.UsageError(f"no images found in {from_dir}")
    gallery = open_gallery(ctx, create=True)
    run = Run(paths, options, desc="enroll")
    enrolled: list[EnrolledFace] = []
    for faces in run:
        index = pick_face(faces, largest=largest)
        if index is None:
            why = (
                "no face found" if not faces.boxes else f"{len(faces.boxes)} faces (use --largest)"
            )
            log.warning("%s: skipped, %s", faces.source, why)
            continue
        person = people.get(faces.source, name) or ""
        enrolled.append(
            EnrolledFace(
                person, faces.vectors[index], faces.model_id, faces.source, faces.boxes[index]
            )
        )
    run.finish()
    if enrolled:
        try:
            with gallery:
                gallery.add(enrolled)
        except PipelineError as exc:
            report(exc)
            exit_with(EXIT_USAGE)
    for person in sorted({face.name for face in enrolled}):
        count = sum(face.name == person for face in enrolled)
        click.echo(f"enrolled {person}: {count} face{'s' * (count != 1)}")
    if not enrolled:
        report("nothing enrolled: no usable face in the given photos")
        exit_with(EXIT_SOME_FAILED)
    exit_with(EXIT_SOME_FAILED if run.failed else EXIT_OK)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--tolerance",
    type=click.FloatRange(0, 2, min_open=True),
    default=TOLERANCE,
    show_default=True,
    help="Largest distance to a person's enrolled faces to name them.",
)
@click.option(
    "--margin",
    type=click.FloatRange(0, 2),
    default=MARGIN,
    show_default=True,
    help="How much nearer the best person must be than the next one.",
)
@every_option
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True)
@click.option(
    "--annotate",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write copies with boxes and names drawn into this folder.",
)
@click.option("--show-landmarks", is_flag=True, help="With --annotate: draw landmark points too.")
@pipeline_options()
@click.pass_context
def identify(
    ctx: click.Context,
    paths: tuple[Path, ...],
    tolerance: float,
    margin: float,
    every: int,
    fmt: str,
    annotate: Path | None,
    show_landmarks: bool,
    **options: Any,
) -> None:
    """Name every face in PATHS (images, folders, videos): one row per face.

    A face is "unknown" unless its distance to a person is within --tolerance and clearly
    smaller (by --margin) than to anyone else. Files with no face get a "no_face" row.
    """
    with open_gallery(ctx, create=False) as gallery:
        model_id = make_embedder(settings_from(options)).model_id
        try:
            vectors, names = gallery.arrays(model_id)
        except PipelineError as exc:
            report(exc)
            exit_with(EXIT_USAGE)
    classifier = KnnIdentifier(tolerance=tolerance, margin=margin).fit(vectors, names)
    annotator = Annotator(annotate, show_points=show_landmarks) if annotate else None
    writer = RowWriter(fmt)  # type: ignore[arg-type]
    run = Run(paths, options, every=every, classifier=classifier, desc="identify")
    for identified in run:
        _emit_identified(identified, writer, annotator)
    writer.close()
    run.finish()
    exit_with(EXIT_SOME_FAILED if run.failed else EXIT_OK)


def _emit_identified(
    identified: IdentifiedFaces, writer: RowWriter, annotator: Annotator | None
) -> None:
    faces = identified.faces
    extras = [
        {"name": m.label, "distance": round(m.distance, 4), "margin": round(m.margin, 4)}
        for m in identified.matches
    ]
    empty = {"name": NO_FACE, "distance": None, "margin": None}
    for row in iter_face_rows(faces.ref, faces.boxes, extras, empty):
        writer.write(row)
    if annotator is not None:
        try:
            annotator(faces.ref, faces.boxes, [m.name for m in identified.matches], faces.points)
        except (OSError, PipelineError) as exc:
            report(f"{faces.source}: cannot write annotated copy: {exc}")


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@every_option
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True)
@pipeline_options()
def detect(paths: tuple[Path, ...], every: int, fmt: str, **options: Any) -> None:
    """Find faces in PATHS: boxes (top, right, bottom, left) and landmarks, one row per face."""
    writer = RowWriter(fmt)  # type: ignore[arg-type]
    run = Run(paths, options, every=every, desc="detect")
    for faces in run:
        extras = [{"landmarks": landmarks_json(points)} for points in faces.points]
        for row in iter_face_rows(faces.ref, faces.boxes, extras, {"landmarks": None}):
            writer.write(row)
    writer.close()
    run.finish()
    exit_with(EXIT_SOME_FAILED if run.failed else EXIT_OK)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@every_option
@click.option(
    "--format", "fmt", type=click.Choice(("json", "jsonl")), default="json", show_default=True
)
@pipeline_options()
def embed(paths: tuple[Path, ...], every: int, fmt: str, **options: Any) -> None:
    """Print the 128 numbers of every face in PATHS as JSON (to store them elsewhere)."""
    writer = RowWriter(fmt)  # type: ignore[arg-type]
    run = Run(paths, options, every=every, desc="embed")
    for faces in run:
        extras = [
            {"model": faces.model_id, "embedding": [round(float(v), 6) for v in vector]}
            for vector in faces.vectors
        ]
        for row in iter_face_rows(
            faces.ref, faces.boxes, extras, {"model": faces.model_id, "embedding": None}
        ):
            writer.write(row)
    writer.close()
    run.finish()
    exit_with(EXIT_SOME_FAILED if run.failed else EXIT_OK)


@cli.command()
@click.argument("first", type=click.Path(path_type=Path))
@click.argument("second", type=click.Path(path_type=Path))
@click.option(
    "--tolerance",
    type=click.FloatRange(0, 2, min_open=True),
    default=VERIFY_TOLERANCE,
    show_default=True,
    help="Largest distance at which two faces are the same person.",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True)
@pipeline_options(cnn_fallback=True)
def verify(first: Path, second: Path, tolerance: float, fmt: str, **options: Any) -> None:
    """Say whether the (largest) faces in two photos are the same person, with the distance."""
    run = Run([first, second], options, desc="verify")
    faces: list[EmbeddedFaces] = []
    for found in run:
        if not found.boxes:
            report(f"{found.source}: no face found")
            continue
        faces.append(found)
    run.finish()
    if run.failed or len(faces) != 2:
        exit_with(EXIT_SOME_FAILED)
    a, b = (f.vectors[pick_face(f, largest=True) or 0] for f in faces)
    distance = float(((a - b) ** 2).sum() ** 0.5)
    row = {
        "first": str(first),
        "second": str(second),
        "same_person": distance <= tolerance,
        "distance": round(distance, 4),
        "tolerance": tolerance,
    }
    writer = RowWriter(fmt)  # type: ignore[arg-type]
    writer.write(row)
    writer.close()
    exit_with(EXIT_OK)


@cli.command(name="list")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True)
@click.pass_context
def list_people(ctx: click.Context, fmt: str) -> None:
    """List enrolled people and how many faces each has."""
    with open_gallery(ctx, create=False) as gallery:
        people = gallery.people()
    writer = RowWriter(fmt)  # type: ignore[arg-type]
    for person in people:
        writer.write({"name": person.name, "faces": person.faces, "model": person.model_id})
    writer.close()
    exit_with(EXIT_OK)


@cli.command()
@click.argument("name")
@click.pass_context
def remove(ctx: click.Context, name: str) -> None:
    """Remove every enrolled face of NAME."""
    with open_gallery(ctx, create=False) as gallery:
        removed = gallery.remove(name)
    if not removed:
        report(f"{ctx.obj['gallery']}: nobody called {name!r} is enrolled")
        exit_with(EXIT_SOME_FAILED)
    click.echo(f"removed {name}: {removed} face{'s' * (removed != 1)}")
    exit_with(EXIT_OK)


def main() -> None:
    # OpenCV's FFmpeg back end logs its own lines ("moov atom not found") on stderr for a bad
    # video; we report each bad file once, ourselves. -8 is AV_LOG_QUIET.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    # torch's OpenMP threads spin while waiting; beside detection workers on the same cores
    # they steal each other's time slices (embedding 4x slower measured on 2 cores, see
    # benchmarks/RESULTS.md). Must be set before torch is imported.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    cli(prog_name="facepipe")
