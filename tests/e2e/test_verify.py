"""`vnnc verify` as a user runs it: the VNN-COMP test category's verdicts, exit codes, the one
final stdout line, --bounds-out, --counterexample, verify bundles re-checked by `vnnc check`
(tampered ones rejected), batch mode, and clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

VNNC = [sys.executable, "-m", "vnnc"]
DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "vnncomp2021" / "test"
EXPECTED = {("test_nano.onnx", "test_nano.vnnlib"): "holds", ("test_tiny.onnx", "test_tiny.vnnlib"): "holds",
            ("test_small.onnx", "test_small.vnnlib"): "holds", ("test_sat.onnx", "test_prop.vnnlib"): "violated",
            ("test_unsat.onnx", "test_prop.vnnlib"): "holds"}


def data(name: str) -> Path:
    if not (DATA / name).exists():
        pytest.skip(f"{DATA / name} is absent (the shared benchmark data is not checked out beside the project)")
    return DATA / name


def vnnc(*args, cwd=None):
    return subprocess.run(VNNC + [str(a) for a in args], check=False, capture_output=True, text=True, cwd=cwd,
                          timeout=300)


@pytest.mark.parametrize("model, prop", sorted(EXPECTED))
def test_test_category_verdicts(model, prop, tmp_path):
    r = vnnc("verify", data(model), data(prop), "--timeout", 60, "-o", tmp_path / "b",
             "--counterexample", tmp_path / "ce.txt")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == EXPECTED[model, prop]
    assert "Traceback" not in r.stderr
    if EXPECTED[model, prop] == "violated":
        text = (tmp_path / "ce.txt").read_text()
        assert text.startswith("((X_0 ") and "(Y_4 " in text
        assert "checked exactly on the real-valued network" in r.stdout
        assert "compiled float32 binary" in r.stdout
    c = vnnc("check", tmp_path / "b")
    assert c.returncode == 0, c.stdout + c.stderr
    assert "robustness" in c.stdout and "verified" in c.stdout


def test_tampered_verify_bundle_is_rejected(tmp_path):
    r = vnnc("verify", data("test_unsat.onnx"), data("test_prop.vnnlib"), "-o", tmp_path / "b")
    assert r.returncode == 0
    bundle = tmp_path / "b"
    # another property in the bundle (with the manifest's hash updated): the certificate's
    # hash binds the property it was made for
    import hashlib

    prop = (bundle / "property.vnnlib").read_text().replace("0.3)", "0.29)")
    (bundle / "property.vnnlib").write_text(prop)
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["sha256"]["property"] = hashlib.sha256(prop.encode()).hexdigest()
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    c = vnnc("check", bundle)
    assert c.returncode == 1 and "property_sha256" in c.stderr + c.stdout
    (bundle / "certificate.json").write_text('{"verdict": NaN}')
    c = vnnc("check", bundle)
    assert c.returncode == 1 and "does not match its sha256" in c.stderr + c.stdout


def test_bounds_out_and_exit_codes(tmp_path):
    r = vnnc("verify", data("test_unsat.onnx"), data("test_prop.vnnlib"), "--bounds-out", tmp_path / "b.json",
             "--method", "crown")
    assert r.returncode == 0
    b = json.loads((tmp_path / "b.json").read_text())
    assert len(b["lower"]) == len(b["upper"]) == 5 and all(lo <= hi for lo, hi in zip(b["lower"], b["upper"]))
    r = vnnc("verify", data("test_unsat.onnx"), data("test_prop.vnnlib"), "--timeout", 0)
    assert r.returncode == 3 and r.stdout.splitlines()[-1] == "unknown"


def test_errors(tmp_path):
    bad = tmp_path / "bad.vnnlib"
    bad.write_text("(declare-const X_0 Real)\n(declare-const Y_0 Real)\n(assert (<= X_0 1)\n")
    r = vnnc("verify", data("test_nano.onnx"), bad)
    assert r.returncode == 1 and r.stderr.startswith(f"vnnc: error: {bad}:3:") and "Traceback" not in r.stderr
    r = vnnc("verify", data("test_nano.onnx"), data("test_prop.vnnlib"))
    assert r.returncode == 1 and "declares 5 inputs" in r.stderr
    r = vnnc("verify", data("test_nano.onnx"), data("test_nano.vnnlib"), "--float32-sound")  # W @ x: no error bound
    assert r.returncode == 1 and r.stderr.startswith("vnnc: error: --float32-sound: ") and "error-analysis" in r.stderr
    r = vnnc("verify", "--method", "nope")
    assert r.returncode == 2


def test_batch_mode(tmp_path):
    rows = [f"{data(m)},{data(p)},60,{'sat' if v == 'violated' else 'unsat'}" for (m, p), v in sorted(EXPECTED.items())]
    csv = tmp_path / "instances.csv"
    csv.write_text("\n".join(rows) + "\n")
    r = vnnc("verify", "--instances", csv, "--results", tmp_path / "out.csv", "--jobs", 2)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "summary: 5 instances: holds 4, violated 1" in r.stdout
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert len(lines) == 6 and lines[0].startswith("model,property,verdict,seconds")
    r = vnnc("verify", "--instances", csv, "--results", tmp_path / "out.csv")  # resumed: nothing to run
    assert r.returncode == 0 and "0 to run" in r.stderr
    unknown = next(r for r in rows if r.endswith(",unsat")).replace(",60,", ",0.000001,")
    csv.write_text(unknown + "\n")  # no time at all: unknown, and the row says how far it got
    r = vnnc("verify", "--instances", csv, "--results", tmp_path / "out1.csv")
    assert r.returncode == 0 and "unknown 1" in r.stdout, r.stdout + r.stderr
    row = (tmp_path / "out1.csv").read_text().splitlines()[1]
    assert ",unknown," in row and "time limit" in row, row
    csv.write_text(rows[0].replace(",unsat", ",sat") + "\n")  # a disagreeing expected verdict
    r = vnnc("verify", "--instances", csv, "--results", tmp_path / "out2.csv")
    assert r.returncode == 1 and "WRONG" in r.stdout
