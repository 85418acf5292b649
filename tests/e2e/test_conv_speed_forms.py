"""conv2d kernels blocked over output channels and columns (passes/kernels/window.py,
`KernelSpec.block` = (ro, rj)), printed by the C printer and built with vnnc's flags: every
block gives the bits of the unblocked kernel, and both the bits of a numpy float32
reference written here that sums each output in sequence over (c, p, q) from +0, one
rounding per operation, then adds the bias. Inputs include signed zeros, infinities and
a NaN, so the padding's 0 * w terms and the order of every addition show."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest
from vnnc.backends.build import build_shared
from vnnc.backends.c import emit_c
from vnnc.passes.kernels import KernelSpec
from vnnc.passes.kernels.builder import KernelBuilder
from vnnc.passes.kernels.window import conv2d
from xdsl.dialects.builtin import MemRefType, ModuleOp, f32

# (x shape, w shape, bias, strides, pads, dilations, groups, blocks)
CASES = [
    ((2, 3, 9, 8), (4, 3, 3, 3), True, (1, 1), (1, 1, 1, 1), (1, 1), 1, [(2, 1), (4, 2), (1, 8), (2, 4)]),
    ((1, 4, 7, 9), (6, 2, 3, 2), True, (2, 1), (1, 0, 1, 1), (1, 2), 2, [(3, 1), (1, 4), (3, 2)]),
    ((1, 2, 6, 6), (4, 2, 2, 2), False, (1, 1), (0, 0, 0, 0), (1, 1), 1, [(2, 5), (4, 1)]),
]


def out_side(size, k, s, d, lo, hi):
    return (size + lo + hi - d * (k - 1) - 1) // s + 1


def reference(x, w, b, strides, pads, dil, groups):
    n, _, hh, ww = x.shape
    c_out, cg, kh, kw = w.shape
    oh = out_side(hh, kh, strides[0], dil[0], pads[0], pads[2])
    ow = out_side(ww, kw, strides[1], dil[1], pads[1], pads[3])
    og = c_out // groups
    y = np.zeros((n, c_out, oh, ow), np.float32)
    ii, jj = np.meshgrid(np.arange(oh), np.arange(ow), indexing="ij")
    for o in range(c_out):
        g = o // og
        acc = np.zeros((n, oh, ow), np.float32)
        for c in range(cg):
            for p in range(kh):
                for q in range(kw):
                    h = ii * strides[0] + p * dil[0] - pads[0]
                    v = jj * strides[1] + q * dil[1] - pads[1]
                    inside = (h >= 0) & (h < hh) & (v >= 0) & (v < ww)
                    xv = np.where(inside, x[:, g * cg + c, np.clip(h, 0, hh - 1), np.clip(v, 0, ww - 1)],
                                  np.float32(0.0))
                    with np.errstate(all="ignore"):
                        acc = (acc + (xv * w[o, c, p, q]).astype(np.float32)).astype(np.float32)
        with np.errstate(all="ignore"):
            y[:, o] = acc + b[o] if b is not None else acc
    return y


def build(tmp_path, xs, ws, bias, strides, pads, dil, groups, blocks):
    attrs = (("dilations", dil), ("groups", groups), ("pads", pads), ("strides", strides))
    c_out = ws[0]
    oh = out_side(xs[2], ws[2], strides[0], dil[0], pads[0], pads[2])
    ow = out_side(xs[3], ws[3], strides[1], dil[1], pads[1], pads[3])
    out = (xs[0], c_out, oh, ow)
    shapes = (xs, ws, (c_out,)) if bias else (xs, ws)
    fns = []
    for ro, rj in blocks:
        spec = KernelSpec("conv2d", shapes, out, attrs, ("f32",) * len(shapes), block=(ro, rj))
        kb = KernelBuilder(f"conv_{ro}x{rj}", [MemRefType(f32, list(s)) for s in (*shapes, out)])
        conv2d(kb, spec)
        fns.append(kb.finish())
    src, _ = emit_c(ModuleOp(fns))
    c = tmp_path / "conv.c"
    c.write_text(src.replace("static void k_", "void k_"))
    lib = tmp_path / "libconv.so"
    build_shared(c, lib)
    return ctypes.CDLL(str(lib)), out


@pytest.mark.parametrize("case", range(len(CASES)))
def test_blocked_conv_bits(tmp_path, case):
    xs, ws, bias, strides, pads, dil, groups, blocks = CASES[case]
    blocks = [(1, 1), *blocks]
    lib, out = build(tmp_path, xs, ws, bias, strides, pads, dil, groups, blocks)
    rng = np.random.default_rng(case)
    x = rng.standard_normal(xs).astype(np.float32)
    flat = x.reshape(-1)
    flat[[0, 5, 11, 17]] = [-0.0, np.inf, -np.inf, 0.0]
    if case == 0:
        flat[40] = np.nan
    w = rng.standard_normal(ws).astype(np.float32)
    w.reshape(-1)[[1, 2]] = [-0.0, 0.0]
    b = rng.standard_normal(ws[0]).astype(np.float32) if bias else None
    want = reference(x, w, b, strides, pads, dil, groups)
    for ro, rj in blocks:
        y = np.full(out, np.float32(7.0))
        args = [a.ctypes.data_as(ctypes.c_void_p) for a in (x, w, *([b] if bias else []), y)]
        getattr(lib, f"k_conv_{ro}x{rj}")(*args)
        same = (y.view(np.uint32) == want.view(np.uint32)) | (np.isnan(y) & np.isnan(want))
        assert same.all(), f"block {ro}x{rj}: {int((~same).sum())} outputs differ from the sequential reference"
    if case == 0:
        assert np.isnan(want).any() and np.isinf(want).any()  # the specials reached the outputs


def test_block_must_divide():
    xs, ws = (1, 1, 5, 5), (4, 1, 3, 3)
    attrs = (("dilations", (1, 1)), ("groups", 1), ("pads", (0, 0, 0, 0)), ("strides", (1, 1)))
    for block in ((3, 1), (1, 2)):
        spec = KernelSpec("conv2d", (xs, ws), (1, 4, 3, 3), attrs, ("f32", "f32"), block=block)
        kb = KernelBuilder("conv", [MemRefType(f32, list(s)) for s in (xs, ws, (1, 4, 3, 3))])
        with pytest.raises(ValueError, match="divide"):
            conv2d(kb, spec)
