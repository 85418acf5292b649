"""Blocked conv2d kernels in C: how much computing several outputs per iteration gains.

    .venv/bin/python benchmarks/conv_forms.py [--batch 64] [--repeats 50]

For the two convolutions of examples/cnn.mlir (3x3, padding 1, stride 1: 1 -> 8 channels on
28x28 and 8 -> 16 on 14x14) and each block of ro output channels times rj output columns
per loop iteration, one kernel is built by lower-to-loops' own writer
(passes/kernels/window.py conv2d with `KernelSpec.block`), printed by vnnc's C printer and
compiled with vnnc's flags (backends/build.py). Every output keeps its sequential sum over
(c, p, q), so every kernel's output must equal the 1 x 1 kernel's (today's form) bit for
bit; the harness stops otherwise. Each is timed alone, warm, as the median of `--repeats`
calls in one C process (one thread).
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
from vnnc.passes.kernels.window import conv2d
from xdsl.dialects.builtin import MemRefType, ModuleOp, f32

sys.path.insert(0, str(Path(__file__).resolve().parent))
from register_blocking import HEADER, TIMING  # the same C harness prelude

BLOCKS = [(1, 1), (2, 1), (4, 1), (8, 1), (16, 1), (1, 2), (2, 2), (4, 2), (8, 2), (1, 7), (2, 7), (4, 7), (1, 14), (2, 14), (4, 14), (8, 14), (2, 28)]
CONVS = {"conv1": (1, 28, 8), "conv2": (8, 14, 16)}  # in channels, image side, out channels


def kernel(name: str, batch: int, c_in: int, side: int, c_out: int, ro: int, rj: int):
    attrs = (("dilations", (1, 1)), ("groups", 1), ("pads", (1, 1, 1, 1)), ("strides", (1, 1)))
    shapes = ((batch, c_in, side, side), (c_out, c_in, 3, 3), (c_out,))
    out = (batch, c_out, side, side)
    spec = KernelSpec("conv2d", shapes, out, attrs, ("f32",) * 3, block=(ro, rj))
    kb = KernelBuilder(name, [MemRefType(f32, list(s)) for s in (*shapes, out)])
    conv2d(kb, spec)
    return kb.finish()


HARNESS = TIMING + """
int main(void) {{
  const long NX = {nx}, NW = {nw}, NB = {nb}, NY = {ny};
  const int R = {repeats};
  float *x = vnnc_alloc(4 * NX), *w = vnnc_alloc(4 * NW), *b = vnnc_alloc(4 * NB), *y = vnnc_alloc(4 * NY),
        *y0 = vnnc_alloc(4 * NY);
  double* ts = malloc(sizeof(double) * R);
  srand(1);
  for (long i = 0; i < NX; i++) x[i] = (float)rand() / RAND_MAX - 0.5f;
  for (long i = 0; i < NW; i++) w[i] = (float)rand() / RAND_MAX - 0.5f;
  for (long i = 0; i < NB; i++) b[i] = (float)rand() / RAND_MAX - 0.5f;
  int first = 1;
{calls}
  return 0;
}}
"""

CALL = """  {{
    memset(y, 0, 4 * NY);
    k_{name}(x, w, b, y);
    if (first) {{ memcpy(y0, y, 4 * NY); first = 0; }}
    else if (memcmp(y, y0, 4 * NY)) {{ printf("{name} MISMATCH\\n"); return 1; }}
    for (int r = 0; r < R; r++) {{ double t0 = now(); k_{name}(x, w, b, y); ts[r] = now() - t0; }}
    qsort(ts, R, sizeof(double), cmp);
    printf("{name} %.1f\\n", ts[R / 2] * 1e6);
  }}
"""


def measure(conv: str, batch: int, repeats: int, tmp: Path) -> dict[tuple[int, int], float]:
    c_in, side, c_out = CONVS[conv]
    fns, names = [], {}
    for ro, rj in BLOCKS:
        if c_out % ro or side % rj:
            continue
        names[ro, rj] = f"{conv}_{ro}x{rj}"
        fns.append(kernel(names[ro, rj], batch, c_in, side, c_out, ro, rj))
    src, _ = emit_c(ModuleOp(fns))
    src = src.replace("static void k_", "void k_")  # printed as the library's kernels are
    calls = "".join(CALL.format(name=name) for name in names.values())
    sizes = {"nx": batch * c_in * side * side, "nw": c_out * c_in * 9, "nb": c_out, "ny": batch * c_out * side * side}
    (tmp / "bench.c").write_text(HEADER + src + HARNESS.format(**sizes, repeats=repeats, calls=calls))
    exe = tmp / "bench"
    cmd = [compiler(), *[f for f in flags() if f not in ("-shared", "-fPIC")], "-o", str(exe), str(tmp / "bench.c"), "-lm"]
    subprocess.run(cmd, check=True)
    out = subprocess.run([str(exe)], check=False, capture_output=True, text=True).stdout
    if "MISMATCH" in out:
        raise SystemExit(f"a blocked kernel differs from the unblocked one:\n{out}")
    times = dict(line.split() for line in out.splitlines())
    return {block: float(times[name]) for block, name in names.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=50)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="vnnc-conv-") as d:
        results = {conv: measure(conv, args.batch, args.repeats, Path(d)) for conv in CONVS}
    print("| block (channels x columns) | " + " | ".join(f"{c} batch {args.batch} µs" for c in CONVS) + " |")
    print("|---|" + "---|" * len(CONVS))
    for block in BLOCKS:
        cells = [f"{results[c][block]:.1f}" if block in results[c] else "—" for c in CONVS]
        print(f"| {block[0]} x {block[1]} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
