"""Sliding-window kernels over NCHW tensors: conv2d, maxpool2d, avgpool2d, global_avgpool.

Along each spatial axis, output position i and tap p read input index
h = i*stride + p*dilation - pad_lo, affine in (i, p). A load outside [0, size) is
guarded (`scf.if`) and replaced by the op's padding value: 0 for convolution, -inf
for max pooling (it never wins), nothing for average pooling (it only counts in the
divisor). A guard is emitted only where some window actually leaves the input.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from vnnc.passes.kernels import KernelSpec
from vnnc.passes.kernels.builder import KernelBuilder
from xdsl.ir import SSAValue


class WindowAxis(NamedTuple):
    """One spatial axis of a window op."""

    size: int
    out: int
    kernel: int
    stride: int
    dilation: int
    pad_lo: int
    pad_hi: int

    def index(self, kb: KernelBuilder, out_iv: SSAValue, tap_iv: SSAValue) -> SSAValue:
        """h = out_iv*stride + tap_iv*dilation - pad_lo."""
        return kb.affine([(self.stride, out_iv), (self.dilation, tap_iv)], -self.pad_lo)

    def always(self, lo: int, hi: int) -> bool:
        """Whether every index of every window lies in [lo, hi)."""
        last = (self.out - 1) * self.stride + (self.kernel - 1) * self.dilation - self.pad_lo
        return lo <= -self.pad_lo and last < hi

    def within(self, kb: KernelBuilder, h: SSAValue, lo: int, hi: int) -> SSAValue | None:
        """lo <= h < hi as an i1, or None when every index of every window satisfies it."""
        return None if self.always(lo, hi) else kb.in_range(h, lo, hi)


def window_axes(k: KernelSpec, kernel: tuple[int, int]) -> tuple[WindowAxis, WindowAxis]:
    a = k.a
    dil = a.get("dilations", (1, 1))
    return tuple(
        WindowAxis(k.in_shapes[0][2 + d], k.out_shape[2 + d], kernel[d], a["strides"][d], dil[d],
                   a["pads"][d], a["pads"][2 + d])
        for d in range(2)
    )


def _guard(kb: KernelBuilder, conds: list[SSAValue | None]) -> SSAValue | None:
    return kb.all_of([c for c in conds if c is not None])


def conv2d(kb: KernelBuilder, k: KernelSpec) -> None:
    """y[n,g*Og+o,i,j] = b + sum_{c,p,q} x[n, g*Cg+c, i*s0+p*d0-pad0, j*s1+q*d1-pad1] w[g*Og+o,c,p,q].

    With `k.block` = (ro, rj), one iteration computes ro output channels times rj output
    columns (o = ro o0 + r, j = rj j0 + t), each output its own sum in the same sequential
    order over (c, p, q) as unblocked, so the same bits: a tap's x value is loaded once for
    the ro channels and its weight once for the rj columns. The accumulators are numbered
    output by output, channels outer. lower-to-loops chooses the block for real-valued f32
    convolutions (`kernel_spec`); the checker's definition of conv2d (verifier/kernels.py)
    builds the same block."""
    x, w, *bias, y = kb.args
    n_out, c_group, kh, kw = k.in_shapes[1]
    groups = k.a["groups"]
    o_group = n_out // groups
    ah, aw = window_axes(k, (kh, kw))
    batch, _, oh, ow = k.out_shape
    ro, rj = k.block
    if o_group % ro or ow % rj:
        raise ValueError(f"conv2d: block {ro}x{rj} does not divide {o_group} channels per group and {ow} columns")

    def point(ivs):
        # with groups, output channel o = g*Og + o' and input channel g*Cg + c stay affine
        # each index computed once (no two ops compute the same value)
        if groups > 1:
            n, g, o0, i, j0 = ivs
            first = kb.affine([(o_group, g), (ro, o0)])
        else:
            n, o0, i, j0 = ivs
            g = None
            first = kb.affine([(ro, o0)])
        chans = [kb.affine([(1, first)], r) for r in range(ro)]
        first = kb.affine([(rj, j0)])
        cols = [kb.affine([(1, first)], t) for t in range(rj)]

        def step(tv, accs):
            c, p, q = tv
            h, vs = ah.index(kb, i, p), [aw.index(kb, j, q) for j in cols]
            ch = c if g is None else kb.affine([(c_group, g), (1, c)])
            xs, h_inside = [], ah.within(kb, h, 0, ah.size)
            for v in vs:
                inside = _guard(kb, [h_inside, aw.within(kb, v, 0, aw.size)])
                xs.append(kb.if_else(inside, lambda v=v: kb.load(x, [n, ch, h, v]), lambda: kb.const(0.0)))
            ws = [kb.load(w, [o, c, p, q]) for o in chans]
            return [kb.add(accs[r * rj + t], kb.mul(xs[t], ws[r])) for r in range(ro) for t in range(rj)]

        accs = kb.reduce([c_group, kh, kw], [kb.const(0.0)] * (ro * rj), step)
        for r, o in enumerate(chans):
            b = kb.load(bias[0], [o]) if bias else None
            for t, j in enumerate(cols):
                acc = accs[r * rj + t]
                if bias:
                    acc = kb.add(acc, b)
                kb.store(acc, y, [n, o, i, j])

    lead = [batch, groups, o_group // ro] if groups > 1 else [batch, n_out // ro]
    kb.nest([*lead, oh, ow // rj], point)


def maxpool2d(kb: KernelBuilder, k: KernelSpec) -> None:
    """y[n,c,i,j] = max_{p,q} x[n, c, i*s0+p*d0-pad0, j*s1+q*d1-pad1], -inf outside x."""
    x, y = kb.args
    ah, aw = window_axes(k, k.a["kernel"])
    neg_inf = kb.const(-math.inf)

    def point(ivs):
        n, c, i, j = ivs

        def step(tv, accs):
            h, v = ah.index(kb, i, tv[0]), aw.index(kb, j, tv[1])
            inside = _guard(kb, [ah.within(kb, h, 0, ah.size), aw.within(kb, v, 0, aw.size)])
            xv = kb.if_else(inside, lambda: kb.load(x, [n, c, h, v]), lambda: neg_inf)
            return [kb.max(accs[0], xv)]

        (acc,) = kb.reduce([ah.kernel, aw.kernel], [neg_inf], step)
        kb.store(acc, y, ivs)

    kb.nest(k.out_shape, point)


def avgpool2d(kb: KernelBuilder, k: KernelSpec) -> None:
    """y[n,c,i,j] = sum_{p,q} x[n, c, i*s0+p-pad0, j*s1+q-pad1] (0 outside x) / #counted taps."""
    x, y = kb.args
    axes = window_axes(k, k.a["kernel"])
    ah, aw = axes
    # counted taps: those inside the padded extent [-pad_lo, size + pad_hi) when
    # count_include_pad (a ceil-mode window may reach past it), else those inside x
    if k.a["count_include_pad"]:
        counted_range = [(-a.pad_lo, a.size + a.pad_hi) for a in axes]
    else:
        counted_range = [(0, a.size) for a in axes]
    # the divisor is the kernel area unless some window counts fewer taps (a window with
    # no counted tap, possible only when a pad exceeds half the kernel, gives 0/0 = NaN)
    constant = all(a.always(*r) for a, r in zip(axes, counted_range))
    zero, one = kb.const(0.0), kb.const(1.0)

    def point(ivs):
        n, c, i, j = ivs

        def step(tv, accs):
            h, v = ah.index(kb, i, tv[0]), aw.index(kb, j, tv[1])
            inside = _guard(kb, [ah.within(kb, h, 0, ah.size), aw.within(kb, v, 0, aw.size)])
            total = kb.add(accs[0], kb.if_else(inside, lambda: kb.load(x, [n, c, h, v]), lambda: zero))
            if constant:
                return [total]
            counted = inside
            if k.a["count_include_pad"]:
                counted = _guard(kb, [a.within(kb, t, *r) for a, t, r in zip(axes, (h, v), counted_range)])
            return [total, kb.add(accs[1], kb.select(counted, one, zero))]

        accs = kb.reduce([ah.kernel, aw.kernel], [zero] if constant else [zero, zero], step)
        divisor = kb.const(float(ah.kernel * aw.kernel)) if constant else accs[1]
        kb.store(kb.div(accs[0], divisor), y, ivs)

    kb.nest(k.out_shape, point)


def global_avgpool(kb: KernelBuilder, k: KernelSpec) -> None:
    """y[n,c,0,0] = (sum_{h,w} x[n,c,h,w]) / (H*W)."""
    x, y = kb.args
    _, _, height, width = k.in_shapes[0]
    area = kb.const(float(height * width))

    def point(ivs):
        n, c = ivs
        (total,) = kb.reduce([height, width], [kb.const(0.0)],
                             lambda hw, a: [kb.add(a[0], kb.load(x, [n, c, *hw]))])
        kb.store(kb.div(total, area), y, [n, c, 0, 0])

    kb.nest(k.out_shape[:2], point)


WRITERS = {
    "conv2d": conv2d,
    "maxpool2d": maxpool2d,
    "avgpool2d": avgpool2d,
    "global_avgpool": global_avgpool,
}
