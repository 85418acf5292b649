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
    assert c.returncode == 0, c.stdout
