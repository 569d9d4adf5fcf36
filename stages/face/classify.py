"""Classification: name each embedded face from the enrolled gallery, or say "unknown".

A distance-weighted KNN vote (scikit-learn) over the enrolled faces picks the candidate
identity; only neighbours within ``tolerance`` vote, so a person enrolled from one photo is not
outvoted by far-away people enrolled from many.

Whether to accept it is an open-set decision, and face_recognition's rule (nearest face
within 0.6) accepts most strangers once ~150 people are enrolled: with that many identities,
some enrolled face is close to anyone by chance. Two changes fix it, both measured
on LFW (benchmarks/face.py; chosen on people A-K, reported on L-Z):

- the distance is to the identity's *centroid* (mean of its enrolled embeddings), which
  averages out pose and lighting of single photos, instead of to its nearest photo;
- the face must be clearly nearer that identity than the next one (``margin``), so a
  stranger who sits between several enrolled people is rejected.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from facespeech.stages.face.types import EmbeddedFaces, IdentifiedFaces, Match
from numpy.typing import NDArray

# Chosen on LFW people A-K (3 photos each enrolled, 158-person gallery, single-photo LFW
# strangers): 95.8 % of enrolled people named, 2.0 % of strangers accepted; held-out L-Z:
# 96.5 % and 3.6 % (benchmarks/RESULTS.md). dlib's own rule of thumb, 0.6 to the nearest
# photo, accepts 67 % of strangers in that gallery.
TOLERANCE = 0.50
MARGIN = 0.04
N_NEIGHBORS = 5
# For 1:1 verification (two photos, no gallery) dlib's own threshold: 0.6 (99.38 % on LFW).
VERIFY_TOLERANCE = 0.6


class KnnIdentifier:
    """``EmbeddedFaces -> IdentifiedFaces``: one ``Match`` (name or unknown) per face.

    Args:
        tolerance: largest L2 distance from a face to an identity's centroid to name it.
        margin: how much nearer (L2) the best identity's centroid must be than the next.
        n_neighbors: enrolled faces that vote (weighted by 1/distance) for the candidate.
    """

    def __init__(
        self,
        *,
        tolerance: float = TOLERANCE,
        margin: float = MARGIN,
        n_neighbors: int = N_NEIGHBORS,
    ) -> None:
        if tolerance <= 0:
            raise ValueError(f"tolerance must be positive, got {tolerance}")
        if margin < 0:
            raise ValueError(f"margin must be >= 0, got {margin}")
        if n_neighbors < 1:
            raise ValueError(f"n_neighbors must be >= 1, got {n_neighbors}")
        self.tolerance = tolerance
        self.margin = margin
        self.n_neighbors = n_neighbors
        self._vote: Any = None  # sklearn NearestNeighbors, fitted
        self._names: list[str] = []
        self._labels: NDArray[np.intp] = np.zeros(0, dtype=np.intp)
        self._centroids: NDArray[np.float32] = np.zeros((0, 0), dtype=np.float32)

    def fit(self, vectors: NDArray[np.float32], names: Sequence[str]) -> KnnIdentifier:
        """Learn from enrolled embeddings ``float32 (n, dim)`` and their names."""
        from sklearn.neighbors import NearestNeighbors

        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) != len(names) or len(names) == 0:
            raise ValueError(
                f"need (n, dim) vectors and n names, got {vectors.shape}, {len(names)}"
            )
        self._names = sorted(set(names))
        labels = np.searchsorted(self._names, np.asarray(names))
        self._labels = labels
        self._centroids = np.stack(
            [vectors[labels == i].mean(axis=0) for i in range(len(self._names))]
        )
        neighbours = NearestNeighbors(
            n_neighbors=min(self.n_neighbors, len(vectors)), algorithm="brute"
        )
        self._vote = neighbours.fit(vectors)
        return self

    def identify(self, vectors: NDArray[np.float32]) -> list[Match]:
        """``float32 (n, dim)`` embeddings -> one ``Match`` each."""
        if self._vote is None:
            raise RuntimeError("KnnIdentifier.fit must be called before use")
        if len(vectors) == 0:
            return []
        vectors = np.asarray(vectors, dtype=np.float32)
        candidates = self._candidates(vectors)
        # (n_faces, n_identities): L2 distance from each face to each centroid
        to_centroids = np.linalg.norm(vectors[:, None, :] - self._centroids[None, :, :], axis=2)
        matches = []
        for row, candidate in zip(to_centroids, candidates, strict=True):
            distance = float(row[candidate])
            others = np.delete(row, candidate)
            margin = float(others.min() - distance) if len(others) else float("inf")
            accepted = distance <= self.tolerance and margin >= self.margin
            name = self._names[candidate] if accepted else None
            matches.append(Match(name=name, distance=distance, margin=margin))
        return matches

    def _candidates(self, vectors: NDArray[np.float32]) -> list[int]:
        """Identity index per face: the 1/distance-weighted vote of the nearest enrolled
        faces within ``tolerance``, or the nearest face's identity when none is that close."""
        distances, indices = self._vote.kneighbors(vectors)
        candidates = []
        for row_distances, row_indices in zip(distances, indices, strict=True):
            labels = self._labels[row_indices]
            close = row_distances <= self.tolerance
            if not close.any():
                candidates.append(int(labels[0]))
                continue
            weights = 1.0 / np.maximum(row_distances[close], 1e-6)
            votes = np.bincount(labels[close], weights=weights, minlength=len(self._names))
            candidates.append(int(np.argmax(votes)))
        return candidates

    def __call__(self, faces: EmbeddedFaces) -> IdentifiedFaces:
        return IdentifiedFaces(faces=faces, matches=tuple(self.identify(faces.vectors)))
