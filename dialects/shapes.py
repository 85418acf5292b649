"""Shape inference for every spec op: the one function all passes and front ends share.

`infer_shape(op, shapes, attrs)` takes the op's short name (``"linear"``), the static
shapes of its operands and its attributes as plain Python values, and returns the
result shape, or raises `ShapeError` with a message that names the op and the mismatch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

Shape = tuple[int, ...]


class ShapeError(ValueError):
    """An op's operands or attributes do not fit its definition."""


def broadcast(op: str, a: Shape, b: Shape) -> Shape:
    """numpy broadcasting of two shapes."""
    rank = max(len(a), len(b))
    pa = (1,) * (rank - len(a)) + tuple(a)
    pb = (1,) * (rank - len(b)) + tuple(b)
    out = []
    for da, db in zip(pa, pb):
        if da != db and da != 1 and db != 1:
            raise ShapeError(f"spec.{op}: shapes {list(a)} and {list(b)} do not broadcast")
        out.append(db if da == 1 else da)
    return tuple(out)


def normalize_axis(op: str, axis: int, rank: int) -> int:
    if not -rank <= axis < max(rank, 1):
        raise ShapeError(f"spec.{op}: axis {axis} is out of range for rank {rank}")
    return axis % rank if rank else 0


def pool_out_size(
    op: str, size: int, kernel: int, stride: int, pad_lo: int, pad_hi: int, dilation: int, ceil: bool
) -> int:
    """ONNX/PyTorch pooling and convolution output extent along one axis."""
    span = dilation * (kernel - 1) + 1
    room = size + pad_lo + pad_hi - span
    if room < 0:
        raise ShapeError(f"spec.{op}: window {span} is larger than the padded input {size + pad_lo + pad_hi}")
    n = (-(-room // stride) if ceil else room // stride) + 1
    # PyTorch's rule: the last window must start inside the input or the left padding.
    if ceil and (n - 1) * stride >= size + pad_lo:
        n -= 1
    return n


def _need(op: str, shapes: Sequence[Shape], counts: Sequence[int]) -> None:
    if len(shapes) not in counts:
        want = " or ".join(str(c) for c in counts)
        raise ShapeError(f"spec.{op}: expected {want} operands, got {len(shapes)}")


def _rank(op: str, what: str, shape: Shape, ranks: Sequence[int]) -> None:
    if len(shape) not in ranks:
        want = " or ".join(str(r) for r in ranks)
        raise ShapeError(f"spec.{op}: {what} must have rank {want}, got shape {list(shape)}")


def _unary(op: str, shapes: Sequence[Shape], attrs: dict[str, Any]) -> Shape:
    _need(op, shapes, [1])
    return tuple(shapes[0])


def _binary(op: str, shapes: Sequence[Shape], attrs: dict[str, Any]) -> Shape:
    _need(op, shapes, [2])
    return broadcast(op, shapes[0], shapes[1])


def _matmul(op: str, shapes: Sequence[Shape], attrs: dict[str, Any]) -> Shape:
    """numpy.matmul: 1-D operands are promoted and the promoted axis removed again."""
    _need(op, shapes, [2])
    a, b = tuple(shapes[0]), tuple(shapes[1])
    if not a or not b:
        raise ShapeError(f"spec.{op}: operands must have rank >= 1, got {list(a)} and {list(b)}")
    a2 = (1,) + a if len(a) == 1 else a
    b2 = b + (1,) if len(b) == 1 else b
    if a2[-1] != b2[-2]:
        raise ShapeError(
            f"spec.{op}: contraction sizes differ: {list(a)} has {a2[-1]}, {list(b)} has {b2[-2]}"
        )
    batch = broadcast(op, a2[:-2], b2[:-2])
    out = batch + (a2[-2], b2[-1])
    if len(a) == 1:
        out = out[:-2] + out[-1:]
    if len(b) == 1:
        out = out[:-1]
    return out


def _linear(op: str, shapes: Sequence[Shape], attrs: dict[str, Any]) -> Shape:
    """y = x W^T + b with x [..., in], W [out, in], b [out]."""
    _need(op, shapes, [2, 3])
    x, w = shapes[0], shapes[1]
    if len(x) < 1:
        raise ShapeError(f"spec.{op}: input must have rank >= 1, got {list(x)}")
    _rank(op, "weight", w, [2])
    if x[-1] != w[1]:
        raise ShapeError(f"spec.{op}: input features {x[-1]} do not match weight {list(w)}")
    if len(shapes) == 3 and tuple(shapes[2]) != (w[0],):
        raise ShapeError(f"spec.{op}: bias shape {list(shapes[2])} must be [{w[0]}]")
    return tuple(x[:-1]) + (w[0],)


def _softmax(op: str, shapes: Sequence[Shape], attrs: dict[str, Any]) -> Shape:
    _need(op, shapes, [1])
    normalize_axis(op, attrs["axis"], len(shapes[0]))
    return tuple(shapes[0])


def _layernorm(op: str, shapes: Sequence[Shape], attrs: dict[str, Any]) -> Shape:
    """Normalised over `axes`; scale and bias (optional) have the shape of those axes."""
    _need(op, shapes, [1, 2, 3])
    x = shapes[0]
    axes = sorted(normalize_axis(op, a, len(x)) for a in attrs["axes"])
    if len(set(axes)) != len(axes) or not axes:
        raise ShapeError(f"spec.{op}: axes {list(attrs['axes'])} must be distinct and non-empty")
    inner = tuple(x[a] for a in axes)
    for name, s in zip(("scale", "bias"), shapes[1:]):
        if tuple(s) != inner:
            raise ShapeError(f"spec.{op}: {name} shape {list(s)} must be {list(inner)}")
    if attrs["eps"] < 0:
        raise ShapeError(f"spec.{op}: eps must be >= 0")
    return tuple(x)


def _batchnorm(op: str, shapes: Sequence[Shape], attrs: dict[str, Any]) -> Shape:
    """Inference form over axis 1: operands x, scale, bias, mean, var."""
    _need(op, shapes, [5])
    x = shapes[0]
    if len(x) < 2:
        raise ShapeError(f"spec.{op}: input must have rank >= 2, got {list(x)}")
    for name, s in zip(("scale", "bias", "mean", "var"), shapes[1:]):
        if tuple(s) != (x[1],):
            raise ShapeError(f"spec.{op}: {name} shape {list(s)} must be [{x[1]}]")
    return tuple(x)


def _window_attrs(op: str, attrs: dict[str, Any], nk: int = 2) -> tuple:
    strides = tuple(attrs["strides"])
    pads = tuple(attrs["pads"])
    dil = tuple(attrs.get("dilations", (1,) * nk))
    if len(strides) != nk or len(pads) != 2 * nk or len(dil) != nk:
        raise ShapeError(f"spec.{op}: strides/dilations need {nk} entries and pads {2 * nk}")
    if min(strides) < 1 or min(dil) < 1 or min(pads) < 0:
        raise ShapeError(f"spec.{op}: strides and dilations must be >= 1 and pads >= 0")
    return strides, pads, dil


def _conv2d(op: str, shapes: Sequence[Shape], attrs: dict[str, Any]) -> Shape:
    """NCHW input, weight [C_out, C_in/groups, kH, kW], optional bias [C_out]."""
    _need(op, shapes, [2, 3])
    x, w = shapes[0], shapes[1]
    _rank(op, "input", x, [4])
    _rank(op, "weight", w, [4])
    strides, pads, dil = _window_attrs(op, attrs)
    g = attrs["groups"]
    if g < 1 or x[1] % g or w[0] % g:
        raise ShapeError(f"spec.{op}: groups {g} must divide input channels {x[1]} and output channels {w[0]}")
    if w[1] * g != x[1]:
        raise ShapeError(
            f"spec.{op}: weight {list(w)} expects {w[1] * g} input channels, input {list(x)} has {x[1]}"
        )
    if len(shapes) == 3 and tuple(shapes[2]) != (w[0],):
        raise ShapeError(f"spec.{op}: bias shape {list(shapes[2])} must be [{w[0]}]")
    oh = pool_out_size(op, x[2], w[2], strides[0], pads[0], pads[2], dil[0], False)
    ow = pool_out_size(op, x[3], w[3], strides[1], pads[1], pads[3], dil[1], False)
    return (x[0], w[0], oh, ow)


def _pool2d(op: str, shapes: Sequence[Shape], attrs: dict[str, Any]) -> Shape:
    _need(op, shapes, [1])
    x = shapes[0]
    _rank(op, "input", x, [4])
    kernel = tuple(attrs["kernel"])
    if len(kernel) != 2 or min(kernel) < 1:
        raise ShapeError(f"spec.{op}: kernel must be two positive sizes, got {list(kernel)}")
    strides, pads, dil = _window_attrs(op, attrs)
    ceil = bool(attrs.get("ceil_mode", False))
    oh = pool_out_size(op, x[2], kernel[0], strides[0], pads[0], pads[2], dil[0], ceil)
    ow = pool_out_size(op, x[3], kernel[1], strides[1], pads[1], pads[3], dil[1], ceil)
    return (x[0], x[1], oh, ow)


def _global_avgpool(op: str, shapes: Sequence[Shape], attrs: dict[str, Any]) -> Shape:
    _need(op, shapes, [1])
    _rank(op, "input", shapes[0], [4])
    return tuple(shapes[0][:2]) + (1, 1)


def _flatten(op: str, shapes: Sequence[Shape], attrs: dict[str, Any]) -> Shape:
    """ONNX Flatten: [prod(shape[:axis]), prod(shape[axis:])]."""
    _need(op, shapes, [1])
    x = shapes[0]
    axis = attrs["axis"]
    if not -len(x) <= axis <= len(x):
        raise ShapeError(f"spec.{op}: axis {axis} is out of range for rank {len(x)}")
    if axis < 0:
        axis += len(x)
    return (math.prod(x[:axis]), math.prod(x[axis:]))


def _reshape(op: str, shapes: Sequence[Shape], attrs: dict[str, Any]) -> Shape:
    _need(op, shapes, [1])
    new = tuple(attrs["shape"])
    if min(new, default=1) < 0:
        raise ShapeError(f"spec.{op}: target shape {list(new)} must be static and non-negative")
    if math.prod(new) != math.prod(shapes[0]):
        raise ShapeError(
            f"spec.{op}: cannot reshape {list(shapes[0])} ({math.prod(shapes[0])} elements) "
            f"to {list(new)} ({math.prod(new)} elements)"
        )
    return new


def _transpose(op: str, shapes: Sequence[Shape], attrs: dict[str, Any]) -> Shape:
    _need(op, shapes, [1])
    x = shapes[0]
    perm = tuple(attrs["perm"])
    if sorted(perm) != list(range(len(x))):
        raise ShapeError(f"spec.{op}: perm {list(perm)} is not a permutation of rank {len(x)}")
    return tuple(x[p] for p in perm)


def _concat(op: str, shapes: Sequence[Shape], attrs: dict[str, Any]) -> Shape:
    if not shapes:
        raise ShapeError(f"spec.{op}: needs at least one operand")
    rank = len(shapes[0])
    axis = normalize_axis(op, attrs["axis"], rank)
    for s in shapes[1:]:
        if len(s) != rank or any(s[d] != shapes[0][d] for d in range(rank) if d != axis):
            raise ShapeError(
                f"spec.{op}: shapes {[list(s) for s in shapes]} differ outside axis {axis}"
            )
    out = list(shapes[0])
    out[axis] = sum(s[axis] for s in shapes)
    return tuple(out)


def slice_extent(start: int, end: int, step: int) -> int:
    """Number of indices start, start+step, ... strictly before end (either direction)."""
    if step > 0:
        return max(0, -(-(end - start) // step))
    return max(0, -(-(start - end) // -step))


def _slice(op: str, shapes: Sequence[Shape], attrs: dict[str, Any]) -> Shape:
    """x[starts[d] : ends[d] : steps[d]] per dimension, with indices already normalised:
    0 <= start < size (or the extent is empty) and -1 <= end <= size."""
    _need(op, shapes, [1])
    x = shapes[0]
    starts, ends, steps = (tuple(attrs[k]) for k in ("starts", "ends", "steps"))
    if not len(starts) == len(ends) == len(steps) == len(x):
        raise ShapeError(f"spec.{op}: starts, ends and steps need one entry per dimension ({len(x)})")
    out = []
    for d, (s, e, st) in enumerate(zip(starts, ends, steps)):
        if st == 0:
            raise ShapeError(f"spec.{op}: step of dimension {d} is 0")
        n = slice_extent(s, e, st)
        if n and not (0 <= s < x[d] and 0 <= s + (n - 1) * st < x[d]):
            raise ShapeError(f"spec.{op}: slice {s}:{e}:{st} leaves dimension {d} of size {x[d]}")
        out.append(n)
    return tuple(out)


def _reduce(op: str, shapes: Sequence[Shape], attrs: dict[str, Any]) -> Shape:
    _need(op, shapes, [1])
    x = shapes[0]
    axes = sorted({normalize_axis(op, a, len(x)) for a in attrs["axes"]})
    if len(axes) != len(attrs["axes"]):
        raise ShapeError(f"spec.{op}: axes {list(attrs['axes'])} repeat")
    if attrs["keepdims"]:
        return tuple(1 if d in axes else n for d, n in enumerate(x))
    return tuple(n for d, n in enumerate(x) if d not in axes)


def _mse_loss(op: str, shapes: Sequence[Shape], attrs: dict[str, Any]) -> Shape:
    _need(op, shapes, [2])
    if tuple(shapes[0]) != tuple(shapes[1]):
        raise ShapeError(f"spec.{op}: prediction {list(shapes[0])} and target {list(shapes[1])} differ")
    return ()


def _cross_entropy(op: str, shapes: Sequence[Shape], attrs: dict[str, Any]) -> Shape:
    _need(op, shapes, [2])
    logits, labels = shapes
    _rank(op, "logits", logits, [2])
    if tuple(labels) != (logits[0],):
        raise ShapeError(f"spec.{op}: labels shape {list(labels)} must be [{logits[0]}]")
    return ()


def _where(op: str, shapes: Sequence[Shape], attrs: dict[str, Any]) -> Shape:
    _need(op, shapes, [3])
    return broadcast(op, broadcast(op, shapes[0], shapes[1]), shapes[2])


def _one_hot(op: str, shapes: Sequence[Shape], attrs: dict[str, Any]) -> Shape:
    _need(op, shapes, [1])
    _rank(op, "labels", shapes[0], [1])
    if attrs["classes"] < 1:
        raise ShapeError(f"spec.{op}: classes must be >= 1")
    return (shapes[0][0], attrs["classes"])


def _slice_scatter(op: str, shapes: Sequence[Shape], attrs: dict[str, Any]) -> Shape:
    """x placed at starts[d] + i*steps[d] inside zeros of `shape`, every position inside."""
    _need(op, shapes, [1])
    x, out = shapes[0], tuple(attrs["shape"])
    starts, steps = tuple(attrs["starts"]), tuple(attrs["steps"])
    if not len(starts) == len(steps) == len(out) == len(x):
        raise ShapeError(f"spec.{op}: shape, starts and steps need one entry per dimension ({len(x)})")
    for d, (n, s, st, size) in enumerate(zip(x, starts, steps, out)):
        if st == 0 or (n and not (0 <= s < size and 0 <= s + (n - 1) * st < size)):
            raise ShapeError(f"spec.{op}: {n} positions from {s} by {st} leave dimension {d} of size {size}")
    return out


RULES: dict[str, Callable[[str, Sequence[Shape], dict[str, Any]], Shape]] = {
    "matmul": _matmul,
    "linear": _linear,
    **{k: _binary for k in ("add", "sub", "mul", "div")},
    **{
        k: _unary
        for k in ("neg", "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "erf", "exp", "log", "sqrt")
    },
    "softmax": _softmax,
    "log_softmax": _softmax,
    "layernorm": _layernorm,
    "batchnorm": _batchnorm,
    "conv2d": _conv2d,
    "maxpool2d": _pool2d,
    "avgpool2d": _pool2d,
    "global_avgpool": _global_avgpool,
    "flatten": _flatten,
    "reshape": _reshape,
    "transpose": _transpose,
    "concat": _concat,
    "slice": _slice,
    "reduce_sum": _reduce,
    "reduce_mean": _reduce,
    "reduce_max": _reduce,
    "mse_loss": _mse_loss,
    "cross_entropy": _cross_entropy,
    "where": _where,
    "one_hot": _one_hot,
    "slice_scatter": _slice_scatter,
}


def infer_shape(op: str, shapes: Sequence[Sequence[int]], attrs: dict[str, Any]) -> Shape:
    """The result shape of spec op `op` (short name) applied to operands of `shapes`."""
    rule = RULES.get(op)
    if rule is None:
        raise ShapeError(f"spec.{op}: no shape rule")
    try:
        return rule(op, [tuple(s) for s in shapes], attrs)
    except KeyError as e:
        raise ShapeError(f"spec.{op}: missing attribute {e.args[0]}") from None
