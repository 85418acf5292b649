"""`vnnc compile` with finite precision (--precision, --rounding, --accumulate,
--precision-config, --emit fp), run as a user runs it (subprocesses), on examples/mlp.mlir.

Bad settings give one clear error and no traceback: exit 1 with one `vnnc: error:` line
for a format or config that assign-precision refuses, argparse's exit 2 for a choice
outside a flag's list.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from test_cli import expect_error, run

VNNC = [sys.executable, "-m", "vnnc"]
MLP = Path(__file__).resolve().parents[2] / "examples" / "mlp.mlir"


def fp_ops(text: str) -> list[tuple[str, str]]:
    """(op, result element type) of every fp op in an --emit fp text, in order."""
    return re.findall(r"= (fp\.\w+) .*-> tensor<(?:\d+x)*([^>]+)>$", text, re.MULTILINE)


def test_compile_bf16_down(tmp_path):
    proc = run(VNNC, "compile", MLP, "--precision", "bf16", "--rounding", "down", "-o", "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "verified" in proc.stdout
    m = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert m["passes"] == ["assign-precision", "lower-to-loops"]
    assert m["precision"] == {"precision": "bf16", "rounding": "down"}
    assert m["verified"] and all(row["verdict"] == "accepted" for row in m["checks"])
    assert [s["name"] for s in m["stages"]] == ["00-import", "01-assign-precision", "02-lower-to-loops"]
    fp = (tmp_path / "out" / "stages" / "01-assign-precision.mlir").read_text()
    assert fp.count('"fp.linear"') == 3 and 'rounding = "down"' in fp and 'acc = "f32"' in fp
    # the run command reads the bundle; its output is bf16 values, exact in f32
    np.save(tmp_path / "x.npy", np.linspace(-1, 1, 784, dtype=np.float32).reshape(1, 784))
    proc = run(VNNC, "run", "out", "--input", "x.npy", "--output", "y.npy", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    y = np.load(tmp_path / "y.npy").astype(np.float32)
    assert np.array_equal(y, (y.view(np.uint32) & 0xFFFF0000).view(np.float32))  # bf16 values


def test_emit_fp_prints_fp_ops(tmp_path):
    proc = run(VNNC, "compile", MLP, "--precision", "fp8-e4m3fn", "--accumulate", "f64", "--emit", "fp",
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    ops = fp_ops(proc.stdout)
    assert [op for op, _ in ops].count("fp.linear") == 3 and "fp.relu" in [op for op, _ in ops]
    assert ("fp.linear", "f8E4M3FN") in ops and ("fp.round", "f32") in ops
    assert 'acc = "f64"' in proc.stdout and "spec.linear" not in proc.stdout
    assert not (tmp_path / "build").exists()


def test_emit_fp_without_precision_is_the_f32_fp_stage(tmp_path):
    """Regression: without --precision, --emit fp printed the loop stage."""
    proc = run(VNNC, "compile", MLP, "--emit", "fp", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert [op for op, _ in fp_ops(proc.stdout)] == ["fp.linear", "fp.relu"] * 2 + ["fp.linear"]
    assert "scf.for" not in proc.stdout and "fp.round" not in proc.stdout


@pytest.mark.parametrize("args, needle", [
    (["--precision", "e99m99"], "e99m99"),
    (["--precision", "fp7"], "unknown float format 'fp7'"),
    (["--precision", "f64", "--accumulate", "f32"], "f64 storage needs f64 accumulation"),
])
def test_a_bad_precision_is_one_error(tmp_path, args, needle):
    for mode in (["-o", "out"], ["--emit", "fp"]):
        proc = run(VNNC, "compile", MLP, *args, *mode, cwd=tmp_path)
        expect_error(proc, needle)
        assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args, flag", [
    (["--rounding", "sideways"], "--rounding"),
    (["--accumulate", "f16"], "--accumulate"),
])
def test_a_bad_choice_is_an_argparse_error(tmp_path, args, flag):
    proc = run(VNNC, "compile", MLP, *args, "-o", "out", cwd=tmp_path)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr and f"argument {flag}: invalid choice" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_precision_config_first_layer_f32(tmp_path):
    (tmp_path / "layers.json").write_text(json.dumps({"layers": {"first": {"precision": "f32"}}}))
    args = ["compile", MLP, "--precision", "bf16", "--precision-config", "layers.json"]
    proc = run(VNNC, *args, "--emit", "fp", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    # the first linear stores f32 and reads x and fc1's parameters unrounded; the rest bf16
    assert fp_ops(proc.stdout) == [("fp.linear", "f32"), ("fp.relu", "bf16"), ("fp.round", "bf16"),
                                   ("fp.round", "bf16"), ("fp.linear", "bf16"), ("fp.relu", "bf16"),
                                   ("fp.round", "bf16"), ("fp.round", "bf16"), ("fp.linear", "bf16"),
                                   ("fp.round", "f32")]
    assert "fp.linear %x, %fc1_weight, %fc1_bias" in proc.stdout
    proc = run(VNNC, *args, "-o", "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    m = json.loads((tmp_path / "out" / "manifest.json").read_text())
    config = {"layers": {"first": {"precision": "f32"}}}
    assert m["verified"] and m["precision"] == {
        "precision": "bf16", "config": "layers.json", "config_contents": config,
        "config_sha256": hashlib.sha256((tmp_path / "layers.json").read_bytes()).hexdigest()}
    claims = json.loads((tmp_path / "out" / "witnesses" / "01-assign-precision.json").read_text())["claims"]
    assert [c["format"] for c in claims["ops"]] == ["f32", "bf16", "bf16", "bf16", "bf16"]


@pytest.mark.parametrize("config, needle", [
    ({"layers": {"first": {"precision": "e99m99"}}}, "layer first"),
    ({"layers": {"fc2": {"precison": "f32"}}}, "unknown settings ['precison']"),
    ([1, 2], "expected"),
])
def test_a_bad_precision_config_is_one_error(tmp_path, config, needle):
    (tmp_path / "layers.json").write_text(json.dumps(config))
    proc = run(VNNC, "compile", MLP, "--precision", "bf16", "--precision-config", "layers.json",
               "-o", "out", cwd=tmp_path)
    expect_error(proc, needle)
    proc = run(VNNC, "compile", MLP, "--precision-config", "missing.json", "-o", "out", cwd=tmp_path)
    expect_error(proc, "missing.json")
