"""Blocks of more than 16 outputs of a lanes16 linear (passes/kernels/contraction.py
`lane_sums`): the lanes of two outputs are summed side by side only while a lane's
neighbour belongs to the same output; past 16 outputs a vector holds one finished lane
per output and pairing on would add two outputs' sums. Kernels with 32 outputs per
iteration (16 x 2, 8 x 4), built by lower-to-loops' writer and printed and compiled as vnnc
does, must give the lanes16 order emulated here in numpy float32 bit for bit."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest
from vnnc.backends.build import build_shared
from vnnc.backends.c import emit_c
from vnnc.passes.kernels import KernelSpec
from vnnc.passes.kernels.builder import KernelBuilder
from vnnc.passes.kernels.contraction import linear
from xdsl.dialects.builtin import MemRefType, ModuleOp, f32

F = np.float32


def lanes16(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """y[i, j] = sum_k x[i, k] w[j, k]: lane t sums k = t, t+16, ..., the lanes added as a
    balanced tree, then the remaining k in order; every operation rounded to float32."""
    n = x.shape[1]
    lanes = np.zeros((x.shape[0], w.shape[0], 16), F)
    for b in range(n // 16):
        lanes = lanes + x[:, None, 16 * b:16 * b + 16] * w[None, :, 16 * b:16 * b + 16]

    def tree(lo: int, hi: int) -> np.ndarray:
        return lanes[..., lo] if hi - lo == 1 else tree(lo, (lo + hi) // 2) + tree((lo + hi) // 2, hi)

    total = tree(0, 16)
    for k in range(16 * (n // 16), n):
        total = total + x[:, None, k] * w[None, :, k]
    return total


@pytest.mark.parametrize("block", [(16, 2), (8, 4), (8, 2)])
def test_wide_blocks_bit_for_bit(tmp_path, block):
    m, n, k = 32, 8, 72
    spec = KernelSpec("linear", ((m, k), (n, k)), (m, n), (), ("f32", "f32"), order="lanes16", block=block)
    kb = KernelBuilder("lin", [MemRefType(f32, [m, k]), MemRefType(f32, [n, k]), MemRefType(f32, [m, n])])
    linear(kb, spec)
    src, _ = emit_c(ModuleOp([kb.finish()]))
    (tmp_path / "lin.c").write_text(src.replace("static void k_", "void k_"))
    build_shared(tmp_path / "lin.c", tmp_path / "liblin.so")
    lib = ctypes.CDLL(str(tmp_path / "liblin.so"))
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((m, k)).astype(F), rng.standard_normal((n, k)).astype(F)
    y = np.zeros((m, n), F)
    lib.k_lin(*[a.ctypes.data_as(ctypes.c_void_p) for a in (x, w, y)])
    want = lanes16(x, w)
    assert (y.view(np.uint32) == want.view(np.uint32)).all(), f"block {block}: {(y != want).sum()} outputs differ"
