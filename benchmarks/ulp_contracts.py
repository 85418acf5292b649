"""Error contracts of the libm functions vnnc's kernels call, measured: every finite float32
input for the float32 functions, in each of the four rounding modes a kernel may run in;
a seeded sample for the double functions.

    .venv/bin/python benchmarks/ulp_contracts.py [--functions expf,logf,...] [--modes nearest,...]
        [--jobs 1] [--samples 16777216]

float32 (expf logf tanhf erff sqrtf): for every finite float32 x (2^32 bit patterns, NaNs
and infinities skipped) the libm result f(x), computed with the kernel's rounding mode set
(`fesetround`, as a kernel of that mode runs) and vnnc's own C flags, is compared with the
double-precision function at x computed in round-to-nearest, whose own error (about 2^-53
relative) is negligible against a float32 ulp (2^-24 relative: at most ~2^-28 of the
figure). The error is |f(x) - F(x)| / ulp32(F(x)), ulp32 the spacing of float32 at F(x)
(2^-149 in the subnormal range). Inputs whose exact result overflows float32 (the double
result beyond FLT_MAX, or infinite) are only required to give inf or the largest float of
that sign ("bad specials" counts the others, and NaN where the double function is not NaN).

double (exp log tanh erf sqrt): not exhaustive (2^64 inputs): `--samples` float32 inputs
drawn uniformly over bit patterns and as many double inputs drawn the same way (seeded),
against the x87 long double function (64-bit significand: its error is ~2^-11 of a double
ulp), in units of double ulps, each mode as above.

Results are *tested* contracts (TRUST.md), not checked ones: dialects/fp.py's table
ULP_CONTRACTS and the checker's own copy (verifier/precision.py) hold the numbers measured
here plus a margin (benchmarks/README.md). Each (function, mode) is one process; `--jobs` of them run at once.
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

HARNESS32 = r"""
#include <fenv.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define BLOCK 65536
static double ulp32(double y) {
  int e;
  frexp(fabs(y), &e);                  /* |y| = m 2^e, m in [0.5, 1) */
  int ex = e - 1 < -126 ? -126 : e - 1;
  return ldexp(1.0, ex - 23);
}

int main(void) {
  static float xs[BLOCK], ys[BLOCK];
  static double rs[BLOCK];
  double worst = 0.0; float worst_x = 0.0f; uint64_t bad_special = 0;
  for (uint64_t base = 0; base < (1ull << 32); base += BLOCK) {
    for (int i = 0; i < BLOCK; i++) { uint32_t u = (uint32_t)(base + i); memcpy(&xs[i], &u, 4); }
    fesetround(FE_TONEAREST);
    for (int i = 0; i < BLOCK; i++) rs[i] = FN64((double)xs[i]);
    fesetround(MODE);
    for (int i = 0; i < BLOCK; i++) ys[i] = FN32(xs[i]);
    fesetround(FE_TONEAREST);
    for (int i = 0; i < BLOCK; i++) {
      float x = xs[i], y = ys[i]; double r = rs[i];
      if (!isfinite(x)) continue;
      if (isnan(r)) { if (!isnan(y)) bad_special++; continue; }
      /* an exact result beyond FLT_MAX (or beyond double's range: inf) overflows: inf or the
       * largest float of its sign, by the rounding mode */
      if (fabs(r) > FLT_MAX) { if (!((isinf(y) || fabsf(y) == FLT_MAX) && !signbit(y) == !signbit(r))) bad_special++; continue; }
      double err = fabs((double)y - r) / ulp32(r);
      if (!(err <= worst)) { worst = err; worst_x = x; }
    }
  }
  printf("%.6f %a %llu\n", worst, (double)worst_x, (unsigned long long)bad_special);
  return 0;
}
"""

HARNESS64 = r"""
#include <fenv.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t state = 0x9e3779b97f4a7c15ull;
static uint64_t next(void) {            /* splitmix64 */
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull; z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static long double ulp64(long double y) {
  int e;
  frexpl(fabsl(y), &e);
  int ex = e - 1 < -1022 ? -1022 : e - 1;
  return ldexpl(1.0L, ex - 52);
}

int main(int argc, char **argv) {
  long n = atol(argv[1]);
  long double worst = 0.0L; double worst_x = 0.0; uint64_t bad_special = 0;
  for (long i = 0; i < 2 * n; i++) {
    double x;
    if (i < n) { uint32_t u = (uint32_t)next(); float f; memcpy(&f, &u, 4); x = f; }
    else { uint64_t u = next(); memcpy(&x, &u, 8); }
    if (!isfinite(x)) continue;
    fesetround(FE_TONEAREST);
    long double r = FNL((long double)x);
    fesetround(MODE);
    double y = FN64(x);
    fesetround(FE_TONEAREST);
    if (isnan(r)) { if (!isnan(y)) bad_special++; continue; }
    if (fabsl(r) > DBL_MAX) { if (!((isinf(y) || fabs(y) == DBL_MAX) && !signbit(y) == !signbit(r))) bad_special++; continue; }
    long double err = fabsl((long double)y - r) / ulp64(r);
    if (!(err <= worst)) { worst = err; worst_x = x; }
  }
  printf("%.6Lf %a %llu\n", worst, worst_x, (unsigned long long)bad_special);
  return 0;
}
"""

FUNCTIONS = {"expf": "exp", "logf": "log", "tanhf": "tanh", "erff": "erf", "sqrtf": "sqrt",
             "exp": "expl", "log": "logl", "tanh": "tanhl", "erf": "erfl", "sqrt": "sqrtl"}
MODES = {"nearest": "FE_TONEAREST", "zero": "FE_TOWARDZERO", "up": "FE_UPWARD", "down": "FE_DOWNWARD"}


def measure(name: str, mode: str, tmp: Path, flags: list[str], samples: int):
    exe = tmp / f"{name}_{mode}"
    src = tmp / f"{name}_{mode}.c"
    single = name.endswith("f")
    src.write_text(HARNESS32 if single else HARNESS64)
    names = [f"-DFN32={name}", f"-DFN64={FUNCTIONS[name]}"] if single else \
        [f"-DFN64={name}", f"-DFNL={FUNCTIONS[name]}"]
    cmd = ["cc", *flags, *names, f"-DMODE={MODES[mode]}", "-o", str(exe), str(src), "-lm"]
    subprocess.run(cmd, check=True)
    t0 = time.perf_counter()
    run = [str(exe)] if single else [str(exe), str(samples)]
    out = subprocess.run(run, check=True, capture_output=True, text=True).stdout.split()
    return name, mode, float(out[0]), out[1], int(out[2]), time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--functions", default=",".join(FUNCTIONS))
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--samples", type=int, default=1 << 24)
    args = ap.parse_args()
    from vnnc.backends.build import BASE_FLAGS

    flags = [f for f in BASE_FLAGS if f not in ("-fPIC", "-shared")] + ["-march=native"]
    jobs = [(n, m) for n in args.functions.split(",") for m in args.modes.split(",")]
    print(f"{'function':8} {'mode':8} {'max ulp error':>14} {'at x':>24} {'bad specials':>13} {'seconds':>8}",
          flush=True)
    with tempfile.TemporaryDirectory() as d, ThreadPoolExecutor(args.jobs) as pool:
        for name, mode, worst, x, bad, secs in pool.map(
                lambda j: measure(*j, Path(d), flags, args.samples), jobs):
            print(f"{name:8} {mode:8} {worst:14.6f} {x:>24} {bad:13d} {secs:8.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
