"""The runner's buffers start on 64-byte boundaries (backends/runner.py, `aligned`): the
kernels' 16-float loads then never straddle two cache lines."""

from __future__ import annotations

import numpy as np
import pytest
from vnnc.backends.runner import ALIGN, aligned


@pytest.mark.parametrize("shape", [(), (1,), (3, 5), (64, 784)])
@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_aligned_zeros(shape, dtype):
    for _ in range(8):  # several allocations: numpy's own alignment varies with the size
        a = aligned(shape, dtype)
        assert a.ctypes.data % ALIGN == 0 and a.shape == shape and a.dtype == dtype
        assert a.flags.c_contiguous and a.flags.writeable and not a.any()


def test_aligned_copy_is_independent():
    src = np.arange(12, dtype=np.float32).reshape(3, 4)[:, ::2]  # not contiguous
    a = aligned(src.shape, np.float32, src)
    assert a.ctypes.data % ALIGN == 0 and np.array_equal(a, src)
    src[0, 0] = 99.0
    assert a[0, 0] == 0.0


def test_runner_buffers_are_aligned(tmp_path):
    import vnnc

    (tmp_path / "m.mlir").write_text(
        'func.func @main(%x: tensor<3x5xf32>) -> tensor<3x5xf32> {\n'
        '  %y = "spec.relu"(%x) : (tensor<3x5xf32>) -> tensor<3x5xf32>\n'
        '  func.return %y : tensor<3x5xf32>\n}\n')
    bundle = vnnc.compile(tmp_path / "m.mlir", out=tmp_path / "b")
    x = np.arange(-7, 8, dtype=np.float32).reshape(3, 5)
    assert np.array_equal(bundle.run(x), np.maximum(x, 0))
    runner = bundle._runner
    assert all(b.ctypes.data % ALIGN == 0 for b in runner._in + runner._out)
