"""Error contracts of the float32 transcendental functions vnnc's kernels call, measured
exhaustively over every finite float32 input.

    .venv/bin/python benchmarks/ulp_contracts.py [--functions expf,logf,tanhf,erff,sqrtf]

For each function f and every finite float32 x (2^32 bit patterns, NaNs and infinities
skipped), the libm result f(x) — compiled with vnnc's own C flags — is compared with the
double-precision function at x, whose own error (about 2^-53 relative) is negligible
against a float32 ulp (2^-24 relative, so at most ~2^-29 of the reported figure). The
error is |f(x) - F(x)| / ulp32(F(x)), ulp32 the spacing of float32 at F(x) (2^-149 in
the subnormal range). Inputs whose exact result overflows float32 are only required to
give inf or the largest float. The result is a *tested* contract (TRUST.md), not a
checked one. Runs one process per function, in parallel across the cores.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HARNESS = r"""
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static double ulp32(double y) {
  int e;
  frexp(fabs(y), &e);                  /* |y| = m 2^e, m in [0.5, 1) */
  int ex = e - 1 < -126 ? -126 : e - 1;
  return ldexp(1.0, ex - 23);
}

int main(void) {
  double worst = 0.0; float worst_x = 0.0f; uint64_t bad_special = 0;
  for (uint64_t b = 0; b < (1ull << 32); b++) {
    uint32_t u = (uint32_t)b; float x; memcpy(&x, &u, 4);
    if (!isfinite(x)) continue;
    float y = FN32(x); double r = FN64((double)x);
    if (isnan(r) || isinf(r)) { if (!(isnan(r) ? isnan(y) : y == (float)r)) bad_special++; continue; }
    if (fabs(r) > FLT_MAX) { if (!(isinf(y) || fabsf(y) == FLT_MAX)) bad_special++; continue; }
    double err = fabs((double)y - r) / ulp32(r);
    if (!(err <= worst)) { worst = err; worst_x = x; }
  }
  printf("%.6f %a %llu\n", worst, (double)worst_x, (unsigned long long)bad_special);
  return 0;
}
"""

FUNCTIONS = {"expf": "exp", "logf": "log", "tanhf": "tanh", "erff": "erf", "sqrtf": "sqrt"}


def measure(name: str, tmp: Path, flags: list[str]) -> tuple[str, float, str, int, float]:
    exe = tmp / name
    src = tmp / f"{name}.c"
    src.write_text(HARNESS)
    cmd = ["cc", *flags, f"-DFN32={name}", f"-DFN64={FUNCTIONS[name]}", "-o", str(exe), str(src), "-lm"]
    subprocess.run(cmd, check=True)
    t0 = time.perf_counter()
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.split()
    return name, float(out[0]), out[1], int(out[2]), time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--functions", default=",".join(FUNCTIONS))
    args = ap.parse_args()
    from vnnc.backends.build import BASE_FLAGS

    flags = [f for f in BASE_FLAGS if f not in ("-fPIC", "-shared")] + ["-march=native"]
    names = args.functions.split(",")
    with tempfile.TemporaryDirectory() as d, ThreadPoolExecutor() as pool:
        rows = list(pool.map(lambda n: measure(n, Path(d), flags), names))
    print(f"{'function':8} {'max ulp error':>14} {'at x':>16} {'bad specials':>13} {'seconds':>8}")
    for name, worst, x, bad, secs in rows:
        print(f"{name:8} {worst:14.4f} {x:>16} {bad:13d} {secs:8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
