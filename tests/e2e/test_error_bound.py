"""`vnnc compile --input-box BOX.npz` as a user runs it: the certified error bound in the
manifest (validated against docs/BUNDLE.md's schema), `vnnc check` re-checking it, a tampered
bound or box rejected, and every bad box or unanalysable model answered with one clear
error line, exit 1, no traceback, no bundle.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from test_bundle_layout import schema, validate
from test_cli import expect_error, run

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from test_roundoff import write_box, write_mlp

VNNC = [sys.executable, "-m", "vnnc"]
MLP = Path(__file__).resolve().parents[2] / "examples" / "mlp.mlir"


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("eb")
    path, _ = write_mlp(d, sizes=(4, 8, 3), seed=2)
    return path, d


@pytest.fixture(scope="module")
def built(small) -> Path:
    path, d = small
    box = write_box(d / "box.npz", np.full((1, 4), -0.5, np.float32), np.full((1, 4), 0.5, np.float32))
    proc = run(VNNC, "compile", path, "--precision", "bf16", "--input-box", box, "-o", d / "b")
    assert proc.returncode == 0, proc.stderr
    assert "certified error bound over" in proc.stdout
    return d / "b"


def test_manifest_records_the_bound(built):
    m = json.loads((built / "manifest.json").read_text())
    assert validate(m, schema(), schema()) == []
    bound = m["certified_error_bound"]
    assert bound["certified"] and bound["output"] == "y" and len(bound["abs"]) == 3
    assert bound["input_box"] == "input_box.npz" and (built / "input_box.npz").is_file()
    assert bound["precision"] == {"precision": "bf16"} and bound["witness"] == "witnesses/error-bound.json"
    rows = {r["stage"]: r["verdict"] for r in m["checks"]}
    assert rows["error-bound"] == rows["library"] == "accepted" and m["verified"]


def test_without_a_box_no_bound_is_certified(small):
    path, d = small
    proc = run(VNNC, "compile", path, "--precision", "bf16", "-o", d / "nobox")
    assert proc.returncode == 0, proc.stderr
    m = json.loads((d / "nobox" / "manifest.json").read_text())
    assert m["certified_error_bound"]["certified"] is False and "no input box" in m["certified_error_bound"]["reason"]
    assert validate(m, schema(), schema()) == []
    assert "error-bound" not in [r["stage"] for r in m["checks"]]


def test_a_box_alone_means_f32(small):
    path, d = small
    box = write_box(d / "box32.npz", np.zeros((1, 4)), np.ones((1, 4)))
    proc = run(VNNC, "compile", path, "--input-box", box, "-o", d / "f32")
    assert proc.returncode == 0, proc.stderr
    m = json.loads((d / "f32" / "manifest.json").read_text())
    assert m["passes"] == ["assign-precision", "lower-to-loops"] and m["precision"] == {"precision": "f32"}
    assert max(m["certified_error_bound"]["abs"]) < 1e-5


def test_vnnc_check_rechecks_the_bound(built, tmp_path):
    proc = run(VNNC, "check", built)
    assert proc.returncode == 0, proc.stderr
    assert "error-bound" in proc.stdout and "accepted" in proc.stdout
    # a bound narrowed in the manifest alone
    bad = tmp_path / "narrowed"
    shutil.copytree(built, bad)
    m = json.loads((bad / "manifest.json").read_text())
    m["certified_error_bound"]["abs"][0] /= 2
    (bad / "manifest.json").write_text(json.dumps(m))
    proc = run(VNNC, "check", bad)
    assert proc.returncode == 1 and "error-bound" in proc.stderr and "differs" in proc.stderr
    # a bound narrowed in the manifest and the witness together
    w = json.loads((bad / "witnesses" / "error-bound.json").read_text())
    w["claims"]["abs"][0] = m["certified_error_bound"]["abs"][0]
    (bad / "witnesses" / "error-bound.json").write_text(json.dumps(w))
    proc = run(VNNC, "check", bad)
    assert proc.returncode == 1 and "does not cover" in proc.stderr
    # another box in the bundle
    other = tmp_path / "box"
    shutil.copytree(built, other)
    np.savez(other / "input_box.npz", lo=np.full((1, 4), -1.0), hi=np.full((1, 4), 1.0))
    proc = run(VNNC, "check", other)
    assert proc.returncode == 1 and "error-bound" in proc.stderr


@pytest.mark.parametrize("arrays, needle", [
    ({"lo": np.zeros((1, 4))}, "no array 'hi'"),
    ({"low": np.zeros((1, 4)), "hi": np.ones((1, 4))}, "no array 'lo'"),
    ({"lo": np.zeros((1, 5)), "hi": np.ones((1, 5))}, "shape [1, 5]"),
    ({"lo": np.ones((1, 4)), "hi": np.zeros((1, 4))}, "lo > hi at index [0, 0]"),
    ({"lo": np.array([[0, np.nan, 0, 0]]), "hi": np.ones((1, 4))}, "NaN"),
    ({"lo": np.zeros((1, 4)), "hi": np.array([[1, np.inf, 1, 1]])}, "infinite"),
    ({"lo": np.array([["a"] * 4]), "hi": np.ones((1, 4))}, "expected floats"),
])
def test_bad_box_is_one_clear_error(small, tmp_path, arrays, needle):
    path, _ = small
    box = tmp_path / "bad.npz"
    np.savez(box, **arrays)
    proc = run(VNNC, "compile", path, "--input-box", box, "-o", tmp_path / "out")
    expect_error(proc, str(box), needle)
    assert not (tmp_path / "out").exists()


def test_box_file_missing_or_not_npz(small, tmp_path):
    path, _ = small
    expect_error(run(VNNC, "compile", path, "--input-box", tmp_path / "none.npz", "-o", tmp_path / "o"),
                 "none.npz", "cannot read")
    (tmp_path / "text.npz").write_text("lo hi")
    expect_error(run(VNNC, "compile", path, "--input-box", tmp_path / "text.npz", "-o", tmp_path / "o"),
                 "text.npz", "not an .npz")
    assert not (tmp_path / "o").exists()


def test_overflow_means_no_bound(small, tmp_path):
    """fp8-e4m3fn tops out at 448: a box reaching 1e4 may overflow, and the error says so."""
    path, _ = small
    box = write_box(tmp_path / "big.npz", np.full((1, 4), -1e4), np.full((1, 4), 1e4))
    proc = run(VNNC, "compile", path, "--precision", "fp8-e4m3fn", "--input-box", box, "-o", tmp_path / "o")
    expect_error(proc, "may overflow fp8-e4m3fn", "no error bound can be certified")
    assert not (tmp_path / "o").exists()


def test_unsupported_op_is_named(small, tmp_path):
    """A log_softmax has no error analysis: the error names the op instead of guessing."""
    path, _ = small
    text = path.read_text().replace("    func.return %h1 : tensor<1x3xf32>", (
        "    %ls = spec.log_softmax %h1 {axis = 1 : i64} : (tensor<1x3xf32>) -> tensor<1x3xf32>\n"
        "    func.return %ls : tensor<1x3xf32>"))
    assert "log_softmax" in text
    (tmp_path / "mlp.safetensors").write_bytes(path.with_suffix(".safetensors").read_bytes())
    (tmp_path / "mlp.mlir").write_text(text)
    box = write_box(tmp_path / "box.npz", np.zeros((1, 4)), np.ones((1, 4)))
    proc = run(VNNC, "compile", tmp_path / "mlp.mlir", "--input-box", box, "-o", tmp_path / "o")
    expect_error(proc, "fp.log_softmax", "not supported by the error analysis")


def test_the_cnn_example_gets_a_bound(tmp_path):
    """examples/cnn.mlir (conv2d, maxpool2d) over a box around one of examples/digits.npz."""
    with np.load(MLP.parent / "digits.npz") as z:
        x = z["x"][:1].reshape(1, 1, 28, 28).astype(np.float64)
    box = write_box(tmp_path / "box.npz", np.clip(x - 0.01, 0, 1), np.clip(x + 0.01, 0, 1))
    proc = run(VNNC, "compile", MLP.parent / "cnn.mlir", "--precision", "bf16", "--input-box", box,
               "-o", tmp_path / "o")
    assert proc.returncode == 0, proc.stderr
    m = json.loads((tmp_path / "o" / "manifest.json").read_text())
    bound = m["certified_error_bound"]
    assert bound["certified"] and len(bound["abs"]) == 10 and max(bound["abs"]) < 1.0, bound
    assert m["verified"] and {r["stage"]: r["verdict"] for r in m["checks"]}["error-bound"] == "accepted"


def test_emit_takes_no_box(small, tmp_path):
    path, _ = small
    box = write_box(tmp_path / "box.npz", np.zeros((1, 4)), np.ones((1, 4)))
    proc = run(VNNC, "compile", path, "--emit", "fp", "--input-box", box)
    assert proc.returncode == 2 and "--input-box" in proc.stderr
