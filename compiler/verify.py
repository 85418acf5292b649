"""`vnnc verify`: decide a VNN-LIB property of a ReLU network, with a checked answer.

    holds     no input of the property's boxes reaches its unsafe outputs (VNN-COMP unsat);
              certificate: a split tree per box whose every leaf the checker refutes
    violated  a counterexample (VNN-COMP sat), replayed by the checker on the real-valued
              network and run on the compiled float32 binary
    unknown   neither was found within the time limit

Order of work: a cheap falsifier (random points and projected gradient steps on the
network in float64), then branch and bound over each box: bounds of every leaf by CROWN
(alpha-CROWN for stubborn leaves), splitting a leaf's input box on the dimension whose
width costs the bound most (ACAS Xu's 5 inputs), or, with many inputs (MNIST's 784),
splitting unstable ReLUs with beta multipliers (beta-CROWN). All of this is untrusted: the
answer is given only once `vnnc.verifier.robust` accepts the certificate.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
from vnnc.errors import VnncError
from vnnc.passes import bounds as bnd
from vnnc.vnnlib import Property, Region, read_property

BATCH = 512
MARGIN = 1e-7  # a leaf counts as refuted when its bound clears the constraint by this (relative)
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


def load_problem(model_path: str | Path, prop_path: str | Path) -> Problem:
    from vnnc.driver import generic_text, load_model

    model = load_model(model_path)
    net = bnd.extract_network(model.module, model.params, str(model_path))
    prop = read_property(prop_path, net.sizes[0], net.sizes[-1])
    return Problem(Path(model_path), net, prop, generic_text(model.module), model.params)


# ---------------------------------------------------------------- constraints


def _rows(region: Region, n_out: int):
    """Every constraint of the region's conjunctions as rows: (C (R, n_out), rhs (R,) float,
    exact rhs, conjunction index, index inside the conjunction)."""
    cs, ds, exact, conj, idx = [], [], [], [], []
    for r, conjunction in enumerate(region.conjunctions):
        for j, con in enumerate(conjunction):
            c, d = con.dense(n_out)
            if any(Fraction(float(v)) != v for _, v in con.coef):
                raise VnncError("property: an output coefficient is not exactly a float64 "
                                "(the certificate cannot state it)")
            cs.append(c)
            ds.append(float(d))
            exact.append(d)
            conj.append(r)
            idx.append(j)
    return (np.array(cs).reshape(-1, n_out), np.array(ds), exact, np.array(conj, int), np.array(idx, int))


def _meets(region: Region, y: np.ndarray) -> int | None:
    """The first conjunction that the float64 output y meets exactly, or None."""
    for r, conjunction in enumerate(region.conjunctions):
        if all(con.holds(y) for con in conjunction):
            return r
    return None


# ---------------------------------------------------------------- falsifier


def _violation(net, x, C, d, conj, n_conj):
    """max over constraints of (c.y - d), min over conjunctions, and its gradient in x."""
    acts, a = [], x
    for k, (w, b) in enumerate(zip(net.weights, net.biases)):
        a = a @ w.T + b
        if k < len(net.weights) - 1:
            acts.append(a > 0)
            a = np.maximum(a, 0.0)
    v = a @ C.T - d  # (N, R)
    per = np.full((len(x), n_conj), -np.inf)
    arg = np.zeros((len(x), n_conj), int)
    for r in range(n_conj):
        rows = np.where(conj == r)[0]
        j = rows[np.argmax(v[:, rows], axis=1)]
        per[:, r], arg[:, r] = v[np.arange(len(x)), j], j
    best = np.argmin(per, axis=1)
    row = arg[np.arange(len(x)), best]
    g = C[row]  # d/dy
    for k in range(len(net.weights) - 1, -1, -1):
        g = g @ net.weights[k]
        if k > 0:
            g = g * acts[k - 1]
    return per[np.arange(len(x)), best], g, a


def falsify(net, region: Region, lo, hi, rng, samples=256, steps=30, deadline=None):
    """A point of the box whose output meets a conjunction exactly, or None."""
    C, d, _, conj, _ = _rows(region, net.sizes[-1])
    n_conj = len(region.conjunctions)
    if n_conj == 0:
        return None
    if C.shape[0] == 0 or any(len(c) == 0 for c in region.conjunctions):  # the box itself is unsafe
        x = np.array([_inside(v, a, b) for v, a, b in zip((lo + hi) / 2, region.lo, region.hi)])
        return x if region.contains(x) else None
    x = rng.uniform(lo, hi, size=(samples, len(lo)))
    x[0] = (lo + hi) / 2
    step = (hi - lo) / 8
    for t in range(steps + 1):
        v, g, _ = _violation(net, x, C, d, conj, n_conj)
        for i in np.argsort(v)[:4]:
            if v[i] <= 1e-9 * (1 + np.abs(d).max(initial=0)):
                found = _confirm(net, region, x[i], lo, hi)
                if found is not None:
                    return found
        if t == steps or (deadline and time.perf_counter() > deadline):
            return None
        x = np.clip(x - step * np.sign(g), lo, hi)
        step = step * 0.85
    return None


def _inside(v: float, lo: Fraction, hi: Fraction) -> float:
    """The float32 nearest v, moved inside [lo, hi] when it can be."""
    f = np.float32(v)
    for _ in range(4):
        if Fraction(float(f)) < lo:
            f = np.nextafter(f, np.float32(np.inf))
        elif Fraction(float(f)) > hi:
            f = np.nextafter(f, np.float32(-np.inf))
    return float(f)


def _confirm(net, region: Region, x, lo, hi) -> np.ndarray | None:
    """x as float32 values inside the exact box, if its output still meets a conjunction."""
    x32 = np.array([_inside(v, a, b) for v, a, b in zip(x, region.lo, region.hi)])
    if not region.contains(x32):
        return None
    y = net.forward(x32[None])[0]
    return x32 if _meets(region, y) is not None else None


# ---------------------------------------------------------------- branch and bound


@dataclass
class Tree:
    """Split tree of one box: nodes[i] = ["x", dim, point, left, right] |
    ["relu", layer, neuron, inactive, active] | ["leaf", refutations] | None (open)."""

    nodes: list = field(default_factory=lambda: [None])

    def preorder(self) -> list:
        out, stack = [], [0]
        while stack:
            node = self.nodes[stack.pop()]
            if node is None:
                raise VnncError("internal: certificate requested for an unfinished tree")
            if node[0] == "leaf":
                out.append(node)
            else:
                out.append(node[:3])
                stack += [node[4], node[3]]
        return out


def _nu_text(nus: dict, b: int, r: int, L: int) -> str:
    flat = np.concatenate([nus[k][b, r] for k in range(1, L)]).astype("<f4")
    return base64.b64encode(flat.tobytes()).decode()


def bab(net, region: Region, deadline: float, rng, log, method="auto", relu_splits=False):
    """Branch and bound over one box: ("holds", tree) | ("violated", x) | ("unknown", None)."""
    L = len(net.weights)
    n_out = net.sizes[-1]
    C, d, _, conj, idx = _rows(region, n_out)
    n_conj = len(region.conjunctions)
    tree = Tree()
    lo0, hi0 = region.box
    if n_conj == 0:
        tree.nodes[0] = ["leaf", []]
        return "holds", tree
    if any(len(c) == 0 for c in region.conjunctions):
        return "unknown", None
    margin = MARGIN * (1 + np.abs(d))
    queue = [(0, lo0, hi0)]
    done = 0
    last = time.perf_counter()
    while queue:
        if time.perf_counter() > deadline:
            return "unknown", None
        batch, queue = queue[-BATCH:], queue[:-BATCH]
        ids = [b[0] for b in batch]
        lo, hi = np.array([b[1] for b in batch]), np.array([b[2] for b in batch])
        bounds = bnd.intermediate_bounds(net, lo, hi)
        empty = np.zeros(len(batch), bool)
        for k in range(1, L):
            empty |= (bounds[k][0] > bounds[k][1]).any(axis=1)
        lam = np.broadcast_to(C, (len(batch),) + C.shape)
        lower, _, g0 = bnd.backward(net, L, lam, bounds, lo, hi)
        gap = lower - d - margin
        ok, best = _refuted(gap, conj, n_conj)
        nus = None
        todo = np.where(~ok & ~empty)[0]
        if len(todo) and method in ("auto", "alpha-crown") and L > 1:
            sub = [(bb[0][todo], bb[1][todo]) for bb in bounds]
            low2, nu2 = bnd.optimize_alpha(net, lam[todo], sub, lo[todo], hi[todo], steps=12)
            gap2 = low2 - d - margin
            ok2, best2 = _refuted(gap2, conj, n_conj)
            nus = {}
            for t, b in enumerate(todo):
                if ok2[t]:
                    ok[b], best[b] = True, best2[t]
                    nus[b] = (t, nu2)
        for b in range(len(batch)):
            if ok[b] or empty[b]:
                refs = []
                for r in range(n_conj):
                    row = best[b, r]
                    nu = _nu_text(nus[b][1], nus[b][0], row, L) if nus and b in nus else None
                    refs.append([int(idx[row]), nu])
                tree.nodes[ids[b]] = ["leaf", refs]
                done += 1
                continue
            x = _confirm(net, region, (lo[b] + hi[b]) / 2, lo[b], hi[b])
            if x is not None:
                return "violated", x
            if relu_splits:  # many inputs: splitting the box does not pay; ReLU splits are not built yet
                return "unknown", None
            # the dimension whose width costs the bound most, over the closest constraints
            score = np.zeros(len(lo0))
            for r in range(n_conj):
                score += np.abs(g0[b, best[b, r]]) * (hi[b] - lo[b])
            dim = int(np.argmax(score))
            mid = float((lo[b, dim] + hi[b, dim]) / 2)
            if not lo[b, dim] < mid < hi[b, dim]:
                return "unknown", None
            left, right = len(tree.nodes), len(tree.nodes) + 1
            tree.nodes += [None, None]
            tree.nodes[ids[b]] = ["x", dim, mid, left, right]
            lh, rl = hi[b].copy(), lo[b].copy()
            lh[dim] = rl[dim] = mid
            queue += [(right, rl, hi[b]), (left, lo[b], lh)]
        if time.perf_counter() - last > 2:
            last = time.perf_counter()
            log(f"  {done} leaves refuted, {len(queue)} open")
    return "holds", tree


def _refuted(gap, conj, n_conj):
    """Per box: every conjunction refuted by some row; and the best row of each conjunction."""
    B = gap.shape[0]
    ok = np.ones(B, bool)
    best = np.zeros((B, n_conj), int)
    for r in range(n_conj):
        rows = np.where(conj == r)[0]
        j = rows[np.argmax(gap[:, rows], axis=1)]
        best[:, r] = j
        ok &= gap[np.arange(B), j] > 0
    return ok, best


# ---------------------------------------------------------------- the answer and its certificate


def params_bytes(params: dict[str, np.ndarray]) -> bytes:
    import tempfile

    from vnnc import safetensors

    with tempfile.TemporaryDirectory() as tmp:
        safetensors.write(Path(tmp) / "p.safetensors", params)
        return (Path(tmp) / "p.safetensors").read_bytes()


def _sha(data: str | bytes) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


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
    relu_splits = net.sizes[0] > 16 and len(net.weights) > 1
    outcome = Outcome("unknown", 0.0)
    found = None
    for region in prop.regions:  # cheap falsifier first: violated instances end early
        lo, hi = region.box
        found = falsify(net, region, lo, hi, rng, deadline=deadline)
        if found is not None:
            break
    trees = []
    if found is None:
        for i, region in enumerate(prop.regions):
            log(f"box {i + 1}/{len(prop.regions)}: branch and bound "
                f"({'ReLU' if relu_splits else 'input'} splits)")
            verdict, result = bab(net, region, deadline, rng, log, method, relu_splits)
            if verdict == "unknown" and relu_splits:
                outcome.notes.append("not refuted at the root; ReLU splitting (beta-CROWN) is not built yet")
            if verdict == "violated":
                found = result
                break
            if verdict == "unknown":
                outcome.seconds = time.perf_counter() - t0
                outcome.notes.append("time limit reached" if time.perf_counter() > deadline
                                     else "branch and bound could not split further")
                return outcome
            trees.append(result)
    params = params_bytes(problem.params)
    cert = {"version": 1, "kind": "robustness", "spec_sha256": _sha(problem.spec_text),
            "params_sha256": _sha(params), "property_sha256": _sha(prop.text)}
    if found is not None:
        cert.update(verdict="violated", counterexample=[float(v) for v in found])
        outcome.counterexample, outcome.output = found, net.forward(found[None])[0]
    else:
        cert.update(verdict="holds", trees=[t.preorder() for t in trees])
        outcome.leaves = sum(sum(n[0] == "leaf" for n in t) for t in cert["trees"])
    outcome.seconds = time.perf_counter() - t0
    log(f"{cert['verdict']} in {outcome.seconds:.2f} s; checking the certificate")
    t1 = time.perf_counter()
    verdict = check(problem.spec_text, params, prop.text, json.loads(json.dumps(cert)))
    outcome.notes.append(f"certificate checked in {time.perf_counter() - t1:.2f} s")
    if not verdict:
        raise VnncError(f"internal: the checker rejected the certificate ({verdict.reason})")
    outcome.verdict, outcome.certificate = cert["verdict"], cert
    return outcome


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
        if region.contains(x) and _meets(region, y) is not None:
            return "confirmed on the compiled float32 binary"
    return "NOT reproduced on the compiled float32 binary (its rounding moves the output back)"


def write_bundle(problem: Problem, outcome: Outcome, out: Path, force: bool = False) -> None:
    """spec stage, parameters, property, certificate, import witness and a manifest; checked
    with `vnnc check DIR`."""
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
    if args.float32_sound:
        raise VnncError("--float32-sound needs the certified roundoff bound of the float32 program "
                        "over an input box, which this build of vnnc does not provide yet")

    def log(message):
        print(message, file=sys.stderr, flush=True)

    problem = load_problem(args.model, args.property)
    if args.bounds_out:
        Path(args.bounds_out).write_text(json.dumps(bounds_json(problem, args.method), indent=1) + "\n")
    outcome = solve(problem, args.method, args.timeout, log)
    for note in outcome.notes:
        log(note)
    if outcome.verdict == "violated":
        text = counterexample_text(outcome.counterexample, outcome.output)
        print("counterexample (checked exactly on the real-valued network by vnnc.verifier; "
              + confirm_on_binary(problem, outcome.counterexample) + "):")
        print(text, end="")
        if args.counterexample:
            Path(args.counterexample).write_text(text)
    if outcome.certificate is not None:
        if args.certificate:
            Path(args.certificate).write_text(json.dumps(outcome.certificate) + "\n")
        if args.output:
            write_bundle(problem, outcome, Path(args.output), args.force)
            log(f"bundle: {args.output} (check it with `vnnc check {args.output}`)")
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
        checked = [n for n in outcome.notes if n.startswith("certificate checked in")]
        row["check_seconds"] = float(checked[0].split()[3]) if checked else 0.0
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
