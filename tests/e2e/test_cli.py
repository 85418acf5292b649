"""The command lines `vnnc` and `vnnc-opt`, run as a user runs them (subprocesses).

Bad input must give exactly one `vnnc: error:` line naming the file and the reason,
exit 1, no traceback, and must leave every file the user gave untouched.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from vnnc import safetensors

VNNC = [sys.executable, "-m", "vnnc"]
VNNC_OPT = [sys.executable, "-m", "vnnc.opt"]
U32 = np.finfo(np.float32).eps / 2  # unit roundoff of float32

RNG = np.random.default_rng(7)
W1 = RNG.standard_normal((8, 4)).astype(np.float32)
B1 = RNG.standard_normal(8).astype(np.float32)
W2 = RNG.standard_normal((3, 8)).astype(np.float32)

MLP_TEMPLATE = """\
builtin.module attributes {{vnnc.params = "mlp.safetensors"}} {{
  func.func @main(%x: tensor<2x4xf32> {{vnnc.name = "x"}}) -> (tensor<2x3xf32> {{vnnc.name = "y"}}) {{
    %w1 = spec.param "w1" {{sha256 = "{w1}"}} : tensor<8x4xf32>
    %b1 = spec.param "b1" {{sha256 = "{b1}"}} : tensor<8xf32>
    %w2 = spec.param "w2" {{sha256 = "{w2}"}} : tensor<3x8xf32>
    %h = spec.linear %x, %w1, %b1 : (tensor<2x4xf32>, tensor<8x4xf32>, tensor<8xf32>) -> tensor<2x8xf32>
    %r = spec.relu %h : (tensor<2x8xf32>) -> tensor<2x8xf32>
    %y = spec.linear %r, %w2 : (tensor<2x8xf32>, tensor<3x8xf32>) -> tensor<2x3xf32>
    func.return %y : tensor<2x3xf32>
  }}
}}
"""

TWO_IO = """\
func.func @main(%a: tensor<2x3xf32> {vnnc.name = "a"}, %b: tensor<2x3xf32> {vnnc.name = "b"})
    -> (tensor<2x3xf32> {vnnc.name = "sum"}, tensor<2x3xf32> {vnnc.name = "act"}) {
  %s = spec.add %a, %b : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %r = spec.relu %a : (tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return %s, %r : tensor<2x3xf32>, tensor<2x3xf32>
}
"""

SHAPE_MISMATCH = """\
func.func @main(%x: tensor<2x4xf32>, %w: tensor<8x5xf32>) -> tensor<2x8xf32> {
  %y = spec.linear %x, %w : (tensor<2x4xf32>, tensor<8x5xf32>) -> tensor<2x8xf32>
  func.return %y : tensor<2x8xf32>
}
"""

UNKNOWN_OP = """\
func.func @main(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %y = spec.frobnicate %x : (tensor<2x4xf32>) -> tensor<2x4xf32>
  func.return %y : tensor<2x4xf32>
}
"""

SYNTAX_ERROR = """\
func.func @main(%x: tensor<2x4xf32> -> tensor<2x4xf32> {
  func.return %x : tensor<2x4xf32>
}
"""


def run(cmd: list[str], *args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "VNNC_DEBUG"}
    return subprocess.run([*cmd, *map(str, args)], check=False, capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=120)


def expect_error(proc: subprocess.CompletedProcess, *needles: str, prog: str = "vnnc") -> str:
    """Exactly one `PROG: error:` line, holding every needle; exit 1; no traceback."""
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith(f"{prog}: error:")]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under root, with its bytes and modification time."""
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def mlp_reference(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float64 result and a componentwise error bound c*n*u*(|A||B|) for the float32 code."""
    x64 = x.astype(np.float64)
    w1, b1, w2 = (a.astype(np.float64) for a in (W1, B1, W2))
    h = x64 @ w1.T + b1
    y = np.maximum(h, 0) @ w2.T
    magnitude = ((np.abs(x64) @ np.abs(w1).T + np.abs(b1)) @ np.abs(w2).T)
    n = W1.shape[1] + W2.shape[1] + 2
    return y, 2 * n * U32 * magnitude


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """A directory with the MLP model, its parameters and an input; compiled once."""
    d = tmp_path_factory.mktemp("cli")
    params = {"w1": W1, "b1": B1, "w2": W2}
    safetensors.write(d / "mlp.safetensors", params)
    hashes = {k: safetensors.param_sha256(v) for k, v in params.items()}
    (d / "mlp.mlir").write_text(MLP_TEMPLATE.format(**hashes))
    (d / "two.mlir").write_text(TWO_IO)
    np.save(d / "x.npy", RNG.standard_normal((2, 4)).astype(np.float32))
    proc = run(VNNC, "compile", "mlp.mlir", "-o", "bundle", cwd=d)
    assert proc.returncode == 0, proc.stderr
    return d


# ---------------------------------------------------------------- compile and run


def test_compile_prints_a_summary_and_writes_the_bundle(work):
    proc = run(VNNC, "compile", "mlp.mlir", "-o", "fresh", cwd=work)
    assert proc.returncode == 0, proc.stderr
    assert "bundle: fresh" in proc.stdout
    assert "inputs: x [2, 4] float32" in proc.stdout
    assert "outputs: y [2, 3] float32" in proc.stdout
    assert "compiled in" in proc.stdout
    for name in ("manifest.json", "libmodel.so", "model.c", "model.h", "params.safetensors",
                 "stages/00-import.mlir", "stages/01-lower-to-loops.mlir",
                 "witnesses/01-lower-to-loops.json"):
        assert (work / "fresh" / name).is_file(), name


def test_compile_defaults_to_build_model_name(tmp_path, work):
    for name in ("mlp.mlir", "mlp.safetensors"):
        (tmp_path / name).write_bytes((work / name).read_bytes())
    proc = run(VNNC, "compile", "mlp.mlir", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "build" / "mlp" / "manifest.json").is_file()


def test_run_matches_numpy(work):
    x = np.load(work / "x.npy")
    proc = run(VNNC, "run", "bundle", "--input", "x.npy", "--output", "y.npy", cwd=work)
    assert proc.returncode == 0, proc.stderr
    y = np.load(work / "y.npy")
    assert y.dtype == np.float32 and y.shape == (2, 3)
    ref, bound = mlp_reference(x)
    assert np.all(np.abs(y - ref) <= bound), (y, ref, bound)

    printed = run(VNNC, "run", "bundle", "--input", "x=x.npy", cwd=work)
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.strip() == str(y)


def test_run_casts_float64_inputs(work, tmp_path):
    x = np.load(work / "x.npy")
    np.save(tmp_path / "x64.npy", x.astype(np.float64))
    proc = run(VNNC, "run", work / "bundle", "--input", tmp_path / "x64.npy",
               "-o", tmp_path / "y.npy")
    assert proc.returncode == 0, proc.stderr
    ref, bound = mlp_reference(x)
    assert np.all(np.abs(np.load(tmp_path / "y.npy") - ref) <= bound)


def test_several_inputs_by_name_and_outputs_to_npz(work, tmp_path):
    assert run(VNNC, "compile", work / "two.mlir", "-o", tmp_path / "two").returncode == 0
    a = np.arange(6, dtype=np.float32).reshape(2, 3) - 2
    b = np.full((2, 3), 0.5, np.float32)
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    proc = run(VNNC, "run", "two", "--input", "b=b.npy", "--input", "a.npy", "-o", "out.npz",
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    with np.load(tmp_path / "out.npz") as out:
        np.testing.assert_array_equal(out["sum"], a + b)
        np.testing.assert_array_equal(out["act"], np.maximum(a, 0))

    printed = run(VNNC, "run", "two", "--input", "a.npy", "--input", "b.npy", cwd=tmp_path)
    assert printed.returncode == 0 and "sum:" in printed.stdout and "act:" in printed.stdout

    before = snapshot(tmp_path)
    expect_error(run(VNNC, "run", "two", "-i", "a.npy", "-i", "b.npy", "-o", "out.npy",
                     cwd=tmp_path), "out.npy", "2 outputs", ".npz")
    expect_error(run(VNNC, "run", "two", "-i", "a.npy", cwd=tmp_path),
                 "two", "missing --input", "b")
    expect_error(run(VNNC, "run", "two", "-i", "c=a.npy", "-i", "b.npy", cwd=tmp_path),
                 "no input 'c'")
    assert snapshot(tmp_path) == before


# ---------------------------------------------------------------- --emit


@pytest.mark.parametrize("level, present, absent", [
    ("spec", ["spec.linear", "spec.relu", "func.func @main"], ["scf.for"]),
    ("loops", ["scf.for", "memref.load", "func.call"], ["spec.linear %", "tensor<"]),
    ("c", ["vnnc_model_run", "for (ptrdiff_t", "0x0.0p+0f"], ["spec.linear %", "scf.for"]),
])
def test_emit_prints_a_stage_and_builds_nothing(work, tmp_path, level, present, absent):
    for name in ("mlp.mlir", "mlp.safetensors"):
        (tmp_path / name).write_bytes((work / name).read_bytes())
    proc = run(VNNC, "compile", "mlp.mlir", "--emit", level, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for text in present:
        assert text in proc.stdout, text
    for text in absent:
        assert text not in proc.stdout, text
    assert not (tmp_path / "build").exists()


def test_emit_rejects_an_output_dir(work):
    proc = run(VNNC, "compile", "mlp.mlir", "--emit", "c", "-o", "x", cwd=work)
    assert proc.returncode == 2 and "--emit" in proc.stderr


def test_print_ir_after_all(work, tmp_path):
    proc = run(VNNC, "compile", work / "mlp.mlir", "-o", tmp_path / "b", "--print-ir-after-all")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.index("IR after import") < proc.stdout.index("IR after lower-to-loops")
    assert "spec.linear" in proc.stdout and "scf.for" in proc.stdout


# ---------------------------------------------------------------- inspect


def test_inspect_lists_stages_and_artifacts(work):
    proc = run(VNNC, "inspect", "bundle", cwd=work)
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((work / "bundle" / "manifest.json").read_text())
    for stage in manifest["stages"]:
        assert stage["name"] in proc.stdout and stage["sha256"][:12] in proc.stdout
    for file in ("libmodel.so", "model.h", "model.c", "params.safetensors"):
        assert file in proc.stdout
    assert "verified: yes" in proc.stdout


@pytest.mark.parametrize("names, marker", [
    (["spec", "00", "0", "00-import", "import"], "spec.linear"),
    (["loops", "01", "01-lower-to-loops", "lower-to-loops"], "scf.for"),
])
def test_inspect_stage_aliases(work, names, marker):
    outs = [run(VNNC, "inspect", "bundle", "--stage", n, cwd=work) for n in names]
    assert all(p.returncode == 0 for p in outs), [p.stderr for p in outs]
    assert len({p.stdout for p in outs}) == 1
    text = outs[0].stdout
    assert marker in text
    assert '"func.func"' not in text  # the custom form, for people


def test_inspect_unknown_stage(work):
    expect_error(run(VNNC, "inspect", "bundle", "--stage", "nope", cwd=work), "bundle", "nope",
                 "00-import")


# ---------------------------------------------------------------- --force


def test_existing_bundle_needs_force(work, tmp_path):
    bundle = tmp_path / "b"
    assert run(VNNC, "compile", work / "mlp.mlir", "-o", bundle).returncode == 0
    (bundle / "marker").write_text("left by the user")
    before = snapshot(tmp_path)
    expect_error(run(VNNC, "compile", work / "mlp.mlir", "-o", bundle), str(bundle), "--force")
    assert snapshot(tmp_path) == before

    proc = run(VNNC, "compile", work / "mlp.mlir", "-o", bundle, "--force")
    assert proc.returncode == 0, proc.stderr
    assert not (bundle / "marker").exists()
    assert (bundle / "manifest.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]  # no temporary left behind


def test_force_never_replaces_other_data(work, tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(b"\xff\xd8meow")
    (tmp_path / "notes.txt").write_text("keep me")
    before = snapshot(tmp_path)
    for target in ("photos", "notes.txt"):
        expect_error(run(VNNC, "compile", work / "mlp.mlir", "-o", tmp_path / target, "--force"),
                     target, "not a vnnc bundle")
    assert snapshot(tmp_path) == before


def test_run_output_never_replaces_a_bundle_file(work):
    bundle = work / "bundle"
    before = snapshot(bundle)
    expect_error(run(VNNC, "run", bundle, "-i", work / "x.npy", "-o", bundle / "manifest.json"),
                 "manifest.json", "bundle")
    assert snapshot(bundle) == before


# ---------------------------------------------------------------- bad input


@pytest.fixture
def bad(tmp_path) -> Path:
    (tmp_path / "syntax.mlir").write_text(SYNTAX_ERROR)
    (tmp_path / "shapes.mlir").write_text(SHAPE_MISMATCH)
    (tmp_path / "unknown.mlir").write_text(UNKNOWN_OP)
    noise = np.random.default_rng(3).bytes(512)
    (tmp_path / "binary").mkdir()
    (tmp_path / "binary" / "model.mlir").write_bytes(b"\xff\xfe" + noise)
    (tmp_path / "binary" / "model.onnx").write_bytes(b"\xff\xfe" + noise)
    (tmp_path / "notabundle").mkdir()
    (tmp_path / "notabundle" / "readme.txt").write_text("hello")
    return tmp_path


@pytest.mark.parametrize("model, needles", [
    ("syntax.mlir", ["syntax.mlir:1:", "parse error", "')' expected"]),
    ("shapes.mlir", ["shapes.mlir", "spec.linear", "input features 4", "[8, 5]"]),
    ("unknown.mlir", ["unknown.mlir:2:", "spec.frobnicate"]),
    ("binary/model.mlir", ["model.mlir", "not a text file"]),
    ("binary/model.onnx", ["model.onnx"]),
    ("missing.mlir", ["missing.mlir", "no such file"]),
])
def test_compile_bad_model(bad, model, needles):
    before = snapshot(bad)
    expect_error(run(VNNC, "compile", model, "-o", "out", cwd=bad), *needles)
    assert snapshot(bad) == before
    assert not (bad / "out").exists()


def test_run_bad_inputs(work, bad):
    np.save(bad / "wrong.npy", np.zeros((3, 4), np.float32))
    np.save(bad / "complex.npy", np.zeros((2, 4), np.complex64))
    (bad / "text.npy").write_text("not numpy")
    np.save(bad / "x.npy", np.load(work / "x.npy"))
    b = work / "bundle"
    before, before_bundle = snapshot(bad), snapshot(b)
    expect_error(run(VNNC, "run", b, "--input", "missing.npy", cwd=bad), "missing.npy", "'x'")
    expect_error(run(VNNC, "run", b, "--input", "wrong.npy", cwd=bad),
                 "wrong.npy", "'x'", "expected shape [2, 4], got [3, 4]")
    expect_error(run(VNNC, "run", b, "--input", "complex.npy", cwd=bad), "complex.npy", "complex64")
    expect_error(run(VNNC, "run", b, "--input", "text.npy", cwd=bad), "text.npy", ".npy")
    expect_error(run(VNNC, "run", "notabundle", "--input", "x.npy", cwd=bad),
                 "notabundle", "not a vnnc bundle")
    expect_error(run(VNNC, "run", "nowhere", "--input", "x.npy", cwd=bad), "nowhere")
    expect_error(run(VNNC, "run", b, "--input", "x.npy", "--output", "x.npy", cwd=bad),
                 "x.npy", "refusing to overwrite")
    expect_error(run(VNNC, "run", b, "--input", "x.npy", "--output", "./sub/../x.npy", cwd=bad),
                 "refusing to overwrite")
    assert snapshot(bad) == before and snapshot(b) == before_bundle


def test_usage_errors_exit_2(work):
    assert run(VNNC).returncode == 2
    assert run(VNNC, "compile").returncode == 2
    assert run(VNNC, "compile", "mlp.mlir", "--batch", "0", cwd=work).returncode == 2
    assert run(VNNC, "frobnicate").returncode == 2


def test_cli_module_imports_no_compiler():
    probe = "import sys, vnnc.cli; print(sorted(m for m in sys.modules if m.startswith('xdsl')))"
    proc = run([sys.executable, "-c", probe])
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stdout + proc.stderr


def test_console_scripts_are_installed():
    bin_dir = Path(sys.executable).parent
    if not (bin_dir / "vnnc").exists():
        pytest.skip("vnnc is not installed as a console script next to this interpreter")
    assert run([str(bin_dir / "vnnc"), "--help"]).returncode == 0
    assert run([str(bin_dir / "vnnc-opt"), "--help"]).returncode == 0


# ---------------------------------------------------------------- last-resort handling


def test_internal_error_is_one_line_without_traceback(monkeypatch, capsys, work):
    from vnnc import cli, driver

    def broken(*args, **kwargs):
        raise RuntimeError("something deep broke\nsecond line")

    monkeypatch.setattr(driver, "emit", broken)
    monkeypatch.delenv("VNNC_DEBUG", raising=False)
    assert cli.main(["compile", str(work / "mlp.mlir"), "--emit", "spec"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == "vnnc: internal error: RuntimeError: something deep broke (please report)"

    monkeypatch.setenv("VNNC_DEBUG", "1")
    assert cli.main(["compile", str(work / "mlp.mlir"), "--emit", "spec"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_interrupt_exits_130(monkeypatch, capsys, work):
    from vnnc import cli, driver

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(driver, "emit", interrupted)
    assert cli.main(["compile", str(work / "mlp.mlir"), "--emit", "spec"]) == 130


# ---------------------------------------------------------------- vnnc-opt


def test_opt_refuses_to_overwrite_its_input(work, tmp_path):
    model = tmp_path / "m.mlir"
    model.write_text((work / "mlp.mlir").read_text())
    before = snapshot(tmp_path)
    expect_error(run(VNNC_OPT, model, "-o", model), "m.mlir", "input", prog="vnnc-opt")
    expect_error(run(VNNC_OPT, "m.mlir", "-o", "./m.mlir", cwd=tmp_path), "m.mlir", prog="vnnc-opt")
    assert snapshot(tmp_path) == before


def test_opt_keeps_the_output_file_on_error(tmp_path):
    (tmp_path / "bad.mlir").write_text(SHAPE_MISMATCH)
    (tmp_path / "out.mlir").write_text("previous result")
    proc = run(VNNC_OPT, "bad.mlir", "-o", "out.mlir", cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "spec.linear: input features 4 do not match weight [8, 5]" in proc.stderr
    assert (tmp_path / "out.mlir").read_text() == "previous result"


@pytest.mark.parametrize("text, needles", [
    (SYNTAX_ERROR, ["m.mlir:1:", "')' expected"]),
    (UNKNOWN_OP, ["m.mlir:2:", "spec.frobnicate"]),
])
def test_opt_parse_errors(tmp_path, text, needles):
    (tmp_path / "m.mlir").write_text(text)
    proc = run(VNNC_OPT, "m.mlir", cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in proc.stderr


def test_opt_other_errors_are_one_line(tmp_path, work):
    expect_error(run(VNNC_OPT, tmp_path / "missing.mlir"), "missing.mlir", prog="vnnc-opt")
    expect_error(run(VNNC_OPT, work / "mlp.mlir", "-p", "no-such-pass"), "no-such-pass",
                 prog="vnnc-opt")
    expect_error(run(VNNC_OPT, work / "mlp.mlir", "-t", "c"), "-t c", prog="vnnc-opt")
    (tmp_path / "noise.mlir").write_bytes(b"\xff\xfe\x00garbage")
    expect_error(run(VNNC_OPT, tmp_path / "noise.mlir"), prog="vnnc-opt")


def test_opt_witness_dir_matches_the_bundle(work, tmp_path):
    wdir = tmp_path / "w" / "nested"
    proc = run(VNNC_OPT, work / "mlp.mlir", "-p", "lower-to-loops", "--print-ir-after-all",
               "--witness-dir", wdir, "-o", tmp_path / "out.mlir")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("// -----// IR after lower-to-loops //----- //\n")
    assert "scf.for" in proc.stdout
    assert "scf.for" in (tmp_path / "out.mlir").read_text()
    assert [p.name for p in wdir.iterdir()] == ["01-lower-to-loops.json"]
    mine = json.loads((wdir / "01-lower-to-loops.json").read_text())
    bundled = json.loads((work / "bundle" / "witnesses" / "01-lower-to-loops.json").read_text())
    assert mine == bundled  # same claims, bound to the same stage texts
    stage0 = (work / "bundle" / "stages" / "00-import.mlir").read_bytes()
    assert mine["source_sha256"] == hashlib.sha256(stage0).hexdigest()


def test_opt_split_input_file_numbers_witnesses_per_chunk(tmp_path):
    relu = "func.func @main(%x: tensor<2xf32>) -> tensor<2xf32> {\n" \
           "  %y = spec.relu %x : (tensor<2xf32>) -> tensor<2xf32>\n" \
           "  func.return %y : tensor<2xf32>\n}\n"
    (tmp_path / "two.mlir").write_text(relu + "// -----\n" + relu)
    proc = run(VNNC_OPT, "two.mlir", "--split-input-file", "-p", "lower-to-loops",
               "--print-ir-after-all", "--witness-dir", "w", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("// -----// IR after lower-to-loops //----- //") == 2
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == [
        "01-lower-to-loops.json", "c1-01-lower-to-loops.json"]


def test_inspect_of_a_stage_without_function_type_is_an_error_not_a_crash(tmp_path, work):
    # regression: xDSL's verifier raised KeyError('function_type'), shown as an internal error
    bundle = tmp_path / "b"
    assert run(VNNC, "compile", work / "mlp.mlir", "-o", bundle).returncode == 0
    stage = '"builtin.module"() ({\n  "func.func"() <{sym_name = "main"}> ({\n  }) : () -> ()\n}) : () -> ()\n'
    (bundle / "stages" / "00-import.mlir").write_text(stage)
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["stages"][0]["sha256"] = hashlib.sha256(stage.encode()).hexdigest()
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    proc = run(VNNC, "inspect", bundle, "--stage", "00")
    expect_error(proc, "function_type")
