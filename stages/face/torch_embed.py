"""Embedding in PyTorch: dlib's face-recognition ResNet, batched, on CPU or CUDA.

``DlibResNet`` is ``dlib_face_recognition_resnet_model_v1`` (dlib/examples/
dnn_face_recognition_ex.cpp) rebuilt as an ``nn.Module``; its weights are read from the same
``.dat`` file that face_recognition_models ships (``dlib_weights.read_dlib_net``), once per
process. ``TorchEmbedder`` is the stage: it gives the same 128-d vectors as ``DlibEmbedder``
(parity tests: max abs difference < 1e-4 per component), so both share one ``model_id``.
"""

from __future__ import annotations

import contextlib
import copy
import functools
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from facespeech.stages.errors import InputError, ModelError
from facespeech.stages.face import models
from facespeech.stages.face.align import CHIP_SIZE
from facespeech.stages.face.dlib_weights import DlibLayer, DlibNet, read_dlib_net
from facespeech.stages.face.embed import DLIB_MODEL_ID, EMBEDDING_DIM
from facespeech.stages.face.types import AlignedFaces, EmbeddedFaces
from numpy.typing import NDArray
from torch import Tensor, nn

# dlib's input_rgb_image_sized divides (pixel - channel mean) by this (dlib/dnn/input.h).
INPUT_SCALE = 256.0
STEM_CHANNELS = 32
# (channels, residual blocks, first block halves the size), input side first: dlib's
# alevel4 .. alevel0.
LEVELS = ((32, 3, False), (64, 4, True), (128, 3, True), (256, 3, True), (256, 1, True))
# dlib's jitter_image (dlib/image_transforms/interpolation.h): shrink the chip by 3 px a side,
# move it up to 2 % of its size, zoom out by 1/U(0.97, 0.99999), rotate by up to 3 degrees,
# mirror half the time.
JITTER_BORDER = 3
JITTER_TRANSLATE = 0.02
JITTER_SCALE = (0.97, 0.99999)
JITTER_DEGREES = 3.0


def dlib_spec() -> tuple[str, ...]:
    """The network's layers as dlib prints them, output first (for ``read_dlib_net``)."""
    tokens = ["input_rgb_image_sized", "con", "affine", "relu", "max_pool"]
    block = ["tag1", "con", "affine", "relu", "con", "affine"]
    for _, count, downsample in LEVELS:
        for i in range(count):
            if downsample and i == 0:  # dlib's residual_down: add_prev2<avg_pool<skip1<tag2<
                tokens += [*block, "tag2", "skip1", "avg_pool", "add_prev2", "relu"]
            else:
                tokens += [*block, "add_prev1", "relu"]
    tokens += ["avg_pool", "fc", "loss_metric"]
    return tuple(reversed(tokens))


def _add_zero_padded(a: Tensor, b: Tensor) -> Tensor:
    """dlib's ``add_prev``: the sum over the larger of each dimension, the smaller tensor
    zero-padded at the end (more channels, and 3x3 + 4x4 -> 4x4 in the 8 -> 4 px block).
    Adds into ``a`` when the shapes agree."""
    if a.shape == b.shape:
        return a.add_(b)
    shape = [max(x, y) for x, y in zip(a.shape, b.shape, strict=True)]
    nhwc = a.is_contiguous(memory_format=torch.channels_last)
    out = a.new_zeros(shape).contiguous(
        memory_format=torch.channels_last if nhwc else torch.contiguous_format
    )
    out[:, : a.shape[1], : a.shape[2], : a.shape[3]] = a
    out[:, : b.shape[1], : b.shape[2], : b.shape[3]] += b
    return out


class ResidualBlock(nn.Module):
    """``relu(block(x) + shortcut(x))``; block = conv3x3, affine, relu, conv3x3, affine.

    dlib's ``affine`` (its frozen batch norm, ``gamma * x + beta`` per channel) is folded into
    the conv before it when weights load: the same function with one pass less over each
    activation. A halving block uses stride 2 without padding and a 2x2 average-pool shortcut.
    """

    def __init__(self, in_channels: int, out_channels: int, *, downsample: bool) -> None:
        super().__init__()
        stride, padding = (2, 0) if downsample else (1, 1)
        self.downsample = downsample
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=padding)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        # In place: every fresh CPU activation buffer costs page faults (a profiled pass spent
        # ~20 % in out-of-place relu).
        y = self.conv2(self.conv1(x).relu_())
        shortcut = F.avg_pool2d(x, 2, 2) if self.downsample else x
        return _add_zero_padded(y, shortcut).relu_()


class DlibResNet(nn.Module):
    """dlib's metric-learning ResNet-29: ``(N, 3, 150, 150)`` RGB pixels in [0, 255] (any
    dtype) -> ``(N, 128)`` embeddings, compared by L2 distance (dlib does not normalise them).

    Sizes: 150 -> conv7x7/2 72 -> maxpool3/2 35 -> 17 -> 8 -> 4 -> 2 -> mean -> fc 128.
    """

    mean_rgb: Tensor  # (3,) dlib's per-channel input means, a buffer so .to() moves it

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean_rgb", torch.zeros(3))
        self.stem = nn.Conv2d(3, STEM_CHANNELS, 7, stride=2)
        blocks, channels = [], STEM_CHANNELS
        for out_channels, count, downsample in LEVELS:
            for i in range(count):
                blocks.append(
                    ResidualBlock(channels, out_channels, downsample=downsample and i == 0)
                )
                channels = out_channels
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(channels, EMBEDDING_DIM, bias=False)

    def forward(self, pixels: Tensor) -> Tensor:
        # Normalised in float32 as dlib does, then cast to the weights' dtype (fp16/bf16).
        x = (pixels.float() - self.mean_rgb.float().view(1, 3, 1, 1)) / INPUT_SCALE
        x = x.to(self.stem.weight.dtype)
        x = F.max_pool2d(self.stem(x).relu_(), 3, 2)  # (N, 32, 35, 35)
        x = self.blocks(x)  # (N, 256, 2, 2)
        embeddings: Tensor = self.fc(x.mean(dim=(2, 3)))  # (N, 128)
        return embeddings

    @classmethod
    def from_dlib(cls, net: DlibNet) -> DlibResNet:
        """The module with ``net``'s weights; ``ModelError`` if they do not fit."""
        model = cls()
        layers = iter(net.layers)
        with torch.no_grad():
            model.mean_rgb.copy_(torch.from_numpy(net.input_mean_rgb))
            _load_conv(model.stem, layers, net.source)
            for block in model.blocks:
                assert isinstance(block, ResidualBlock)
                _load_conv(block.conv1, layers, net.source)
                _load_conv(block.conv2, layers, net.source)
            fc = [layer for layer in layers if layer.kind == "fc"]
            weight = fc[0].arrays["weight"] if len(fc) == 1 else None
            if weight is None or weight.T.shape != model.fc.weight.shape:
                raise ModelError(net.source, "fc layer does not fit dlib's face ResNet")
            model.fc.weight.copy_(torch.from_numpy(weight.T.copy()))
        return model.eval()


def _load_conv(conv: nn.Conv2d, layers: Iterator[DlibLayer], source: Path) -> None:
    """Copy the next dlib ``con`` and its ``affine`` into ``conv``, folding the affine."""
    con = next((layer for layer in layers if layer.kind == "con"), None)
    affine = next(layers, None)
    if con is None or affine is None or affine.kind != "affine" or affine.mode != "conv":
        raise ModelError(source, "layers do not fit dlib's face ResNet (con + affine expected)")
    weight, bias = con.arrays["weight"], con.arrays["bias"]
    fits = (
        weight.shape == tuple(conv.weight.shape)
        and con.sizes["stride"] == tuple(conv.stride)
        and con.sizes["padding"] == tuple(conv.padding)
    )
    if not fits:
        raise ModelError(source, f"conv {weight.shape} does not fit {tuple(conv.weight.shape)}")
    gamma, beta = affine.arrays["gamma"], affine.arrays["beta"]
    assert conv.bias is not None
    conv.weight.copy_(torch.from_numpy(weight * gamma[:, None, None, None]))
    conv.bias.copy_(torch.from_numpy(bias * gamma + beta))


@functools.cache
def _cpu_model(path: Path) -> DlibResNet:
    return DlibResNet.from_dlib(read_dlib_net(path, dlib_spec()))


@functools.cache
def _placed_model(path: Path, device: str, dtype: torch.dtype, channels_last: bool) -> DlibResNet:
    """The weights read once per process, one copy per device/dtype/layout asked for."""
    model = _cpu_model(path)
    if device != "cpu" or dtype != torch.float32 or channels_last:
        model = copy.deepcopy(model).to(device=device, dtype=dtype)
        if channels_last:
            # torch's type stubs lack Module.to's memory_format keyword; it exists at run time.
            model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    return model.eval()


@contextlib.contextmanager
def _exact_fp32(enabled: bool) -> Iterator[None]:
    """TF32 convs (cuDNN's default) and matmuls (if a caller allowed them) are ~1e-3 off;
    parity with dlib needs true float32, so both are off inside, restored after."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    if enabled:
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def jitter_chips(pixels: Tensor, copies: int, rng: np.random.Generator) -> Tensor:
    """dlib's ``jitter_image``: ``(N, 3, H, W)`` pixels -> ``(N * copies, 3, H, W)`` copies,
    each slightly moved, zoomed, rotated and maybe mirrored (copies of one chip adjacent).

    Bilinear sampling, black outside the chip, rounded to whole pixel values as dlib's 8-bit
    chips are. The draws come from ``rng``, so results differ from dlib's own random ones.
    """
    n, channels, height, width = pixels.shape
    u = rng.uniform(size=(n * copies, 5))  # per copy: shift x, shift y, zoom, angle, mirror
    size = np.array([width, height], dtype=np.float64)
    side = size - 2 * JITTER_BORDER
    shift = np.rint((2 * u[:, :2] - 1) * JITTER_TRANSLATE * side)  # (M, 2) pixels
    box = np.floor(side[1] / np.interp(u[:, 2], (0.0, 1.0), JITTER_SCALE))  # (M,) crop side
    angle = np.deg2rad((2 * u[:, 3] - 1) * JITTER_DEGREES)
    mirror = np.where(u[:, 4] > 0.5, -1.0, 1.0)
    half = (size - 1) / 2  # chip centre, pixels
    crop_mid = size // 2 + shift - (box // 2)[:, None] + (box[:, None] - 1) / 2  # (M, 2)
    reach = (box - 1) / 2  # half the crop's side, pixels
    cos, sin = np.cos(angle) * reach, np.sin(angle) * reach
    # Chip -> picture map in grid_sample's [-1, 1] coordinates (align_corners=True).
    theta = np.empty((n * copies, 2, 3))
    theta[:, 0, :2] = np.stack([cos * mirror, -sin], axis=1)
    theta[:, 1, :2] = np.stack([sin * mirror, cos], axis=1)
    theta[:, :, 2] = crop_mid - half
    theta /= half[None, :, None]
    theta_t = torch.from_numpy(theta.astype(np.float32)).to(pixels.device)
    grid = F.affine_grid(theta_t, [n * copies, channels, height, width], align_corners=True)
    source = pixels.float().repeat_interleave(copies, dim=0)
    warped = F.grid_sample(source, grid, mode="bilinear", align_corners=True)
    return warped.round().clamp(0, 255)


def _check_device(device: str) -> None:
    if not (device == "cpu" or device.startswith("cuda")):
        raise ValueError(f"device must be 'cpu' or 'cuda[:N]', got {device!r}")


def _as_chips(chips: Sequence[NDArray[np.uint8]] | NDArray[np.uint8]) -> NDArray[np.uint8]:
    array = np.asarray(chips) if len(chips) else np.zeros((0, CHIP_SIZE, CHIP_SIZE, 3), np.uint8)
    if array.dtype != np.uint8 or array.shape[1:] != (CHIP_SIZE, CHIP_SIZE, 3):
        raise ValueError(
            f"chips must be uint8 (n, {CHIP_SIZE}, {CHIP_SIZE}, 3), got {array.dtype} {array.shape}"
        )
    return array


class TorchEmbedder:
    """``AlignedFaces -> EmbeddedFaces`` with dlib's ResNet in PyTorch: ``float32 (n, 128)``.

    Args:
        jitters: as dlib's ``num_jitters``: 0 or 1 embed the chip as is; ``k > 1`` averages
            the embeddings of ``k`` randomly jittered copies (~k times slower).
        device: ``"cpu"`` or ``"cuda[:N]"``; the runner may move the stage with ``to``.
        batch_size: chips per forward pass (jittered copies count).
        half: run in float16 on CUDA, bfloat16 on CPU (faster on GPUs; not bit-for-bit dlib:
            parity holds for float32 only).
        channels_last: NHWC activations (the chips' own layout); faster on CUDA and, with
            oneDNN, on CPU too (measured ~10-30 % at batch 32).
        rng: draws the jitters; None means a fresh unseeded generator per call.

    On a CPU shared with other busy processes, run with ``OMP_WAIT_POLICY=PASSIVE`` (or one
    torch thread): spinning OpenMP threads otherwise burn each other's time slices (measured
    16 vs 60 faces/s at batch 32 on 2 cores at load 8; benchmarks/RESULTS.md).
    """

    model_id = DLIB_MODEL_ID

    def __init__(
        self,
        *,
        jitters: int = 0,
        device: str = "cpu",
        batch_size: int = 64,
        half: bool = False,
        channels_last: bool = True,
        rng: np.random.Generator | None = None,
    ) -> None:
        if jitters < 0:
            raise ValueError(f"jitters must be >= 0, got {jitters}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        _check_device(device)
        self.jitters = jitters
        self.device = device
        self.batch_size = batch_size
        self.half = half
        self.channels_last = channels_last
        self.rng = rng

    def to(self, device: str) -> None:
        """Run on ``device`` from now on (the model is placed there on first use)."""
        _check_device(device)
        self.device = device

    def __call__(self, faces: AlignedFaces) -> EmbeddedFaces:
        return self.batch([faces])[0]

    def batch(self, items: Sequence[AlignedFaces]) -> list[EmbeddedFaces]:
        for item in items:
            if item.chips.dtype != np.uint8 or item.chips.shape[1:] != (CHIP_SIZE, CHIP_SIZE, 3):
                raise InputError(item.source, f"face chips must be uint8 {CHIP_SIZE}x{CHIP_SIZE}x3")
        vectors = self.embed_chips([chip for item in items for chip in item.chips])
        out, start = [], 0
        for item in items:
            stop = start + len(item.chips)
            out.append(
                EmbeddedFaces(
                    ref=item.ref,
                    boxes=item.boxes,
                    points=item.points,
                    vectors=vectors[start:stop],
                    model_id=self.model_id,
                )
            )
            start = stop
        return out

    def embed_chips(
        self, chips: Sequence[NDArray[np.uint8]] | NDArray[np.uint8]
    ) -> NDArray[np.float32]:
        """``uint8 (150, 150, 3)`` RGB chips -> ``float32 (n, 128)`` embeddings."""
        array = _as_chips(chips)
        out = np.zeros((len(array), EMBEDDING_DIM), dtype=np.float32)
        if not len(array):
            return out
        cuda = self.device.startswith("cuda")
        dtype = (torch.float16 if cuda else torch.bfloat16) if self.half else torch.float32
        path = models.model_path(models.RESNET)
        model = _placed_model(path, self.device, dtype, self.channels_last)
        layout = torch.channels_last if self.channels_last else torch.contiguous_format
        copies = self.jitters if self.jitters > 1 else 1
        rng = self.rng if self.rng is not None else np.random.default_rng()
        step = max(1, self.batch_size // copies)
        with torch.inference_mode(), _exact_fp32(cuda and not self.half):
            for start in range(0, len(array), step):
                # (B, H, W, 3) uint8 viewed as (B, 3, H, W): already channels-last in memory.
                pixels = torch.from_numpy(array[start : start + step]).to(self.device)
                pixels = pixels.permute(0, 3, 1, 2)
                if copies > 1:
                    pixels = jitter_chips(pixels, copies, rng)
                pixels = pixels.contiguous(memory_format=layout)
                vectors = model(pixels).float()  # (B * copies, 128)
                vectors = vectors.view(-1, copies, EMBEDDING_DIM).mean(dim=1)
                out[start : start + len(vectors)] = vectors.cpu().numpy()
        return out
