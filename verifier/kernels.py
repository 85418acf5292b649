"""The checker's own definition of the loop nest that implements each spec op.

`expected(op, in_shapes, out_shape, attrs)` describes, in the canonical form of
verifier/loops.py, the stores a correct kernel performs: for every store, its enclosing
loops, its output index (affine in the loop variables) and the value stored, an
expression over loads, constants, float operations and reductions. A reduction is
`("for", var, extent, inits, yields)`: the accumulators start at `inits` and are folded
in increasing order of `var`; its results are `("res", j, for-node)`.

Each definition states the op's math in the order of evaluation the numerics rely on
(e.g. the bias is added after the dot product; softmax subtracts the row maximum).
Loop variables are numbered in program order ("v0", "v1", ...), so the loop order is
part of the definition.
"""

from __future__ import annotations

import math
import struct

NEG_INF, NAN = -math.inf, math.nan


def f32(x: float) -> tuple:
    """A float32 constant, by its bits."""
    return ("f32", struct.pack("<f", x).hex())


def aff(terms=(), const: int = 0) -> tuple:
    """sum(coef * var) + const in canonical form: ("aff", const, ((var, coef), ...))."""
    coefs: dict[str, int] = {}
    for coef, var in terms:
        if isinstance(var, int):
            const += coef * var
            continue
        _, c, ts = var
        const += coef * c
        for v, k in ts:
            coefs[v] = coefs.get(v, 0) + coef * k
    return ("aff", const, tuple(sorted((v, k) for v, k in coefs.items() if k)))


def idx(x) -> tuple:
    return x if isinstance(x, tuple) else aff((), x)


class Nest:
    """Builds the canonical description of one kernel; args are numbered 0..n-1, the
    output is the last."""

    def __init__(self, n_args: int):
        self.out = n_args - 1
        self.loops: list[tuple[str, int]] = []
        self.stores: list[tuple] = []
        self.count = 0

    def var(self) -> str:
        self.count += 1
        return f"v{self.count - 1}"

    def nest(self, extents, body) -> None:
        if not extents:
            body([])
            return
        v = self.var()
        self.loops.append((v, extents[0]))
        self.nest(extents[1:], lambda ivs: body([aff([(1, ("aff", 0, ((v, 1),)))])] + ivs))
        self.loops.pop()

    def reduce(self, extents, inits, body) -> list:
        if not extents:
            return list(body([], list(inits)))
        v = self.var()
        iv = ("aff", 0, ((v, 1),))
        accs = [("acc", v, j) for j in range(len(inits))]
        if len(extents) == 1:
            yields = body([iv], accs)
        else:
            yields = self.reduce(extents[1:], accs, lambda ivs, a: body([iv, *ivs], a))
        node = ("for", v, extents[0], tuple(inits), tuple(yields))
        return [("res", j, node) for j in range(len(inits))]

    def load(self, arg: int, index) -> tuple:
        return ("load", arg, tuple(idx(i) for i in index))

    def store(self, value, index) -> None:
        self.stores.append((tuple(self.loops), tuple(idx(i) for i in index), value))


def op(name, *xs):
    return (name, *xs)


def in_range(x, lo, hi):
    return op("andi", op("cmpi", "sge", x, idx(lo)), op("cmpi", "slt", x, idx(hi)))


def all_of(conds):
    acc = None
    for c in conds:
        acc = c if acc is None else op("andi", acc, c)
    return acc


def if_else(cond, then, otherwise):
    return then if cond is None else ("res", 0, ("if", cond, (then,), (otherwise,)))


def bcast(ivs, shape, rank):
    lead = rank - len(shape)
    return [0 if n == 1 else ivs[lead + d] for d, n in enumerate(shape)]


def norm_axes(axes, rank):
    return sorted({a % rank for a in axes})


def scatter(rank, axes, outer, inner):
    o, i = iter(outer), iter(inner)
    return [next(i) if d in axes else next(o) for d in range(rank)]


# ---------------------------------------------------------------- pointwise

SQRT2_INV, TANH_C = 1 / math.sqrt(2), math.sqrt(2 / math.pi)

SCALAR = {
    "add": lambda a, xs: op("addf", *xs), "sub": lambda a, xs: op("subf", *xs),
    "mul": lambda a, xs: op("mulf", *xs), "div": lambda a, xs: op("divf", *xs),
    "neg": lambda a, xs: op("negf", xs[0]),
    "relu": lambda a, xs: op("maximumf", xs[0], f32(0.0)),       # max(x, 0), NaN propagates
    "leaky_relu": lambda a, xs: op("select", op("cmpf", "uge", xs[0], f32(0.0)), xs[0],
                                   op("mulf", f32(a["alpha"]), xs[0])),
    "sigmoid": lambda a, xs: op("divf", f32(1.0), op("addf", f32(1.0), op("exp", op("negf", xs[0])))),
    "tanh": lambda a, xs: op("tanh", xs[0]), "erf": lambda a, xs: op("erf", xs[0]),
    "exp": lambda a, xs: op("exp", xs[0]), "log": lambda a, xs: op("log", xs[0]),
    "sqrt": lambda a, xs: op("sqrt", xs[0]),
}


def gelu(a, xs):
    (x,) = xs
    half = op("mulf", f32(0.5), x)
    if a.get("approximate", "none") == "tanh":  # x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        x3 = op("mulf", op("mulf", x, x), x)
        inner = op("mulf", f32(TANH_C), op("addf", x, op("mulf", f32(0.044715), x3)))
        return op("mulf", half, op("addf", f32(1.0), op("tanh", inner)))
    return op("mulf", half, op("addf", f32(1.0), op("erf", op("mulf", x, f32(SQRT2_INV)))))


SCALAR["gelu"] = gelu


def pointwise(k: Nest, name, ins, out, a):
    def body(ivs):
        xs = [k.load(i, bcast(ivs, s, len(out))) for i, s in enumerate(ins)]
        k.store(SCALAR[name](a, xs), ivs)

    k.nest(out, body)


# ---------------------------------------------------------------- contractions


def linear(k: Nest, name, ins, out, a):
    # y[.., j] = (sum_k x[.., k] W[j, k]) + b[j]
    def point(ivs):
        *lead, j = ivs
        (acc,) = k.reduce([ins[1][1]], [f32(0.0)], lambda kv, s: [
            op("addf", s[0], op("mulf", k.load(0, [*lead, kv[0]]), k.load(1, [j, kv[0]])))])
        if len(ins) == 3:
            acc = op("addf", acc, k.load(2, [j]))
        k.store(acc, ivs)

    k.nest(out, point)


def matmul(k: Nest, name, ins, out, a):
    # numpy.matmul: 1-D operands promoted, batch dimensions broadcast
    sa, sb = ins
    a2 = (1, *sa) if len(sa) == 1 else sa
    b2 = (*sb, 1) if len(sb) == 1 else sb
    rank = max(len(a2), len(b2))

    def point(ivs):
        full = list(ivs)
        if len(sa) == 1:
            full.insert(len(full) - (0 if len(sb) == 1 else 1), 0)
        if len(sb) == 1:
            full.append(0)
        batch, i, j = full[:-2], full[-2], full[-1]

        def step(kv, s):
            ai = bcast(batch, a2[:-2], rank - 2) + [i, kv[0]]
            bi = bcast(batch, b2[:-2], rank - 2) + [kv[0], j]
            ai, bi = (ai[1:] if len(sa) == 1 else ai), (bi[:-1] if len(sb) == 1 else bi)
            return [op("addf", s[0], op("mulf", k.load(0, ai), k.load(1, bi)))]

        k.store(k.reduce([a2[-1]], [f32(0.0)], step)[0], ivs)

    k.nest(out, point)


# ---------------------------------------------------------------- windows


def window(ins, out, a, kernel):
    """Per spatial axis: (size, out, kernel, stride, dilation, pad_lo, pad_hi)."""
    dil = a.get("dilations", (1, 1))
    return [(ins[0][2 + d], out[2 + d], kernel[d], a["strides"][d], dil[d], a["pads"][d],
             a["pads"][2 + d]) for d in range(2)]


def always(ax, lo, hi):
    """Every index i*stride + p*dilation - pad_lo of every window lies in [lo, hi)."""
    _, n_out, kern, stride, dil, pad_lo, _ = ax
    return lo <= -pad_lo and (n_out - 1) * stride + (kern - 1) * dil - pad_lo < hi


def tap(ax, i, p):
    return aff([(ax[3], i), (ax[4], p)], -ax[5])


def guard(axes, hs, ranges):
    """The bounds test of a tap, leaving out the axes where no window leaves the range."""
    return all_of([in_range(h, *r) for ax, h, r in zip(axes, hs, ranges) if not always(ax, *r)])


def conv2d(k: Nest, name, ins, out, a):
    # y[n,o,i,j] = (sum_{c,p,q} x[n, g*Cg + c, i*s + p*d - pad, ..] w[o,c,p,q]) + b[o]; 0 outside x
    n_out, c_group, kh, kw = ins[1]
    groups = a["groups"]
    o_group = n_out // groups
    axes = window(ins, out, a, (kh, kw))

    def point(ivs):
        if groups > 1:
            n, g, og, i, j = ivs
            o = aff([(o_group, g), (1, og)])
        else:
            (n, o, i, j), g = ivs, None

        def step(tv, s):
            c, p, q = tv
            h, v = tap(axes[0], i, p), tap(axes[1], j, q)
            ch = c if g is None else aff([(c_group, g), (1, c)])
            inside = guard(axes, (h, v), [(0, axes[0][0]), (0, axes[1][0])])
            xv = if_else(inside, k.load(0, [n, ch, h, v]), f32(0.0))
            return [op("addf", s[0], op("mulf", xv, k.load(1, [o, c, p, q])))]

        (acc,) = k.reduce([c_group, kh, kw], [f32(0.0)], step)
        if len(ins) == 3:
            acc = op("addf", acc, k.load(2, [o]))
        k.store(acc, [n, o, i, j])

    k.nest([out[0], groups, o_group, *out[2:]] if groups > 1 else list(out), point)


def pool(k: Nest, name, ins, out, a):
    # max: max over the window, -inf outside x; avg: sum (0 outside x) / counted taps
    axes = window(ins, out, a, a["kernel"])
    is_max = name == "maxpool2d"
    if is_max:
        ranges = None
    elif a["count_include_pad"]:
        ranges = [(-ax[5], ax[0] + ax[6]) for ax in axes]
    else:
        ranges = [(0, ax[0]) for ax in axes]
    constant = is_max or all(always(ax, *r) for ax, r in zip(axes, ranges))

    def point(ivs):
        n, c, i, j = ivs

        def step(tv, s):
            h, v = tap(axes[0], i, tv[0]), tap(axes[1], j, tv[1])
            inside = guard(axes, (h, v), [(0, axes[0][0]), (0, axes[1][0])])
            if is_max:
                return [op("maximumf", s[0], if_else(inside, k.load(0, [n, c, h, v]), f32(NEG_INF)))]
            total = op("addf", s[0], if_else(inside, k.load(0, [n, c, h, v]), f32(0.0)))
            if constant:
                return [total]
            counted = guard(axes, (h, v), ranges) if a["count_include_pad"] else inside
            return [total, op("addf", s[1], op("select", counted, f32(1.0), f32(0.0)))]

        init = [f32(NEG_INF)] if is_max else [f32(0.0)] * (1 if constant else 2)
        accs = k.reduce(list(a["kernel"]), init, step)
        if is_max:
            k.store(accs[0], ivs)
        else:
            divisor = f32(float(a["kernel"][0] * a["kernel"][1])) if constant else accs[1]
            k.store(op("divf", accs[0], divisor), ivs)

    k.nest(out, point)


def global_avgpool(k: Nest, name, ins, out, a):
    # y[n,c,0,0] = (sum_{h,w} x[n,c,h,w]) / (H W)
    _, _, hh, ww = ins[0]

    def point(ivs):
        (total,) = k.reduce([hh, ww], [f32(0.0)], lambda hw, s: [op("addf", s[0], k.load(0, [*ivs, *hw]))])
        k.store(op("divf", total, f32(float(hh * ww))), [*ivs, 0, 0])

    k.nest(out[:2], point)


# ---------------------------------------------------------------- normalisations and losses


def softmax(k: Nest, name, ins, out, a):
    # m = max_j x_j; s = sum_j exp(x_j - m); y_i = exp(x_i - m) / s, or (x_i - m) - log s
    shape = ins[0]
    axis = a["axis"] % len(shape)

    def row(outer):
        def at(ivs):
            return scatter(len(shape), [axis], outer, ivs)

        (m,) = k.reduce([shape[axis]], [f32(NEG_INF)], lambda iv, s: [op("maximumf", s[0], k.load(0, at(iv)))])
        (s,) = k.reduce([shape[axis]], [f32(0.0)], lambda iv, t: [
            op("addf", t[0], op("exp", op("subf", k.load(0, at(iv)), m)))])

        def point(ivs):
            shifted = op("subf", k.load(0, at(ivs)), m)
            k.store(op("subf", shifted, op("log", s)) if name == "log_softmax"
                    else op("divf", op("exp", shifted), s), at(ivs))

        k.nest([shape[axis]], point)

    k.nest([n for d, n in enumerate(shape) if d != axis], row)


def layernorm(k: Nest, name, ins, out, a):
    # mean = sum x / n; var = sum (x - mean)^2 / n; y = (x - mean) / sqrt(var + eps) [* scale + bias]
    shape = ins[0]
    axes = norm_axes(a["axes"], len(shape))
    inner = [shape[d] for d in axes]
    count = f32(float(math.prod(inner)))

    def point(outer):
        def at(ivs):
            return scatter(len(shape), axes, outer, ivs)

        (total,) = k.reduce(inner, [f32(0.0)], lambda iv, s: [op("addf", s[0], k.load(0, at(iv)))])
        mean = op("divf", total, count)
        (sq,) = k.reduce(inner, [f32(0.0)], lambda iv, s: [
            op("addf", s[0], op("mulf", op("subf", k.load(0, at(iv)), mean), op("subf", k.load(0, at(iv)), mean)))])
        denom = op("sqrt", op("addf", op("divf", sq, count), f32(a["eps"])))

        def store(ivs):
            v = op("divf", op("subf", k.load(0, at(ivs)), mean), denom)
            if len(ins) > 1:
                v = op("mulf", v, k.load(1, ivs))
            if len(ins) > 2:
                v = op("addf", v, k.load(2, ivs))
            k.store(v, at(ivs))

        k.nest(inner, store)

    k.nest([n for d, n in enumerate(shape) if d not in axes], point)


def batchnorm(k: Nest, name, ins, out, a):
    # y = (x - mean[c]) / sqrt(var[c] + eps) * scale[c] + bias[c]; operands x, scale, bias, mean, var
    def channel(nc):
        c = [nc[1]]
        denom = op("sqrt", op("addf", k.load(4, c), f32(a["eps"])))

        def point(rest):
            v = op("divf", op("subf", k.load(0, [*nc, *rest]), k.load(3, c)), denom)
            k.store(op("addf", op("mulf", v, k.load(1, c)), k.load(2, c)), [*nc, *rest])

        k.nest(list(out[2:]), point)

    k.nest(list(out[:2]), channel)


def mse_loss(k: Nest, name, ins, out, a):
    # y = (sum (p - t)^2) / numel
    def step(ivs, s):
        d = op("subf", k.load(0, ivs), k.load(1, ivs))
        return [op("addf", s[0], op("mulf", d, d))]

    (total,) = k.reduce(list(ins[0]), [f32(0.0)], step)
    k.store(op("divf", total, f32(float(math.prod(ins[0])))), [])


def cross_entropy(k: Nest, name, ins, out, a):
    # y = (1/N) sum_n ((m_n - x[n, label_n]) + log sum_c exp(x[n,c] - m_n)), m_n = max_c x[n,c]
    n_samples, n_classes = ins[0]

    def sample(nv, s):
        n = nv[0]
        label = op("index_cast", k.load(1, [n]))
        m, picked = k.reduce([n_classes], [f32(NEG_INF), f32(NAN)], lambda cv, t: [
            op("maximumf", t[0], k.load(0, [n, cv[0]])),
            op("select", op("cmpi", "eq", cv[0], label), k.load(0, [n, cv[0]]), t[1])])
        (e,) = k.reduce([n_classes], [f32(0.0)], lambda cv, t: [
            op("addf", t[0], op("exp", op("subf", k.load(0, [n, cv[0]]), m)))])
        return [op("addf", s[0], op("addf", op("subf", m, picked), op("log", e)))]

    (total,) = k.reduce([n_samples], [f32(0.0)], sample)
    k.store(op("divf", total, f32(float(n_samples))), [])


# ---------------------------------------------------------------- data movement and reductions


def transpose(k: Nest, name, ins, out, a):
    # y[i_0, ..] = x[j] with j[perm[d]] = i_d
    def point(ivs):
        src = [None] * len(ivs)
        for d, p in enumerate(a["perm"]):
            src[p] = ivs[d]
        k.store(k.load(0, src), ivs)

    k.nest(out, point)


def concat(k: Nest, name, ins, out, a):
    # y[.., off_t + i, ..] = x_t[.., i, ..]
    axis, offset = a["axis"] % len(out), 0
    for t, shape in enumerate(ins):
        def point(ivs, t=t, offset=offset):
            dst = list(ivs)
            dst[axis] = aff([(1, ivs[axis])], offset)
            k.store(k.load(t, ivs), dst)

        k.nest(shape, point)
        offset += shape[axis]


def slice_(k: Nest, name, ins, out, a):
    # y[.., i, ..] = x[.., start + i * step, ..]
    k.nest(out, lambda ivs: k.store(k.load(0, [aff([(st, iv)], s0) for iv, s0, st in zip(
        ivs, a["starts"], a["steps"])]), ivs))


def reduce_(k: Nest, name, ins, out, a):
    # y[kept] = sum / mean / max over the reduced indices, in increasing order
    shape = ins[0]
    axes = norm_axes(a["axes"], len(shape))
    inner = [shape[d] for d in axes]
    is_max = name == "reduce_max"

    def point(outer):
        (acc,) = k.reduce(inner, [f32(NEG_INF if is_max else 0.0)], lambda iv, s: [
            op("maximumf" if is_max else "addf", s[0], k.load(0, scatter(len(shape), axes, outer, iv)))])
        if name == "reduce_mean":
            acc = op("divf", acc, f32(float(math.prod(inner))))
        k.store(acc, scatter(len(shape), axes, outer, [0] * len(axes)) if a["keepdims"] else outer)

    k.nest([n for d, n in enumerate(shape) if d not in axes], point)


DEFINITIONS = {
    **{name: pointwise for name in SCALAR},
    "linear": linear, "matmul": matmul, "conv2d": conv2d, "maxpool2d": pool, "avgpool2d": pool,
    "global_avgpool": global_avgpool, "softmax": softmax, "log_softmax": softmax,
    "layernorm": layernorm, "batchnorm": batchnorm, "mse_loss": mse_loss,
    "cross_entropy": cross_entropy, "transpose": transpose, "concat": concat, "slice": slice_,
    "reduce_sum": reduce_, "reduce_mean": reduce_, "reduce_max": reduce_,
}


def expected(name: str, ins, out, attrs) -> list[tuple]:
    """The stores of the kernel for spec op `name`; KeyError for an op without a definition."""
    k = Nest(len(ins) + 1)
    DEFINITIONS[name](k, name, [tuple(s) for s in ins], tuple(out), attrs)
    return k.stores
