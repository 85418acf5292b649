"""Constants holding inf and NaN keep their values through every stage into the library.

MLIR writes such float elements by their bit pattern (0xff800000 is -inf in f32); xDSL
0.74 reads a hexadecimal element back as the integer's value, which vnnc corrects
(dialects/registry.py) so that the stages, the checker and the built code agree.
"""

from __future__ import annotations

import numpy as np
import vnnc

MODEL = """\
builtin.module {
  func.func @main(%x: tensor<5xf32> {vnnc.name = "x"}) -> (tensor<5xf32> {vnnc.name = "y"}) {
    %c = spec.constant dense<[0xFF800000, 1.0, 0x7F800000, 0x7FC00000, 0x3F800000]> : tensor<5xf32>
    %y = spec.add %x, %c : (tensor<5xf32>, tensor<5xf32>) -> tensor<5xf32>
    func.return %y : tensor<5xf32>
  }
}
"""


def test_hex_float_elements_are_bit_patterns_in_every_stage(tmp_path):
    (tmp_path / "m.mlir").write_text(MODEL)
    bundle = vnnc.compile(tmp_path / "m.mlir", out=tmp_path / "b", force=True)
    y = bundle.run(np.full(5, 0.5, np.float32))
    assert np.array_equal(y, np.array([-np.inf, 1.5, np.inf, np.nan, 1.5], np.float32), equal_nan=True)
    # the printed stages keep the bit patterns, not 4286578688.0
    for stage in sorted((tmp_path / "b" / "stages").glob("*.mlir")):
        assert "e+09" not in stage.read_text(), stage.name
