"""The checker's VJP rule table (verifier/autograd.py, VJP and update) against the derivative it
claims: for every spec op, at random points, <VJP(dy), v> must equal the directional
derivative d/dt <dy, op(x + t v)> at t = 0, computed by a central difference in mpmath at 40
digits on a forward reference written here with mpmath (independent of the checker's float64
semantics). The rules are evaluated numerically by running their spec ops in the checker's
own float64 evaluator (semantics.apply)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import mpmath as mp
import numpy as np
import pytest
from vnnc.verifier import autograd
from vnnc.verifier.semantics import apply, full_attrs, infer


class Numeric:
    """The emitter the rules write into, evaluating each spec op in float64."""

    def __call__(self, name, *xs, **attrs):
        return apply(name, list(xs), attrs)

    def const(self, value, shape=()):
        return np.broadcast_to(np.asarray(value, np.float64), np.shape(value) or shape).copy()

    @staticmethod
    def shape(v):
        return tuple(np.shape(v))


# ---------------------------------------------------------------- the forward reference, in mpmath

def vec(f):
    return np.vectorize(f, otypes=[object])


EXP, LOG, SQRT, TANH, ERF = vec(mp.exp), vec(mp.log), vec(mp.sqrt), vec(mp.tanh), vec(mp.erf)
NEG_INF = mp.mpf("-inf")


def pad(x, a, value):
    top, left, bottom, right = a["pads"]
    n, c, h, w = x.shape
    out = np.full((n, c, h + top + bottom + 8, w + left + right + 8), value, dtype=object)  # room for ceil mode
    out[:, :, top:top + h, left:left + w] = x
    return out


def windows(x, kernel, a, out_shape):
    """Each output position's taps, as a list over (p, q) of [N, C, OH, OW] arrays of padded x."""
    (s0, s1), (d0, d1), (oh, ow) = a["strides"], a.get("dilations", (1, 1)), out_shape[2:]
    return [[x[:, :, p * d0:p * d0 + (oh - 1) * s0 + 1:s0, q * d1:q * d1 + (ow - 1) * s1 + 1:s1]
             for q in range(kernel[1])] for p in range(kernel[0])]


def conv2d(x, w, b, a, shape):
    cg, og = w.shape[1], w.shape[0] // a["groups"]
    taps = windows(pad(x, a, mp.mpf(0)), w.shape[2:], a, shape)
    y = np.zeros(shape, dtype=object) + mp.mpf(0)
    for o in range(w.shape[0]):
        for c in range(cg):
            for p in range(w.shape[2]):
                for q in range(w.shape[3]):
                    y[:, o] += taps[p][q][:, (o // og) * cg + c] * w[o, c, p, q]
        if b is not None:
            y[:, o] += b[o]
    return y


def pool(x, a, shape, kind):
    k = a["kernel"]
    if kind == "max":
        taps = [t for row in windows(pad(x, a, NEG_INF), k, a, shape) for t in row]
        y = taps[0]
        for t in taps[1:]:
            y = np.where(t > y, t, y)
        return y
    ones = np.ones(x.shape, dtype=object)
    total = sum(t for row in windows(pad(x, a, mp.mpf(0)), k, a, shape) for t in row)
    if a["count_include_pad"]:  # taps inside x or its pads (never the ceil-mode overhang)
        top, left, bottom, right = a["pads"]
        inside = np.zeros((1, 1, x.shape[2] + top + bottom + 8, x.shape[3] + left + right + 8), dtype=object)
        inside[:, :, :x.shape[2] + top + bottom, :x.shape[3] + left + right] = 1
        count = sum(t for row in windows(inside, k, a, shape) for t in row)
    else:
        count = sum(t for row in windows(pad(ones, a, 0), k, a, shape) for t in row)
    return total / count


def layernorm(x, affine, a):
    axes = tuple(sorted(d % x.ndim for d in a["axes"]))
    n = math.prod(x.shape[d] for d in axes)
    mean = x.sum(axis=axes, keepdims=True) / n
    var = ((x - mean) ** 2).sum(axis=axes, keepdims=True) / n
    y = (x - mean) / SQRT(var + a["eps"])
    inner = [x.shape[d] if d in axes else 1 for d in range(x.ndim)]
    for k, v in enumerate(affine):
        y = y * v.reshape(inner) if k == 0 else y + v.reshape(inner)
    return y


def batchnorm(x, scale, bias, mean, var, a):
    c = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    return (x - mean.reshape(c)) / SQRT(var.reshape(c) + a["eps"]) * scale.reshape(c) + bias.reshape(c)


def softmax(x, axis, log):
    m = x.max(axis=axis, keepdims=True)
    e = EXP(x - m)
    s = e.sum(axis=axis, keepdims=True)
    return x - m - LOG(s) if log else e / s


def gelu(x, approximate):
    if approximate == "tanh":
        return x / 2 * (1 + TANH(mp.sqrt(2 / mp.pi) * (x + mp.mpf("0.044715") * x ** 3)))
    return x / 2 * (1 + ERF(x / mp.sqrt(2)))


def cross_entropy(z, t):
    m = z.max(axis=1)
    lse = m + LOG(EXP(z - m[:, None]).sum(axis=1))
    return np.array((lse - z[np.arange(len(t)), t]).sum() / len(t), dtype=object)


def take(x, a):
    for d in range(x.ndim):
        x = np.take(x, list(range(a["starts"][d], a["ends"][d], a["steps"][d])), axis=d)
    return x


FORWARD = {
    "add": lambda x, a, s: x[0] + x[1], "sub": lambda x, a, s: x[0] - x[1],
    "mul": lambda x, a, s: x[0] * x[1], "div": lambda x, a, s: x[0] / x[1], "neg": lambda x, a, s: -x[0],
    "relu": lambda x, a, s: np.where(x[0] > 0, x[0], mp.mpf(0)),
    "leaky_relu": lambda x, a, s: np.where(x[0] >= 0, x[0], a["alpha"] * x[0]),
    "sigmoid": lambda x, a, s: 1 / (1 + EXP(-x[0])), "tanh": lambda x, a, s: TANH(x[0]),
    "erf": lambda x, a, s: ERF(x[0]), "exp": lambda x, a, s: EXP(x[0]), "log": lambda x, a, s: LOG(x[0]),
    "sqrt": lambda x, a, s: SQRT(x[0]), "gelu": lambda x, a, s: gelu(x[0], a["approximate"]),
    "softmax": lambda x, a, s: softmax(x[0], a["axis"], False),
    "log_softmax": lambda x, a, s: softmax(x[0], a["axis"], True),
    "matmul": lambda x, a, s: np.matmul(x[0], x[1]),
    "linear": lambda x, a, s: np.matmul(x[0], x[1].T) + (x[2] if len(x) == 3 else 0),
    "layernorm": lambda x, a, s: layernorm(x[0], x[1:], a),
    "batchnorm": lambda x, a, s: batchnorm(*x, a),
    "conv2d": lambda x, a, s: conv2d(x[0], x[1], x[2] if len(x) == 3 else None, a, s),
    "maxpool2d": lambda x, a, s: pool(x[0], a, s, "max"), "avgpool2d": lambda x, a, s: pool(x[0], a, s, "avg"),
    "global_avgpool": lambda x, a, s: x[0].sum(axis=(2, 3), keepdims=True) / (x[0].shape[2] * x[0].shape[3]),
    "flatten": lambda x, a, s: x[0].reshape(s), "reshape": lambda x, a, s: x[0].reshape(s),
    "transpose": lambda x, a, s: np.transpose(x[0], a["perm"]),
    "concat": lambda x, a, s: np.concatenate(x, axis=a["axis"]),
    "slice": lambda x, a, s: take(x[0], a),
    "reduce_sum": lambda x, a, s: x[0].sum(axis=tuple(a["axes"]), keepdims=a["keepdims"]),
    "reduce_mean": lambda x, a, s: x[0].sum(axis=tuple(a["axes"]), keepdims=a["keepdims"]) / math.prod(
        x[0].shape[d] for d in a["axes"]),
    "reduce_max": lambda x, a, s: x[0].max(axis=tuple(a["axes"]), keepdims=a["keepdims"]),
    "mse_loss": lambda x, a, s: np.array(((x[0] - x[1]) ** 2).sum() / x[0].size, dtype=object),
    "cross_entropy": lambda x, a, s: cross_entropy(x[0], x[1]),
}

# ---------------------------------------------------------------- the cases


def N(*shape):
    return ("normal", shape)


def P(*shape):
    return ("positive", shape)


CASES = [
    ("add", [N(3, 4), N(4)], {}), ("add", [N(2, 1, 3), N(4, 1)], {}), ("sub", [N(3, 1), N(1, 4)], {}),
    ("mul", [N(3, 4), N(3, 1)], {}), ("mul", [N(3, 4), N()], {}), ("div", [N(3, 4), P(4)], {}),
    ("div", [N(2, 3), P(2, 1)], {}), ("neg", [N(2, 3)], {}), ("relu", [N(3, 5)], {}),
    ("leaky_relu", [N(3, 5)], {"alpha": 0.2}), ("sigmoid", [N(4)], {}), ("tanh", [N(2, 3)], {}),
    ("erf", [N(5)], {}), ("exp", [N(4)], {}), ("log", [P(4)], {}), ("sqrt", [P(2, 3)], {}),
    ("gelu", [N(6)], {}), ("gelu", [N(6)], {"approximate": "tanh"}),
    ("softmax", [N(3, 4)], {"axis": 1}), ("softmax", [N(3, 4, 2)], {"axis": 0}),
    ("log_softmax", [N(3, 4)], {"axis": -1}),
    ("matmul", [N(3, 4), N(4, 2)], {}), ("matmul", [N(2, 3, 4), N(4, 5)], {}), ("matmul", [N(4), N(4, 3)], {}),
    ("matmul", [N(2, 3), N(3)], {}), ("matmul", [N(1, 2, 3), N(2, 3, 2)], {}),
    ("linear", [N(5, 4), N(3, 4), N(3)], {}), ("linear", [N(2, 5, 4), N(3, 4)], {}), ("linear", [N(4), N(3, 4), N(3)], {}),
    ("layernorm", [N(3, 4)], {"axes": (1,)}), ("layernorm", [N(2, 3, 4), N(3, 4), N(3, 4)], {"axes": (1, 2)}),
    ("layernorm", [N(3, 4, 2), N(3)], {"axes": (0,), "eps": 1e-3}),
    ("batchnorm", [N(2, 3, 2, 2), N(3), N(3), N(3), P(3)], {}),
    ("batchnorm", [N(4, 3), N(3), N(3), N(3), P(3)], {"eps": 1e-3}),
    ("conv2d", [N(2, 2, 5, 5), N(3, 2, 3, 3), N(3)], {}),
    ("conv2d", [N(1, 2, 6, 5), N(4, 2, 3, 2)], {"strides": (2, 1), "pads": (1, 0, 2, 1)}),
    ("conv2d", [N(1, 4, 6, 6), N(4, 2, 2, 3), N(4)], {"groups": 2, "dilations": (2, 1), "strides": (1, 2),
                                                      "pads": (0, 1, 1, 0)}),
    ("conv2d", [N(1, 1, 3, 3), N(2, 1, 2, 2)], {"pads": (2, 2, 3, 3), "strides": (2, 2)}),
    ("maxpool2d", [N(2, 2, 5, 5)], {"kernel": (2, 2), "strides": (2, 2)}),
    ("maxpool2d", [N(1, 2, 5, 6)], {"kernel": (3, 2), "strides": (2, 1), "pads": (1, 0, 1, 1), "ceil_mode": True}),
    ("maxpool2d", [N(1, 1, 6, 6)], {"kernel": (2, 2), "strides": (1, 2), "dilations": (2, 1)}),
    ("avgpool2d", [N(2, 2, 5, 5)], {"kernel": (2, 2), "strides": (2, 2)}),
    ("avgpool2d", [N(1, 2, 5, 5)], {"kernel": (3, 3), "strides": (2, 2), "pads": (1, 1, 1, 1), "ceil_mode": True}),
    ("avgpool2d", [N(1, 2, 5, 4)], {"kernel": (2, 3), "strides": (2, 2), "pads": (1, 1, 0, 1), "ceil_mode": True,
                                    "count_include_pad": True}),
    ("global_avgpool", [N(2, 3, 2, 3)], {}),
    ("flatten", [N(2, 3, 2)], {"axis": 2}), ("reshape", [N(2, 6)], {"shape": (3, 4)}),
    ("transpose", [N(2, 3, 4)], {"perm": (2, 0, 1)}), ("concat", [N(2, 3), N(1, 3), N(4, 3)], {"axis": 0}),
    ("concat", [N(2, 1), N(2, 3)], {"axis": -1}),
    ("slice", [N(7, 4)], {"starts": (1, 0), "ends": (7, 4), "steps": (3, 2)}),
    ("slice", [N(6, 5)], {"starts": (5, 1), "ends": (-1, 4), "steps": (-2, 1)}),
    ("reduce_sum", [N(3, 4, 2)], {"axes": (0, 2)}), ("reduce_sum", [N(3, 4)], {"axes": (1,), "keepdims": True}),
    ("reduce_mean", [N(3, 4, 2)], {"axes": (-1,)}), ("reduce_max", [N(3, 4, 2)], {"axes": (1,)}),
    ("reduce_max", [N(3, 4)], {"axes": (0, 1), "keepdims": True}),
    ("mse_loss", [N(3, 4), N(3, 4)], {}), ("cross_entropy", [N(4, 5), "labels"], {}),
]


def draw(rng, spec, shapes_so_far):
    if spec == "labels":
        return rng.integers(0, shapes_so_far[0][1], shapes_so_far[0][0])
    kind, shape = spec
    x = rng.standard_normal(shape)
    return np.abs(x) + 0.5 if kind == "positive" else x


def to_mp(x):
    return np.vectorize(mp.mpf, otypes=[object])(x) if x.dtype.kind == "f" else x


@pytest.mark.parametrize("op,specs,attrs", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_vjp_rule_is_the_derivative(op, specs, attrs):
    rng = np.random.default_rng(abs(hash((op, str(specs), str(attrs)))) % 2**32)
    xs = []
    for spec in specs:
        xs.append(draw(rng, spec, [x.shape for x in xs]))
    a = full_attrs(op, attrs)
    shape = infer(op, [x.shape for x in xs], attrs)
    y = apply(op, xs, attrs)
    dy = rng.standard_normal(shape)
    f = SimpleNamespace(name=op, x=xs, y=y, dy=dy, s=[x.shape for x in xs], a=a)
    checked = 0
    with mp.workdps(40):
        xm, dym = [to_mp(x) for x in xs], to_mp(np.asarray(dy))
        ym = FORWARD[op](xm, a, shape)
        assert np.allclose(np.asarray(ym, dtype=np.float64), y, rtol=1e-9, atol=1e-12), "the two forwards differ"
        for k, x in enumerate(xs):
            if (op, k) in autograd.NOT_DIFFERENTIABLE:
                continue
            g = autograd.VJP[op](Numeric(), f, k)
            assert np.shape(g) == x.shape
            v = rng.standard_normal(x.shape)
            vm, h = to_mp(v), mp.mpf(10) ** -15

            def along(t, k=k, vm=vm):
                moved = list(xm)
                moved[k] = xm[k] + t * vm
                return np.sum(np.asarray(FORWARD[op](moved, a, shape), dtype=object) * dym)

            derivative = (along(h) - along(-h)) / (2 * h)
            claimed = float(np.sum(g * v))
            assert abs(claimed - float(derivative)) <= 1e-9 * (1 + abs(float(derivative))), (k, claimed, derivative)
            checked += 1
    assert checked >= 1


def test_every_foundation_op_has_a_rule_and_a_case():
    from vnnc.verifier.semantics import SHAPE_RULES

    backward_only = {"where", "one_hot", "slice_scatter"}
    assert set(autograd.VJP) == set(SHAPE_RULES) - backward_only
    assert {c[0] for c in CASES} == set(autograd.VJP)


def test_slice_scatter_is_the_adjoint_of_slice():
    rng = np.random.default_rng(0)
    for shape, a in (((7, 4), {"starts": (1, 0), "ends": (7, 4), "steps": (3, 2)}),
                     ((6, 5), {"starts": (5, 1), "ends": (-1, 4), "steps": (-2, 1)})):
        x = rng.standard_normal(shape)
        u = rng.standard_normal(apply("slice", [x], a).shape)
        back = apply("slice_scatter", [u], {"shape": shape, "starts": a["starts"], "steps": a["steps"]})
        assert np.isclose(np.sum(apply("slice", [x], a) * u), np.sum(x * back))


def test_optimizer_updates_are_torch_optim_steps():
    torch = pytest.importorskip("torch", reason="the update table is compared against torch.optim")
    rng = np.random.default_rng(1)
    p0, g = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    cases = [("sgd", {"weight_decay": 0.1}, lambda ps: torch.optim.SGD(ps, lr=0.1, weight_decay=0.1)),
             ("momentum", {"momentum": 0.9, "nesterov": True, "weight_decay": 0.0},
              lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True)),
             ("adam", {"beta1": 0.9, "beta2": 0.99, "eps": 1e-8, "weight_decay": 0.01},
              lambda ps: torch.optim.Adam(ps, lr=0.1, betas=(0.9, 0.99), weight_decay=0.01)),
             ("adamw", {"beta1": 0.8, "beta2": 0.999, "eps": 1e-6, "weight_decay": 0.05},
              lambda ps: torch.optim.AdamW(ps, lr=0.1, betas=(0.8, 0.999), eps=1e-6, weight_decay=0.05))]
    for kind, a, make in cases:
        p = torch.tensor(p0, dtype=torch.float64, requires_grad=True)
        opt = make([p])
        state = [np.zeros_like(p0)] * autograd.OPTIMIZERS[kind][1]
        mine = p0
        for t in range(1, 4):
            p.grad = torch.tensor(g * t, dtype=torch.float64)
            opt.step()
            b1, b2 = a.get("beta1", 0.9), a.get("beta2", 0.999)
            mine, state = autograd.update(Numeric(), kind, a, mine, g * t, state,
                                          [np.array(0.1), np.array(1 - b1 ** t), np.array(1 - b2 ** t)])
        assert np.allclose(mine, p.detach().numpy(), rtol=1e-12, atol=1e-14), kind
