"""Differentiated programs (docs/WITNESS.md §5.6). `ad-wellformed` (pass import): a spec program, checked as spec-wellformed
does, with one ad op typed as the ad dialect says. `autograd` (pass lower-autograd): the target is the source with the ad op
replaced, op by op (`Target`), by the reverse mode (Griewank & Walther, "Evaluating Derivatives", ch. 3) of the rule table
VJP (tested against mpmath central differences) and the optimizer's `update`."""

from __future__ import annotations

import dataclasses
import json
import math
from types import SimpleNamespace

import numpy as np
from vnnc.verifier import wellformed
from vnnc.verifier.check import Reject
from vnnc.verifier.mlir import Block, Dense, Op, Type, parse
from vnnc.verifier.semantics import _broadcast, full_attrs, infer, main_function, plain

OPTIMIZERS = {  # kind -> (per-step scalar operands, state tensors per parameter, properties)
    "sgd": (1, 0, {"weight_decay": float}), "momentum": (1, 1, {"momentum": float, "nesterov": bool, "weight_decay": float}),
    **dict.fromkeys(("adam", "adamw"), (3, 2, {"beta1": float, "beta2": float, "eps": float, "weight_decay": float}))}
NOT_DIFFERENTIABLE = {("cross_entropy", 1), ("batchnorm", 3), ("batchnorm", 4)}  # labels, running statistics

# The rule table: VJP[op](e, f, k) = d(loss)/d(operand k) in spec ops, from f.dy = d(loss)/d(result): e(op, *operands,
# **props) emits an op, e.const(v) a constant; f.x operands, f.y result, f.s operand shapes, f.a properties (defaulted)


def reshape_to(e, v, shape): return v if e.shape(v) == tuple(shape) else e("reshape", v, shape=tuple(shape))  # noqa: E704


def total(e, g, axes): return e("reduce_sum", g, axes=tuple(axes), keepdims=False) if axes else g  # over axes  # noqa: E704


def sum_to(e, g, shape):  # undo numpy broadcasting: sum over the added and the stretched axes
    n = len(e.shape(g)) - len(shape)
    return reshape_to(e, total(e, g, (*range(n), *(n + d for d, m in enumerate(shape) if m == 1 < e.shape(g)[n + d]))), shape)


def cut(e, v, lo, hi):  # v[lo:hi] in every axis
    return v if (lo, hi) == ((0,) * len(hi), e.shape(v)) else e("slice", v, starts=lo, ends=hi, steps=(1,) * len(hi))


def matmul(e, f, k):  # da = dy b^T, db = a^T dy (1-D operands promoted), summed over broadcast batch axes
    s = [(1, *f.s[0]) if len(f.s[0]) == 1 else f.s[0], (*f.s[1], 1) if len(f.s[1]) == 1 else f.s[1]]
    dy = reshape_to(e, f.dy, _broadcast("matmul", s[0][:-2], s[1][:-2]) + (s[0][-2], s[1][-1]))
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


# ---------------------------------------------------------------- the two witness kinds


def ad_op(fn: Op):  # (index, ad op, (optimizer entry, per-step scalars, values, state)) of @main, its types checked
    ops, found = fn.regions[0][0].ops, [i for i, op in enumerate(fn.regions[0][0].ops) if op.name.startswith("ad.")]
    if len(found) != 1:
        if found:
            raise Reject("@main holds more than one ad op")
        return len(ops) - 1, None, None
    op = ops[found[0]]
    h, n_state, props = (0, 0, {}) if op.name == "ad.grad" else OPTIMIZERS.get(op.props.get("optimizer"), (0, 0, None))
    n, t, v = (len(op.operands) - 1 - h) // (1 + n_state), op.operand_types, op.operands[1:]
    if props is None or op.name not in ("ad.grad", "ad.train_step") or set(op.props) != {*props, *["optimizer"] * h} \
            or any(type(plain(k, op.props[k])) is not kind for k, kind in props.items()) or (h and not n) or t[:1 + h] \
            != [Type("tensor", (), "f32")] * (1 + h) or op.result_types != t[1 + h:] or t[1 + h:] != t[1 + h:1 + h + n] \
            * (1 + n_state) or any(x.elem != "f32" for x in t[1 + h:]):
        raise Reject(f"{op.name}: not a known ad op with its properties, tensor<f32> loss and scalars, typed values")
    return found[0], op, ((h, n_state, props), v[:h], v[h:h + n], v[h + n:])


def check_import(source: bytes, target: str, witness: dict) -> None:
    # as spec-wellformed checks an import, @main's one ad op checked by ad_op and left out
    def spec_part(fn: Op) -> Op:
        (_, op, _), block = ad_op(fn), fn.regions[0][0]
        ops = [o for o in block.ops if o is not op]
        return dataclasses.replace(fn, regions=[[Block(block.args, ops)]])

    wellformed.check(source, target, witness, spec_part)


class Target:  # the target @main's ops in order: `expect` takes the next one, which must be the derived op
    def __init__(self, fn: Op):
        self.ops, self.pos, self.types = fn.regions[0][0].ops, 0, dict(fn.regions[0][0].args)
        self.shape = lambda v: self.types[v].shape

    def expect(self, name: str, operands: list, t: Type, props) -> str:
        op = self.ops[self.pos] if self.pos < len(self.ops) else None
        if op is None or (op.name, op.operands, op.result_types, op.regions, op.attrs) != (name, operands, [t], [], {}) \
                or not props(op.props):
            raise Reject(f"target op {self.pos} ({op.name if op else 'the end'}) is not the expected {name}{operands}")
        self.pos, self.types[op.results[0]] = self.pos + 1, t
        return op.results[0]

    def __call__(self, name: str, *operands: str, **attrs):
        t = Type("tensor", infer(name, [self.shape(v) for v in operands], attrs), "f32")
        return self.expect(f"spec.{name}", list(operands), t, lambda p: full_attrs(name, {
            k: plain(k, v) for k, v in p.items()}) == full_attrs(name, attrs))

    def const(self, value, shape: tuple = ()) -> str:
        value, t = np.broadcast_to(np.float32(value), np.shape(value) or shape), Type("tensor", np.shape(value) or shape, "f32")
        return self.expect("spec.constant", [], t, lambda p: bits(p) == bits({"value": Dense(value, t)}))


def bits(props: dict) -> dict:  # properties, dense values as their type and float32 bytes
    return {k: (v.type, v.values.astype(np.float32).tobytes()) if isinstance(v, Dense) else v for k, v in props.items()}


def check_lower(source: str, target: str, witness: dict) -> None:
    src, tgt = main_function(parse(source)), main_function(parse(target))
    if src.props != tgt.props or [t for _, t in src.regions[0][0].args] != [t for _, t in tgt.regions[0][0].args]:
        raise Reject("lower-autograd: @main's signature, names or attributes changed")
    ops, e, (index, op, parts), claims = src.regions[0][0].ops, Target(tgt), ad_op(src), []
    env = {s: t for (s, _), (t, _) in zip(src.regions[0][0].args, tgt.regions[0][0].args)}  # source -> target value

    def copy(kept: list) -> None:  # ops kept as they are
        for sop in kept:
            env[sop.results[0]] = e.expect(sop.name, [env[v] for v in sop.operands], sop.result_types[0], lambda p, o=sop: bits(p) == bits(o.props))

    copy(ops[:index])
    if op is not None:  # reverse mode: the cotangent of each active value the loss needs, in target values
        (_, n_state, props), hyper, values, state = parts
        active = set(values)
        for sop in ops[:index]:
            if any(v in active for k, v in enumerate(sop.operands) if (sop.name[5:], k) not in NOT_DIFFERENTIABLE):
                active.add(sop.results[0])
        ct = {op.operands[0]: e.const(1.0)} if op.operands[0] in active else {}
        for i in range(index - 1, -1, -1):
            sop, name = ops[i], ops[i].name[5:]
            if sop.results[0] not in ct or not sop.operands:
                continue
            f = SimpleNamespace(name=name, x=[env[v] for v in sop.operands], y=env[sop.results[0]], dy=ct[sop.results[
                0]], s=[t.shape for t in sop.operand_types], a=full_attrs(name, {k: plain(k, v) for k, v in sop.props.items()}))
            for k, x in enumerate(sop.operands):
                if x in active and (name, k) not in NOT_DIFFERENTIABLE:  # an op without a rule: a KeyError, a rejection
                    g = VJP[name](e, f, k)
                    ct[x] = e("add", ct[x], g) if x in ct else g
                    claims.append({"forward": i, "op": sop.name, "operand": k, "target": e.pos})
        results, a = [ct[v] if v in ct else e.const(0.0, e.shape(env[v])) for v in values], {k: plain(k, op.props[k]) for k in props}
        steps = [update(e, op.props["optimizer"], a, env[values[i]], g, [env[state[j * len(values) + i]] for j in range(
            n_state)], [env[h] for h in hyper]) for i, g in enumerate(results if op.name == "ad.train_step" else [])]
        env.update(zip(op.results, [p for p, _ in steps] + [s[j] for j in range(n_state) for _, s in steps] if steps else results))
    copy(ops[index + 1:-1])
    if e.ops[e.pos:] != [dataclasses.replace(ops[-1], operands=[env[v] for v in ops[-1].operands])]:
        raise Reject(f"target op {e.pos}: @main must end by returning the derived values")
    if json.dumps(witness["claims"], sort_keys=True) != json.dumps({"backward": claims}, sort_keys=True):
        raise Reject("lower-autograd: the claimed rule instances differ from the derived ones")


def check(source, target, witness: dict) -> None:
    if (witness["kind"], witness["pass"]) not in (("ad-wellformed", "import"), ("autograd", "lower-autograd")):
        raise Reject(f"{witness['kind']} is not a witness kind of pass {witness['pass']}")
    return (check_import if witness["pass"] == "import" else check_lower)(source, target, witness)
