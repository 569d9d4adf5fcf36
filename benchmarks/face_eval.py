"""Measurements for benchmarks/face.py: LFW lists, verification and open-set scores, memory.

Pure functions over embeddings (no model runs here), so the numbers can be recomputed from
the cached embeddings; and a sampler of the summed RSS of a process tree (/proc, Linux).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

EMBEDDING_DIM = 128
FOLDS = 10
# Open-set protocol: images 0001-0003 of each lfw_people person are enrolled, 0004-0008 probe.
ENROLL_IMAGES = (1, 2, 3)
PROBE_IMAGES = (4, 5, 6, 7, 8)
# KnnIdentifier's defaults were chosen on people whose names start with A-K.
TUNING_LAST_LETTER = "K"
MEMORY_SAMPLE_S = 0.05


# --- LFW file lists -----------------------------------------------------------------------


def lfw_image(root: Path, name: str, number: int) -> Path:
    return root / "lfw-deepfunneled" / name / f"{name}_{number:04d}.jpg"


@dataclass(frozen=True, slots=True)
class Pair:
    first: Path
    second: Path
    same: bool
    fold: int


def read_pairs(view1: Path) -> list[Pair]:
    """pairsDevTest.txt -> pairs; fold k holds the k-th tenth of the matched and of the
    mismatched pairs (View 1 defines no folds; this mirrors View 2's layout)."""
    lines = (view1 / "pairsDevTest.txt").read_text().split("\n")
    count = int(lines[0].split()[0])
    rows = [line.split("\t") for line in lines[1:] if line.strip()]
    pairs = []
    for index, row in enumerate(rows):
        same = len(row) == 3
        if same:
            first, second = (
                lfw_image(view1, row[0], int(row[1])),
                lfw_image(view1, row[0], int(row[2])),
            )
        else:
            first, second = (
                lfw_image(view1, row[0], int(row[1])),
                lfw_image(view1, row[2], int(row[3])),
            )
        position = index if same else index - count
        pairs.append(Pair(first, second, same, position * FOLDS // count))
    return pairs


def read_people(people_dir: Path) -> list[str]:
    text = (people_dir / "people.txt").read_text()
    return [line.split("\t")[0] for line in text.splitlines() if line.strip()]


def read_strangers(people_dir: Path) -> list[str]:
    return [
        line.strip()
        for line in (people_dir / "strangers.txt").read_text().splitlines()
        if line.strip()
    ]


def half_of(name: str) -> str:
    """ "A-K" (where the classifier's defaults were tuned) or "L-Z" (held out)."""
    return "A-K" if name[0].upper() <= TUNING_LAST_LETTER else "L-Z"


# --- Faces found in one image --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImageFaces:
    """What one implementation found in one image: boxes ``(top, right, bottom, left)`` and
    ``float32 (n_faces, 128)`` embeddings, or the error."""

    path: str
    height: int
    width: int
    boxes: tuple[tuple[int, int, int, int], ...]
    vectors: NDArray[np.float32]
    error: str | None = None

    def central(self) -> NDArray[np.float32] | None:
        """The embedding of the face nearest the image centre (LFW centres its subject)."""
        if not self.boxes:
            return None
        cy, cx = self.height / 2, self.width / 2
        offsets = [
            ((top + bottom) / 2 - cy) ** 2 + ((left + right) / 2 - cx) ** 2
            for top, right, bottom, left in self.boxes
        ]
        return np.asarray(self.vectors[int(np.argmin(offsets))], dtype=np.float32)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "height": self.height,
            "width": self.width,
            "boxes": [list(box) for box in self.boxes],
            "vectors": self.vectors.tolist(),
            "error": self.error,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImageFaces:
        vectors = np.asarray(data.get("vectors") or [], dtype=np.float32).reshape(-1, EMBEDDING_DIM)
        return cls(
            path=data["path"],
            height=int(data.get("height") or 0),
            width=int(data.get("width") or 0),
            boxes=tuple(tuple(box) for box in data.get("boxes") or []),
            vectors=vectors,
            error=data.get("error"),
        )


class EmbeddingCache:
    """Faces per image path, kept in one JSON file outside the repo between runs.

    An entry is reused only while the image's size and mtime are unchanged; the file name
    carries the implementation, its settings and versions, so a change starts afresh.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._entries: dict[str, dict[str, Any]] = {}
        if path is not None and path.is_file():
            self._entries = json.loads(path.read_text())

    @staticmethod
    def _stamp(path: str) -> list[int]:
        stat = os.stat(path)
        return [stat.st_size, stat.st_mtime_ns]

    def get(self, path: str) -> ImageFaces | None:
        entry = self._entries.get(path)
        if entry is None or entry["stamp"] != self._stamp(path):
            return None
        return ImageFaces.from_json(entry["faces"])

    def put(self, faces: ImageFaces) -> None:
        self._entries[faces.path] = {"stamp": self._stamp(faces.path), "faces": faces.to_json()}

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._entries))
        tmp.replace(self.path)


def embed_cached(
    paths: Sequence[str],
    cache: EmbeddingCache,
    compute: Callable[[list[str]], list[ImageFaces]],
) -> dict[str, ImageFaces]:
    """Faces for every path: from the cache, the rest computed in one call and cached."""
    found = {path: faces for path in paths if (faces := cache.get(path)) is not None}
    missing = [path for path in paths if path not in found]
    if missing:
        for faces in compute(missing):
            cache.put(faces)
            found[faces.path] = faces
        cache.save()
    return found


# --- Verification: 10-fold cross-validated threshold --------------------------------------


def best_threshold(distances: NDArray[np.float64], same: NDArray[np.bool_]) -> float:
    """The L2 threshold (same person if ``distance <= threshold``) most accurate on these
    pairs: the midpoint of the first best gap between sorted distances."""
    order = np.argsort(distances)
    d, s = distances[order], same[order]
    # accepting the first k pairs: right = same among them + different among the rest
    right = np.concatenate([[0], np.cumsum(s)]) + np.concatenate(
        [[(~s).sum()], (~s).sum() - np.cumsum(~s)]
    )
    k = int(np.argmax(right))
    if k == 0:
        return float(d[0]) - 1e-6
    if k == len(d):
        return float(d[-1]) + 1e-6
    return float((d[k - 1] + d[k]) / 2)


@dataclass(slots=True)
class Verification:
    folds: list[float] = field(default_factory=list)  # test accuracy per fold, missing = wrong
    thresholds: list[float] = field(default_factory=list)
    pairs: int = 0
    pairs_lost: int = 0  # a face was not found in one of the two images
    accuracy_at_06: float = 0.0  # fixed tolerance 0.6 (face_recognition's), all pairs

    @property
    def mean(self) -> float:
        return float(np.mean(self.folds)) if self.folds else float("nan")

    @property
    def std(self) -> float:
        return float(np.std(self.folds)) if self.folds else float("nan")

    def to_json(self) -> dict[str, Any]:
        return {
            "accuracy_mean": self.mean,
            "accuracy_std": self.std,
            "fold_accuracy": self.folds,
            "fold_threshold": self.thresholds,
            "pairs": self.pairs,
            "pairs_lost_no_face": self.pairs_lost,
            "accuracy_at_tolerance_0.6": self.accuracy_at_06,
        }


def verify(pairs: Sequence[Pair], faces: dict[str, ImageFaces]) -> Verification:
    """Threshold chosen on 9 folds, accuracy measured on the 10th; a pair whose face is
    missing in either image is counted wrong whatever the threshold."""
    distances = np.full(len(pairs), np.nan)
    for i, pair in enumerate(pairs):
        a, b = faces[str(pair.first)].central(), faces[str(pair.second)].central()
        if a is not None and b is not None:
            distances[i] = float(np.linalg.norm(a.astype(np.float64) - b.astype(np.float64)))
    same = np.array([pair.same for pair in pairs])
    fold = np.array([pair.fold for pair in pairs])
    found = ~np.isnan(distances)
    result = Verification(pairs=len(pairs), pairs_lost=int((~found).sum()))
    for k in sorted(set(fold.tolist())):
        train = (fold != k) & found
        test = fold == k
        threshold = best_threshold(distances[train], same[train])
        right = found[test] & ((distances[test] <= threshold) == same[test])
        result.folds.append(float(right.mean()))
        result.thresholds.append(threshold)
    result.accuracy_at_06 = float((found & ((distances <= 0.6) == same)).mean())
    return result


# --- Open-set identification --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Probe:
    path: str
    truth: str | None  # None for a stranger
    half: str


@dataclass(slots=True)
class OpenSetScore:
    known: int = 0
    named_right: int = 0
    named_wrong: int = 0
    known_no_face: int = 0
    strangers: int = 0
    strangers_accepted: int = 0
    strangers_no_face: int = 0

    def add(self, probe: Probe, answer: str | None, face_found: bool) -> None:
        if probe.truth is None:
            self.strangers += 1
            self.strangers_accepted += answer is not None
            self.strangers_no_face += not face_found
        else:
            self.known += 1
            self.named_right += answer == probe.truth
            self.named_wrong += answer is not None and answer != probe.truth
            self.known_no_face += not face_found

    @property
    def named_pct(self) -> float:
        return 100.0 * self.named_right / self.known if self.known else float("nan")

    @property
    def accepted_pct(self) -> float:
        return 100.0 * self.strangers_accepted / self.strangers if self.strangers else float("nan")

    def to_json(self) -> dict[str, Any]:
        return {
            "known_probes": self.known,
            "named_right": self.named_right,
            "named_wrong": self.named_wrong,
            "known_no_face": self.known_no_face,
            "named_right_pct": self.named_pct,
            "strangers": self.strangers,
            "strangers_accepted": self.strangers_accepted,
            "strangers_no_face": self.strangers_no_face,
            "strangers_accepted_pct": self.accepted_pct,
        }


def score_open_set(
    probes: Sequence[Probe], answers: Sequence[str | None], found: Sequence[bool]
) -> dict[str, OpenSetScore]:
    """Scores for "A-K", "L-Z" and "all"; a probe with no face found counts as unknown."""
    scores = {"A-K": OpenSetScore(), "L-Z": OpenSetScore(), "all": OpenSetScore()}
    for probe, answer, face_found in zip(probes, answers, found, strict=True):
        scores[probe.half].add(probe, answer, face_found)
        scores["all"].add(probe, answer, face_found)
    return scores


def gallery_of(
    people: Iterable[str], root: Path, faces: dict[str, ImageFaces]
) -> tuple[NDArray[np.float32], list[str], int]:
    """Enrolled vectors ``(n, 128)``, their names, and how many enroll photos had no face."""
    vectors, names, missed = [], [], 0
    for name in people:
        for number in ENROLL_IMAGES:
            vector = faces[str(lfw_image(root, name, number))].central()
            if vector is None:
                missed += 1
                continue
            vectors.append(vector)
            names.append(name)
    return np.asarray(vectors, dtype=np.float32).reshape(-1, EMBEDDING_DIM), names, missed


# --- Memory: summed RSS of a process and its descendants ----------------------------------


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat:
                # the command name may hold spaces; fields after its closing ")" are fixed
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_rss_bytes(root: int) -> tuple[int, int]:
    """Summed RSS (bytes) of ``root`` and all its descendants, and how many processes."""
    children = _children_map()
    todo, total, count = [root], 0, 0
    while todo:
        pid = todo.pop()
        total += _rss_bytes(pid)
        count += 1
        todo.extend(children.get(pid, []))
    return total, count


class PeakMemory:
    """Samples the summed RSS of a process tree every ``interval_s`` in a thread."""

    def __init__(self, pid: int, interval_s: float = MEMORY_SAMPLE_S) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self.peak_bytes = 0
        self.peak_processes = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            total, count = tree_rss_bytes(self.pid)
            self.samples += 1
            if total > self.peak_bytes:
                self.peak_bytes = total
            self.peak_processes = max(self.peak_processes, count)
            time.sleep(self.interval_s)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
