"""The built C keeps IEEE float32 semantics: no FMA contraction, no flush-to-zero.

Each case is chosen so that the forbidden behaviour gives a different answer:
- contraction: acc + x*w with acc = -(1 + 2^-11) and x*w = 1 + 2^-11 + 2^-24 exactly;
  rounded separately the product ties to even (1 + 2^-11) and the sum is 0, fused it is
  2^-24;
- flush-to-zero: 2^-126 * 0.5 is the subnormal 2^-127, which FTZ turns into 0; and
  loading the library must not switch the Python process to FTZ either.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import vnnc
from vnnc import safetensors
from vnnc.backends.build import flags


def _linear_model(tmp: Path, w: np.ndarray) -> Path:
    safetensors.write(tmp / "p.safetensors", {"w": w})
    h = safetensors.param_sha256(w)
    n_out, n_in = w.shape
    text = f"""module attributes {{vnnc.params = "p.safetensors"}} {{
  func.func @main(%x: tensor<1x{n_in}xf32>) -> tensor<1x{n_out}xf32> {{
    %w = spec.param "w" {{sha256 = "{h}"}} : tensor<{n_out}x{n_in}xf32>
    %y = spec.linear %x, %w : (tensor<1x{n_in}xf32>, tensor<{n_out}x{n_in}xf32>) -> tensor<1x{n_out}xf32>
    func.return %y : tensor<1x{n_out}xf32>
  }}
}}
"""
    path = tmp / "m.mlir"
    path.write_text(text)
    return path


def test_flags_forbid_contraction_and_fast_math():
    f = flags()
    assert "-ffp-contract=off" in f and "-std=c11" in f
    assert not any("fast-math" in x and not x.startswith("-fno-") for x in f)
    assert "-Ofast" not in f


def test_no_fma_contraction(tmp_path):
    e = 2.0**-12
    w = np.array([[-(1 + 2 * e), 1 + e]], np.float32)
    bundle = vnnc.compile(_linear_model(tmp_path, w), out=tmp_path / "b", force=True)
    x = np.array([[1.0, 1 + e]], np.float32)
    # exact: -(1 + 2^-11) + (1 + 2^-11 + 2^-24) = 2^-24; unfused float32: 0
    assert bundle.run(x)[0, 0] == 0.0


def test_no_flush_to_zero(tmp_path):
    w = np.array([[0.5]], np.float32)
    bundle = vnnc.compile(_linear_model(tmp_path, w), out=tmp_path / "b", force=True)
    x = np.array([[2.0**-126]], np.float32)
    assert bundle.run(x)[0, 0] == np.float32(2.0**-127)
    # the library is loaded in this process: numpy's float32 arithmetic still has subnormals
    assert np.float32(2.0**-126) * np.float32(0.5) == np.float32(2.0**-127)


def test_loading_a_library_leaves_the_process_without_ftz(tmp_path):
    w = np.array([[1.0]], np.float32)
    bundle = vnnc.compile(_linear_model(tmp_path, w), out=tmp_path / "b", force=True)
    code = (
        f"import ctypes, numpy as np; ctypes.CDLL({str(bundle.path / 'libmodel.so')!r}); "
        "print(np.float32(2.0**-126) * np.float32(0.5) == np.float32(2.0**-127))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
