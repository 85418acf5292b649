"""lower-autograd: `ad.grad` and `ad.train_step` become spec ops (reverse-mode autodiff).

Expects: a module whose `func.func @main` holds spec ops and at most one ad op
(dialects/ad.py), every op verified.
Guarantees: no ad op remains; `@main` keeps its signature. The ops before the ad op (the
forward pass) are kept as they are, so every forward value the backward pass reads is
still there; the backward ops and, for a training step, the optimizer's updates are
inserted where the ad op was, and its results are replaced by the values they compute.

The backward pass is the textbook reverse sweep (Griewank & Walther, "Evaluating
Derivatives", ch. 3): an *active* value depends on some value differentiated against;
the loss's cotangent is 1; the forward ops are visited last to first, and each active
operand of an op whose result has a cotangent receives that op's vector-Jacobian
product (VJP) from the rule table below; contributions to a value used more than once
are summed by `spec.add` in the order they arrive. A value the loss does not depend on
has gradient 0. The table follows PyTorch's conventions: relu'(0) = 0, leaky_relu'(0) =
alpha, max-pool gradients go to the first maximum of each window, reduce_max shares
the gradient equally among tied maxima (as torch.amax), mse_loss is the mean over all
elements and cross_entropy the mean over the batch. The optimizer updates are
torch.optim's single-tensor formulas (SGD, momentum/Nesterov, Adam, AdamW).

The witness (kind `autograd`) lists every rule instance: the forward op, the operand it
differentiates and how many target ops it produced, and every parameter update. The
checker (verifier/autograd.py) re-derives the whole expansion from its own rule table
and requires the target stage to be exactly that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from vnnc.dialects import ad
from vnnc.dialects.shapes import broadcast
from vnnc.dialects.spec import OPS_BY_NAME, ConstantOp, SpecOp, attr_value, shape_of, tensor
from vnnc.passes import witness
from xdsl.builder import Builder, InsertPoint
from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import DenseIntOrFPElementsAttr, ModuleOp
from xdsl.ir import SSAValue
from xdsl.passes import ModulePass

NAME = "lower-autograd"

NOT_DIFFERENTIABLE = {("cross_entropy", 1), ("batchnorm", 3), ("batchnorm", 4)}
"""Operands without a derivative: integer labels, and batchnorm's running mean and variance
(buffers, as in torch's eval mode)."""


class AutogradError(Exception):
    pass


# ---------------------------------------------------------------- the emitter rules write into


class Emitter:
    """Appends spec ops before the ad op; `e("mul", a, b)` is a new spec.mul of a and b."""

    def __init__(self, builder: Builder):
        self.b = builder
        self.count = 0

    def __call__(self, name: str, *operands: SSAValue, **attrs: Any) -> SSAValue:
        op = OPS_BY_NAME[name](list(operands), **attrs)
        self.b.insert(op)
        self.count += 1
        return op.result

    def const(self, value, shape: tuple[int, ...] = ()) -> SSAValue:
        """An f32 constant: a number (splat over `shape`) or an array, rounded to f32."""
        array = np.asarray(value, np.float64)
        values = [float(array)] if not array.shape else array.reshape(-1).tolist()
        op = ConstantOp(DenseIntOrFPElementsAttr.from_list(tensor(array.shape or shape), values))
        self.b.insert(op)
        self.count += 1
        return op.result

    @staticmethod
    def shape(v: SSAValue) -> tuple[int, ...]:
        return shape_of(v)


@dataclass
class Forward:
    """One forward op as its VJP rule sees it: operands x, result y, cotangent dy, the
    operand shapes s and the op's properties a (defaults filled in)."""

    name: str
    x: list[SSAValue]
    y: SSAValue
    dy: SSAValue
    s: list[tuple[int, ...]]
    a: dict[str, Any]


def full_attrs(op: SpecOp) -> dict[str, Any]:
    defaults = {k: attr_value(p.default_value) for k, p in type(op).get_irdl_definition().properties.items()
                if p.default_value is not None}
    return {**defaults, **op.attrs()}


# ---------------------------------------------------------------- the rule table: VJP[op](e, f, k)
# d(loss)/d(operand k) in spec ops, from f.dy = d(loss)/d(result): e(op, *operands, **props) emits an op, e.const(v)
# a constant; f.x operands, f.y result, f.s operand shapes, f.a properties (defaults filled in). The checker
# (verifier/autograd.py) derives the same ops from its own copy of this table; the two must agree op for op.


def reshape_to(e, v, shape): return v if e.shape(v) == tuple(shape) else e("reshape", v, shape=tuple(shape))  # noqa: E704


def total(e, g, axes): return e("reduce_sum", g, axes=tuple(axes), keepdims=False) if axes else g  # over axes  # noqa: E704


def sum_to(e, g, shape):  # undo numpy broadcasting: sum over the added and the stretched axes
    n = len(e.shape(g)) - len(shape)
    return reshape_to(e, total(e, g, (*range(n), *(n + d for d, m in enumerate(shape) if m == 1 < e.shape(g)[n + d]))), shape)


def cut(e, v, lo, hi):  # v[lo:hi] in every axis
    return v if (lo, hi) == ((0,) * len(hi), e.shape(v)) else e("slice", v, starts=lo, ends=hi, steps=(1,) * len(hi))


def matmul(e, f, k):  # da = dy b^T, db = a^T dy (1-D operands promoted), summed over broadcast batch axes
    s = [(1, *f.s[0]) if len(f.s[0]) == 1 else f.s[0], (*f.s[1], 1) if len(f.s[1]) == 1 else f.s[1]]
    dy = reshape_to(e, f.dy, broadcast("matmul", s[0][:-2], s[1][:-2]) + (s[0][-2], s[1][-1]))
    r = len(s[1 - k])
    t = e("transpose", reshape_to(e, f.x[1 - k], s[1 - k]), perm=(*range(r - 2), r - 1, r - 2))
    return reshape_to(e, sum_to(e, e("matmul", *((dy, t) if k == 0 else (t, dy))), s[k]), f.s[k])


def linear(e, f, k):  # y = x W^T + b: dx = dy W; dW = dy^T x over the flattened leading axes; db = sum dy
    if k != 1:
        return total(e, f.dy, range(len(f.s[0]) - 1)) if k else e("linear", f.dy, e("transpose", f.x[1], perm=(1, 0)))
    m = math.prod(f.s[0][:-1])
    return e("linear", *[e("transpose", reshape_to(e, v, (m, n)), perm=(1, 0)) for v, n in zip((f.dy, f.x[0]), f.s[1])])


def layernorm(e, f, k):  # xhat = (x - mean) r, r = (var + eps)^-1/2, g = dy [* scale]: dx = r (g - mean g - xhat
    # mean(g xhat)), dscale = sum dy xhat, dbias = sum dy (means over axes, sums over the other axes)
    s, axes = f.s[0], tuple(sorted(d % len(f.s[0]) for d in f.a["axes"]))
    kept, mean = [d for d in range(len(s)) if d not in axes], lambda v: e("reduce_mean", v, axes=axes, keepdims=True)
    if k == 2:
        return total(e, f.dy, kept)
    xc = e("sub", f.x[0], mean(f.x[0]))
    r = e("div", e.const(1.0), e("sqrt", e("add", mean(e("mul", xc, xc)), e.const(f.a["eps"]))))
    xhat = e("mul", xc, r)
    if k == 1:
        return total(e, e("mul", f.dy, xhat), kept)
    g = e("mul", f.dy, reshape_to(e, f.x[1], [n if d in axes else 1 for d, n in enumerate(s)])) if len(f.x) > 1 else f.dy
    return e("mul", r, e("sub", e("sub", g, mean(g)), e("mul", xhat, mean(e("mul", g, xhat)))))


def batchnorm(e, f, k):  # y = (x - mean) inv scale + bias, inv = (var + eps)^-1/2 per channel: dx = dy scale inv,
    # dscale = sum dy (x - mean) inv, dbias = sum dy (sums over all axes but 1); mean and var are buffers
    others, chan = (0, *range(2, len(f.s[0]))), [n if d == 1 else 1 for d, n in enumerate(f.s[0])]
    if k == 2:
        return total(e, f.dy, others)
    inv = e("div", e.const(1.0), e("sqrt", e("add", f.x[4], e.const(f.a["eps"]))))
    if k == 0:
        return e("mul", f.dy, e("reshape", e("mul", f.x[1], inv), shape=chan))
    return e("mul", total(e, e("mul", f.dy, e("sub", f.x[0], e("reshape", f.x[3], shape=chan))), others), inv)


def gelu(e, f, k):
    x, c, b = f.x[0], e.const, math.sqrt(2 / math.pi)
    if f.a["approximate"] == "tanh":  # y' = (1 + t)/2 + x/2 (1 - t^2) b (1 + 3 0.044715 x^2), t = tanh(b (x + ...))
        t = e("tanh", e("mul", c(b), e("add", x, e("mul", c(0.044715), e("mul", e("mul", x, x), x)))))
        return e("mul", f.dy, e("add", e("mul", c(0.5), e("add", c(1.0), t)), e("mul", e("mul", e("mul", c(0.5), x), e(
            "sub", c(1.0), e("mul", t, t))), e("mul", c(b), e("add", c(1.0), e("mul", c(3 * 0.044715), e("mul", x, x)))))))
    cdf = e("mul", c(0.5), e("add", c(1.0), e("erf", e("mul", x, c(1 / math.sqrt(2))))))  # y' = Phi(x) + x phi(x)
    return e("mul", f.dy, e("add", cdf, e("mul", x, e("mul", c(1 / math.sqrt(2 * math.pi)), e("exp", e(
        "mul", c(-0.5), e("mul", x, x)))))))


def reduce_(e, f, k):  # sum: dy broadcast back; mean: / count; max: dy shared by the maxima (m - x > 0 ? 0 : 1)
    axes = tuple(sorted(d % len(f.s[0]) for d in f.a["axes"]))
    keep = [1 if d in axes else n for d, n in enumerate(f.s[0])]  # dy with the reduced axes kept
    if f.name == "reduce_max":
        hit = e("where", e("sub", reshape_to(e, f.y, keep), f.x[0]), e.const(0.0), e.const(1.0))
        return e("mul", e("div", reshape_to(e, f.dy, keep), e("reduce_sum", hit, axes=axes, keepdims=True)), hit)
    g = e("where", e.const(1.0), reshape_to(e, f.dy, keep), f.x[0])  # dy broadcast back: 1 > 0 selects it
    return g if f.name == "reduce_sum" else e("div", g, e.const(float(math.prod(f.s[0][d] for d in axes))))


def conv_input(e, dy, w, shape, a):  # dx[h] collects dy[i] w[p] where i s + p d - pad = h: conv2d (stride 1) of dy
    # spread by the strides, at (kernel - 1) d - pad, over the flipped kernel, in and out channels swapped per group
    (o, cg, *kern), g, n, st = e.shape(w), a["groups"], e.shape(dy), a["strides"]
    lo = [(kern[d] - 1) * a["dilations"][d] - a["pads"][d] for d in (0, 1)]  # where dy's window 0 lands
    first, last = zip(*[(max(0, -(lo[d] // st[d])), min(n[2 + d], -(-(shape[2 + d] + a["pads"][d]) // st[d]))) for d in (
        0, 1)])  # the windows that reach x
    z = e("slice_scatter", cut(e, dy, (0, 0, *first), (*n[:2], *last)), shape=(*n[:2], *(shape[2 + d] + lo[d] + a[
        "pads"][d] for d in (0, 1))), starts=(0, 0, *(lo[d] + first[d] * st[d] for d in (0, 1))), steps=(1, 1, *st))
    wf = e("slice", w, starts=(0, 0, kern[0] - 1, kern[1] - 1), ends=(o, cg, -1, -1), steps=(1, 1, -1, -1))
    wf = e("transpose", reshape_to(e, wf, (g, o // g, cg, *kern)), perm=(0, 2, 1, 3, 4))
    return e("conv2d", z, reshape_to(e, wf, (g * cg, o // g, *kern)), dilations=a["dilations"], groups=g)


def conv_weight(e, x, dy, kern, a):  # dw[o, c] = conv2d of x over dy, batch and channel axes swapped, strides and
    # dilations swapped, cut to the kernel; per group
    g, (n, c, *hw), (_, o, *ohw) = a["groups"], e.shape(x), e.shape(dy)
    parts = [e("transpose", cut(e, e("conv2d", *[e("transpose", cut(e, v, (0, t * m, 0, 0), (n, (t + 1) * m, *s)), perm=(
        1, 0, 2, 3)) for v, m, s in ((x, c // g, hw), (dy, o // g, ohw))], strides=a["dilations"], dilations=a["strides"],
        pads=a["pads"]), (0, 0, 0, 0), (c // g, o // g, *kern)), perm=(1, 0, 2, 3)) for t in range(g)]
    return parts[0] if g == 1 else e("concat", *parts, axis=0)


def avgpool(e, f, k):  # dx: dy / count (avgpool2d's divisor of each window) spread back by conv_input, a ones kernel
    a, (_, c, *hw) = f.a, f.s[0]
    count = [[sum(lo <= i * a["strides"][d] + p - a["pads"][d] < hi for p in range(a["kernel"][d])) for i in range(e.shape(
        f.dy)[2 + d])] for d, (lo, hi) in enumerate([(-a["pads"][d], hw[d] + a["pads"][d + 2]) if a["count_include_pad"]
                                                    else (0, hw[d]) for d in (0, 1)])]
    return conv_input(e, e("div", f.dy, e.const(np.outer(*count)[None, None])), e.const(1.0, (c, 1, *a["kernel"])),
                      f.s[0], {**a, "dilations": (1, 1), "groups": c})


def maxpool(e, f, k):  # dy goes to the first tap of each window equal to its maximum y: with v_t tap t's values (x
    # padded with -inf), won_t = (y - v_t > 0 ? 0 : 1) left_t, left_t+1 = left_t - won_t; dx = sum_t dy won_t put at t
    a, s, out = f.a, f.s[0], e.shape(f.y)
    reach = [(out[2 + d] - 1) * a["strides"][d] + (a["kernel"][d] - 1) * a["dilations"][d] + 1 for d in (0, 1)]
    canvas = (*s[:2], *(max(s[2 + d] + a["pads"][d], reach[d]) for d in (0, 1)))
    put = lambda v, at, st: e("slice_scatter", v, shape=canvas, starts=(0, 0, *at), steps=(1, 1, *st))
    xp = e("where", put(e("where", e.const(1.0), e.const(1.0), f.x[0]), a["pads"][:2], (1, 1)), put(f.x[0], a["pads"][:2], (1, 1)),
           e("div", e.const(-1.0), e.const(0.0)))  # -inf as -1/0: xDSL reads a -inf constant back wrongly
    left, dx = e.const(1.0), None
    for p, q in [(p, q) for p in range(a["kernel"][0]) for q in range(a["kernel"][1])]:
        at = (p * a["dilations"][0], q * a["dilations"][1])
        v = e("slice", xp, starts=(0, 0, *at), ends=(*out[:2], *(at[d] + (out[2 + d] - 1) * a["strides"][d] + 1 for d in (
            0, 1))), steps=(1, 1, *a["strides"]))
        won = e("mul", e("where", e("sub", f.y, v), e.const(0.0), e.const(1.0)), left)
        left, g = e("sub", left, won), put(e("mul", f.dy, won), at, a["strides"])
        dx = g if dx is None else e("add", dx, g)
    return cut(e, dx, (0, 0, *a["pads"][:2]), (*s[:2], *(a["pads"][d] + s[2 + d] for d in (0, 1))))


def concat(e, f, k):  # operand k is dy's slice at its offset along axis
    axis, out = f.a["axis"] % len(f.s[0]), e.shape(f.y)
    lo = sum(s[axis] for s in f.s[:k])
    return cut(e, f.dy, tuple(lo if d == axis else 0 for d in range(len(out))),
               tuple(lo + f.s[k][axis] if d == axis else n for d, n in enumerate(out)))


VJP = {
    "add": lambda e, f, k: sum_to(e, f.dy, f.s[k]), "neg": lambda e, f, k: e("neg", f.dy),
    "sub": lambda e, f, k: sum_to(e, e("neg", f.dy) if k else f.dy, f.s[k]),
    "mul": lambda e, f, k: sum_to(e, e("mul", f.dy, f.x[1 - k]), f.s[k]),
    "div": lambda e, f, k: sum_to(e, e("neg", e("div", e("mul", f.dy, f.x[0]), e("mul", f.x[1], f.x[1]))) if k else e(
        "div", f.dy, f.x[1]), f.s[k]),  # 1/b, -a/b^2
    "relu": lambda e, f, k: e("where", f.x[0], f.dy, e.const(0.0)),  # x > 0 ? dy : 0
    "leaky_relu": lambda e, f, k: e("where", f.x[0], f.dy, e("mul", f.dy, e.const(f.a["alpha"]))),
    "sigmoid": lambda e, f, k: e("mul", e("mul", f.dy, e("sub", e.const(1.0), f.y)), f.y),  # (1 - y) y
    "tanh": lambda e, f, k: e("mul", f.dy, e("sub", e.const(1.0), e("mul", f.y, f.y))),  # 1 - y^2
    "exp": lambda e, f, k: e("mul", f.dy, f.y), "log": lambda e, f, k: e("div", f.dy, f.x[0]),
    "sqrt": lambda e, f, k: e("div", f.dy, e("mul", e.const(2.0), f.y)),  # 1/(2y)
    "erf": lambda e, f, k: e("mul", e("mul", e.const(2 / math.sqrt(math.pi)), e("exp", e("neg", e(  # 2 e^(-x^2)/sqrt pi
        "mul", f.x[0], f.x[0])))), f.dy),
    "softmax": lambda e, f, k: e("mul", f.y, e("sub", f.dy, e("reduce_sum", e("mul", f.dy, f.y), axes=(  # y (dy - sum dy y)
        f.a["axis"],), keepdims=True))),
    "log_softmax": lambda e, f, k: e("sub", f.dy, e("mul", e("exp", f.y), e("reduce_sum", f.dy, axes=(  # dy - e^y sum dy
        f.a["axis"],), keepdims=True))),
    "matmul": matmul, "linear": linear, "layernorm": layernorm, "batchnorm": batchnorm, "concat": concat, "gelu": gelu,
    "maxpool2d": maxpool, "avgpool2d": avgpool, "reduce_sum": reduce_, "reduce_mean": reduce_, "reduce_max": reduce_,
    "conv2d": lambda e, f, k: total(e, f.dy, (0, 2, 3)) if k == 2 else conv_weight(e, f.x[0], f.dy, f.s[1][2:], f.a) if k
    else conv_input(e, f.dy, f.x[1], f.s[0], f.a),
    "global_avgpool": lambda e, f, k: e("div", e("where", e.const(1.0), f.dy, f.x[0]), e.const(float(math.prod(f.s[0][2:])))),
    **dict.fromkeys(("flatten", "reshape"), lambda e, f, k: e("reshape", f.dy, shape=f.s[0])),
    "transpose": lambda e, f, k: e("transpose", f.dy, perm=tuple(f.a["perm"].index(d) for d in range(len(f.s[0])))),
    "slice": lambda e, f, k: e("slice_scatter", f.dy, shape=f.s[0], starts=f.a["starts"], steps=f.a["steps"]),
    "mse_loss": lambda e, f, k: e("mul", e("mul", e.const((-2.0 if k else 2.0) / math.prod(f.s[0])), e(  # ±(2/n) (p - t) dy
        "sub", f.x[0], f.x[1])), f.dy),
    "cross_entropy": lambda e, f, k: e("mul", e("sub", e("softmax", f.x[0], axis=1), e(  # (softmax - onehot) dy / N
        "one_hot", f.x[1], classes=f.s[0][1])), e("div", f.dy, e.const(float(f.s[0][0])))),
}


def update(e, kind, a, p, g, state, hyper):  # torch.optim's single-tensor step of p with gradient g: (p', state')
    lr, wd = hyper[0], a["weight_decay"]
    if kind != "adamw" and wd:
        g = e("add", g, e("mul", e.const(wd), p))  # g + wd p
    if kind == "sgd":
        return e("sub", p, e("mul", lr, g)), []  # p - lr g
    if kind == "momentum":  # buf = momentum buf + g; p - lr (g + momentum buf if nesterov else buf)
        buf = e("add", e("mul", e.const(a["momentum"]), state[0]), g)
        return e("sub", p, e("mul", lr, e("add", g, e("mul", e.const(a["momentum"]), buf)) if a["nesterov"] else buf)), [buf]
    if kind == "adamw" and wd:
        p = e("mul", p, e("sub", e.const(1.0), e("mul", lr, e.const(wd))))  # p (1 - lr wd)
    m = e("add", state[0], e("mul", e.const(1 - a["beta1"]), e("sub", g, state[0])))  # m + (1 - beta1) (g - m)
    r = e("sqrt", e("add", e("mul", e("mul", state[1], state[1]), e.const(a["beta2"])), e(  # v carried as r = sqrt(v):
        "mul", e("mul", e.const(1 - a["beta2"]), g), g)))  # r' = sqrt(beta2 r^2 + (1 - beta2) g^2)
    denom = e("add", e("div", r, e("sqrt", hyper[2])), e.const(a["eps"]))  # sqrt(v/bc2) + eps
    return e("sub", p, e("div", e("mul", e("div", lr, hyper[1]), m), denom)), [m, r]  # p - (lr/bc1) m / denom


# ---------------------------------------------------------------- the pass


def differentiate(e: Emitter, body: list, loss: SSAValue, wrt: tuple[SSAValue, ...],
                  claims: list[dict]) -> dict[SSAValue, SSAValue]:
    """Cotangents of every active value the loss depends on (reverse sweep over `body`)."""
    active = set(wrt)
    for op in body:
        if isinstance(op, SpecOp) and any(v in active for k, v in enumerate(op.operands)
                                          if (op.short_name(), k) not in NOT_DIFFERENTIABLE):
            active.add(op.result)
    cotangent: dict[SSAValue, SSAValue] = {}
    if loss in active:
        cotangent[loss] = e.const(1.0)
    for index in range(len(body) - 1, -1, -1):
        op = body[index]
        if not isinstance(op, SpecOp) or op.result not in cotangent:
            continue
        name = op.short_name()
        f = Forward(name, list(op.operands), op.result, cotangent[op.result],
                    [shape_of(v) for v in op.operands], full_attrs(op))
        for k, x in enumerate(op.operands):
            if x not in active or (name, k) in NOT_DIFFERENTIABLE:
                continue
            if name not in VJP:
                raise AutogradError(f"{NAME}: spec.{name} has no derivative rule")
            g = VJP[name](e, f, k)
            cotangent[x] = e("add", cotangent[x], g) if x in cotangent else g
            claims.append({"forward": index, "op": op.name, "operand": k, "target": len(body) + e.count})
    return cotangent


def _gradient(e: Emitter, cotangent: dict, v: SSAValue) -> SSAValue:
    return cotangent[v] if v in cotangent else e.const(0.0, shape_of(v))


def lower(fn: func.FuncOp) -> dict:
    block = fn.body.block
    ad_ops = [op for op in block.ops if op.name.startswith("ad.")]
    if len(ad_ops) > 1:
        raise AutogradError(f"{NAME}: @main holds {len(ad_ops)} ad ops; one is supported")
    if not ad_ops:
        return {"backward": []}
    ad_op = ad_ops[0]
    body = []
    for op in block.ops:
        if op is ad_op:
            break
        body.append(op)
    e = Emitter(Builder(InsertPoint.before(ad_op)))
    backward: list[dict] = []
    if isinstance(ad_op, ad.GradOp):
        cotangent = differentiate(e, body, ad_op.loss, ad_op.wrt, backward)
        results = [_gradient(e, cotangent, v) for v in ad_op.wrt]
    else:
        hyper, params, state = ad_op.split()
        kind = ad_op.kind()
        cotangent = differentiate(e, body, ad_op.inputs[0], params, backward)
        grads = [_gradient(e, cotangent, p) for p in params]
        n, n_state = len(params), len(ad.STATE_NAMES[kind])
        steps = [update(e, kind, ad_op.attrs(), p, g, [state[j * n + i] for j in range(n_state)], list(hyper))
                 for i, (p, g) in enumerate(zip(params, grads))]
        # new parameters, then the state in the operands' layout: every parameter's first state tensor, ...
        results = [p for p, _ in steps] + [s[j] for j in range(n_state) for _, s in steps]
    for old, new in zip(ad_op.results, results):
        old.replace_all_uses_with(new)
    ad_op.detach()
    ad_op.erase()
    return {"backward": backward}


@dataclass(frozen=True)
class LowerAutogradPass(ModulePass):
    name = NAME

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        mains = [f for f in op.ops if isinstance(f, func.FuncOp) and f.sym_name.data == "main"]
        if len(mains) != 1:
            raise AutogradError(f"{NAME}: expected one func.func @main")
        for f in op.ops:
            if isinstance(f, func.FuncOp) and f is not mains[0] and any(
                    o.name.startswith("ad.") for o in f.walk()):
                raise AutogradError(f"{NAME}: ad ops are supported in @main only")
        witness.record(NAME, "autograd", lower(mains[0]))
