"""The checker's own definition of the loop nest that implements each spec op.

`expected(op, in_shapes, out_shape, attrs)` gives the stores and reductions of a correct
kernel in the canonical form of docs/WITNESS.md §5.1: for each store its enclosing loops,
its affine output index and the value stored, a tree over loads, f32 constants, float
operations, guards and results of reductions; each reduction (a "for" node, folded in
increasing order) listed once, when it ends, and named by its loop variable. Loop
variables are numbered in program order, so the loop order, like the order of every
float operation, is part of the definition.
"""

from __future__ import annotations

import itertools
import math
import struct

NEG_INF, NAN = -math.inf, math.nan


def f32(x: float) -> tuple:
    """A constant of the kernel's arithmetic type; `typed` gives it its bits."""
    return ("const", float(x))


def typed(x: float, acc: str) -> tuple:
    """A constant of type `acc`, by its little-endian bits (x rounded to f32 for f32)."""
    return ("f32", struct.pack("<f", x).hex()) if acc == "f32" else ("f64", struct.pack("<d", x).hex())


def with_types(tree, acc: str):
    if isinstance(tree, tuple):
        if tree[:1] == ("const",):
            return typed(tree[1], acc)
        return tuple(with_types(t, acc) for t in tree)
    return tree


def aff(terms=(), const: int = 0) -> tuple:
    """const + sum(coef * var) as ("aff", const, ((var, coef), ...)), vars sorted, no zero
    coefficient; each term's var is an int or an affine form."""
    coefs: dict[str, int] = {}
    for coef, var in terms:
        if isinstance(var, int):
            var = ("aff", var, ())
        const += coef * var[1]
        for v, k in var[2]:
            coefs[v] = coefs.get(v, 0) + coef * k
    return ("aff", const, tuple(sorted((v, k) for v, k in coefs.items() if k)))


def idx(x) -> tuple:
    return x if isinstance(x, tuple) else aff((), x)


class Nest:
    """Builds one kernel's stores; its arguments are numbered 0.., the output last."""

    def __init__(self, dtypes=(), fmt="f32", acc="f32", rounding="nearest", order="sequential", block=(1, 1)):
        """dtypes: the buffers' element types (f32, f64, i64); values are computed in
        `acc` and rounded to `fmt` in `rounding` mode when stored; `order` is the summation
        order of contractions (`dots`), `block` how many rows and columns of a linear's
        output one loop iteration computes."""
        self.dtypes, self.fmt, self.acc, self.rounding = list(dtypes), fmt, acc, rounding
        self.order, self.block = order, block
        self.loops: list[tuple[str, int]] = []
        self.stores: list[tuple] = []
        self.fors: list[tuple] = []  # each reduction, when it ends; its results name its var
        self.count = 0

    def var(self) -> tuple[str, tuple]:
        self.count += 1
        return f"v{self.count - 1}", ("aff", 0, ((f"v{self.count - 1}", 1),))

    def nest(self, extents, body) -> None:
        """body(indices) inside plain loops over `extents`, outermost first."""
        if not extents:
            return body([])
        v, iv = self.var()
        self.loops.append((v, extents[0]))
        self.nest(extents[1:], lambda ivs: body([iv, *ivs]))
        self.loops.pop()

    def reduce(self, extents, inits, body) -> list:
        """Accumulators from `inits`, folded by body(indices, accumulators) over `extents`."""
        if not extents:
            return list(body([], list(inits)))
        v, iv = self.var()
        accs = [("acc", v, j) for j in range(len(inits))]
        yields = self.reduce(extents[1:], accs, lambda ivs, a: body([iv, *ivs], a))
        self.fors.append(("for", v, extents[0], tuple(inits), tuple(yields)))
        return [("res", j, v) for j in range(len(inits))]

    def load(self, arg: int, index) -> tuple:
        """arg[index], a float converted to the arithmetic type (f32 -> f64 is exact)."""
        v = ("load", arg, tuple(idx(i) for i in index))
        return self.convert(v, self.dtypes[arg], self.acc) if self.dtypes[arg] != "i64" else v

    @staticmethod
    def convert(v, frm: str, to: str):
        return v if frm == to else ("extf" if to == "f64" else "truncf", v)

    def store(self, value, index) -> None:
        """out[index] = value rounded once to the storage format, in the buffer's type."""
        if self.fmt != self.acc:
            value = ("round", self.fmt, self.rounding, value)
        value = self.convert(value, self.acc, self.dtypes[-1])
        self.stores.append((tuple(self.loops), tuple(idx(i) for i in index), value))


def in_range(x, lo, hi):
    return ("andi", ("cmpi", "sge", x, idx(lo)), ("cmpi", "slt", x, idx(hi)))


def all_of(conds):
    acc = None
    for c in conds:
        acc = c if acc is None else ("andi", acc, c)
    return acc


def if_else(cond, then, otherwise):
    return then if cond is None else ("res", 0, ("if", cond, (then,), (otherwise,)))


def bcast(ivs, shape, rank):
    return [0 if n == 1 else ivs[rank - len(shape) + d] for d, n in enumerate(shape)]


def split(shape, axes):
    """The kept extents, the reduced extents, and at(kept, reduced) -> the full index."""
    axes = sorted({a % len(shape) for a in axes})

    def at(kept, reduced):
        k, r = iter(kept), iter(reduced)
        return [next(r) if d in axes else next(k) for d in range(len(shape))]

    return [n for d, n in enumerate(shape) if d not in axes], [shape[d] for d in axes], at


# ---------------------------------------------------------------- pointwise

SCALAR = {
    "add": lambda a, x: ("addf", *x), "sub": lambda a, x: ("subf", *x),
    "mul": lambda a, x: ("mulf", *x), "div": lambda a, x: ("divf", *x),
    "neg": lambda a, x: ("negf", x[0]),
    "relu": lambda a, x: ("maximumf", x[0], f32(0.0)),  # max(x, 0), NaN propagates
    "leaky_relu": lambda a, x: ("select", ("cmpf", "uge", x[0], f32(0.0)), x[0],
                                ("mulf", f32(a["alpha"]), x[0])),  # x >= 0 ? x : alpha x
    "sigmoid": lambda a, x: ("divf", f32(1.0), ("addf", f32(1.0), ("exp", ("negf", x[0])))),
    "tanh": lambda a, x: ("tanh", x[0]), "erf": lambda a, x: ("erf", x[0]),
    "exp": lambda a, x: ("exp", x[0]), "log": lambda a, x: ("log", x[0]),
    "sqrt": lambda a, x: ("sqrt", x[0]),
    "gelu": lambda a, x: gelu(x[0], a.get("approximate", "none")),
    "where": lambda a, x: ("select", ("cmpf", "ogt", x[0], f32(0.0)), x[1], x[2]),  # c > 0 ? a : b
}


def gelu(x, approximate):
    half = ("mulf", f32(0.5), x)
    if approximate == "tanh":  # x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        x3 = ("mulf", ("mulf", x, x), x)
        inner = ("mulf", f32(math.sqrt(2 / math.pi)), ("addf", x, ("mulf", f32(0.044715), x3)))
        return ("mulf", half, ("addf", f32(1.0), ("tanh", inner)))
    # x/2 (1 + erf(x / sqrt 2))
    return ("mulf", half, ("addf", f32(1.0), ("erf", ("mulf", x, f32(1 / math.sqrt(2))))))


def pointwise(k: Nest, name, ins, out, a):
    # y[i] = f(x_0[i], ...), each operand broadcast numpy-style
    k.nest(out, lambda ivs: k.store(
        SCALAR[name](a, [k.load(i, bcast(ivs, s, len(out))) for i, s in enumerate(ins)]), ivs))


# ---------------------------------------------------------------- contractions


ORDERS = ("sequential", "lanes16")


def tree(values):
    """((v0 + v1) + (v2 + v3)) + ..., left half first."""
    half = len(values) // 2
    return values[0] if len(values) == 1 else ("addf", tree(values[:half]), tree(values[half:]))


def dots(k: Nest, n: int, pairs):
    """For each (x, w) of `pairs`, sum_k x(k) w(k) for k < n from 0.0, all in the same loops,
    each sum in the order: "sequential" in increasing k; "lanes16": lane t sums k = t, t+16,
    ... over the n // 16 full blocks, the lanes are added as a tree, then the remaining terms
    in increasing k. Accumulators are numbered sum by sum, lane by lane."""
    def term(o, kk):
        return ("mulf", k.load(*pairs[o][0](kk)), k.load(*pairs[o][1](kk)))

    outs = range(len(pairs))
    if k.order == "sequential":
        return k.reduce([n], [f32(0.0)] * len(pairs), lambda kv, s: [("addf", s[o], term(o, kv[0])) for o in outs])
    blocks, rest = divmod(n, 16)
    lanes = k.reduce([blocks], [f32(0.0)] * 16 * len(pairs), lambda kv, s: [
        ("addf", s[16 * o + t], term(o, aff([(16, kv[0])], t))) for o in outs for t in range(16)])
    sums = [tree(lanes[16 * o:16 * o + 16]) for o in outs]
    if not rest:
        return sums
    return k.reduce([rest], sums, lambda kv, s: [("addf", s[o], term(o, aff([(1, kv[0])], blocks * 16))) for o in outs])


def linear(k: Nest, name, ins, out, a):
    # y[.., i, j] = (sum_k x[.., i, k] W[j, k]) + b[j]; an iteration computes the block of rows
    # ri i0 + r and columns rj j0 + c (r < ri, c < rj), row by row; a vector x has no rows
    # (ri > 1 would compute each output ri times)
    ri, rj = k.block

    def point(ivs):
        *lead, j0 = ivs
        rows = [[*lead[:-1], aff([(ri, lead[-1])], r)] for r in range(ri)] if len(out) > 1 else [[]] * ri
        outs = [(i, aff([(rj, j0)], c)) for i in rows for c in range(rj)]
        sums = dots(k, ins[1][1], [(lambda kv, i=i: (0, [*i, kv]), lambda kv, j=j: (1, [j, kv])) for i, j in outs])
        for (i, j), acc in zip(outs, sums):
            k.store(("addf", acc, k.load(2, [j])) if len(ins) == 3 else acc, [*i, j])

    k.nest([*out[:-2], out[-2] // ri, out[-1] // rj] if len(out) > 1 else [out[-1] // rj], point)


def matmul(k: Nest, name, ins, out, a):
    # numpy.matmul: y[.., i, j] = sum_k a[.., i, k] b[.., k, j], 1-D operands promoted, batch
    # dimensions broadcast; a block (ri, w) of 2-D operands: rows ri i0 + r and columns w j0 + c
    # per iteration, row by row, then the last n % w columns one output at a time
    sa, sb = ins
    if k.block != (1, 1):
        (m, n_k), (_, n), (ri, w) = sa, sb, k.block

        def outputs(ij):  # the outputs [(i, j)...] summed in one reduction, then stored
            sums = dots(k, n_k, [(lambda kv, i=i: (0, [i, kv]), lambda kv, j=j: (1, [kv, j])) for i, j in ij])
            for (i, j), acc in zip(ij, sums):
                k.store(acc, [i, j])

        k.nest([m // ri, n // w], lambda v: outputs([(aff([(ri, v[0])], r), aff([(w, v[1])], c))
                                                     for r in range(ri) for c in range(w)]))
        return k.nest([m, n % w], lambda v: outputs([(v[0], aff([(1, v[1])], n - n % w))])) if n % w else None
    a2 = (1, *sa) if len(sa) == 1 else sa
    b2 = (*sb, 1) if len(sb) == 1 else sb
    rank = max(len(a2), len(b2)) - 2

    def point(ivs):
        full = list(ivs)
        if len(sa) == 1:
            full.insert(len(full) - (0 if len(sb) == 1 else 1), 0)
        if len(sb) == 1:
            full.append(0)
        batch, i, j = full[:-2], full[-2], full[-1]
        ai = bcast(batch, a2[:-2], rank) + [i]
        bj = bcast(batch, b2[:-2], rank)
        k.store(dots(k, a2[-1], [(lambda kv: (0, ai[1:] + [kv] if len(sa) == 1 else ai + [kv]),
                                  lambda kv: (1, bj + [kv] if len(sb) == 1 else bj + [kv, j]))])[0], ivs)

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
    # y[n,o,i,j] = (sum_{c,p,q} x[n, g*Cg + c, i*s + p*d - pad, ..] w[o,c,p,q]) + b[o]; 0 outside x; an
    # iteration computes the block of channels ro o0 + r (of group g) and columns rj j0 + t, channels
    # outer, each output its own sum in this order
    n_out, c_group, kh, kw = ins[1]
    groups, (ro, rj), axes = a["groups"], k.block, window(ins, out, a, (kh, kw))
    o_group = n_out // groups

    def point(ivs):
        n, g, o0, i, j0 = ivs if groups > 1 else (ivs[0], None, *ivs[1:])
        outs = [(aff([(ro, o0)] + [(o_group, g)] * (g is not None), r), aff([(rj, j0)], t)) for r in range(ro) for t in range(rj)]

        def step(tv, s):
            c, p, q = tv
            ch = c if g is None else aff([(c_group, g), (1, c)])
            hv = [(tap(axes[0], i, p), tap(axes[1], j, q)) for _, j in outs]
            xs = [if_else(guard(axes, h_v, [(0, axes[0][0]), (0, axes[1][0])]), k.load(0, [n, ch, *h_v]), f32(0.0)) for h_v in hv]
            return [("addf", acc, ("mulf", xv, k.load(1, [o, c, p, q]))) for acc, xv, (o, _) in zip(s, xs, outs)]

        for (o, j), acc in zip(outs, k.reduce([c_group, kh, kw], [f32(0.0)] * len(outs), step)):
            k.store(("addf", acc, k.load(2, [o])) if len(ins) == 3 else acc, [n, o, i, j])

    k.nest([out[0], *[groups] * (groups > 1), out[1] // groups // ro, out[2], out[3] // rj], point)


def pool(k: Nest, name, ins, out, a):
    # max: max over the window, -inf outside x; avg: sum (0 outside x) / counted taps
    axes = window(ins, out, a, a["kernel"])
    is_max = name == "maxpool2d"
    # the taps an average counts: inside x, or inside x and its pads with count_include_pad
    ranges = [(-ax[5], ax[0] + ax[6]) if not is_max and a["count_include_pad"] else (0, ax[0])
              for ax in axes]
    constant = is_max or all(always(ax, *r) for ax, r in zip(axes, ranges))

    def point(ivs):
        n, c, i, j = ivs

        def step(tv, s):
            h, v = tap(axes[0], i, tv[0]), tap(axes[1], j, tv[1])
            inside = guard(axes, (h, v), [(0, axes[0][0]), (0, axes[1][0])])
            if is_max:
                return [("maximumf", s[0], if_else(inside, k.load(0, [n, c, h, v]), f32(NEG_INF)))]
            total = ("addf", s[0], if_else(inside, k.load(0, [n, c, h, v]), f32(0.0)))
            counted = ("select", guard(axes, (h, v), ranges), f32(1.0), f32(0.0))
            return [total] if constant else [total, ("addf", s[1], counted)]

        init = [f32(NEG_INF)] if is_max else [f32(0.0)] * (1 if constant else 2)
        accs = k.reduce(list(a["kernel"]), init, step)
        if is_max:
            return k.store(accs[0], ivs)
        divisor = f32(float(a["kernel"][0] * a["kernel"][1])) if constant else accs[1]
        k.store(("divf", accs[0], divisor), ivs)

    k.nest(out, point)


# ---------------------------------------------------------------- normalisations and losses


def softmax(k: Nest, name, ins, out, a):
    # m = max_j x_j; s = sum_j exp(x_j - m); y_i = exp(x_i - m) / s, or (x_i - m) - log s
    kept, (n,), at = split(ins[0], [a["axis"]])

    def row(outer):
        (m,) = k.reduce([n], [f32(NEG_INF)], lambda iv, s: [("maximumf", s[0], k.load(0, at(outer, iv)))])
        (s,) = k.reduce([n], [f32(0.0)], lambda iv, t: [
            ("addf", t[0], ("exp", ("subf", k.load(0, at(outer, iv)), m)))])

        def point(ivs):
            shifted = ("subf", k.load(0, at(outer, ivs)), m)
            k.store(("subf", shifted, ("log", s)) if name == "log_softmax"
                    else ("divf", ("exp", shifted), s), at(outer, ivs))

        k.nest([n], point)

    k.nest(kept, row)


def layernorm(k: Nest, name, ins, out, a):
    # mean = sum x / n; var = sum (x - mean)^2 / n; y = (x - mean) / sqrt(var + eps) [* scale + bias]
    kept, inner, at = split(ins[0], a["axes"])
    count = f32(float(math.prod(inner)))

    def point(outer):
        (total,) = k.reduce(inner, [f32(0.0)], lambda iv, s: [("addf", s[0], k.load(0, at(outer, iv)))])
        mean = ("divf", total, count)
        (sq,) = k.reduce(inner, [f32(0.0)], lambda iv, s: [("addf", s[0], (
            "mulf", ("subf", k.load(0, at(outer, iv)), mean), ("subf", k.load(0, at(outer, iv)), mean)))])
        denom = ("sqrt", ("addf", ("divf", sq, count), f32(a["eps"])))

        def store(ivs):
            v = ("divf", ("subf", k.load(0, at(outer, ivs)), mean), denom)
            if len(ins) > 1:
                v = ("mulf", v, k.load(1, ivs))
            if len(ins) > 2:
                v = ("addf", v, k.load(2, ivs))
            k.store(v, at(outer, ivs))

        k.nest(inner, store)

    k.nest(kept, point)


def batchnorm(k: Nest, name, ins, out, a):
    # y = (x - mean[c]) / sqrt(var[c] + eps) * scale[c] + bias[c]; operands x, scale, bias, mean, var
    def channel(nc):
        c = [nc[1]]
        denom = ("sqrt", ("addf", k.load(4, c), f32(a["eps"])))

        def point(rest):
            v = ("divf", ("subf", k.load(0, [*nc, *rest]), k.load(3, c)), denom)
            k.store(("addf", ("mulf", v, k.load(1, c)), k.load(2, c)), [*nc, *rest])

        k.nest(list(out[2:]), point)

    k.nest(list(out[:2]), channel)


def mse_loss(k: Nest, name, ins, out, a):
    # y = (sum (p - t)^2) / numel
    def step(ivs, s):
        d = ("subf", k.load(0, ivs), k.load(1, ivs))
        return [("addf", s[0], ("mulf", d, d))]

    (total,) = k.reduce(list(ins[0]), [f32(0.0)], step)
    k.store(("divf", total, f32(float(math.prod(ins[0])))), [])


def cross_entropy(k: Nest, name, ins, out, a):
    # y = (1/N) sum_n ((m_n - x[n, label_n]) + log sum_c exp(x[n,c] - m_n)), m_n = max_c x[n,c]
    n_samples, n_classes = ins[0]

    def sample(nv, s):
        n = nv[0]
        label = ("index_cast", k.load(1, [n]))
        m, picked = k.reduce([n_classes], [f32(NEG_INF), f32(NAN)], lambda cv, t: [
            ("maximumf", t[0], k.load(0, [n, cv[0]])),
            ("select", ("cmpi", "eq", cv[0], label), k.load(0, [n, cv[0]]), t[1])])
        (e,) = k.reduce([n_classes], [f32(0.0)], lambda cv, t: [
            ("addf", t[0], ("exp", ("subf", k.load(0, [n, cv[0]]), m)))])
        return [("addf", s[0], ("addf", ("subf", m, picked), ("log", e)))]

    (total,) = k.reduce([n_samples], [f32(0.0)], sample)
    k.store(("divf", total, f32(float(n_samples))), [])


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
    kept, inner, at = split(ins[0], a["axes"])
    is_max = name == "reduce_max"

    def point(outer):
        (acc,) = k.reduce(inner, [f32(NEG_INF if is_max else 0.0)], lambda iv, s: [
            ("maximumf" if is_max else "addf", s[0], k.load(0, at(outer, iv)))])
        if name == "reduce_mean":
            acc = ("divf", acc, f32(float(math.prod(inner))))
        k.store(acc, at(outer, [0] * len(inner)) if a["keepdims"] else outer)

    k.nest(kept, point)


def one_hot(k: Nest, name, ins, out, a):
    # y[n, c] = labels[n] == c ? 1 : 0
    k.nest(out, lambda ivs: k.store(("select", ("cmpi", "eq", ("index_cast", k.load(0, [ivs[0]])), ivs[1]),
                                     f32(1.0), f32(0.0)), ivs))


def slice_scatter(k: Nest, name, ins, out, a):
    # y[h] = x[i] where h_d = starts_d + i_d steps_d, else 0: h_d = |steps_d| hh + r by residue r, x read (affine i_d =
    # sign(steps_d) (hh + c)) only where c = (r - starts_d) / |steps_d| is whole
    st = a["steps"]
    for combo in itertools.product(*[[(r, -(-(n - r) // abs(s)), (r - b) // abs(s) if (r - b) % abs(s) == 0 else None)
                                      for r in range(min(abs(s), n))] for n, b, s in zip(out, a["starts"], st)]):
        def point(ivs, combo=combo):
            src = [aff([(1 if s > 0 else -1, iv)], c if s > 0 else -c) for iv, (_, _, c), s in zip(ivs, combo, st)
                   if c is not None]
            k.store(f32(0.0) if len(src) < len(ivs) else if_else(all_of([in_range(i, 0, n) for i, n in zip(src, ins[0])]), k.load(
                0, src), f32(0.0)), [aff([(abs(s), iv)], r) for iv, (r, _, _), s in zip(ivs, combo, st)])

        k.nest([e for _, e, _ in combo], point)


def round_(k: Nest, name, ins, out, a):
    # y = x rounded to the storage format (fp.round)
    k.nest(list(out), lambda ivs: k.store(k.load(0, ivs), ivs))


DEFINITIONS = {
    **{name: pointwise for name in SCALAR},
    "one_hot": one_hot, "slice_scatter": slice_scatter,
    "linear": linear, "matmul": matmul, "conv2d": conv2d, "maxpool2d": pool, "avgpool2d": pool,
    # y[n,c,0,0] = (sum_{h,w} x[n,c,h,w]) / (H W): reduce_mean over axes 2, 3, keeping them
    "global_avgpool": lambda k, name, ins, out, a: reduce_(
        k, "reduce_mean", ins, out, {"axes": (2, 3), "keepdims": True}),
    "softmax": softmax, "log_softmax": softmax,
    "layernorm": layernorm, "batchnorm": batchnorm, "mse_loss": mse_loss,
    "cross_entropy": cross_entropy, "transpose": transpose, "concat": concat, "slice": slice_,
    "reduce_sum": reduce_, "reduce_mean": reduce_, "reduce_max": reduce_, "round": round_,
}


def expected(name: str, ins, out, attrs, dtypes=None, fmt="f32", acc="f32", rounding="nearest",
             order="sequential", block=(1, 1)) -> tuple[list, list]:
    """The stores and reductions of the kernel for op `name`; KeyError for an op without a
    definition."""
    dtypes = dtypes or ["f32"] * (len(ins) + 1)
    k = Nest(dtypes, fmt, acc, rounding, order, block)
    DEFINITIONS[name](k, name, [tuple(s) for s in ins], tuple(out), attrs)
    return [with_types(store, acc) for store in k.stores], [with_types(node, acc) for node in k.fors]
