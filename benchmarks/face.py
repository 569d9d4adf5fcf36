"""Face pipeline benchmark: facespeech vs face_recognition 1.3.0, side by side, same run.

1. Verification on LFW View 1 pairsDevTest (10-fold cross-validated threshold).
2. Open-set identification on lfw_people (3 photos enrolled per person, 5 probes each, single-
   photo LFW strangers), reported for names A-K (where the classifier's defaults were tuned),
   L-Z (held out) and all.
3. End-to-end identify throughput (1 and 2 jobs vs face_recognition's single-process API) and
   the peak summed RSS of a 5,000-item run (LFW photos repeated, plus a short video).

Usage (after ``make -f benchmarks/Makefile bench-venv``)::

    .venv/bin/python benchmarks/face.py [--quick] [--out DIR]

face_recognition runs in .bench-venv through benchmarks/peer_face_recognition.py (JSON back).
Embeddings are cached outside the repo (``--cache``) between runs; timed runs never use it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from face_eval import (
    ENROLL_IMAGES,
    PROBE_IMAGES,
    EmbeddingCache,
    ImageFaces,
    Pair,
    PeakMemory,
    Probe,
    embed_cached,
    gallery_of,
    half_of,
    lfw_image,
    read_pairs,
    read_people,
    read_strangers,
    score_open_set,
    verify,
)
from face_report import render_markdown
from facespeech.pipelines.face import FaceSettings, embed_faces
from facespeech.stages.face import KnnIdentifier
from report import machine, update_section

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "faces"
DEFAULT_OUT = REPO / "benchmarks" / "results"
DEFAULT_PEER_PYTHON = REPO / ".bench-venv" / "bin" / "python"
PEER_SCRIPT = Path(__file__).resolve().parent / "peer_face_recognition.py"
CACHE_DIR = Path(tempfile.gettempdir()) / "facespeech-face-bench"
EMBED_JOBS = 2  # the untimed accuracy pass; identical embeddings whatever the job count
TIMED_JOBS = (1, 2)
THROUGHPUT_IMAGES = 400
MEMORY_ITEMS = 5000
ROUNDS = 2
# The memory run's video: this many LFW photos, each held for HOLD frames, every Nth read.
VIDEO_PHOTOS = 40
VIDEO_HOLD_FRAMES = 8
VIDEO_EVERY = 4
VIDEO_FPS = 25.0
# --quick: a smoke run on small subsets (numbers not comparable with a full run).
QUICK_PAIRS_PER_FOLD = 3
QUICK_PEOPLE_PER_HALF = 8
QUICK_STRANGERS_PER_HALF = 10
QUICK_THROUGHPUT_IMAGES = 24
QUICK_MEMORY_ITEMS = 120


@dataclass(frozen=True, slots=True)
class Workload:
    pairs: list[Pair]
    people: list[str]
    probes: list[Probe]
    people_root: Path

    def images(self) -> list[str]:
        paths = {str(p) for pair in self.pairs for p in (pair.first, pair.second)}
        paths |= {
            str(lfw_image(self.people_root, n, i)) for n in self.people for i in ENROLL_IMAGES
        }
        paths |= {probe.path for probe in self.probes}
        return sorted(paths)


def build_workload(data: Path, quick: bool) -> Workload:
    view1, people_root = data / "lfw_view1", data / "lfw_people"
    pairs = read_pairs(view1)
    people = read_people(people_root)
    strangers = read_strangers(people_root)
    if quick:
        pairs = _quick_pairs(pairs)
        people = _per_half(people, QUICK_PEOPLE_PER_HALF)
        strangers = _per_half(strangers, QUICK_STRANGERS_PER_HALF)
    probes = [
        Probe(str(lfw_image(people_root, name, i)), name, half_of(name))
        for name in people
        for i in PROBE_IMAGES
    ]
    probes += [Probe(str(lfw_image(view1, name, 1)), None, half_of(name)) for name in strangers]
    return Workload(pairs, people, probes, people_root)


def _quick_pairs(pairs: list[Pair]) -> list[Pair]:
    kept: list[Pair] = []
    for fold in sorted({p.fold for p in pairs}):
        for same in (True, False):
            kept += [p for p in pairs if p.fold == fold and p.same == same][:QUICK_PAIRS_PER_FOLD]
    return kept


def _per_half(names: list[str], count: int) -> list[str]:
    return [n for n in names if half_of(n) == "A-K"][:count] + [
        n for n in names if half_of(n) == "L-Z"
    ][:count]


# --- Embeddings (untimed accuracy pass) ---------------------------------------------------


def ours_embed(paths: list[str], settings: FaceSettings) -> list[ImageFaces]:
    from PIL import Image

    out = []
    for path, result in zip(
        paths, embed_faces([Path(p) for p in paths], settings, jobs=EMBED_JOBS), strict=True
    ):
        with Image.open(path) as image:
            width, height = image.size
        if result.error is not None or result.value is None:
            out.append(
                ImageFaces(
                    path, height, width, (), np.zeros((0, 128), np.float32), str(result.error)
                )
            )
            continue
        faces = result.value
        boxes = tuple((b.top, b.right, b.bottom, b.left) for b in faces.boxes)
        out.append(ImageFaces(path, height, width, boxes, faces.vectors))
    return out


def run_peer(
    peer_python: Path, mode: str, spec: dict[str, Any], *, workers: int = 1
) -> dict[str, Any]:
    """Run the face_recognition side in .bench-venv; returns its JSON (and peak memory)."""
    with tempfile.TemporaryDirectory() as tmp:
        spec_path, out_path = Path(tmp) / "spec.json", Path(tmp) / "out.json"
        spec_path.write_text(json.dumps(spec))
        command = [
            str(peer_python),
            str(PEER_SCRIPT),
            mode,
            "--input",
            str(spec_path),
            "--output",
            str(out_path),
            "--workers",
            str(workers),
        ]
        result = _run_sampled(command)
        data: dict[str, Any] = json.loads(out_path.read_text())
        data["peak_rss_bytes"] = result["peak_rss_bytes"]
        data["peak_processes"] = result["peak_processes"]
        data["cpu_s"] = result["cpu_s"]
        return data


def _run_sampled(command: list[str]) -> dict[str, Any]:
    """Run ``command``, sampling the summed RSS of it and its children; raise if it fails."""
    process = subprocess.Popen(command, cwd=REPO)
    with PeakMemory(process.pid) as memory:
        # wait4 gives the CPU time of the child and of the workers it reaped: unlike wall
        # time, it hardly changes when other work shares the cores.
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"{shlex.join(command)} exited with {code}")
    return {
        "peak_rss_bytes": memory.peak_bytes,
        "peak_processes": memory.peak_processes,
        "cpu_s": usage.ru_utime + usage.ru_stime,
    }


def peer_embed(peer_python: Path, paths: list[str]) -> list[ImageFaces]:
    data = run_peer(peer_python, "embed", {"paths": paths}, workers=EMBED_JOBS)
    return [ImageFaces.from_json(image) for image in data["images"]]


def embed_all(
    args: argparse.Namespace, paths: list[str], versions: dict[str, Any]
) -> dict[str, dict[str, ImageFaces]]:
    """Faces of every image for: ours (defaults), ours with the CNN fallback, face_recognition."""

    def cache(label: str) -> EmbeddingCache:
        if args.no_cache:
            return EmbeddingCache(None)
        key = f"{label}-{versions['ours']['facespeech']}-{versions['ours']['dlib']}"
        return EmbeddingCache(args.cache / f"{key}.json")

    def settings_key(settings: FaceSettings) -> str:
        return "ours-" + "-".join(f"{v}" for v in dataclasses.astuple(settings))

    started = time.perf_counter()
    default = FaceSettings()
    ours = embed_cached(paths, cache(settings_key(default)), lambda p: ours_embed(p, default))
    peer = embed_cached(paths, cache("face_recognition"), lambda p: peer_embed(args.peer_python, p))
    # The fallback only changes images where HOG found nothing, so only those are re-run.
    missed = [p for p in paths if not ours[p].boxes]
    fallback = dataclasses.replace(default, cnn_fallback=True)
    redone = embed_cached(missed, cache(settings_key(fallback)), lambda p: ours_embed(p, fallback))
    print(
        f"embedded {len(paths)} images in {time.perf_counter() - started:.0f} s "
        f"({len(missed)} without a HOG face re-run with the CNN fallback)",
        file=sys.stderr,
    )
    return {"ours": ours, "ours_cnn_fallback": {**ours, **redone}, "face_recognition": peer}


# --- Open-set identification --------------------------------------------------------------


def open_set(
    args: argparse.Namespace, work: Workload, faces: dict[str, dict[str, ImageFaces]]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label, found in faces.items():
        vectors, names, missed = gallery_of(work.people, work.people_root, found)
        probe_vectors = [found[p.path].central() for p in work.probes]
        present = [v is not None for v in probe_vectors]
        stacked = np.asarray([v for v in probe_vectors if v is not None], dtype=np.float32).reshape(
            -1, 128
        )
        if label == "face_recognition":
            gallery = {"names": names, "vectors": vectors.tolist()}
            data = run_peer(
                args.peer_python, "classify", {"gallery": gallery, "probes": stacked.tolist()}
            )
            named = [m["name"] for m in data["matches"]]
        else:
            named = [m.name for m in KnnIdentifier().fit(vectors, names).identify(stacked)]
        answers = iter(named)
        per_probe = [next(answers) if ok else None for ok in present]
        scores = score_open_set(work.probes, per_probe, present)
        out[label] = {
            "gallery_people": len(set(names)),
            "gallery_faces": len(names),
            "enroll_photos_without_face": missed,
            "scores": {half: score.to_json() for half, score in scores.items()},
        }
    return out


# --- Timed runs ---------------------------------------------------------------------------


def child_identify(spec_path: Path) -> int:
    """(Child process) the end-to-end identify run of ours, timed; writes JSON."""
    spec = json.loads(spec_path.read_text())
    gallery = spec["gallery"]
    vectors = np.asarray(gallery["vectors"], dtype=np.float32)
    classifier = KnnIdentifier().fit(vectors, gallery["names"])
    runners: list[Any] = []
    counts = {"results": 0, "errors": 0, "faces": 0, "named": 0}
    start = time.perf_counter()
    for result in embed_faces(
        [Path(p) for p in spec["paths"]],
        every=spec["every"],
        jobs=spec["jobs"],
        classifier=classifier,
        runner_out=runners,
    ):
        counts["results"] += 1
        if result.error is not None:
            counts["errors"] += 1
            continue
        counts["faces"] += len(result.value.matches)
        counts["named"] += sum(m.name is not None for m in result.value.matches)
    elapsed = time.perf_counter() - start
    profile = runners[0].profile
    stages = {n: {"total_s": s.total_s, "count": s.count} for n, s in profile.stages.items()}
    Path(spec["output"]).write_text(json.dumps({"elapsed_s": elapsed, **counts, "stages": stages}))
    return 0


def timed_ours(
    paths: Sequence[str], jobs: int, gallery: dict[str, Any], every: int = 1
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        spec_path, out_path = Path(tmp) / "spec.json", Path(tmp) / "out.json"
        spec = {
            "paths": list(paths),
            "jobs": jobs,
            "every": every,
            "gallery": gallery,
            "output": str(out_path),
        }
        spec_path.write_text(json.dumps(spec))
        load = os.getloadavg()[0]
        memory = _run_sampled(
            [sys.executable, str(Path(__file__).resolve()), "--child", str(spec_path)]
        )
        data: dict[str, Any] = json.loads(out_path.read_text())
    data.update(memory, jobs=jobs, loadavg_1min_before=load)
    data["images_per_s"] = data["results"] / data["elapsed_s"]
    data["images_per_cpu_s"] = data["results"] / data["cpu_s"]
    return data


def timed_peer(peer_python: Path, paths: Sequence[str], gallery: dict[str, Any]) -> dict[str, Any]:
    load = os.getloadavg()[0]
    data = run_peer(peer_python, "identify", {"paths": list(paths), "gallery": gallery})
    images = data.pop("images")
    data["results"] = len(images)
    data["errors"] = sum(image["error"] is not None for image in images)
    data["faces"] = sum(len(image.get("names") or []) for image in images)
    data["named"] = sum(n is not None for image in images for n in image.get("names") or [])
    data["images_per_s"] = data["results"] / data["elapsed_s"]
    data["images_per_cpu_s"] = data["results"] / data["cpu_s"]
    data["loadavg_1min_before"] = load
    return data


def throughput_paths(work: Workload, count: int) -> list[str]:
    """``count`` LFW photos spread evenly over the probe list (known people and strangers)."""
    paths = [probe.path for probe in work.probes]
    step = max(1, len(paths) // count)
    return paths[::step][:count]


def make_video(photos: Sequence[str], path: Path) -> int:
    """A short MPEG-4 clip: each photo held for VIDEO_HOLD_FRAMES frames; returns frames."""
    import cv2

    frames = []
    for photo in photos:
        frame = cv2.imread(photo)
        if frame is None:
            raise RuntimeError(f"{photo}: OpenCV cannot read it")
        frames.append(frame)
    height, width = frames[0].shape[:2]
    fourcc = cv2.VideoWriter.fourcc(*"mp4v")
    writer = cv2.VideoWriter(str(path), fourcc, VIDEO_FPS, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"{path}: OpenCV cannot write an mp4v video here")
    try:
        for frame in frames:
            for _ in range(VIDEO_HOLD_FRAMES):
                writer.write(cv2.resize(frame, (width, height)))
    finally:
        writer.release()
    return len(frames) * VIDEO_HOLD_FRAMES


def timed_runs(
    args: argparse.Namespace, work: Workload, faces: dict[str, dict[str, ImageFaces]]
) -> dict[str, Any]:
    galleries = {}
    for label in ("ours", "face_recognition"):
        vectors, names, _ = gallery_of(work.people, work.people_root, faces[label])
        galleries[label] = {"names": names, "vectors": vectors.tolist()}
    paths = throughput_paths(work, args.throughput_images)
    # Other work shares the cores and its load comes and goes: the three set-ups take turns,
    # round after round, and each keeps its fastest round (all rounds are in the JSON).
    rounds: dict[str, list[dict[str, Any]]] = {}
    for number in range(args.rounds):
        print(f"throughput round {number + 1}/{args.rounds}: {len(paths)} images", file=sys.stderr)
        peer = timed_peer(args.peer_python, paths, galleries["face_recognition"])
        rounds.setdefault("face_recognition", []).append(peer)
        for jobs in TIMED_JOBS:
            rounds.setdefault(f"ours_jobs{jobs}", []).append(
                timed_ours(paths, jobs, galleries["ours"])
            )
    runs = {
        label: {
            **max(tries, key=lambda run: float(run["images_per_s"])),
            "rounds_images_per_s": [run["images_per_s"] for run in tries],
            "rounds": tries,
        }
        for label, tries in rounds.items()
    }
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "lfw_clip.mp4"
        frames = make_video(paths[:VIDEO_PHOTOS], video)
        video_items = -(-frames // VIDEO_EVERY)
        pool = sorted(faces["ours"])
        stills = [pool[i % len(pool)] for i in range(args.memory_items - video_items)]
        print(f"memory: {len(stills)} photos + {video_items} video frames, jobs 2", file=sys.stderr)
        memory = timed_ours(
            [*stills, str(video)], max(TIMED_JOBS), galleries["ours"], every=VIDEO_EVERY
        )
    memory.update(
        video_frames=frames,
        video_every=VIDEO_EVERY,
        video_items=video_items,
        photos=len(stills),
        expected_items=len(stills) + video_items,
    )
    return {
        "throughput_images": len(paths),
        "rounds": args.rounds,
        "runs": runs,
        "memory_run": memory,
    }


# --- Main ---------------------------------------------------------------------------------


def collect_versions(peer_python: Path) -> dict[str, Any]:
    import cv2
    import dlib
    import sklearn

    ours = {
        "facespeech": metadata.version("facespeech"),
        "dlib": str(dlib.__version__),
        "dlib-bin": metadata.version("dlib-bin"),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "torch": metadata.version("torch"),
        "opencv": cv2.__version__,
        "Pillow": metadata.version("Pillow"),
    }
    peer = run_peer(peer_python, "versions", {})
    return {
        "ours": ours,
        "face_recognition_venv": {k: v for k, v in peer.items() if isinstance(v, str)},
    }


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small subsets: a smoke run")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"JSON folder; {DEFAULT_OUT.relative_to(REPO)} (which also updates "
        "RESULTS.md) by default, a temp folder with --quick",
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared/data/faces")
    parser.add_argument(
        "--peer-python",
        type=Path,
        default=DEFAULT_PEER_PYTHON,
        help="python of the venv holding face_recognition 1.3.0",
    )
    parser.add_argument("--cache", type=Path, default=CACHE_DIR, help="embedding cache folder")
    parser.add_argument("--no-cache", action="store_true", help="recompute every embedding")
    parser.add_argument("--throughput-images", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None, help="throughput rounds (best kept)")
    parser.add_argument("--memory-items", type=int, default=None)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.throughput_images is None:
        args.throughput_images = QUICK_THROUGHPUT_IMAGES if args.quick else THROUGHPUT_IMAGES
    if args.rounds is None:
        args.rounds = 1 if args.quick else ROUNDS
    if args.memory_items is None:
        args.memory_items = QUICK_MEMORY_ITEMS if args.quick else MEMORY_ITEMS
    if args.out is None:
        args.out = CACHE_DIR / "quick" if args.quick else DEFAULT_OUT
    return args


def command_line(argv: list[str] | None) -> str:
    words = sys.argv[1:] if argv is None else argv
    python = Path(sys.executable)
    shown = os.path.relpath(python, REPO) if python.is_relative_to(REPO) else str(python)
    return shlex.join([shown, os.path.relpath(Path(__file__).resolve(), REPO), *words])


def main(argv: list[str] | None = None) -> int:
    # As facepipe does (cli/facepipe.py): torch's OpenMP threads would otherwise spin while
    # waiting, stealing the detection workers' time on these 2 cores. Children inherit it;
    # it must be set before torch is imported (the torch embedder imports it lazily).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    args = parse(argv)
    if args.child is not None:
        return child_identify(args.child)
    if not args.peer_python.exists():
        print(
            f"face.py: {args.peer_python}: no such interpreter (make -f benchmarks/Makefile "
            "bench-venv)",
            file=sys.stderr,
        )
        return 2
    started = time.time()
    work = build_workload(args.data, args.quick)
    versions = collect_versions(args.peer_python)
    faces = embed_all(args, work.images(), versions)
    data: dict[str, Any] = {
        "command": command_line(argv),
        "quick": args.quick,
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(started)),
        "machine": {
            **machine(),
            "loadavg_at_start": list(os.getloadavg()),
            "node": platform.node(),
        },
        "versions": versions,
        "embedding_cache": None if args.no_cache else str(args.cache),
        "settings": dataclasses.asdict(FaceSettings()),
        "environment": {"OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY")},
        "verification": {
            label: verify(work.pairs, found).to_json() for label, found in faces.items()
        },
        "open_set": open_set(args, work, faces),
        "timed": timed_runs(args, work, faces),
    }
    data["duration_s"] = time.time() - started
    markdown = render_markdown(data)
    print(markdown)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.out.resolve() == DEFAULT_OUT.resolve():
        update_section("face", markdown, data)
    else:
        (args.out / "face.json").write_text(json.dumps(data, indent=2) + "\n")
        (args.out / "face.md").write_text(markdown + "\n")
    print(f"face.py: results in {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
