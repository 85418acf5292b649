"""Contractions: linear, matmul (and, below, convolution).

Each output element is one accumulator, initialised once to 0 (or the bias), summed in
increasing order of the contracted index, then stored once.
"""

from __future__ import annotations

from vnnc.passes.kernels import KernelSpec
from vnnc.passes.kernels.builder import KernelBuilder
from vnnc.passes.kernels.elementwise import broadcast_index


def linear(kb: KernelBuilder, k: KernelSpec) -> None:
    """y[..., j] = sum_k x[..., k] W[j, k] + b[j]."""
    x, w, *bias, y = kb.args
    n_in = k.in_shapes[1][1]

    def point(ivs):
        *lead, j = ivs

        def step(kv, accs):
            prod = kb.mul(kb.load(x, lead + [kv[0]]), kb.load(w, [j, kv[0]]))
            return [kb.add(accs[0], prod)]

        (acc,) = kb.reduce([n_in], [kb.const(0.0)], step)
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

        def step(kv, accs):
            ai = broadcast_index(batch, a2[:-2], full_rank - 2) + [i, kv[0]]
            bi = broadcast_index(batch, b2[:-2], full_rank - 2) + [kv[0], j]
            ai = ai[1:] if len(sa) == 1 else ai
            bi = bi[:-1] if len(sb) == 1 else bi
            return [kb.add(accs[0], kb.mul(kb.load(a, ai), kb.load(b, bi)))]

        (acc,) = kb.reduce([n_k], [kb.const(0.0)], step)
        kb.store(acc, y, ivs)

    kb.nest(k.out_shape, point)


WRITERS = {"linear": linear, "matmul": matmul}
