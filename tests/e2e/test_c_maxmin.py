"""The C printer's arith.maximumf / minimumf helpers (vnnc_maximum[f], vnnc_minimum[f] in
CTarget.prelude), for float and double, against a reference written here: a NaN operand
gives a NaN, -0 < +0, otherwise the larger (smaller) value. Every ordered pair of special
and ordinary values is evaluated twice: one call at a time through volatile operands
(scalar code), and in loops over arrays that gcc vectorises (the helpers are branch-free so
that it can); both must give the reference's bits, except that NaN results compare as NaN.
"""

from __future__ import annotations

import math
import subprocess

import numpy as np
import pytest
from vnnc.backends.build import compiler, flags
from vnnc.backends.c import CTarget

VALUES = [0.0, -0.0, 1.0, -1.0, 2.5, -2.5, math.inf, -math.inf, math.nan, -math.nan,
          1e-45, -1e-45, 3.4e38, -3.4e38, 1.17549435e-38, 0.1]
"""Pairs of these cover: NaN either side (both signs), signed zeros both ways, infinities,
subnormals, equal nonzero values, ordinary order."""

HARNESS = """
#include <stdio.h>
#define N %(n)d
static volatile %(t)s vals[N] = {%(vals)s};
static %(t)s A[N * N], B[N * N], MX[N * N], MN[N * N];
__attribute__((noinline)) static void loops(void) {
  for (int i = 0; i < N * N; i++) MX[i] = vnnc_maximum%(s)s(A[i], B[i]);
  for (int i = 0; i < N * N; i++) MN[i] = vnnc_minimum%(s)s(A[i], B[i]);
}
int main(void) {
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) {
      A[i * N + j] = vals[i];
      B[i * N + j] = vals[j];
    }
  for (int k = 0; k < N * N; k++) {  /* one call at a time */
    %(t)s a = vals[k / N], b = vals[k %% N];
    %(t)s mx = vnnc_maximum%(s)s(a, b), mn = vnnc_minimum%(s)s(a, b);
    fwrite(&mx, sizeof mx, 1, stdout);
    fwrite(&mn, sizeof mn, 1, stdout);
  }
  loops();
  fwrite(MX, sizeof MX, 1, stdout);
  fwrite(MN, sizeof MN, 1, stdout);
  return 0;
}
"""


def reference(a: float, b: float, larger: bool) -> float:
    if math.isnan(a) or math.isnan(b):
        return math.nan
    if a == b == 0.0:  # of +0 and -0, the maximum is +0 and the minimum -0
        negative = [math.copysign(1.0, v) < 0 for v in (a, b)]
        return (-0.0 if all(negative) else 0.0) if larger else (-0.0 if any(negative) else 0.0)
    return max(a, b) if larger else min(a, b)


def same(got: float, want: float) -> bool:
    if math.isnan(want):
        return math.isnan(got)
    return got == want and math.copysign(1.0, got) == math.copysign(1.0, want)


@pytest.mark.parametrize("ctype", ["float", "double"])
def test_maxmin_helpers(tmp_path, ctype):
    dtype, suffix = (np.float32, "f") if ctype == "float" else (np.float64, "")
    vals = [float(dtype(v)) for v in VALUES]
    literal = (lambda v: f"({v!r})" if math.isfinite(v) else
               ("(0.0/0.0)" if math.isnan(v) else ("(1.0/0.0)" if v > 0 else "(-1.0/0.0)")))
    # -nan: the sign of a NaN result is not part of the semantics, but the operand is kept
    items = [("(-(0.0/0.0))" if math.isnan(v) and math.copysign(1.0, v) < 0 else literal(v)) for v in VALUES]
    src = CTarget.prelude + HARNESS % {"n": len(vals), "t": ctype, "s": suffix, "vals": ", ".join(items)}
    c = tmp_path / "maxmin.c"
    c.write_text(src)
    exe = tmp_path / "maxmin"
    cmd = [compiler(), *[f for f in flags() if f not in ("-shared", "-fPIC")], "-o", str(exe), str(c), "-lm"]
    subprocess.run(cmd, check=True, capture_output=True)
    out = np.frombuffer(subprocess.run([str(exe)], check=True, capture_output=True).stdout, dtype=dtype)
    n = len(vals)
    scalar, mx, mn = out[: 2 * n * n], out[2 * n * n: 3 * n * n], out[3 * n * n:]
    bad = []
    for k in range(n * n):
        a, b = vals[k // n], vals[k % n]
        for what, got, larger in (("scalar max", scalar[2 * k], True), ("scalar min", scalar[2 * k + 1], False),
                                  ("loop max", mx[k], True), ("loop min", mn[k], False)):
            want = reference(a, b, larger)
            if not same(float(got), want):
                bad.append(f"{what}({a!r}, {b!r}) = {float(got)!r}, want {want!r}")
    assert not bad, "\n".join(bad[:20])


def test_reference_signed_zeros():
    """The reference itself on the four orders of signed zeros, by bits."""
    def sign(v: float) -> float:
        return math.copysign(1.0, v)

    table = [(0.0, 0.0, 1, 1), (0.0, -0.0, 1, -1), (-0.0, 0.0, 1, -1), (-0.0, -0.0, -1, -1)]
    for a, b, max_sign, min_sign in table:
        assert reference(a, b, True) == 0.0 and sign(reference(a, b, True)) == max_sign
        assert reference(a, b, False) == 0.0 and sign(reference(a, b, False)) == min_sign
