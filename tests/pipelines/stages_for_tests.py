"""Tiny picklable stages for runner tests (worker processes import them by module)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from facespeech.stages.errors import InputError


class Square:
    def __call__(self, item: int) -> int:
        if item < 0:
            raise InputError(Path(f"item{item}"), "negative")
        return item * item


class AddPid:
    def __call__(self, item: int) -> tuple[int, int]:
        return item, os.getpid()


class Crashes:
    """Raises a non-library error, like a native library would on odd input."""

    def __call__(self, item: int) -> int:
        if item == 3:
            raise RuntimeError("boom")
        return item


class BatchDouble:
    def __init__(self) -> None:
        self.batch_sizes: list[int] = []

    def __call__(self, item: int) -> int:
        if item == 13:
            raise InputError(Path("thirteen"), "unlucky")
        return 2 * item

    def batch(self, items: Sequence[int]) -> list[int]:
        self.batch_sizes.append(len(items))
        return [self(i) for i in items]


class FakeTorch:
    def __init__(self) -> None:
        self.device = "unset"

    def to(self, device: str) -> None:
        self.device = device

    def __call__(self, item: object) -> object:
        return item
