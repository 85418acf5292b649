"""`vnnc verify`: decide a VNN-LIB property of a ReLU network, with a checked answer.

    holds     no input of the property's boxes reaches its unsafe outputs (VNN-COMP unsat);
              certificate: a split tree per box whose every leaf the checker refutes
    violated  a counterexample (VNN-COMP sat), replayed by the checker on the real-valued
              network and run on the compiled float32 binary
    unknown   neither was found within the time limit

Order of work: projected gradient descent on the network (vnnc.falsify), then branch and
bound over each box (vnnc.branch_and_bound): input splits when the network has few inputs
(ACAS Xu's 5), ReLU splits with beta multipliers when it has many (MNIST's 784), with
counterexample searches from the points where the leaves' bounds are least. All of this is
untrusted: an answer other than unknown is given only once `vnnc.verifier.robust` accepts
its certificate.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from vnnc import branch_and_bound as bab
from vnnc import input_split as isp
from vnnc.errors import VnncError
from vnnc.falsify import Falsifier, meets
from vnnc.passes import bounds as bnd
from vnnc.vnnlib import Property, read_property

EXIT = {"holds": 0, "violated": 0, "unknown": 3}


@dataclass
class Problem:
    """A network and a property, read once."""

    model_path: Path
    net: bnd.Network
    prop: Property
    spec_text: str
    params: dict[str, np.ndarray]


@dataclass
class Outcome:
    verdict: str
    seconds: float
    certificate: dict | None = None
    counterexample: np.ndarray | None = None
    output: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)
    leaves: int = 0
    check_seconds: float = 0.0


def load_problem(model_path: str | Path, prop_path: str | Path) -> Problem:
    from vnnc.driver import generic_text, load_model

    model = load_model(model_path)
    net = bnd.extract_network(model.module, model.params, str(model_path))
    prop = read_property(prop_path, net.sizes[0], net.sizes[-1])
    return Problem(Path(model_path), net, prop, generic_text(model.module), model.params)


# ---------------------------------------------------------------- the answer and its certificate


def params_bytes(params: dict[str, np.ndarray]) -> bytes:
    import tempfile

    from vnnc import safetensors

    with tempfile.TemporaryDirectory() as tmp:
        safetensors.write(Path(tmp) / "p.safetensors", params)
        return (Path(tmp) / "p.safetensors").read_bytes()


def _sha(data: str | bytes) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


MANY_INPUTS = 16  # above this, split ReLUs rather than the input box


def solve(problem: Problem, method: str = "auto", timeout: float = 300.0, log=None,
          seed: int = 0) -> Outcome:
    """Decide the property; the certificate is checked by vnnc.verifier.robust before any
    answer but unknown is returned."""
    from vnnc.verifier.robust import check

    log = log or (lambda m: None)
    t0 = time.perf_counter()
    deadline = t0 + timeout
    net, prop = problem.net, problem.prop
    rng = np.random.default_rng(seed)
    relu_splits = net.sizes[0] > MANY_INPUTS and net.depth > 1
    optimise = method in ("auto", "alpha-crown")
    outcome = Outcome("unknown", 0.0)
    found = None
    restarts = 32 if relu_splits else 4096  # few inputs: a forward pass costs little
    for region in prop.regions:  # a cheap search first: violated instances end early
        found = Falsifier(net, region).run(rng, restarts=restarts, steps=100, deadline=deadline)
        if found is not None:
            break
    trees = []
    for i, region in enumerate(prop.regions if found is None else []):
        log(f"box {i + 1}/{len(prop.regions)}: branch and bound ({'ReLU' if relu_splits else 'input'} splits)")
        if relu_splits:
            attack = _Attack(net, region, rng, t0, deadline)
            result = bab.relu_split(net, region, deadline, log, steps=20 if optimise else 0, attack=attack)
        else:
            result = isp.input_split(net, region, deadline, log, alpha_steps=20 if optimise else 0)
        if result.verdict == "violated":
            found = result.counterexample
            break
        if result.verdict == "unknown":
            outcome.seconds = time.perf_counter() - t0
            outcome.notes.append(result.note)
            return outcome
        trees.append(result.tree)
    params = params_bytes(problem.params)
    cert = {"version": 1, "kind": "robustness", "spec_sha256": _sha(problem.spec_text),
            "params_sha256": _sha(params), "property_sha256": _sha(prop.text)}
    if found is not None:
        cert.update(verdict="violated", counterexample=[float(v) for v in found])
        outcome.counterexample, outcome.output = found, net.forward(found[None])[0]
    else:
        cert.update(verdict="holds", trees=[t.preorder() for t in trees])
        if any(t.intermediate for t in trees):
            cert["intermediate"] = [t.intermediate for t in trees]
        outcome.leaves = sum(t.leaves for t in trees)
    outcome.seconds = time.perf_counter() - t0
    log(f"{cert['verdict']} in {outcome.seconds:.2f} s ({outcome.leaves} leaves); checking the certificate")
    t1 = time.perf_counter()
    verdict = check(problem.spec_text, params, prop.text, json.loads(json.dumps(cert)))
    outcome.check_seconds = time.perf_counter() - t1
    outcome.notes.append(f"certificate checked in {outcome.check_seconds:.2f} s")
    if not verdict:
        raise VnncError(f"internal: the checker rejected the certificate ({verdict.reason})")
    outcome.verdict, outcome.certificate = cert["verdict"], cert
    return outcome


class _Attack:
    """Counterexample searches during ReLU branch and bound: PGD from the points where the
    leaves' bounds are least (each batch, briefly), and bursts of PGD from random starts
    with random step sizes, kept to about a tenth of the time spent."""

    def __init__(self, net, region, rng, t0: float, deadline: float):
        self.f, self.rng, self.t0, self.deadline = Falsifier(net, region), rng, t0, deadline
        self.spent, self.calls = 0.0, 0

    def reseed(self) -> None:
        """In a helper process (a fork of this one): random starts of its own."""
        self.rng = np.random.default_rng([int(self.rng.integers(2**62)), 1])

    def __call__(self, points: np.ndarray):
        t = time.perf_counter()
        self.calls += 1
        found = None
        if self.calls <= 8:
            starts = {r: points for r in range(self.f.n_conj)}
            found = self.f.run(self.rng, restarts=8, steps=30, deadline=self.deadline, starts=starts)
        if found is None and self.spent < 0.1 * (t - self.t0):
            found = self.f.run(self.rng, restarts=128, steps=100, deadline=min(self.deadline, t + 10))
        self.spent += time.perf_counter() - t
        return found


def counterexample_text(x: np.ndarray, y: np.ndarray) -> str:
    """VNN-COMP's format: ((X_0 v) (X_1 v) ... (Y_0 v) ...), one per line."""
    rows = [f"(X_{i} {float(v)!r})" for i, v in enumerate(x)] + [f"(Y_{j} {float(v)!r})" for j, v in enumerate(y)]
    return "(" + "\n ".join(rows) + ")\n"


def confirm_on_binary(problem: Problem, x: np.ndarray) -> str:
    """Run the compiled float32 library on x; which conjunction its output meets, or why not."""
    import tempfile

    from vnnc.driver import compile_model

    with tempfile.TemporaryDirectory() as tmp:
        bundle = compile_model(problem.model_path, Path(tmp) / "b")
        y = np.asarray(bundle.run(x.reshape(problem.net.input_shape).astype(np.float32)), np.float64).reshape(-1)
    for region in problem.prop.regions:
        if region.contains(x) and meets(region, y) is not None:
            return "confirmed on the compiled float32 binary"
    return "NOT reproduced on the compiled float32 binary (its rounding moves the output back)"


def write_bundle(problem: Problem, outcome: Outcome, out: Path, force: bool = False, widening=None) -> None:
    """spec stage, parameters, property, certificate, import witness and a manifest; checked
    with `vnnc check DIR`. With --float32-sound the property is the widened one, and the
    original property, the float32 stage with its precision witness, and each box's roundoff
    witness and box are written beside it (manifest `float32_sound`)."""
    import os
    import shutil
    import tempfile

    from vnnc import safetensors
    from vnnc.driver import _check_replaceable, _replace_dir
    from vnnc.model import signature

    if out.exists() or out.is_symlink():
        if not force:
            raise VnncError(f"{out}: already exists (use --force to replace it)")
        _check_replaceable(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        (tmp / "stages").mkdir()
        (tmp / "witnesses").mkdir()
        (tmp / "stages" / "00-import.mlir").write_text(problem.spec_text)
        safetensors.write(tmp / "params.safetensors", problem.params)
        (tmp / "property.vnnlib").write_bytes(problem.prop.text)
        (tmp / "certificate.json").write_text(json.dumps(outcome.certificate))
        from vnnc.frontend_mlir import parse_module

        inputs, outputs = signature(parse_module(problem.spec_text, "spec stage"))
        params = (tmp / "params.safetensors").read_bytes()
        witness = {"version": 1, "pass": "import", "kind": "spec-wellformed", "source_sha256": _sha(params),
                   "target_sha256": _sha(problem.spec_text),
                   "claims": {"inputs": inputs, "outputs": outputs,
                              "params": {k: safetensors.param_sha256(v) for k, v in problem.params.items()}}}
        (tmp / "witnesses" / "00-import.json").write_text(json.dumps(witness, indent=1))
        files = {key: f for key, f in (("spec", "stages/00-import.mlir"), ("params", "params.safetensors"),
                                       ("property", "property.vnnlib"), ("certificate", "certificate.json"),
                                       ("witness", "witnesses/00-import.json"))}
        manifest = {"format": "vnnc-verify", "version": 1, "model": str(problem.model_path),
                    "property_file": str(problem.prop.path), "verdict": outcome.verdict,
                    "files": files, "sha256": {k: _sha((tmp / f).read_bytes()) for k, f in files.items()},
                    "seconds": round(outcome.seconds, 3)}
        if widening is not None:
            (tmp / "float32").mkdir()
            (tmp / "float32" / "property_original.vnnlib").write_bytes(widening.original.text)
            (tmp / "float32" / "01-assign-precision.mlir").write_text(widening.fp_text)
            (tmp / "float32" / "01-assign-precision.json").write_text(json.dumps(widening.precision_witness))
            for i, (w, box, _) in enumerate(widening.roundoff):
                (tmp / "float32" / f"roundoff_{i}.json").write_text(json.dumps(w))
                (tmp / "float32" / f"input_box_{i}.npz").write_bytes(box)
            manifest["float32_sound"] = {
                "property": "the widened property (property.vnnlib): each output constraint c . y <= d "
                            "of float32/property_original.vnnlib widened by sum |c_j| abs_j",
                "abs": [[float(v) for v in err] for _, _, err in widening.roundoff],
                "checked_when_written": ["precision witness", "roundoff witness of every box"],
                "rechecked_by_vnnc_check": "row float32-sound (holds): the witnesses and the widening"}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
        os.chmod(tmp, 0o755)
        _replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# ---------------------------------------------------------------- bounds without splitting


def bounds_json(problem: Problem, method: str) -> dict | list:
    """{"lower", "upper"} of the outputs over the property's box (a list for several boxes)."""
    m = "crown" if method == "auto" else method
    out = []
    for region in problem.prop.regions:
        lo, hi = region.box
        lower, upper = bnd.output_bounds(problem.net, lo[None], hi[None], m)
        out.append({"lower": [float(v) for v in lower[0]], "upper": [float(v) for v in upper[0]]})
    return out[0] if len(out) == 1 else out


# ---------------------------------------------------------------- the command


def run(args) -> int:
    """`vnnc verify MODEL PROPERTY` or `vnnc verify --instances CSV`."""
    if args.instances:
        return run_batch(args)
    if not args.model or not args.property:
        raise VnncError("vnnc verify needs MODEL and PROPERTY (or --instances CSV)")
    def log(message):
        print(message, file=sys.stderr, flush=True)

    problem = load_problem(args.model, args.property)
    if args.bounds_out:
        Path(args.bounds_out).write_text(json.dumps(bounds_json(problem, args.method), indent=1) + "\n")
    widening = None
    if args.float32_sound:
        from vnnc import float32_sound

        t0 = time.perf_counter()
        widening = float32_sound.widen(problem, log)
        problem = Problem(problem.model_path, problem.net, widening.prop, problem.spec_text, problem.params)
        log(f"float32 roundoff bounds in {time.perf_counter() - t0:.2f} s")
    outcome = solve(problem, args.method, args.timeout, log)
    for note in outcome.notes:
        log(note)
    if outcome.verdict == "violated":
        original = Problem(problem.model_path, problem.net, widening.original, problem.spec_text,
                           problem.params) if widening else problem
        on_binary = confirm_on_binary(original, outcome.counterexample)
        if widening and not on_binary.startswith("confirmed"):
            log("a counterexample of the widened property that the float32 binary does not reproduce")
            print("unknown")
            return EXIT["unknown"]
        text = counterexample_text(outcome.counterexample, outcome.output)
        print("counterexample (checked exactly on the real-valued network by vnnc.verifier; " + on_binary + "):")
        print(text, end="")
        if args.counterexample:
            Path(args.counterexample).write_text(text)
    if outcome.certificate is not None:
        if args.certificate:
            Path(args.certificate).write_text(json.dumps(outcome.certificate) + "\n")
        if args.output:
            write_bundle(problem, outcome, Path(args.output), args.force, widening)
            log(f"bundle: {args.output} (check it with `vnnc check {args.output}`)")
    if widening and outcome.verdict == "holds":
        log("holds for the real-valued network and, by the certified roundoff bound, for the float32 program")
    print(outcome.verdict)
    return EXIT[outcome.verdict]


# ---------------------------------------------------------------- batch mode

AGREES = {"holds": ("unsat", "holds"), "violated": ("sat", "violated")}


def _instances(csv_path: Path) -> list[tuple[str, str, float, str | None]]:
    rows = []
    try:
        lines = csv_path.read_text().splitlines()
    except OSError as e:
        raise VnncError(f"{csv_path}: cannot read: {e.strerror}") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        cells = [c.strip() for c in line.split(",")]
        try:
            timeout = float(cells[2])
        except (IndexError, ValueError):
            raise VnncError(f"{csv_path}:{n}: expected MODEL,PROPERTY,TIMEOUT[,EXPECTED]") from None
        rows.append((cells[0], cells[1], timeout, cells[3] if len(cells) > 3 and cells[3] else None))
    return rows


def _one(job) -> dict:
    """One instance in a worker process: its results row."""
    base, model, prop, timeout, out = job
    t0 = time.perf_counter()
    row = {"model": model, "property": prop, "verdict": "error", "seconds": 0.0, "check_seconds": 0.0,
           "leaves": 0, "note": ""}
    try:
        problem = load_problem(base / model, base / prop)
        outcome = solve(problem, "auto", timeout)
        row.update(verdict=outcome.verdict, seconds=round(outcome.seconds, 3), leaves=outcome.leaves)
        row["check_seconds"] = round(outcome.check_seconds, 3)
        if outcome.verdict == "unknown" and outcome.notes:  # how far the search got
            row["note"] = outcome.notes[-1][:200]
        if out is not None and outcome.certificate is not None:
            name = f"{Path(model).name.split('.')[0]}__{Path(prop).name.split('.')[0]}"
            write_bundle(problem, outcome, Path(out) / name, force=True)
    except VnncError as e:
        row.update(note=str(e).splitlines()[0][:200], seconds=round(time.perf_counter() - t0, 3))
        if "rejected the certificate" in str(e):
            row["verdict"] = "rejected"
    return row


FIELDS = ("model", "property", "verdict", "seconds", "check_seconds", "leaves", "note")


def run_batch(args) -> int:
    """Run every instance of a VNN-COMP CSV (resumable); exit 1 on a wrong or rejected answer."""
    import csv
    import multiprocessing
    import os

    csv_path = Path(args.instances)
    base = csv_path.parent
    instances = _instances(csv_path)
    results = Path(args.results) if args.results else csv_path.with_name(csv_path.stem + "_results.csv")
    if results.resolve() == csv_path.resolve():
        raise VnncError(f"{results}: --results must not be the instances file")
    done: dict[tuple[str, str], dict] = {}
    if results.exists():
        with open(results, newline="") as f:
            for row in csv.DictReader(f):
                done[(row["model"], row["property"])] = row
    todo = [(base, m, p, t, args.output) for m, p, t, _ in instances if (m, p) not in done]
    print(f"{len(instances)} instances, {len(done)} already in {results}, {len(todo)} to run",
          file=sys.stderr, flush=True)
    new = not results.exists()
    with open(results, "a", newline="") as f:
        writer = csv.DictWriter(f, FIELDS)
        if new:
            writer.writeheader()
        jobs = args.jobs or os.cpu_count() or 1
        from vnnc import parallel

        parallel.JOBS = jobs  # the workers (forked) see it: a search gets a helper only with two cores its own
        with multiprocessing.get_context("fork").Pool(jobs, maxtasksperchild=1) as pool:
            for row in pool.imap_unordered(_one, todo):
                writer.writerow(row)
                f.flush()
                done[(row["model"], row["property"])] = row
                print(f"{row['model']} {row['property']}: {row['verdict']} in {row['seconds']} s "
                      f"(certificate checked in {row['check_seconds']} s) {row['note']}",
                      file=sys.stderr, flush=True)
    wrong = []
    counts: dict[str, int] = {}
    total = 0.0
    for m, p, _, expected in instances:
        row = done[(m, p)]
        counts[row["verdict"]] = counts.get(row["verdict"], 0) + 1
        total += float(row["seconds"])
        if row["verdict"] == "rejected" or (expected and row["verdict"] in AGREES
                                            and expected not in AGREES[row["verdict"]]):
            wrong.append(f"{m} {p}: {row['verdict']} (expected {expected})")
    print(f"summary: {len(instances)} instances: " + ", ".join(f"{v} {n}" for v, n in sorted(counts.items()))
          + f"; {total:.1f} s in all")
    for w in wrong:
        print(f"WRONG: {w}")
    return 1 if wrong else 0
