"""`vnnc check DIR`, run as a user runs it: re-validates a bundle with vnnc.verifier alone.

On a good bundle it exits 0 and names every step as accepted; on a tampered bundle it
exits 1 with one `vnnc: error:` line giving the reason, never a traceback; and it works
where xDSL cannot be imported at all.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import vnnc

ROOT = Path(__file__).resolve().parents[2]
VNNC = [sys.executable, "-m", "vnnc"]
STEPS = ["bundle", "00-import", "01-lower-to-loops", "library"]

# Runs `vnnc check` in a process where xDSL cannot be imported: None in sys.modules stops
# `import xdsl` and every `import xdsl.x`, and a meta-path finder refuses any xdsl module
# that some code might reach another way. It first proves the block, and at the end that
# no xdsl module was loaded.
WITHOUT_XDSL = """\
import importlib.abc, sys

class NoXdsl(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "xdsl" or name.startswith("xdsl."):
            raise ImportError(f"blocked: {name}")
        return None

sys.meta_path.insert(0, NoXdsl())
sys.modules["xdsl"] = None
for name in ("xdsl", "xdsl.parser", "xdsl.dialects.builtin"):
    try:
        __import__(name)
    except ImportError:
        pass
    else:
        sys.exit(f"the block let {name} through")
from vnnc.cli import main
code = main(["check", sys.argv[1]])
loaded = sorted(m for m, mod in sys.modules.items() if m.split(".")[0] == "xdsl" and mod is not None)
if loaded:
    sys.exit(f"xdsl modules were loaded: {loaded}")
sys.exit(code)
"""


def run(*args: str | Path, cmd: list[str] = VNNC) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "VNNC_DEBUG"}
    return subprocess.run([*cmd, *map(str, args)], capture_output=True, text=True, env=env,
                          timeout=120, check=False)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("check") / "mlp"
    return vnnc.compile(ROOT / "examples" / "mlp.mlir", out=out, force=True).path


def tampered(bundle: Path, tmp_path: Path, change) -> Path:
    d = tmp_path / "twin"
    shutil.copytree(bundle, d)
    change(d)
    return d


def expect_rejection(proc: subprocess.CompletedProcess, *needles: str) -> str:
    """Exit 1, exactly one `vnnc: error:` line holding every needle, no traceback."""
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("vnnc: error:")]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def test_good_bundle_is_verified(bundle):
    proc = run("check", bundle)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    lines = proc.stdout.splitlines()
    for step in STEPS:
        row = next((line for line in lines if line.split()[:1] == [step]), None)
        assert row is not None and row.split()[1] == "accepted", (step, proc.stdout)
    assert lines[-1] == f"{bundle}: verified ({len(STEPS)} steps accepted)"


def test_no_sample_skips_only_the_library_run(bundle):
    proc = run("check", bundle, "--no-sample")
    assert proc.returncode == 0, proc.stderr
    *rows, last = proc.stdout.splitlines()
    assert [row.split()[:2] for row in rows] == [[step, "accepted"] for step in STEPS[:3]]
    assert last.endswith("verified (3 steps accepted)")


def test_tampered_stage_is_rejected_with_a_reason(bundle, tmp_path):
    def change(d: Path) -> None:
        stage = d / "stages" / "01-lower-to-loops.mlir"
        stage.write_text(stage.read_text().replace('"arith.addf"', '"arith.subf"', 1))
    proc = run("check", tampered(bundle, tmp_path, change))
    line = expect_rejection(proc, "NOT verified", "01-lower-to-loops")
    assert "sha256" in line
    rows = {line.split()[0]: line for line in proc.stdout.splitlines() if line.strip()}
    assert "rejected" in rows["bundle"]


def test_tampered_kernel_with_fixed_hashes_is_rejected(bundle, tmp_path):
    """The stage, the witness's target hash and the manifest's hash all changed together:
    only the loop-nest check can tell."""
    def change(d: Path) -> None:
        stage = d / "stages" / "01-lower-to-loops.mlir"
        text = stage.read_text().replace('"arith.maximumf"', '"arith.addf"', 1)
        stage.write_text(text)
        import hashlib

        digest = hashlib.sha256(text.encode()).hexdigest()
        wpath = d / "witnesses" / "01-lower-to-loops.json"
        w = json.loads(wpath.read_text())
        w["target_sha256"] = digest
        wpath.write_text(json.dumps(w))
        m = json.loads((d / "manifest.json").read_text())
        m["stages"][1]["sha256"] = digest
        (d / "manifest.json").write_text(json.dumps(m))
    proc = run("check", tampered(bundle, tmp_path, change))
    expect_rejection(proc, "01-lower-to-loops", "relu")


@pytest.mark.parametrize("garbage", ["", "{", "[]", '{"stages": 5}', "\x00" * 10])
def test_malformed_manifest_is_rejected_without_a_traceback(bundle, tmp_path, garbage):
    proc = run("check", tampered(bundle, tmp_path, lambda d: (d / "manifest.json").write_text(garbage)))
    expect_rejection(proc, "NOT verified", "manifest")


def test_not_a_directory(tmp_path):
    expect_rejection(run("check", tmp_path / "nowhere"), "not a directory")


def test_check_works_without_xdsl(bundle):
    proc = run("-c", WITHOUT_XDSL, bundle, cmd=[sys.executable])
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert f"{bundle}: verified" in proc.stdout


def test_check_without_xdsl_still_rejects(bundle, tmp_path):
    d = tampered(bundle, tmp_path, lambda d: (d / "params.safetensors").write_bytes(b"\x00" * 16))
    proc = run("-c", WITHOUT_XDSL, d, cmd=[sys.executable])
    expect_rejection(proc, "params")
