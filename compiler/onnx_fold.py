"""ONNX values known at import time: numpy evaluation of ONNX nodes, and the ONNX index
arithmetic (Reshape's 0 and -1, Squeeze/Unsqueeze axes, Slice clamping) that the front
end shares with it.

`fold(node, attrs, arrays, opset)` evaluates one node whose inputs are all known. The
ops that shape computations use (Shape chains, Reshape targets, index arithmetic) have
their own few lines of numpy here; any other op falls back to onnx's reference
implementation (`onnx.reference`), which is numpy too.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from vnnc.dialects.shapes import ShapeError, normalize_axis


def attributes(node) -> dict[str, Any]:
    from onnx import helper, numpy_helper

    out: dict[str, Any] = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        if isinstance(v, bytes):
            v = v.decode()
        elif isinstance(v, list) and v and isinstance(v[0], bytes):
            v = [s.decode() for s in v]
        elif a.type == a.TENSOR:
            v = numpy_helper.to_array(v)
        out[a.name] = v
    return out


# ---------------------------------------------------------------- index arithmetic


def reshape_target(old: tuple[int, ...], new: Any, allowzero: bool) -> tuple[int, ...]:
    """ONNX Reshape: 0 copies the input dimension (unless allowzero), -1 is inferred."""
    out = [old[i] if int(d) == 0 and not allowzero else int(d) for i, d in enumerate(new)]
    if out.count(-1) > 1:
        raise ShapeError(f"reshape target {list(new)} has more than one -1")
    if -1 in out:
        known = math.prod(d for d in out if d != -1)
        total = math.prod(old)
        if known == 0 or total % known:
            raise ShapeError(f"cannot reshape {list(old)} to {list(new)}")
        out[out.index(-1)] = total // known
    return tuple(out)


def squeeze_target(old: tuple[int, ...], axes: Any) -> tuple[int, ...]:
    if axes is None or len(axes) == 0:
        return tuple(d for d in old if d != 1)
    drop = {normalize_axis("squeeze", int(a), len(old)) for a in axes}
    if any(old[a] != 1 for a in drop):
        raise ShapeError(f"squeeze axes {list(axes)} of shape {list(old)} are not all 1")
    return tuple(d for i, d in enumerate(old) if i not in drop)


def unsqueeze_target(old: tuple[int, ...], axes: Any) -> tuple[int, ...]:
    rank = len(old) + len(axes)
    ones = {normalize_axis("unsqueeze", int(a), rank) for a in axes}
    rest = iter(old)
    return tuple(1 if i in ones else next(rest) for i in range(rank))


def slice_bounds(shape, starts, ends, axes, steps) -> tuple[list, list, list]:
    """Full-rank starts/ends/steps, clamped the ONNX way (negative indices count from the
    end; out-of-range ones, INT_MAX included, are clamped to the dimension)."""
    rank = len(shape)
    full_s, full_e, full_t = [0] * rank, list(shape), [1] * rank
    if axes is None:
        axes = range(len(starts))
    if steps is None:
        steps = [1] * len(starts)
    for a, s, e, t in zip(axes, starts, ends, steps, strict=True):
        a, s, e, t = normalize_axis("slice", int(a), rank), int(s), int(e), int(t)
        dim = shape[a]
        if t == 0:
            raise ShapeError(f"slice step of axis {a} is 0")
        s = s + dim if s < 0 else s
        e = e + dim if e < 0 else e
        if t > 0:
            s, e = min(max(s, 0), dim), min(max(e, 0), dim)
        else:
            s, e = min(max(s, 0), dim - 1), min(max(e, -1), dim - 1)
        full_s[a], full_e[a], full_t[a] = s, e, t
    return full_s, full_e, full_t


# ---------------------------------------------------------------- constant folding


def _fold_binary(fn):
    def fold(at, xs, opset):
        a, b = xs
        y = fn(a, b)
        if np.issubdtype(a.dtype, np.integer):
            y = np.trunc(y) if fn is np.true_divide else y
            y = y.astype(a.dtype)
        return [np.asarray(y)]

    return fold


def _axes(at: dict, xs: list, opset: int, from_opset: int):
    """Axes given as an attribute before `from_opset` and as input 1 from it on."""
    if opset < from_opset:
        return at.get("axes")
    return None if len(xs) < 2 or xs[1] is None else [int(a) for a in np.ravel(xs[1])]


def _fold_slice(at, xs, opset):
    x = xs[0]
    if opset < 10:
        args = (at["starts"], at["ends"], at.get("axes"), None)
    else:
        args = tuple(
            None if i >= len(xs) or xs[i] is None else np.ravel(xs[i]) for i in range(1, 5)
        )
    starts, ends, steps = slice_bounds(x.shape, *args)
    index = tuple(slice(s, e if e >= 0 else None, t) for s, e, t in zip(starts, ends, steps))
    return [x[index]]


def _fold_gather(at, xs, opset):
    data, idx = xs
    axis = normalize_axis("gather", at.get("axis", 0), data.ndim)
    idx = np.where(idx < 0, idx + data.shape[axis], idx)
    return [np.take(data, idx, axis=axis)]


def _fold_cast(at, xs, opset):
    from onnx import helper

    return [xs[0].astype(helper.tensor_dtype_to_np_dtype(at["to"]))]


def _fold_constant_of_shape(at, xs, opset):
    value = at.get("value", np.zeros(1, np.float32))
    return [np.full(tuple(int(d) for d in xs[0]), value.reshape(-1)[0], dtype=value.dtype)]


def _fold_range(at, xs, opset):
    start, limit, delta = (x.reshape(()) for x in xs)
    n = max(math.ceil((limit - start) / delta), 0)
    return [(start + np.arange(n) * delta).astype(start.dtype)]


FOLDS = {
    "Identity": lambda at, xs, opset: [xs[0]],
    "Dropout": lambda at, xs, opset: [xs[0]],
    "Cast": _fold_cast,
    "Add": _fold_binary(np.add),
    "Sub": _fold_binary(np.subtract),
    "Mul": _fold_binary(np.multiply),
    "Div": _fold_binary(np.true_divide),
    "Neg": lambda at, xs, opset: [-xs[0]],
    "Concat": lambda at, xs, opset: [np.concatenate([x for x in xs if x is not None], at["axis"])],
    "Gather": _fold_gather,
    "Slice": _fold_slice,
    "Reshape": lambda at, xs, opset: [
        xs[0].reshape(reshape_target(xs[0].shape, xs[1], at.get("allowzero", 0)))
    ],
    "Squeeze": lambda at, xs, opset: [
        xs[0].reshape(squeeze_target(xs[0].shape, _axes(at, xs, opset, 13)))
    ],
    "Unsqueeze": lambda at, xs, opset: [
        xs[0].reshape(unsqueeze_target(xs[0].shape, _axes(at, xs, opset, 13)))
    ],
    "Flatten": lambda at, xs, opset: [
        xs[0].reshape(math.prod(xs[0].shape[: at.get("axis", 1)]), -1)
    ],
    "Transpose": lambda at, xs, opset: [np.transpose(xs[0], at.get("perm"))],
    "ConstantOfShape": _fold_constant_of_shape,
    "Range": _fold_range,
}


def fold(node, attrs: dict[str, Any], xs: list[np.ndarray | None], opset: int) -> list[np.ndarray]:
    """The outputs of ONNX `node` (a NodeProto with attributes `attrs`) on known inputs
    `xs` (None for an absent optional input). Errors propagate as numpy/onnx raise them."""
    rule = FOLDS.get(node.op_type)
    if rule is not None:
        return [np.asarray(y) for y in rule(attrs, xs, opset)]
    from onnx.reference import ReferenceEvaluator

    feeds = {name: x for name, x in zip(node.input, xs) if name}
    outputs = ReferenceEvaluator(node, opsets={"": opset}).run(None, feeds)
    return [np.asarray(y) for y in outputs]
