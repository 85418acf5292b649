"""Re-checking a whole bundle from its files alone (what `vnnc check DIR` runs).

Steps, each a row {stage, witness, verdict, reason, seconds}:
  - the manifest's hashes of every stage file, the parameter file, model.c and the
    library match the files;
  - every stage from 00 on has a witness, and each witness is accepted by `check`
    (stage NN-1 -> stage NN; the import witness relates the parameter file to stage 00);
  - the library, run in a subprocess on sampled inputs, lands within the stated
    float32 tolerance of the checker's own reference evaluation of the spec stage.
The bundle is verified only when every row is accepted.
"""

from __future__ import annotations

import time
from pathlib import Path

from vnnc.verifier.check import Accepted, Reject, Rejected, check, load_json, sha256


def _read(root: Path, rel, what: str) -> bytes:
    if not isinstance(rel, str) or rel.startswith("/") or ".." in Path(rel).parts:
        raise Reject(f"{what}: bad path {rel!r} in the manifest")
    try:
        return (root / rel).read_bytes()
    except OSError as e:
        raise Reject(f"{what}: cannot read {rel} ({e.strerror})") from None


def _row(stage: str, witness: str, verdict: Accepted | Rejected, t0: float) -> dict:
    return {"stage": stage, "witness": witness, "verdict": "accepted" if verdict else "rejected",
            "reason": "" if verdict else verdict.reason, "seconds": round(time.perf_counter() - t0, 4)}


def check_files(root: Path, manifest: dict) -> dict:
    """Hashes of every file the manifest names; returns {stage name: text}."""
    stages = manifest.get("stages")
    if not isinstance(stages, list) or not stages:
        raise Reject("manifest lists no stages")
    objects = [manifest.get(key) for key in ("params", "artifacts", "artifact_sha256")]
    witnesses = manifest.get("witnesses")
    if not all(isinstance(x, dict) for x in objects) or not isinstance(witnesses, list) or not all(
            isinstance(w, dict) and isinstance(w.get("stage"), str) for w in witnesses):
        raise Reject("manifest: params, artifacts and artifact_sha256 must be objects, witnesses "
                     "a list of {stage, file}")
    if [s.get("pass") if isinstance(s, dict) else None for s in stages] != ["import", *manifest.get("passes", [])]:
        raise Reject("manifest: the stages are not the import followed by one stage per pass")
    texts = {}
    for s in stages:
        if not isinstance(s, dict) or not isinstance(s.get("name"), str) or s["name"] in texts:
            raise Reject("malformed or repeated stage entry in the manifest")
        data = _read(root, s.get("file"), s["name"])
        if sha256(data) != s.get("sha256"):
            raise Reject(f"stage {s['name']}: file does not match its sha256 in the manifest")
        try:
            texts[s["name"]] = data.decode()
        except UnicodeDecodeError:
            raise Reject(f"stage {s['name']}: not UTF-8 text") from None
    params = manifest["params"]
    if sha256(_read(root, params.get("file"), "params")) != params.get("sha256"):
        raise Reject("params: file does not match its sha256 in the manifest")
    if "library" not in manifest["artifacts"]:
        raise Reject("manifest: artifacts name no library")
    for key, rel in manifest["artifacts"].items():
        want = manifest["artifact_sha256"].get(key)
        if want is None or sha256(_read(root, rel, key)) != want:
            raise Reject(f"{key}: {rel} does not match its sha256 in the manifest")
    return texts


def check_bundle(root: Path, sample: bool = True) -> list[dict]:
    rows: list[dict] = []
    try:
        _check_bundle(root, sample, rows)
    except Exception as e:  # noqa: BLE001 - a malformed bundle or a checker bug is a rejection, never a crash
        rows.append(_row("bundle", "manifest.json", Rejected(f"cannot check the bundle ({type(e).__name__}: {e})"),
                         time.perf_counter()))
    return rows


def _check_bundle(root: Path, sample: bool, rows: list[dict]) -> None:
    t0 = time.perf_counter()
    try:
        manifest = load_json(_read(root, "manifest.json", "manifest"), "manifest")
        if not isinstance(manifest, dict):
            raise Reject("manifest is not a JSON object")
        texts = check_files(root, manifest)
    except Reject as e:
        rows.append(_row("bundle", "manifest.json", Rejected(str(e)), t0))
        return
    rows.append(_row("bundle", "manifest.json", Accepted(), t0))
    names = list(texts)
    witnesses = {w["stage"]: w.get("file") for w in manifest["witnesses"]}
    params_bytes = (root / manifest["params"]["file"]).read_bytes()
    params = None
    for i, name in enumerate(names):
        t0 = time.perf_counter()
        rel = witnesses.get(name)
        if rel is None:
            rows.append(_row(name, "", Rejected("no witness for this stage"), t0))
            continue
        try:
            witness = _read(root, rel, f"witness of {name}")
        except Reject as e:
            rows.append(_row(name, str(rel), Rejected(str(e)), t0))
            continue
        source = params_bytes if i == 0 else texts[names[i - 1]]
        verdict = check(source, texts[name], witness, params)
        if verdict and i == 0:
            verdict = _signature_matches(manifest, witness)
        rows.append(_row(name, rel, verdict, t0))
    if sample:
        from vnnc.verifier.sampled import check_library

        t0 = time.perf_counter()
        library = manifest["artifacts"]["library"]
        if all(row["verdict"] == "accepted" for row in rows):
            rows.append(_row("library", library, check_library(root, manifest, texts[names[0]], params_bytes), t0))
        else:  # the reference would evaluate an unchecked spec stage
            rows.append(_row("library", library, Rejected("not run: an earlier step was rejected"), t0))


def _signature_matches(manifest: dict, witness: bytes) -> Accepted | Rejected:
    """The manifest's inputs and outputs (what `vnnc run` and the sampled check read) are
    the ones the accepted import witness recomputed from the spec stage."""
    claims = load_json(witness)["claims"]
    for key in ("inputs", "outputs"):
        if manifest.get(key) != claims[key]:
            return Rejected(f"manifest: {key} differ from the checked spec stage's")
    return Accepted()
