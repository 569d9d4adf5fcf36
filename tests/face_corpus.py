"""Generated bad and odd image files, for the loader, runner and CLI tests."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def write_png_claiming_size(path: Path, width: int, height: int) -> None:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb)."""
    Image.new("RGB", (8, 8)).save(path)
    data = bytearray(path.read_bytes())
    # IHDR chunk: length (4) + type (4) at offset 8; width/height follow at offset 16.
    data[16:24] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF
    data[29:33] = struct.pack(">I", crc)
    path.write_bytes(bytes(data))


def make_bad_images(folder: Path, good_jpeg: Path) -> dict[str, Path]:
    """Write one file per kind of bad input; return them by kind."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "empty": folder / "empty.jpg",
        "truncated": folder / "truncated.jpg",
        "garbage": folder / "garbage.png",
        "text": folder / "notes.jpg",
        "huge": folder / "bomb.png",
        "wav": folder / "sound.jpg",
        "missing": folder / "missing.jpg",
    }
    files["empty"].write_bytes(b"")
    raw = good_jpeg.read_bytes()
    files["truncated"].write_bytes(raw[: len(raw) // 3])
    rng = np.random.default_rng(0)
    files["garbage"].write_bytes(b"\x89PNG\r\n\x1a\n" + rng.bytes(2000))
    files["text"].write_text("this is not an image\n")
    write_png_claiming_size(files["huge"], 40_000, 40_000)
    files["wav"].write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(40))
    return files
