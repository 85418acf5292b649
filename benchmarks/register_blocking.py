"""Register blocking of a lanes16 linear in C: which kernel form gcc makes fastest.

    .venv/bin/python benchmarks/register_blocking.py [--shapes 64x784x256,...] [--repeats 400]

For each shape M x K x N (y[M, N] = x[M, K] W[N, K]^T, no bias, K >= 32) and each block of
ri rows times rj columns per loop iteration, one kernel is built with vnnc's KernelBuilder,
printed by vnnc's C printer and compiled with vnnc's flags (backends/build.py), in two forms:

- scalar: the lanes16 order as scalar SSA values, ri x rj x 16 float accumulators carried
  by one loop (the form lower-to-loops printed before vectors);
- vector: each output's 16 lanes one vector<16xf32> (passes/kernels/contraction.py, the
  form lower-to-loops prints now).

Every kernel's output must equal the 1 x 1 scalar kernel's bit for bit (the order of every
output is the same). Each is timed alone, warm, as the median of `--repeats` calls in one
C process (one thread).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from vnnc.backends.build import compiler, flags
from vnnc.backends.c import emit_c
from vnnc.passes.kernels import KernelSpec
from vnnc.passes.kernels.builder import KernelBuilder
from vnnc.passes.kernels.contraction import LANES, linear, tree_sum
from xdsl.dialects.builtin import MemRefType, ModuleOp, f32

BLOCKS = [(1, 1), (2, 1), (4, 1), (8, 1), (1, 2), (1, 4), (2, 2), (4, 2), (8, 2), (4, 4)]


def scalar_kernel(name: str, m: int, k: int, n: int, ri: int, rj: int):
    """The scalar form: for each block, one loop over the 16-blocks of k carrying
    ri * rj * 16 scalar accumulators, loads shared across the block."""
    kb = KernelBuilder(name, [MemRefType(f32, [m, k]), MemRefType(f32, [n, k]), MemRefType(f32, [m, n])])
    x, w, y = kb.args
    blocks, rest = divmod(k, LANES)

    def point(ivs):
        rows = [kb.affine([(ri, ivs[0])], r) for r in range(ri)]
        cols = [kb.affine([(rj, ivs[1])], c) for c in range(rj)]

        def step(kv, accs):
            out = [None] * (ri * rj * LANES)
            for t in range(LANES):
                kk = kb.affine([(LANES, kv[0])], t)
                xs, ws = [kb.load(x, [i, kk]) for i in rows], [kb.load(w, [j, kk]) for j in cols]
                for r in range(ri):
                    for c in range(rj):
                        o = (r * rj + c) * LANES + t
                        out[o] = kb.add(accs[o], kb.mul(xs[r], ws[c]))
            return out

        lanes = kb.reduce([blocks], [kb.const(0.0)] * (ri * rj * LANES), step)
        sums = [tree_sum(kb, lanes[o * LANES:(o + 1) * LANES]) for o in range(ri * rj)]
        if rest:
            def tail(kv, accs):
                kk = kb.affine([(1, kv[0])], blocks * LANES)
                xs, ws = [kb.load(x, [i, kk]) for i in rows], [kb.load(w, [j, kk]) for j in cols]
                return [kb.add(accs[r * rj + c], kb.mul(xs[r], ws[c])) for r in range(ri) for c in range(rj)]
            sums = kb.reduce([rest], sums, tail)
        for r in range(ri):
            for c in range(rj):
                kb.store(sums[r * rj + c], y, [rows[r], cols[c]])

    kb.nest([m // ri, n // rj], point)
    return kb.finish()


def vector_kernel(name: str, m: int, k: int, n: int, ri: int, rj: int):
    spec = KernelSpec("linear", ((m, k), (n, k)), (m, n), (), ("f32", "f32"), order="lanes16", block=(ri, rj))
    kb = KernelBuilder(name, [MemRefType(f32, [m, k]), MemRefType(f32, [n, k]), MemRefType(f32, [m, n])])
    linear(kb, spec)
    return kb.finish()


HEADER = "#define _POSIX_C_SOURCE 200809L\n#include <stdio.h>\n#include <time.h>\n"
# the harness's clock and median (a format string: braces doubled), shared with conv_forms.py
TIMING = """
static double now(void) {{ struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }}
static int cmp(const void* a, const void* b) {{ double x = *(const double*)a, y = *(const double*)b; return x < y ? -1 : x > y; }}
"""
HARNESS = TIMING + """
int main(void) {{
  const int M = {m}, K = {k}, N = {n}, R = {repeats};
  float *x = vnnc_alloc(4 * M * K), *w = vnnc_alloc(4 * N * K), *y = vnnc_alloc(4 * M * N), *y0 = vnnc_alloc(4 * M * N);
  double* ts = malloc(sizeof(double) * R);
  srand(1);
  for (int i = 0; i < M * K; i++) x[i] = (float)rand() / RAND_MAX - 0.5f;
  for (int i = 0; i < N * K; i++) w[i] = (float)rand() / RAND_MAX - 0.5f;
  int first = 1;
{calls}
  return 0;
}}
"""

CALL = """  {{
    k_{name}(x, w, y);
    if (first) {{ memcpy(y0, y, 4 * M * N); first = 0; }}
    else if (memcmp(y, y0, 4 * M * N)) {{ printf("{name} MISMATCH\\n"); return 1; }}
    for (int r = 0; r < R; r++) {{ double t0 = now(); k_{name}(x, w, y); ts[r] = now() - t0; }}
    qsort(ts, R, sizeof(double), cmp);
    printf("{name} %.1f\\n", ts[R / 2] * 1e6);
  }}
"""


def measure(m: int, k: int, n: int, repeats: int, tmp: Path) -> dict[str, float]:
    fns, names = [], []
    for form, make in (("scalar", scalar_kernel), ("vector", vector_kernel)):
        for ri, rj in BLOCKS:
            if m % ri or n % rj:
                continue
            names.append(f"{form}_{ri}x{rj}")
            fns.append(make(names[-1], m, k, n, ri, rj))
    src, _ = emit_c(ModuleOp(fns))
    src = src.replace("static void k_", "void k_")  # printed as the library's kernels are
    calls = "".join(CALL.format(name=name) for name in names)
    (tmp / "bench.c").write_text(HEADER + src + HARNESS.format(m=m, k=k, n=n, repeats=repeats, calls=calls))
    exe = tmp / "bench"
    cmd = [compiler(), *[f for f in flags() if f not in ("-shared", "-fPIC")], "-o", str(exe), str(tmp / "bench.c"), "-lm"]
    subprocess.run(cmd, check=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    return {name: float(us) for name, us in (line.split() for line in out.splitlines())}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shapes", default="64x784x256,64x256x256,256x64x784,256x64x256")
    ap.add_argument("--repeats", type=int, default=400)
    args = ap.parse_args()
    shapes = [tuple(int(d) for d in s.split("x")) for s in args.shapes.split(",")]
    with tempfile.TemporaryDirectory(prefix="vnnc-blocking-") as d:
        results = {s: measure(*s, args.repeats, Path(d)) for s in shapes}
    print("| block | " + " | ".join(f"{m}x{k}x{n} scalar µs | vector µs" for m, k, n in shapes) + " |")
    print("|---|" + "---|---|" * len(shapes))
    for ri, rj in BLOCKS:
        cells = []
        for s in shapes:
            r = results[s]
            cells += [f"{r[f'{f}_{ri}x{rj}']:.1f}" if f"{f}_{ri}x{rj}" in r else "—" for f in ("scalar", "vector")]
        print(f"| {ri} x {rj} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
