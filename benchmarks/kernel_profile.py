"""Where a compiled model's time goes: the median time of each kernel call inside the model.

    .venv/bin/python benchmarks/kernel_profile.py [--models mlp,cnn] [--batch 64] [--repeats 200]

Each model of inference.py (the MLP 784-256-256-10 and the CNN of examples/, exported to
ONNX with a symbolic batch) is compiled by vnnc at `--batch`; a copy of its model.c has every
kernel call of the model function timed (clock_gettime around the call, one array slot per
call site, read after each run) and is built with vnnc's flags into a separate library,
loaded by vnnc's runner with the bundle's parameters. After 5 warm-up runs, `--repeats` runs
one after another (one thread, nothing interleaved) give the median of each call and of the
whole run.
"""

from __future__ import annotations

import argparse
import ctypes
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import inference  # the models, as the inference benchmark builds them

TIMED = ("{{ struct timespec t0, t1; clock_gettime(CLOCK_MONOTONIC, &t0); k_{name}({args}); "
         "clock_gettime(CLOCK_MONOTONIC, &t1); vnnc_prof[{i}] = (t1.tv_sec - t0.tv_sec) * 1e9 "
         "+ (t1.tv_nsec - t0.tv_nsec); }}")


def instrument(source: str) -> tuple[str, list[str]]:
    """model.c with each kernel call in the model function timed, and the called kernels."""
    start = source.index("int vnnc_model_main")
    calls: list[str] = []

    def timed(m: re.Match) -> str:
        calls.append(m.group(2))
        return m.group(1) + TIMED.format(name=m.group(2), args=m.group(3), i=len(calls) - 1)

    body = re.sub(r"(\n\s*)k_(\w+)\(([^)]*)\);", timed, source[start:])
    head = "#define _POSIX_C_SOURCE 199309L\n#include <time.h>\n" + source[:start]
    return head + f"double vnnc_prof[{max(len(calls), 1)}];\n" + body, calls


def profile(kind: str, batch: int, repeats: int, tmp: Path) -> None:
    import onnx
    import vnnc
    from vnnc import safetensors
    from vnnc.backends.build import build_shared
    from vnnc.backends.runner import Runner

    params = safetensors.read(inference.ROOT / "examples" / f"{kind}.safetensors")
    model = inference.mlp_onnx(params) if kind == "mlp" else inference.cnn_onnx(params)
    onnx.save(model, str(tmp / f"{kind}.onnx"))
    bundle = vnnc.compile(tmp / f"{kind}.onnx", out=tmp / f"{kind}-{batch}", batch=batch, force=True)
    source, calls = instrument((bundle.path / "model.c").read_text())
    (tmp / f"{kind}-prof.c").write_text(source)
    build_shared(tmp / f"{kind}-prof.c", tmp / f"lib{kind}-prof.so")
    runner = Runner(tmp / f"lib{kind}-prof.so", params, bundle.inputs, bundle.outputs)
    runner._in[0][...] = np.random.default_rng(0).random(runner._in[0].shape, dtype=np.float32)
    for _ in range(5):
        runner.run_into()
    prof = (ctypes.c_double * len(calls)).in_dll(runner.lib, "vnnc_prof")
    runs, each = [], [[] for _ in calls]
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        runner.run_into()
        runs.append(time.perf_counter_ns() - t0)
        for i in range(len(calls)):
            each[i].append(prof[i])
    print(f"\n{kind} at batch {batch}: run_into median {statistics.median(runs) / 1e3:.1f} us")
    for name, times in zip(calls, each):
        print(f"  {statistics.median(times) / 1e3:9.1f} us  {name}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="mlp,cnn")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=200)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="vnnc-profile-") as d:
        for kind in args.models.split(","):
            profile(kind, args.batch, args.repeats, Path(d))
    return 0


if __name__ == "__main__":
    sys.exit(main())
