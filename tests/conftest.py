"""Shared fixtures. Real media comes from ../shared/data beside the checkout; tests that
need it skip, naming the missing path, when it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
SAMPLE_MEDIA = REPO_ROOT / "sample_media"


def shared_path(relative: str) -> Path:
    """A path under ../shared/data; skips the calling test when it is missing."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"shared data not found: {path}")
    return path


@pytest.fixture
def faces_data() -> Path:
    """``../shared/data/faces``."""
    return shared_path("faces")


@pytest.fixture
def speech_data() -> Path:
    """``../shared/data/speech``."""
    return shared_path("speech")


@pytest.fixture
def sample_media() -> Path:
    return SAMPLE_MEDIA


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``@pytest.mark.gpu`` tests skip when CUDA is not available."""
    if not any(item.get_closest_marker("gpu") for item in items):
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA (no GPU here)")
    for item in items:
        if item.get_closest_marker("gpu"):
            item.add_marker(skip)
