"""Tampered twins of a blocked conv2d (passes/kernels/window.py): a 4x2x2x2 convolution of a
1x2x4x3 input with padding, 2 output channels by 3 output columns per iteration, six
accumulators in one reduction. Each twin's certificate is read back from the tampered loop IR
(`recertify`) unless it is the certificate that is tampered, so what rejects it is the match
against the checker's own definition of spec.conv2d (verifier/kernels.py)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import vnnc
from test_checker_tamper import (
    _kernel_cert,
    _load,
    _with,
    first,
    function_text,
    in_function,
    loops_reason,
)
from vnnc import safetensors

KERNEL = "conv2d_1x2x4x3_4x2x2x2_4_1x4x4x3"
MODEL = """\
builtin.module attributes {{vnnc.params = "p.safetensors"}} {{
  func.func @main(%x: tensor<1x2x4x3xf32> {{vnnc.name = "x"}}) -> (tensor<1x4x4x3xf32> {{vnnc.name = "y"}}) {{
    %w = spec.param "w" {{sha256 = "{hw}"}} : tensor<4x2x2x2xf32>
    %b = spec.param "b" {{sha256 = "{hb}"}} : tensor<4xf32>
    %y = spec.conv2d %x, %w, %b {{pads = array<i64: 1, 1, 0, 0>}} : (tensor<1x2x4x3xf32>, tensor<4x2x2x2xf32>, tensor<4xf32>) -> tensor<1x4x4x3xf32>
    func.return %y : tensor<1x4x4x3xf32>
  }}
}}
"""
REASON = "not the definition of spec.conv2d"


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    root = tmp_path_factory.mktemp("convblock")
    rng = np.random.default_rng(2)
    w, b = rng.standard_normal((4, 2, 2, 2)).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    safetensors.write(root / "p.safetensors", {"w": w, "b": b})
    (root / "model.mlir").write_text(MODEL.format(hw=safetensors.param_sha256(w), hb=safetensors.param_sha256(b)))
    bundle = vnnc.compile(root / "model.mlir", out=root / "bundle", force=True)
    assert bundle.manifest["verified"] is True
    x = rng.standard_normal((1, 2, 4, 3)).astype(np.float32)
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 0), (1, 0)))
    want = np.array([[[[np.sum(xp[0, :, i:i + 2, j:j + 2] * w[o]) + b[o] for j in range(3)] for i in range(4)]
                      for o in range(4)]])
    np.testing.assert_allclose(bundle.runner().run(x)[0], want, rtol=1e-5, atol=1e-5)
    g = _load(bundle.path, root / "twins")
    assert _kernel_cert(g.w1, KERNEL)["block"] == [2, 3]
    return g


def stores(g) -> list[tuple[str, ...]]:
    return re.findall(r'"memref\.store"\((%\d+), %3, (%\d+), (%\d+), (%\d+), (%\d+)\)', function_text(g.loops, KERNEL))


def store_column_shifted(g) -> str:
    """Column 1's output stored at column 0's place: column 0 twice, column 1 never."""
    (_, n, o, i, j0), (v1, _, _, _, j1) = stores(g)[:2]
    return in_function(g.loops, KERNEL, f'"memref.store"({v1}, %3, {n}, {o}, {i}, {j1})',
                       f'"memref.store"({v1}, %3, {n}, {o}, {i}, {j0})')


def products(g) -> list[tuple[str, str, str]]:
    return re.findall(r'(%\d+) = "arith\.mulf"\((%\d+), (%\d+)\)', function_text(g.loops, KERNEL))


def x_of_another_column(g) -> str:
    """Output (channel A, column 1) multiplies column 0's x value."""
    (_, x0, _), (p1, x1, w1) = products(g)[:2]
    return in_function(g.loops, KERNEL, f'{p1} = "arith.mulf"({x1}, {w1})', f'{p1} = "arith.mulf"({x0}, {w1})')


def weight_of_another_channel(g) -> str:
    """Output (channel B, column 0) multiplies channel A's weight."""
    prods = products(g)
    (_, _, wa), (p3, x3, w3) = prods[0], prods[3]
    return in_function(g.loops, KERNEL, f'{p3} = "arith.mulf"({x3}, {w3})', f'{p3} = "arith.mulf"({x3}, {wa})')


def bias_of_another_channel(g) -> str:
    """Channel B's outputs get channel A's bias."""
    text = function_text(g.loops, KERNEL)
    loads = re.findall(r'(%\d+) = "memref\.load"\(%2, (%\d+)\)', text)
    (_, oa), (bb, ob) = loads[:2]
    return in_function(g.loops, KERNEL, f'{bb} = "memref.load"(%2, {ob})', f'{bb} = "memref.load"(%2, {oa})')


def cert(change):
    return lambda g: loops_reason(g, witness=_with(g.w1, lambda w: change(_kernel_cert(w, KERNEL))), recert=False)


TWINS = {
    "store-column-shifted": lambda g: loops_reason(g, store_column_shifted(g)),
    "x-of-another-column": lambda g: loops_reason(g, x_of_another_column(g)),
    "weight-of-another-channel": lambda g: loops_reason(g, weight_of_another_channel(g)),
    "bias-of-another-channel": lambda g: loops_reason(g, bias_of_another_channel(g)),
    "certificate-claims-no-block": cert(lambda c: c.pop("block")),
    "certificate-claims-1x3": cert(lambda c: c.update(block=[1, 3])),
    "certificate-claims-2x1": cert(lambda c: c.update(block=[2, 1])),
    "certificate-claims-4x3": cert(lambda c: c.update(block=[4, 3])),
}


@pytest.mark.parametrize("name", sorted(TWINS))
def test_conv_block_twin_rejected(good, name):
    got = TWINS[name](good)
    assert REASON in got, got


def test_the_twins_differ_from_the_kernel(good):
    assert first(r'"arith\.mulf"', function_text(good.loops, KERNEL))
    for make in (store_column_shifted, x_of_another_column, weight_of_another_channel, bias_of_another_channel):
        assert make(good) != good.loops
