"""Bit-exact rounding into emulated formats: `backends/vnnc_fp.h` against an exact reference.

The primary oracle is `reference_round`: the exact rational value of the input (a
`Fraction`), its two neighbours on the format's grid (the binade's quantum, or the
subnormals'), the pick per rounding mode (ties to the even significand), then IEEE 754's
overflow rule with the header's FN variants. Its grid is itself checked against the formats'
bit patterns decoded by their definition (`decode`): every value is a fixed point, the
midpoint between neighbouring patterns rounds down to the lower, up to the upper, and to
nearest onto the pattern whose last bit is 0 (the overflow threshold max + ulp/2 included,
where the next pattern is inf, or NaN for FN).

The header is compiled once per session into a small shared library and compared bit for bit
(float64 patterns; any NaN equals any NaN), in all four modes, on: every value and midpoint
of the formats of at most 8 bits, each nudged by one double ulp; the edges of every format
(max, max + ulp/2, 2^(emax+1), the smallest subnormal and half of it, the normal/subnormal
boundary, signed zeros, inf, NaN); random doubles across the format's binades (hypothesis);
the double-then-round scheme on + - * / of format operands (the issue's 1 - 2^-30 rounded down
to bf16 among them), and its failure at 27 bits; and under every fesetround mode of the caller,
which must not matter. Secondary oracles: the machine's double->float conversion in each mode
and numpy's float32 for f32, and ml_dtypes (float32 inputs, exact in double, so its double
rounding of float64 inputs cannot show) for bf16, f16, fp8-e4m3fn (overflow -> NaN: our kind
FN) and fp8-e5m2.
"""

from __future__ import annotations

import ctypes
import math
import random
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vnnc.backends.build import compiler, flags

BACKENDS = Path(__file__).resolve().parents[2] / "backends"

RN, RZ, RU, RD = 0, 1, 2, 3
MODES = {"RN": RN, "RZ": RZ, "RU": RU, "RD": RD}
IEEE, FN, FN_SAT = 0, 1, 2
ADD, SUB, MUL, DIV = 0, 1, 2, 3


@dataclass(frozen=True)
class Fmt:
    name: str
    e: int
    m: int
    kind: int = IEEE

    @property
    def bias(self) -> int:
        return 2 ** (self.e - 1) - 1

    @property
    def emin(self) -> int:
        return 1 - self.bias

    @property
    def emax(self) -> int:
        return self.bias if self.kind == IEEE else self.bias + 1

    @property
    def max(self) -> Fraction:
        top = 2 ** (self.m + 1) - (1 if self.kind == IEEE else 2)
        return top * Fraction(2) ** (self.emax - self.m)

    @property
    def bits(self) -> int:
        return 1 + self.e + self.m

    def __str__(self) -> str:
        return self.name


F32, BF16, F16 = Fmt("f32", 8, 23), Fmt("bf16", 8, 7), Fmt("f16", 5, 10)
E4M3FN, E4M3FN_SAT = Fmt("fp8-e4m3fn", 4, 3, FN), Fmt("fp8-e4m3fn-sat", 4, 3, FN_SAT)
E5M2 = Fmt("fp8-e5m2", 5, 2)
E3M2, E3M2FN = Fmt("e3m2", 3, 2), Fmt("e3m2fn", 3, 2, FN)
E2M1, E2M1FN_SAT = Fmt("e2m1", 2, 1), Fmt("e2m1fn-sat", 2, 1, FN_SAT)
E6M9, E8M24 = Fmt("e6m9", 6, 9), Fmt("e8m24", 8, 24)  # e8m24: p = 25, the scheme's limit
SMALL = [E4M3FN, E4M3FN_SAT, E5M2, E3M2, E3M2FN, E2M1, E2M1FN_SAT]
# the widest exponents: ebits = 11 (IEEE) and 10 (FN), whose values are still doubles
WIDE = [Fmt("e11m10", 11, 10), Fmt("e11m1", 11, 1), Fmt("e10m4fn", 10, 4, FN)]
FORMATS = [F32, BF16, F16, *SMALL, E6M9, Fmt("e4m10", 4, 10), E8M24, *WIDE]


# ---- the reference -------------------------------------------------------------------------

def reference_round(x: float | Fraction, fmt: Fmt, mode: int) -> float:
    """x (a double, or a nonzero rational) correctly rounded to `fmt` in `mode`."""
    if isinstance(x, float):
        if math.isnan(x):
            return math.nan
        if math.isinf(x):
            if fmt.kind == IEEE:
                return x
            return math.nan if fmt.kind == FN else math.copysign(float(fmt.max), x)
        if x == 0:
            return x
    v = Fraction(x)
    neg, v = v < 0, abs(v)
    e = v.numerator.bit_length() - v.denominator.bit_length()  # floor(log2 v) or one more
    if Fraction(2) ** e > v:
        e -= 1
    quantum = Fraction(2) ** (max(e, fmt.emin) - fmt.m)
    n = math.floor(v / quantum)  # below = n * quantum <= v < (n + 1) * quantum = above
    away = (mode == RU and not neg) or (mode == RD and neg)
    if n * quantum != v:
        if mode == RN:
            dist_below, dist_above = v - n * quantum, (n + 1) * quantum - v
            n += dist_below > dist_above or (dist_below == dist_above and n % 2 == 1)
        else:
            n += away
    r = n * quantum
    if r > fmt.max:  # overflow: where IEEE gives inf, FN gives NaN and FN_SAT max
        if fmt.kind == FN_SAT or not (away or mode == RN):
            r = fmt.max
        else:
            return math.nan if fmt.kind == FN else -math.inf if neg else math.inf
    return -float(r) if neg else float(r)


def decode(fmt: Fmt, pattern: int, specials: bool = True) -> float | Fraction:
    """The value of a bit pattern by the format's definition (specials=False: the all-ones
    exponent read as an ordinary binade, as with an unbounded exponent range)."""
    sign = -1 if pattern >> (fmt.e + fmt.m) & 1 else 1
    efield, frac = pattern >> fmt.m & (2**fmt.e - 1), pattern & (2**fmt.m - 1)
    if specials and efield == 2**fmt.e - 1:
        if fmt.kind == IEEE:
            return sign * math.inf if frac == 0 else math.nan
        if frac == 2**fmt.m - 1:
            return math.nan
    if efield == 0:
        return sign * Fraction(frac, 2**fmt.m) * Fraction(2) ** (1 - fmt.bias)
    return sign * (1 + Fraction(frac, 2**fmt.m)) * Fraction(2) ** (efield - fmt.bias)


def positive_patterns(fmt: Fmt) -> list[int]:
    """Finite non-negative patterns (in increasing order of value): all of them for small
    formats, else the bottom and top 200 and 1500 drawn at random."""
    finite = 2 ** (fmt.bits - 1) - 2 ** fmt.m if fmt.kind == IEEE else 2 ** (fmt.bits - 1) - 1
    if finite <= 4000:
        return list(range(finite))
    rng = random.Random(fmt.name)
    return sorted({*range(200), *range(finite - 200, finite), *rng.sample(range(finite), 1500)})


def as_result(fmt: Fmt, v: float | Fraction, neg: bool = False) -> float:
    """A decoded value as the rounding result it stands for (FN_SAT has no NaN result)."""
    if isinstance(v, float) and math.isnan(v) and fmt.kind == FN_SAT:
        v = fmt.max
    return -float(v) if neg else float(v)


def edge_values(fmt: Fmt) -> list[float]:
    two = Fraction(2)
    ulp_top, sub, normal = two ** (fmt.emax - fmt.m), two ** (fmt.emin - fmt.m), two**fmt.emin
    exact = [fmt.max, fmt.max + ulp_top / 2, fmt.max + ulp_top, two ** (fmt.emax + 1),
             sub, sub / 2, 3 * sub / 2, sub / 4, normal, normal - sub, normal - sub / 2,
             normal + sub / 2, 1, 1 + two ** -(fmt.m + 1), 1 - two ** -(fmt.m + 2)]
    xs = [float(v) for v in exact if v < 2**1024 and Fraction(float(v)) == v]
    xs += [y for x in xs for y in (math.nextafter(x, math.inf), math.nextafter(x, 0))]
    xs += [5e-324, 2.2250738585072014e-308, 1e300, 1.7976931348623157e308]
    return xs + [-x for x in xs] + [0.0, -0.0, math.inf, -math.inf, math.nan]


def exhaustive_values(fmt: Fmt) -> list[float]:
    """Every finite value and every midpoint between neighbours (up to the unbounded
    successor of max), each nudged by one double ulp, both signs."""
    xs = []
    for p in positive_patterns(fmt):
        v = decode(fmt, p)
        mid = (v + decode(fmt, p + 1, specials=False)) / 2
        for x in (float(v), float(mid)):
            xs += [x, math.nextafter(x, math.inf), math.nextafter(x, -math.inf)]
    return xs + [-x for x in xs] + edge_values(fmt)


def assert_same_bits(got: np.ndarray, want: list[float], inputs: list, what: str) -> None:
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    same = (got.view(np.uint64) == want.view(np.uint64)) | (np.isnan(got) & np.isnan(want))
    bad = np.flatnonzero(~same)
    if bad.size:
        lines = [f"  {inputs[i]!r}: got {got[i].hex()}, want {want[i].hex()}" for i in bad[:8]]
        pytest.fail(f"{what}: {bad.size} of {same.size} differ\n" + "\n".join(lines))


# ---- the compiled header -------------------------------------------------------------------

HARNESS = r"""
#include "vnnc_fp.h"

static const int HOST[4] = {FE_TONEAREST, FE_TOWARDZERO, FE_UPWARD, FE_DOWNWARD};

/* vnnc_round over an array, called with the caller's mode set to HOST[host] */
void round_array(const double *x, double *out, long n, int e, int m, int kind, int mode,
                 int host) {
  int saved = fegetround();
  fesetround(HOST[host]);
  for (long i = 0; i < n; i++) out[i] = vnnc_round(x[i], e, m, kind, mode);
  fesetround(saved);
}

void round_f32_array(const double *x, float *out, long n, int mode) {
  for (long i = 0; i < n; i++) out[i] = vnnc_round_f32(x[i], mode);
}

/* the machine's own double -> float conversion in `mode` */
void cast_f32_array(const double *x, float *out, long n, int mode) {
  int saved = fegetround();
  fesetround(vnnc_fe_mode(mode));
  for (long i = 0; i < n; i++) out[i] = (float)x[i];
  fesetround(saved);
}

/* the double-then-round scheme: a OP b in double in `mode`, then rounded once to the format */
void op_round(int op, const double *a, const double *b, double *out, long n, int e, int m,
              int kind, int mode) {
  int saved = fegetround();
  fesetround(vnnc_fe_mode(mode));
  for (long i = 0; i < n; i++) {
    double r = op == 0 ? a[i] + b[i] : op == 1 ? a[i] - b[i] : op == 2 ? a[i] * b[i] : a[i] / b[i];
    out[i] = vnnc_round(r, e, m, kind, mode);
  }
  fesetround(saved);
}

double fmt_max(int e, int m, int kind) { return vnnc_fmt_max(e, m, kind); }
"""

BUILDS = {
    "O2": ["-O2", "-std=c11", "-ffp-contract=off", "-frounding-math", "-pedantic-errors",
           "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared"],
    "backend-flags": [*flags(), "-frounding-math"],  # what generated kernels are built with
}


class Harness:
    def __init__(self, path: Path) -> None:
        dll = ctypes.CDLL(str(path))
        d, f = np.ctypeslib.ndpointer(np.float64), np.ctypeslib.ndpointer(np.float32)
        i, n = ctypes.c_int, ctypes.c_long
        dll.round_array.argtypes = [d, d, n, i, i, i, i, i]
        dll.round_f32_array.argtypes = [d, f, n, i]
        dll.cast_f32_array.argtypes = [d, f, n, i]
        dll.op_round.argtypes = [i, d, d, d, n, i, i, i, i]
        dll.fmt_max.argtypes, dll.fmt_max.restype = [i, i, i], ctypes.c_double
        self.dll = dll

    def round(self, xs: list[float], fmt: Fmt, mode: int, host: int = 0) -> np.ndarray:
        x = np.ascontiguousarray(xs, dtype=np.float64)
        out = np.empty_like(x)
        self.dll.round_array(x, out, x.size, fmt.e, fmt.m, fmt.kind, mode, host)
        return out

    def f32(self, xs: np.ndarray, mode: int, machine: bool = False) -> np.ndarray:
        x = np.ascontiguousarray(xs, dtype=np.float64)
        out = np.empty(x.size, dtype=np.float32)
        (self.dll.cast_f32_array if machine else self.dll.round_f32_array)(x, out, x.size, mode)
        return out

    def op(self, op: int, a: list[float], b: list[float], fmt: Fmt, mode: int) -> np.ndarray:
        a_, b_ = np.ascontiguousarray(a, np.float64), np.ascontiguousarray(b, np.float64)
        out = np.empty_like(a_)
        self.dll.op_round(op, a_, b_, out, a_.size, fmt.e, fmt.m, fmt.kind, mode)
        return out


@pytest.fixture(scope="session")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Harness]:
    tmp = tmp_path_factory.mktemp("vnnc_fp")
    (tmp / "harness.c").write_text(HARNESS)
    out = {}
    for name, opts in BUILDS.items():
        lib = tmp / f"harness-{name}.so"
        cmd = [compiler(), *opts, "-I", str(BACKENDS), "-o", str(lib), str(tmp / "harness.c"), "-lm"]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stderr}"
        out[name] = Harness(lib)
    return out


@pytest.fixture(scope="session")
def lib(builds: dict[str, Harness]) -> Harness:
    return builds["O2"]


def check(lib: Harness, xs: list[float], fmt: Fmt, mode: int, host: int = 0) -> None:
    want = [reference_round(x, fmt, mode) for x in xs]
    assert_same_bits(lib.round(xs, fmt, mode, host), want, xs, f"{fmt} mode {mode}")


# ---- the reference against the formats' definitions ----------------------------------------

@pytest.mark.parametrize("fmt", FORMATS, ids=str)
def test_reference_grid_is_the_decoded_format(fmt: Fmt) -> None:
    finite = positive_patterns(fmt)
    assert decode(fmt, finite[-1]) == fmt.max
    for p in finite:
        v, upper = decode(fmt, p), decode(fmt, p + 1)
        for mode in MODES.values():
            assert reference_round(float(v), fmt, mode) == v
        mid = (v + decode(fmt, p + 1, specials=False)) / 2
        even = v if p % 2 == 0 else upper
        for neg in (False, True):
            x = -mid if neg else mid
            toward, away = (RU, RD) if neg else (RD, RU)
            got = [reference_round(x, fmt, mode) for mode in (toward, RZ, away, RN)]
            want = [as_result(fmt, v, neg), as_result(fmt, v, neg), as_result(fmt, upper, neg),
                    as_result(fmt, even, neg)]
            assert_same_bits(np.array(got), want, [x] * 4, f"reference {fmt} at {x}")


def test_known_maxima(lib: Harness) -> None:
    known = {F32: float(np.finfo(np.float32).max), F16: 65504.0, BF16: float.fromhex("0x1.fep127"),
             E4M3FN: 448.0, E4M3FN_SAT: 448.0, E5M2: 57344.0, E3M2: 14.0, E3M2FN: 24.0,
             E2M1: 3.0, E2M1FN_SAT: 4.0}
    for fmt, mx in known.items():
        assert lib.dll.fmt_max(fmt.e, fmt.m, fmt.kind) == mx == fmt.max, fmt


# ---- the header against the reference -----------------------------------------------------

@pytest.mark.parametrize("mode", MODES.values(), ids=MODES.keys())
@pytest.mark.parametrize("fmt", SMALL, ids=str)
def test_every_value_and_midpoint(lib: Harness, fmt: Fmt, mode: int) -> None:
    check(lib, exhaustive_values(fmt), fmt, mode)


@pytest.mark.parametrize("mode", MODES.values(), ids=MODES.keys())
@pytest.mark.parametrize("fmt", FORMATS, ids=str)
def test_edges(lib: Harness, fmt: Fmt, mode: int) -> None:
    check(lib, edge_values(fmt), fmt, mode)


def doubles_around(fmt: Fmt) -> st.SearchStrategy[float]:
    """Doubles across the format's binades and a little beyond: with random 52-bit fractions,
    and on a grid four times finer than the format's (values, midpoints, quarters) nudged by
    one double ulp; plus any double at all."""
    lo, hi = fmt.emin - fmt.m - 3, min(fmt.emax + 2, 1023)
    wide = st.builds(lambda f, e: math.ldexp(1 + f / 2**52, e), st.integers(0, 2**52 - 1),
                     st.integers(lo, hi))
    grid = st.builds(lambda n, e, ulps: _nudge(math.ldexp(n, e - fmt.m - 2), ulps),
                     st.integers(0, 2 ** (fmt.m + 3) - 1), st.integers(lo, hi),
                     st.sampled_from([-1, 0, 0, 1]))
    return st.builds(lambda x, neg: -x if neg else x, st.one_of(wide, grid, st.floats()),
                     st.booleans())


def _nudge(x: float, ulps: int) -> float:
    return math.nextafter(x, math.copysign(math.inf, ulps)) if ulps else x


@pytest.mark.parametrize("mode", MODES.values(), ids=MODES.keys())
@pytest.mark.parametrize("fmt", FORMATS, ids=str)
def test_random_doubles(lib: Harness, fmt: Fmt, mode: int) -> None:
    @settings(max_examples=15, deadline=None, database=None)
    @given(st.lists(doubles_around(fmt), min_size=1, max_size=60))
    def run(xs: list[float]) -> None:
        check(lib, xs, fmt, mode)

    run()


@pytest.mark.parametrize("mode", MODES.values(), ids=MODES.keys())
def test_f32_against_the_machine(lib: Harness, mode: int) -> None:
    rng = np.random.default_rng(1)
    xs = np.concatenate([
        rng.integers(0, 2**64, 20000, dtype=np.uint64).view(np.float64),
        np.ldexp(rng.uniform(1, 2, 20000), rng.integers(-155, 130, 20000)) * rng.choice([-1, 1], 20000),
        np.array(edge_values(F32)),
    ])
    ours = lib.f32(xs, mode)
    assert_same_bits(lib.round(xs, F32, mode), ours, list(xs), "round vs round_f32")
    assert_same_bits(ours, lib.f32(xs, mode, machine=True), list(xs), "f32 vs (float) cast")
    if mode == RN:
        with np.errstate(over="ignore", invalid="ignore"):
            numpy32 = xs.astype(np.float32)
        assert_same_bits(ours, numpy32, list(xs), "f32 vs numpy")


# ---- the double-then-round scheme ---------------------------------------------------------

def test_double_rounding_example(lib: Harness) -> None:
    """The issue's example: the exact 1 - 2^-30 rounded down to bf16 is 1 - 2^-8, but rounded
    to f32 first (to nearest, as computing in f32 would) it is 1.0, which stays 1.0."""
    x = 1 - 2.0**-30
    assert reference_round(x, BF16, RD) == 1 - 2.0**-8
    assert lib.round([x], BF16, RD)[0] == 1 - 2.0**-8
    assert lib.op(SUB, [1.0], [2.0**-30], BF16, RD)[0] == 1 - 2.0**-8  # bf16 1 - bf16 2^-30
    via_f32 = lib.round(lib.round([x], F32, RN), BF16, RD)[0]
    assert via_f32 == float(np.float32(x)) == 1.0


def exact_op(op: int, a: float, b: float, mode: int) -> float | Fraction:
    """The exact result of a OP b: a nonzero rational, or a zero signed per IEEE 754 6.3."""
    fa, fb = Fraction(a), Fraction(b)
    r = fa + fb if op == ADD else fa - fb if op == SUB else fa * fb if op == MUL else fa / fb
    if r:
        return r
    if op in (MUL, DIV):
        return -0.0 if math.copysign(1, a) != math.copysign(1, b) else 0.0
    b = b if op == ADD else -b
    if a == 0 and b == 0 and math.copysign(1, a) == math.copysign(1, b):
        return a
    return -0.0 if mode == RD else 0.0


def random_operands(fmt: Fmt, rng: random.Random, n: int) -> tuple[list[float], list[float]]:
    """Finite format values: `a` any, `b` either any or within m + 4 binades below `a`
    (sums then straddle `a`'s grid, where double rounding would show)."""
    def value(efield: int) -> float:
        frac, sign = rng.randrange(2**fmt.m), rng.randrange(2)
        return as_finite(fmt, sign << (fmt.e + fmt.m) | efield << fmt.m | frac)

    top = 2**fmt.e - (2 if fmt.kind == IEEE else 1)
    a = [value(rng.randrange(top + 1)) for _ in range(n)]
    b = [value(rng.randrange(top + 1)) if rng.random() < 0.4
         else value(max(0, _efield(fmt, x) - rng.randrange(fmt.m + 4))) for x in a]
    return a, b


def _efield(fmt: Fmt, x: float) -> int:
    return 0 if x == 0 else max(0, math.frexp(x)[1] - 1 + fmt.bias)


def as_finite(fmt: Fmt, pattern: int) -> float:
    v = decode(fmt, pattern)
    if isinstance(v, float) and math.isnan(v):  # the FN NaN pattern: take its neighbour
        v = decode(fmt, pattern - 1)
    return math.copysign(float(v), -1.0 if pattern >> (fmt.e + fmt.m) & 1 else 1.0)


SCHEME = [F32, BF16, F16, E4M3FN, E4M3FN_SAT, E5M2, E3M2, E6M9, E8M24]


@pytest.mark.parametrize("mode", MODES.values(), ids=MODES.keys())
@pytest.mark.parametrize("fmt", SCHEME, ids=str)
def test_scheme_rounds_once(lib: Harness, fmt: Fmt, mode: int) -> None:
    """Computing in double in the target mode and then rounding in that mode equals rounding
    the exact result once (p <= 25)."""
    rng = random.Random(f"{fmt}-{mode}")
    a, b = random_operands(fmt, rng, 300)
    for op in (ADD, SUB, MUL, DIV):
        keep = [i for i in range(len(a)) if op != DIV or b[i] != 0]
        aa, bb = [a[i] for i in keep], [b[i] for i in keep]
        want = [reference_round(exact_op(op, x, y, mode), fmt, mode) for x, y in zip(aa, bb)]
        assert_same_bits(lib.op(op, aa, bb, fmt, mode), want, list(zip(aa, bb)),
                         f"{fmt} op {op} mode {mode}")


def test_scheme_fails_at_27_bits(lib: Harness) -> None:
    """Why the scheme stops at p = 25 (53 >= 2p + 2): with p = 27, 1 + (2^-27 + 2^-53) is
    rounded to the double 1 + 2^-27 (a tie, to even), a format midpoint that then ties to 1;
    the exact sum is above that midpoint and rounds to 1 + 2^-26."""
    e8m26 = Fmt("e8m26", 8, 26)
    b = 2.0**-27 + 2.0**-53
    assert reference_round(b, e8m26, RN) == b  # b is an e8m26 value
    assert reference_round(exact_op(ADD, 1.0, b, RN), e8m26, RN) == 1 + 2.0**-26
    assert lib.op(ADD, [1.0], [b], e8m26, RN)[0] == 1.0


# ---- independence from the caller's rounding mode -----------------------------------------

def test_caller_rounding_mode_does_not_matter(builds: dict[str, Harness]) -> None:
    """Under the caller's FE_TONEAREST, FE_TOWARDZERO, FE_UPWARD and FE_DOWNWARD, built with
    the flags above and with the backend's own (-O3 -march=native)."""
    for fmt in [*SMALL, F16, BF16, F32]:
        xs = exhaustive_values(fmt) if fmt.bits <= 8 else edge_values(fmt)
        for mode in MODES.values():
            want = [reference_round(x, fmt, mode) for x in xs]
            for build, lib in builds.items():
                for host in range(4):
                    assert_same_bits(lib.round(xs, fmt, mode, host), want, xs,
                                     f"{build}: {fmt} mode {mode} under host mode {host}")


# ---- ml_dtypes, a secondary oracle --------------------------------------------------------

@pytest.mark.parametrize("fmt,dtype", [(BF16, "bfloat16"), (F16, "float16"),
                                       (E4M3FN, "float8_e4m3fn"), (E5M2, "float8_e5m2")], ids=str)
def test_ml_dtypes_round_to_nearest(lib: Harness, fmt: Fmt, dtype: str) -> None:
    ml_dtypes = pytest.importorskip("ml_dtypes")
    target = np.float16 if dtype == "float16" else getattr(ml_dtypes, dtype)
    rng = np.random.default_rng(2)
    with np.errstate(over="ignore", invalid="ignore"):  # casts to inf and of NaN are meant
        x32 = np.concatenate([
            rng.integers(0, 2**32, 30000, dtype=np.uint64).astype(np.uint32).view(np.float32),
            (np.ldexp(rng.uniform(1, 2, 30000), rng.integers(fmt.emin - fmt.m - 3, fmt.emax + 2,
                                                             30000)) * rng.choice([-1, 1], 30000)
             ).astype(np.float32),
            np.array([x for x in edge_values(fmt) if np.float32(x) == x or math.isnan(x)],
                     np.float32),
        ])
        theirs = x32.astype(target).astype(np.float64)
        xs = x32.astype(np.float64)
    assert_same_bits(lib.round(xs, fmt, RN), theirs, list(xs), dtype)


# ---- the checker's own rounding (verifier/precision.py), against the same reference -------

@pytest.mark.parametrize("mode", MODES.values(), ids=MODES.keys())
@pytest.mark.parametrize("fmt", [F32, BF16, F16, E4M3FN, E4M3FN_SAT, E5M2, E3M2, E6M9], ids=str)
def test_checker_round_to(fmt: Fmt, mode: int) -> None:
    """`precision.round_to`, which the sampled library check rounds with, on every value and
    midpoint of the small formats and the edges of all (regression: an infinite x was
    taken for an overflow, and rounded toward zero to max instead of staying infinite, or
    NaN for FN)."""
    from vnnc.verifier.precision import round_to

    xs = exhaustive_values(fmt) if fmt.bits <= 8 else edge_values(fmt)
    got = round_to(np.array(xs), fmt.name, ["nearest", "zero", "up", "down"][mode])
    assert_same_bits(got, [reference_round(x, fmt, mode) for x in xs], xs, f"round_to {fmt} {mode}")
