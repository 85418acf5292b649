"""An independent float64 reference for spec modules: the test oracle.

`evaluate(module, params, inputs)` walks `func.func @main` and computes every spec op
from the math in its docstring (dialects/spec.py), in float64 numpy. It shares no code
with the compiler's passes or backends, so it can judge them.
"""

from __future__ import annotations

import math

import numpy as np
from vnnc.dialects.spec import ConstantOp, ParamOp, SpecOp
from xdsl.dialects.builtin import ModuleOp
from xdsl.dialects.func import FuncOp, ReturnOp

_erf = np.vectorize(math.erf, otypes=[np.float64])


def evaluate(module: ModuleOp, params: dict, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """The outputs of @main on `inputs`, in float64."""
    fn = next(op for op in module.ops if isinstance(op, FuncOp) and op.sym_name.data == "main")
    block = fn.body.blocks.first
    env = {arg: np.asarray(x, np.float64) for arg, x in zip(block.args, inputs, strict=True)}
    for op in block.ops:
        if isinstance(op, ReturnOp):
            return [env[v] for v in op.arguments]
        if isinstance(op, ParamOp):
            value = np.asarray(params[op.param_name.data])
            env[op.result] = value.astype(np.float64) if value.dtype.kind == "f" else value
        elif isinstance(op, ConstantOp):
            attr = op.value
            value = np.array(attr.get_values(), np.float64).reshape(attr.get_shape())
            env[op.result] = value
        elif isinstance(op, SpecOp):
            args = [env[v] for v in op.inputs]
            env[op.result] = np.asarray(OPS[op.short_name()](*args, **op.attrs()), np.float64)
        else:
            raise NotImplementedError(f"spec_reference: no rule for {op.name}")
    raise ValueError("spec_reference: @main has no return")


# ---------------------------------------------------------------- elementwise and algebra


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _log_softmax(x, axis):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def _gelu(x, approximate="none"):
    if approximate == "tanh":
        return x / 2 * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    return x / 2 * (1 + _erf(x / math.sqrt(2)))


def _linear(x, w, b=None):
    y = x @ w.T
    return y if b is None else y + b


def _layernorm(x, scale=None, bias=None, *, axes, eps):
    axes = tuple(sorted(a % x.ndim for a in axes))
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    y = (x - mean) / np.sqrt(var + eps)
    inner = [x.shape[d] if d in axes else 1 for d in range(x.ndim)]
    if scale is not None:
        y = y * scale.reshape(inner)
    if bias is not None:
        y = y + bias.reshape(inner)
    return y


def _batchnorm(x, scale, bias, mean, var, *, eps):
    c = [1, x.shape[1]] + [1] * (x.ndim - 2)
    return (x - mean.reshape(c)) / np.sqrt(var.reshape(c) + eps) * scale.reshape(c) + bias.reshape(
        c
    )


# ---------------------------------------------------------------- windows (NCHW)


def _out_size(size, kernel, stride, lo, hi, dilation, ceil):
    room = size + lo + hi - (dilation * (kernel - 1) + 1)
    n = (-(-room // stride) if ceil else room // stride) + 1
    if ceil and (n - 1) * stride >= size + lo:  # the last window starts inside input or left pad
        n -= 1
    return n


def _conv2d(x, w, b=None, *, strides, pads, dilations, groups):
    n, _, h, wd = x.shape
    o, cg, kh, kw = w.shape
    (s0, s1), (d0, d1) = strides, dilations
    oh = _out_size(h, kh, s0, pads[0], pads[2], d0, False)
    ow = _out_size(wd, kw, s1, pads[1], pads[3], d1, False)
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    y = np.zeros((n, o, oh, ow))
    og = o // groups
    for g in range(groups):
        xg = xp[:, g * cg : (g + 1) * cg]
        wg = w[g * og : (g + 1) * og]
        for p in range(kh):
            for q in range(kw):
                patch = xg[
                    :,
                    :,
                    p * d0 : p * d0 + s0 * (oh - 1) + 1 : s0,
                    q * d1 : q * d1 + s1 * (ow - 1) + 1 : s1,
                ]
                y[:, g * og : (g + 1) * og] += np.einsum("ncij,oc->noij", patch, wg[:, :, p, q])
    if b is not None:
        y += b.reshape(1, o, 1, 1)
    return y


def _windows(x, kernel, strides, pads, dilations, ceil_mode):
    """Yield (i, j, oh, ow, rows, cols): each output position (i, j) of the [oh, ow] output
    and the input rows/cols its window covers; indices outside [0, size) are padding or,
    in ceil mode, overhang past the padding."""
    _, _, h, w = x.shape
    oh = _out_size(h, kernel[0], strides[0], pads[0], pads[2], dilations[0], ceil_mode)
    ow = _out_size(w, kernel[1], strides[1], pads[1], pads[3], dilations[1], ceil_mode)
    for i in range(oh):
        for j in range(ow):
            rows = [i * strides[0] + p * dilations[0] - pads[0] for p in range(kernel[0])]
            cols = [j * strides[1] + q * dilations[1] - pads[1] for q in range(kernel[1])]
            yield i, j, oh, ow, rows, cols


def _maxpool2d(x, *, kernel, strides, pads, dilations, ceil_mode):
    out = None
    for i, j, oh, ow, rows, cols in _windows(x, kernel, strides, pads, dilations, ceil_mode):
        if out is None:
            out = np.empty(x.shape[:2] + (oh, ow))
        rows = [r for r in rows if 0 <= r < x.shape[2]]
        cols = [c for c in cols if 0 <= c < x.shape[3]]
        out[:, :, i, j] = x[:, :, rows][:, :, :, cols].max(axis=(2, 3))  # padding is -inf
    return out


def _avgpool2d(x, *, kernel, strides, pads, ceil_mode, count_include_pad):
    h, w = x.shape[2:]
    out = None
    for i, j, oh, ow, rows, cols in _windows(x, kernel, strides, pads, (1, 1), ceil_mode):
        if out is None:
            out = np.empty(x.shape[:2] + (oh, ow))
        inside_r = [r for r in rows if 0 <= r < h]
        inside_c = [c for c in cols if 0 <= c < w]
        total = x[:, :, inside_r][:, :, :, inside_c].sum(axis=(2, 3))
        if count_include_pad:  # padding counts, the ceil-mode overhang past it does not
            n = sum(-pads[0] <= r < h + pads[2] for r in rows) * sum(
                -pads[1] <= c < w + pads[3] for c in cols
            )
        else:
            n = len(inside_r) * len(inside_c)
        out[:, :, i, j] = total / n
    return out


# ---------------------------------------------------------------- layout


def _flatten(x, axis):
    axis = axis + x.ndim if axis < 0 else axis
    return x.reshape(math.prod(x.shape[:axis]), math.prod(x.shape[axis:]))


def _slice(x, starts, ends, steps):
    # ends are normalised: -1 means "past index 0" for a negative step
    return x[tuple(slice(s, e if e >= 0 else None, t) for s, e, t in zip(starts, ends, steps))]


def _slice_scatter(x, shape, starts, steps):
    """Zeros of `shape` with x[i] at starts[d] + i[d]*steps[d] in every dimension d."""
    y = np.zeros(shape)
    for i in np.ndindex(x.shape):
        y[tuple(s + k * st for s, k, st in zip(starts, i, steps))] = x[i]
    return y


def _cross_entropy(logits, labels):
    m = logits.max(axis=1, keepdims=True)
    lse = (m + np.log(np.exp(logits - m).sum(axis=1, keepdims=True)))[:, 0]
    picked = logits[np.arange(logits.shape[0]), labels.astype(np.int64)]
    return np.mean(lse - picked)


OPS = {
    "matmul": np.matmul,
    "linear": _linear,
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.divide,
    "neg": np.negative,
    "relu": lambda x: np.maximum(x, 0),
    "leaky_relu": lambda x, alpha: np.where(x >= 0, x, alpha * x),
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "tanh": np.tanh,
    "gelu": _gelu,
    "erf": _erf,
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
    "softmax": _softmax,
    "log_softmax": _log_softmax,
    "layernorm": _layernorm,
    "batchnorm": _batchnorm,
    "conv2d": _conv2d,
    "maxpool2d": _maxpool2d,
    "avgpool2d": _avgpool2d,
    "global_avgpool": lambda x: x.mean(axis=(2, 3), keepdims=True),
    "flatten": _flatten,
    "reshape": lambda x, shape: x.reshape(shape),
    "transpose": lambda x, perm: np.transpose(x, perm),
    "concat": lambda *xs, axis: np.concatenate(xs, axis=axis),
    "slice": _slice,
    "reduce_sum": lambda x, axes, keepdims: x.sum(axis=tuple(axes), keepdims=keepdims),
    "reduce_mean": lambda x, axes, keepdims: x.mean(axis=tuple(axes), keepdims=keepdims),
    "reduce_max": lambda x, axes, keepdims: x.max(axis=tuple(axes), keepdims=keepdims),
    "mse_loss": lambda a, b: np.mean((a - b) ** 2),
    "cross_entropy": _cross_entropy,
    "where": lambda c, a, b: np.where(c > 0, a, b),
    "one_hot": lambda labels, classes: (labels[:, None] == np.arange(classes)).astype(np.float64),
    "slice_scatter": lambda x, shape, starts, steps: _slice_scatter(x, shape, starts, steps),
}
