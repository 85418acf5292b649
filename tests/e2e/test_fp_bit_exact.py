"""Emulated formats end to end, bit for bit: one-op models compiled with `--precision`,
run through their bundles, against an exact rational reference (issue 4, item 3).

The models are one spec op each (add, sub, mul, div, neg, relu, maxpool2d, sqrt, and
linear with one or two input features, its weight and bias parameters), compiled with a
storage format in {f16, bf16, fp8-e4m3fn, fp8-e4m3fn-sat, fp8-e5m2, e5m6, e3m2}, a rounding
mode in {nearest, zero, up, down} and an accumulation format in {f32, f64}. The product is
sampled deterministically (`CASES`): every format and mode for add, mul, div (acc f64) and
for linear with two features (acc alternating; both for nearest, where rows built to tie
only when an f32 accumulator loses a term tell f32 from f64), the others one or two modes
per format, rotating so that every op meets every mode and both accumulation formats.
Builds are cached by (op, format, mode, acc, shapes, attributes, parameters).

The reference follows the semantics the fp stage records (dialects/fp.py), with
`Fraction` arithmetic and `reference_round` (tests/unit/test_fp_rounding.py: the exact
value's two neighbours on the format's grid, the pick per mode, IEEE overflow with the FN
variants), never the code under test:
  1. model inputs and parameters are rounded to the op's format in its mode (the
     `fp.round`s assign-precision puts in front of the op);
  2. every arithmetic operation inside the op (+ - * / and sqrt, each on exact operands)
     is rounded to `acc` in the mode: the exact result, a `Fraction` or an IEEE special
     (inf - inf, 0 * inf, x / 0, sqrt of a negative, signed zeros per IEEE 754 6.3);
     sqrt is rounded exactly through integer square roots (`sqrt_rounded`);
  3. linear follows the kernel's order: s = +0; s = s + x_k * w_k for k = 0, 1, ..., each
     product and each sum rounded to `acc`; then s + bias, rounded to `acc`;
     max (relu, maxpool2d) is arith.maximumf: NaN propagates and -0 < +0;
  4. the op's result is rounded once from `acc` to the format, in the mode;
  5. the model's f32 output is that format value (exact in f32).
For acc f64 and a single + - * / or sqrt on values of a format with at most 25
significand bits, the double result followed by the rounding to the format equals the
exact rational result rounded once to the format (round to nearest twice is innocuous as
53 >= 2p + 2; directed roundings in the same direction compose, the format's grid being a
subset of the double grid): the reference computes both and asserts they agree on every
element, so these cases also test that the binary rounds once. With acc f32 the two steps
are the recorded semantics, double rounding included.

Inputs are values of the format (random bit patterns; pairs whose sums straddle a grid
point; the edges: ties such as 1 + ulp/2, the subnormals, the normal/subnormal boundary,
max and its neighbour, signed zeros, +-inf and NaN, with every pair of edges for the binary
ops, so that sums, products and quotients overflow, underflow, cancel and divide by zero)
plus float32 values that are not (random ones, some beyond max, and midpoints between
neighbours, which test the input rounding's ties). Outputs are compared as float64 bit
patterns; any NaN matches any NaN.
"""

from __future__ import annotations

import json
import math
import random
import sys
import tempfile
from fractions import Fraction
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import vnnc
from vnnc import safetensors

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from test_fp_rounding import (  # the exact reference of the rounding tests
    ADD,
    BF16,
    DIV,
    E3M2,
    E4M3FN,
    E4M3FN_SAT,
    E5M2,
    F16,
    F32,
    IEEE,
    MUL,
    RD,
    RN,
    RU,
    RZ,
    SUB,
    Fmt,
    as_finite,
    assert_same_bits,
    exact_op,
    random_operands,
    reference_round,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_ops_numerics import module_text  # one-op spec models as text

F64 = Fmt("f64", 11, 52)
FORMATS = {"f16": F16, "bf16": BF16, "fp8-e4m3fn": E4M3FN, "fp8-e4m3fn-sat": E4M3FN_SAT,
           "fp8-e5m2": E5M2, "e5m6": Fmt("e5m6", 5, 6), "e3m2": E3M2}
MODES = {"nearest": RN, "zero": RZ, "up": RU, "down": RD}
ACCS = {"f32": F32, "f64": F64}
BINARY = {"add": ADD, "sub": SUB, "mul": MUL, "div": DIV}
NAN, INF = math.nan, math.inf


# ---------------------------------------------------------------- the reference


def exact(op: int, a: float, b: float, mode: int) -> float | Fraction:
    """a OP b exactly: a nonzero Fraction, a signed zero, or an IEEE special."""
    if math.isnan(a) or math.isnan(b):
        return NAN
    if op == SUB:  # IEEE 754: x - y is x + (-y), signed zeros included
        op, b = ADD, -b
    sign = math.copysign(1.0, a) * math.copysign(1.0, b)
    if math.isinf(a) or math.isinf(b):
        if op == ADD:
            return NAN if math.isinf(a) and math.isinf(b) and a != b else (a if math.isinf(a) else b)
        if op == MUL:
            return NAN if a == 0 or b == 0 else math.copysign(INF, sign)
        if math.isinf(a) and math.isinf(b):
            return NAN
        return math.copysign(INF if math.isinf(a) else 0.0, sign)
    if op == DIV and b == 0:
        return NAN if a == 0 else math.copysign(INF, sign)
    return exact_op(op, a, b, mode)


def sqrt_rounded(x: float, fmt: Fmt, mode: int) -> float:
    """sqrt(x) correctly rounded to `fmt`. With K = 1100, x * 4^K is an integer n (x is a
    double); if n is not a square, sqrt(x) lies strictly between s/2^K and (s+1)/2^K
    (s = isqrt(n)), and so does (2s+1)/2^(K+1): no value or midpoint of any grid used here
    (all multiples of 2^-1075) lies between the two, so both round alike."""
    if math.isnan(x) or x < 0:
        return NAN
    if x == 0 or math.isinf(x):
        return x  # sqrt(-0) = -0
    n = Fraction(x) * 4**1100
    assert n.denominator == 1
    s = math.isqrt(n.numerator)
    r = Fraction(s, 2**1100) if s * s == n.numerator else Fraction(2 * s + 1, 2**1101)
    return reference_round(r, fmt, mode)


def maximum(a: float, b: float) -> float:
    """arith.maximumf: NaN propagates, -0 < +0."""
    if math.isnan(a) or math.isnan(b):
        return NAN
    if a == b:
        return b if math.copysign(1.0, a) < 0 else a
    return max(a, b)


_ROUNDED: dict = {}


def rin(x: float, fmt: Fmt, mode: int) -> float:
    """A model input or parameter, read through assign-precision's fp.round (cached by
    bits: 0.0 and -0.0 are equal keys to a dict)."""
    key = (x.hex(), fmt, mode)
    if key not in _ROUNDED:
        _ROUNDED[key] = reference_round(x, fmt, mode)
    return _ROUNDED[key]


class Reference:
    """One (format, mode, acc): the op's arithmetic, element by element."""

    def __init__(self, fmt: str, mode: str, acc: str):
        self.fmt, self.mode, self.acc = FORMATS[fmt], MODES[mode], ACCS[acc]

    def to_acc(self, r: float | Fraction) -> float:
        return reference_round(r, self.acc, self.mode)

    def out(self, r: float) -> float:
        return reference_round(r, self.fmt, self.mode)

    def step(self, op: int, a: float, b: float) -> float:
        return self.to_acc(exact(op, a, b, self.mode))

    def pointwise(self, op: str, *xs: float) -> float:
        xs = tuple(rin(float(x), self.fmt, self.mode) for x in xs)
        if op in BINARY:
            r = exact(BINARY[op], *xs, self.mode)
            result = self.out(self.to_acc(r))
            if self.acc is F64:  # the double result rounded to the format = the exact one rounded once
                assert_same_bits(np.array([result]), [self.out(r)], [xs], f"{op}: rounds once")
            return result
        if op == "sqrt":
            result = self.out(sqrt_rounded(xs[0], self.acc, self.mode))
            if self.acc is F64:
                assert_same_bits(np.array([result]), [sqrt_rounded(xs[0], self.fmt, self.mode)],
                                 [xs], "sqrt: rounds once")
            return result
        if op == "neg":
            return self.out(-xs[0])
        if op == "relu":
            return self.out(maximum(xs[0], 0.0))
        raise AssertionError(op)

    def linear(self, x: list[float], w: list[float], bias: float | None) -> float:
        s = 0.0
        for xk, wk in zip(x, w):
            s = self.step(ADD, s, self.step(MUL, rin(xk, self.fmt, self.mode), rin(wk, self.fmt, self.mode)))
        if bias is not None:
            s = self.step(ADD, s, rin(bias, self.fmt, self.mode))
        return self.out(s)

    def maxpool(self, x: np.ndarray, kernel, strides, pads) -> np.ndarray:
        n, c, h, w = x.shape
        oh = (h + pads[0] + pads[2] - kernel[0]) // strides[0] + 1
        ow = (w + pads[1] + pads[3] - kernel[1]) // strides[1] + 1
        out = np.empty((n, c, oh, ow))
        for idx in np.ndindex(n, c, oh, ow):
            m = -INF  # padding is -inf
            for di in range(kernel[0]):
                for dj in range(kernel[1]):
                    r, q = idx[2] * strides[0] - pads[0] + di, idx[3] * strides[1] - pads[1] + dj
                    if 0 <= r < h and 0 <= q < w:
                        m = maximum(m, rin(float(x[idx[0], idx[1], r, q]), self.fmt, self.mode))
            out[idx] = self.out(m)
        return out


# ---------------------------------------------------------------- test values


def edges(fmt: Fmt) -> list[float]:
    """The format's edge values, both signs, signed zeros, +-inf and NaN."""
    two = Fraction(2)
    sub, normal = two ** (fmt.emin - fmt.m), two**fmt.emin
    ulp_top = two ** (fmt.emax - fmt.m)
    pos = [fmt.max, fmt.max - ulp_top, two**fmt.emax, normal, normal - sub, normal + sub, sub,
           2 * sub, 3 * sub, 1, 1 + two**-fmt.m, Fraction(3, 2), two ** -(fmt.m + 1)]
    xs = sorted({float(v) for v in pos if v >= sub})
    return xs + [-x for x in xs] + [0.0, -0.0, INF, -INF, NAN]


def random_values(fmt: Fmt, rng: random.Random, n: int, exps: tuple[int, int] | None = None) -> list[float]:
    """Finite values of the format: random bit patterns, or significands at exponents in
    `exps` (clipped to the normal range)."""
    if exps is None:
        top = 2**fmt.e - (2 if fmt.kind == IEEE else 1)
        return [as_finite(fmt, rng.randrange(2) << (fmt.e + fmt.m) | rng.randrange(top + 1) << fmt.m
                          | rng.randrange(2**fmt.m)) for _ in range(n)]
    lo, hi = max(exps[0], fmt.emin), min(exps[1], fmt.emax - 1)
    return [rng.choice((-1, 1)) * math.ldexp(1 + rng.randrange(2**fmt.m) / 2**fmt.m, rng.randint(lo, hi))
            for _ in range(n)]


def off_grid(fmt: Fmt, rng: random.Random, n: int) -> list[float]:
    """float32 values that are not (all) format values: random ones, and midpoints between
    neighbouring format values (ties of the input rounding), exact in float32."""
    xs = [float(np.float32(rng.uniform(-1, 1) * 2.0 ** rng.randint(fmt.emin - fmt.m - 2, min(fmt.emax + 1, 127))))
          for _ in range(n)]
    for v in random_values(fmt, rng, n):
        mid = math.ldexp(1, math.frexp(v)[1] - 1 - fmt.m - 1) if v and abs(v) >= 2.0**fmt.emin \
            else 2.0 ** (fmt.emin - fmt.m - 1)
        xs.append(float(np.float32(v + mid)))
    return [x for x in xs if math.isfinite(x)]


@cache
def unary_data(fmt: str) -> np.ndarray:
    f, rng = FORMATS[fmt], random.Random(f"unary-{fmt}")
    return np.array(edges(f) + random_values(f, rng, 200) + off_grid(f, rng, 40), np.float32)


@cache
def binary_data(fmt: str) -> tuple[np.ndarray, np.ndarray]:
    f, rng = FORMATS[fmt], random.Random(f"binary-{fmt}")
    e = edges(f)
    a, b = [x for x in e for _ in e], [y for _ in e for y in e]  # every pair of edges
    oa, ob = off_grid(f, rng, 30), off_grid(f, rng, 30)
    ra, rb = random_operands(f, rng, 300)  # sums that straddle a's grid
    a += oa[:len(ob)] + ra + [1.0]  # the last: the example (bf16: 1 - 2^-30 rounded)
    b += ob[:len(oa)] + rb + [-(2.0**-30)]
    return np.array(a, np.float32), np.array(b, np.float32)


# ---------------------------------------------------------------- compiled models

_BUILDS: dict = {}


@pytest.fixture(scope="session")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fp_bit_exact")


def build(root: Path, op: str, operands: list[np.ndarray], param_idx: tuple, attrs: dict,
          fmt: str, mode: str, acc: str, config: dict | None = None):
    """The bundle of `op` on operands of these shapes (parameters: these values)."""
    key = (op, fmt, mode, acc, json.dumps(config), tuple(a.shape for a in operands), json.dumps(attrs),
           tuple(safetensors.param_sha256(operands[i]) for i in param_idx))
    if key not in _BUILDS:
        d = Path(tempfile.mkdtemp(prefix=f"{op}-{fmt}-{mode}-{acc}-", dir=root))
        if param_idx:
            safetensors.write(d / "p.safetensors", {f"p{i}": operands[i] for i in param_idx})
        (d / "model.mlir").write_text(module_text(op, operands, attrs, param_idx))
        precision = {"precision": fmt, "rounding": mode, "accumulate": acc}
        if config is not None:
            (d / "config.json").write_text(json.dumps(config))
            precision["config"] = str(d / "config.json")
        _BUILDS[key] = vnnc.compile(d / "model.mlir", out=d / "bundle", force=True, precision=precision)
    return _BUILDS[key]


def run(bundle, *xs: np.ndarray) -> np.ndarray:
    return np.asarray(bundle.run(*xs), np.float64)


def check_pointwise(root, op, fmt, mode, acc) -> None:
    ref = Reference(fmt, mode, acc)
    xs = binary_data(fmt) if op in BINARY else (unary_data(fmt),)
    got = run(build(root, op, list(xs), (), {}, fmt, mode, acc), *xs)
    want = [ref.pointwise(op, *args) for args in zip(*(x.tolist() for x in xs))]
    assert_same_bits(got, want, list(zip(*(x.tolist() for x in xs))), f"{op} {fmt} {mode} acc {acc}")


MAXPOOL = {"kernel": (3, 3), "strides": (2, 2), "pads": (1, 1, 1, 1)}


def check_maxpool(root, fmt, mode, acc) -> None:
    ref = Reference(fmt, mode, acc)
    data = unary_data(fmt)
    x = np.resize(data, (1, -(-data.size // 25), 5, 5)).astype(np.float32)
    got = run(build(root, "maxpool2d", [x], (), MAXPOOL, fmt, mode, acc), x)
    want = ref.maxpool(x, MAXPOOL["kernel"], MAXPOOL["strides"], MAXPOOL["pads"])
    assert_same_bits(got.ravel(), want.ravel().tolist(), list(range(want.size)), f"maxpool2d {fmt} {mode}")


def linear_operands(fmt: str, n_in: int) -> list[np.ndarray]:
    """x [16, n_in], W [48, n_in], b [48]: values of nearby magnitudes (their products and
    sums meet the grid's ties and cancel), with the edges among them. The large edges (max,
    random bit patterns) go into x only, where the products overflow: the build's sampled
    library check, whose float64 reference rounds each op only once, cannot follow a sum
    that overflows in `acc` or rounds past max only through a bias at max."""
    f, rng = FORMATS[fmt], random.Random(f"linear-{fmt}-{n_in}")
    near = random_values(f, rng, 120, (-(f.m + 2), 2))
    small = [v for v in edges(f) if not abs(v) >= 2.0**3]  # NaN included

    def pick(pool: list[float], *shape: int) -> np.ndarray:
        return np.array([rng.choice(pool) for _ in range(math.prod(shape))], np.float32).reshape(shape)

    x, w, b = pick(near + edges(f) + random_values(f, rng, 30), 16, n_in), pick(near + small, 48, n_in), \
        pick(near + small, 48)
    # A + tiny + half an ulp of A, tiny = s1 s2 = 2^-30 A: a tie when `tiny` is lost, as it
    # is in an f32 accumulator, and just off the tie in f64 (where the formats allow it)
    e = max(f.emin + 1, 2 * (f.emin - f.m) + 30)
    if n_in == 2 and e <= f.emax:
        big, half, t = 2.0**e, 2.0 ** (e - f.m - 1), e - 30
        s1, s2 = 2.0 ** (t // 2), 2.0 ** (t - t // 2)
        x[:3] = [[big, s1], [big, -s1], [-big, s1]]
        w[:2], b[:2] = [[1.0, s2], [1.0, -s2]], [half, -half]
    return [x, w, b]


def check_linear(root, fmt, mode, acc, n_in: int) -> None:
    ref = Reference(fmt, mode, acc)
    x, w, b = linear_operands(fmt, n_in)
    got = run(build(root, "linear", [x, w, b], (1, 2), {}, fmt, mode, acc), x)
    want = [[ref.linear(x[i].tolist(), w[j].tolist(), float(b[j])) for j in range(w.shape[0])]
            for i in range(x.shape[0])]
    assert_same_bits(got.ravel(), np.ravel(want).tolist(),
                     [(i, j) for i in range(x.shape[0]) for j in range(w.shape[0])],
                     f"linear n_in={n_in} {fmt} {mode} acc {acc}")


def cases() -> list[tuple[str, str, str, str]]:
    """(op, format, mode, acc), sampled deterministically from the full product."""
    names, modes = list(FORMATS), list(MODES)
    out = []
    for i, fmt in enumerate(names):
        for j, mode in enumerate(modes):
            out += [(op, fmt, mode, "f64") for op in ("add", "mul", "div")]
            out += [("linear2", fmt, mode, acc) for acc in ACCS if mode == "nearest" or acc == ("f64", "f32")[(i + j) % 2]]
        for k, op in enumerate(("add", "mul", "div")):
            out.append((op, fmt, modes[(i + k) % 4], "f32"))
        for k, op in enumerate(("sub", "sqrt")):
            out += [(op, fmt, modes[(i + k) % 4], "f64"), (op, fmt, modes[(i + k + 2) % 4], "f32")]
        for k, op in enumerate(("neg", "relu", "maxpool2d", "linear1")):
            out.append((op, fmt, modes[(i + k) % 4], ("f32", "f64")[(i + k) % 2]))
    return out


CASES = cases()


@pytest.mark.parametrize(("op", "fmt", "mode", "acc"), CASES, ids=["-".join(c) for c in CASES])
def test_bit_exact(root, op, fmt, mode, acc):
    if op == "maxpool2d":
        check_maxpool(root, fmt, mode, acc)
    elif op.startswith("linear"):
        check_linear(root, fmt, mode, acc, int(op[-1]))
    else:
        check_pointwise(root, op, fmt, mode, acc)


def test_sampling_covers_the_product():
    """Every op meets every format, every mode and both accumulation formats; add, mul, div
    (acc f64) and two-feature linear meet every (format, mode) pair."""
    ops = {c[0] for c in CASES}
    assert ops == {"add", "sub", "mul", "div", "neg", "relu", "maxpool2d", "sqrt", "linear1", "linear2"}
    for op in ops:
        mine = [c for c in CASES if c[0] == op]
        assert {c[1] for c in mine} == set(FORMATS) and {c[2] for c in mine} == set(MODES)
        assert {c[3] for c in mine} == set(ACCS)
    every = {(f, m) for f in FORMATS for m in MODES}
    for op in ("add", "mul", "div"):
        assert {(c[1], c[2]) for c in CASES if c[0] == op and c[3] == "f64"} == every
    assert {(c[1], c[2]) for c in CASES if c[0] == "linear2"} == every


# ---------------------------------------------------------------- the example


@pytest.mark.parametrize("acc", ["f64", "f32"])
def test_one_minus_2_pow_30_rounded_down_to_bf16(root, acc):
    """1 and -2^-30 are bf16 values; their exact sum 1 - 2^-30 rounded down to bf16 is
    1 - 2^-8 (rounding it to nearest f32 first would give 1.0), toward zero too; to
    nearest and up it is 1.0."""
    a, b = binary_data("bf16")
    want = {"down": 1 - 2.0**-8, "zero": 1 - 2.0**-8, "nearest": 1.0, "up": 1.0}
    for mode, value in want.items():
        got = run(build(root, "add", [a, b], (), {}, "bf16", mode, acc), a, b)
        assert (a[-1], b[-1]) == (1.0, -(2.0**-30)) and got[-1] == value, mode


F64_LAYER = """\
builtin.module attributes {{vnnc.params = "p.safetensors"}} {{
  func.func @main(%x: tensor<1xf32>) -> tensor<1xf32> {{
    %p = spec.param "p" {{sha256 = "{sha}"}} : tensor<1xf32>
    %s = spec.add %x, %p : (tensor<1xf32>, tensor<1xf32>) -> tensor<1xf32>
    %y = spec.relu %s : (tensor<1xf32>) -> tensor<1xf32>
    func.return %y : tensor<1xf32>
  }}
}}
"""


def test_one_minus_2_pow_30_from_an_f64_layer(tmp_path):
    """The same value computed exactly by an f64 first layer (--precision-config), then
    rounded down to bf16 by the relu that reads it (with acc f32 its conversion to f32
    rounds down first, which composes): 1 - 2^-8; 1.0 to nearest."""
    p = np.array([-(2.0**-30)], np.float32)
    safetensors.write(tmp_path / "p.safetensors", {"p": p})
    (tmp_path / "m.mlir").write_text(F64_LAYER.format(sha=safetensors.param_sha256(p)))
    (tmp_path / "config.json").write_text(json.dumps(
        {"layers": {"first": {"precision": "f64", "accumulate": "f64"}}}))
    for mode, want in (("down", 1 - 2.0**-8), ("zero", 1 - 2.0**-8), ("nearest", 1.0), ("up", 1.0)):
        for acc in ("f32", "f64"):
            bundle = vnnc.compile(tmp_path / "m.mlir", out=tmp_path / f"b-{mode}-{acc}", force=True,
                                  precision={"precision": "bf16", "rounding": mode, "accumulate": acc,
                                             "config": str(tmp_path / "config.json")})
            fp_stage = (bundle.path / "stages" / "01-assign-precision.mlir").read_text()
            assert "(tensor<1xf64>, tensor<1xf64>) -> tensor<1xf64>" in fp_stage  # the f64 add
            assert "(tensor<1xf64>) -> tensor<1xbf16>" in fp_stage  # the relu reads it
            assert run(bundle, np.array([1.0], np.float32))[0] == want, (mode, acc)


# ---------------------------------------------------------------- f64 storage


F64_CHAIN = """\
builtin.module {
  func.func @main(%a: tensor<4xf32>, %b: tensor<4xf32>) -> tensor<4xf32> {
    %s = spec.add %a, %b : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %r = spec.relu %s : (tensor<4xf32>) -> tensor<4xf32>
    %q = spec.sqrt %r : (tensor<4xf32>) -> tensor<4xf32>
    %m = spec.mul %q, %r : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    %y = spec.sub %m, %a : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    func.return %y : tensor<4xf32>
  }
}
"""


@pytest.mark.parametrize("mode", ["nearest", "down"])
def test_f64_storage_is_computed_in_double(tmp_path, mode):
    """Regression: with f64 values the C printer called the float functions (sqrtf,
    vnnc_maximumf), rounding doubles to float: relu(1 + 2^-40) must keep its 2^-40 and
    sqrt(2) must be the double one. Reference: each op rounded once to f64 (acc = storage)."""
    (tmp_path / "m.mlir").write_text(F64_CHAIN)
    bundle = vnnc.compile(tmp_path / "m.mlir", out=tmp_path / "b", force=True,
                          precision={"precision": "f64", "rounding": mode})
    a = np.array([1.0, 2.0, 3.0, 0.1], np.float32)
    b = np.array([2.0**-40, 0.0, 2.0**-30, -0.2], np.float32)
    m = MODES[mode]

    def f(x, y):
        s = reference_round(exact(ADD, x, y, m), F64, m)
        q = sqrt_rounded(maximum(s, 0.0), F64, m)
        p = reference_round(exact(MUL, q, maximum(s, 0.0), m), F64, m)
        return reference_round(reference_round(exact(SUB, p, x, m), F64, m), F32, m)

    want = [f(float(x), float(y)) for x, y in zip(a, b)]
    assert_same_bits(run(bundle, a, b), want, list(zip(a.tolist(), b.tolist())), f"f64 chain {mode}")
    assert want[0] != 0.0  # the 2^-40 survives relu
