"""A blocked convolution that gcc 12.2 at -O3 computed wrongly: padding on top only, every
column's tap guarded by the same row test; the loop vectoriser's if-conversion of the
guarded loads gave wrong sums in the rows whose taps are all inside the input (the C was
right: -O0, -O2 and -O3 with -fno-tree-loop-if-convert agree with numpy). backends/build.py
builds with -fno-tree-loop-if-convert; the library check of `vnnc compile` rejected the
miscompiled library, so the bundle was never called verified."""

from __future__ import annotations

import numpy as np
import pytest
import vnnc

MODEL = """\
builtin.module {{
  func.func @main(%x: tensor<1x{c}x3x6xf32>, %w: tensor<2x{c}x2x3xf32>) -> tensor<1x2x3x4xf32> {{
    %y = spec.conv2d %x, %w {{pads = array<i64: 1, 0, 0, 0>}} : (tensor<1x{c}x3x6xf32>, tensor<2x{c}x2x3xf32>) -> tensor<1x2x3x4xf32>
    func.return %y : tensor<1x2x3x4xf32>
  }}
}}
"""


@pytest.mark.parametrize("channels", [1, 3])
def test_conv_padded_on_top_equals_numpy(tmp_path, channels):
    (tmp_path / "m.mlir").write_text(MODEL.format(c=channels))
    bundle = vnnc.compile(tmp_path / "m.mlir", out=tmp_path / "b")
    assert bundle.manifest["verified"] is True
    rng = np.random.default_rng(channels)
    for _ in range(5):
        x = rng.standard_normal((1, channels, 3, 6)).astype(np.float32)
        w = rng.standard_normal((2, channels, 2, 3)).astype(np.float32)
        xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 0), (0, 0)))
        want = np.array([[[[np.sum(xp[0, :, i:i + 2, j:j + 3] * w[o]) for j in range(4)] for i in range(3)]
                          for o in range(2)]])
        got = bundle.runner().run(x, w)
        got = got[0] if isinstance(got, list) else got
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
