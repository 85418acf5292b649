"""--float32-sound (compiler/float32_sound.py): exact decimals, the widened property (every
output constraint's right-hand side raised by exactly sum_j |c_j| E_j, read back by the
untrusted and the checker's VNN-LIB readers alike), and `vnnc verify --float32-sound` on a
small network: the roundoff witness accepted, the verdict, and the bundle's records."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
from vnnc.errors import VnncError
from vnnc.float32_sound import exact_decimal, property_text
from vnnc.verifier import vnnlib as checker_vnnlib
from vnnc.vnnlib import read_property

pytest.importorskip("onnx")
from test_robust import make_model, prop_text


def test_exact_decimal():
    rng = np.random.default_rng(0)
    for v in list(rng.standard_normal(50) * 10.0 ** rng.integers(-12, 12, 50)) + [0.0, -1.0, 2.0**-60]:
        assert Fraction(exact_decimal(Fraction(float(v)))) == Fraction(float(v))
    assert exact_decimal(Fraction("-0.029999999329447746")) == "-0.029999999329447746"
    with pytest.raises(VnncError):
        exact_decimal(Fraction(1, 3))


def test_widened_property(tmp_path):
    (tmp_path / "p.vnnlib").write_text(prop_text(0.5, 0.25))
    prop = read_property(tmp_path / "p.vnnlib", 3, 3)
    err = np.array([1e-3, 2.5e-4, 3.0])
    text = property_text(prop, [err])
    (tmp_path / "w.vnnlib").write_text(text)
    wide = read_property(tmp_path / "w.vnnlib", 3, 3)
    assert [r.lo for r in wide.regions] == [r.lo for r in prop.regions]
    for r0, r1 in zip(prop.regions, wide.regions):
        for c0, c1 in zip(r0.conjunctions, r1.conjunctions):
            for a, b in zip(c0, c1):
                assert a.coef == b.coef
                assert b.rhs == a.rhs + sum(abs(c) * Fraction(float(err[j])) for j, c in a.coef)
    (_, _, conjs), = checker_vnnlib.regions(text, 3, 3)  # the checker reads the same numbers
    assert conjs[0][0][1] == wide.regions[0].conjunctions[0][0].rhs


def test_verify_float32_sound(tmp_path):
    make_model(tmp_path / "net.onnx")
    (tmp_path / "p.vnnlib").write_text(prop_text(2.0, 2.0))
    r = subprocess.run([sys.executable, "-m", "vnnc", "verify", tmp_path / "net.onnx", tmp_path / "p.vnnlib",
                        "--float32-sound", "-o", tmp_path / "b"], capture_output=True, text=True, timeout=300,
                       check=False)
    assert r.returncode == 0 and r.stdout.splitlines()[-1] == "holds", r.stderr
    assert "roundoff bound up to" in r.stderr and "for the float32 program" in r.stderr
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    record = manifest["float32_sound"]
    assert len(record["abs"]) == 1 and all(0 < e < 1e-3 for e in record["abs"][0])
    for name in ("property_original.vnnlib", "01-assign-precision.mlir", "roundoff_0.json", "input_box_0.npz"):
        assert (tmp_path / "b" / "float32" / name).exists()
    c = subprocess.run([sys.executable, "-m", "vnnc", "check", tmp_path / "b"], capture_output=True, text=True,
                       timeout=300, check=False)
    assert c.returncode == 0 and "float32-sound       accepted" in c.stdout, c.stdout


@pytest.fixture(scope="module")
def sound_bundle(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("f32")
    make_model(tmp / "net.onnx")
    (tmp / "p.vnnlib").write_text(prop_text(2.0, 2.0))
    r = subprocess.run([sys.executable, "-m", "vnnc", "verify", tmp / "net.onnx", tmp / "p.vnnlib",
                        "--float32-sound", "-o", tmp / "b"], capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr
    return tmp / "b"


def _float32_row(bundle) -> dict:
    from vnnc.verifier.bundle import check_bundle

    rows = {row["stage"]: row for row in check_bundle(bundle)}
    assert rows["robustness (holds)"]["verdict"] == "accepted"  # only float32/ was tampered with
    return rows["float32-sound"]


def _roundoff(bundle, lo, hi):
    """An honest roundoff witness of the bundle's float32 stage over [lo, hi], and the box file."""
    import io

    from vnnc import safetensors
    from vnnc.passes import error_analysis
    from vnnc.verify import params_bytes

    params = safetensors.read(bundle / "params.safetensors")
    buf = io.BytesIO()
    np.savez(buf, lo=lo, hi=hi)
    fp = (bundle / "float32" / "01-assign-precision.mlir").read_text()
    return error_analysis.witness(fp, params, params_bytes(params), lo, hi, buf.getvalue()), buf.getvalue()


def _tampered(sound_bundle, tmp_path, how):
    import shutil

    b = tmp_path / "t"
    shutil.copytree(sound_bundle, b)
    how(b / "float32")
    return _float32_row(b)


def test_float32_sound_rechecked(sound_bundle, tmp_path):
    """`vnnc check` re-derives the widening: the honest bundle is accepted, and each tampered
    twin of float32/ is rejected with the robustness certificate itself still accepted."""
    assert _float32_row(sound_bundle)["verdict"] == "accepted"

    def stronger_original(d):  # the original property claims a lower threshold than was widened
        p = d / "property_original.vnnlib"
        p.write_text(p.read_text().replace("(>= Y_2 2.0)", "(>= Y_2 1.99)"))

    def smaller_bound(d):  # the certified bound claimed below what the checker recomputes
        w = json.loads((d / "roundoff_0.json").read_text())
        w["claims"]["abs"] = (np.asarray(w["claims"]["abs"]) / 2).tolist()
        (d / "roundoff_0.json").write_text(json.dumps(w))

    def narrower_box(d):  # an honest witness, but over a box narrower than the property's
        w, box = _roundoff(d.parent, np.full((1, 3), -0.25), np.full((1, 3), 0.5))
        (d / "roundoff_0.json").write_text(json.dumps(w))
        (d / "input_box_0.npz").write_bytes(box)

    def constraint_dropped(d):  # the original has a constraint the widened property lacks
        p = d / "property_original.vnnlib"
        p.write_text(p.read_text().replace("(and (>= Y_2 2.0))", "(and (>= Y_2 2.0) (>= Y_2 Y_1))"))

    def f16_stage(d):  # an honest precision witness, but of a float16 stage
        from vnnc.driver import load_model, run_pipeline
        from vnnc.passes.assign_precision import AssignPrecisionPass
        from vnnc.verifier.check import sha256

        model = json.loads((d.parent / "manifest.json").read_text())["model"]  # the ONNX file
        stages = run_pipeline(load_model(model), [AssignPrecisionPass(precision="f16")])
        w = dict(stages[1].witness, source_sha256=sha256(stages[0].text), target_sha256=sha256(stages[1].text))
        (d / "01-assign-precision.mlir").write_text(stages[1].text)
        (d / "01-assign-precision.json").write_text(json.dumps(w))

    def changed_claim(d):  # a precision witness that does not describe its stage
        w = json.loads((d / "01-assign-precision.json").read_text())
        w["claims"]["ops"][1]["acc"] = "f64"
        (d / "01-assign-precision.json").write_text(json.dumps(w))

    def missing(d):
        (d / "roundoff_0.json").unlink()

    reasons = {"stronger_original": "not the original widened", "smaller_bound": "roundoff witness is rejected",
               "narrower_box": "does not hold the property's", "constraint_dropped": "other boxes or constraints",
               "f16_stage": "not every op of the fp stage is f32", "changed_claim": "precision witness is rejected",
               "missing": "cannot read float32/roundoff_0.json"}
    for how in (stronger_original, smaller_bound, narrower_box, constraint_dropped, f16_stage, changed_claim, missing):
        row = _tampered(sound_bundle, tmp_path / how.__name__, how)
        assert row["verdict"] == "rejected" and reasons[how.__name__] in row["reason"], (how.__name__, row)
