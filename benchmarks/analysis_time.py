"""Time of the certified error analysis and of its check, per model and format, without the
sampling protocol of error_bound.py (same models and boxes, same compile call):

    .venv/bin/python benchmarks/analysis_time.py [--models acas,mlp,tanh,mnist] [--formats f32,f16,bf16]
        [--alone]

`--alone` keeps the split search in one process (no helper process: passes/error_analysis.py
`start_helper`, vnnc.parallel), for timing the helper's gain in the same run. Prints one line
per model and format: the analysis seconds (`certified_error_bound.analysis_seconds`), the checker's seconds (the
`error-bound` row of the manifest), the leaves and the largest bound.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import error_bound  # the models and boxes


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--models", default="acas,mlp,tanh,mnist")
    p.add_argument("--formats", default="f32,f16,bf16")
    p.add_argument("--alone", action="store_true")
    args = p.parse_args()
    import vnnc
    from vnnc.errors import VnncError
    from vnnc.passes import error_analysis

    if args.alone:
        error_analysis.start_helper = lambda *a: None
    work = Path(tempfile.mkdtemp(prefix="vnnc-analysis-time-"))
    available = error_bound.models(work)
    for name in args.models.split(","):
        if name not in available:
            print(f"{name}: not available (../shared/data missing?)")
            continue
        model, lo, hi = available[name]
        box = work / f"{name}.npz"
        np.savez(box, lo=lo, hi=hi)
        for fmt in args.formats.split(","):
            t0 = time.perf_counter()
            try:
                b = vnnc.compile(model, out=work / f"{name}-{fmt}", force=True, precision={"precision": fmt},
                                 input_box=box)
            except VnncError as e:
                print(f"{name} {fmt}: no bound after {time.perf_counter() - t0:.1f} s of compiling: "
                      f"{str(e).split(': ', 1)[-1][:160]}", flush=True)
                continue
            cert = b.manifest["certified_error_bound"]
            check = next(r["seconds"] for r in b.manifest["checks"] if r["stage"] == "error-bound")
            print(f"{name} {fmt}: analysis {cert['analysis_seconds']:.2f} s, check {check:.2f} s, "
                  f"{cert['leaves']} leaves, bound up to {max(cert['abs']):.3g}"
                  f"{' (search alone)' if args.alone else ''}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
