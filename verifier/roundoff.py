"""Checks the `roundoff` witness of error-analysis: a range and an error bound for every value
of the fp stage over the input box, against the real-valued spec (docs/WITNESS.md §5.5).

On every leaf of the witness's split tree the analysis is replayed with outward rounding:
affine forms of each value and of its error; contractions err by gamma_{n+1}(u_A) sum |terms|
in any order, or by the partial-sum bound in sequential order (Higham, Accuracy and Stability
of Numerical Algorithms, §3.1, §4.2); storing into S by half an ulp of the binade of |y|'s
bound, max(u_S 2^(e-1), eta_S), below S's largest value; relu by the rule the witness names;
conv2d as a contraction of its operand's bounds with its matrix, maxpool2d by the windows'
largest bounds and |error|. On a chain of affine maps and relus, every relu input's real
range is tightened by robust.py's domains over the spec's chain, and its computed range by
those over the fp program's own chain (rounded parameters, each roundoff a `pm` step; a relu
input round(t) by t's domain, rounded: rounding is monotone).
Every claim must contain the hull of the leaves.
"""

from __future__ import annotations

import io

import numpy as np
from vnnc.verifier.check import Reject, sha256
from vnnc.verifier.interval import ETA, center_radius, down, gamma, matmul_enclose, up
from vnnc.verifier.mlir import parse
from vnnc.verifier.params import param_sha256, read
from vnnc.verifier.precision import FP_PROPS, contract, format_bits, format_of, round_to
from vnnc.verifier.robust import forward, layer_bounds
from vnnc.verifier.semantics import apply, main_function, plain_attrs


def limits(fmt: str, mode: str) -> tuple[float, float, float]:
    """(u, eta, biggest): |round(y) - y| <= u |y| + eta for |y| <= biggest."""
    e, m, kind = format_bits(fmt)
    bias, directed = 2 ** (e - 1) - 1, mode != "nearest"
    biggest = (2 - 2.0**-m) * 2.0**bias if kind == "ieee" else (2 - 2.0 ** (1 - m)) * 2.0 ** (bias + 1)
    return 2.0 ** -(m + 1) * (1 + directed), 2.0 ** (1 - bias - m) * (1 if directed else 0.5), biggest


def within(outer: str, inner: str) -> bool:
    """Every value of format `inner` is one of `outer`."""
    (eo, mo, ko), (ei, mi, ki) = format_bits(outer), format_bits(inner)  # fn formats reach 2x higher
    return outer == inner or (ko == "ieee" and mo >= mi and (eo > ei or eo == ei and ki == "ieee"))


def gamma_u(n: int, u: float) -> float:
    return float(up(up(n * u) / down(1.0 - n * u))) if n * u < 0.5 else np.inf


def colsum(m: np.ndarray) -> np.ndarray:  # the sum over symbols (rows) of |m|, rounded up
    s, e = matmul_enclose(np.ones(len(m)), np.abs(m))
    return up(s + e) if len(m) else np.zeros(m.shape[1])


def grow(m: np.ndarray, k: int) -> np.ndarray:
    return np.concatenate([m, np.zeros((k - len(m), m.shape[1]))])


class Form:
    """x = c + ev @ ms[0] + er @ ms[1] + [-r, r] elementwise for a flat x: value symbols ev,
    roundoff symbols er, one row of ms[k] per symbol."""

    def __init__(self, c, ms=None, r=None):
        self.c = np.asarray(c, np.float64).reshape(-1)
        self.ms = ms or [np.zeros((0, self.c.size))] * 2
        self.r = np.zeros(self.c.size) if r is None else r

    def bounds(self):
        rad = up(up(colsum(self.ms[0]) + colsum(self.ms[1])) + self.r)
        return down(self.c - rad), up(self.c + rad)

    def rounded(self):
        """self with r grown by the rounding of each entry's one float64 operation."""
        total = up(up(np.abs(self.c) + colsum(self.ms[0])) + colsum(self.ms[1]))
        return Form(self.c, self.ms, up(self.r + up(up(total * 2.0**-52) + 2 * ETA)))

    def plus(self, o: Form, sign=1.0) -> Form:
        k = [max(len(a), len(b)) for a, b in zip(self.ms, o.ms)]
        ms = [grow(a, n) + sign * grow(b, n) for a, b, n in zip(self.ms, o.ms, k)]
        return Form(self.c + sign * o.c, ms, up(self.r + o.r)).rounded()

    def scale(self, d) -> Form:
        return Form(d * self.c, [m * d for m in self.ms], up(np.abs(d) * self.r)).rounded()

    def times(self, b) -> Form:
        """self as rows [.., n] times b [n, k]; coefficients err by gamma_n |m| |b| + n eta each."""
        n = b.shape[0]
        c, e1 = matmul_enclose(self.c.reshape(-1, n), b)
        r, e2 = matmul_enclose(self.r.reshape(-1, n), np.abs(b))
        rest = up(e1 + up(r + e2)).reshape(-1)
        for m in self.ms:
            s, e = matmul_enclose(colsum(m).reshape(-1, n), np.abs(b))
            rest = up(rest + up(up(gamma(n) * up(s + e)).reshape(-1) + len(m) * n * ETA))
        return Form(c, [(m.reshape(-1, n) @ b).reshape(len(m), c.size) for m in self.ms], rest)



def enclosure(x):
    """Bounds of the fp program's value of x = [shape, val, err, format, known]."""
    (lo, hi), (elo, ehi) = x[1].bounds(), x[2].bounds()
    return down(lo + elo), up(hi + ehi)


def magnitude(x):
    return np.maximum(*np.abs(enclosure(x)))


class Leaf:
    """The analysis over one box. A value is [shape, val, err, format, known]; known ones
    (parameters, constants) hold their exact value in val.c, their exact rounding in err.c."""

    def __init__(self, rules, domains=None, box=None):
        self.rules, self.count, self.domains = list(rules), [0, 0], iter((domains or {}).values())
        self.fp, self.box, self.ranges, self.last = [[]] if domains else None, box, {}, ()  # the fp program's chain (`relu`)

    def fresh(self, f: Form, extra, pool: int) -> Form:
        """f + [-extra, extra], one new symbol of pool 0 (values) or 1 (roundoff) per element
        with a nonzero term."""
        extra = up(np.broadcast_to(np.asarray(extra, np.float64), f.c.shape))
        if f.c.size > 2048:  # a wide value (a convolution's) keeps them in its remainder: no symbols
            return Form(f.c, f.ms, up(f.r + extra))
        rows, ms = np.nonzero(extra)[0], list(f.ms)
        ms[pool] = np.concatenate([grow(ms[pool], self.count[pool]), np.eye(f.c.size)[rows] * extra[rows, None]])
        self.count[pool] += len(rows)
        return Form(f.c, ms, f.r)

    def store(self, z, fmt, acc, mode, arith=0.0):
        """z computed in acc with roundoff `arith`, rounded once to fmt, which it must not overflow."""
        pm = extra = up(np.broadcast_to(np.asarray(arith, np.float64), z[1].c.shape))
        if not within(fmt, acc):  # |y| <= M < 2^e: half an ulp of 2^(e-1) (a whole one directed), eta subnormal
            (u, eta, _), e, (lo, hi) = limits(fmt, mode), np.frexp(up(magnitude(z) + extra))[1], enclosure(z)
            r = round_to(down(lo - extra), fmt, mode)  # where every computed value rounds to r, err = r - val
            cell = (r == round_to(up(hi + extra), fmt, mode)) & np.isfinite(r)
            z = [*z[:2], z[2].scale(1.0 - cell).plus(Form(np.where(cell, r, 0.0)).plus(z[1].scale(1.0 * cell), -1.0))]
            self.last = self.fp and (len(self.fp), len(self.fp[-1]) + 1, extra, fmt, mode)  # y = round(t)
            pm = up(extra + np.maximum(np.ldexp(u, e - 1), eta))
            extra = np.where(cell, 0.0, pm)
        self.fp and self.fp[-1].append(("pm", pm))
        out = [z[0], z[1], self.fresh(z[2], extra, 1), fmt, False]
        worst = float(np.max(magnitude(out), initial=0.0))
        if not worst <= limits(fmt, mode)[2]:
            raise Reject(f"a value may overflow {fmt} over the input box (|value| up to {worst:.4g})")
        return out

    def contraction(self, x, w, dw, b, order, shape, fmt, acc, mode, taps=None):
        """x @ w + b, each output a sum of at most `taps` products (default: all n) and b."""
        n = w.shape[0]
        w_hat = w + dw  # exact: round(W) and W share one binade's grid
        val, err = x[1].times(w), x[2].times(w_hat).plus(x[1].times(dw)) if np.any(dw) else x[2].times(w_hat)
        s, e = matmul_enclose(magnitude(x).reshape(-1, n), np.abs(w_hat))
        total = up(s + e).reshape(-1)
        self.fp and self.fp[-1].append(("lin", w_hat.T))
        if b is not None:
            k = val.c.size // b[1].c.size
            val, err = val.plus(Form(np.tile(b[1].c, k))), err.plus(Form(np.tile(b[2].c, k)))
            total = up(total + np.tile(np.abs(b[1].c + b[2].c), k))
            self.fp and self.fp[-1].append(("add", np.tile(b[1].c + b[2].c, k)))
        u, eta, big = limits(acc, mode)
        if not float(np.max(total, initial=0.0)) * 2 <= big:
            raise Reject(f"partial sums may overflow {acc} over the input box")
        arith = up(up(gamma_u((taps or n) + (b is not None), u) * total) + (taps or n) * eta)
        if order == "sequential" and taps is None:
            arith = np.minimum(arith, sequential(x, w_hat, b, u, eta))
        return self.store([shape, val, err, acc, False], fmt, acc, mode, arith)

    def relu(self, x, fmt):
        (lo, hi), (elo, ehi), (l, u) = x[1].bounds(), x[2].bounds(), next(self.domains, (-np.inf, np.inf))
        lo, hi = np.maximum(lo, np.reshape(l, -1)), np.minimum(hi, np.reshape(u, -1))  # robust.py's domain (`chain`)
        clo, chi = down(lo + elo), up(hi + ehi)
        if self.fp:  # x^ within CROWN's domain over the fp program's chain: rounded parameters, roundoffs as `pm`
            k, self.fp = len(self.fp), self.fp + [[]]
            self.ranges[k] = (clo[None], chi[None])
            last, pm = self.last[2:] if self.last[:2] == (k, len(self.fp[k - 1])) else None, self.fp[k - 1][-1:]
            if last:  # the relu reads y = round(t): t's domain (its pm is the arithmetic's alone), rounded (monotone)
                self.fp[k - 1][-1] = ("pm", last[0])
            l, u = layer_bounds(self.fp, *self.box, dict.fromkeys(self.ranges, 0), self.ranges, first=k)[k]
            if last:
                self.fp[k - 1][-1:], l, u = pm, round_to(l, *last[1:]), round_to(u, *last[1:])
            clo, chi = np.fmax(clo, l[0]), np.fmin(chi, u[0])  # fmax, fmin: a NaN (e4m3fn's overflow) bounds nothing
            self.ranges[k] = (clo[None], chi[None])
        with np.errstate(divide="ignore", invalid="ignore"):  # DeepZ's slope; any lam in [0, 1] is sound
            lam = np.clip(np.where(hi > lo, hi / (hi - lo), np.where(lo >= 0, 1.0, 0.0)), 0.0, 1.0)
        # 0 <= relu(v) - lam v (lam in [0, 1]), a function that falls then rises: its max is at an end
        top = np.maximum(up(np.maximum(lo, 0.0) - down(lam * lo)), up(np.maximum(hi, 0.0) - down(lam * hi)))
        mid, rad = center_radius(np.zeros_like(top), top)
        val = self.fresh(x[1].scale(lam).plus(Form(mid)), rad, 0)
        rule = self.rules.pop(0) if self.rules else None
        if not isinstance(rule, str) or len(rule) != lo.size or set(rule) - set("pbh"):
            raise Reject("the relu rules of a leaf do not match its relu ops")
        p, b = np.array([ch == "p" for ch in rule]), np.array([ch == "b" for ch in rule])
        big = np.maximum(np.abs(elo), np.abs(ehi))
        # p: e + [-max(0, -lo), max(0, -clo)]; b: [-max(0, hi), max(0, chi)]; h: e/2 +- |e|/2
        add_lo = np.where(p, -np.maximum(-lo, 0.0), np.where(b, -np.maximum(hi, 0.0), -big / 2))
        add_hi = np.where(p, np.maximum(-clo, 0.0), np.where(b, np.maximum(chi, 0.0), big / 2))
        mid, rad = center_radius(down(add_lo), up(add_hi))
        err = x[2].scale(np.where(p, 1.0, np.where(b, 0.0, 0.5))).plus(Form(mid))
        return [x[0], val, self.fresh(err, rad, 1), fmt, False]


    def smooth(self, x, name, ulps, fmt, acc, mode):
        """y = f(x), f increasing. Its real value f(v) = lam v + g(v): g = f - lam v does not fall
        on [lo, hi] where f' >= lam. Its error f(x^) - f(v) = f'(xi) e, xi in the hull of v's and
        x^'s enclosures (mean value theorem), f'(xi) in [dm - dr, dm + dr]. The kernel's own: its
        libm call within `ulps` ulps of acc, ulp(y) <= 2^-m |y| + 2^(emin-m); for sigmoid,
        1 / (1 + exp(-x)): exp by its contract is relative rho to 1 + E, then + and / by u each."""
        f, df, peak = SMOOTH[name]
        (lo, hi), (clo, chi), (elo, ehi) = x[1].bounds(), enclosure(x), x[2].bounds()
        with np.errstate(over="ignore", divide="ignore"):
            lam = np.maximum(np.minimum(near(df(lo))[0], near(df(hi))[0]), 0.0)  # f' is unimodal
            mid, rad = center_radius(down(near(f(lo))[0] - up(lam * lo)), up(near(f(hi))[1] - down(lam * hi)))
            a, b = np.minimum(lo, clo), np.maximum(hi, chi)
            dm, dr = center_radius(np.maximum(np.minimum(near(df(a))[0], near(df(b))[0]), 0.0),
                                   near(df(np.clip(peak, a, b)))[1])
            top = np.maximum(np.abs(near(f(clo))[0]), near(f(chi))[1])  # >= |f(x^)|
            big_e = near(np.exp(-clo))[1]
        e, m, _ = format_bits(acc)
        rel, floor = 2.0**-m, 2.0 ** (2 - 2 ** (e - 1) - m)
        arith = up(ulps * up(up(rel * top) + floor))
        if name == "sigmoid":
            u, eta, big = limits(acc, mode)
            if not float(np.max(big_e, initial=0.0)) <= big / 2:
                raise Reject(f"exp(-x) in a sigmoid may overflow {acc} over the input box")
            rho = up(ulps * up(rel + floor))
            arith = up(up(up(up((1 + u) / down(down(1 - rho) * (1 - u))) - 1) * top) + eta)
        val = self.fresh(x[1].scale(lam).plus(Form(mid)), rad, 0)
        err = self.fresh(x[2].scale(dm), up(dr * np.maximum(np.abs(elo), np.abs(ehi))), 1)
        return self.store([x[0], val, err, acc, False], fmt, acc, mode, arith)

    def softmax(self, x, ulps, fmt, acc, mode):
        """Rows of n along the last axis. Range: s_i in [1/(1 + sum_{j!=i} e^(hi_j - lo_i)),
        1/(1 + sum_{j!=i} e^(lo_j - hi_i))]. Propagated: sum_k |ds_i/dx_k| |e_k| <=
        s_i (|e_i| + max_k |e_k|), s_i at most H_i over the hull. Kernel (exp(x^_j - m) by the
        contract, x^_j - m within |x^_j - m| u: relative r1; the sum of n terms >= 1 by gamma_n;
        the division by u): |y_i - s_i(x^)| <= rel s_i + (c 2^(emin-m) (1 + u) / (1 - G) + eta)."""
        n = x[0][-1]
        (lo, hi), (clo, chi) = ([b.reshape(-1, n) for b in f] for f in (x[1].bounds(), enclosure(x)))
        e = np.maximum(*np.abs(x[2].bounds())).reshape(-1, n)
        s_lo, s_hi = softmax_range(lo, hi)
        hull = softmax_range(np.minimum(lo, clo), np.maximum(hi, chi))[1]
        u, eta, _ = limits(acc, mode)
        m, floor, g = format_bits(acc)[1], 2.0 ** (2 - 2 ** (format_bits(acc)[0] - 1) - format_bits(acc)[1]), gamma_u(n, u)
        span = up(chi.max(axis=1, keepdims=True) - clo.min(axis=1, keepdims=True))  # >= |x^_j - m|
        r1 = up(up(near(np.exp(up(span * u)))[1] * up(1 + ulps * 2.0**-m)) - 1)
        big_g = up(up(up((1 + r1) * (1 + g)) - 1) + up(n * ulps * floor * (1 + g)))
        rel = up(up(up((1 + r1) * (1 + u)) / down(1 - big_g)) - 1)
        arith = up(up(rel * softmax_range(clo, chi)[1]) + up(up(up(ulps * floor * (1 + u)) / down(1 - big_g)) + eta))
        mid, rad = center_radius(s_lo.reshape(-1), s_hi.reshape(-1))
        err = self.fresh(Form(np.zeros(mid.size)), up(hull * up(e + e.max(axis=1, keepdims=True))).reshape(-1), 1)
        return self.store([x[0], self.fresh(Form(mid), rad, 0), err, acc, False], fmt, acc, mode, arith.reshape(-1))


def softmax_range(lo, hi):
    """Bounds of softmax over rows of the box [lo, hi] (float64 sums of n terms by gamma_2n)."""
    off, g = ~np.eye(lo.shape[1], dtype=bool), 1 + gamma(2 * lo.shape[1])
    with np.errstate(over="ignore"):
        big = np.where(off, near(np.exp(up(hi[:, None, :] - lo[:, :, None])))[1], 0.0).sum(axis=2)
        small = np.where(off, np.maximum(near(np.exp(down(lo[:, None, :] - hi[:, :, None])))[0], 0.0), 0.0).sum(axis=2)
    return down(1 / up(1 + up(big * g))), up(1 / down(1 + down(small / g)))


# f, f' and where f' peaks, for the increasing functions the analysis follows through
SMOOTH = {"tanh": (np.tanh, lambda x: 1 / np.cosh(x) ** 2, 0.0), "exp": (np.exp, np.exp, np.inf),
          "sigmoid": (lambda x: 1 / (1 + np.exp(-x)), lambda x: 1 / ((1 + np.exp(-x)) * (1 + np.exp(x))), 0.0)}


def near(y):
    """Bounds of the exact value numpy's float64 `y` approximates (its tanh, exp, cosh are not
    correctly rounded; a few float64 operations on them): 2^-40 relative plus 2^-1022."""
    y = np.minimum(y, np.finfo(np.float64).max)  # an overflow to inf: the exact value is above
    slack = up(up(np.abs(y) * 2.0**-40) + 2.0**-1022)
    return down(y - slack), up(y + slack)


def sequential(x, w_hat, b, u, eta):
    """s = 0; s += x_k w_k (k = 1..n); s + b: the i-th addition errs by u |t_i|, its exact sum
    t_i within gamma_n P of T_i = sum_{k<=i} x_k w_k (interval partial sums over the box),
    P = sum_k |x_k w_k|; each product errs by u |x_k w_k| + eta (Higham §4.2)."""
    n, g = w_hat.shape[0], gamma(w_hat.shape[0] + 1)
    lo, hi = (v.reshape(-1, n, 1) * w_hat for v in enclosure(x))
    p_lo, p_hi = down(np.minimum(lo, hi)), up(np.maximum(lo, hi))
    p_abs = np.maximum(-p_lo, p_hi)  # >= |p| for p in [p_lo, p_hi]
    slack = up(g * up(np.cumsum(p_abs, axis=1) * (1 + g)))  # float64 cumsum's own error
    t = np.maximum(up(slack - np.cumsum(p_lo, axis=1)), up(np.cumsum(p_hi, axis=1) + slack))  # >= |T_i|
    total = up(t[:, 1:].sum(axis=1) * (1 + g))
    if b is not None:  # |T_n + b| <= |T_n| + |b|
        total = up(total + up(t[:, -1] + np.abs(b[1].c + b[2].c)))
    per_product = up(u + up(2 * n * u * gamma_u(n + 1, u)))
    return up(up(up(u * total) + up(per_product * up(p_abs.sum(axis=1) * (1 + g)))) + n * eta).reshape(-1)


def run_leaf(block, params, lo, hi, rules, domains=None) -> tuple[dict, list]:
    """{op index: value} for every computed value of @main over the box [lo, hi], and the output;
    `domains` (layer_bounds over `chain`) bound the relu inputs."""
    leaf, values = Leaf(rules, domains, (lo.reshape(1, -1), hi.reshape(1, -1))), {}
    lo, hi, shape = lo.reshape(-1), hi.reshape(-1), lo.shape
    mid, rad = center_radius(lo, hi)
    env = {block.args[0][0]: [shape, leaf.fresh(Form(mid), np.where(hi > lo, rad, 0.0), 0),
                              Form(np.zeros(mid.size)), "f32", False]}
    for i, op in enumerate(block.ops):
        xs, name = [env[v] for v in op.operands], op.name.removeprefix("fp.")
        if op.name == "func.return":
            if leaf.rules:
                raise Reject("a leaf holds more relu rules than the stage has relu ops")
            return values, xs[0]
        shape, p, fmt = op.result_types[0].shape, op.props, format_of(op.result_types[0].elem)
        ulps = contract(op)  # the libm error contract, checked against the checker's own table
        if op.name in ("spec.param", "spec.constant"):
            w = params[p["name"]] if op.name == "spec.param" else p["value"].values
            if op.name == "spec.param" and param_sha256(w) != p["sha256"]:
                raise Reject(f"parameter {p['name']!r} differs from its hash in the fp stage")
            v = [shape, Form(w), Form(np.zeros(np.size(w))), "f32", True]
        elif op.name == "fp.round" and within(fmt, xs[0][3]):  # exact
            v = [*xs[0][:3], fmt, xs[0][4]]
        elif op.name == "fp.round" and xs[0][4]:  # a known value's rounding is known: round(W) - W
            w_hat = round_to(xs[0][1].c, fmt, p["rounding"])
            if not np.all(np.isfinite(w_hat)):
                raise Reject(f"a parameter or constant overflows {fmt}")
            v = [*xs[0][:2], Form(w_hat - xs[0][1].c), fmt, True]
        elif op.name == "fp.round":
            v = leaf.store(xs[0], fmt, xs[0][3], p["rounding"])
        elif name in ("flatten", "reshape"):
            v = [shape, *xs[0][1:]]
        elif name in ("linear", "matmul") and xs[1][4] and len(xs[1][0]) == 2 and len(xs[0][0]) >= 2 \
                and (len(xs) == 2 or xs[2][4]):
            w, dw = xs[1][1].c.reshape(xs[1][0]), xs[1][2].c.reshape(xs[1][0])
            w, dw = (w.T, dw.T) if name == "linear" else (w, dw)
            v = leaf.contraction(xs[0], w, dw, xs[2] if len(xs) == 3 else None, p["order"], shape,
                                 fmt, p["acc"], p["rounding"])
        elif name in ("add", "sub"):
            a, b = xs
            z = [shape, *(spread(a, k, shape).plus(spread(b, k, shape), 1.0 if name == "add" else -1.0)
                          for k in (1, 2)), p["acc"], False]
            exact = b[4] and not np.any(b[1].c + b[2].c)  # x +- 0 is x in every mode
            leaf.fp and leaf.fp[-1].append(("add", (spread(b, 1, shape).c + spread(b, 2, shape).c) * (-1.0) ** (name == "sub")))
            arith = 0.0 if exact else up(limits(p["acc"], p["rounding"])[0] * magnitude(z))
            # and x a value of fmt already: stored as it is
            v = [*z[:3], fmt, False] if exact and within(fmt, a[3]) else leaf.store(z, fmt, p["acc"], p["rounding"], arith)
        elif name == "relu":  # exact, but stored into a coarser format than its operand's it rounds
            v = leaf.relu(xs[0], xs[0][3])
            v = v if within(fmt, v[3]) else leaf.store(v, fmt, v[3], p["rounding"])
        elif name in ("conv2d", "maxpool2d") and all(v[4] for v in xs[1:]) and within(fmt, xs[0][3]):
            a, dims = {k: v for k, v in plain_attrs(op).items() if k not in FP_PROPS}, xs[0][0][1:]
            if name == "conv2d":  # x @ M, M the conv of a basis (each entry one weight: exact); x's forms as intervals
                m = [apply(name, [np.eye(n := int(np.prod(dims))).reshape(n, *dims), xs[1][k].c.reshape(xs[1][0])], a)
                     .reshape(n, -1) for k in (1, 2)]
                x = [xs[0][0], *(Form(mid, None, rad) for mid, rad in (center_radius(*f.bounds()) for f in xs[0][1:3]))]
                b = [None, *(Form(np.repeat(f.c, np.prod(shape[2:]))) for f in xs[2][1:3])] if len(xs) == 3 else None
                v = leaf.contraction(x, *m, b, p["order"], shape, fmt, p["acc"], p["rounding"], int(np.prod(xs[1][0][1:])))
            else:  # max is 1-Lipschitz in the max norm: |max(v + e) - max(v)| <= max |e|
                t = np.stack([*xs[0][1].bounds(), np.maximum(*np.abs(xs[0][2].bounds()))]).reshape(-1, *dims)
                lo, hi, e = apply(name, [t], a).reshape(3, -1)  # the windows' largest lo, hi and |error|
                mid, rad = center_radius(lo, hi)
                v = [shape, leaf.fresh(Form(mid), rad, 0), leaf.fresh(Form(np.zeros(mid.size)), e, 1), fmt, False]
        elif name == "softmax" and plain_attrs(op)["axis"] in (-1, len(shape) - 1):
            v = leaf.softmax(xs[0], ulps, fmt, p["acc"], p["rounding"])
        elif name in SMOOTH:
            v = leaf.smooth(xs[0], name, ulps, fmt, p["acc"], p["rounding"])
        else:
            raise Reject(f"{op.name} (op {i} of @main) has no error analysis")
        env[op.results[0]] = v
        if not v[4]:
            values[i] = v
    raise Reject("@main has no return")


def spread(x, k: int, shape) -> Form:
    """Form k of value x, broadcast numpy-style to `shape`."""
    index = np.broadcast_to(np.arange(x[k].c.size).reshape(*(1,) * (len(shape) - len(x[0])), *x[0]), shape).reshape(-1)
    return Form(x[k].c[index], [m[:, index] for m in x[k].ms], x[k].r[index])


def chain(block, params) -> list | None:
    """@main's real values as robust.py's chain of affine maps and ReLUs, so that its layer_bounds
    bound every fp.relu's input: parameters exact (a rounded one's real value is the parameter);
    fp.round, flatten, reshape the identity; the variable the first operand of every other op
    and never broadcast. None where @main is not one."""
    known, cur, blocks = {}, block.args[0][0], [[]]
    for op in block.ops[:-1]:
        name, shape, args = op.name.removeprefix("fp."), op.result_types[0].shape, op.operands
        if name == "spec.param" or name == "round" and args[0] in known:
            known[op.results[0]] = known[args[0]] if args else np.asarray(params[op.props["name"]], np.float64)
            continue
        c, n, out = [known.get(v) for v in args[1:]], int(np.prod(op.operand_types[0].shape)), int(np.prod(shape))
        if args[:1] != [cur] or any(v is None for v in c):
            return None
        if name in ("linear", "matmul") and (w := c[0] if name == "linear" else c[0].T).shape == (out, n):
            blocks[-1] += [("lin", w)] + [("add", np.broadcast_to(b, shape).reshape(-1)) for b in c[1:]]  # x w^T + b
        elif name in ("add", "sub") and out == n:
            blocks[-1].append(("add", np.broadcast_to(c[0], shape).reshape(-1) * (1.0 if name == "add" else -1.0)))
        elif name not in ("relu", "round", "flatten", "reshape"):
            return None
        blocks, cur = blocks + [[]] * (name == "relu"), op.results[0]
    return blocks if block.ops[-1].operands == [cur] and len(blocks) > 1 else None


def load_box(data: bytes, shape) -> tuple[np.ndarray, np.ndarray]:
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        lo, hi = np.asarray(z["lo"], np.float64), np.asarray(z["hi"], np.float64)
    if lo.shape != tuple(shape) or hi.shape != tuple(shape) or not np.all(np.isfinite(hi - lo) & (lo <= hi)):
        raise Reject(f"the input box must hold finite arrays lo <= hi of the input's shape {list(shape)}")
    return lo, hi


def recompute(block, params, tree, lo, hi) -> tuple[dict, np.ndarray]:
    """The hull over the tree's leaves of every value's [range lo, hi, error lo, hi], and the
    output's largest error per element."""
    hull, bound, todo, blocks = {}, 0.0, [(tree, lo, hi, None)], chain(block, params)
    while todo:  # a box's domains within its parent box's
        node, lo, hi, parent = todo.pop()
        dom = blocks and layer_bounds(blocks, lo.reshape(1, -1), hi.reshape(1, -1), dict.fromkeys(range(1, len(blocks)), 0), parent)
        if isinstance(node, dict) and set(node) == {"relu"} and isinstance(node["relu"], list):
            values, out = run_leaf(block, params, lo, hi, node["relu"], dom)
            bound = np.maximum(bound, np.maximum(*np.abs(out[2].bounds())))
            for i, v in values.items():
                now = [*v[1].bounds(), *v[2].bounds()]
                h = hull.setdefault(i, now)
                h[:] = [f(a, b) for f, a, b in zip((np.minimum, np.maximum) * 2, h, now)]
            continue
        if not isinstance(node, dict) or set(node) != {"dim", "at", "below", "above"} \
                or type(node["dim"]) is not int or not 0 <= node["dim"] < lo.size \
                or not lo.reshape(-1)[node["dim"]] <= node["at"] <= hi.reshape(-1)[node["dim"]]:
            raise Reject("malformed split tree: a node is {relu} or {dim, at, below, above} with at in the box")
        below, above = hi.copy(), lo.copy()
        below.reshape(-1)[node["dim"]] = above.reshape(-1)[node["dim"]] = node["at"]
        todo += [(node["below"], lo, below, dom), (node["above"], above, hi, dom)]
    return hull, bound


def check(source: str, target: str, witness: dict, extra: dict | None = None) -> None:
    claims = witness["claims"]
    if witness["pass"] != "error-analysis" or source != target or not isinstance(claims, dict) or \
            set(claims) != {"input_box_sha256", "params_sha256", "tree", "values", "abs"}:
        raise Reject("a roundoff witness of error-analysis speaks of one stage and claims exactly "
                     "input_box_sha256, params_sha256, tree, values and abs")
    if not extra or sha256(extra["box"]) != claims["input_box_sha256"] or \
            sha256(extra["params"]) != claims["params_sha256"]:
        raise Reject("the input box or the parameter file is not the one the witness names")
    if "manifest" in extra and (extra["manifest"].get("abs") != claims["abs"] or
                                extra["manifest"].get("input_box_sha256") != claims["input_box_sha256"]):
        raise Reject("the manifest's certified_error_bound differs from the witness's claims")
    block = main_function(parse(target)).regions[0][0]
    if len(block.args) != 1 or len(block.ops[-1].operands) != 1:
        raise Reject("an error bound needs a model with one input and one output")
    hull, bound = recompute(block, read(extra["params"]), claims["tree"],
                            *load_box(extra["box"], block.args[0][1].shape))
    if not isinstance(claims["values"], list) or sorted(hull) != [v.get("at") for v in claims["values"]]:
        raise Reject("the claims must list every computed value of @main, in order, by its op index")
    for v in claims["values"]:
        got, want = [np.asarray(x, np.float64) for x in (*v["range"], *v["error"])], hull[v["at"]]
        if any(g.shape != w.shape for g, w in zip(got, want)) or not all(
                np.all(g <= w) if k % 2 == 0 else np.all(g >= w) for k, (g, w) in enumerate(zip(got, want))):
            raise Reject(f"op {v['at']}: the claimed range or error does not contain the recomputed one")
    claimed = np.asarray(claims["abs"], np.float64)
    if claimed.shape != bound.shape or not np.all(claimed >= bound):
        raise Reject("the claimed output bound does not cover the recomputed one")


def enclose(stage: str, params: bytes, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An enclosure of the spec program's real output at the input x (a one-point box): on a
    chain, by interval arithmetic through it (the fp program's own range, which may exceed its
    format where the box's analysis splits, plays no part), else by the analysis' val forms."""
    block, p, x = main_function(parse(stage)).regions[0][0], read(params), np.asarray(x, np.float64)
    if blocks := chain(block, p):
        lo, hi = layer_bounds(blocks, x.reshape(1, -1), x.reshape(1, -1), dict.fromkeys(range(1, len(blocks)), 0))[len(blocks) - 1]
        return [a[0] for a in forward(blocks[-1], np.maximum(lo, 0.0), np.maximum(hi, 0.0))]
    rules = ["h" * int(np.prod(op.result_types[0].shape)) for op in block.ops if op.name == "fp.relu"]
    return run_leaf(block, p, x, x, rules)[1][1].bounds()
