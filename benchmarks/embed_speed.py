"""Embedding benchmark: dlib's face ResNet run by dlib vs by its PyTorch port, faces/s.

1. The embedding stage alone (``embed_chips`` on ``uint8 (150, 150, 3)`` LFW chips): faces/s
   of ``DlibEmbedder`` and ``TorchEmbedder`` at batch sizes 1/8/32/128, the two interleaved
   at each size so both meet the same machine load; process CPU seconds per face as well.
2. ``--pipeline-images N``: the whole pipeline (``embed_faces``: load, detect, landmarks,
   align, embed) on N LFW photos with each embedder, in one process.
3. ``--device cuda``: the port's float32 parity with dlib on the GPU (max abs difference per
   component), then faces/s of float32 and float16, channels-last, up to large batches, and
   the model alone on device-resident input (the ceiling without host transfers).

Usage::

    .venv/bin/python benchmarks/embed_speed.py                    # CPU; writes RESULTS.md
    .venv/bin/python benchmarks/embed_speed.py --device cuda --chips chips.npy
    .venv/bin/python benchmarks/embed_speed.py --render results/embedding-cuda.json

Each run writes ``results/<section>.json`` and its RESULTS.md section (``embedding`` for CPU,
``embedding-cuda`` for CUDA); ``--render`` rewrites a section from such a JSON (for a run
made on another machine).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
from facespeech.pipelines.face import EmbedderName, FaceSettings, embed_faces, face_stages
from facespeech.stages.face.embed import DlibEmbedder
from facespeech.stages.face.torch_embed import TorchEmbedder
from facespeech.stages.face.types import AlignedFaces
from numpy.typing import NDArray
from report import machine, update_section

REPO = Path(__file__).resolve().parents[1]
LFW = REPO.parent / "shared" / "data" / "faces" / "lfw_view1"
CPU_BATCHES = (1, 8, 32, 128)
CUDA_BATCHES = (1, 8, 32, 128, 512, 1024, 2048)
CHIPS = 128  # distinct LFW faces; bigger batches repeat them
PARITY_FACES = 32
# Each measurement runs whole batches until it has lasted this long (and done one batch).
MIN_SECONDS = {"cpu": 5.0, "cuda": 2.0}
PIPELINE_BATCH = 32  # runner items per batch in the pipeline run
TARGET_CPU_SPEEDUP = 5.0  # the bar, at batch >= 32
TARGET_CUDA_FACES_S = 10_000.0
# Recorded with each run: they change how torch's CPU threads wait (see RESULTS.md).
OPENMP_ENV = ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")


def lfw_photos(limit: int) -> list[Path]:
    """The first ``limit`` distinct pictures of LFW View 1 pairsDevTest, sorted."""
    photos = sorted((LFW / "lfw-deepfunneled").glob("*/*.jpg"))
    if not photos:
        sys.exit(f"embed_speed: no LFW pictures under {LFW}")
    return photos[:limit]


def lfw_chips(count: int) -> NDArray[np.uint8]:
    """``uint8 (count, 150, 150, 3)``: the first face of each LFW picture that has one."""
    stages = dict(face_stages(FaceSettings(), until="align"))
    chips: list[NDArray[np.uint8]] = []
    for path in lfw_photos(4 * count):
        item: Any = path
        for name in ("load", "detect", "landmarks", "align"):
            item = stages[name](item)
        assert isinstance(item, AlignedFaces)
        chips.extend(item.chips[:1])
        if len(chips) == count:
            break
    return np.stack(chips)


def tiled(chips: NDArray[np.uint8], count: int) -> NDArray[np.uint8]:
    return chips[np.arange(count) % len(chips)]


def timed(run: Any, batch: Any, min_seconds: float, *, warmup: int) -> dict[str, float]:
    """Call ``run(batch)`` until ``min_seconds`` have passed; faces/s and CPU s per face."""
    run(batch[:warmup])  # model load, allocator, cuDNN autotuning for this batch shape
    faces, cpu0, wall0 = 0, time.process_time(), time.perf_counter()
    while faces == 0 or time.perf_counter() - wall0 < min_seconds:
        run(batch)
        faces += len(batch)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return {
        "faces": faces,
        "wall_s": wall,
        "faces_per_s": faces / wall,
        "cpu_s_per_face": cpu / faces,
    }


def stage_sweep(chips: NDArray[np.uint8], device: str) -> list[dict[str, Any]]:
    rows = []
    min_seconds = MIN_SECONDS["cuda" if device.startswith("cuda") else "cpu"]
    batches = CUDA_BATCHES if device.startswith("cuda") else CPU_BATCHES
    for size in batches:
        batch = tiled(chips, size)
        runs: list[tuple[str, str, Any]] = []
        if not device.startswith("cuda"):
            runs.append(("dlib", "float32", DlibEmbedder()))
        runs.append(("torch", "float32", TorchEmbedder(device=device, batch_size=size)))
        if device.startswith("cuda"):
            runs.append(
                ("torch", "float16", TorchEmbedder(device=device, batch_size=size, half=True))
            )
        for name, dtype, embedder in runs:
            row: dict[str, Any] = {"embedder": name, "dtype": dtype}
            row["device"] = "cpu" if name == "dlib" else device
            # dlib's whole-batch warm-up would cost minutes; it has no per-shape tuning.
            warmup = min(size, 8) if name == "dlib" else size
            run = embedder.embed_chips
            if name == "dlib":  # DlibEmbedder takes a sequence of chips

                def run(chips: NDArray[np.uint8], embed: Any = embedder.embed_chips) -> Any:
                    return embed(list(chips))

            row |= {"batch": size, **timed(run, batch, min_seconds, warmup=warmup)}
            print(f"embed_speed: {row}", file=sys.stderr)
            rows.append(row)
    return rows


def model_only(chips: NDArray[np.uint8], device: str, size: int) -> list[dict[str, Any]]:
    """The network alone on a device-resident uint8 batch: no host copies, no Python loop."""
    from facespeech.stages.face import models
    from facespeech.stages.face.torch_embed import _placed_model

    pixels = torch.from_numpy(tiled(chips, size)).to(device).permute(0, 3, 1, 2)
    rows = []
    for dtype in (torch.float32, torch.float16):
        model = _placed_model(models.model_path(models.RESNET), device, dtype, True)

        def run(_: object, model: Any = model) -> None:
            with torch.inference_mode():
                model(pixels)
            torch.cuda.synchronize()  # time the kernels, not their launch

        row = {"embedder": "torch model only", "device": device, "dtype": str(dtype)[6:]}
        timing = timed(run, pixels, MIN_SECONDS["cuda"], warmup=size)
        rows.append(row | {"batch": size, **timing})
    return rows


def parity(chips: NDArray[np.uint8], device: str) -> dict[str, float]:
    reference = DlibEmbedder().embed_chips(list(chips[:PARITY_FACES]))
    out = {}
    for dtype, half in (("float32", False), ("float16", True)):
        vectors = TorchEmbedder(device=device, half=half).embed_chips(chips[:PARITY_FACES])
        out[f"max_abs_diff_{dtype}"] = float(np.abs(vectors - reference).max())
        out[f"max_l2_{dtype}"] = float(np.linalg.norm(vectors - reference, axis=1).max())
    return out


def pipeline_run(count: int) -> list[dict[str, Any]]:
    photos = lfw_photos(count)
    rows = []
    names: tuple[EmbedderName, ...] = ("dlib", "torch")
    for name in names:
        settings = FaceSettings(embedder=name)
        list(embed_faces(photos[:2], settings))  # warm-up: every model loaded once
        runners: list[Any] = []
        wall0 = time.perf_counter()
        results = list(embed_faces(photos, settings, batch_size=PIPELINE_BATCH, runner_out=runners))
        wall = time.perf_counter() - wall0
        faces = sum(len(r.value.vectors) for r in results if r.value is not None)
        stages = {k: round(v.total_s, 2) for k, v in runners[0].profile.stages.items()}
        rows.append(
            {
                "embedder": name,
                "images": len(photos),
                "faces": faces,
                "wall_s": wall,
                "images_per_s": len(photos) / wall,
                "faces_per_s": faces / wall,
                "stage_s": stages,
            }
        )
        print(f"embed_speed: {rows[-1]}", file=sys.stderr)
    return rows


def versions() -> dict[str, str]:
    out = {"torch": torch.__version__, "numpy": np.__version__}
    for package in ("dlib-bin", "dlib"):
        try:
            out["dlib"] = metadata.version(package)
            break
        except metadata.PackageNotFoundError:
            continue
    if torch.cuda.is_available():
        out["gpu"] = torch.cuda.get_device_name()
        out["cudnn"] = str(torch.backends.cudnn.version())  # type: ignore[no-untyped-call]
    out["torch_threads"] = str(torch.get_num_threads())
    return out


def _lowest_speedup(faces_per_s: dict[tuple[str, int], float]) -> float:
    sizes = sorted({b for _, b in faces_per_s if b >= 32})
    return min(faces_per_s[("torch", b)] / faces_per_s[("dlib", b)] for b in sizes)


def _cpu_markdown(data: dict[str, Any]) -> list[str]:
    rows = {(r["embedder"], r["batch"]): r for r in data["stage"]}
    lines = [
        "| batch | dlib faces/s | torch faces/s | torch / dlib "
        "| dlib CPU s/face | torch CPU s/face |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    speedups = {}
    for size in sorted({b for _, b in rows}):
        d, t = rows[("dlib", size)], rows[("torch", size)]
        speedups[size] = t["faces_per_s"] / d["faces_per_s"]
        lines.append(
            f"| {size} | {d['faces_per_s']:.1f} | {t['faces_per_s']:.1f} | {speedups[size]:.1f}x "
            f"| {d['cpu_s_per_face']:.3f} | {t['cpu_s_per_face']:.3f} |"
        )
    big = [v for size, v in speedups.items() if size >= 32]
    verdict = "met" if big and min(big) >= TARGET_CPU_SPEEDUP else "MISSED"
    lines += ["", f"Target torch >= {TARGET_CPU_SPEEDUP:.0f}x dlib at batch >= 32: **{verdict}**"]
    lines[-1] += f" (lowest {min(big):.1f}x)." if big else "."
    if data.get("env", {}).get("OMP_WAIT_POLICY", "").upper() == "PASSIVE":
        lines += [
            "",
            "`OMP_WAIT_POLICY=PASSIVE` makes torch's two OpenMP threads sleep rather than spin "
            "while they wait for each other. These 2 cores are shared with other jobs (load "
            "average above): a spinning thread burns the time slice its partner needs, so with "
            "the default policy small batches crawl (next line). dlib runs single-threaded and "
            "is unaffected.",
        ]
    also = data.get("also")
    if also:
        other = {(r["embedder"], r["batch"]): r["faces_per_s"] for r in also["stage"]}
        lines += [
            "",
            f"The same sweep from `{also['command']}` ({also['file']}; load average "
            f"{also['load_before']:.1f}/{also['load_after']:.1f}), faces/s dlib / torch: "
            + ", ".join(
                f"batch {size} {other[('dlib', size)]:.1f} / {other[('torch', size)]:.1f}"
                for size in sorted({b for _, b in other})
            )
            + ". There the target is "
            + ("met" if _lowest_speedup(other) >= TARGET_CPU_SPEEDUP else "**MISSED**")
            + f" (lowest {_lowest_speedup(other):.1f}x at batch >= 32).",
        ]
    if data.get("pipeline"):
        lines += [
            "",
            f"Whole pipeline (load, HOG detect, 5 landmarks, align, embed; one process, "
            f"{PIPELINE_BATCH} photos a batch), {data['pipeline'][0]['images']} LFW photos:",
            "",
            "| embedder | photos/s | faces/s | wall s | stage seconds |",
            "| --- | ---: | ---: | ---: | --- |",
        ]
        for r in data["pipeline"]:
            stages = ", ".join(f"{k} {v}" for k, v in r["stage_s"].items())
            lines.append(
                f"| {r['embedder']} | {r['images_per_s']:.1f} | {r['faces_per_s']:.1f} "
                f"| {r['wall_s']:.1f} | {stages} |"
            )
    return lines


def _cuda_markdown(data: dict[str, Any]) -> list[str]:
    p = data["parity"]
    lines = [
        f"Parity with dlib (CPU) on {PARITY_FACES} LFW faces: float32 max abs difference "
        f"{p['max_abs_diff_float32']:.2e} per component; float16 {p['max_abs_diff_float16']:.2e} "
        f"(max L2 {p['max_l2_float16']:.4f}, against 0.6 for 'same person').",
        "",
        "| batch | float32 faces/s | float16 faces/s |",
        "| ---: | ---: | ---: |",
    ]
    rows = {(r["dtype"], r["batch"]): r for r in data["stage"]}
    for size in sorted({b for _, b in rows}):
        lines.append(
            f"| {size} | {rows[('float32', size)]['faces_per_s']:,.0f} "
            f"| {rows[('float16', size)]['faces_per_s']:,.0f} |"
        )
    for r in data.get("model_only", []):
        lines += [
            "",
            f"Model alone, {r['dtype']}, batch {r['batch']}, input already on the GPU: "
            f"{r['faces_per_s']:,.0f} faces/s.",
        ]
    best = max(r["faces_per_s"] for r in data["stage"])
    verdict = "met" if best >= TARGET_CUDA_FACES_S else "MISSED"
    lines += [
        "",
        f"Target >= {TARGET_CUDA_FACES_S:,.0f} faces/s (stage, large batch): "
        f"**{verdict}** (best {best:,.0f}).",
    ]
    return lines


def render_markdown(data: dict[str, Any]) -> str:
    cuda = data["device"].startswith("cuda")
    title = "CUDA" if cuda else "CPU"
    v, m = data["versions"], data["machine"]
    lines = [
        f"## Embedding stage: dlib vs its PyTorch port ({title})",
        "",
        f"Command: `{data['command']}`",
        "",
        f"Machine: {m['platform']}, {m['cpu_count']} CPUs ({m['processor']})"
        + (f", {v['gpu']}" if "gpu" in v else "")
        + f"; torch {v['torch']} ({v['torch_threads']} threads), dlib {v.get('dlib', '?')}, "
        f"numpy {v['numpy']}. Load average before/after: {data['load_before']:.1f}/"
        f"{data['load_after']:.1f}. Each cell: whole batches for >= "
        f"{MIN_SECONDS['cuda' if cuda else 'cpu']:.0f} s after a warm-up; "
        f"{CHIPS} distinct LFW chips, repeated for bigger batches.",
        "",
    ]
    if data.get("note"):
        lines += [data["note"], ""]
    lines += _cuda_markdown(data) if cuda else _cpu_markdown(data)
    return "\n".join(lines) + "\n"


def section_name(device: str) -> str:
    return "embedding-cuda" if device.startswith("cuda") else "embedding"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] for the port")
    parser.add_argument("--pipeline-images", type=int, default=64, help="0 skips it (CPU)")
    parser.add_argument("--chips", type=Path, help="a .npy of uint8 (n, 150, 150, 3) chips")
    parser.add_argument("--save-chips", type=Path, help="write the LFW chips used here")
    parser.add_argument("--render", type=Path, help="rewrite a section from this JSON")
    parser.add_argument("--note", help="with --render: a line to add under the command")
    parser.add_argument("--also", type=Path, help="a CPU run's JSON to show beside this one")
    args = parser.parse_args(argv)
    if args.render:
        saved: dict[str, Any] = json.loads(args.render.read_text())
        if args.note:
            saved["note"] = args.note
        update_section(section_name(saved["device"]), render_markdown(saved), saved)
        return 0
    chips = np.load(args.chips) if args.chips else lfw_chips(CHIPS)
    if args.save_chips:
        np.save(args.save_chips, chips)
    cuda = args.device.startswith("cuda")
    if cuda:
        # Fixed batch shapes: let cuDNN pick its fastest kernels once per shape.
        torch.backends.cudnn.benchmark = True
    env = {k: os.environ[k] for k in OPENMP_ENV if k in os.environ}
    command = shlex.join(
        [*(f"{k}={v}" for k, v in env.items()), "python", "benchmarks/embed_speed.py"]
        + (argv or sys.argv[1:])
    )
    data: dict[str, Any] = {
        "command": command,
        "device": args.device,
        "machine": machine(),
        "versions": versions(),
        "load_before": os.getloadavg()[0],
        "env": env,
    }
    if args.also:
        data["also"] = {"file": str(args.also), **json.loads(args.also.read_text())}
    if cuda:
        data["parity"] = parity(chips, args.device)
    data["stage"] = stage_sweep(chips, args.device)
    if cuda:
        data["model_only"] = model_only(chips, args.device, CUDA_BATCHES[-1])
    elif args.pipeline_images:
        data["pipeline"] = pipeline_run(args.pipeline_images)
    data["load_after"] = os.getloadavg()[0]
    markdown = render_markdown(data)
    update_section(section_name(args.device), markdown, data)
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
