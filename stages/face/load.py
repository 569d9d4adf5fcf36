"""Image loading: any common still format -> 8-bit RGB pixels, upright, size-checked."""

from __future__ import annotations

import functools
import logging
import math
import warnings
from pathlib import Path

import numpy as np
from facespeech.stages.errors import InputError
from facespeech.stages.face.types import ImageRef, LoadedImage
from numpy.typing import NDArray
from PIL import Image, ImageOps, UnidentifiedImageError

log = logging.getLogger(__name__)

# HEIC/HEIF, the iPhone camera's default, is read when pillow-heif is installed (`pip install
# 'facespeech[heic]'`): optional, because its wheels are GPL-2 (they bundle the x265 encoder).
# Without it such a photo gets its own error line, so it is listed for folder walks either way.
HEIF_SUFFIXES = frozenset({".heic", ".heif"})
IMAGE_SUFFIXES = (
    frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".jfif"})
    | {".avif"}  # Pillow >= 11.3 reads AVIF itself
    | {".jp2", ".ppm", ".pgm", ".pnm", ".tga"}  # JPEG 2000 (archives, scans), Netpbm, Targa
    | HEIF_SUFFIXES
)
NEEDS_PILLOW_HEIF = (
    "a HEIC/HEIF photo: reading it needs pillow-heif (pip install pillow-heif; its wheels are"
    " GPL-2), or convert it to JPEG first"
)
# Pillow's own decompression-bomb limit (~89 MP) warns first and only raises at twice that;
# we refuse above our own limit before any pixel is decoded.
MAX_PIXELS = 90_000_000
# JPEGs are decoded at 1/2, 1/4 or 1/8 size (DCT scaling, much faster than a full decode and
# resize) as long as the longest side stays at least this long: faces in a photo this big
# are still well over the 80 px the HOG detector needs.
DRAFT_MIN_SIDE = 2000
MAX_16BIT = 65535


class ImageLoader:
    """File -> ``LoadedImage`` (``uint8 (h, w, 3)`` RGB, EXIF orientation applied).

    Reads JPEG, PNG, WebP, AVIF, BMP, TIFF and GIF (first frame), and HEIC/HEIF where
    pillow-heif is installed. Modes L, LA, P, RGBA, CMYK, 16-bit and float become 8-bit RGB
    (alpha dropped).

    Args:
        max_pixels: refuse images with more pixels than this (decompression bombs).
        draft_min_side: decode big JPEGs reduced while the longest side stays at least this
            long (pixels); ``None`` always decodes every pixel.
    """

    def __init__(
        self, *, max_pixels: int = MAX_PIXELS, draft_min_side: int | None = DRAFT_MIN_SIDE
    ) -> None:
        if max_pixels <= 0:
            raise ValueError(f"max_pixels must be positive, got {max_pixels}")
        if draft_min_side is not None and draft_min_side <= 0:
            raise ValueError(f"draft_min_side must be positive or None, got {draft_min_side}")
        self.max_pixels = max_pixels
        self.draft_min_side = draft_min_side

    def __call__(self, item: ImageRef | Path | str | LoadedImage) -> LoadedImage:
        if isinstance(item, LoadedImage):  # already decoded (a video frame)
            return item
        ref = item if isinstance(item, ImageRef) else ImageRef(Path(item))
        path = ref.source
        heif = path.suffix.lower() in HEIF_SUFFIXES
        try:
            if path.is_dir():
                raise InputError(path, "is a folder, not an image")
            if path.stat().st_size == 0:
                raise InputError(path, "empty file")
            if heif:
                _heif_opener_registered()
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(path) as image:
                    width, height = image.size
                    if width * height > self.max_pixels:
                        raise InputError(
                            path,
                            f"image too large: {width}x{height} pixels (limit {self.max_pixels:,})",
                        )
                    scale = self._draft(image)
                    image.seek(0)  # GIF/TIFF: first frame
                    upright = ImageOps.exif_transpose(image)
                    pixels = to_rgb8(upright)
        except InputError:
            raise
        except FileNotFoundError as exc:
            raise InputError(path, "no such file") from exc
        except PermissionError as exc:
            raise InputError(path, "permission denied") from exc
        except UnidentifiedImageError as exc:
            if heif and not _heif_opener_registered():
                raise InputError(path, NEEDS_PILLOW_HEIF) from exc
            raise InputError(path, "not an image file (unrecognised format)") from exc
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise InputError(path, f"image too large: {exc}") from exc
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            # Pillow reports truncated and corrupt data as OSError/SyntaxError/ValueError.
            raise InputError(path, f"corrupt or truncated image: {exc}") from exc
        if pixels.shape[0] == 0 or pixels.shape[1] == 0:
            raise InputError(path, "image has no pixels")
        log.debug("loaded %s: %s, scale %.3g", path, pixels.shape, scale)
        return LoadedImage(ref=ref, pixels=pixels, scale=scale)

    def _draft(self, image: Image.Image) -> float:
        """Ask a JPEG decoder for a reduced size; return original/decoded scale."""
        if self.draft_min_side is None or image.format != "JPEG":
            return 1.0
        width, height = image.size
        longest = max(width, height)
        if longest < 2 * self.draft_min_side:
            return 1.0
        ratio = self.draft_min_side / longest
        image.draft("RGB", (math.ceil(width * ratio), math.ceil(height * ratio)))
        return width / image.size[0]


@functools.cache
def _heif_opener_registered() -> bool:
    """Teach Pillow HEIC/HEIF through pillow-heif, once per process; False without it."""
    try:
        from pillow_heif import register_heif_opener  # type: ignore[import-not-found]
    except ImportError:
        return False
    register_heif_opener()
    return True


def to_rgb8(image: Image.Image) -> NDArray[np.uint8]:
    """Any Pillow image -> ``uint8 (h, w, 3)`` RGB (16-bit and float rescaled, alpha dropped)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = max(float(values.max()), 1.0)
        if image.mode != "F" and top <= MAX_16BIT:
            # 16-bit data keeps its scale (a dark photo stays dark); values that never pass
            # 255 are 8-bit data stored in 16 bits (some converters write them so).
            top = MAX_16BIT if top > 255 else 255
        gray = np.clip(values * (255.0 / top), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))


def is_image_path(path: Path) -> bool:
    """True when ``path`` has a still-image suffix (used to pick files out of folders)."""
    return path.suffix.lower() in IMAGE_SUFFIXES
