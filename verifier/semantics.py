"""The checker's own meaning of every spec op: shape rules and a float64 evaluator.

Written from the ops' mathematical definitions (linear y = x W^T + b; NCHW convolution with
pads [top, left, bottom, right]; pooling with PyTorch's ceil mode; ONNX Flatten), sharing
no code with the compiler. `infer` re-derives a result shape, `apply` computes a result in
float64 (class labels stay exact int64), `evaluate` runs a spec stage's @main: the
reference the library is sampled against. Every mismatch is a Reject naming the op.
"""

from __future__ import annotations

import math

import numpy as np
from vnnc.verifier import precision
from vnnc.verifier.check import Reject
from vnnc.verifier.mlir import DenseArray, Op, Typed, main_function

# ---------------------------------------------------------------- properties

REQUIRED = None
_POOL = {"kernel": (tuple, REQUIRED), "strides": (tuple, REQUIRED), "pads": (tuple, (0, 0, 0, 0)),
         "ceil_mode": (bool, False)}
_REDUCE = {"axes": (tuple, REQUIRED), "keepdims": (bool, False)}
PROPS: dict[str, dict[str, tuple[type, object]]] = {  # op -> {name: (kind, default)}
    "leaky_relu": {"alpha": (float, 0.01)},
    "gelu": {"approximate": (str, "none")},
    **{name: {"axis": (int, REQUIRED)} for name in ("softmax", "log_softmax")},
    "layernorm": {"axes": (tuple, REQUIRED), "eps": (float, 1e-5)},
    "batchnorm": {"eps": (float, 1e-5)},
    "conv2d": {"strides": (tuple, (1, 1)), "pads": (tuple, (0, 0, 0, 0)),
               "dilations": (tuple, (1, 1)), "groups": (int, 1)},
    "maxpool2d": {**_POOL, "dilations": (tuple, (1, 1))},
    "avgpool2d": {**_POOL, "count_include_pad": (bool, False)},
    "flatten": {"axis": (int, 1)},
    "reshape": {"shape": (tuple, REQUIRED)},
    "transpose": {"perm": (tuple, REQUIRED)},
    "concat": {"axis": (int, REQUIRED)},
    "slice": {"starts": (tuple, REQUIRED), "ends": (tuple, REQUIRED), "steps": (tuple, REQUIRED)},
    "reduce_sum": _REDUCE, "reduce_mean": _REDUCE, "reduce_max": _REDUCE,
    "one_hot": {"classes": (int, REQUIRED)},  # with where and slice_scatter: the ops of the backward pass
    "slice_scatter": {"shape": (tuple, REQUIRED), "starts": (tuple, REQUIRED), "steps": (tuple, REQUIRED)},
}


def plain(where: str, value):
    """An attribute as plain Python: int (an untyped integer is an i64), float, bool, str or a
    tuple of ints; the one converter of the checker."""
    if isinstance(value, (bool, str)) or type(value) is int:
        return value
    if isinstance(value, Typed) and value.type.kind == "scalar":
        kinds = {"i64": int, "i1": bool, "f32": float, "f64": float}
        if value.type.elem in kinds:
            return kinds[value.type.elem](value.value)
    if isinstance(value, DenseArray) and value.elem == "i64":
        return tuple(int(v) for v in value.values)
    raise Reject(f"{where} has an unsupported value {value!r}")


def plain_attrs(op: Op) -> dict:
    return {key: plain(f"{op.name}: property {key}", value) for key, value in op.props.items()}


def full_attrs(op: str, attrs: dict) -> dict:
    """`attrs` checked against the op's PROPS (exact kinds: a bool is not an int, an int not a
    float), defaults filled in."""
    table = PROPS.get(op, {})
    for key in attrs:
        if key not in table:
            raise Reject(f"spec.{op}: unknown property {key!r}")
    out = {}
    for key, (kind, default) in table.items():
        value = attrs.get(key, default)
        if value is REQUIRED:
            raise Reject(f"spec.{op}: missing property {key!r}")
        if kind is tuple and isinstance(value, (tuple, list)) and all(type(v) is int for v in value):
            value = tuple(value)
        elif type(value) is not kind:
            raise Reject(f"spec.{op}: property {key} must be a {kind.__name__}, got {value!r}")
        out[key] = value
    return out


# ---------------------------------------------------------------- shape rules


def _axis(op: str, axis: int, rank: int) -> int:
    if not -rank <= axis < rank:
        raise Reject(f"spec.{op}: axis {axis} is out of range for rank {rank}")
    return axis % rank


def _broadcast(op: str, a: tuple, b: tuple) -> tuple:
    # numpy: align on the right; sizes agree or one of them is 1
    rank = max(len(a), len(b))
    a, b = (1,) * (rank - len(a)) + a, (1,) * (rank - len(b)) + b
    for da, db in zip(a, b):
        if da != db and 1 not in (da, db):
            raise Reject(f"spec.{op}: shapes {list(a)} and {list(b)} do not broadcast")
    return tuple(db if da == 1 else da for da, db in zip(a, b))


def _shape_unary(op, s, attrs):
    if op == "gelu" and attrs["approximate"] not in ("none", "tanh"):
        raise Reject(f"spec.gelu: approximate must be none or tanh, got {attrs['approximate']!r}")
    if op in ("softmax", "log_softmax"):
        _axis(op, attrs["axis"], len(s[0]))
    return s[0]


def _shape_matmul(op, s, attrs):
    # numpy.matmul: a 1-D a is [1, k] and a 1-D b is [k, 1], the added axis dropped again
    a, b = s
    if not a or not b:
        raise Reject(f"spec.{op}: operands must have rank >= 1, got {list(a)} and {list(b)}")
    a2, b2 = ((1,) + a if len(a) == 1 else a), (b + (1,) if len(b) == 1 else b)
    if a2[-1] != b2[-2]:
        raise Reject(f"spec.{op}: contraction sizes {a2[-1]} and {b2[-2]} differ")
    out = _broadcast(op, a2[:-2], b2[:-2]) + (a2[-2], b2[-1])
    out = out[:-2] + out[-1:] if len(a) == 1 else out
    return out[:-1] if len(b) == 1 else out


def _bias(op, s, n):
    if len(s) == 3 and s[2] != (n,):
        raise Reject(f"spec.{op}: bias {list(s[2])} must be [{n}]")


def _shape_linear(op, s, attrs):
    # x [..., in], W [out, in], b [out] -> [..., out]
    x, w = s[0], s[1]
    if len(x) < 1 or len(w) != 2 or x[-1] != w[1]:
        raise Reject(f"spec.{op}: input {list(x)} does not fit weight {list(w)} ([out, in])")
    _bias(op, s, w[0])
    return x[:-1] + (w[0],)


def _shape_norm(op, s, attrs):
    # layernorm: scale, bias (optional) shaped as x over `axes`; batchnorm: four [C] operands
    x = s[0]
    if op == "layernorm":
        axes = sorted(_axis(op, a, len(x)) for a in attrs["axes"])
        if not axes or len(set(axes)) != len(axes):
            raise Reject(f"spec.{op}: axes {list(attrs['axes'])} must be distinct and non-empty")
        inner = tuple(x[a] for a in axes)
    elif len(x) < 2:
        raise Reject(f"spec.{op}: input must have rank >= 2, got {list(x)}")
    else:
        inner = (x[1],)
    if attrs["eps"] < 0:
        raise Reject(f"spec.{op}: eps must be >= 0")
    for t in s[1:]:
        if t != inner:
            raise Reject(f"spec.{op}: operand {list(t)} must have shape {list(inner)}")
    return x


def window_count(op, size, kernel, stride, lo, hi, dilation, ceil_mode) -> int:
    """Windows along one axis: floor (or ceil) ((size + lo + hi - span) / stride) + 1 with
    span = dilation (kernel - 1) + 1; in ceil mode a window must start before size + lo."""
    span = dilation * (kernel - 1) + 1
    room = size + lo + hi - span
    if room < 0:
        raise Reject(f"spec.{op}: window of {span} exceeds the padded input {size + lo + hi}")
    if not ceil_mode:
        return room // stride + 1
    n = (room + stride - 1) // stride + 1
    return n - 1 if (n - 1) * stride >= size + lo else n


def _window(op, x, kernel, attrs) -> tuple:
    strides, pads, dil = attrs["strides"], attrs["pads"], attrs.get("dilations", (1, 1))
    if len(x) != 4 or len(kernel) != 2 or len(strides) != 2 or len(dil) != 2 or len(pads) != 4:
        raise Reject(f"spec.{op}: needs an NCHW input, 2 kernel sizes, strides, dilations, 4 pads")
    if min(kernel) < 1 or min(strides) < 1 or min(dil) < 1 or min(pads) < 0:
        raise Reject(f"spec.{op}: kernel, strides and dilations must be >= 1 and pads >= 0")
    return tuple(window_count(op, x[2 + d], kernel[d], strides[d], pads[d], pads[2 + d], dil[d],
                              attrs.get("ceil_mode", False)) for d in range(2))


def _shape_conv2d(op, s, attrs):
    # x [N, C, H, W], W [O, C/groups, kH, kW], b [O] -> [N, O, oH, oW]
    x, w, g = s[0], s[1], attrs["groups"]
    if len(w) != 4:
        raise Reject(f"spec.{op}: weight must have rank 4, got {list(w)}")
    oh, ow = _window(op, x, w[2:], attrs)
    if g < 1 or w[0] % g or w[1] * g != x[1]:
        raise Reject(f"spec.{op}: weight {list(w)} with groups {g} does not fit input {list(x)}")
    _bias(op, s, w[0])
    return (x[0], w[0], oh, ow)


def _shape_pool(op, s, attrs):
    if op != "global_avgpool":
        return s[0][:2] + _window(op, s[0], attrs["kernel"], attrs)
    if len(s[0]) != 4:  # [N, C, H, W] -> [N, C, 1, 1]
        raise Reject(f"spec.{op}: input must be NCHW, got {list(s[0])}")
    return s[0][:2] + (1, 1)


def _shape_reshape(op, s, attrs):
    # flatten (ONNX): [prod(shape[:axis]), prod(shape[axis:])]; reshape: the same elements
    x = s[0]
    if op == "flatten":
        axis = attrs["axis"]
        if not -len(x) <= axis <= len(x):
            raise Reject(f"spec.{op}: axis {axis} is out of range for rank {len(x)}")
        return (math.prod(x[:axis]), math.prod(x[axis:]))  # a negative axis counts from the end
    new = attrs["shape"]
    if min(new, default=0) < 0 or math.prod(new) != math.prod(x):
        raise Reject(f"spec.{op}: cannot reshape {list(x)} to {list(new)}")
    return new


def _shape_transpose(op, s, attrs):
    # y.shape[k] = x.shape[perm[k]]
    perm = attrs["perm"]
    if sorted(perm) != list(range(len(s[0]))):
        raise Reject(f"spec.{op}: perm {list(perm)} is not a permutation of rank {len(s[0])}")
    return tuple(s[0][p] for p in perm)


def _shape_concat(op, s, attrs):
    axis = _axis(op, attrs["axis"], len(s[0]))
    for t in s:
        if len(t) != len(s[0]) or any(t[d] != s[0][d] for d in range(len(t)) if d != axis):
            raise Reject(f"spec.{op}: shapes {[list(t) for t in s]} differ outside axis {axis}")
    return s[0][:axis] + (sum(t[axis] for t in s),) + s[0][axis + 1:]


def slice_count(start: int, end: int, step: int) -> int:
    """How many of start, start + step, ... lie strictly before end, in step's direction."""
    if step > 0:
        return max(0, (end - start + step - 1) // step)
    return max(0, (start - end - step - 1) // -step)


def _shape_slice(op, s, attrs):
    # dimension d keeps starts[d], starts[d] + steps[d], ... before ends[d], all inside it
    x, starts, ends, steps = s[0], attrs["starts"], attrs["ends"], attrs["steps"]
    if not len(starts) == len(ends) == len(steps) == len(x):
        raise Reject(f"spec.{op}: starts, ends and steps need one entry per dimension ({len(x)})")
    out = []
    for d in range(len(x)):
        n = slice_count(starts[d], ends[d], steps[d]) if steps[d] else -1
        last = starts[d] + (n - 1) * steps[d]
        if n < 0 or (n and not (0 <= starts[d] < x[d] and 0 <= last < x[d])):
            raise Reject(f"spec.{op}: slice {starts[d]}:{ends[d]}:{steps[d]} does not fit "
                         f"dimension {d} of size {x[d]}")
        out.append(n)
    return tuple(out)


def _shape_reduce(op, s, attrs):
    x = s[0]
    axes = [_axis(op, a, len(x)) for a in attrs["axes"]]
    if len(set(axes)) != len(axes):
        raise Reject(f"spec.{op}: axes {list(attrs['axes'])} repeat")
    if attrs["keepdims"]:
        return tuple(1 if d in axes else x[d] for d in range(len(x)))
    return tuple(x[d] for d in range(len(x)) if d not in axes)


def _shape_loss(op, s, attrs):
    # mse_loss: two equal shapes; cross_entropy: logits [N, C], labels [N]; both -> scalar
    if op == "mse_loss" and s[0] != s[1]:
        raise Reject(f"spec.{op}: prediction {list(s[0])} and target {list(s[1])} differ")
    if op == "cross_entropy" and (len(s[0]) != 2 or s[1] != s[0][:1]):
        raise Reject(f"spec.{op}: logits {list(s[0])} and labels {list(s[1])} must be [N, C], [N]")
    return ()


def _shape_backward(op, s, attrs):
    # where: c, a, b broadcast; one_hot: [N] -> [N, classes]; slice_scatter: x is the slice of shape at starts by steps
    if op == "where":
        return _broadcast(op, _broadcast(op, s[0], s[1]), s[2])
    if op == "one_hot" and len(s[0]) == 1 and attrs["classes"] >= 1:
        return s[0] + (attrs["classes"],)
    ends = tuple(b + n * st for b, n, st in zip(attrs.get("starts", ()), s[0], attrs.get("steps", ())))
    if op == "slice_scatter" and _shape_slice(op, [attrs["shape"]], {**attrs, "ends": ends}) == s[0]:
        return attrs["shape"]
    raise Reject(f"spec.{op}: operands {[list(t) for t in s]} do not fit its properties")


SHAPE_RULES = {  # op -> (allowed operand counts, None: one or more; shape rule)
    **{name: ((1,), _shape_unary) for name in ("neg", "relu", "leaky_relu", "sigmoid", "tanh",
                                               "gelu", "erf", "exp", "log", "sqrt", "softmax",
                                               "log_softmax")},
    **{name: ((2,), lambda op, s, a: _broadcast(op, *s)) for name in ("add", "sub", "mul", "div")},
    "matmul": ((2,), _shape_matmul), "linear": ((2, 3), _shape_linear),
    "layernorm": ((1, 2, 3), _shape_norm), "batchnorm": ((5,), _shape_norm),
    "conv2d": ((2, 3), _shape_conv2d), "maxpool2d": ((1,), _shape_pool),
    "avgpool2d": ((1,), _shape_pool), "global_avgpool": ((1,), _shape_pool),
    "flatten": ((1,), _shape_reshape), "reshape": ((1,), _shape_reshape),
    "transpose": ((1,), _shape_transpose), "concat": (None, _shape_concat),
    "slice": ((1,), _shape_slice), "reduce_sum": ((1,), _shape_reduce),
    "reduce_mean": ((1,), _shape_reduce), "reduce_max": ((1,), _shape_reduce),
    "mse_loss": ((2,), _shape_loss), "cross_entropy": ((2,), _shape_loss),
    "where": ((3,), _shape_backward), "one_hot": ((1,), _shape_backward), "slice_scatter": ((1,), _shape_backward),
}


def infer(op: str, in_shapes: list, attrs: dict) -> tuple:
    """The result shape of spec op `op` (short name, "linear") on operands of `in_shapes`."""
    if op not in SHAPE_RULES:
        raise Reject(f"spec.{op}: not a spec op")
    counts, rule = SHAPE_RULES[op]
    if (counts is None and not in_shapes) or (counts is not None and len(in_shapes) not in counts):
        raise Reject(f"spec.{op}: {len(in_shapes)} operands, expected {counts or 'one or more'}")
    shapes = [tuple(s) for s in in_shapes]
    for s in shapes:
        if not all(type(d) is int and d >= 0 for d in s):
            raise Reject(f"spec.{op}: operand shape {list(s)} is not static")
    return rule(op, shapes, full_attrs(op, attrs))


# ---------------------------------------------------------------- evaluation (float64)

_erf = np.vectorize(math.erf, otypes=[np.float64])


def _sigmoid(x):
    # 1 / (1 + e^-x), written e^x / (1 + e^x) for x < 0 so that nothing overflows
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _gelu(x, approximate):
    if approximate == "tanh":  # x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        return x / 2 * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    return x / 2 * (1 + _erf(x / math.sqrt(2)))  # x/2 (1 + erf(x / sqrt 2))


def _softmax(x, axis, log):
    # softmax = e^(x - m) / sum e^(x - m); log_softmax = x - m - log sum e^(x - m); m = max
    m = np.max(x, axis=axis, keepdims=True)
    total = np.sum(np.exp(x - m), axis=axis, keepdims=True)
    return x - m - np.log(total) if log else np.exp(x - m) / total


def _layernorm(x, affine, a):
    # (x - mean) / sqrt(var + eps) * scale + bias, mean and biased var over `axes`
    axes = tuple(sorted(d % x.ndim for d in a["axes"]))
    mean = np.mean(x, axis=axes, keepdims=True)
    y = (x - mean) / np.sqrt(np.mean((x - mean) ** 2, axis=axes, keepdims=True) + a["eps"])
    inner = tuple(x.shape[d] if d in axes else 1 for d in range(x.ndim))
    if len(affine) >= 1:
        y = y * affine[0].reshape(inner)
    if len(affine) == 2:
        y = y + affine[1].reshape(inner)
    return y


def _batchnorm(x, scale, bias, mean, var, a):
    # per channel c (axis 1): (x - mean[c]) / sqrt(var[c] + eps) * scale[c] + bias[c]
    c = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    y = (x - mean.reshape(c)) / np.sqrt(var.reshape(c) + a["eps"])
    return y * scale.reshape(c) + bias.reshape(c)


def _windows(x, kernel, a, shape, pad_value):
    """w[n, c, i, j, p, q] = xp[n, c, i*s0 + p*d0, j*s1 + q*d1]: x padded [top, left, bottom,
    right] with pad_value, and further at the bottom and right so that ceil-mode windows fit."""
    top, left, bottom, right = a["pads"]
    (s0, s1), (d0, d1), (oh, ow) = a["strides"], a.get("dilations", (1, 1)), shape[2:]
    span = (d0 * (kernel[0] - 1) + 1, d1 * (kernel[1] - 1) + 1)
    extra_h = max(0, (oh - 1) * s0 + span[0] - (x.shape[2] + top + bottom))
    extra_w = max(0, (ow - 1) * s1 + span[1] - (x.shape[3] + left + right))
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom + extra_h), (left, right + extra_w)),
                constant_values=pad_value)
    view = np.lib.stride_tricks.sliding_window_view(xp, span, axis=(2, 3))
    return view[:, :, :(oh - 1) * s0 + 1:s0, :(ow - 1) * s1 + 1:s1, ::d0, ::d1]


def _conv2d(x, w, bias, a, shape):
    # y[n,o,i,j] = b[o] + sum_{c,p,q} x[n, g*C/G + c, i*s0 + p*d0 - top, j*s1 + q*d1 - left]
    # w[o,c,p,q], x = 0 outside, g the group of o: output channels g*O/G .. (g+1)*O/G - 1
    groups, cg, og = a["groups"], w.shape[1], w.shape[0] // a["groups"]
    win = _windows(x, w.shape[2:], a, shape, 0.0)
    y = np.concatenate([np.tensordot(win[:, g * cg:(g + 1) * cg], w[g * og:(g + 1) * og], ([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2)
                        for g in range(groups)], axis=1)
    return y + bias[0].reshape(1, -1, 1, 1) if bias else y


def _maxpool2d(x, a, shape):
    # y[n,c,i,j] = max over the window; padding is -inf (never wins), NaN propagates
    return _windows(x, a["kernel"], a, shape, -np.inf).max(axis=(4, 5))


def _avgpool2d(x, a, shape):
    # y[n,c,i,j] = (sum over the window, padding 0) / (its taps inside x, or with
    # count_include_pad inside x and its pads: PyTorch's rule; never the ceil-mode overhang)
    top, left, bottom, right = a["pads"]
    mask, b = np.ones(x.shape), a
    if a["count_include_pad"]:
        mask = np.pad(mask, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=1.0)
        b = {**a, "pads": (0, 0, 0, 0)}
    total = _windows(x, a["kernel"], a, shape, 0.0).sum(axis=(4, 5))
    return total / _windows(mask, a["kernel"], b, shape, 0.0).sum(axis=(4, 5))


def _slice(x, a):
    # y[..i..] = x[..starts[d] + i steps[d]..], one index list per dimension
    for d in range(x.ndim):
        start, step = a["starts"][d], a["steps"][d]
        n = slice_count(start, a["ends"][d], step)
        x = np.take(x, start + step * np.arange(n, dtype=np.int64), axis=d)
    return x


def _cross_entropy(z, t):
    # mean_n (log sum_c e^z[n,c] - z[n, t[n]]), the log-sum-exp shifted by the row max
    if t.dtype.kind == "f" and not np.all(t == np.floor(t)):
        raise Reject("spec.cross_entropy: labels must be integers")
    labels = t.astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= z.shape[1]):
        raise Reject(f"spec.cross_entropy: labels must lie in [0, {z.shape[1]})")
    m = np.max(z, axis=1)
    lse = m + np.log(np.sum(np.exp(z - m[:, None]), axis=1))
    return np.mean(lse - z[np.arange(z.shape[0]), labels])


def _slice_scatter(x, a, shape):
    y = np.zeros(shape)  # y[starts + i steps] = x[i] per dimension
    y[np.ix_(*[b + st * np.arange(n) for b, st, n in zip(a["starts"], a["steps"], x.shape)])] = x
    return y


def _reduce(f, x, a):
    return f(x, axis=tuple(d % x.ndim for d in a["axes"]), keepdims=a["keepdims"])


ELEMENTWISE = {  # op -> f(x) or f(a, b), numpy broadcasting
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide, "neg": np.negative,
    "relu": lambda x: np.maximum(x, 0.0),  # max(x, 0); NaN stays NaN
    "sigmoid": _sigmoid, "tanh": np.tanh, "erf": _erf, "exp": np.exp, "log": np.log, "sqrt": np.sqrt,
}
APPLY = {  # op -> f(operands, properties, result shape)
    "leaky_relu": lambda x, a, s: np.where(x[0] >= 0, x[0], a["alpha"] * x[0]),
    "gelu": lambda x, a, s: _gelu(x[0], a["approximate"]),
    "softmax": lambda x, a, s: _softmax(x[0], a["axis"], log=False),
    "log_softmax": lambda x, a, s: _softmax(x[0], a["axis"], log=True),
    "matmul": lambda x, a, s: np.matmul(x[0], x[1]),
    "linear": lambda x, a, s: np.matmul(x[0], x[1].T) + (x[2] if len(x) == 3 else 0.0),
    "layernorm": lambda x, a, s: _layernorm(x[0], x[1:], a),
    "batchnorm": lambda x, a, s: _batchnorm(*x, a),
    "conv2d": lambda x, a, s: _conv2d(x[0], x[1], x[2:], a, s),
    "maxpool2d": lambda x, a, s: _maxpool2d(x[0], a, s),
    "avgpool2d": lambda x, a, s: _avgpool2d(x[0], a, s),
    "global_avgpool": lambda x, a, s: np.mean(x[0], axis=(2, 3), keepdims=True),
    **dict.fromkeys(("flatten", "reshape"), lambda x, a, s: x[0].reshape(s)),  # row-major
    "transpose": lambda x, a, s: np.transpose(x[0], a["perm"]),
    "concat": lambda x, a, s: np.concatenate(x, axis=a["axis"]),
    "slice": lambda x, a, s: _slice(x[0], a),
    "reduce_sum": lambda x, a, s: _reduce(np.sum, x[0], a),
    "reduce_mean": lambda x, a, s: _reduce(np.mean, x[0], a),
    "reduce_max": lambda x, a, s: _reduce(np.max, x[0], a),
    "mse_loss": lambda x, a, s: np.mean((x[0] - x[1]) ** 2),
    "cross_entropy": lambda x, a, s: _cross_entropy(x[0], x[1]),
    "where": lambda x, a, s: np.where(x[0] > 0, x[1], x[2]),  # c > 0 ? a : b
    "one_hot": lambda x, a, s: (x[0][:, None] == np.arange(s[1])).astype(np.float64),
    "slice_scatter": lambda x, a, s: _slice_scatter(x[0], a, s),
}


def apply(op: str, inputs: list, attrs: dict) -> np.ndarray:
    """Spec op `op` on `inputs`, in float64 (labels of cross_entropy: exact integers)."""
    xs = [np.asarray(v) for v in inputs]
    shape = infer(op, [x.shape for x in xs], attrs)
    xs = [x if (op, k) == ("cross_entropy", 1) else x.astype(np.float64) for k, x in enumerate(xs)]
    with np.errstate(all="ignore"):  # IEEE results (inf, NaN) are part of the definition
        y = ELEMENTWISE[op](*xs) if op in ELEMENTWISE else APPLY[op](xs, full_attrs(op, attrs), shape)
    y = np.asarray(y, dtype=np.float64)
    if y.shape != shape:
        raise Reject(f"spec.{op}: evaluated shape {list(y.shape)} is not {list(shape)}")
    return y


def evaluate(module: Op, params: dict, inputs: list) -> list[np.ndarray]:
    """The outputs of a spec stage's @main on `inputs`, in float64 (int64 for i64 values);
    of an fp stage's, with each op's result rounded once to its storage format (the
    rounding of intermediate operations in the accumulation format is not modelled).
    The stage is one the import (and precision) witness accepted."""
    block = main_function(module).regions[0][0]
    if len(inputs) != len(block.args):
        raise Reject(f"@main takes {len(block.args)} inputs, got {len(inputs)}")
    env = {}
    for (name, t), x in zip(block.args, inputs):
        if np.shape(x) != t.shape:
            raise Reject(f"input {name}: shape {list(np.shape(x))} is not {list(t.shape)}")
        env[name] = np.asarray(x).astype(np.int64 if t.elem == "i64" else np.float64)
    for op in block.ops[:-1]:
        if op.name == "spec.param":
            y = params[op.props["name"]]
        elif op.name == "spec.constant":
            y = op.props["value"].values
        elif op.name == "fp.round":
            y = precision.round_to(env[op.operands[0]], op.props["format"], op.props["rounding"])
        elif op.name.startswith("fp."):  # the op in the reals, rounded once to its storage format
            attrs = {k: v for k, v in plain_attrs(op).items() if k not in precision.FP_PROPS}
            y = apply(op.name.removeprefix("fp."), [env[v] for v in op.operands], attrs)
            y = precision.round_to(y, precision.format_of(op.result_types[0].elem), op.props["rounding"])
        else:
            y = apply(op.name.removeprefix("spec."), [env[v] for v in op.operands], plain_attrs(op))
        env[op.results[0]] = y.astype(np.int64 if y.dtype.kind in "iu" else np.float64)
    return [env[v] for v in block.ops[-1].operands]
