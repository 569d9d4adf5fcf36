"""Command-line paths -> input files: folders walked, files named explicitly kept as given."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from facespeech.stages.errors import InputError


def walk_files(paths: Iterable[Path], keep: Callable[[Path], bool]) -> Iterator[Path | InputError]:
    """Each path as given, or, for a folder, its files that ``keep`` accepts (recursive, sorted).

    A file named explicitly is kept whatever its suffix, so a wrong-type file gets an error line
    instead of being silently ignored; a folder with nothing to keep yields an ``InputError``
    for the same reason.
    """
    for path in paths:
        if not path.is_dir():
            yield path
            continue
        found = False
        for child in sorted(path.rglob("*")):
            if child.is_file() and keep(child):
                found = True
                yield child
        if not found:
            yield InputError(path, "folder holds no file of a kind this command reads")
