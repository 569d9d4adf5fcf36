"""File kinds shared by the face and speech stages: which suffixes name videos.

A video is frames to the face stages and a sound track to the speech stages; both walk folders
for them, so the list lives here once.
"""

from __future__ import annotations

from pathlib import Path

VIDEO_SUFFIXES = frozenset(
    {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv"}
    | {".3gp", ".3g2", ".mts", ".m2ts"}  # older phones, camcorders (not ".ts": TypeScript too)
)


def is_video_path(path: Path) -> bool:
    """True when ``path`` has a video container's suffix."""
    return path.suffix.lower() in VIDEO_SUFFIXES
