"""The ONNX import is a trust boundary: `vnnc compile` tests it against ONNX Runtime and
records the result under the manifest's `tested`, never under `checks` (TRUST.md).

A sabotaged import (Relu imported as Neg) is still a well-formed spec that the checker
accepts step by step, so the bundle stays verified; only the cross-check can see that
it is not the ONNX model, and it must say so loudly.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper
from vnnc import cli, driver, frontend_onnx
from vnnc.dialects import spec

WARNING = "vnnc: warning: ONNX import differs from onnxruntime"


@pytest.fixture(scope="module")
def mlp_onnx(tmp_path_factory):
    rng = np.random.default_rng(3)
    w1, b1 = rng.standard_normal((16, 6)).astype(np.float32), rng.standard_normal(16).astype(np.float32)
    w2, b2 = rng.standard_normal((4, 16)).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    g = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], transB=1),
         helper.make_node("Relu", ["h"], ["r"]),
         helper.make_node("Gemm", ["r", "w2", "b2"], ["y"], transB=1)],
        "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
        [numpy_helper.from_array(a, n) for a, n in ((w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2"))])
    path = tmp_path_factory.mktemp("onnx") / "mlp.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return path


def test_onnx_compile_records_a_passed_cross_check(mlp_onnx, tmp_path, capsys):
    bundle = driver.compile_model(mlp_onnx, tmp_path / "b", batch=2)
    (row,) = bundle.manifest["tested"]
    assert row["what"] == "onnx-import" and row["against"].startswith("onnxruntime ")
    assert row["passed"] is True and row["samples"] == driver.ONNX_CROSS_CHECK_SAMPLES
    assert 0 <= row["max_abs_error"] <= row["tolerance"]
    assert row["tolerance"] >= driver.ONNX_CROSS_CHECK_TOLERANCE
    assert bundle.manifest["verified"] is True
    assert all(r["stage"] != "onnx-import" for r in bundle.manifest["checks"]), "tested, not checked"
    assert "warning" not in capsys.readouterr().err


def test_a_spec_model_has_no_cross_check(tmp_path):
    from pathlib import Path

    examples = Path(__file__).resolve().parents[2] / "examples"
    bundle = driver.compile_model(examples / "mlp.mlir", tmp_path / "b")
    assert bundle.manifest["tested"] == []


def test_a_sabotaged_import_fails_the_cross_check_loudly(mlp_onnx, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(frontend_onnx._Importer, "_op_Relu", frontend_onnx._unary(spec.NegOp))
    assert cli.main(["compile", str(mlp_onnx), "-o", str(tmp_path / "b")]) == 0
    err = capsys.readouterr().err
    assert err.count(WARNING) == 1 and str(mlp_onnx) in err
    bundle = driver.Bundle(tmp_path / "b")
    (row,) = bundle.manifest["tested"]
    assert row["passed"] is False and row["max_abs_error"] > row["tolerance"]
    # the checker checks every step from the (wrong) spec on: a trust-boundary failure
    # is reported, not turned into a checker rejection
    assert bundle.manifest["verified"] is True
    assert "spec.neg" in (tmp_path / "b" / "stages" / "00-import.mlir").read_text()


def test_without_onnxruntime_there_is_no_row_and_no_crash(mlp_onnx, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` raises ImportError
    bundle = driver.compile_model(mlp_onnx, tmp_path / "b")
    assert bundle.manifest["tested"] == []
    assert bundle.manifest["verified"] is True
    assert "warning" not in capsys.readouterr().err


def test_a_cross_check_that_cannot_run_is_a_warning(mlp_onnx, tmp_path, monkeypatch, capsys):
    import onnxruntime

    def broken(*args, **kwargs):
        raise RuntimeError("no session today")

    monkeypatch.setattr(onnxruntime, "InferenceSession", broken)
    bundle = driver.compile_model(mlp_onnx, tmp_path / "b")
    (row,) = bundle.manifest["tested"]
    assert row["passed"] is False and "no session today" in row["reason"]
    assert row["max_abs_error"] is None
    assert "vnnc: warning: ONNX import could not be cross-checked" in capsys.readouterr().err
