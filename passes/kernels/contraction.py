"""Contractions: linear, matmul (and, below, convolution).

Each output element is summed from 0 in the kernel's summation order, then the bias is
added and the result stored once. Orders (`KernelSpec.order`, recorded in the witness):

  sequential  one accumulator, k = 0, 1, ..., n-1
  lanes16     16 accumulators, lane t summing k = t, t+16, ... over the n // 16 full
              blocks; the lanes combined as a balanced tree ((s0+s1)+(s2+s3))+...; then
              the n % 16 remaining terms added in increasing k. Independent lanes let
              the C compiler keep them in vector registers without reassociating any
              sum it was given (no fast-math).
"""

from __future__ import annotations

from vnnc.passes.kernels import KernelSpec
from vnnc.passes.kernels.builder import KernelBuilder
from vnnc.passes.kernels.elementwise import broadcast_index

LANES = 16


def tree_sum(kb: KernelBuilder, values: list):
    """((v0 + v1) + (v2 + v3)) + ...: a balanced tree, left half first."""
    if len(values) == 1:
        return values[0]
    half = len(values) // 2
    return kb.add(tree_sum(kb, values[:half]), tree_sum(kb, values[half:]))


def dot(kb: KernelBuilder, order: str, n: int, x, w):
    """sum_k x(k) w(k) over k < n in `order`; x(k), w(k) load one term's factors."""
    def add_term(acc, kk):
        return kb.add(acc, kb.mul(x(kk), w(kk)))

    if order == "sequential":
        return kb.reduce([n], [kb.const(0.0)], lambda kv, accs: [add_term(accs[0], kv[0])])[0]
    blocks, rest = divmod(n, LANES)

    def block(kv, accs):
        base = kb.affine([(LANES, kv[0])])
        return [add_term(accs[t], kb.affine([(1, base)], t)) for t in range(LANES)]

    total = tree_sum(kb, kb.reduce([blocks], [kb.const(0.0)] * LANES, block))
    if rest:
        (total,) = kb.reduce([rest], [total], lambda kv, accs: [
            add_term(accs[0], kb.affine([(1, kv[0])], blocks * LANES))])
    return total


def linear(kb: KernelBuilder, k: KernelSpec) -> None:
    """y[..., j] = sum_k x[..., k] W[j, k] + b[j]."""
    x, w, *bias, y = kb.args
    n_in = k.in_shapes[1][1]

    def point(ivs):
        *lead, j = ivs
        acc = dot(kb, k.order, n_in, lambda kk: kb.load(x, lead + [kk]), lambda kk: kb.load(w, [j, kk]))
        if bias:
            acc = kb.add(acc, kb.load(bias[0], [j]))
        kb.store(acc, y, ivs)

    kb.nest(k.out_shape, point)


def matmul(kb: KernelBuilder, k: KernelSpec) -> None:
    """y = a @ b with numpy.matmul's promotion of 1-D operands and batch broadcasting."""
    a, b, y = kb.args
    sa, sb = k.in_shapes
    a2 = (1,) + sa if len(sa) == 1 else sa
    b2 = sb + (1,) if len(sb) == 1 else sb
    n_k = a2[-1]
    full_rank = max(len(a2), len(b2))

    def point(ivs):
        # rebuild the promoted output index [batch..., i, j]
        full = list(ivs)
        if len(sa) == 1:
            full.insert(len(full) - (0 if len(sb) == 1 else 1), 0)
        if len(sb) == 1:
            full.append(0)
        batch, i, j = full[:-2], full[-2], full[-1]

        def a_at(kk):
            ai = broadcast_index(batch, a2[:-2], full_rank - 2) + [i, kk]
            return kb.load(a, ai[1:] if len(sa) == 1 else ai)

        def b_at(kk):
            bi = broadcast_index(batch, b2[:-2], full_rank - 2) + [kk, j]
            return kb.load(b, bi[:-1] if len(sb) == 1 else bi)

        kb.store(dot(kb, k.order, n_k, a_at, b_at), y, ivs)

    kb.nest(k.out_shape, point)


WRITERS = {"linear": linear, "matmul": matmul}
