"""Data movement and plain reductions: transpose, concat, slice, reduce_{sum,mean,max}.

Movement kernels copy: every output element is loaded from one input element and
stored once. A reduction keeps one accumulator per output element, initialised once
(0, or -inf for max), folded in lexicographic order of the reduced indices, then stored.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from vnnc.dialects.shapes import normalize_axis
from vnnc.passes.kernels import KernelSpec
from vnnc.passes.kernels.builder import KernelBuilder
from xdsl.ir import SSAValue


def reduced_axes(k: KernelSpec, key: str = "axes") -> list[int]:
    """The op's `axes` attribute, normalised to sorted non-negative dimensions."""
    rank = len(k.in_shapes[0])
    return sorted({normalize_axis(k.op, a, rank) for a in k.a[key]})


def scatter_index(rank: int, axes: Sequence[int], outer: Sequence, inner: Sequence) -> list:
    """The full index whose dimensions in `axes` come from `inner` and the rest from `outer`."""
    it_outer, it_inner = iter(outer), iter(inner)
    return [next(it_inner) if d in axes else next(it_outer) for d in range(rank)]


def transpose(kb: KernelBuilder, k: KernelSpec) -> None:
    """y[i_0, ..., i_{r-1}] = x[j] with j[perm[d]] = i_d."""
    x, y = kb.args
    perm = k.a["perm"]

    def point(ivs):
        src: list = [None] * len(perm)
        for d, p in enumerate(perm):
            src[p] = ivs[d]
        kb.store(kb.load(x, src), y, ivs)

    kb.nest(k.out_shape, point)


def concat(kb: KernelBuilder, k: KernelSpec) -> None:
    """y[.., off_t + i, ..] = x_t[.., i, ..] along `axis`, off_t = sum_{s<t} x_s.shape[axis]."""
    *xs, y = kb.args
    axis = normalize_axis(k.op, k.a["axis"], len(k.out_shape))
    offset = 0
    for buf, shape in zip(xs, k.in_shapes):

        def point(ivs, buf=buf, offset=offset):
            dst = list(ivs)
            dst[axis] = kb.affine([(1, ivs[axis])], offset)
            kb.store(kb.load(buf, ivs), y, dst)

        kb.nest(shape, point)
        offset += shape[axis]


def slice_(kb: KernelBuilder, k: KernelSpec) -> None:
    """y[.., i_d, ..] = x[.., starts[d] + i_d * steps[d], ..] (steps may be negative)."""
    x, y = kb.args
    starts, steps = k.a["starts"], k.a["steps"]

    def point(ivs):
        src = [kb.affine([(step, iv)], start) for iv, start, step in zip(ivs, starts, steps)]
        kb.store(kb.load(x, src), y, ivs)

    kb.nest(k.out_shape, point)


def reduction(kind: str):
    """reduce_sum / reduce_mean / reduce_max over `axes`, keeping them as size 1 if keepdims."""

    def write(kb: KernelBuilder, k: KernelSpec) -> None:
        x, y = kb.args
        shape = k.in_shapes[0]
        rank = len(shape)
        axes = reduced_axes(k)
        inner = [shape[d] for d in axes]
        init = kb.const(-math.inf if kind == "max" else 0.0)

        def point(outer):
            def step(ivs: list[SSAValue], accs: list[SSAValue]) -> list[SSAValue]:
                v = kb.load(x, scatter_index(rank, axes, outer, ivs))
                return [kb.max(accs[0], v) if kind == "max" else kb.add(accs[0], v)]

            (acc,) = kb.reduce(inner, [init], step)
            if kind == "mean":
                acc = kb.div(acc, kb.const(float(math.prod(inner))))
            dst = scatter_index(rank, axes, outer, [0] * len(axes)) if k.a["keepdims"] else outer
            kb.store(acc, y, dst)

        kb.nest([n for d, n in enumerate(shape) if d not in axes], point)

    write.__doc__ = {
        "sum": "y[kept] = sum over the reduced indices r of x[kept, r].",
        "mean": "y[kept] = (sum over the reduced indices r of x[kept, r]) / prod(reduced extents).",
        "max": "y[kept] = max over the reduced indices r of x[kept, r] (NaN propagates).",
    }[kind]
    return write


def one_hot(kb: KernelBuilder, k: KernelSpec) -> None:
    """y[n, c] = labels[n] == c ? 1 : 0."""
    labels, y = kb.args

    def point(ivs):
        n, c = ivs
        hit = kb.cmpi(kb.index_cast(kb.load(labels, [n])), c, "eq")
        kb.store(kb.select(hit, kb.const(1.0), kb.const(0.0)), y, ivs)

    kb.nest(k.out_shape, point)


def scatter_pieces(size: int, start: int, step: int, count: int) -> list[tuple[int, int, int | None]]:
    """Output positions h = |step|*hh + r of one dimension, by residue r: (r, extent of hh,
    c or None) where h holds x[sign(step)*(hh + c)] when c is not None (if 0 <= that < count),
    else always 0."""
    m = abs(step)
    return [(r, -(-(size - r) // m), (r - start) // m if (r - start) % m == 0 else None)
            for r in range(min(m, size))]


def slice_scatter(kb: KernelBuilder, k: KernelSpec) -> None:
    """y[h] = x[i] where h_d = starts[d] + i_d steps[d] in every dimension d, else 0; each
    dimension is split by the residue of h_d modulo |steps[d]|, so every index is affine."""
    x, y = kb.args
    steps = k.a["steps"]
    pieces = [scatter_pieces(n, s0, st, c) for n, s0, st, c in
              zip(k.out_shape, k.a["starts"], steps, k.in_shapes[0])]
    for combo in itertools.product(*pieces):

        def point(ivs, combo=combo):
            dst = [kb.affine([(abs(st), iv)], r) for iv, (r, _, _), st in zip(ivs, combo, steps)]
            if any(c is None for _, _, c in combo):
                kb.store(kb.const(0.0), y, dst)
                return
            src = [kb.affine([(1 if st > 0 else -1, iv)], c if st > 0 else -c)
                   for iv, (_, _, c), st in zip(ivs, combo, steps)]
            inside = kb.all_of([kb.in_range(i, 0, n) for i, n in zip(src, k.in_shapes[0])])
            kb.store(kb.if_else(inside, lambda: kb.load(x, src), lambda: kb.const(0.0)), y, dst)

        kb.nest([e for _, e, _ in combo], point)


WRITERS = {
    "one_hot": one_hot,
    "slice_scatter": slice_scatter,
    "transpose": transpose,
    "concat": concat,
    "slice": slice_,
    "reduce_sum": reduction("sum"),
    "reduce_mean": reduction("mean"),
    "reduce_max": reduction("max"),
}
