"""Re-checks a bundle from its files alone: what `vnnc check DIR` and `vnnc compile` run.

Rows {stage, witness, verdict, reason, seconds} (docs/WITNESS.md §6, §7): `bundle` (the
manifest's hashes), one per stage (its witness, by `check`), then `library` (sampled.py).
The last stage must be checked by a loop-nests witness, since the library is printed from it.
"""

from __future__ import annotations

import io
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
from vnnc.verifier import robust, vnnlib
from vnnc.verifier.check import Accepted, Reject, Rejected, check, guarded, load_json, sha256
from vnnc.verifier.params import read
from vnnc.verifier.sampled import check_library


def _read(root: Path, rel, what: str) -> bytes:
    if not isinstance(rel, str) or rel.startswith("/") or ".." in Path(rel).parts:
        raise Reject(f"{what}: bad path {rel!r} in the manifest")
    try:
        return (root / rel).read_bytes()
    except OSError as e:
        raise Reject(f"{what}: cannot read {rel} ({e.strerror})") from None


def _hashed(root: Path, rel, want, what: str) -> bytes:
    """The file `rel`, which must hash to `want` (the manifest's sha256 for it)."""
    data = _read(root, rel, what)
    if sha256(data) != want:
        raise Reject(f"{what}: {rel} does not match its sha256 in the manifest")
    return data


def _row(stage: str, witness: str, verdict: Accepted | Rejected, t0: float) -> dict:
    return {"stage": stage, "witness": witness, "verdict": "accepted" if verdict else "rejected",
            "reason": "" if verdict else verdict.reason, "seconds": round(time.perf_counter() - t0, 4)}


def check_files(root: Path, manifest: dict) -> tuple[dict[str, str], bytes]:
    """The manifest's hashes against the files; ({stage name: text}, the parameter file)."""
    stages, witnesses = manifest.get("stages"), manifest.get("witnesses")
    if not isinstance(stages, list) or not stages:
        raise Reject("manifest lists no stages")
    if not all(isinstance(manifest.get(key), dict) for key in ("params", "artifacts", "artifact_sha256")) \
            or not isinstance(witnesses, list) \
            or not all(isinstance(w, dict) and isinstance(w.get("stage"), str) for w in witnesses):
        raise Reject("manifest: params, artifacts and artifact_sha256 must be objects, witnesses a list of "
                     "{stage, file}")
    passes = [s.get("pass") if isinstance(s, dict) else None for s in stages]
    if passes != ["import", *manifest.get("passes", [])]:
        raise Reject("manifest: the stages are not the import followed by one stage per pass")
    texts = {}
    for s in stages:
        if not isinstance(s.get("name"), str) or s["name"] in texts:
            raise Reject("malformed or repeated stage entry in the manifest")
        texts[s["name"]] = _hashed(root, s.get("file"), s.get("sha256"), f"stage {s['name']}").decode()
    params = _hashed(root, manifest["params"].get("file"), manifest["params"].get("sha256"), "params")
    if "library" not in manifest["artifacts"]:
        raise Reject("manifest: artifacts name no library")
    for key, rel in manifest["artifacts"].items():
        _hashed(root, rel, manifest["artifact_sha256"].get(key), key)
    return texts, params


def check_bundle(root: Path, sample: bool = True) -> list[dict]:
    """The rows of the bundle at `root`; a malformed bundle, or a checker bug, is a rejected
    `bundle` row, never an exception."""
    rows: list[dict] = []
    t0, verdict = time.perf_counter(), guarded(_check_bundle, root, sample, rows, prefix="bundle: ")
    if not verdict:  # the manifest's own row, which comes first when it is accepted
        rows.append(_row("bundle", "manifest.json", verdict, t0))
    return rows


def _timed(rows: list[dict], stage: str, witness: str, fn, *args) -> Accepted | Rejected:
    """Runs the check fn(*args) (it raises Reject to reject) and appends its row."""
    t0 = time.perf_counter()
    rows.append(_row(stage, witness, verdict := guarded(fn, *args), t0))
    return verdict


def _accepted(verdict: Accepted | Rejected, what: str = "") -> None:
    if not verdict:
        raise Reject(f"{what}{verdict.reason}")


def _check_bundle(root: Path, sample: bool, rows: list[dict]) -> None:
    t0 = time.perf_counter()
    manifest = load_json(_read(root, "manifest.json", "manifest"), "manifest")
    if not isinstance(manifest, dict):
        raise Reject("manifest is not a JSON object")
    if manifest.get("format") == "vnnc-verify":
        return _check_verify(root, manifest, rows, t0)
    texts, params = check_files(root, manifest)
    rows.append(_row("bundle", "manifest.json", Accepted(), t0))
    names = list(texts)
    files = {w["stage"]: w.get("file") for w in manifest["witnesses"]}

    def stage(i: int, name: str) -> None:
        if files.get(name) is None:
            raise Reject("no witness for this stage")
        witness = load_json(_read(root, files[name], f"witness of {name}"))
        _accepted(check(params if i == 0 else texts[names[i - 1]], texts[name], witness))
        if i == 0:  # what `vnnc run` and the library row read
            for key in ("inputs", "outputs"):
                if manifest.get(key) != witness["claims"][key]:
                    raise Reject(f"manifest: {key} differ from the checked spec stage's")
        if i == len(names) - 1 and witness["kind"] != "loop-nests":
            raise Reject(f"the last stage is checked by a {witness['kind']} witness, not loop-nests: "
                         "the library is printed from it")
    for i, name in enumerate(names):
        _timed(rows, name, str(files.get(name) or ""), stage, i, name)
    bound, certified = manifest.get("certified_error_bound"), None
    if isinstance(bound, dict) and bound.get("certified") is True:  # the roundoff witness of the fp stage
        fp = [texts[s["name"]] for s in manifest["stages"] if s["pass"] == "assign-precision"] or [None]

        def error_bound() -> None:
            if fp[-1] is None:
                raise Reject("no assign-precision stage")
            box, witness = _read(root, bound.get("input_box"), "box"), load_json(_read(root, bound.get("witness"), "w"))
            _accepted(check(fp[-1], fp[-1], witness, {"params": params, "box": box, "manifest": bound}))
        if _timed(rows, "error-bound", str(bound.get("witness")), error_bound):
            certified = (fp[-1], root / bound["input_box"], bound["abs"])

    def library() -> None:
        # the reference is the stage the loops implement: the fp stage, or the spec stage; after
        # a rejection it would evaluate an unchecked stage
        if not all(row["verdict"] == "accepted" for row in rows):
            raise Reject("not run: an earlier step was rejected")
        _accepted(check_library(root, manifest, texts[names[-2]], params, certified))
    if sample:
        _timed(rows, "library", manifest["artifacts"]["library"], library)


def _check_verify(root: Path, manifest: dict, rows: list[dict], t0: float) -> None:
    """A `vnnc verify` bundle: the spec stage by its import witness, then the certificate
    (robust.py) against that stage, the parameters and the property file."""
    files, keys = manifest.get("files"), ("spec", "params", "property", "certificate", "witness")
    if not isinstance(files, dict) or set(files) != set(keys) or not isinstance(manifest.get("sha256"), dict):
        raise Reject(f"manifest: files and sha256 must name exactly {', '.join(keys)}")
    data = {key: _hashed(root, files[key], manifest["sha256"].get(key), key) for key in keys}
    rows.append(_row("bundle", "manifest.json", Accepted(), t0))
    spec, cert = data["spec"].decode(), load_json(data["certificate"], "certificate")
    imported = _timed(rows, "00-import", files["witness"],
                      lambda: _accepted(check(data["params"], spec, load_json(data["witness"]))))

    def robustness() -> None:
        _accepted(imported)
        if not isinstance(cert, dict) or cert.get("verdict") != manifest.get("verdict"):
            raise Reject("the manifest's verdict is not the certificate's")
        _accepted(robust.check(spec, data["params"], data["property"], cert))
    _timed(rows, f"robustness ({manifest.get('verdict')})", files["certificate"], robustness)
    if "float32_sound" in manifest and isinstance(cert, dict) and cert.get("verdict") == "holds":
        _timed(rows, "float32-sound", "float32/property_original.vnnlib", _float32_sound, root, spec,
               data["params"], data["property"].decode())


def _float32_sound(root: Path, spec: str, params: bytes, widened: str) -> None:
    """The property checked (widened) is float32/property_original.vnnlib with every output
    constraint c . y <= d raised to at least d + sum_j |c_j| E_j, E the certified roundoff
    bound of the float32 stage (accepted against the spec stage, every op f32 round-to-nearest)
    over a box holding the property's box i: so the float32 program satisfies the original."""
    fp = _read(root, "float32/01-assign-precision.mlir", "float32 stage").decode()
    w = load_json(_read(root, "float32/01-assign-precision.json", "precision witness"))
    _accepted(check(spec, fp, w), "float32/: the precision witness is rejected: ")
    if any((c["format"], c["acc"], c["rounding"]) != ("f32", "f32", "nearest")
           for c in w["claims"]["ops"]):  # each checked against the stage (the default is not)
        raise Reject("float32/: not every op of the fp stage is f32, round to nearest")
    sizes = robust.network(spec, read(params))[1]
    original = _read(root, "float32/property_original.vnnlib", "original property").decode()
    boxes, raised = ([(lo, hi, cs, list(map(len, cs))) for lo, hi, cs in vnnlib.regions(t, sizes[0], sizes[-1])]
                     for t in (original, widened))
    if [(lo, hi, n) for lo, hi, _, n in boxes] != [(lo, hi, n) for lo, hi, _, n in raised]:
        raise Reject("float32/: the widened property has other boxes or constraints than the original")
    for i, ((lo, hi, conjs, _), (_, _, wide, _)) in enumerate(zip(boxes, raised)):
        box = _read(root, f"float32/input_box_{i}.npz", "box")
        w = load_json(_read(root, f"float32/roundoff_{i}.json", "roundoff witness"))
        _accepted(check(fp, fp, w, {"box": box, "params": params}),  # the box is read there too
                  f"float32/: box {i}: the roundoff witness is rejected: ")
        with np.load(io.BytesIO(box), allow_pickle=False) as z:
            b_lo, b_hi = z["lo"].reshape(-1), z["hi"].reshape(-1)
        if any(Fraction(float(a)) > v for a, v in zip(b_lo, lo)) or any(Fraction(float(b)) < v for b, v in zip(b_hi, hi)):
            raise Reject(f"float32/: box {i}: the roundoff witness's box does not hold the property's")
        err = [Fraction(float(e)) for e in np.asarray(w["claims"]["abs"], np.float64).reshape(-1)]
        for (coef, d), (coef2, d2) in ((a, b) for c, c2 in zip(conjs, wide) for a, b in zip(c, c2)):
            if coef != coef2 or d2 < d + sum(abs(c) * err[j] for j, c in coef.items()):
                raise Reject(f"float32/: box {i}: a constraint is not the original widened by the roundoff bound")
