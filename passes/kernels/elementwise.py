"""Pointwise kernels: y[i] = f(x[i]) and y[i] = f(a[i'], b[i'']) with numpy broadcasting."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from vnnc.passes.kernels import KernelSpec
from vnnc.passes.kernels.builder import KernelBuilder
from xdsl.ir import SSAValue

Scalar = Callable[[KernelBuilder, KernelSpec, list[SSAValue]], SSAValue]


def broadcast_index(ivs: Sequence[SSAValue], in_shape: Sequence[int], out_rank: int) -> list:
    """The operand index that numpy broadcasting reads for output index `ivs`."""
    lead = out_rank - len(in_shape)
    return [0 if n == 1 else ivs[lead + d] for d, n in enumerate(in_shape)]


def pointwise(f: Scalar):
    def write(kb: KernelBuilder, k: KernelSpec) -> None:
        *ins, out = kb.args
        rank = len(k.out_shape)

        def body(ivs):
            xs = [kb.load(buf, broadcast_index(ivs, s, rank)) for buf, s in zip(ins, k.in_shapes)]
            kb.store(f(kb, k, xs), out, ivs)

        kb.nest(k.out_shape, body)

    return write


def _gelu(kb: KernelBuilder, k: KernelSpec, xs: list[SSAValue]) -> SSAValue:
    (x,) = xs
    half_x = kb.mul(kb.const(0.5), x)
    if k.a.get("approximate", "none") == "tanh":
        # x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        x3 = kb.mul(kb.mul(x, x), x)
        inner = kb.mul(kb.const(math.sqrt(2 / math.pi)), kb.add(x, kb.mul(kb.const(0.044715), x3)))
        return kb.mul(half_x, kb.add(kb.const(1.0), kb.tanh(inner)))
    # x/2 (1 + erf(x / sqrt 2))
    return kb.mul(half_x, kb.add(kb.const(1.0), kb.erf(kb.mul(x, kb.const(1 / math.sqrt(2))))))


def _leaky_relu(kb: KernelBuilder, k: KernelSpec, xs: list[SSAValue]) -> SSAValue:
    (x,) = xs
    # uge is true for NaN, so NaN passes through as PyTorch's does
    return kb.select(kb.cmp(x, kb.const(0.0), "uge"), x, kb.mul(kb.const(k.a["alpha"]), x))


def round_(kb: KernelBuilder, k: KernelSpec) -> None:
    """y = x rounded to the result's format (fp.round)."""
    x, y = kb.args
    kb.nest(k.out_shape, lambda ivs: kb.store(kb.load(x, ivs), y, ivs))


WRITERS = {
    "round": round_,
    "add": pointwise(lambda kb, k, xs: kb.add(*xs)),
    "sub": pointwise(lambda kb, k, xs: kb.sub(*xs)),
    "mul": pointwise(lambda kb, k, xs: kb.mul(*xs)),
    "div": pointwise(lambda kb, k, xs: kb.div(*xs)),
    "neg": pointwise(lambda kb, k, xs: kb.neg(xs[0])),
    "relu": pointwise(lambda kb, k, xs: kb.max(xs[0], kb.const(0.0))),
    "leaky_relu": pointwise(_leaky_relu),
    "sigmoid": pointwise(
        lambda kb, k, xs: kb.div(kb.const(1.0), kb.add(kb.const(1.0), kb.exp(kb.neg(xs[0]))))
    ),
    "tanh": pointwise(lambda kb, k, xs: kb.tanh(xs[0])),
    "gelu": pointwise(_gelu),
    "erf": pointwise(lambda kb, k, xs: kb.erf(xs[0])),
    "exp": pointwise(lambda kb, k, xs: kb.exp(xs[0])),
    "log": pointwise(lambda kb, k, xs: kb.log(xs[0])),
    "sqrt": pointwise(lambda kb, k, xs: kb.sqrt(xs[0])),
    # c > 0 ? a : b (ogt is false for NaN, which selects b)
    "where": pointwise(lambda kb, k, xs: kb.select(kb.cmp(xs[0], kb.const(0.0), "ogt"), xs[1], xs[2])),
}
