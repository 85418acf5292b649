"""Every spec op, compiled to C and run, against the float64 reference (tests/spec_reference.py).

Each case is a one-op spec module written as text (parameters in a safetensors file
beside it), compiled by `vnnc.compile` and run through the bundle's library. Tolerances
are componentwise and derived from the op's rounding: one rounding per pointwise op
(`ulps`), a few for library transcendentals, and c*n*u*(|A||B|) for sums and
contractions, where |A||B| is the reference evaluated on the operands' magnitudes.
Bundles are cached by (op, shapes, attributes, parameters) so that hypothesis examples
sharing a shape reuse one build.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import vnnc
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from vnnc import safetensors
from vnnc.dialects.shapes import ShapeError, infer_shape
from vnnc.dialects.spec import OPS_BY_NAME, attr_value
from vnnc.frontend_mlir import parse_module

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from spec_reference import evaluate

U = 2.0**-24  # unit roundoff of float32
FLOOR = 2.0**-126  # smallest normal float32: the absolute floor under relative bounds
_BUNDLES: dict = {}


@pytest.fixture(scope="session")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("ops")


# ---------------------------------------------------------------- building one-op models


def _type(shape, dtype) -> str:
    elem = "i64" if dtype == np.int64 else "f32"
    return f"tensor<{''.join(f'{n}x' for n in shape)}{elem}>"


def _attr(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return f"{v} : i64"
    if isinstance(v, float):
        return f"{v:.17e} : f64"
    if isinstance(v, str):
        return f'"{v}"'
    return "array<i64" + "".join(f"{', ' if i else ': '}{int(x)}" for i, x in enumerate(v)) + ">"


def out_shape(op: str, shapes, attrs: dict) -> tuple[int, ...]:
    props = OPS_BY_NAME[op].get_irdl_definition().properties
    defaults = {k: attr_value(p.default_value) for k, p in props.items() if p.default_value is not None}
    return infer_shape(op, shapes, {**defaults, **attrs})


def module_text(op: str, operands, attrs: dict, param_idx) -> str:
    """`func @main(inputs) { y = spec.OP(operands) }`; operands in `param_idx` are spec.param."""
    args, lines, names = [], [], []
    for i, a in enumerate(operands):
        t = _type(a.shape, a.dtype)
        if i in param_idx:
            lines.append(f'%p{i} = spec.param "p{i}" {{sha256 = "{safetensors.param_sha256(a)}"}} : {t}')
            names.append(f"%p{i}")
        else:
            args.append(f"%a{i}: {t}")
            names.append(f"%a{i}")
    out = _type(out_shape(op, [a.shape for a in operands], attrs), np.float32)
    attr_text = " {" + ", ".join(f"{k} = {_attr(v)}" for k, v in attrs.items()) + "}" if attrs else ""
    ins = ", ".join(_type(a.shape, a.dtype) for a in operands)
    lines.append(f"%y = spec.{op} {', '.join(names)}{attr_text} : ({ins}) -> {out}")
    lines.append(f"func.return %y : {out}")
    body = "\n    ".join(lines)
    return (f'builtin.module attributes {{vnnc.params = "p.safetensors"}} {{\n'
            f"  func.func @main({', '.join(args)}) -> {out} {{\n    {body}\n  }}\n}}\n")


class Case:
    """One compiled one-op model; operands are given in op order, parameters included."""

    def __init__(self, root: Path, op: str, operands, attrs: dict, param_idx):
        d = root / f"case{len(_BUNDLES)}"
        d.mkdir()
        self.param_idx = tuple(param_idx)
        self.params = {f"p{i}": operands[i] for i in self.param_idx}
        self.text = module_text(op, operands, attrs, self.param_idx)
        if self.params:
            safetensors.write(d / "p.safetensors", self.params)
        (d / "model.mlir").write_text(self.text)
        self.bundle = vnnc.compile(d / "model.mlir", out=d / "bundle", force=True)
        self.module = parse_module(self.text, str(d / "model.mlir"))

    def inputs(self, operands) -> list[np.ndarray]:
        return [a for i, a in enumerate(operands) if i not in self.param_idx]

    def run(self, operands) -> np.ndarray:
        return np.asarray(self.bundle.run(*self.inputs(operands)), np.float64)

    def reference(self, operands) -> np.ndarray:
        params = {f"p{i}": operands[i] for i in self.param_idx}
        return evaluate(self.module, params, self.inputs(operands))[0]


def build(root: Path, op: str, operands, attrs: dict | None = None, param_idx=()) -> Case:
    attrs = attrs or {}
    key = (op, tuple((a.shape, a.dtype.str) for a in operands), tuple(sorted(attrs.items())),
           tuple((i, safetensors.param_sha256(operands[i])) for i in param_idx))
    if key not in _BUNDLES:
        _BUNDLES[key] = Case(root, op, operands, attrs, param_idx)
    return _BUNDLES[key]


def assert_within(got, want, bound, what="") -> None:
    """|got - want| <= bound componentwise; NaN exactly where the reference has NaN."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    bound = np.broadcast_to(np.asarray(bound, np.float64), want.shape)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(got), nan), f"{what}: NaN at {np.argwhere(np.isnan(got) != nan)[:5]}"
    with np.errstate(invalid="ignore"):
        ok = nan | (got == want) | (np.abs(got - want) <= bound)
    if not ok.all():
        i = tuple(np.argwhere(~ok)[0])
        raise AssertionError(f"{what}: at {i} got {got[i]!r}, expected {want[i]!r} "
                             f"(|err| {abs(got[i] - want[i]):.3g} > bound {bound[i]:.3g})")


# ---------------------------------------------------------------- tolerances
# A tolerance is tol(case, operands, want) -> componentwise bound.


def ulps(k: float):
    """k units in the last place of the exact result (2**-23 relative), plus the floor."""
    return lambda case, xs, want: k * 2.0**-23 * np.abs(want) + FLOOR


def summed(n: int, c: float = 2.0):
    """c*n*u*(|A||B|): a sum or contraction of n terms, bounded through the magnitudes."""
    return lambda case, xs, want: c * n * U * case.reference([np.abs(x) for x in xs]) + FLOOR


EXACT = lambda case, xs, want: 0.0  # data movement, max, negation: bit-exact


def gelu_tol(case, xs, want):
    # 1 + erf(x/sqrt2) cancels for x << 0: bound by the magnitudes of x/2 (1 + |erf|) ~ |x|
    return 8 * U * np.abs(xs[0]) + FLOOR


def softmax_tol(axis: int, log: bool):
    def tol(case, xs, want):
        x = xs[0].astype(np.float64)
        n = x.shape[axis]
        shifted = np.abs(x - x.max(axis=axis, keepdims=True))
        if log:  # (x - m) - log s: both terms, and log s to within n*u
            log_s = np.log(np.exp(-shifted).sum(axis=axis, keepdims=True))
            return 4 * U * (shifted + np.abs(log_s) + n + np.abs(want)) + FLOOR
        return 4 * U * (n + 2 + shifted) * np.abs(want) + FLOOR

    return tol


def layernorm_tol(axes):
    def tol(case, xs, want):
        x = xs[0].astype(np.float64)
        axes_ = tuple(a % x.ndim for a in axes)
        n = math.prod(x.shape[a] for a in axes_)
        inner = [x.shape[d] if d in axes_ else 1 for d in range(x.ndim)]
        mean = x.mean(axis=axes_, keepdims=True)
        sigma = np.sqrt(((x - mean) ** 2).mean(axis=axes_, keepdims=True) + 1e-5)
        z = np.abs(x - mean) / sigma
        scale = np.abs(xs[1]).reshape(inner) if len(xs) > 1 else 1.0
        bias = np.abs(xs[2]).reshape(inner) if len(xs) > 2 else 0.0
        mean_abs = np.abs(x).mean(axis=axes_, keepdims=True)
        return 4 * U * (scale * (n * mean_abs / sigma + (n + 2) * z) + scale * z + bias) + FLOOR

    return tol


def batchnorm_tol(case, xs, want):
    x, scale, bias, mean, var = (a.astype(np.float64) for a in xs)
    c = [1, x.shape[1]] + [1] * (x.ndim - 2)
    sigma = np.sqrt(var.reshape(c) + 1e-5)
    terms = np.abs(scale.reshape(c)) * (np.abs(x) + np.abs(mean.reshape(c))) / sigma
    return 4 * U * (terms + np.abs(bias.reshape(c))) + FLOOR


def mse_tol(case, xs, want):
    # a sum of n positive terms, each (p - t)^2 with 2 roundings, then one division
    return 4 * (xs[0].size + 3) * U * np.abs(want) + FLOOR


def cross_entropy_tol(case, xs, want):
    x = xs[0].astype(np.float64)
    n, c = x.shape
    m = x.max(axis=1)
    spread = np.abs(x - m[:, None]).max(axis=1)
    picked = np.abs(m - x[np.arange(n), xs[1]])
    log_s = np.log(np.exp(x - m[:, None]).sum(axis=1))
    return 4 * U * (n + c + 4) * np.mean(picked + log_s + spread) + FLOOR


# ---------------------------------------------------------------- every op, fixed cases


def rnd(*shape, lo=-2.0, hi=2.0, seed=0):
    return np.random.default_rng(seed + 7 * len(shape)).uniform(lo, hi, shape).astype(np.float32)


def pos(*shape, seed=0):
    return rnd(*shape, lo=0.25, hi=3.0, seed=seed)


CASES = [
    # op, operands, attrs, parameter operands, tolerance
    ("add", [rnd(2, 3, 4), rnd(3, 1, seed=1)], {}, (), ulps(1)),
    ("sub", [rnd(4), rnd(2, 3, 4, seed=1)], {}, (), ulps(1)),
    ("mul", [rnd(2, 1, 4), rnd(3, 1, seed=1)], {}, (), ulps(1)),
    ("div", [rnd(2, 3), pos(1, 3, seed=1)], {}, (), ulps(1)),
    ("neg", [rnd(3, 4)], {}, (), EXACT),
    ("relu", [np.array([-1.5, -0.0, 0.0, 2.5, np.nan, -np.inf, np.inf], np.float32)], {}, (), EXACT),
    ("leaky_relu", [np.array([-1.5, 0.0, 2.5, np.nan, -3e-3], np.float32)], {"alpha": 0.1}, (), ulps(1)),
    ("sigmoid", [rnd(3, 5, lo=-8, hi=8)], {}, (), ulps(4)),
    ("tanh", [rnd(3, 5, lo=-4, hi=4)], {}, (), ulps(2)),
    ("gelu", [rnd(4, 5, lo=-6, hi=6)], {}, (), gelu_tol),
    ("gelu", [rnd(4, 5, lo=-6, hi=6)], {"approximate": "tanh"}, (), gelu_tol),
    ("erf", [rnd(3, 5, lo=-3, hi=3)], {}, (), ulps(2)),
    ("exp", [rnd(3, 5, lo=-10, hi=10)], {}, (), ulps(2)),
    ("log", [pos(3, 5)], {}, (), ulps(2)),
    ("sqrt", [pos(3, 5)], {}, (), ulps(1)),
    ("matmul", [rnd(3, 5), rnd(5, 4, seed=1)], {}, (), summed(5)),
    ("matmul", [rnd(5), rnd(5, 4, seed=1)], {}, (), summed(5)),
    ("matmul", [rnd(3, 5), rnd(5, seed=1)], {}, (), summed(5)),
    ("matmul", [rnd(5), rnd(5, seed=1)], {}, (), summed(5)),
    ("matmul", [rnd(2, 1, 3, 5), rnd(4, 5, 2, seed=1)], {}, (), summed(5)),
    ("linear", [rnd(2, 6), rnd(3, 6, seed=1), rnd(3, seed=2)], {}, (1, 2), summed(7)),
    ("linear", [rnd(2, 3, 6), rnd(4, 6, seed=1)], {}, (1,), summed(6)),
    ("softmax", [rnd(3, 4, 5, lo=-5, hi=5)], {"axis": -1}, (), softmax_tol(-1, False)),
    ("softmax", [rnd(3, 4, 5, lo=-5, hi=5)], {"axis": 0}, (), softmax_tol(0, False)),
    ("log_softmax", [rnd(3, 4, 5, lo=-5, hi=5)], {"axis": 1}, (), softmax_tol(1, True)),
    ("layernorm", [rnd(2, 3, 8), rnd(8, seed=1), rnd(8, seed=2)], {"axes": (-1,)}, (1, 2),
     layernorm_tol((-1,))),
    ("layernorm", [rnd(2, 3, 4) + 5], {"axes": (1, 2), "eps": 1e-5}, (), layernorm_tol((1, 2))),
    ("layernorm", [rnd(3, 2, 4), rnd(3, 4, seed=1)], {"axes": (0, 2)}, (1,), layernorm_tol((0, 2))),
    ("batchnorm", [rnd(2, 3, 4, 4), rnd(3, seed=1), rnd(3, seed=2), rnd(3, seed=3), pos(3, seed=4)],
     {}, (1, 2, 3, 4), batchnorm_tol),
    ("batchnorm", [rnd(2, 3), rnd(3, seed=1), rnd(3, seed=2), rnd(3, seed=3), pos(3, seed=4)],
     {}, (1, 2, 3, 4), batchnorm_tol),
    ("conv2d", [rnd(2, 3, 5, 6), rnd(4, 3, 3, 3, seed=1), rnd(4, seed=2)], {}, (1, 2), summed(28)),
    ("conv2d", [rnd(1, 2, 7, 6), rnd(3, 2, 3, 2, seed=1)],
     {"strides": (2, 1), "pads": (1, 0, 2, 1), "dilations": (2, 2)}, (1,), summed(12)),
    ("conv2d", [rnd(1, 4, 5, 5), rnd(6, 2, 3, 3, seed=1), rnd(6, seed=2)],
     {"pads": (1, 1, 1, 1), "groups": 2}, (1, 2), summed(19)),
    ("conv2d", [rnd(1, 3, 4, 4), rnd(3, 1, 3, 3, seed=1)],
     {"pads": (1, 1, 1, 1), "strides": (2, 2), "groups": 3}, (1,), summed(9)),
    ("maxpool2d", [rnd(2, 3, 6, 6)], {"kernel": (2, 2), "strides": (2, 2)}, (), EXACT),
    ("maxpool2d", [rnd(1, 2, 7, 6) - 3],
     {"kernel": (3, 2), "strides": (2, 2), "pads": (1, 1, 1, 0), "dilations": (2, 1), "ceil_mode": True},
     (), EXACT),
    ("avgpool2d", [rnd(2, 2, 6, 6)], {"kernel": (3, 3), "strides": (3, 3)}, (), summed(10)),
    ("global_avgpool", [rnd(2, 3, 4, 5)], {}, (), summed(21)),
    ("flatten", [rnd(2, 3, 4)], {"axis": 2}, (), EXACT),
    ("reshape", [rnd(2, 3, 4)], {"shape": (4, 6)}, (), EXACT),
    ("transpose", [rnd(2, 3, 4)], {"perm": (2, 0, 1)}, (), EXACT),
    ("transpose", [rnd(3, 5)], {"perm": (1, 0)}, (), EXACT),
    ("concat", [rnd(2, 1, 3), rnd(2, 4, 3, seed=1), rnd(2, 2, 3, seed=2)], {"axis": 1}, (), EXACT),
    ("concat", [rnd(2, 3), rnd(2, 2, seed=1)], {"axis": -1}, (), EXACT),
    ("slice", [rnd(5, 6, 4)], {"starts": (1, 0, 3), "ends": (5, 6, -1), "steps": (2, 3, -1)}, (), EXACT),
    ("slice", [rnd(7)], {"starts": (6,), "ends": (0,), "steps": (-2,)}, (), EXACT),
    ("reduce_sum", [rnd(2, 3, 4)], {"axes": (0, 2), "keepdims": False}, (), summed(8)),
    ("reduce_sum", [rnd(2, 3, 4)], {"axes": (-1,), "keepdims": True}, (), summed(4)),
    ("reduce_mean", [rnd(2, 3, 4)], {"axes": (1,), "keepdims": True}, (), summed(4)),
    ("reduce_mean", [rnd(2, 3, 4)], {"axes": (0, 1, 2), "keepdims": False}, (), summed(25)),
    ("reduce_max", [rnd(2, 3, 4)], {"axes": (0, 2), "keepdims": True}, (), EXACT),
    ("mse_loss", [rnd(3, 4), rnd(3, 4, seed=1)], {}, (), mse_tol),
    ("cross_entropy", [rnd(4, 5, lo=-6, hi=6), np.array([0, 4, 2, 2], np.int64)], {}, (),
     cross_entropy_tol),
    # the ops of the backward pass (lower-autograd)
    ("where", [np.array([[-1.0, 0.0, 2.0], [np.nan, 3.0, -0.0]], np.float32), rnd(2, 3, seed=1), rnd(3, seed=2)],
     {}, (), EXACT),
    ("one_hot", [np.array([2, 0, 1, 2], np.int64)], {"classes": 3}, (), EXACT),
    ("slice_scatter", [rnd(2, 3)], {"shape": (5, 7), "starts": (4, 1), "steps": (-3, 2)}, (), EXACT),
]


@pytest.mark.parametrize(("op", "operands", "attrs", "param_idx", "tol"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_op(root, op, operands, attrs, param_idx, tol):
    case = build(root, op, operands, attrs, param_idx)
    want = case.reference(operands)
    assert_within(case.run(operands), want, tol(case, operands, want), op)


def test_every_spec_op_has_a_case():
    assert {c[0] for c in CASES} == set(OPS_BY_NAME)


# ---------------------------------------------------------------- semantics at the edges


def test_nan_propagates_through_relu_and_maxpool(root):
    x = np.array([[[[1.0, np.nan, -1.0, 0.5], [0.0, 2.0, -3.0, -0.5]]]], np.float32)
    relu = build(root, "relu", [x])
    assert np.array_equal(np.isnan(relu.run([x])), np.isnan(x))
    pool = build(root, "maxpool2d", [x], {"kernel": (2, 2), "strides": (2, 2)})
    y = pool.run([x])
    assert np.isnan(y[0, 0, 0, 0]) and y[0, 0, 0, 1] == 0.5


@pytest.mark.parametrize("include_pad", [False, True])
@pytest.mark.parametrize("ceil_mode", [False, True])
def test_avgpool_divisor(root, include_pad, ceil_mode):
    # pads and a ceil-mode overhang: corner windows count 4, 6 or 9 taps depending on mode
    x = rnd(1, 2, 6, 5, seed=3)
    attrs = {"kernel": (3, 3), "strides": (2, 2), "pads": (1, 1, 1, 0), "ceil_mode": ceil_mode,
             "count_include_pad": include_pad}
    case = build(root, "avgpool2d", [x], attrs)
    want = case.reference([x])
    assert_within(case.run([x]), want, summed(10)(case, [x], want), "avgpool2d")
    # the top-left window covers x[0:2, 0:2] and, with padding counted, 5 zero taps
    corner = x[0, 0, :2, :2].astype(np.float64).sum() / (9 if include_pad else 4)
    assert abs(want[0, 0, 0, 0] - corner) < 1e-12


@pytest.mark.parametrize("include_pad", [False, True])
def test_avgpool_ceil_overhang_is_never_counted(root, include_pad):
    # size 6, kernel 3, stride 2, pads 1: ceil mode adds a last window over rows 5, 6, 7,
    # of which 5 is x, 6 padding and 7 lies past the padded extent [-1, 7)
    x = np.ones((1, 1, 6, 6), np.float32)
    attrs = {"kernel": (3, 3), "strides": (2, 2), "pads": (1, 1, 1, 1), "ceil_mode": True,
             "count_include_pad": include_pad}
    case = build(root, "avgpool2d", [x], attrs)
    y = case.run([x])
    assert y.shape == (1, 1, 4, 4)
    assert_within(y, case.reference([x]), 4 * U, "avgpool2d")
    if include_pad:
        assert y[0, 0, 0, 0] == np.float32(4 / 9) and y[0, 0, 3, 3] == 0.25
        assert y[0, 0, 1, 3] == np.float32(3 / 6)
    else:
        assert (y == 1.0).all()


def test_cross_entropy_label_out_of_range_is_nan(root):
    logits = rnd(2, 3)
    labels = np.array([1, 3], np.int64)
    assert np.isnan(build(root, "cross_entropy", [logits, labels]).run([logits, labels]))


def test_cross_entropy_labels_as_parameter(root):
    logits, labels = rnd(3, 4, seed=5), np.array([0, 2, 1], np.int64)
    case = build(root, "cross_entropy", [logits, labels], param_idx=(1,))
    want = case.reference([logits, labels])
    assert_within(case.run([logits, labels]), want, cross_entropy_tol(case, [logits, labels], want))


# ---------------------------------------------------------------- random shapes


def _data(seed: int, *shape, lo=-2.0, hi=2.0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(lo, hi, shape).astype(np.float32)


@settings(deadline=None, max_examples=12)
@given(st.sampled_from(["add", "sub", "mul", "div"]), st.lists(st.integers(1, 3), min_size=1, max_size=3),
       st.data(), st.integers(0, 2**32 - 1))
def test_elementwise_broadcast(root, op, shape, data, seed):
    def operand_shape():
        keep = data.draw(st.integers(0, len(shape)))
        return [n if data.draw(st.booleans()) else 1 for n in shape[len(shape) - keep:]]

    a = _data(seed, *operand_shape())
    b = _data(seed + 1, *operand_shape(), lo=0.5, hi=2.0)
    case = build(root, op, [a, b])
    want = case.reference([a, b])
    assert_within(case.run([a, b]), want, ulps(1)(case, [a, b], want), op)


@settings(deadline=None, max_examples=10)
@given(st.integers(1, 3), st.integers(1, 9), st.integers(1, 4), st.booleans(), st.integers(0, 2**32 - 1))
def test_linear_random(root, batch, n_in, n_out, with_bias, seed):
    xs = [_data(seed, batch, n_in), _data(seed + 1, n_out, n_in)] + ([_data(seed + 2, n_out)] if with_bias else [])
    case = build(root, "linear", xs)
    want = case.reference(xs)
    assert_within(case.run(xs), want, summed(n_in + 1)(case, xs, want), "linear")


@settings(deadline=None, max_examples=12)
@given(st.sampled_from([(1, 1), (2, 1), (2, 2), (4, 2), (3, 3)]), st.integers(3, 6), st.integers(3, 6),
       st.integers(1, 3), st.integers(1, 3), st.integers(1, 2), st.integers(1, 2),
       st.lists(st.integers(0, 1), min_size=4, max_size=4), st.booleans(), st.integers(0, 2**32 - 1))
def test_conv2d_random(root, chans, h, w, kh, kw, stride, dilation, pads, with_bias, seed):
    c_in, groups = chans
    c_out = 2 * groups
    attrs = {"strides": (stride, 1), "pads": tuple(pads), "dilations": (dilation, 1), "groups": groups}
    x, wt = _data(seed, 1, c_in, h, w), _data(seed + 1, c_out, c_in // groups, kh, kw)
    xs = [x, wt] + ([_data(seed + 2, c_out)] if with_bias else [])
    try:
        out_shape("conv2d", [a.shape for a in xs], attrs)
    except ShapeError:
        assume(False)
    case = build(root, "conv2d", xs, attrs)
    want = case.reference(xs)
    n = c_in // groups * kh * kw + 1
    assert_within(case.run(xs), want, summed(n)(case, xs, want), "conv2d")


@settings(deadline=None, max_examples=12)
@given(st.integers(2, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 2), st.booleans(),
       st.data(), st.integers(0, 2**32 - 1))
def test_maxpool_random(root, k, s0, s1, dilation, ceil_mode, data, seed):
    pads = tuple(data.draw(st.integers(0, k // 2)) for _ in range(4))
    attrs = {"kernel": (k, 2), "strides": (s0, s1), "pads": pads, "dilations": (dilation, 1),
             "ceil_mode": ceil_mode}
    x = _data(seed, 1, 2, 6, 5)
    case = build(root, "maxpool2d", [x], attrs)
    assert_within(case.run([x]), case.reference([x]), 0.0, "maxpool2d")


@settings(deadline=None, max_examples=10)
@given(st.lists(st.integers(1, 5), min_size=1, max_size=3), st.data(), st.booleans(),
       st.integers(0, 2**32 - 1))
def test_softmax_random(root, shape, data, log, seed):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    op = "log_softmax" if log else "softmax"
    x = _data(seed, *shape, lo=-10, hi=10)
    case = build(root, op, [x], {"axis": axis})
    want = case.reference([x])
    assert_within(case.run([x]), want, softmax_tol(axis, log)(case, [x], want), op)


def test_an_op_reading_one_temporary_twice(tmp_path):
    """Regression: lower-to-loops freed a temporary that one op reads twice (mul %t, %t)
    once per operand, and the checker rightly rejected the bundle's double free."""
    (tmp_path / "m.mlir").write_text("""\
builtin.module {
  func.func @main(%x: tensor<3xf32>) -> tensor<3xf32> {
    %t = spec.neg %x : (tensor<3xf32>) -> tensor<3xf32>
    %y = spec.mul %t, %t : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
    func.return %y : tensor<3xf32>
  }
}
""")
    for precision in (None, {"precision": "bf16"}):
        bundle = vnnc.compile(tmp_path / "m.mlir", out=tmp_path / "b", force=True, precision=precision)
        x = np.array([1.5, -2.0, 0.25], np.float32)
        assert np.array_equal(bundle.run(x), x * x)
