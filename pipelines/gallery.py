"""The face gallery: enrolled faces persisted in SQLite.

One ``Gallery`` owns the connection. Each enroll or remove is one transaction, so a command
killed midway leaves the file exactly as before; WAL mode and a busy timeout let several
enroll commands run at once without losing faces. The file is created with mode 0600:
face embeddings are biometric data.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from facespeech.stages.errors import GalleryError
from facespeech.stages.face.types import Box
from numpy.typing import NDArray

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
FILE_MODE = 0o600
# Concurrent enrolls wait this long for the write lock instead of failing (seconds).
BUSY_TIMEOUT_S = 60.0
SCHEMA = """
CREATE TABLE IF NOT EXISTS faces (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    embedding BLOB NOT NULL,
    dim INTEGER NOT NULL,
    model_id TEXT NOT NULL,
    source TEXT NOT NULL,
    box_top INTEGER NOT NULL,
    box_right INTEGER NOT NULL,
    box_bottom INTEGER NOT NULL,
    box_left INTEGER NOT NULL,
    enrolled_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS faces_name ON faces(name);
"""


@dataclass(frozen=True, slots=True, eq=False)
class EnrolledFace:
    """One face in the gallery. ``embedding`` is ``float32 (dim,)``."""

    name: str
    embedding: NDArray[np.float32]
    model_id: str
    source: Path
    box: Box
    enrolled_at: str = ""  # ISO 8601, UTC; set by the gallery when stored


@dataclass(frozen=True, slots=True)
class PersonSummary:
    name: str
    faces: int
    model_id: str


class Gallery:
    """A SQLite file of enrolled faces. Use as a context manager, or call ``close()``.

    Args:
        path: the database file; its folder is created if missing.
        create: make the file when it does not exist (identify opens with ``create=False``).
    """

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if not self.path.exists():
            if not create:
                raise GalleryError(self.path, "no gallery here; enroll someone first")
            self._create_file()
        try:
            # isolation_level=None: transactions are begun explicitly (BEGIN IMMEDIATE takes
            # the write lock up front, so concurrent enrolls queue instead of deadlocking).
            self._conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise GalleryError(self.path, f"not a facespeech gallery ({exc})") from exc

    def _create_file(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # O_EXCL: two enrolls racing to create the file must not both initialise it.
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE)
            os.close(fd)
        except FileExistsError:
            pass
        except OSError as exc:
            raise GalleryError(self.path, f"cannot create gallery: {exc.strerror}") from exc

    def _migrate(self) -> None:
        (version,) = self._conn.execute("PRAGMA user_version").fetchone()
        if version == SCHEMA_VERSION:
            return
        if version != 0:
            raise GalleryError(
                self.path, f"gallery schema version {version} is not supported ({SCHEMA_VERSION})"
            )
        with self._transaction() as conn:
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Gallery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise GalleryError(self.path, f"gallery is locked: {exc}") from exc
        try:
            yield self._conn
        except BaseException:
            self._conn.rollback()
            raise
        else:
            self._conn.commit()

    def add(self, faces: Iterable[EnrolledFace]) -> int:
        """Store ``faces`` in one transaction (all or nothing); return how many.

        Raises ``GalleryError`` when a face's model differs from the gallery's.
        """
        now = datetime.now(UTC).isoformat(timespec="seconds")
        rows = [
            (
                face.name,
                np.asarray(face.embedding, dtype=np.float32).tobytes(),
                int(face.embedding.shape[0]),
                face.model_id,
                str(face.source),
                *face.box,
                now,
            )
            for face in faces
        ]
        with self._transaction() as conn:
            for model_id in {row[3] for row in rows}:
                self._check_model(conn, model_id)
            conn.executemany(
                "INSERT INTO faces (name, embedding, dim, model_id, source, box_top, box_right,"
                " box_bottom, box_left, enrolled_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        log.info("enrolled %d faces into %s", len(rows), self.path)
        return len(rows)

    def _check_model(self, conn: sqlite3.Connection, model_id: str) -> None:
        other = conn.execute(
            "SELECT model_id FROM faces WHERE model_id != ? LIMIT 1", (model_id,)
        ).fetchone()
        if other is not None:
            raise GalleryError(
                self.path,
                f"gallery holds embeddings of model {other[0]!r}, not {model_id!r}; "
                "use another --gallery or the same embedder",
            )

    def remove(self, name: str) -> int:
        """Delete every face of ``name`` in one transaction; return how many were removed."""
        with self._transaction() as conn:
            cursor = conn.execute("DELETE FROM faces WHERE name = ?", (name,))
        return int(cursor.rowcount)

    def people(self) -> list[PersonSummary]:
        rows = self._conn.execute(
            "SELECT name, COUNT(*), model_id FROM faces GROUP BY name, model_id ORDER BY name"
        ).fetchall()
        return [PersonSummary(name, count, model_id) for name, count, model_id in rows]

    def faces(self) -> list[EnrolledFace]:
        """Every enrolled face; raises ``GalleryError`` on a damaged embedding."""
        try:
            rows = self._conn.execute(
                "SELECT name, embedding, dim, model_id, source, box_top, box_right, box_bottom,"
                " box_left, enrolled_at FROM faces ORDER BY id"
            ).fetchall()
        except sqlite3.DatabaseError as exc:
            raise GalleryError(self.path, f"cannot read gallery: {exc}") from exc
        out = []
        for name, blob, dim, model_id, source, top, right, bottom, left, when in rows:
            vector = np.frombuffer(blob, dtype=np.float32)
            if vector.shape != (dim,):
                raise GalleryError(self.path, f"damaged embedding for {name!r} ({source})")
            out.append(
                EnrolledFace(
                    name, vector.copy(), model_id, Path(source), Box(top, right, bottom, left), when
                )
            )
        return out

    def model_ids(self) -> set[str]:
        return {row[0] for row in self._conn.execute("SELECT DISTINCT model_id FROM faces")}

    def arrays(self, model_id: str) -> tuple[NDArray[np.float32], list[str]]:
        """``float32 (n, dim)`` embeddings and their names, for a classifier's ``fit``.

        Raises ``GalleryError`` when the gallery is empty or holds another model's vectors.
        """
        faces = self.faces()
        if not faces:
            raise GalleryError(self.path, "gallery is empty; enroll someone first")
        others = {face.model_id for face in faces} - {model_id}
        if others:
            raise GalleryError(
                self.path,
                f"gallery holds embeddings of model {sorted(others)[0]!r}, not {model_id!r}",
            )
        return np.stack([face.embedding for face in faces]), [face.name for face in faces]
