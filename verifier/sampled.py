"""The built library against the checker's reference, on sampled inputs.

The library runs in a subprocess (`python -m vnnc.verifier.sampled LIB PARAMS IN OUT`),
so that whatever it does to the floating-point environment or memory cannot touch the
checker. It is bound through its documented C ABI (model.h) with ctypes, by parameter
name. Inputs are drawn with a fixed seed: float32 uniformly in [-1, 1], int64 labels
in {0, 1}. The outputs must lie within the stated float32 tolerance of the float64
evaluation of the spec stage: |y - ref| <= TOLERANCE * max(1, max |ref|) per output,
with NaN exactly where the reference has NaN. This is a sampled test of the binary,
reported as a check row; it is not a certified error bound.
"""

from __future__ import annotations

import ctypes
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from vnnc.verifier.check import Accepted, Reject, Rejected

TOLERANCE = 2.0**-10
SAMPLES = 4
DTYPES = {"float32": np.float32, "int64": np.int64}


def check_library(root: Path, manifest: dict, spec_text: str, params_bytes: bytes) -> Accepted | Rejected:
    from vnnc.verifier import params as params_mod
    from vnnc.verifier import semantics
    from vnnc.verifier.mlir import parse

    try:
        params = params_mod.read(params_bytes)
        module = parse(spec_text)
        inputs, outputs = manifest["inputs"], manifest["outputs"]
        rng = np.random.default_rng(0)
        samples = []
        for _ in range(SAMPLES):
            xs = []
            for spec in inputs:
                if spec["dtype"] == "int64":
                    xs.append(rng.integers(0, 2, spec["shape"]).astype(np.int64))
                else:
                    xs.append(rng.uniform(-1, 1, spec["shape"]).astype(np.float32))
            samples.append(xs)
        got = run_isolated(root / manifest["artifacts"]["library"], root / manifest["params"]["file"],
                           samples, outputs)
        for xs, ys in zip(samples, got):
            refs = semantics.evaluate(module, params, [x.astype(np.float64) if x.dtype == np.float32 else x
                                                       for x in xs])
            for spec, y, ref in zip(outputs, ys, refs):
                ref = np.asarray(ref, np.float64)
                if y.shape != ref.shape or not np.array_equal(np.isnan(y), np.isnan(ref)):
                    raise Reject(f"output {spec['name']!r}: shape or NaN pattern differs from the reference")
                finite = ~np.isnan(ref)
                scale = max(1.0, float(np.abs(ref[finite]).max(initial=0.0)))
                err = float(np.abs(y[finite] - ref[finite]).max(initial=0.0))
                if not err <= TOLERANCE * scale:
                    raise Reject(f"output {spec['name']!r}: library differs from the reference by {err:.3g} "
                                 f"(tolerance {TOLERANCE * scale:.3g})")
        return Accepted()
    except Reject as e:
        return Rejected(str(e))
    except (KeyError, TypeError, ValueError, OSError) as e:
        return Rejected(f"library check failed ({type(e).__name__}: {e})")


def run_isolated(library: Path, params_file: Path, samples: list, outputs: list[dict]) -> list:
    with tempfile.TemporaryDirectory() as tmp:
        ins, outs = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        np.savez(ins, **{f"s{i}_{j}": x for i, xs in enumerate(samples) for j, x in enumerate(xs)},
                 __meta=np.array([len(samples), len(samples[0])]))
        spec = ";".join(f"{o['dtype']}:{','.join(map(str, o['shape']))}" for o in outputs)
        proc = subprocess.run(
            [sys.executable, "-m", "vnnc.verifier.sampled", str(library), str(params_file), str(ins),
             str(outs), spec], check=False, capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise Reject(f"the library failed in its subprocess: {proc.stderr.strip()[-300:]}")
        with np.load(outs) as data:
            return [[data[f"s{i}_{k}"] for k in range(len(outputs))] for i in range(len(samples))]


def _child(library: str, params_file: str, ins: str, outs: str, spec: str) -> None:
    from vnnc.verifier.params import read

    params = read(Path(params_file).read_bytes())
    lib = ctypes.CDLL(library)
    lib.vnnc_model_param_name.restype = ctypes.c_char_p
    keep = []
    for i in range(lib.vnnc_model_num_params()):
        keep.append(np.ascontiguousarray(params[lib.vnnc_model_param_name(i).decode()]))
    lib.vnnc_model_bind_params((ctypes.c_void_p * max(len(keep), 1))(*[a.ctypes.data for a in keep]))
    out_specs = [(DTYPES[d], tuple(int(n) for n in s.split(",") if n)) for d, s in
                 (item.split(":") for item in spec.split(";"))]
    results = {}
    with np.load(ins) as data:
        n_samples, n_inputs = (int(v) for v in data["__meta"])
        for i in range(n_samples):
            xs = [np.ascontiguousarray(data[f"s{i}_{j}"]) for j in range(n_inputs)]
            ys = [np.zeros(shape, dtype) for dtype, shape in out_specs]
            args = (ctypes.c_void_p * (len(xs) + len(ys)))(*[a.ctypes.data for a in xs + ys])
            if lib.vnnc_model_run(args) != 0:
                sys.exit("vnnc_model_run failed")
            results.update({f"s{i}_{k}": y for k, y in enumerate(ys)})
    np.savez(outs, **results)


if __name__ == "__main__":
    _child(*sys.argv[1:6])
