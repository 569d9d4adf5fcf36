"""Reader for dlib's serialized DNN files (``.dat``), in numpy; no dlib needed.

A dlib network is a C++ type such as ``loss_metric<fc_no_bias<128, ... input_rgb_image_sized
<150>>>``; ``serialize(net)`` writes it as nested objects, so the file holds no list of layer
types. The reader is therefore given the network's layers as ``spec``: one token per layer,
output first, as dlib's ``operator<<`` prints them (``"loss_metric"``, ``"fc"``, ``"relu"``,
``"add_prev2"``, ``"skip1"``, ``"tag2"``, ``"con"``, ..., ``"input_rgb_image_sized"``).

The format, from dlib's sources (``dlib/serialize.h``, ``dlib/float_details.h``,
``dlib/dnn/core.h``, ``dlib/dnn/layers.h``, ``dlib/dnn/input.h``, ``dlib/dnn/tensor.h``):

- integers: one byte ``0x80 * negative + n_bytes``, then ``n_bytes`` little-endian magnitude bytes;
- ``bool``: the character ``'0'`` or ``'1'``; ``std::string``: its length, then its bytes;
- ``float``/``double``: two integers, ``mantissa`` and ``exponent``: ``mantissa * 2**exponent``;
- tensor: version 2, ``(num_samples, k, nr, nc)``, then raw little-endian float32 values;
- ``add_loss_layer``: version, loss details, sub-network; ``add_tag_layer``/``add_skip_layer``:
  version, sub-network; ``add_layer``: version, sub-network (or the input layer, for the
  innermost one), layer details, three flags, then cached tensors (empty in a cleaned net).

Every layer's weights are extracted at load time, so nothing converted is ever stored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from facespeech.stages.errors import ModelError
from numpy.typing import NDArray

# float_details' special exponents (dlib/float_details.h).
_EXP_INF, _EXP_NINF, _EXP_NAN = 32000, 32001, 32002
# Integers are at most 8 bytes (int64); the header's bits 4-6 are never set by dlib.
_INT_MAX_BYTES = 8
_INT_SIZE_MASK, _INT_SIGN_BIT, _INT_UNUSED_BITS = 0x0F, 0x80, 0x70
# Layer names are short; a longer "string" means the bytes are not a dlib network.
_MAX_NAME_LEN = 64
_TENSOR_VERSION = 2
_ALIAS_TENSOR_VERSION = 1
# Versions dlib itself accepts when reading each wrapper (dlib/dnn/core.h).
_ADD_LAYER_VERSIONS = (1, 2)  # 2 adds params_grad
_INPUT_ADD_LAYER_VERSIONS = (2, 3)  # 3 adds _sample_expansion_factor
_TAG_SKIP_LOSS_VERSION = 1
_LAYER_MODES = {0: "conv", 1: "fc"}  # dlib::layer_mode
_FC_BIAS_MODES = {0: True, 1: False}  # dlib::fc_bias_mode -> has bias

_TAG = re.compile(r"(tag|skip|add_prev)(\d+)")


@dataclass(frozen=True, slots=True, eq=False)
class DlibLayer:
    """One layer of a dlib network (``DlibNet.layers`` runs from input to output).

    ``kind`` is the spec token without its tag number (``"con"``, ``"affine"``, ``"tag"``...);
    ``tag`` is that number for ``tag``/``skip``/``add_prev`` layers, else 0. ``arrays`` holds
    the weights, float32: ``con``: ``weight (out, in, nr, nc)``, ``bias (out,)``; ``affine``:
    ``gamma``, ``beta``, ``(k,)`` in conv mode; ``fc``: ``weight (in, out)`` (the output is
    ``x @ weight``) and ``bias (out,)`` if it has one. ``sizes`` holds ``(y, x)`` pairs:
    ``size``, ``stride``, ``padding``; a 0 size means the whole input (dlib's
    ``*_everything`` pools). ``mode`` is the affine layer's ``"conv"`` or ``"fc"``.
    """

    kind: str
    tag: int = 0
    arrays: Mapping[str, NDArray[np.float32]] = field(default_factory=dict)
    sizes: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    mode: str = ""


@dataclass(frozen=True, slots=True, eq=False)
class DlibNet:
    """A parsed network: ``layers`` from input to output, plus input and loss settings.

    ``input_mean_rgb`` is ``float32 (3,)``: dlib feeds ``(pixel - mean) / 256`` per channel.
    """

    source: Path
    input_kind: str
    input_size: tuple[int, int]  # (rows, cols); (0, 0) when the input layer takes any size
    input_mean_rgb: NDArray[np.float32]
    loss_kind: str
    loss_params: tuple[float, ...]
    layers: tuple[DlibLayer, ...]


class _Stream:
    """A cursor over the file's bytes; every read names what it reads, so errors do too."""

    def __init__(self, data: bytes, path: Path) -> None:
        self.data = data
        self.path = path
        self.pos = 0

    def fail(self, reason: str) -> ModelError:
        return ModelError(self.path, f"not a readable dlib network: {reason} (byte {self.pos})")

    def take(self, count: int, what: str) -> bytes:
        end = self.pos + count
        if count < 0 or end > len(self.data):
            raise ModelError(
                self.path,
                f"truncated dlib network: {what} needs {count} bytes at byte {self.pos}, "
                f"file has {len(self.data)}",
            )
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def integer(self, what: str, *, signed: bool = True) -> int:
        header = self.take(1, what)[0]
        size = header & _INT_SIZE_MASK
        if header & _INT_UNUSED_BITS or size > _INT_MAX_BYTES:
            raise self.fail(f"bad integer header 0x{header:02x} for {what}")
        negative = bool(header & _INT_SIGN_BIT)
        if negative and not signed:
            raise self.fail(f"negative value for unsigned {what}")
        value = int.from_bytes(self.take(size, what), "little")
        return -value if negative else value

    def count(self, what: str) -> int:
        return self.integer(what, signed=False)

    def boolean(self, what: str) -> bool:
        byte = self.take(1, what)
        if byte not in (b"0", b"1"):
            raise self.fail(f"bad bool {byte!r} for {what}")
        return byte == b"1"

    def string(self, what: str) -> str:
        length = self.count(what)
        if length > _MAX_NAME_LEN:
            raise self.fail(f"{what} is {length} bytes long")
        raw = self.take(length, what)
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError as exc:
            raise self.fail(f"{what} is not text") from exc

    def real(self, what: str) -> float:
        mantissa = self.integer(what)
        exponent = self.integer(what)
        if exponent == _EXP_INF:
            return float("inf")
        if exponent == _EXP_NINF:
            return float("-inf")
        if exponent >= _EXP_NAN:
            return float("nan")
        return float(np.ldexp(float(mantissa), exponent))

    def version(self, allowed: Sequence[int], what: str) -> int:
        found = self.integer(f"{what} version")
        if found not in allowed:
            raise self.fail(f"{what} version {found}, expected one of {tuple(allowed)}")
        return found

    def tensor(self, what: str) -> NDArray[np.float32]:
        """A ``resizable_tensor``: ``float32 (num_samples, k, nr, nc)``."""
        self.version((_TENSOR_VERSION,), f"{what} tensor")
        shape = tuple(self.count(f"{what} tensor size") for _ in range(4))
        size = int(np.prod(shape, dtype=np.int64))
        raw = self.take(4 * size, f"{what} tensor values")
        return np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(shape)

    def alias_shape(self, what: str) -> tuple[int, int, int, int]:
        """An ``alias_tensor``: only a shape into the layer's ``params``."""
        self.version((_ALIAS_TENSOR_VERSION,), f"{what} alias")
        n, k, nr, nc = (self.count(f"{what} alias size") for _ in range(4))
        return n, k, nr, nc

    def expect_name(self, names: Sequence[str], what: str) -> str:
        found = self.string(f"{what} name")
        if found not in names:
            raise self.fail(f"found layer {found!r} where {what} ({' or '.join(names)}) belongs")
        return found


def _split_params(
    stream: _Stream, params: NDArray[np.float32], shapes: Sequence[tuple[int, ...]], what: str
) -> list[NDArray[np.float32]]:
    """Cut a layer's flat ``params`` into its alias tensors, in order."""
    flat = params.reshape(-1)
    sizes = [int(np.prod(shape, dtype=np.int64)) for shape in shapes]
    if sum(sizes) != flat.size:
        raise stream.fail(f"{what} params hold {flat.size} values, its parts {sum(sizes)}")
    out, start = [], 0
    for shape, size in zip(shapes, sizes, strict=True):
        out.append(flat[start : start + size].reshape(shape))
        start += size
    return out


def _read_con(s: _Stream) -> DlibLayer:
    s.expect_name(("con_4",), "con")
    params = s.tensor("con params")
    num_filters, nr, nc = (s.integer("con size") for _ in range(3))
    stride = (s.integer("con stride"), s.integer("con stride"))
    padding = (s.integer("con padding"), s.integer("con padding"))
    filters = s.alias_shape("con filters")
    biases = s.alias_shape("con biases")
    for _ in range(4):  # learning-rate and weight-decay multipliers: training only
        s.real("con multiplier")
    if filters[0] != num_filters or filters[2:] != (nr, nc):
        raise s.fail(f"con filters {filters} disagree with {num_filters}x{nr}x{nc}")
    weight, bias = _split_params(s, params, (filters, (biases[1],)), "con")
    return DlibLayer(
        "con",
        arrays={"weight": weight, "bias": bias},
        sizes={"size": (nr, nc), "stride": stride, "padding": padding},
    )


def _read_affine(s: _Stream) -> DlibLayer:
    s.expect_name(("affine_",), "affine")
    params = s.tensor("affine params")
    gamma_shape = s.alias_shape("affine gamma")
    beta_shape = s.alias_shape("affine beta")
    mode = _LAYER_MODES.get(s.integer("affine mode"))
    if mode is None:
        raise s.fail("unknown affine mode")
    gamma, beta = _split_params(s, params, (gamma_shape[1:], beta_shape[1:]), "affine")
    if mode == "conv":  # one scale and shift per channel
        gamma, beta = gamma.reshape(-1), beta.reshape(-1)
    return DlibLayer("affine", arrays={"gamma": gamma, "beta": beta}, mode=mode)


def _read_pool(s: _Stream, kind: str) -> DlibLayer:
    s.expect_name((f"{kind}_2",), kind)
    size = (s.integer(f"{kind} size"), s.integer(f"{kind} size"))
    stride = (s.integer(f"{kind} stride"), s.integer(f"{kind} stride"))
    padding = (s.integer(f"{kind} padding"), s.integer(f"{kind} padding"))
    return DlibLayer(kind, sizes={"size": size, "stride": stride, "padding": padding})


def _read_fc(s: _Stream) -> DlibLayer:
    s.expect_name(("fc_2",), "fc")
    num_outputs = s.count("fc outputs")
    num_inputs = s.count("fc inputs")
    params = s.tensor("fc params")
    weights = s.alias_shape("fc weights")
    biases = s.alias_shape("fc biases")
    has_bias = _FC_BIAS_MODES.get(s.integer("fc bias mode"))
    if has_bias is None:
        raise s.fail("unknown fc bias mode")
    for _ in range(4):
        s.real("fc multiplier")
    if weights[:2] != (num_inputs, num_outputs):
        raise s.fail(f"fc weights {weights} disagree with {num_inputs}x{num_outputs}")
    shapes: list[tuple[int, ...]] = [(num_inputs, num_outputs)]
    if has_bias:
        shapes.append((biases[1],))
    parts = _split_params(s, params, shapes, "fc")
    arrays = {"weight": parts[0]}
    if has_bias:
        arrays["bias"] = parts[1]
    return DlibLayer("fc", arrays=arrays)


def _read_details(s: _Stream, kind: str, tag: int) -> DlibLayer:
    if kind == "con":
        return _read_con(s)
    if kind == "affine":
        return _read_affine(s)
    if kind in ("max_pool", "avg_pool"):
        return _read_pool(s, kind)
    if kind == "fc":
        return _read_fc(s)
    if kind in ("relu", "add_prev"):
        s.expect_name((f"{kind}_",), kind)
        return DlibLayer(kind, tag=tag)
    raise ValueError(f"no reader for dlib layer {kind!r}")


def _read_add_layer_tail(s: _Stream, version: int, *, innermost: bool) -> None:
    """The flags and cached tensors after an ``add_layer``'s details (unused at inference)."""
    for _ in range(3):
        s.boolean("layer flag")
    s.tensor("x_grad")
    s.tensor("cached_output")
    if innermost:
        s.tensor("grad_final")
        if version >= 3:
            s.count("sample_expansion_factor")
    elif version >= 2:
        s.tensor("params_grad")


def _read_input(s: _Stream, kind: str) -> tuple[tuple[int, int], NDArray[np.float32]]:
    s.expect_name((kind,), "input layer")
    mean = np.array([s.real("input mean") for _ in range(3)], dtype=np.float32)
    size = (s.count("input rows"), s.count("input cols")) if kind.endswith("_sized") else (0, 0)
    return size, mean


def _read_loss(s: _Stream, kind: str) -> tuple[float, ...]:
    name = s.expect_name((f"{kind}_2", f"{kind}_"), "loss")
    if kind == "loss_metric" and name.endswith("_2"):
        return (s.real("loss margin"), s.real("loss distance threshold"))
    return ()


def _parse_token(token: str) -> tuple[str, int]:
    match = _TAG.fullmatch(token)
    return (match.group(1), int(match.group(2))) if match else (token, 0)


def read_dlib_net(path: Path, spec: Sequence[str]) -> DlibNet:
    """Parse the dlib network in ``path`` whose layers are ``spec`` (output first).

    Raises ``ModelError`` naming the file when it is missing, truncated, or not a network
    of that shape (a wrong layer name or version where the spec expects another).
    """
    loss_kind, *middle, input_kind = spec
    if not loss_kind.startswith("loss_") or not input_kind.startswith("input"):
        raise ValueError(f"spec must run from a loss_* layer to an input* layer, got {spec!r}")
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ModelError(path, f"cannot read model file: {exc.strerror or exc}") from exc
    s = _Stream(data, Path(path))

    s.version((_TAG_SKIP_LOSS_VERSION,), "loss layer")
    loss_params = _read_loss(s, loss_kind)
    # Wrappers nest: every version comes first, outermost first; then the innermost layer's
    # input layer; then each add_layer's details, innermost first, as the nesting unwinds.
    opened: list[tuple[str, int, int]] = []  # (kind, tag, add_layer version or 0)
    for i, token in enumerate(middle):
        kind, tag = _parse_token(token)
        if kind in ("tag", "skip"):
            s.version((_TAG_SKIP_LOSS_VERSION,), f"{token} layer")
            opened.append((kind, tag, 0))
            continue
        innermost = i == len(middle) - 1
        allowed = _INPUT_ADD_LAYER_VERSIONS if innermost else _ADD_LAYER_VERSIONS
        opened.append((kind, tag, s.version(allowed, f"{token} layer")))
    if not opened or opened[-1][0] in ("tag", "skip"):
        raise ValueError("spec needs a computational layer on top of the input layer")
    input_size, input_mean = _read_input(s, input_kind)

    layers: list[DlibLayer] = []
    for depth, (kind, tag, version) in enumerate(reversed(opened)):
        if kind in ("tag", "skip"):
            layers.append(DlibLayer(kind, tag=tag))
            continue
        layers.append(_read_details(s, kind, tag))
        _read_add_layer_tail(s, version, innermost=depth == 0)
    if s.pos != len(data):
        raise s.fail(f"{len(data) - s.pos} bytes left after the network")
    return DlibNet(
        source=Path(path),
        input_kind=input_kind,
        input_size=input_size,
        input_mean_rgb=input_mean,
        loss_kind=loss_kind,
        loss_params=loss_params,
        layers=tuple(layers),
    )
