"""Blocked convolutions that gcc 12.2 at -O3 computed wrongly: padding on one side only, the
taps of every column guarded by the same row test (or column tests); wrong sums in the rows
whose taps are all inside the input. The C was right: -O0, -O2 and -O3 with
-fno-tree-loop-if-convert agree with numpy (turning off tree-vrp, jump threading or partial
PRE instead fixed some of these and not others). backends/build.py builds with
-fno-tree-loop-if-convert; the library check of `vnnc compile` rejected the miscompiled
libraries, so no such bundle was ever called verified."""

from __future__ import annotations

import numpy as np
import pytest
import vnnc

MODEL = """\
builtin.module {{
  func.func @main(%x: tensor<1x{c}x{h}x{w}xf32>, %w: tensor<2x{c}x{kh}x{kw}xf32>) -> tensor<1x2x{oh}x{ow}xf32> {{
    %y = spec.conv2d %x, %w {{pads = array<i64: {pads}>}} : (tensor<1x{c}x{h}x{w}xf32>, tensor<2x{c}x{kh}x{kw}xf32>) -> tensor<1x2x{oh}x{ow}xf32>
    func.return %y : tensor<1x2x{oh}x{ow}xf32>
  }}
}}
"""
CASES = [  # channels, input h, w, kernel h, w, pads (top, left, bottom, right)
    (1, 3, 6, 2, 3, (1, 0, 0, 0)), (3, 3, 6, 2, 3, (1, 0, 0, 0)), (2, 4, 6, 1, 2, (0, 0, 1, 0)),
    (2, 5, 3, 1, 2, (0, 1, 0, 0)), (2, 4, 5, 2, 2, (0, 0, 0, 1)), (2, 4, 4, 3, 3, (1, 1, 1, 1)),
]


@pytest.mark.parametrize("case", CASES, ids=[f"c{c[0]}-{c[1]}x{c[2]}-k{c[3]}x{c[4]}-p{''.join(map(str, c[5]))}" for c in CASES])
def test_conv_padded_on_some_sides_equals_numpy(tmp_path, case):
    c, h, w, kh, kw, pads = case
    oh, ow = h + pads[0] + pads[2] - kh + 1, w + pads[1] + pads[3] - kw + 1
    (tmp_path / "m.mlir").write_text(MODEL.format(c=c, h=h, w=w, kh=kh, kw=kw, oh=oh, ow=ow,
                                                  pads=", ".join(map(str, pads))))
    bundle = vnnc.compile(tmp_path / "m.mlir", out=tmp_path / "b")
    assert bundle.manifest["verified"] is True
    rng = np.random.default_rng(c * 100 + h)
    for _ in range(5):
        x = rng.standard_normal((1, c, h, w)).astype(np.float32)
        wt = rng.standard_normal((2, c, kh, kw)).astype(np.float32)
        xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
        want = np.array([[[[np.sum(xp[0, :, i:i + kh, j:j + kw] * wt[o]) for j in range(ow)] for i in range(oh)]
                          for o in range(2)]])
        got = bundle.runner().run(x, wt)
        got = got[0] if isinstance(got, list) else got
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
