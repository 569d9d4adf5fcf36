"""Pieces shared by the two CLIs: logging set-up, exit codes, progress bars."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_USAGE = 2


def configure_logging(verbose: int, quiet: bool) -> None:
    """Warnings on stderr by default; ``-v`` info, ``-vv`` debug, ``-q`` errors only."""
    level = (
        logging.ERROR if quiet else [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    )
    logging.basicConfig(
        level=level, format="%(name)s: %(levelname)s: %(message)s", stream=sys.stderr
    )
    logging.getLogger("facespeech").setLevel(level)


def progress(items: Iterable[T], *, total: int | None, desc: str, unit: str) -> Iterator[T]:
    """A progress bar on stderr, shown only when stderr is a terminal."""
    from tqdm import tqdm

    yield from tqdm(
        items, total=total, desc=desc, unit=unit, file=sys.stderr, disable=None, leave=False
    )
