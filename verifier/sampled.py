"""The built library against the checker's float64 reference, on sampled inputs.

The library runs in a child process (`python -m vnnc.verifier.sampled`), so that nothing it
does to the floating-point environment or memory can touch the checker, bound through its
C ABI (model.h) by parameter name. SAMPLES inputs are drawn with seed 0: float32 uniform in
[-1, 1], int64 labels in {0, 1}. Each output must have the reference's shape, NaN and
infinities, and elsewhere |y - ref| <= TOLERANCE * max(1, max |ref|). A sampled test of the
binary, not a certified error bound.
With a certified bound (error-bound row), the inputs are the box's corners lo, hi and SAMPLES
draws in it, and each output must lie within the bound of an enclosure of the real output.
"""

from __future__ import annotations

import ctypes
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from vnnc.verifier import precision, roundoff
from vnnc.verifier.check import Accepted, Reject, Rejected, guarded
from vnnc.verifier.interval import down, up
from vnnc.verifier.mlir import parse
from vnnc.verifier.params import read
from vnnc.verifier.semantics import evaluate, main_function

TOLERANCE = 2.0**-10
SAMPLES = 4


def draw(inputs: list[dict], box: str = "") -> list[list[np.ndarray]]:
    """The sampled inputs for the manifest's `inputs` (inside the box file `box` when given),
    the same in both processes."""
    rng = np.random.default_rng(0)
    if box:  # float32 inputs, stepped back into the box where rounding left it
        lo, hi = roundoff.load_box(Path(box).read_bytes(), inputs[0]["shape"])
        xs = [np.float32(x) for x in (lo, hi, *(rng.uniform(lo, hi) for _ in range(SAMPLES)))]
        xs = [np.where(x < lo, np.nextafter(x, np.float32(np.inf)), x).astype(np.float32) for x in xs]
        return [[np.where(x > hi, np.nextafter(x, np.float32(-np.inf)), x).astype(np.float32)] for x in xs]
    return [[rng.integers(0, 2, x["shape"]).astype(np.int64) if x["dtype"] == "int64"
             else rng.uniform(-1, 1, x["shape"]).astype(np.float32) for x in inputs] for _ in range(SAMPLES)]


def tolerance(module) -> float:
    """TOLERANCE, or 8 units of roundoff of the coarsest storage format the stage uses
    (its reference rounds each op's result, not the operations inside it)."""
    units = [2.0 ** -(precision.format_bits(precision.format_of(op.result_types[0].elem))[1] + 1)
             for op in main_function(module).regions[0][0].ops if op.name.startswith("fp.")]
    return max(TOLERANCE, 8 * max(units, default=0.0))


def compare(name: str, y: np.ndarray, ref: np.ndarray, tol: float = TOLERANCE) -> None:
    """One output of the library against the reference's."""
    infinite = np.isinf(ref)
    if y.shape != ref.shape or not np.array_equal(np.isnan(y), np.isnan(ref)) \
            or not np.array_equal(y[infinite], ref[infinite]):
        raise Reject(f"output {name!r}: shape, NaN pattern or infinities differ from the reference")
    finite = np.isfinite(ref)
    scale = max(1.0, float(np.abs(ref[finite]).max(initial=0.0)))
    err = float(np.abs(y[finite] - ref[finite]).max(initial=0.0))
    if not err <= tol * scale:
        raise Reject(f"output {name!r}: library differs from the reference by {err:.3g} "
                     f"(tolerance {tol * scale:.3g})")


def check_library(root: Path, manifest: dict, spec_text: str, params: bytes,
                  certified: tuple | None = None) -> Accepted | Rejected:
    """`certified`: (fp stage, box file, bound) of an accepted error-bound row."""
    return guarded(_check_library, root, manifest, spec_text, params, certified, prefix="library: ")


def _check_library(root: Path, manifest: dict, spec_text: str, params: bytes, certified: tuple | None) -> None:
    inputs, outputs, box = manifest["inputs"], manifest["outputs"], str(certified[1]) if certified else ""
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [sys.executable, "-P", "-m", "vnnc.verifier.sampled", str(root / manifest["artifacts"]["library"]),
             str(root / manifest["params"]["file"]), json.dumps(inputs), json.dumps(outputs), tmp, box],
            check=False, capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise Reject(f"the library failed in its subprocess: {proc.stderr.strip()[-300:]}")
        xs = draw(inputs, box)
        with np.load(Path(tmp) / "out.npz") as data:
            got = [[data[f"s{i}_{k}"] for k in range(len(outputs))] for i in range(len(xs))]
    for (x,), (y,) in zip(xs, got) if certified else ():
        (lo, hi), b, y = roundoff.enclose(certified[0], params, x), np.array(certified[2]), y.reshape(-1)
        bad = np.nonzero(~((down(lo - b) <= y) & (y <= up(hi + b))))[0]
        if len(bad):
            raise Reject(f"output element {bad[0]}: the library gives {y[bad[0]]!r}, beyond the certified "
                         f"bound {b[bad[0]]:.3g} of the real output at an input in the box")
    if certified:
        return
    module, arrays, tol = parse(spec_text), read(params), tolerance(parse(spec_text))
    for xs, ys in zip(draw(inputs), got):
        for spec, y, ref in zip(outputs, ys, evaluate(module, arrays, xs)):
            compare(spec["name"], y, ref, tol)


def _child(library: str, params_file: str, inputs: str, outputs: str, tmp: str, box: str = "") -> None:
    params = read(Path(params_file).read_bytes())
    lib = ctypes.CDLL(library)
    lib.vnnc_model_param_name.restype = ctypes.c_char_p
    keep = [np.ascontiguousarray(params[lib.vnnc_model_param_name(i).decode()])
            for i in range(lib.vnnc_model_num_params())]
    lib.vnnc_model_bind_params((ctypes.c_void_p * max(len(keep), 1))(*[a.ctypes.data for a in keep]))
    dtypes = {"float32": np.float32, "int64": np.int64}
    results = {}
    for i, xs in enumerate(draw(json.loads(inputs), box)):
        ys = [np.zeros(o["shape"], dtypes[o["dtype"]]) for o in json.loads(outputs)]
        args = (ctypes.c_void_p * (len(xs) + len(ys)))(*[a.ctypes.data for a in xs + ys])
        if lib.vnnc_model_run(args) != 0:
            sys.exit("vnnc_model_run failed")
        results.update({f"s{i}_{k}": y for k, y in enumerate(ys)})
    np.savez(Path(tmp) / "out.npz", **results)


if __name__ == "__main__":
    _child(*sys.argv[1:7])
