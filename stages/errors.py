"""Errors of the library. Each ``str()`` reads ``"<file>: <reason>"`` so a CLI can print it as is.

``InputError`` is a fault of one input item (the batch goes on); ``ModelError`` and
``GalleryError`` are set-up faults (the run stops).
"""

from __future__ import annotations

from pathlib import Path


class PipelineError(Exception):
    """Base class: a fault tied to a file (an input, a model, a gallery)."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(path, reason)
        self.path = Path(path)
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class InputError(PipelineError):
    """One input file cannot be used (corrupt, empty, wrong type, too large...)."""


class ModelError(PipelineError):
    """A model file is missing, unreadable or of the wrong kind."""


class GalleryError(PipelineError):
    """The face gallery cannot be opened, is of another embedding model, or is damaged."""
