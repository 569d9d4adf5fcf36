"""The reference side of benchmarks/face.py: face_recognition 1.3.0, through its documented API.

Runs inside .bench-venv (face_recognition installed --no-deps beside dlib-bin; see
benchmarks/Makefile), never in the project's venv. face.py calls it in a subprocess and reads
JSON back. Modes:

- ``embed``: every face of every image: box ``(top, right, bottom, left)`` and 128-d encoding
  (``load_image_file``, ``face_locations``, ``face_encodings``; HOG, upsample 1, as defaults).
- ``classify``: name encodings as the README examples do: the nearest enrolled face
  (``face_distance``) if ``compare_faces`` says it is within ``tolerance`` (0.6), else unknown.
- ``identify``: the end-to-end identify loop, single process, timed: load, locate, encode,
  compare, for every image. The timer starts before ``import face_recognition``, which loads
  its models, so model loading is counted as it is for the project's pipeline.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from importlib import metadata
from multiprocessing import get_context
from pathlib import Path
from typing import Any

# face_recognition's own default (compare_faces, the KNN example's distance_threshold).
TOLERANCE = 0.6


def _embed_one(path: str) -> dict[str, Any]:
    """One image -> its size, face boxes and encodings (or the error)."""
    import face_recognition

    try:
        image = face_recognition.load_image_file(path)
    except (OSError, ValueError) as exc:
        return {"path": path, "error": f"{type(exc).__name__}: {exc}"}
    locations = face_recognition.face_locations(image)
    encodings = face_recognition.face_encodings(image, locations)
    return {
        "path": path,
        "height": int(image.shape[0]),
        "width": int(image.shape[1]),
        "boxes": [list(map(int, box)) for box in locations],
        "vectors": [[float(v) for v in encoding] for encoding in encodings],
        "error": None,
    }


def embed(paths: list[str], workers: int) -> dict[str, Any]:
    if workers <= 1:
        images = [_embed_one(path) for path in paths]
    else:
        # Not a timed run: worker processes only make the accuracy pass shorter.
        with get_context("spawn").Pool(workers) as pool:
            images = pool.map(_embed_one, paths, chunksize=8)
    return {"images": images}


def _name_faces(
    known: list[Any], names: list[str], encodings: list[Any], tolerance: float
) -> list[dict[str, Any]]:
    """The README's identify loop: nearest known face, accepted within ``tolerance``."""
    import face_recognition
    import numpy as np

    out = []
    for encoding in encodings:
        matches = face_recognition.compare_faces(known, encoding, tolerance=tolerance)
        distances = face_recognition.face_distance(known, encoding)
        best = int(np.argmin(distances))
        name = names[best] if matches[best] else None
        out.append({"name": name, "distance": float(distances[best])})
    return out


def classify(
    gallery: dict[str, Any], probes: list[list[float]], tolerance: float
) -> dict[str, Any]:
    import numpy as np

    known = list(np.asarray(gallery["vectors"], dtype=np.float64))
    encodings = list(np.asarray(probes, dtype=np.float64).reshape(-1, 128))
    return {"matches": _name_faces(known, gallery["names"], encodings, tolerance)}


def identify(paths: list[str], gallery: dict[str, Any], tolerance: float) -> dict[str, Any]:
    start = time.perf_counter()
    import face_recognition
    import numpy as np

    imported = time.perf_counter()
    known = list(np.asarray(gallery["vectors"], dtype=np.float64))
    names = gallery["names"]
    images: list[dict[str, Any]] = []
    for path in paths:
        try:
            image = face_recognition.load_image_file(path)
        except (OSError, ValueError) as exc:
            images.append({"path": path, "error": f"{type(exc).__name__}: {exc}"})
            continue
        locations = face_recognition.face_locations(image)
        encodings = face_recognition.face_encodings(image, locations)
        matches = _name_faces(known, names, encodings, tolerance)
        images.append({"path": path, "names": [m["name"] for m in matches], "error": None})
    end = time.perf_counter()
    return {"elapsed_s": end - start, "import_s": imported - start, "images": images}


def versions() -> dict[str, str]:
    import dlib
    import numpy

    return {
        "face_recognition": metadata.version("face_recognition"),
        "face_recognition_models": metadata.version("face_recognition_models"),
        "dlib": str(dlib.__version__),
        "numpy": numpy.__version__,
        "python": sys.version.split()[0],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["embed", "classify", "identify", "versions"])
    parser.add_argument("--input", type=Path, help="JSON: paths, gallery and/or probes")
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--tolerance", type=float, default=TOLERANCE)
    args = parser.parse_args(argv)
    spec: dict[str, Any] = json.loads(args.input.read_text()) if args.input else {}
    if args.mode == "embed":
        result = embed(spec["paths"], args.workers)
    elif args.mode == "classify":
        result = classify(spec["gallery"], spec["probes"], args.tolerance)
    elif args.mode == "identify":
        result = identify(spec["paths"], spec["gallery"], args.tolerance)
    else:
        result = versions()
    tmp = args.output.with_suffix(".tmp")
    tmp.write_text(json.dumps(result))
    tmp.replace(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
