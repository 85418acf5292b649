"""Matmuls of 2-D operands vectorised over columns, bit for bit.

lower-to-loops computes a matmul y = a @ b of 2-D f32 operands with at least 16 columns a
block of rows times 16 or 32 columns per loop iteration: a vector's 16 lanes are 16
consecutive columns, a[i, k] is broadcast and b[k, j0:j0+16] is one load, and every output
is summed from 0 in increasing k; the columns past the last full block follow one at a time
(passes/kernels/contraction.py, `matmul_columns`; docs/WITNESS.md §5.1). So the results
must equal, bit for bit, the sequential sum emulated here in numpy float32 (each + and *
one IEEE operation). The shapes cover every block the pass chooses (8, 4, 2, 1 rows; 32 or
16 columns), a column tail and none, and a matmul too narrow to block.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import vnnc
from vnnc import safetensors

F = np.float32

MODEL = """\
builtin.module attributes {{vnnc.params = "p.safetensors"}} {{
  func.func @main(%x: tensor<{m}x{n}xf32> {{vnnc.name = "x"}}) -> (tensor<{m}x{c}xf32> {{vnnc.name = "y"}}) {{
    %w = spec.param "w" {{sha256 = "{hw}"}} : tensor<{n}x{c}xf32>
    %y = spec.matmul %x, %w : (tensor<{m}x{n}xf32>, tensor<{n}x{c}xf32>) -> tensor<{m}x{c}xf32>
    func.return %y : tensor<{m}x{c}xf32>
  }}
}}
"""


def sequential(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    y = np.zeros((x.shape[0], w.shape[1]), F)
    for k in range(x.shape[1]):
        y = y + x[:, k:k + 1] * w[k]
    return y


# (rows m, reduction n, columns c, the block lower-to-loops must choose)
CASES = [
    (16, 40, 64, [8, 32]),  # 8 rows x 32 columns, no column tail
    (12, 50, 50, [4, 16]),  # ACAS Xu's layer: three vectors, then two single columns
    (1, 50, 50, [1, 16]),  # one row
    (6, 33, 20, [2, 16]),  # four single columns
    (3, 7, 16, [1, 16]),  # a short reduction
    (5, 40, 10, None),  # fewer than 16 columns: unblocked, in lanes
]


@pytest.mark.parametrize("m, n, c, block", CASES)
def test_matmul_columns_are_sequential_bit_for_bit(tmp_path, m, n, c, block):
    rng = np.random.default_rng(m * 1000 + n * 10 + c)
    x = (rng.standard_normal((m, n)) * np.exp2(rng.integers(-8, 8, (m, n)))).astype(F)
    w = (rng.standard_normal((n, c)) * np.exp2(rng.integers(-8, 8, (n, c)))).astype(F)
    safetensors.write(tmp_path / "p.safetensors", {"w": w})
    (tmp_path / "model.mlir").write_text(MODEL.format(m=m, n=n, c=c, hw=safetensors.param_sha256(w)))
    bundle = vnnc.compile(tmp_path / "model.mlir", out=tmp_path / "bundle", force=True)
    assert bundle.manifest["verified"] is True
    cert = json.loads((bundle.path / "witnesses" / "01-lower-to-loops.json").read_text())["claims"]["kernels"][0]
    assert cert.get("block") == block
    y = bundle.run(x)
    if block is None:
        assert cert["order"] == "lanes16"
        assert np.allclose(y, x.astype(np.float64) @ w.astype(np.float64), rtol=1e-5, atol=1e-30)
        return
    assert "order" not in cert  # sequential
    want = sequential(x, w)
    assert y.dtype == F and y.shape == want.shape
    assert np.array_equal(y.view(np.uint32), want.view(np.uint32))


def test_emulation_tells_orders_apart():
    """The sequential emulation differs from the same sum in decreasing k on these inputs, so
    the test above would see another order."""
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((12, 50)) * np.exp2(rng.integers(-8, 8, (12, 50)))).astype(F)
    w = (rng.standard_normal((50, 50)) * np.exp2(rng.integers(-8, 8, (50, 50)))).astype(F)
    assert not np.array_equal(sequential(x, w), sequential(x[:, ::-1], w[::-1]))
