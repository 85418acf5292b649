"""The compile driver: front end, the named pipeline's passes, C emission, build, bundle.

The stages are a straight list: stage 00 is the front end's spec module, stage NN the
output of pass NN, and the C printer reads the final stage back from the exact text
written to the bundle (what is built is what was written, and later, checked).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import numpy as np
from vnnc import __version__, safetensors
from vnnc.errors import VnncError

PRECISION_OPTIONS = ("precision", "accumulate", "rounding", "config")


def pipeline_passes(precision: dict | None = None, autograd: bool = False, target: str = "c") -> list:
    """The passes after the front end: lower-autograd (for a program with an ad op),
    assign-precision (when formats are asked for), then lower-to-loops (for `target`)."""
    from vnnc.passes.lower_to_loops import LowerToLoopsPass

    passes = []
    if autograd:
        from vnnc.passes.lower_autograd import LowerAutogradPass

        passes.append(LowerAutogradPass())
    if precision:
        from vnnc.passes.assign_precision import AssignPrecisionPass

        unknown = set(precision) - set(PRECISION_OPTIONS)
        if unknown:
            raise VnncError(f"unknown precision options {sorted(unknown)}")
        passes.append(AssignPrecisionPass(**{k: str(v) for k, v in precision.items() if v is not None}))
    passes.append(LowerToLoopsPass(target=target))
    return passes
EMIT_LEVELS = ("spec", "fp", "loops", "c", "cuda")
TARGETS = ("c", "cuda")


def has_ad_op(module) -> bool:
    """Whether the model differentiates (an ad op): it then goes through lower-autograd."""
    return any(op.name.startswith("ad.") for op in module.walk())


def load_model(path: str | Path, batch: int = 1):
    """Any supported model file -> Model (front ends are chosen by file name)."""
    path = Path(path)
    if not path.exists():
        raise VnncError(f"{path}: no such file")
    if path.is_dir():
        raise VnncError(f"{path}: is a directory, expected a model file (.mlir, .onnx)")
    name = path.name.lower()
    if name.endswith((".onnx", ".onnx.gz")):
        from vnnc.frontend_onnx import import_onnx

        return import_onnx(path, batch=batch)
    if name.endswith(".mlir"):
        from vnnc.frontend_mlir import load_mlir

        return load_mlir(path)
    raise VnncError(f"{path}: unknown model format (expected .mlir, .onnx or .onnx.gz)")


def generic_text(module) -> str:
    from xdsl.printer import Printer

    out = StringIO()
    Printer(stream=out, print_generic_format=True).print_op(module)
    return out.getvalue() + "\n"


def custom_text(module) -> str:
    return str(module) + "\n"


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Stage:
    name: str
    pass_name: str
    text: str  # generic MLIR form
    witness: dict | None
    seconds: float


def run_pipeline(model, passes: list) -> list[Stage]:
    """Run the passes in-process; returns stage 00 (the import) and one stage per pass."""
    from vnnc.dialects.registry import make_context
    from vnnc.passes import witness
    from vnnc.passes.assign_precision import PrecisionError
    from vnnc.passes.lower_autograd import AutogradError
    from vnnc.passes.lower_to_loops import LoweringError
    from xdsl.utils.exceptions import DiagnosticException, VerifyException

    ctx = make_context()
    module = model.module
    stages = [Stage("import", "import", generic_text(module), None, 0.0)]
    for p in passes:
        name = p.name
        t0 = time.perf_counter()
        with witness.collecting() as sink:
            try:
                p.apply(ctx, module)
                module.verify()
            except (LoweringError, PrecisionError, AutogradError) as e:
                raise VnncError(f"{model.source}: {e}") from None
            except (VerifyException, DiagnosticException) as e:
                raise VnncError(f"{model.source}: {name} produced invalid IR: {str(e).splitlines()[0]}") from None
        stages.append(Stage(name, name, generic_text(module), sink[0] if sink else None,
                            time.perf_counter() - t0))
    return stages


def _stage_files(stages: list[Stage]) -> list[tuple[str, Stage]]:
    return [(f"{i:02d}-{s.name}", s) for i, s in enumerate(stages)]


def emit(model_path: str | Path, level: str, batch: int = 1, precision: dict | None = None) -> str:
    """One stage as text, for `vnnc compile --emit LEVEL` (custom form for people)."""
    from vnnc.frontend_mlir import parse_module

    if level not in EMIT_LEVELS:
        raise VnncError(f"unknown --emit level {level!r} (choose from {', '.join(EMIT_LEVELS)})")
    model = load_model(model_path, batch)
    if level == "cuda":
        from vnnc.model import signature

        n_inputs = len(signature(model.module)[0])  # before the passes rewrite @main
    if level == "spec":
        return custom_text(model.module)
    # --emit fp without --precision: the fp stage of the default f32 choice
    stages = run_pipeline(model, pipeline_passes(precision or ({"precision": "f32"} if level == "fp" else None),
                                                 has_ad_op(model.module), "cuda" if level == "cuda" else "c"))
    if level == "fp":
        return custom_text(parse_module(stages[1].text, "fp stage"))
    module = parse_module(stages[-1].text, "final stage")
    if level == "loops":
        return custom_text(module)
    if level == "cuda":
        from vnnc.backends.cuda import CudaPrintError, emit_cuda

        try:
            return emit_cuda(module, n_inputs)[0]
        except CudaPrintError as e:
            raise VnncError(f"{model_path}: {e}") from None
    from vnnc.backends.c import CPrintError, abi_source, emit_c

    try:
        src, params = emit_c(module)
    except CPrintError as e:
        raise VnncError(f"{model_path}: {e}") from None
    return src + abi_source(module, params)[0]


def compile_model(
    model_path: str | Path,
    out: str | Path | None = None,
    *,
    force: bool = False,
    batch: int = 1,
    portable: bool = False,
    precision: dict | None = None,
    print_ir_after_all: bool = False,
    model=None,
    manifest_extra: dict | None = None,
    input_box: str | Path | None = None,
    target: str = "c",
) -> Bundle:
    """Compile a model file into a bundle directory and return it. A `model` given (an
    in-memory Model, e.g. a training program built from the file) replaces the file's own;
    `manifest_extra` adds entries to the manifest. An `input_box` (.npz with arrays lo and
    hi of the input's shape) adds the error analysis and a certified error bound (with f32
    as the default precision). `target` "cuda" prints CUDA (backends/cuda.py) and builds it
    with nvcc; the CUDA library's sampled run is tested (on a GPU host), not checked."""
    from vnnc.backends.build import BuildError, build_shared, flags
    from vnnc.backends.c import CPrintError, abi_source, emit_c
    from vnnc.frontend_mlir import parse_module
    from vnnc.model import signature

    if target not in TARGETS:
        raise VnncError(f"unknown target {target!r} (choose from {', '.join(TARGETS)})")
    model_path = Path(model_path)
    out = Path(out) if out is not None else Path("build") / model_path.name.split(".")[0]
    if out.exists() or out.is_symlink():
        if not force:
            raise VnncError(f"{out}: already exists (use --force to replace it)")
        _check_replaceable(out)
    if out.resolve() == model_path.resolve() or model_path.resolve().is_relative_to(out.resolve()):
        raise VnncError(f"{out}: refusing to replace a directory holding the model itself")

    t_start = time.perf_counter()
    model = model if model is not None else load_model(model_path, batch)
    inputs, outputs = signature(model.module)
    autograd = has_ad_op(model.module)
    box = _input_box(input_box, inputs, outputs) if input_box is not None else None
    if box is not None and not precision:
        precision = {"precision": "f32"}
    passes = pipeline_passes(precision, autograd, target)
    stages = run_pipeline(model, passes)
    cross_check = _cross_check_onnx(model, stages[0].text, model_path)
    if cross_check is not None:
        model.tested.append(cross_check)
    if print_ir_after_all:
        for name, stage in _stage_files(stages):
            print(f"// -----// IR after {stage.pass_name} ({name}) //----- //")
            print(custom_text(parse_module(stage.text, name)))

    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    except OSError as e:
        raise VnncError(f"{out}: cannot create the bundle directory: {e.strerror}") from None
    try:
        (tmp / "stages").mkdir()
        (tmp / "witnesses").mkdir()
        stage_rows, witness_rows = [], []
        prev_hash = None
        for name, stage in _stage_files(stages):
            (tmp / "stages" / f"{name}.mlir").write_text(stage.text)
            h = sha256_text(stage.text)
            stage_rows.append({"name": name, "file": f"stages/{name}.mlir", "pass": stage.pass_name,
                               "sha256": h})
            if stage.witness is not None:
                w = dict(stage.witness, source_sha256=prev_hash, target_sha256=h)
                (tmp / "witnesses" / f"{name}.json").write_text(json.dumps(w, indent=1))
                witness_rows.append({"stage": name, "file": f"witnesses/{name}.json"})
            prev_hash = h
        safetensors.write(tmp / "params.safetensors", model.params)
        # witness 00 (spec-wellformed) relates the parameter file to the spec stage
        import_witness = {
            "version": 1, "pass": "import", "kind": "ad-wellformed" if autograd else "spec-wellformed",
            "source_sha256": hashlib.sha256((tmp / "params.safetensors").read_bytes()).hexdigest(),
            "target_sha256": stage_rows[0]["sha256"],
            "claims": {"inputs": inputs, "outputs": outputs,
                       "params": {k: safetensors.param_sha256(v) for k, v in model.params.items()}},
        }
        (tmp / "witnesses" / "00-import.json").write_text(json.dumps(import_witness, indent=1))
        witness_rows.insert(0, {"stage": "00-import", "file": "witnesses/00-import.json"})
        error_bound = _error_bound(model, stages, box, precision, outputs, tmp)

        # the backend reads the final stage back from the bundle, not from memory
        final = (tmp / stage_rows[-1]["file"]).read_text()
        module = parse_module(final, stage_rows[-1]["file"])
        source = "model.cu" if target == "cuda" else "model.c"
        try:
            if target == "cuda":
                from vnnc.backends.cuda import emit_cuda

                code, header = emit_cuda(module, len(inputs))
            else:
                src, params = emit_c(module)
                abi, header = abi_source(module, params)
                code = src + abi
        except CPrintError as e:  # CudaPrintError included
            raise VnncError(f"{model_path}: {e}") from None
        (tmp / source).write_text(code)
        (tmp / "model.h").write_text(header)
        t_cc = time.perf_counter()
        try:
            if target == "cuda":
                from vnnc.backends.build import CUDA_FLAGS, build_cuda

                cmd, build_flags = build_cuda(tmp / source, tmp / "libmodel.so"), CUDA_FLAGS
            else:
                cmd, build_flags = build_shared(tmp / source, tmp / "libmodel.so", portable), flags(portable)
        except BuildError as e:
            raise VnncError(f"{model_path}: {e}") from None
        build_seconds = time.perf_counter() - t_cc

        manifest = {
            "format": "vnnc-bundle",
            "version": 1,
            "vnnc_version": __version__,
            "model": {"file": str(model_path), "sha256": hashlib.sha256(model_path.read_bytes()).hexdigest()},
            "pipeline": "default",
            "passes": [p.name for p in passes],
            "precision": _precision_record(precision),
            "inputs": inputs,
            "outputs": outputs,
            "batch": batch,
            "stages": stage_rows,
            "witnesses": witness_rows,
            "params": {"file": "params.safetensors",
                       "sha256": hashlib.sha256((tmp / "params.safetensors").read_bytes()).hexdigest(),
                       "entries": {k: safetensors.param_sha256(v) for k, v in model.params.items()}},
            "target": target,
            "artifacts": {"library": "libmodel.so", "header": "model.h", "source": source},
            "artifact_sha256": {key: hashlib.sha256((tmp / f).read_bytes()).hexdigest() for key, f in
                                (("library", "libmodel.so"), ("header", "model.h"), ("source", source))},
            "build": {"command": " ".join(a if not a.startswith(str(tmp)) else Path(a).name for a in cmd), "flags": build_flags,
                      "seconds": round(build_seconds, 3)},
            "compile_seconds": round(time.perf_counter() - t_start, 3),
            "tested": model.tested,
            "certified_error_bound": error_bound,
            **(manifest_extra or {}),
            "checks": [],
            "verified": False,
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
        # the trusted checker re-reads the bundle's files, exactly as `vnnc check` does
        from vnnc.verifier.bundle import check_bundle

        if target == "cuda":  # the library's sampled run goes under tested (TRUST.md)
            from vnnc.backends.cuda import check_cuda_bundle

            manifest["checks"], cuda_row = check_cuda_bundle(tmp)
            manifest["tested"] = [*manifest["tested"], cuda_row]
        else:
            manifest["checks"] = check_bundle(tmp)
        manifest["verified"] = all(row["verdict"] == "accepted" for row in manifest["checks"])
        manifest["compile_seconds"] = round(time.perf_counter() - t_start, 3)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
        os.chmod(tmp, 0o755)
        _replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    bundle = Bundle(out)
    rejected = [row for row in manifest["checks"] if row["verdict"] != "accepted"]
    if rejected:
        reasons = "; ".join(f"{r['stage']}: {r['reason']}" for r in rejected)
        raise VnncError(f"{out}: written but NOT verified: the checker rejected {reasons}")
    if any(row.get("what") == "cuda-library" and row["passed"] is False for row in manifest["tested"]):
        raise VnncError(f"{out}: written and checked, but the CUDA library failed its sampled test: "
                        f"{manifest['tested'][-1].get('reason', '')}")
    return bundle


ONNX_CROSS_CHECK_SAMPLES = 3
ONNX_CROSS_CHECK_TOLERANCE = 1e-4
"""The ONNX cross-check passes when max |ORT - reference| <= this * max(1, max |reference|)."""

_ORT_DTYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16}


def _cross_check_onnx(model, stage_text: str, path: Path) -> dict | None:
    """Test the ONNX import against onnxruntime: the manifest's `tested` row, or None when
    the model is not ONNX or onnxruntime is not installed.

    The import is a trust boundary (TRUST.md): this is a test, recorded under `tested` and
    never under `checks`; a failure is a warning on stderr, not a rejection. The imported
    spec runs in the checker's own float64 evaluator (`vnnc.verifier.semantics.evaluate`
    on the stage-00 text, parameters as float64), the original file in onnxruntime (CPU,
    one thread), on seeded float32 inputs uniform in [-1, 1].
    """
    if not path.name.lower().endswith((".onnx", ".onnx.gz")):
        return None
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    import gzip
    import sys

    from vnnc.verifier.mlir import parse
    from vnnc.verifier.semantics import evaluate, main_function

    row = {"what": "onnx-import", "against": f"onnxruntime {ort.__version__}",
           "samples": ONNX_CROSS_CHECK_SAMPLES, "max_abs_error": None, "tolerance": None,
           "passed": False}
    differs = None  # why the two sides disagree, beyond the tolerance test
    try:
        raw = path.read_bytes()
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        options.log_severity_level = 3
        source = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else str(path)
        session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
        spec_module = parse(stage_text)
        params = {k: v.astype(np.float64) if v.dtype.kind == "f" else v for k, v in model.params.items()}
        shapes = [t.shape for _, t in main_function(spec_module).regions[0][0].args]
        feeds = session.get_inputs()
        if len(feeds) != len(shapes) or any(f.type not in _ORT_DTYPES for f in feeds):
            raise ValueError(f"onnxruntime takes inputs {[(f.name, f.type) for f in feeds]}, "
                             f"the import {len(shapes)} float tensors")
        rng = np.random.default_rng(0)
        error, scale = 0.0, 0.0
        for _ in range(ONNX_CROSS_CHECK_SAMPLES):
            xs = [rng.uniform(-1, 1, shape).astype(np.float32) for shape in shapes]
            xs = [x.astype(_ORT_DTYPES[f.type]) for x, f in zip(xs, feeds)]
            # ORT gets the file's own input shape when it fixes every dimension
            fixed = [all(isinstance(d, int) and d > 0 for d in f.shape) for f in feeds]
            got = session.run(None, {f.name: x.reshape(f.shape) if fix else x
                                     for f, x, fix in zip(feeds, xs, fixed)})
            refs = evaluate(spec_module, params, [x.astype(np.float64) for x in xs])
            if len(got) != len(refs):
                differs = f"{len(got)} outputs from onnxruntime, {len(refs)} from the import"
                break
            for y, ref in zip(got, refs):
                y = np.asarray(y, np.float64)
                if y.size != ref.size:
                    differs = f"an output of shape {list(y.shape)} from onnxruntime, " \
                              f"{list(ref.shape)} from the import"
                    break
                y = y.reshape(ref.shape)
                finite = np.isfinite(ref) & np.isfinite(y)
                if not np.array_equal(np.where(finite, 0.0, y), np.where(finite, 0.0, ref),
                                      equal_nan=True):
                    differs = "NaN or infinity on one side only"
                    break
                error = max(error, float(np.abs(y - ref)[finite].max(initial=0.0)))
                scale = max(scale, float(np.abs(ref[finite]).max(initial=0.0)))
            if differs:
                break
        tolerance = ONNX_CROSS_CHECK_TOLERANCE * max(1.0, scale)
        row.update(max_abs_error=error, tolerance=tolerance, passed=differs is None and error <= tolerance)
        if differs:
            row["reason"] = differs
        detail = differs or f"max abs error {error:.3g} > tolerance {tolerance:.3g}"
        headline = "ONNX import differs from onnxruntime"
    except Exception as e:  # noqa: BLE001 - onnxruntime raises its own exception types
        lines = str(e).strip().splitlines()
        row["reason"] = detail = f"{type(e).__name__}: {lines[0][:300] if lines else ''}".rstrip(": ")
        headline = "ONNX import could not be cross-checked against onnxruntime"
    if not row["passed"]:
        print(f"vnnc: warning: {headline} ({path}: {detail}; the import is tested, "
              "not checked: see TRUST.md)", file=sys.stderr)
    return row


def _input_box(path, inputs: list[dict], outputs: list[dict]) -> tuple:
    """(path, lo, hi, bytes) of an --input-box file, checked against the model's signature."""
    from vnnc.passes.error_analysis import AnalysisError, load_box

    if len(inputs) != 1 or len(outputs) != 1 or inputs[0]["dtype"] != "float32":
        raise VnncError(f"{path}: an input box needs a model with one float32 input and one output "
                        f"(this one has {len(inputs)} inputs, {len(outputs)} outputs)")
    try:
        return (path, *load_box(path, inputs[0]["shape"]))
    except AnalysisError as e:
        raise VnncError(str(e)) from None


def _error_bound(model, stages: list, box: tuple | None, precision: dict | None, outputs: list[dict],
                 tmp: Path) -> dict:
    """The manifest's certified_error_bound: the error analysis of the fp stage over the box,
    its witness (witnesses/error-bound.json) and the box (input_box.npz) written into `tmp`."""
    if box is None:
        return {"certified": False, "reason": "no input box was given (--input-box): no error bound was certified"}
    from vnnc.passes import error_analysis

    _, lo, hi, data = box
    fp_stage = next(s for s in stages if s.pass_name == "assign-precision")
    t0 = time.perf_counter()
    try:
        w = error_analysis.witness(fp_stage.text, model.params, (tmp / "params.safetensors").read_bytes(),
                                   lo, hi, data)
    except error_analysis.AnalysisError as e:
        raise VnncError(f"{model.source}: {e}") from None
    seconds = time.perf_counter() - t0
    (tmp / "input_box.npz").write_bytes(data)
    (tmp / "witnesses" / "error-bound.json").write_text(json.dumps(w))
    return {"certified": True, "output": outputs[0]["name"], "abs": w["claims"]["abs"],
            "input_box": "input_box.npz", "input_box_sha256": w["claims"]["input_box_sha256"],
            "precision": _precision_record(precision), "witness": "witnesses/error-bound.json",
            "leaves": error_analysis.count_leaves(w["claims"]["tree"]), "analysis_seconds": round(seconds, 3)}


def _precision_record(precision: dict | None) -> dict:
    """The precision options as given, with the per-layer config's contents and hash (the
    file itself may change or vanish after the compile)."""
    record = dict(precision or {})
    if record.get("config"):
        data = Path(record["config"]).read_bytes()
        record["config_sha256"] = hashlib.sha256(data).hexdigest()
        record["config_contents"] = json.loads(data)
    return record


def _check_replaceable(out: Path) -> None:
    """--force replaces a bundle (or an empty directory), never other user data."""
    if out.is_dir() and not out.is_symlink() and (
        (out / "manifest.json").is_file() or not any(out.iterdir())
    ):
        return
    raise VnncError(f"{out}: exists and is not a vnnc bundle; refusing to replace it, even with --force")


def _replace_dir(new: Path, dest: Path) -> None:
    """Move `new` to `dest`; an existing `dest` is removed only once `new` is in place."""
    if dest.exists():
        old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
        dest.rename(old)
        new.rename(dest)
        shutil.rmtree(old, ignore_errors=True)
    else:
        new.rename(dest)


class Bundle:
    """A compiled bundle on disk; `run(*xs)` calls its library."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        mpath = self.path / "manifest.json"
        try:
            self.manifest = json.loads(mpath.read_text())
        except FileNotFoundError:
            raise VnncError(f"{self.path}: not a vnnc bundle (no manifest.json)") from None
        except (ValueError, RecursionError) as e:
            raise VnncError(f"{mpath}: malformed manifest ({e})") from None
        self._runner = None

    @property
    def inputs(self) -> list[dict]:
        return self.manifest["inputs"]

    @property
    def outputs(self) -> list[dict]:
        return self.manifest["outputs"]

    def runner(self):
        if self._runner is None:
            from vnnc.backends.runner import RunError, Runner

            try:
                params = safetensors.read(self.path / self.manifest["params"]["file"])
                self._runner = Runner(self.path / self.manifest["artifacts"]["library"], params,
                                      self.inputs, self.outputs)
            except (OSError, RunError, safetensors.SafetensorsError) as e:
                raise VnncError(f"{self.path}: cannot load the model: {e}") from None
        return self._runner

    def run(self, *xs: np.ndarray) -> list[np.ndarray] | np.ndarray:
        """Outputs for inputs `xs` (one array when the model has a single output)."""
        from vnnc.backends.runner import RunError

        try:
            outs = self.runner().run(*xs)
        except RunError as e:
            reason = str(e)
            if self.manifest.get("target") == "cuda" and self._runner is not None:  # say which CUDA error
                import ctypes

                self._runner.lib.vnnc_model_last_error.restype = ctypes.c_char_p
                reason = f"the CUDA library failed: {self._runner.lib.vnnc_model_last_error().decode()}"
            raise VnncError(f"{self.path}: {reason}") from None
        return outs[0] if len(outs) == 1 else outs
