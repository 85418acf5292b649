"""Normalisations and losses: softmax, log_softmax, layernorm, batchnorm, mse_loss,
cross_entropy.

Every reduction is its own loop carrying accumulators, initialised once. Softmax-like
kernels subtract the maximum m first (exp(x - m) <= 1 cannot overflow; the identity
softmax(x) = softmax(x - m) is exact in the reals), so a NaN anywhere in a row makes
the whole row NaN, as in PyTorch. Layernorm takes two passes (mean, then the biased
variance about it) rather than E[x^2] - E[x]^2, which cancels catastrophically.
"""

from __future__ import annotations

import math

from vnnc.dialects.shapes import normalize_axis
from vnnc.passes.kernels import KernelSpec
from vnnc.passes.kernels.builder import KernelBuilder
from vnnc.passes.kernels.data import reduced_axes, scatter_index
from xdsl.ir import SSAValue


def _max_and_sum_exp(kb: KernelBuilder, extents, load) -> tuple[SSAValue, SSAValue]:
    """m = max_r load(r) and s = sum_r exp(load(r) - m), in two passes."""
    (m,) = kb.reduce(extents, [kb.const(-math.inf)], lambda ivs, a: [kb.max(a[0], load(ivs))])
    (s,) = kb.reduce(
        extents, [kb.const(0.0)], lambda ivs, a: [kb.add(a[0], kb.exp(kb.sub(load(ivs), m)))]
    )
    return m, s


def softmax_like(log: bool):
    def write(kb: KernelBuilder, k: KernelSpec) -> None:
        x, y = kb.args
        shape = k.in_shapes[0]
        axis = normalize_axis(k.op, k.a["axis"], len(shape))

        def row(outer):
            def at(ivs):
                return scatter_index(len(shape), [axis], outer, ivs)

            m, s = _max_and_sum_exp(kb, [shape[axis]], lambda ivs: kb.load(x, at(ivs)))
            log_s = kb.log(s) if log else None

            def out(ivs):
                shifted = kb.sub(kb.load(x, at(ivs)), m)
                v = kb.sub(shifted, log_s) if log else kb.div(kb.exp(shifted), s)
                kb.store(v, y, at(ivs))

            kb.nest([shape[axis]], out)

        kb.nest([n for d, n in enumerate(shape) if d != axis], row)

    write.__doc__ = (
        "y_i = (x_i - m) - log sum_j exp(x_j - m) along `axis`, m = max_j x_j."
        if log
        else "y_i = exp(x_i - m) / sum_j exp(x_j - m) along `axis`, m = max_j x_j."
    )
    return write


def layernorm(kb: KernelBuilder, k: KernelSpec) -> None:
    """y = (x - mean) / sqrt(var + eps) [* scale + bias], mean and biased var over `axes`."""
    x, *affine, y = kb.args
    shape = k.in_shapes[0]
    rank = len(shape)
    axes = reduced_axes(k)
    inner = [shape[d] for d in axes]
    count = kb.const(float(math.prod(inner)))
    eps = kb.const(k.a["eps"])

    def point(outer):
        def at(ivs):
            return scatter_index(rank, axes, outer, ivs)

        (total,) = kb.reduce(inner, [kb.const(0.0)], lambda ivs, a: [kb.add(a[0], kb.load(x, at(ivs)))])
        mean = kb.div(total, count)

        def square_dev(ivs, a):
            dev = kb.sub(kb.load(x, at(ivs)), mean)
            return [kb.add(a[0], kb.mul(dev, dev))]

        (sq,) = kb.reduce(inner, [kb.const(0.0)], square_dev)
        denom = kb.sqrt(kb.add(kb.div(sq, count), eps))

        def out(ivs):
            v = kb.div(kb.sub(kb.load(x, at(ivs)), mean), denom)
            if affine:
                v = kb.mul(v, kb.load(affine[0], ivs))
            if len(affine) > 1:
                v = kb.add(v, kb.load(affine[1], ivs))
            kb.store(v, y, at(ivs))

        kb.nest(inner, out)

    kb.nest([n for d, n in enumerate(shape) if d not in axes], point)


def batchnorm(kb: KernelBuilder, k: KernelSpec) -> None:
    """y[n,c,...] = (x[n,c,...] - mean[c]) / sqrt(var[c] + eps) * scale[c] + bias[c]."""
    x, scale, bias, mean, var, y = kb.args
    eps = kb.const(k.a["eps"])

    def channel(nc):
        c = [nc[1]]
        m, s, b = kb.load(mean, c), kb.load(scale, c), kb.load(bias, c)
        denom = kb.sqrt(kb.add(kb.load(var, c), eps))

        def point(rest):
            v = kb.div(kb.sub(kb.load(x, [*nc, *rest]), m), denom)
            kb.store(kb.add(kb.mul(v, s), b), y, [*nc, *rest])

        kb.nest(k.out_shape[2:], point)

    kb.nest(k.out_shape[:2], channel)


def mse_loss(kb: KernelBuilder, k: KernelSpec) -> None:
    """y = (sum over all elements of (pred - target)^2) / numel."""
    pred, target, y = kb.args
    shape = k.in_shapes[0]

    def step(ivs, a):
        d = kb.sub(kb.load(pred, ivs), kb.load(target, ivs))
        return [kb.add(a[0], kb.mul(d, d))]

    (total,) = kb.reduce(shape, [kb.const(0.0)], step)
    kb.store(kb.div(total, kb.const(float(math.prod(shape)))), y, [])


def cross_entropy(kb: KernelBuilder, k: KernelSpec) -> None:
    """y = (1/N) sum_n ((m_n - x[n, labels[n]]) + log sum_c exp(x[n,c] - m_n)), m_n = max_c x[n,c]."""
    logits, labels, y = kb.args
    n_samples, n_classes = k.in_shapes[0]

    def sample(nv, accs):
        n = nv[0]
        label = kb.index_cast(kb.load(labels, [n]))

        # one pass finds the row maximum and picks the labelled logit; a label outside
        # [0, C) picks nothing, and the NaN it keeps makes the loss NaN
        def scan(cv, a):
            v = kb.load(logits, [n, cv[0]])
            return [kb.max(a[0], v), kb.select(kb.cmpi(cv[0], label, "eq"), v, a[1])]

        m, picked = kb.reduce([n_classes], [kb.const(-math.inf), kb.const(math.nan)], scan)
        (s,) = kb.reduce(
            [n_classes], [kb.const(0.0)],
            lambda cv, a: [kb.add(a[0], kb.exp(kb.sub(kb.load(logits, [n, cv[0]]), m)))],
        )
        return [kb.add(accs[0], kb.add(kb.sub(m, picked), kb.log(s)))]

    (total,) = kb.reduce([n_samples], [kb.const(0.0)], sample)
    kb.store(kb.div(total, kb.const(float(n_samples))), y, [])


WRITERS = {
    "softmax": softmax_like(log=False),
    "log_softmax": softmax_like(log=True),
    "layernorm": layernorm,
    "batchnorm": batchnorm,
    "mse_loss": mse_loss,
    "cross_entropy": cross_entropy,
}
