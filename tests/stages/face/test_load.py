from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from facespeech.stages.errors import InputError
from facespeech.stages.face import load
from facespeech.stages.face.load import IMAGE_SUFFIXES, ImageLoader
from facespeech.stages.face.types import ImageRef
from PIL import Image

from tests.face_corpus import make_bad_images


def _gradient(width: int = 64, height: int = 48) -> np.ndarray:
    x = np.linspace(0, 255, width, dtype=np.uint8)
    return np.stack([np.tile(x, (height, 1))] * 3, axis=2)


@pytest.mark.parametrize(
    ("mode", "suffix"),
    [
        ("RGB", ".jpg"),
        ("RGB", ".webp"),
        ("RGB", ".avif"),
        ("RGB", ".bmp"),
        ("RGB", ".tiff"),
        ("L", ".png"),
        ("LA", ".png"),
        ("P", ".gif"),
        ("RGBA", ".png"),
        ("CMYK", ".jpg"),
        ("I;16", ".png"),
        ("RGB", ".jp2"),
        ("RGB", ".ppm"),
        ("L", ".pgm"),
        ("RGB", ".tga"),
    ],
)
def test_modes_and_formats_become_rgb8(tmp_path: Path, mode: str, suffix: str) -> None:
    image = Image.fromarray(_gradient())
    if mode == "I;16":
        values = (np.asarray(image.convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
        image = Image.fromarray(values)
    else:
        image = image.convert(mode)
    path = tmp_path / f"img{suffix}"
    image.save(path)
    assert suffix in IMAGE_SUFFIXES  # what a folder walk picks up
    loaded = ImageLoader()(path)
    assert loaded.pixels.dtype == np.uint8
    assert loaded.pixels.shape == (48, 64, 3)
    assert loaded.source == path
    # The gradient survives: dark on the left, bright on the right.
    assert loaded.pixels[:, :8].mean() < 60 < 190 < loaded.pixels[:, -8:].mean()


def test_8bit_values_in_a_16bit_png_keep_their_brightness(tmp_path: Path) -> None:
    # Pillow's convert("I;16") of an 8-bit image writes 0-255 into 16 bits: not a dark photo.
    path = tmp_path / "img.png"
    Image.fromarray(_gradient()).convert("L").convert("I;16").save(path)
    loaded = ImageLoader()(path)
    assert loaded.pixels[:, :8].mean() < 60 < 190 < loaded.pixels[:, -8:].mean()


def test_gif_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (16, 16), colour) for colour in ("red", "blue")]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    pixels = ImageLoader()(path).pixels
    assert pixels[..., 0].mean() > 200 > pixels[..., 2].mean()


def test_exif_orientation_applied(tmp_path: Path) -> None:
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    Image.fromarray(_gradient(64, 48)).save(path, exif=exif)
    assert ImageLoader()(path).pixels.shape == (64, 48, 3)


def test_big_jpeg_decoded_reduced_with_scale(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    Image.fromarray(_gradient(4000, 3000)).save(path)
    loaded = ImageLoader(draft_min_side=1000)(path)
    assert max(loaded.pixels.shape[:2]) >= 1000
    assert loaded.pixels.shape[1] * loaded.scale == pytest.approx(4000)
    assert ImageLoader(draft_min_side=None)(path).pixels.shape == (3000, 4000, 3)


def test_accepts_image_ref_and_string(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    Image.fromarray(_gradient()).save(path)
    assert ImageLoader()(ImageRef(path)).ref == ImageRef(path)
    assert ImageLoader()(str(path)).source == path


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("empty", "empty file"),
        ("truncated", "truncated"),
        ("garbage", "not an image"),
        ("text", "not an image"),
        ("huge", "too large"),
        ("wav", "not an image"),
        ("missing", "no such file"),
    ],
)
def test_bad_files_raise_input_error_naming_the_file(
    tmp_path: Path, faces_data: Path, kind: str, reason: str
) -> None:
    files = make_bad_images(tmp_path, faces_data / "face_recognition_examples" / "obama.jpg")
    with pytest.raises(InputError, match=reason) as caught:
        ImageLoader()(files[kind])
    assert str(caught.value).startswith(str(files[kind]))


def test_a_heic_photo_without_pillow_heif_says_what_it_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(load, "_heif_opener_registered", lambda: False)
    path = tmp_path / "IMG_0001.HEIC"
    path.write_bytes(b"\x00\x00\x00\x18ftypheic" + bytes(64))  # a HEIC header, no picture
    with pytest.raises(InputError, match="needs pillow-heif") as caught:
        ImageLoader()(path)
    assert str(caught.value).startswith(str(path))
    assert load.is_image_path(path)  # folder walks list it, so it gets its error line
    # Any other unreadable file keeps the general reason.
    other = tmp_path / "notes.jpg"
    other.write_bytes(b"not a picture at all")
    with pytest.raises(InputError, match="unrecognised format"):
        ImageLoader()(other)


def test_folder_is_not_an_image(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="folder"):
        ImageLoader()(tmp_path)


def test_max_pixels_guard(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    Image.fromarray(_gradient(100, 100)).save(path)
    with pytest.raises(InputError, match="too large"):
        ImageLoader(max_pixels=5_000)(path)


def test_bad_settings_raise() -> None:
    with pytest.raises(ValueError, match="max_pixels"):
        ImageLoader(max_pixels=0)
