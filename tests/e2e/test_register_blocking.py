"""Blocks of outputs of a lanes16 linear, bit for bit.

lower-to-loops computes a block of rows times columns of a lanes16 linear's output per
loop iteration, each output's 16 lanes in one vector (passes/kernels/contraction.py,
docs/WITNESS.md §5.1). Every output keeps its own summation order, so the results must
equal, bit for bit, the lanes16 order emulated here in numpy float32 (each + and * one
IEEE operation, over all outputs at once): lane t sums k = t, t+16, ... over the full
blocks, the lanes are added as a balanced tree, then the remaining terms in order, then
the bias. The shapes cover every block the pass chooses (8, 4, 2 or 1 rows; 2 or 1
columns), a tail and none, leading batch axes, a vector x and no bias.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import vnnc
from vnnc import safetensors

F = np.float32


def lanes16(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """x [..., n] times w [m, n] -> [..., m] in the lanes16 order."""
    n = x.shape[-1]
    blocks = n // 16
    xs, ws = x[..., None, :], w  # [..., 1, n] against [m, n]
    lanes = np.zeros(x.shape[:-1] + (w.shape[0], 16), F)
    for b in range(blocks):
        lanes = lanes + xs[..., 16 * b:16 * b + 16] * ws[:, 16 * b:16 * b + 16]

    def tree(lo: int, hi: int) -> np.ndarray:
        return lanes[..., lo] if hi - lo == 1 else tree(lo, (lo + hi) // 2) + tree((lo + hi) // 2, hi)

    total = tree(0, 16)
    for k in range(16 * blocks, n):
        total = total + xs[..., k] * ws[:, k]
    return total


MODEL = """\
builtin.module attributes {{vnnc.params = "p.safetensors"}} {{
  func.func @main(%x: tensor<{xs}xf32> {{vnnc.name = "x"}}) -> (tensor<{ys}xf32> {{vnnc.name = "y"}}) {{
    %w = spec.param "w" {{sha256 = "{hw}"}} : tensor<{m}x{n}xf32>
{bias_param}    %y = spec.linear %x, %w{bias_arg} : (tensor<{xs}xf32>, tensor<{m}x{n}xf32>{bias_type}) -> tensor<{ys}xf32>
    func.return %y : tensor<{ys}xf32>
  }}
}}
"""

# (x shape, outputs m, the block lower-to-loops must choose, bias)
CASES = [
    ((16, 40), 4, [8, 2], True),  # 8 x 2, a tail of 8
    ((8, 64), 6, [8, 2], True),  # no tail
    ((12, 35), 3, [4, 1], True),  # an odd number of columns: one
    ((6, 33), 10, [2, 2], False),  # no bias
    ((3, 48), 5, None, True),  # neither rows nor columns pair up: [1, 1], recorded as no block
    ((50,), 8, [1, 2], True),  # a vector x: no rows
    ((2, 4, 37), 2, [4, 2], True),  # a leading batch axis
]


@pytest.mark.parametrize("xs, m, block, bias", CASES)
def test_blocked_linear_is_lanes16_bit_for_bit(tmp_path, xs, m, block, bias):
    n = xs[-1]
    rng = np.random.default_rng(n * 100 + m)
    # mixed signs and magnitudes, so that another order or a swapped output shows
    x = (rng.standard_normal(xs) * np.exp2(rng.integers(-8, 8, xs))).astype(F)
    w = (rng.standard_normal((m, n)) * np.exp2(rng.integers(-8, 8, (m, n)))).astype(F)
    b = rng.standard_normal(m).astype(F)
    params = {"w": w, **({"b": b} if bias else {})}
    safetensors.write(tmp_path / "p.safetensors", params)
    ys = "x".join(map(str, (*xs[:-1], m)))
    text = MODEL.format(
        xs="x".join(map(str, xs)), ys=ys, m=m, n=n, hw=safetensors.param_sha256(w),
        bias_param=f'    %b = spec.param "b" {{sha256 = "{safetensors.param_sha256(b)}"}} : tensor<{m}xf32>\n'
        if bias else "",
        bias_arg=", %b" if bias else "", bias_type=f", tensor<{m}xf32>" if bias else "")
    (tmp_path / "model.mlir").write_text(text)
    bundle = vnnc.compile(tmp_path / "model.mlir", out=tmp_path / "bundle", force=True)
    assert bundle.manifest["verified"] is True
    cert = json.loads((bundle.path / "witnesses" / "01-lower-to-loops.json").read_text())["claims"]["kernels"][0]
    assert cert.get("block") == block and cert["order"] == "lanes16"
    # each reduction is written once: the lane loop, and the tail when n % 16 != 0
    assert [r[0] for r in cert["reductions"]] == ["for"] * (2 if n % 16 else 1)
    y = bundle.run(x)
    want = lanes16(x, w) + b if bias else lanes16(x, w)
    assert y.dtype == F and y.shape == want.shape
    assert np.array_equal(y.view(np.uint32), want.view(np.uint32))
    # the emulation can tell orders apart: the sequential sum differs somewhere
    seq = np.zeros(want.shape, F)
    for k in range(n):
        seq = seq + x[..., None, k] * w[:, k]
    assert not np.array_equal(seq, lanes16(x, w))
