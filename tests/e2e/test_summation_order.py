"""The lanes16 summation order of linear and matmul, bit for bit.

Compiled contractions of length >= 32 sum in 16 lanes (passes/kernels/contraction.py,
docs/WITNESS.md §5.1). The expected float32 results are emulated here with numpy float32
scalars, each + and * one IEEE operation: lane t sums k = t, t+16, ... over the full
blocks, the lanes are added as a balanced tree, then the remaining terms in order, then
the bias. A short contraction keeps the sequential order.
"""

from __future__ import annotations

import numpy as np
import pytest
import vnnc
from vnnc import safetensors

F = np.float32


def lanes16(x: np.ndarray, w: np.ndarray) -> F:
    n = len(x)
    blocks = n // 16
    lanes = [F(0.0)] * 16
    for b in range(blocks):
        for t in range(16):
            lanes[t] = F(lanes[t] + F(x[16 * b + t] * w[16 * b + t]))

    def tree(v):
        return v[0] if len(v) == 1 else F(tree(v[: len(v) // 2]) + tree(v[len(v) // 2:]))

    total = tree(lanes)
    for k in range(16 * blocks, n):
        total = F(total + F(x[k] * w[k]))
    return total


def sequential(x: np.ndarray, w: np.ndarray) -> F:
    total = F(0.0)
    for k in range(len(x)):
        total = F(total + F(x[k] * w[k]))
    return total


MODEL = """\
builtin.module attributes {{vnnc.params = "p.safetensors"}} {{
  func.func @main(%x: tensor<3x{n}xf32> {{vnnc.name = "x"}}) -> (tensor<3x5xf32> {{vnnc.name = "y"}}, tensor<3x5xf32> {{vnnc.name = "z"}}) {{
    %w = spec.param "w" {{sha256 = "{hw}"}} : tensor<5x{n}xf32>
    %b = spec.param "b" {{sha256 = "{hb}"}} : tensor<5xf32>
    %m = spec.param "m" {{sha256 = "{hm}"}} : tensor<{n}x5xf32>
    %y = spec.linear %x, %w, %b : (tensor<3x{n}xf32>, tensor<5x{n}xf32>, tensor<5xf32>) -> tensor<3x5xf32>
    %z = spec.matmul %x, %m : (tensor<3x{n}xf32>, tensor<{n}x5xf32>) -> tensor<3x5xf32>
    func.return %y, %z : tensor<3x5xf32>, tensor<3x5xf32>
  }}
}}
"""


@pytest.mark.parametrize("n", [7, 31, 32, 37, 64, 200])
def test_contraction_matches_its_recorded_order_bit_for_bit(tmp_path, n):
    rng = np.random.default_rng(n)
    # values of mixed sign and magnitude, so that any other order rounds differently
    x = (rng.standard_normal((3, n)) * np.exp2(rng.integers(-8, 8, (3, n)))).astype(F)
    w = (rng.standard_normal((5, n)) * np.exp2(rng.integers(-8, 8, (5, n)))).astype(F)
    b = rng.standard_normal(5).astype(F)
    m = np.ascontiguousarray(w.T)
    safetensors.write(tmp_path / "p.safetensors", {"w": w, "b": b, "m": m})
    h = {k: safetensors.param_sha256(v) for k, v in (("hw", w), ("hb", b), ("hm", m))}
    (tmp_path / "model.mlir").write_text(MODEL.format(n=n, **h))
    bundle = vnnc.compile(tmp_path / "model.mlir", out=tmp_path / "bundle", force=True)
    y, z = bundle.run(x)
    order = lanes16 if n >= 32 else sequential
    want_z = np.array([[order(x[i], w[j]) for j in range(5)] for i in range(3)], F)
    want_y = np.array([[F(want_z[i, j] + b[j]) for j in range(5)] for i in range(3)], F)
    assert np.array_equal(z.view(np.uint32), want_z.view(np.uint32))
    assert np.array_equal(y.view(np.uint32), want_y.view(np.uint32))
    if n >= 32:  # the lanes differ from the sequential sum somewhere: the test can tell them apart
        seq = np.array([[sequential(x[i], w[j]) for j in range(5)] for i in range(3)], F)
        assert not np.array_equal(seq, want_z)
