"""The PyTorch port of dlib's face ResNet: the .dat reader, parity with dlib, the stage."""

from __future__ import annotations

import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from facespeech.pipelines.face import FaceSettings, face_stages
from facespeech.pipelines.runner import Runner
from facespeech.stages.errors import InputError, ModelError
from facespeech.stages.face import models
from facespeech.stages.face.dlib_weights import read_dlib_net
from facespeech.stages.face.embed import DLIB_MODEL_ID, DlibEmbedder
from facespeech.stages.face.torch_embed import (
    DlibResNet,
    TorchEmbedder,
    _exact_fp32,
    dlib_spec,
    jitter_chips,
)
from facespeech.stages.face.types import AlignedFaces, Box, ImageRef
from numpy.typing import NDArray

from tests.conftest import shared_path

PARITY_FACES = 20
# The bar: torch and dlib agree per component to this (float32 both).
PARITY_ATOL = 1e-4
# dlib's "same person" threshold (L2), as face_recognition's default tolerance.
SAME_PERSON = 0.6
LFW = "faces/lfw_view1"


def _face_chip(stages: dict[str, object], path: Path) -> NDArray[np.uint8] | None:
    """The chip of the face nearest the picture's centre (LFW centres its subject)."""
    item: object = path
    for name in ("load", "detect", "landmarks", "align"):
        item = stages[name](item)  # type: ignore[operator]
    assert isinstance(item, AlignedFaces)
    if not item.boxes:
        return None
    centre = np.array([125.0, 125.0])  # LFW pictures are 250x250
    mids = [np.array([(b.left + b.right) / 2, (b.top + b.bottom) / 2]) for b in item.boxes]
    return item.chips[int(np.argmin([np.linalg.norm(m - centre) for m in mids]))]


def _pairs(lfw: Path) -> list[tuple[Path, Path, bool]]:
    def image(name: str, number: str) -> Path:
        return lfw / "lfw-deepfunneled" / name / f"{name}_{int(number):04d}.jpg"

    pairs = []
    for line in (lfw / "pairsDevTest.txt").read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) == 3:
            pairs.append((image(fields[0], fields[1]), image(fields[0], fields[2]), True))
        elif len(fields) == 4:
            pairs.append((image(fields[0], fields[1]), image(fields[2], fields[3]), False))
    return pairs


@pytest.fixture(scope="module")
def lfw_chips() -> NDArray[np.uint8]:
    """``uint8 (20, 150, 150, 3)``: aligned chips of the first LFW pairsDevTest pictures."""
    lfw = shared_path(LFW)
    stages = dict(face_stages(FaceSettings(), until="align"))
    paths = sorted({p for a, b, _ in _pairs(lfw) for p in (a, b)})
    chips = []
    for path in paths:
        chip = _face_chip(stages, path)
        if chip is not None:
            chips.append(chip)
        if len(chips) == PARITY_FACES:
            break
    return np.stack(chips)


@pytest.fixture(scope="module")
def dlib_vectors(lfw_chips: NDArray[np.uint8]) -> NDArray[np.float32]:
    return DlibEmbedder().embed_chips(list(lfw_chips))


def _aligned(name: str, chips: NDArray[np.uint8]) -> AlignedFaces:
    n = len(chips)
    return AlignedFaces(
        ref=ImageRef(Path(name)),
        boxes=tuple(Box(0, 10, 10, 0) for _ in range(n)),
        points=tuple(np.zeros((5, 2), np.float32) for _ in range(n)),
        chips=chips,
    )


# --- the .dat reader --------------------------------------------------------------------


def test_reader_extracts_every_layer() -> None:
    net = read_dlib_net(models.model_path(models.RESNET), dlib_spec())
    kinds = [layer.kind for layer in net.layers]
    assert kinds.count("con") == kinds.count("affine") == 29
    assert kinds.count("fc") == 1
    assert net.layers[-1].arrays["weight"].shape == (256, 128)
    assert "bias" not in net.layers[-1].arrays  # fc_no_bias
    stem = net.layers[0]
    assert stem.arrays["weight"].shape == (32, 3, 7, 7)
    assert stem.sizes["stride"] == (2, 2)
    assert stem.sizes["padding"] == (0, 0)
    assert net.input_size == (150, 150)
    # dlib's input_rgb_image defaults, stored in the file.
    np.testing.assert_allclose(net.input_mean_rgb, [122.782, 117.001, 104.298], atol=1e-3)
    np.testing.assert_allclose(net.loss_params, [0.04, 0.6], atol=1e-6)
    weights = sum(a.size for layer in net.layers for a in layer.arrays.values())
    assert weights > 5_000_000
    assert all(np.isfinite(a).all() for layer in net.layers for a in layer.arrays.values())


@pytest.mark.parametrize("keep", [0, 1, 40, 300, 5_000_000, -1])
def test_truncated_file_raises_model_error_naming_it(tmp_path: Path, keep: int) -> None:
    data = models.model_path(models.RESNET).read_bytes()
    bad = tmp_path / "cut.dat"
    bad.write_bytes(data[:keep])
    with pytest.raises(ModelError) as info:
        read_dlib_net(bad, dlib_spec())
    assert str(bad) in str(info.value)


def test_garbage_and_trailing_bytes_raise_model_error(tmp_path: Path) -> None:
    garbage = tmp_path / "noise.dat"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, np.uint8).tobytes())
    with pytest.raises(ModelError, match=re.escape("noise.dat")):
        read_dlib_net(garbage, dlib_spec())
    longer = tmp_path / "longer.dat"
    longer.write_bytes(models.model_path(models.RESNET).read_bytes() + b"\x00")
    with pytest.raises(ModelError, match="bytes left"):
        read_dlib_net(longer, dlib_spec())


def test_another_dlib_network_is_rejected() -> None:
    """The MMOD detector is a valid dlib net of another shape: refused, naming the file."""
    path = models.model_path(models.MMOD)
    with pytest.raises(ModelError, match=re.escape(models.MMOD)):
        read_dlib_net(path, dlib_spec())


def test_missing_file_raises_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=re.escape("absent.dat")):
        read_dlib_net(tmp_path / "absent.dat", dlib_spec())


def test_import_loads_no_weights() -> None:
    code = (
        "import facespeech.stages.face.torch_embed as t;print(t._cpu_model.cache_info().currsize)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"


# --- parity with dlib -------------------------------------------------------------------


def test_cpu_parity_with_dlib(
    lfw_chips: NDArray[np.uint8], dlib_vectors: NDArray[np.float32]
) -> None:
    vectors = TorchEmbedder().embed_chips(lfw_chips)
    assert vectors.dtype == np.float32
    assert vectors.shape == (PARITY_FACES, 128)
    assert np.abs(vectors - dlib_vectors).max() < PARITY_ATOL


@pytest.mark.parametrize(("batch_size", "channels_last"), [(7, True), (64, False)])
def test_batching_and_layout_do_not_change_vectors(
    lfw_chips: NDArray[np.uint8],
    dlib_vectors: NDArray[np.float32],
    batch_size: int,
    channels_last: bool,
) -> None:
    embedder = TorchEmbedder(batch_size=batch_size, channels_last=channels_last)
    vectors = embedder.embed_chips(list(lfw_chips))
    assert np.abs(vectors - dlib_vectors).max() < PARITY_ATOL


def test_module_takes_pixels_and_keeps_dlib_scale(lfw_chips: NDArray[np.uint8]) -> None:
    net = read_dlib_net(models.model_path(models.RESNET), dlib_spec())
    model = DlibResNet.from_dlib(net)
    pixels = torch.from_numpy(lfw_chips[:2]).permute(0, 3, 1, 2)
    with torch.inference_mode():
        out = model(pixels)
    assert out.shape == (2, 128)
    # dlib does not L2-normalise its descriptors; neither does the port.
    norms = out.norm(dim=1)
    assert not torch.allclose(norms, torch.ones_like(norms), atol=1e-3)


def test_float32_parity_switches_tf32_off_and_back() -> None:
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = True
    try:
        with _exact_fp32(True):
            assert not torch.backends.cudnn.allow_tf32
            assert not torch.backends.cuda.matmul.allow_tf32
        assert torch.backends.cudnn.allow_tf32
        assert torch.backends.cuda.matmul.allow_tf32
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


@pytest.mark.gpu
def test_cuda_parity_with_dlib(
    lfw_chips: NDArray[np.uint8], dlib_vectors: NDArray[np.float32]
) -> None:
    fp32 = TorchEmbedder(device="cuda").embed_chips(lfw_chips)
    assert np.abs(fp32 - dlib_vectors).max() < PARITY_ATOL
    half = TorchEmbedder(device="cuda", half=True).embed_chips(lfw_chips)
    # float16 is not dlib's arithmetic; it must still place every face where dlib does.
    assert np.linalg.norm(half - dlib_vectors, axis=1).max() < 0.05 * SAME_PERSON


def test_cpu_half_precision_keeps_faces_in_place(
    lfw_chips: NDArray[np.uint8], dlib_vectors: NDArray[np.float32]
) -> None:
    """bfloat16 on CPU is not dlib's arithmetic, but moves no face by much (L2)."""
    half = TorchEmbedder(half=True).embed_chips(lfw_chips[:4])
    assert half.dtype == np.float32
    assert np.linalg.norm(half - dlib_vectors[:4], axis=1).max() < 0.1 * SAME_PERSON


# --- the stage --------------------------------------------------------------------------


def test_stage_call_and_batch(lfw_chips: NDArray[np.uint8]) -> None:
    embedder = TorchEmbedder()
    two, none = _aligned("two.jpg", lfw_chips[:2]), _aligned("none.jpg", lfw_chips[:0])
    single = embedder(two)
    assert single.model_id == DLIB_MODEL_ID == DlibEmbedder.model_id
    assert single.vectors.shape == (2, 128)
    assert single.boxes == two.boxes
    assert single.source == Path("two.jpg")
    both = embedder.batch([two, none])
    assert [r.vectors.shape for r in both] == [(2, 128), (0, 128)]
    np.testing.assert_allclose(both[0].vectors, single.vectors, atol=1e-6)


def test_runner_batch_with_one_bad_item_returns_the_rest(lfw_chips: NDArray[np.uint8]) -> None:
    good = [_aligned(f"good{i}.jpg", lfw_chips[i : i + 1]) for i in range(3)]
    bad = _aligned("bad.jpg", np.zeros((1, 64, 64, 3), np.uint8))
    runner = Runner([("embed", TorchEmbedder())], batch_size=4)
    results = list(runner.run([good[0], bad, good[1], good[2]]))
    assert [r.ok for r in results] == [True, False, True, True]
    assert isinstance(results[1].error, InputError)
    assert "bad.jpg" in str(results[1].error)


def test_jitter_follows_dlib(lfw_chips: NDArray[np.uint8]) -> None:
    plain = TorchEmbedder().embed_chips(lfw_chips[:3])
    # dlib's num_jitters: 1 means no jitter, like 0.
    np.testing.assert_allclose(TorchEmbedder(jitters=1).embed_chips(lfw_chips[:3]), plain)
    first = TorchEmbedder(jitters=4, rng=np.random.default_rng(7)).embed_chips(lfw_chips[:3])
    again = TorchEmbedder(jitters=4, rng=np.random.default_rng(7)).embed_chips(lfw_chips[:3])
    np.testing.assert_array_equal(first, again)
    distances = np.linalg.norm(first - plain, axis=1)
    assert (distances > 0).all()
    assert (distances < SAME_PERSON / 2).all()  # still clearly the same face


def test_jitter_chips_shape_and_range(lfw_chips: NDArray[np.uint8]) -> None:
    pixels = torch.from_numpy(lfw_chips[:2]).permute(0, 3, 1, 2)
    copies = jitter_chips(pixels, 3, np.random.default_rng(0))
    assert copies.shape == (6, 3, 150, 150)
    assert copies.min() >= 0
    assert copies.max() <= 255
    assert torch.equal(copies, copies.round())
    # Small moves: each copy stays closer to its own chip than to the other face's.
    own = (copies[:3] - pixels[0].float()).abs().mean()
    other = (copies[:3] - pixels[1].float()).abs().mean()
    assert own < other


@pytest.mark.parametrize(
    "settings",
    [{"jitters": -1}, {"batch_size": 0}, {"device": "tpu"}],
)
def test_bad_settings_raise_value_error(settings: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=next(iter(settings))):
        TorchEmbedder(**settings)  # type: ignore[arg-type]


def test_stage_pickles_and_moves(lfw_chips: NDArray[np.uint8]) -> None:
    embedder = TorchEmbedder(jitters=2, rng=np.random.default_rng(1))
    copy = pickle.loads(pickle.dumps(embedder))
    assert (copy.jitters, copy.batch_size, copy.device) == (2, 64, "cpu")
    copy.to("cpu")
    with pytest.raises(ValueError, match="device"):
        copy.to("gpu")
    with pytest.raises(ValueError, match="uint8"):
        copy.embed_chips(lfw_chips[:1].astype(np.float32))  # type: ignore[arg-type]


# --- verification accuracy ----------------------------------------------------------------


@pytest.mark.slow
def test_pairs_dev_test_accuracy_identical() -> None:
    """LFW View 1 pairsDevTest: same decisions (L2 < 0.6) from both embedders."""
    lfw = shared_path(LFW)
    stages = dict(face_stages(FaceSettings(), until="align"))
    pairs = _pairs(lfw)
    paths = sorted({p for a, b, _ in pairs for p in (a, b)})
    found = {p: _face_chip(stages, p) for p in paths}
    have = [p for p in paths if found[p] is not None]
    chips = np.stack([found[p] for p in have])
    row = {p: i for i, p in enumerate(have)}
    accuracy = {}
    for name, vectors in (
        ("dlib", DlibEmbedder().embed_chips(list(chips))),
        ("torch", TorchEmbedder().embed_chips(chips)),
    ):
        same = [
            a in row
            and b in row
            and np.linalg.norm(vectors[row[a]] - vectors[row[b]]) < SAME_PERSON
            for a, b, _ in pairs
        ]
        accuracy[name] = np.mean([s == truth for s, (_, _, truth) in zip(same, pairs, strict=True)])
    assert accuracy["torch"] == accuracy["dlib"]
    assert accuracy["dlib"] > 0.9
