"""vnnc: compile a model into a bundle, run it, look inside it.

    vnnc compile MODEL [-o DIR] [--force] [--batch N] [--portable] [--target c|cuda]
                       [--emit spec|loops|c|cuda] [--print-ir-after-all]
    vnnc run DIR --input X.npy [--input NAME=PATH ...] [--output Y.npy|Y.npz]
    vnnc inspect DIR [--stage NAME]
    vnnc train MODEL --data DATA --loss mse|cross-entropy [--optimizer ...] -o OUT

Errors are for people: one `vnnc: error: <message>` line naming the file and the
reason, exit 1, no traceback (VNNC_DEBUG=1 shows it). Usage errors exit 2, an
interrupt 130. The compiler itself (xDSL and everything built on it) is imported only
inside the subcommands that need it.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from vnnc import __version__
from vnnc.errors import VnncError

PROG = "vnnc"

RUN_EPILOG = """\
inputs: every model input needs one --input. A bare PATH fills the next input not
named otherwise, in the order of the model's signature; NAME=PATH names the input
(`vnnc inspect DIR` lists the names). Arrays are cast to the input's dtype as numpy's
same_kind casting allows (float64 to float32 is fine; complex to float32, or float to
int64, is refused) and must have exactly the input's shape.

outputs: without --output every output is printed with numpy's formatting. With
--output a model with one output writes it as .npy (or as .npz, holding one array
named after the output, when PATH ends in .npz); a model with several outputs needs
an .npz PATH, holding one array per output, named as the outputs. --output never
replaces one of the input files.
"""

INSPECT_EPILOG = """\
stage names: the full name (00-import), its number (00 or 0), its pass (import,
lower-to-loops), `spec` (the first stage) or `loops` (the last stage, once
lower-to-loops has run).
"""


# ---------------------------------------------------------------- compile


def cmd_compile(args: argparse.Namespace) -> int:
    from vnnc import driver

    precision = {k: v for k, v in (("precision", args.precision), ("accumulate", args.accumulate),
                                    ("rounding", args.rounding), ("config", args.precision_config))
                 if v is not None} or None
    if args.emit == "c" and args.target == "cuda":
        raise VnncError("--emit c prints the C target's source; use --emit cuda for --target cuda")
    if args.emit:
        sys.stdout.write(driver.emit(args.model, args.emit, batch=args.batch, precision=precision))
        return 0
    out = Path(args.output) if args.output else Path("build") / Path(args.model).name.split(".")[0]
    bundle = driver.compile_model(
        args.model, out, force=args.force, batch=args.batch, portable=args.portable,
        precision=precision, print_ir_after_all=args.print_ir_after_all, input_box=args.input_box,
        target=args.target,
    )
    m = bundle.manifest
    print(f"bundle: {bundle.path} (verified: every step checked and accepted)")
    for row in m["tested"]:
        if row["what"] == "cuda-library":
            print(_cuda_line(row))
    for label, rows in (("inputs", m["inputs"]), ("outputs", m["outputs"])):
        print(f"{label}: " + ", ".join(_signature_entry(r) for r in rows))
    bound = m.get("certified_error_bound") or {}
    if bound.get("certified"):
        print(f"certified error bound over {args.input_box}: |{bound['output']} - real| <= "
              f"{max(bound['abs']):.3g} (largest of {len(bound['abs'])}; manifest.json, certified_error_bound)")
    print(f"compiled in {m['compile_seconds']:.2f} s")
    return 0


def _signature_entry(row: dict) -> str:
    return f"{row['name']} {list(row['shape'])} {row['dtype']}"


# ---------------------------------------------------------------- check


def cmd_check(args: argparse.Namespace) -> int:
    """Re-validate a bundle with the trusted checker alone (no xDSL, no compiler code)."""
    from vnnc.verifier.bundle import check_bundle

    root = Path(args.bundle)
    if not root.is_dir():
        raise VnncError(f"{root}: not a directory")
    cuda = _bundle_target(root) == "cuda"
    if cuda and not args.no_sample:  # the CUDA library is tested, never checked (TRUST.md)
        from vnnc.backends.cuda import check_cuda_bundle

        rows, row = check_cuda_bundle(root)
        print(_cuda_line(row))
        if row["passed"] is False:
            return _fail(f"{root}: the CUDA library failed its sampled test")
    else:
        rows = check_bundle(root, sample=not args.no_sample and not cuda)
    width = max(len(r["stage"]) for r in rows)
    for r in rows:
        note = f"  {r['reason']}" if r["reason"] else ""
        print(f"{r['stage']:<{width}}  {r['verdict']:<8}  {r['seconds']:7.3f} s  {r['witness']}{note}")
    bad = [r for r in rows if r["verdict"] != "accepted"]
    if bad:
        return _fail(f"{root}: NOT verified: {len(bad)} of {len(rows)} steps rejected "
                     f"(first: {bad[0]['stage']}: {bad[0]['reason']})")
    print(f"{root}: verified ({len(rows)} steps accepted)")
    return 0


def _cuda_line(row: dict) -> str:
    """The CUDA library's `tested` row, for people."""
    result = {True: "passed", False: "FAILED", None: ""}[row["passed"]]
    return "CUDA library (tested, not checked): " + ": ".join(x for x in (result, row.get("reason", "")) if x)


def _bundle_target(root: Path) -> str:
    """"cuda" when the manifest says so and its library holds nvcc's fat binary (so that
    editing the manifest cannot turn a C library's checked sample into an untested CUDA
    one), else "c"; an unreadable bundle is "c" too, and the checker reports it."""
    import json

    try:
        manifest = json.loads((root / "manifest.json").read_text())
        if manifest.get("target") != "cuda":
            return "c"
        library = (root / manifest["artifacts"]["library"]).read_bytes()
    except (OSError, ValueError, AttributeError, KeyError, TypeError, RecursionError):
        return "c"
    return "cuda" if b"__cudaRegisterFatBinary" in library else "c"


# ---------------------------------------------------------------- verify


def cmd_verify(args: argparse.Namespace) -> int:
    """Decide a VNN-LIB property (compiler/verify.py); exit 0 holds/violated, 3 unknown."""
    from vnnc.verify import run

    return run(args)


# ---------------------------------------------------------------- train


def cmd_train(args: argparse.Namespace) -> int:
    """Train MODEL with one compiled, checked step per batch (compiler/train.py)."""
    from vnnc.train import run

    return run(args)


# ---------------------------------------------------------------- bundles on disk


def _open_bundle(path: str):
    from vnnc.driver import Bundle

    p = Path(path)
    if not p.exists():
        raise VnncError(f"{p}: no such bundle directory")
    if not p.is_dir():
        raise VnncError(f"{p}: not a directory (expected a bundle written by `vnnc compile`)")
    bundle = Bundle(p)
    m = bundle.manifest
    if not isinstance(m, dict) or m.get("format") != "vnnc-bundle":
        raise VnncError(f"{p / 'manifest.json'}: not a vnnc bundle manifest")
    for key in ("inputs", "outputs", "stages"):
        if not isinstance(m.get(key), list):
            raise VnncError(f"{p / 'manifest.json'}: malformed manifest (no list {key!r})")
    for key in ("inputs", "outputs"):
        for row in m[key]:
            if not (isinstance(row, dict) and isinstance(row.get("name"), str)
                    and isinstance(row.get("shape"), list)
                    and row.get("dtype") in ("float32", "int64")):
                raise VnncError(f"{p / 'manifest.json'}: malformed manifest (an entry of {key!r} "
                                "needs a name, a shape and a dtype float32 or int64)")
    for row in m["stages"]:
        if not (isinstance(row, dict) and isinstance(row.get("name"), str)
                and isinstance(row.get("file"), str)):
            raise VnncError(f"{p / 'manifest.json'}: malformed manifest "
                            "(a stage needs a name and a file)")
    return bundle


# ---------------------------------------------------------------- run


def cmd_run(args: argparse.Namespace) -> int:
    import numpy as np

    bundle = _open_bundle(args.bundle)
    inputs, outputs = bundle.inputs, bundle.outputs
    try:
        paths = _assign_inputs(args.input or [], inputs)
    except VnncError as e:
        raise VnncError(f"{bundle.path}: {e}") from None
    if args.output is not None:
        _check_output(args.output, outputs, paths, bundle.path)

    arrays = []
    for spec, path in zip(inputs, paths):
        arrays.append(_load_input(np, spec, path))
    results = bundle.run(*arrays)
    if len(outputs) == 1:
        results = [results]

    if args.output is None:
        for spec, y in zip(outputs, results):
            if len(outputs) > 1:
                print(f"{spec['name']}:")
            print(y)
        return 0
    _save_outputs(np, args.output, outputs, results)
    return 0


def _assign_inputs(given: list[str], inputs: list[dict]) -> list[str]:
    """The --input values as one path per model input, in signature order."""
    names = [spec["name"] for spec in inputs]
    by_name: dict[str, str] = {}
    bare: list[str] = []
    for item in given:
        name, sep, path = item.partition("=")
        if sep and name in names:
            if name in by_name:
                raise VnncError(f"input {name!r} is given twice (--input {name}=...)")
            by_name[name] = path
        elif sep and not Path(item).exists():
            raise VnncError(f"--input {item}: the model has no input {name!r} "
                            f"(inputs: {', '.join(names)})")
        else:
            bare.append(item)
    free = [n for n in names if n not in by_name]
    if len(bare) > len(free):
        raise VnncError(f"too many --input values: the model takes {len(names)} input(s) "
                        f"({', '.join(names)})")
    by_name.update(zip(free, bare))
    missing = [n for n in names if n not in by_name]
    if missing:
        wanted = ", ".join(f"{s['name']} {list(s['shape'])}"
                           for s in inputs if s["name"] in missing)
        raise VnncError(f"missing --input for {wanted}")
    return [by_name[n] for n in names]


def _load_input(np, spec: dict, path: str):
    name = spec["name"]
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
            if magic.startswith(b"PK"):
                raise VnncError(f"{path}: input {name!r}: an .npz archive; expected a .npy file "
                                "holding one array")
            if magic != b"\x93NUMPY":
                raise VnncError(f"{path}: input {name!r}: not a .npy file")
            f.seek(0)
            x = np.load(f, allow_pickle=False)
    except OSError as e:
        raise VnncError(f"{path}: input {name!r}: cannot read: {e.strerror or e}") from None
    except (ValueError, EOFError) as e:
        raise VnncError(f"{path}: input {name!r}: not a readable .npy file ({e})") from None
    want = np.dtype(spec["dtype"])
    if not np.can_cast(x.dtype, want, casting="same_kind"):
        raise VnncError(f"{path}: input {name!r}: dtype {x.dtype} cannot be cast to {want}")
    if list(x.shape) != list(spec["shape"]):
        raise VnncError(f"{path}: input {name!r}: expected shape {list(spec['shape'])}, "
                        f"got {list(x.shape)}")
    return x.astype(want, casting="same_kind")


def _check_output(out: str, outputs: list[dict], input_paths: list[str],
                  bundle_dir: Path) -> None:
    if len(outputs) > 1 and not out.endswith(".npz"):
        names = ", ".join(s["name"] for s in outputs)
        raise VnncError(f"{out}: the model has {len(outputs)} outputs ({names}); "
                        "--output must name an .npz file")
    for path in input_paths:
        if _same_file(out, path):
            raise VnncError(f"{out}: --output is the input file {path}; refusing to overwrite it")
    if Path(out).is_dir():
        raise VnncError(f"{out}: is a directory")
    if Path(out).exists() and Path(out).resolve().is_relative_to(bundle_dir.resolve()):
        raise VnncError(f"{out}: is a file of the bundle {bundle_dir}; refusing to overwrite it")


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _save_outputs(np, out: str, outputs: list[dict], results: list) -> None:
    """Written beside the destination and renamed over it, so a failure leaves no half file."""
    dest = Path(out)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            if out.endswith(".npz"):
                np.savez(f, **{s["name"]: y for s, y in zip(outputs, results)})
            else:
                np.save(f, results[0])
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------- inspect


def cmd_inspect(args: argparse.Namespace) -> int:
    bundle = _open_bundle(args.bundle)
    m = bundle.manifest
    if args.stage is not None:
        return _print_stage(bundle, _find_stage(m["stages"], args.stage, bundle.path))
    model = m.get("model", {})
    print(f"bundle: {bundle.path}")
    print(f"model: {model.get('file', '?')} (vnnc {m.get('vnnc_version', '?')}, "
          f"pipeline {m.get('pipeline', '?')})")
    print("inputs: " + ", ".join(_signature_entry(r) for r in m["inputs"]))
    print("outputs: " + ", ".join(_signature_entry(r) for r in m["outputs"]))
    witnesses = {w.get("stage"): w.get("file") for w in m.get("witnesses", [])}
    print("stages:")
    for s in m["stages"]:
        w = witnesses.get(s.get("name"))
        print(f"  {s.get('name', '?'):<24} {s.get('pass', '?'):<18} {str(s.get('sha256', ''))[:12]}"
              + (f"  witness {w}" if w else ""))
    print("artifacts:")
    for kind, file in m.get("artifacts", {}).items():
        print(f"  {kind:<10} {file}")
    if "params" in m:
        print(f"  {'params':<10} {m['params'].get('file')}")
    verified = "yes" if m.get("verified") else "no"
    note = m.get("verified_note")
    print(f"verified: {verified}" + (f" ({note})" if note and not m.get("verified") else ""))
    return 0


def _find_stage(stages: list[dict], key: str, where: Path) -> dict:
    names = [s.get("name", "") for s in stages]
    passes = [s.get("pass", "") for s in stages]
    index = None
    if key in names:
        index = names.index(key)
    elif key.isdigit() and int(key) < len(stages):
        index = int(key)
    elif key == "spec" and stages:
        index = 0
    elif key == "loops" and "lower-to-loops" in passes:
        index = len(stages) - 1
    elif key in passes:
        index = len(passes) - 1 - passes[::-1].index(key)
    if index is None:
        raise VnncError(f"{where}: no stage {key!r} (stages: {', '.join(names)}; "
                        "also spec, loops, a number or a pass name)")
    return stages[index]


def _print_stage(bundle, stage: dict) -> int:
    import hashlib

    from vnnc.driver import custom_text
    from vnnc.frontend_mlir import parse_module

    path = bundle.path / stage["file"]
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise VnncError(f"{path}: not a text file") from None
    if hashlib.sha256(text.encode()).hexdigest() != stage.get("sha256"):
        print(f"{PROG}: warning: {path} differs from the sha256 in the manifest", file=sys.stderr)
    sys.stdout.write(custom_text(parse_module(text, str(path))))
    return 0


# ---------------------------------------------------------------- the command line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="vnnc: a verified neural-network compiler.",
    )
    parser.add_argument("--version", action="version", version=f"vnnc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("compile", help="compile a model file (.mlir, .onnx) into a bundle",
                       description="Compile MODEL into a bundle directory (or print one stage "
                                   "with --emit).")
    p.add_argument("model", metavar="MODEL", help="a spec .mlir or an .onnx model file")
    p.add_argument("-o", "--output", metavar="DIR",
                   help="bundle directory (default: build/<model name>)")
    p.add_argument("--force", action="store_true", help="replace DIR if it exists")
    p.add_argument("--batch", type=_positive, default=1, metavar="N",
                   help="batch size for models with a symbolic batch dimension (default 1)")
    p.add_argument("--portable", action="store_true",
                   help="build without -march=native (no instructions specific to this CPU)")
    p.add_argument("--precision", metavar="FORMAT",
                   help="storage format of every value: f64, f32, f16, bf16, fp8-e4m3fn, "
                        "fp8-e4m3fn-sat, fp8-e5m2 or eXmY (adds the assign-precision pass)")
    p.add_argument("--accumulate", metavar="FORMAT", choices=("f32", "f64"),
                   help="format of the arithmetic inside each op (default f32; f64 for f64)")
    p.add_argument("--rounding", choices=("nearest", "zero", "up", "down"),
                   help="rounding mode of every operation (default nearest, ties to even)")
    p.add_argument("--precision-config", metavar="JSON",
                   help='per-layer overrides, e.g. {"layers": {"first": {"precision": "f32"}}}')
    p.add_argument("--input-box", metavar="BOX.npz",
                   help="certify an error bound of the compiled code against the real-valued model "
                        "over this input box (.npz with arrays lo and hi of the input's shape)")
    p.add_argument("--target", choices=("c", "cuda"), default="c",
                   help="c (default: C built with cc) or cuda (CUDA built with nvcc; its run is "
                        "tested on a GPU host, not checked)")
    p.add_argument("--emit", choices=("spec", "fp", "loops", "c", "cuda"),
                   help="print that stage to stdout instead of building a bundle")
    p.add_argument("--print-ir-after-all", action="store_true",
                   help="print every stage (custom form) to stdout while compiling")
    p.set_defaults(func=cmd_compile)

    p = sub.add_parser("run", help="run a compiled bundle on .npy inputs",
                       description="Run the model in bundle DIR.", epilog=RUN_EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bundle", metavar="DIR", help="a bundle written by `vnnc compile`")
    p.add_argument("-i", "--input", action="append", metavar="[NAME=]PATH",
                   help="a .npy file for one model input (repeat for several inputs)")
    p.add_argument("-o", "--output", metavar="PATH",
                   help="write the output(s) to PATH (.npy, or .npz for several outputs)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("inspect", help="list a bundle's stages, or print one",
                       description="List the stages and artifacts of bundle DIR, or print one "
                                   "stage in the custom (human) MLIR form.",
                       epilog=INSPECT_EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bundle", metavar="DIR", help="a bundle written by `vnnc compile`")
    p.add_argument("--stage", metavar="NAME", help="the stage to print")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("check", help="re-validate a bundle with the trusted checker alone",
                       description="Re-check every witness, hash and the library of bundle DIR "
                                   "with vnnc.verifier only. Exit 0 only when every step is "
                                   "accepted.")
    p.add_argument("bundle", metavar="DIR", help="a bundle written by `vnnc compile`")
    p.add_argument("--no-sample", action="store_true",
                   help="skip running the library on sampled inputs")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("verify", help="decide a VNN-LIB property of a ReLU network, with a certificate",
                       description="Decide PROPERTY (VNN-LIB) for MODEL: prints `holds`, `violated` or "
                                   "`unknown` as the last stdout line (exit 0, 0, 3). Every answer is "
                                   "checked by vnnc.verifier before it is printed.")
    p.add_argument("model", metavar="MODEL", nargs="?", help="an .onnx or spec .mlir ReLU network")
    p.add_argument("property", metavar="PROPERTY", nargs="?", help="a .vnnlib property")
    p.add_argument("--method", choices=("ibp", "crown", "alpha-crown", "auto"), default="auto",
                   help="bound method (default auto: CROWN, alpha-CROWN for stubborn leaves)")
    p.add_argument("--timeout", type=float, default=300.0, metavar="S", help="seconds (default 300)")
    p.add_argument("--float32-sound", action="store_true",
                   help="make the verdict hold for the compiled float32 program too")
    p.add_argument("--certificate", metavar="OUT.json", help="write the certificate")
    p.add_argument("--bounds-out", metavar="B.json", help="write output bounds over the box (no splitting)")
    p.add_argument("--counterexample", metavar="CE.txt", help="write a counterexample (VNN-COMP format)")
    p.add_argument("-o", "--output", metavar="DIR", help="write a verify bundle (`vnnc check DIR`)")
    p.add_argument("--force", action="store_true", help="replace DIR if it exists")
    p.add_argument("--instances", metavar="CSV", help="batch mode: a VNN-COMP instances file")
    p.add_argument("--results", metavar="OUT.csv", help="batch mode: results file (resumable)")
    p.add_argument("--jobs", type=_positive, default=None, metavar="N",
                   help="batch mode: parallel instances (default: the number of cores)")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("train", help="train a model with one compiled, checked training step per batch",
                       description="Train MODEL on DATA: the training step (forward, gradients, optimizer "
                                   "update) is compiled to one C function and every step of its compilation "
                                   "checked; it runs once per batch. Writes the trained model to OUT in the "
                                   "input's format (.mlir with a .safetensors beside it, or .onnx).")
    p.add_argument("model", metavar="MODEL", help="a spec .mlir or an .onnx model computing predictions")
    p.add_argument("--data", required=True, metavar="DATA",
                   help="an .npz with arrays x and y, or a CSV with a header (see --target-column)")
    p.add_argument("--target-column", action="append", metavar="NAME",
                   help="CSV data: a column holding y (repeatable); the other columns are x")
    p.add_argument("--loss", required=True, choices=("mse", "cross-entropy"),
                   help="mse: mean over all elements; cross-entropy: mean over the batch (integer labels)")
    p.add_argument("--optimizer", default="sgd", choices=("sgd", "momentum", "adam", "adamw"),
                   help="torch.optim's SGD, SGD with momentum, Adam or AdamW (default sgd)")
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate (default 1e-3)")
    p.add_argument("--lr-schedule", metavar="SCHEDULE",
                   help="step:SIZE:GAMMA (lr * GAMMA^(step // SIZE)) or cosine[:T_MAX[:ETA_MIN]] (T_MAX "
                        "defaults to the number of steps), stepped once per batch")
    p.add_argument("--momentum", type=float, help="momentum factor (default 0.9 for --optimizer momentum)")
    p.add_argument("--nesterov", action="store_true", help="Nesterov momentum (--optimizer momentum)")
    p.add_argument("--weight-decay", type=float, help="L2 penalty, decoupled for adamw (default 0; adamw 0.01)")
    p.add_argument("--betas", type=float, nargs=2, metavar=("B1", "B2"), help="Adam's betas (default 0.9 0.999)")
    p.add_argument("--eps", type=float, help="Adam's epsilon (default 1e-8)")
    p.add_argument("--batch-size", type=_positive, default=1, metavar="N", help="samples per step (default 1)")
    length = p.add_mutually_exclusive_group(required=True)
    length.add_argument("--steps", type=_positive, metavar="N", help="number of steps (batches)")
    length.add_argument("--epochs", type=_positive, metavar="N", help="number of passes over the data")
    p.add_argument("--seed", type=int, default=0, help="seed of the batch order (default 0)")
    p.add_argument("--no-shuffle", action="store_true", help="take batches in the data's order")
    p.add_argument("--log", metavar="LOG.jsonl", help='write {"step": k, "loss": v} per step, one JSON line each')
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="the trained model (.mlir or .onnx)")
    p.add_argument("--bundle", metavar="DIR", help="keep the compiled, checked training bundle in DIR")
    p.add_argument("--force", action="store_true", help="replace OUT (and DIR) if they exist")
    p.add_argument("--portable", action="store_true", help="build without -march=native")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)
    return parser


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {n}")
    return n


def _fail(message: str) -> int:
    lines = message.strip().splitlines() or ["(no message)"]
    print(f"{PROG}: error: {lines[0]}", file=sys.stderr)
    for line in lines[1:]:  # e.g. the C compiler's own diagnostics, as detail
        print(f"  {line}", file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "compile" and args.emit and (args.output or args.print_ir_after_all or args.input_box):
        parser.error("--emit prints one stage to stdout; "
                     "it takes neither -o, --print-ir-after-all nor --input-box")
    debug = os.environ.get("VNNC_DEBUG") == "1"
    try:
        return args.func(args)
    except VnncError as e:
        if debug:
            traceback.print_exc()
        return _fail(str(e))
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `vnnc ... | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as e:
        if debug:
            traceback.print_exc()
        where = f"{e.filename}: " if e.filename else ""
        return _fail(f"{where}{e.strerror or e}")
    except Exception as e:  # noqa: BLE001 -- the last resort: a report, not a traceback
        if debug:
            traceback.print_exc()
        return _internal(e)


def _internal(e: Exception) -> int:
    first = (str(e).strip().splitlines() or [""])[0]
    print(f"{PROG}: internal error: {type(e).__name__}: {first} (please report)", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
