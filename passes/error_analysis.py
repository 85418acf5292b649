"""error-analysis: a range and a roundoff bound for every value of the fp stage over an input box.

Expects: the fp stage written by assign-precision (every compute op an fp twin carrying its
storage format, rounding mode and accumulation format), the parameters, and an input box
[lo, hi] of the model's one input. Guarantees, for every input x in the box and every value
v of @main: the real value v(x) of the spec program lies in the claimed range, and the
value the fp program computes differs from it by an amount inside the claimed error
interval, whatever order the reductions sum in. The claims form a `roundoff` witness that
verifier/roundoff.py recomputes (docs/WITNESS.md §5.5 states the algorithm both follow);
this module is the untrusted oracle that searches the split tree and the relu rules and
predicts the recomputation, with its own code, widening every claim by MARGIN.

The domain (affine arithmetic: DeepZ for ranges, FPTaylor/Satire-style roundoff with the
higher-order terms bounded, not dropped). Every value carries two affine forms,
`c + Mv ev + Mr er + [-r, r]` elementwise, over value symbols ev (the input box, relu
relaxations) and roundoff symbols er, all in [-1, 1]:

- `val`, its real value: the box is mid + rad ev; linear maps act exactly; relu of a value
  in [l, u] is lam v + [b_lo, b_hi], lam = clip(u / (u - l), 0, 1) (DeepZ), the offset
  interval a fresh value symbol;
- `err`, its error (fp value minus real value). A contraction z = x W + b computed from
  rounded operands W_hat = W + dW, x_hat = x + e has e_z = e W_hat + x dW + db + delta:
  the known rounding dW = round(W) - W of a parameter is applied to the *form* of x, so it
  stays correlated with the input; delta, the arithmetic's own roundoff, is one fresh
  roundoff symbol per element of size gamma_{n+1}(u_A) (|x_hat| |W_hat| + |b_hat|) + n eta_A
  for n + 1 terms summed in any order in the accumulation format A (Higham, Accuracy and
  Stability of Numerical Algorithms, 2nd ed., §3.1), plus max(u_S 2^(e-1), eta_S) (|z_hat| <= M,
  2^(e-1) <= M < 2^e: half an ulp of M's binade) for the one
  rounding into the storage format S (for directed modes u doubles; eta is the smallest
  subnormal, halved for nearest). A stored value that may exceed S's largest finite value
  means no bound: the analysis fails;
- the range [l, u] of a relu's input v is the form's intersected with the domain that the
  trusted checker's CROWN engine (verifier/robust.py, `layer_bounds`: IBP intersected with a
  CROWN dual bound per unstable neuron, outward rounded) gives over the box for @main read as
  a chain of affine maps and relus (`chain`; a stage that is not one is not tightened), itself
  intersected with the parent box's domains, so that a split never loosens them; fewer relus
  are unstable and lam, the offsets and the magnitudes |x_hat| that roundoff scales with shrink;
- on such a chain, the computed relu input x_hat's range [l_hat, u_hat] = [l + elo, u + ehi] is
  intersected with the domain layer_bounds gives over the fp program's own chain, built op by
  op in the leaf (`Leaf.fp`): the rounded parameters, each op's roundoff a step "pm" (plus an
  unknown d, |d| <= its bound), the layers below taking the ranges already computed
  (`first`); where the op before the relu rounds (x_hat = round(t)), t's domain is bounded
  (that op's pm its arithmetic's alone) and rounded, rounding being monotone. The error
  bound e holds every fresh term of the relus before, amplified by the layers since; CROWN
  over the fp program counts each roundoff once, so a neuron the reals keep inactive by a
  margin smaller than e is proven inactive in the fp program too (error 0);
- relu's error e' = relu(v + e) - relu(v) follows one of three rules, each sound for any
  neuron, chosen per element by the oracle and recorded in the witness: `p` (pass)
  e' in e + [-max(0, -l), max(0, -l_hat)], `b` (block) e' in [-max(0, u), max(0, u_hat)],
  `h` (half) e' in e/2 + [-|e|/2, |e|/2] (from e' = d e, d in [0, 1]);
- for a contraction summed in the recorded "sequential" order (which the loop checker holds
  the kernels to), the smaller partial-sum bound of Higham §4.2 may replace gamma_{n+1}.
- an increasing function f (tanh, sigmoid, exp) of x: the real value f(v) = lam v + g(v) with
  lam <= f' on [l, u], so g = f - lam v does not fall there and lies in [g(l), g(u)] (a fresh
  value symbol; monotonicity, not a Taylor expansion); the propagated error f(x^) - f(v) =
  f'(xi) e for some xi between them (mean value theorem), f'(xi) in [d_lo, d_hi], its
  extremes over the hull of v's and x^'s enclosures: e' = d_mid e + [-d_rad |e|, d_rad |e|];
  the kernel's own error by the op's ulp contract (fp.ULP_CONTRACTS): c ulp_A(f(x^)) <=
  c (2^-m_A |f(x^)| + 2^(emin_A - m_A)) for tanh and exp; sigmoid's kernel computes
  1 / (1 + E), E = exp(-x^): E errs by c ulps, relative rho = c (2^-m + 2^(emin-m)) to 1 + E,
  then + and / round by u_A each: |R - s| <= ((1+u)/((1-rho)(1-u)) - 1) s + eta_A, s = sigmoid(x^),
  with exp(-x^) required not to overflow A; then the storage rounding as for every op.
  numpy's float64 tanh, exp and cosh are trusted to NUMPY_SLOP relative (TRUST.md).
- softmax along the last axis, rows of n: the real range of s_i over the box from its
  monotonicity (increasing in x_i, decreasing in the others); the propagated error by the
  mean value theorem, sum_k |J_ik| |e_k| <= s_i (|e_i| + max_k |e_k|) (J = diag(s) - s s^T),
  s_i bounded over the hull of both enclosures; the kernel's own (m = max exact; x^_j - m
  rounded, relative u, so exp(x^_j - m) within e^(D u) of exp of the exact difference, D >=
  the row's spread; exp by the contract; the sum >= 1 of n nonnegative terms by gamma_n; the
  division by u): |y_i - s_i(x^)| <= ((1 + r1)(1 + u)/(1 - G) - 1) s_i + c 2^(emin-m) (1 + u)
  / (1 - G) + eta, r1 = e^(D u)(1 + c 2^-m) - 1, G = (1 + r1)(1 + gamma_n) - 1 + n c
  2^(emin-m) (1 + gamma_n). Values and errors after a softmax start fresh symbols.
- conv2d (weights known): x @ M + b with M the convolution's matrix, x's forms first
  collapsed to their bounds (a convolution's feature maps are too wide for a symbol per
  element), each output a sum of C/groups * kh * kw products and the bias, in any order;
  maxpool2d: the windows' largest bounds (a fresh value symbol) and error within the
  window's largest |error| (max is 1-Lipschitz in the max norm, and exact). A value of more
  than WIDE elements keeps its fresh terms in its remainder instead of symbols.
Other ops (log_softmax, log, layernorm, ...) have no error analysis yet: a clear error.

Every float64 operation on the forms is accounted for: matrix products by the gamma_n
bound of verifier/interval.py, elementwise operations by F64_ROUND relative; these
rounding terms go to the remainder r. Ranges tighten as boxes shrink, so the box is split
(a tree of halvings along one input coordinate): the leaf with the largest output bound is
split along the coordinate that contributes most to its output range, within a budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import NamedTuple

import numpy as np
from vnnc.dialects import fp, spec
from vnnc.verifier.interval import ETA, center_radius, down, matmul_enclose, up
from vnnc.verifier.interval import gamma as gamma_enclose

NAME = "error-analysis"
MARGIN = 2.0**-30  # relative widening of every claim; the checker's recomputation lands inside
F64_ROUND = 2.0**-52  # |fl(a op b) - a op b| <= F64_ROUND |fl(a op b)| (+ ETA for a product)
SPLIT_WORK = 6_000_000  # the split search stops at about this many leaves x parameters
MAX_LEAVES = 4096
GAIN, STALL = 1 / 8, 6  # an output's worst box is final after STALL halvings in a row (along the coordinates in
# turn, by their promise) lowered that output's bound by less than GAIN in all
SUPPORTED = ("linear, matmul (x @ W), conv2d (W known), add, sub, relu, maxpool2d, tanh, sigmoid, exp, "
             "softmax (last axis), flatten, reshape, round")
WIDE = 2048  # a value of more elements takes its fresh terms into its remainder, not as symbols
CONV_ENTRIES = 1 << 26  # a conv2d's dense matrix (and the checker's) up to 512 MiB of float64


class AnalysisError(Exception):
    pass


class OverflowRisk(AnalysisError):
    """A value may overflow its format over the box: a smaller box may still be fine."""


@cache
def format_limits(name: str, rounding: str) -> tuple[float, float, float]:
    """(u, eta, biggest): |round(y) - y| <= u |y| + eta whenever |y| <= biggest."""
    f = fp.parse_format(name)
    directed = rounding != "nearest"
    u = 2.0 ** -(f.mbits + 1) * (2 if directed else 1)
    eta = 2.0 ** (1 - f.bias - f.mbits) * (1 if directed else 0.5)
    if f.kind == "ieee":
        biggest = (2 - 2.0**-f.mbits) * 2.0**f.bias
    else:  # fn formats: the all-ones exponent holds numbers, all-ones there is NaN
        biggest = (2 - 2.0 ** (1 - f.mbits)) * 2.0 ** (f.bias + 1)
    return u, eta, biggest


@cache
def contains(outer: str, inner: str) -> bool:
    """Every value of format `inner` is one of `outer` (so converting is exact)."""
    a, b = fp.parse_format(outer), fp.parse_format(inner)
    return outer == inner or (a.kind == "ieee" and a.mbits >= b.mbits
                               and (a.ebits > b.ebits or a.ebits == b.ebits and b.kind == "ieee"))


@cache
def gamma64(n: int) -> float:
    return gamma(n, 2.0**-53)


@cache
def gamma(n: int, u: float) -> float:
    """An upper bound of gamma_n = n u / (1 - n u)."""
    if n * u >= 0.5:
        raise AnalysisError(f"{NAME}: a sum of {n} terms is too long for unit roundoff {u:g}")
    return float(up(up(n * u) / down(1.0 - n * u)))


def round_to(x: np.ndarray, fmt: str, mode: str) -> np.ndarray:
    """x (float64, finite) rounded to `fmt` in `mode`; inf where it overflows."""
    f = fp.parse_format(fmt)
    _, exp = np.frexp(x)
    quantum = np.ldexp(1.0, np.maximum(exp - 1, 1 - f.bias) - f.mbits)
    step = {"nearest": np.rint, "zero": np.trunc, "up": np.ceil, "down": np.floor}[mode]
    r = step(x / quantum) * quantum
    _, _, biggest = format_limits(fmt, mode)
    return np.where(np.abs(r) > biggest, np.inf, r)


# ---------------------------------------------------------------- affine forms


_gamma_2n = cache(gamma_enclose)


def enclose_nonnegative(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """matmul_enclose(a, b) for float64 a, b >= 0: there |a| |b| is the product a b itself
    (up to the signs of zeros, which its error bound does not see), computed once."""
    n = a.shape[-1]
    c = a @ b
    return c, up(up(_gamma_2n(2 * n) * up(c + n * ETA)) + n * ETA)


_ones = cache(lambda k: np.ones(k))  # read only


def _sum_cols(m: np.ndarray) -> np.ndarray:
    """|m| summed over symbols (rows of m), rounded up."""
    if m.shape[0] == 0:
        return np.zeros(m.shape[1])
    s, e = enclose_nonnegative(_ones(m.shape[0]), np.abs(m))
    return up(s + e)


def _combine(a: np.ndarray, b: np.ndarray, sign: float) -> np.ndarray:
    """a + sign * b over k rows (the more of both), the missing rows of either zeros: on every
    entry the float operations of padding both with zero rows, in one new array."""
    na, nb = len(a), len(b)
    if not na and not nb:
        return a  # no rows (forms are never changed in place)
    if sign != 1.0:  # sign * b; with sign 1 that is b itself, bit for bit
        b = sign * b
    out = np.empty((max(na, nb), a.shape[1]))
    m = min(na, nb)
    np.add(a[:m], b[:m], out=out[:m])
    if na > m:
        np.add(a[m:], sign * 0.0, out=out[m:])
    elif nb > m:
        np.add(0.0, b[m:], out=out[m:])
    return out


@dataclass
class Affine:
    """x = c + ev @ mv + er @ mr + [-r, r] for flat x; mv [Kv, n], mr [Kr, n]."""

    c: np.ndarray
    mv: np.ndarray
    mr: np.ndarray
    r: np.ndarray

    @staticmethod
    def const(c) -> Affine:
        c = np.array(c, np.float64).reshape(-1)
        return Affine(c, np.zeros((0, c.size)), np.zeros((0, c.size)), np.zeros(c.size))

    def col(self, k: int) -> np.ndarray:
        """colsum |mv| (k = 0) or |mr| (k = 1), rounded up; computed once (forms are never
        changed in place). `_same[k]`: a form whose matrix k has the same absolute values
        bit for bit (the same matrix, or one that differs by adding zeros), whose sum it is."""
        cols = self.__dict__.setdefault("_cols", [None, None])
        if cols[k] is None:
            same = self.__dict__.get("_same", (None, None))[k]
            cols[k] = same.col(k) if same is not None else _sum_cols(self.mr if k else self.mv)
        return cols[k]

    def cols(self) -> tuple[np.ndarray, np.ndarray]:
        """(colsum |mv|, colsum |mr|), each rounded up."""
        return self.col(0), self.col(1)

    def radius(self) -> np.ndarray:
        if getattr(self, "_radius", None) is None:
            self._radius = up(up(self.col(0) + self.col(1)) + self.r)
        return self._radius

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        if getattr(self, "_bounds", None) is None:
            rad = self.radius()
            self._bounds = down(self.c - rad), up(self.c + rad)
        return self._bounds

    def magnitude(self) -> np.ndarray:
        return up(np.abs(self.c) + self.radius())

    def rounding(self) -> np.ndarray:
        """A bound of the rounding of forms whose entries each came from one float64 operation."""
        total = up(up(np.abs(self.c) + self.cols()[0]) + self.cols()[1])
        return up(up(total * F64_ROUND) + 2 * ETA)

    def loose(self, extra) -> Affine:
        out = Affine(self.c, self.mv, self.mr, up(self.r + extra))
        out._same = (self, self)
        return out

    def plus(self, other: Affine, sign: float = 1.0) -> Affine:
        out = Affine(self.c + sign * other.c, _combine(self.mv, other.mv, sign), _combine(self.mr, other.mr, sign),
                     up(self.r + other.r))
        # |a + (+-0)| = |a| and |0 + (+-b)| = |b| bit for bit: where one side has no symbols
        # of a kind, the other side's column sums are the sum's
        out._same = tuple(self if not len(b) else other if not len(a) else None
                          for a, b in ((self.mv, other.mv), (self.mr, other.mr)))
        return out.loose(out.rounding())

    def times(self, d: np.ndarray) -> Affine:
        """d * self for an exact vector d."""
        out = Affine(d * self.c, self.mv * d if len(self.mv) else self.mv, self.mr * d if len(self.mr) else self.mr,
                     up(np.abs(d) * self.r))
        if np.all(d == 1.0):  # m * 1 = m
            out._same = (self, self)
        return out.loose(out.rounding())

    def matmul(self, b: np.ndarray) -> Affine:
        """self viewed as rows [.., n] times b [n, out]."""
        n, cols = b.shape
        rows = self.c.size // n
        c, e_c = matmul_enclose(self.c.reshape(rows, n), b)
        abs_b = np.abs(b)
        r, e_r = enclose_nonnegative(self.r.reshape(rows, n), abs_b)
        rest = up(e_c + up(r + e_r)).reshape(-1)
        forms = []
        for k, m in enumerate((self.mv, self.mr)):
            forms.append((m.reshape(-1, n) @ b).reshape(len(m), rows * cols) if len(m) else np.zeros((0, rows * cols)))
            if len(m):  # each entry errs by <= gamma_n (|m| |b|) + n ETA; summed over the symbols:
                s, e = enclose_nonnegative(self.col(k).reshape(rows, n), abs_b)
                rest = up(rest + up(up(gamma64(n) * up(s + e)).reshape(-1) + len(m) * n * ETA))
        return Affine(c.reshape(-1), forms[0], forms[1], rest)

    def gather(self, index: np.ndarray) -> Affine:
        if len(index) == len(self.c) and np.array_equal(index, np.arange(len(self.c))):
            return self  # the identity: the same values
        return Affine(self.c[index], self.mv[:, index], self.mr[:, index], self.r[index])


class Symbols:
    """Hands out fresh symbols: one per element, in order, for every fresh term."""

    def __init__(self):
        self.values = 0
        self.roundoffs = 0

    def fresh(self, a: Affine, extra, pool: str) -> Affine:
        """a + [-extra, extra] elementwise, each nonzero element's term a new symbol of `pool`."""
        extra = up(_full(extra, a.c.shape))
        if a.c.size > WIDE:  # a symbol per element would make a matrix of size^2 (a convolution's)
            return a.loose(extra)
        rows = np.nonzero(extra)[0]
        value = pool == "value"
        old = a.mv if value else a.mr
        if value:
            self.values += len(rows)
        else:
            self.roundoffs += len(rows)
        total = self.values if value else self.roundoffs
        m = np.empty((total, a.c.size))  # old's rows, zeros up to the new ones, the new ones
        m[:len(old)] = old
        m[len(old):] = 0.0
        m[total - len(rows) + np.arange(len(rows)), rows] = extra[rows]
        out = Affine(a.c, m, a.mr, a.r) if value else Affine(a.c, a.mv, m, a.r)
        out._same = (None, a) if value else (a, None)
        return out


# ---------------------------------------------------------------- values and ops


@dataclass
class Value:
    """A tensor: its real value's form, its error's form, its storage format; `known` for a
    parameter or constant (val.c is its exact value, err.c its exact rounding)."""

    shape: tuple
    val: Affine
    err: Affine
    fmt: str = "f32"
    known: bool = False

    def computed(self) -> tuple[np.ndarray, np.ndarray]:
        """An enclosure of the fp program's value."""
        if getattr(self, "_computed", None) is None:
            (lo, hi), (elo, ehi) = self.val.bounds(), self.err.bounds()
            self._computed = down(lo + elo), up(hi + ehi)
        return self._computed

    def magnitude(self) -> np.ndarray:
        lo, hi = self.computed()
        return np.maximum(np.abs(lo), np.abs(hi))


def sequential_error(x: Value, w_hat: np.ndarray, b: Value | None, u: float, eta: float) -> np.ndarray:
    """The roundoff of s = 0; s = s + x_k w_k for k = 1 .. n in this order, then s + b
    (Higham §4.2): the products err by u |p_k| (+ eta), the i-th addition by u |t_i| with
    |t_i| <= |T_i| + gamma_n P, T_i = sum_{k <= i} x_hat_k w_hat_k enclosed by interval
    partial sums over the box, P = sum_k |x_hat_k w_hat_k|; |T_n + b| <= |T_n| + |b|."""
    n = w_hat.shape[0]
    g = gamma64(n + 1)
    lo, hi = x.computed()
    a, c = lo.reshape(-1, n, 1) * w_hat, hi.reshape(-1, n, 1) * w_hat
    p_lo, p_hi = down(np.minimum(a, c)), up(np.maximum(a, c))
    p_abs = np.maximum(-p_lo, p_hi)
    slack = up(g * up(np.cumsum(p_abs, axis=1) * (1 + g)))
    t_max = np.maximum(up(slack - np.cumsum(p_lo, axis=1)), up(np.cumsum(p_hi, axis=1) + slack))
    total = up(t_max[:, 1:].sum(axis=1) * (1 + g))
    if b is not None:
        total = up(total + up(t_max[:, -1] + np.abs(b.val.c + b.err.c)))
    per_product = _per_product(n, u)
    return up(up(up(u * total) + up(per_product * up(p_abs.sum(axis=1) * (1 + g)))) + n * eta).reshape(-1)


def _full(x, shape) -> np.ndarray:
    """x as float64 broadcast to `shape`."""
    x = np.asarray(x, np.float64)
    return x if x.shape == shape else np.broadcast_to(x, shape)


@cache
def _per_product(n: int, u: float) -> float:
    return up(u + up(2 * n * u * gamma(n + 1, u)))


def _relu_offset(lam, lo, hi):
    """An upper bound of relu(x) - lam x over x in [lo, hi] for lam in [0, 1] (its lower bound
    is 0): the function falls, then rises, so its max is at an end."""
    return np.maximum(up(np.maximum(lo, 0.0) - down(lam * lo)), up(np.maximum(hi, 0.0) - down(lam * hi)))


def _interval(f: Affine) -> Affine:
    """f's bounds as a form without symbols: mid + [-rad, rad]."""
    mid, rad = center_radius(*f.bounds())
    return Affine(mid, np.zeros((0, mid.size)), np.zeros((0, mid.size)), rad)


def _taps(in_shape, out_shape, kernel, a: dict):
    """Input row h[i, p] and column v[j, q] of output (i, j)'s tap (p, q) (pads at the top and
    left shift them; outside [0, H) x [0, W) a tap reads padding)."""
    (s0, s1), (d0, d1), pads = a.get("strides", (1, 1)), a.get("dilations", (1, 1)), a.get("pads", (0, 0, 0, 0))
    h = np.arange(out_shape[2])[:, None] * s0 + np.arange(kernel[0])[None, :] * d0 - pads[0]
    v = np.arange(out_shape[3])[:, None] * s1 + np.arange(kernel[1])[None, :] * d1 - pads[1]
    return h, v


def conv_matrix(w: np.ndarray, in_shape, out_shape, a: dict) -> np.ndarray:
    """M [C H W, O OH OW] with conv2d(x)[n] = x[n] (flat) @ M (no bias): M holds w[o, c, p, q]
    where output (o, i, j) reads input (g Cg + c, h[i, p], v[j, q]), g = o's group."""
    (_, C, H, W), (_, O, OH, OW), (_, cg, kh, kw) = in_shape, out_shape, w.shape
    h, v = _taps(in_shape, out_shape, (kh, kw), a)
    o, c, i, p, j, q = np.meshgrid(*(np.arange(k) for k in (O, cg, OH, kh, OW, kw)), indexing="ij")
    hh, vv = h[i, p], v[j, q]
    inside = (hh >= 0) & (hh < H) & (vv >= 0) & (vv < W)
    cin = (o // (O // a.get("groups", 1))) * cg + c
    m = np.zeros((C * H * W, O * OH * OW))
    m[((cin * H + hh) * W + vv)[inside], ((o * OH + i) * OW + j)[inside]] = w[o, c, p, q][inside]
    return m


def pool_max(t: np.ndarray, in_shape, out_shape, a: dict) -> np.ndarray:
    """maxpool2d of the flat array t (padding never wins), flat."""
    x, (H, W) = t.reshape(in_shape), in_shape[2:]
    h, v = _taps(in_shape, out_shape, a["kernel"], a)
    taps = x[:, :, np.clip(h, 0, H - 1)[:, :, None, None], np.clip(v, 0, W - 1)[None, None, :, :]]  # N C OH kh OW kw
    inside = ((h >= 0) & (h < H))[:, :, None, None] & ((v >= 0) & (v < W))[None, None, :, :]
    return np.where(inside, taps, -np.inf).max(axis=(3, 5)).reshape(-1)


class Leaf:
    """The analysis of the fp stage over one box; `rules` are the relu rules to follow (or
    None: choose them, recording the choice in `chosen`)."""

    def __init__(self, box_lo: np.ndarray, box_hi: np.ndarray, rules: list[str] | None = None, domains=None):
        self.symbols = Symbols()
        self.rules, self.chosen, self.domains = rules, [], domains
        lo, hi = box_lo.reshape(-1), box_hi.reshape(-1)
        # the fp program as robust.py's chain (rounded parameters, each rounding a perturbation
        # "pm"), built op by op where the stage is a chain; the relu inputs' computed ranges
        self.fp, self.box, self.ranges = ([[]] if domains is not None else None), (lo[None], hi[None]), {}
        self.last = None  # the fp chain's last rounding (`store`)
        mid, rad = center_radius(lo, hi)
        rad = np.where(hi > lo, rad, 0.0)
        self.input = Value(box_lo.shape, self.symbols.fresh(Affine.const(mid), rad, "value"),
                           Affine.const(np.zeros(lo.size)))

    def store(self, z: Value, fmt: str, acc: str, rounding: str, where: str, arith=0.0, exact=False) -> Value:
        """z computed in `acc` with roundoff `arith`, rounded once to `fmt` (`exact`: it is a
        value of fmt already): one fresh roundoff symbol per element for both."""
        extra = _full(arith, z.val.c.shape)
        pm, last = extra, None  # |computed - (z's own computed operation)| <= pm, for the fp chain
        if not exact and not contains(fmt, acc):
            # |y| <= M, 2^(e-1) <= M < 2^e: |round(y) - y| <= u 2^(e-1) (half an ulp of M's binade
            # for nearest, a whole one directed: u doubles), at most u M; eta below the normal range
            u, eta, _ = format_limits(fmt, rounding)
            bound = np.maximum(np.ldexp(u, np.frexp(up(z.magnitude() + extra))[1] - 1), eta)
            # where every computed value rounds to the same r, the error is r - val exactly
            lo, hi = z.computed()
            r = round_to(down(lo - extra), fmt, rounding)
            cell = (r == round_to(up(hi + extra), fmt, rounding)) & np.isfinite(r)
            err = z.err.times(1.0 - cell).plus(Affine.const(np.where(cell, r, 0.0)).plus(z.val.times(1.0 * cell), -1.0))
            z = Value(z.shape, z.val, err, z.fmt, z.known)
            # the computed y is round(t), |t - z's operation| <= extra: at a relu, its domain is
            # t's rounded (rounding is monotone), not y's with the whole pm (the step made below)
            last = ((len(self.fp), len(self.fp[-1]) + 1), extra.reshape(-1), fmt, rounding) if self.fp is not None else None
            pm = up(extra + bound)
            extra = np.where(cell, 0.0, up(extra + bound))
        if self.fp is not None:
            self.fp[-1].append(("pm", np.array(pm, np.float64).reshape(-1)))
            self.last = last
        out = Value(z.shape, z.val, self.symbols.fresh(z.err, extra, "roundoff"), fmt)
        _, _, biggest = format_limits(fmt, rounding)
        worst = float(np.max(out.magnitude(), initial=0.0))
        if not worst <= biggest:
            raise OverflowRisk(f"{NAME}: {where} may overflow {fmt} over the input box (|value| up to "
                                f"{worst:.4g} > {biggest:.4g}): no error bound can be certified")
        return out

    def round(self, x: Value, fmt: str, rounding: str, where: str) -> Value:
        if contains(fmt, x.fmt):
            return Value(x.shape, x.val, x.err, fmt, x.known)
        if x.known:  # the rounding of a known value is known: round(W) - W, exactly
            w_hat = round_to(x.val.c, fmt, rounding)
            if not np.all(np.isfinite(w_hat)):
                raise AnalysisError(f"{NAME}: {where}: a parameter or constant overflows {fmt}")
            return Value(x.shape, x.val, Affine.const(w_hat - x.val.c), fmt, True)
        return self.store(x, fmt, x.fmt, rounding, where)

    def contraction(self, x: Value, w: np.ndarray, dw: np.ndarray, b: Value | None, shape, fmt, acc,
                    rounding, order, where, taps: int | None = None) -> Value:
        """x @ w (+ b): w [n, out] a known matrix read with rounding dw, b a known vector; each
        output a sum of at most `taps` products (None: n), in any order where taps is given."""
        n = w.shape[0]
        terms = taps or n
        w_hat = w + dw  # exact: round(W) and W lie on one binade's grid
        val = x.val.matmul(w)
        err = x.err.matmul(w_hat).plus(x.val.matmul(dw)) if np.any(dw) else x.err.matmul(w_hat)  # x 0 = 0
        total, e = enclose_nonnegative(x.magnitude().reshape(-1, n), np.abs(w_hat))
        total = up(total + e).reshape(-1)
        if b is not None:
            reps = val.c.size // b.val.c.size
            val = val.plus(Affine.const(np.tile(b.val.c, reps)))
            err = err.plus(Affine.const(np.tile(b.err.c, reps)))
            total = up(total + np.tile(np.abs(b.val.c + b.err.c), reps))
        u_a, eta_a, big_a = format_limits(acc, rounding)
        if not float(np.max(total, initial=0.0)) * 2 <= big_a:
            raise OverflowRisk(f"{NAME}: {where}: partial sums may overflow {acc} over the input box")
        if self.fp is not None:
            self.fp[-1].append(("lin", w_hat.T))
            if b is not None:
                self.fp[-1].append(("add", np.tile(b.val.c + b.err.c, reps)))
        arith = up(up(gamma(terms + (b is not None), u_a) * total) + terms * eta_a)
        if order == "sequential" and taps is None:
            arith = np.minimum(arith, sequential_error(x, w_hat, b, u_a, eta_a))
        return self.store(Value(tuple(shape), val, err, acc), fmt, acc, rounding, where, arith)

    def window(self, name: str, xs: list[Value], a: dict, shape, fmt, acc, rounding, order, where) -> Value:
        """conv2d: x @ M + b with M the convolution's matrix, x's forms first collapsed to
        intervals (a symbol per element of a feature map would not fit), each output a sum of
        C/groups * kh * kw products and the bias. maxpool2d: the windows' largest lower and
        upper bounds, a fresh value symbol; max is 1-Lipschitz in the max norm, so its error is
        within the window's largest |error| (a fresh roundoff symbol); max itself is exact."""
        x, shape = xs[0], tuple(shape)
        if name == "conv2d":
            entries = int(np.prod(x.shape[1:])) * int(np.prod(shape[1:]))
            if entries > CONV_ENTRIES:
                raise AnalysisError(f"{NAME}: {where}: its matrix would have {entries:,} entries (at most "
                                    f"{CONV_ENTRIES:,}): the error analysis handles smaller convolutions only")
            w, dw = (f.c.reshape(xs[1].shape) for f in (xs[1].val, xs[1].err))
            flat = Value(x.shape, _interval(x.val), _interval(x.err), x.fmt)
            b = None
            if len(xs) == 3:
                hw = int(np.prod(shape[2:]))
                b = Value(xs[2].shape, Affine.const(np.repeat(xs[2].val.c, hw)), Affine.const(np.repeat(xs[2].err.c, hw)),
                          xs[2].fmt, True)
            return self.contraction(flat, conv_matrix(w, x.shape, shape, a), conv_matrix(dw, x.shape, shape, a), b,
                                    shape, fmt, acc, rounding, order, where, taps=int(np.prod(w.shape[1:])))
        (lo, hi), (elo, ehi) = x.val.bounds(), x.err.bounds()
        lo, hi, e = (pool_max(t, x.shape, shape, a) for t in (lo, hi, np.maximum(np.abs(elo), np.abs(ehi))))
        mid, rad = center_radius(lo, hi)
        return Value(shape, self.symbols.fresh(Affine.const(mid), rad, "value"),
                     self.symbols.fresh(Affine.const(np.zeros(mid.size)), e, "roundoff"), fmt)

    def add(self, a: Value, b: Value, sign: float, shape, fmt, acc, rounding, where) -> Value:
        shape = tuple(shape)

        def spread(v: Value, form: Affine) -> Affine:
            if tuple(v.shape) == shape:
                return form
            lead = (1,) * (len(shape) - len(v.shape))
            index = np.broadcast_to(np.arange(form.c.size).reshape(*lead, *v.shape), shape).reshape(-1)
            return form.gather(index)

        z = Value(shape, spread(a, a.val).plus(spread(b, b.val), sign), spread(a, a.err).plus(spread(b, b.err), sign), acc)
        if self.fp is not None:  # a chain: b is the known operand
            self.fp[-1].append(("add", sign * (spread(b, b.val).c + spread(b, b.err).c)))
        u_a, _, _ = format_limits(acc, rounding)
        exact = b.known and not np.any(b.val.c + b.err.c)  # x +- 0 is x, in every mode
        if exact and contains(fmt, a.fmt):  # and x a value of fmt already: stored as it is
            return Value(shape, z.val, z.err, fmt)
        return self.store(z, fmt, acc, rounding, where, 0.0 if exact else up(u_a * z.magnitude()))

    def relu(self, x: Value, fmt, where) -> Value:
        lo, hi = x.val.bounds()
        if self.domains is not None:  # robust.py's domain of this relu's input over the box (`chain`)
            l, u = self.domains[len(self.chosen) + 1]
            lo, hi = np.maximum(lo, l.reshape(-1)), np.minimum(hi, u.reshape(-1))
        elo, ehi = x.err.bounds()
        clo, chi = down(lo + elo), up(hi + ehi)
        if self.fp is not None:  # the computed x^ within robust.py's domain over the fp chain
            from vnnc.verifier.robust import layer_bounds

            k = len(self.fp)
            self.fp.append([])
            self.ranges[k] = (clo[None], chi[None])
            last = self.last if self.last and self.last[0] == (k, len(self.fp[k - 1])) else None
            if last:  # the relu reads round(t): t's domain, rounded
                step, self.fp[k - 1][-1] = self.fp[k - 1][-1], ("pm", last[1])
            l, u = layer_bounds(self.fp, *self.box, dict.fromkeys(self.ranges, 0.0), self.ranges, first=k)[k]
            if last:
                self.fp[k - 1][-1], l, u = step, round_to(l, *last[2:]), round_to(u, *last[2:])
                l = np.where(np.isfinite(l), l, -np.inf)  # round_to: inf where it overflows
            clo, chi = np.maximum(clo, l[0]), np.minimum(chi, u[0])
            self.ranges[k] = (clo[None], chi[None])
        with np.errstate(divide="ignore", invalid="ignore"):
            lam = np.where(hi > lo, hi / (hi - lo), np.where(lo >= 0, 1.0, 0.0))
        lam = np.clip(lam, 0.0, 1.0)
        top = _relu_offset(lam, lo, hi)
        mid, rad = center_radius(np.zeros_like(top), top)
        val = x.val.times(lam).plus(Affine.const(mid))
        val = self.symbols.fresh(val, rad, "value")
        # the error: rules p, b, h (module docstring), one per element
        big = np.maximum(np.abs(elo), np.abs(ehi))
        p_lo, p_hi = down(elo - np.maximum(-lo, 0.0)), up(ehi + np.maximum(-clo, 0.0))
        b_lo_, b_hi_ = -np.maximum(hi, 0.0), np.maximum(chi, 0.0)
        if self.rules is None:
            widths = np.stack([p_hi - p_lo, b_hi_ - b_lo_, up(big + (ehi - elo) / 2)])
            rule = "".join("pbh"[k] for k in np.argmin(widths, axis=0))
            self.chosen.append(rule)
        else:
            rule = self.rules[len(self.chosen)]
            self.chosen.append(rule)
            if len(rule) != lo.size or set(rule) - set("pbh"):
                raise AnalysisError(f"{NAME}: {where}: bad relu rule {rule!r}")
        code = np.frombuffer(rule.encode("latin-1"), np.uint8)
        is_p, is_b = code == ord("p"), code == ord("b")
        keep = np.where(is_p, 1.0, np.where(is_b, 0.0, 0.5))
        lo_add = np.where(is_p, -np.maximum(-lo, 0.0), np.where(is_b, b_lo_, -big / 2))
        hi_add = np.where(is_p, np.maximum(-clo, 0.0), np.where(is_b, b_hi_, big / 2))
        mid, rad = center_radius(down(lo_add), up(hi_add))
        err = x.err.times(keep).plus(Affine.const(mid))
        err = self.symbols.fresh(err, rad, "roundoff")
        return Value(x.shape, val, err, fmt)

    def smooth(self, x: Value, name: str, ulps: float, fmt, acc, rounding, where) -> Value:
        """y = f(x) for an increasing f (tanh, sigmoid, exp); see the module docstring."""
        f, df, peak = SMOOTH[name]
        lo, hi = x.val.bounds()
        clo, chi = x.computed()
        elo, ehi = x.err.bounds()
        with np.errstate(over="ignore", divide="ignore"):
            # the real value: f(v) = lam v + g(v), g = f - lam v non-decreasing where f' >= lam
            lam = np.maximum(np.minimum(near(df(lo))[0], near(df(hi))[0]), 0.0)
            mid, rad = center_radius(down(near(f(lo))[0] - up(lam * lo)), up(near(f(hi))[1] - down(lam * hi)))
            # the propagated error f(x^) - f(v) = f'(xi) e, xi in the hull of both enclosures
            a, b = np.minimum(lo, clo), np.maximum(hi, chi)
            dm, dr = center_radius(np.maximum(np.minimum(near(df(a))[0], near(df(b))[0]), 0.0),
                                   near(df(np.clip(peak, a, b)))[1])
            top = np.maximum(np.abs(near(f(clo))[0]), near(f(chi))[1])  # >= |f(x^)|
            big_e = near(np.exp(-clo))[1]
        # the kernel's own error: ulps x ulp_acc(y), ulp_acc(y) <= 2^-m |y| + 2^(emin - m)
        f_acc = fp.parse_format(acc)
        rel, floor = 2.0**-f_acc.mbits, 2.0 ** (1 - f_acc.bias - f_acc.mbits)
        arith = up(ulps * up(up(rel * top) + floor))
        if name == "sigmoid":  # 1 / (1 + E), E = exp(-x^) by its contract; + and / by u each
            u, eta, big = format_limits(acc, rounding)
            if not float(np.max(big_e, initial=0.0)) <= big / 2:
                raise OverflowRisk(f"{NAME}: {where}: exp(-x) may overflow {acc} over the input box")
            rho = up(ulps * up(rel + floor))  # |E^ - E| / (1 + E)
            arith = up(up(up(up((1 + u) / down(down(1 - rho) * (1 - u))) - 1) * top) + eta)
        val = self.symbols.fresh(x.val.times(lam).plus(Affine.const(mid)), rad, "value")
        err = self.symbols.fresh(x.err.times(dm), up(dr * np.maximum(np.abs(elo), np.abs(ehi))), "roundoff")
        return self.store(Value(x.shape, val, err, acc), fmt, acc, rounding, where, arith)

    def softmax(self, x: Value, ulps: float, fmt, acc, rounding, where) -> Value:
        """softmax along the last axis, rows of n; see the module docstring."""
        n = x.shape[-1]
        lo, hi = (b.reshape(-1, n) for b in x.val.bounds())
        clo, chi = (b.reshape(-1, n) for b in x.computed())
        e = np.maximum(*np.abs(x.err.bounds())).reshape(-1, n)
        s_lo, s_hi = softmax_range(lo, hi)
        hull = softmax_range(np.minimum(lo, clo), np.maximum(hi, chi))[1]  # s_i(xi) <= hull
        u, eta, _ = format_limits(acc, rounding)
        f_acc = fp.parse_format(acc)
        m, floor, g = f_acc.mbits, 2.0 ** (1 - f_acc.bias - f_acc.mbits), gamma(n, u)
        span = up(chi.max(axis=1, keepdims=True) - clo.min(axis=1, keepdims=True))  # >= |x^_j - max|
        r1 = up(up(near(np.exp(up(span * u)))[1] * up(1 + ulps * 2.0**-m)) - 1)  # exp(x^_j - max) relative
        big_g = up(up(up((1 + r1) * (1 + g)) - 1) + up(n * ulps * floor * (1 + g)))  # the sum, relative
        rel = up(up(up((1 + r1) * (1 + u)) / down(1 - big_g)) - 1)
        arith = up(up(rel * softmax_range(clo, chi)[1]) + up(up(up(ulps * floor * (1 + u)) / down(1 - big_g)) + eta))
        mid, rad = center_radius(s_lo.reshape(-1), s_hi.reshape(-1))
        err = self.symbols.fresh(Affine.const(np.zeros(mid.size)),
                                 up(hull * up(e + e.max(axis=1, keepdims=True))).reshape(-1), "roundoff")
        val = self.symbols.fresh(Affine.const(mid), rad, "value")
        return self.store(Value(x.shape, val, err, acc), fmt, acc, rounding, where, arith.reshape(-1))


def softmax_range(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of softmax over rows of the box [lo, hi]: s_i is increasing in x_i, decreasing
    in the others (float64 sums of n nonnegative terms enclosed by gamma_2n)."""
    off, g = ~np.eye(lo.shape[1], dtype=bool), 1 + gamma64(2 * lo.shape[1])
    with np.errstate(over="ignore"):
        big = np.where(off, near(np.exp(up(hi[:, None, :] - lo[:, :, None])))[1], 0.0).sum(axis=2)
        small = np.where(off, np.maximum(near(np.exp(down(lo[:, None, :] - hi[:, :, None])))[0], 0.0), 0.0).sum(axis=2)
    return down(1 / up(1 + up(big * g))), up(1 / down(1 + down(small / g)))


# f, f' and where f' peaks: f' is unimodal (tanh, sigmoid) or increasing (exp), so its
# minimum over an interval is at an end and its maximum at the point nearest the peak
SMOOTH = {"tanh": (np.tanh, lambda x: 1 / np.cosh(x) ** 2, 0.0), "exp": (np.exp, np.exp, np.inf),
          "sigmoid": (lambda x: 1 / (1 + np.exp(-x)), lambda x: 1 / ((1 + np.exp(-x)) * (1 + np.exp(x))), 0.0)}
NUMPY_SLOP = 2.0**-40  # numpy's float64 tanh, exp, cosh (and a few operations on them), relative


def near(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of the exact value that numpy's float64 `y` approximates: NUMPY_SLOP relative
    plus 2^-1022 (underflow and overflow: 1/cosh(800)^2 computes as 0)."""
    y = np.minimum(y, np.finfo(np.float64).max)  # an overflow to inf: the exact value is above
    slack = up(up(np.abs(y) * NUMPY_SLOP) + 2.0**-1022)
    return down(y - slack), up(y + slack)


# ---------------------------------------------------------------- the fp stage


@dataclass
class Program:
    """@main of the fp stage as plain data: the input's shape and one step per op."""

    shape: tuple
    steps: list  # (index, name, operand indices, attrs); index -1 is the input
    out_size: int = 0


def program(module) -> Program:
    from vnnc.model import entry_function

    block = entry_function(module).body.block
    if len(block.args) != 1:
        raise AnalysisError(f"{NAME}: an input box needs a model with one input, not {len(block.args)}")
    where = {block.args[0]: -1}
    steps = []
    for i, op in enumerate(block.ops):
        args = [where[v] for v in op.operands]
        if op.name == "func.return":
            if len(args) != 1:
                raise AnalysisError(f"{NAME}: an error bound needs a model with one output")
            steps.append((i, "return", args, {}))
            out_size = int(np.prod(spec.shape_of(op.operands[0])))
            break
        if isinstance(op, spec.ParamOp):
            attrs = {"param": op.param_name.data}
        elif isinstance(op, spec.ConstantOp):
            data = np.asarray(op.value.get_values(), np.float64)
            attrs = {"value": np.broadcast_to(data, spec.shape_of(op.result))}
        elif isinstance(op, fp.RoundOp):
            attrs = {"format": op.format.data, "rounding": op.rounding.data}
        elif isinstance(op, fp.FpOp):
            a = op.attrs()
            attrs = {"format": fp.format_of(op.result.type).name, "acc": a["acc"], "rounding": a["rounding"],
                     "order": a["order"], "ulp": op.contract().get("ulp", 0.0), "axis": a.get("axis"),
                     "window": {k: a[k] for k in ("kernel", "strides", "pads", "dilations", "groups") if k in a}}
        else:
            raise AnalysisError(f"{NAME}: {op.name} (op {i} of @main) is not an op of the fp stage")
        attrs["shape"] = spec.shape_of(op.result)
        where[op.results[0]] = i
        steps.append((i, op.name, args, attrs))
    return Program(tuple(spec.shape_of(block.args[0])), steps, out_size)


def domains(blocks, box_lo, box_hi, parent=None) -> dict | None:
    """robust.py's domains (l, u) of every relu input z_k over the box (rows of one), each
    within the parent box's (`parent`), for the stage's chain `blocks` (None: no chain)."""
    if blocks is None:
        return None
    from vnnc.verifier.robust import layer_bounds

    flat = (np.asarray(box_lo, np.float64).reshape(1, -1), np.asarray(box_hi, np.float64).reshape(1, -1))
    return layer_bounds(blocks, *flat, dict.fromkeys(range(1, len(blocks)), 0.0), parent)


def run_leaf(prog: Program, params: dict, box_lo, box_hi, rules=None, domains=None) -> tuple[dict, Value, Leaf]:
    """Every value of @main over one box: ({index: Value}, the output, the leaf); `domains`
    (from `domains`) tighten every relu input's range."""
    leaf = Leaf(box_lo, box_hi, rules, domains)
    env = {-1: leaf.input}
    for i, name, args, a in prog.steps:
        where = f"{name} (op {i} of @main)"
        xs = [env[k] for k in args]
        if name == "return":
            return env, xs[0], leaf
        if name == "spec.param":
            w = np.asarray(params[a["param"]], np.float64)
            v = Value(w.shape, Affine.const(w), Affine.const(np.zeros(w.size)), "f32", True)
        elif name == "spec.constant":
            v = Value(a["shape"], Affine.const(a["value"]), Affine.const(np.zeros(a["value"].size)), "f32", True)
        elif name == "fp.round":
            v = leaf.round(xs[0], a["format"], a["rounding"], where)
        else:
            v = apply(leaf, name.removeprefix("fp."), xs, a, where)
        env[i] = v
    raise AnalysisError(f"{NAME}: @main has no return")


def chain(prog: Program, params: dict) -> list | None:
    """The real values of @main as robust.py's chain of affine maps and ReLUs (parameters exact;
    fp.round, flatten, reshape the identity; the variable the first operand of every op, never
    broadcast), or None where @main is not one; the same reading as verifier/roundoff.py's."""
    known, cur, blocks, size = {}, -1, [[]], int(np.prod(prog.shape))
    for i, name, args, a in prog.steps:
        if name == "return":
            return blocks if args == [cur] and len(blocks) > 1 else None
        if name in ("spec.param", "spec.constant"):
            known[i] = np.asarray(params[a["param"]] if name == "spec.param" else a["value"], np.float64)
            continue
        if name == "fp.round" and args[0] in known:
            known[i] = known[args[0]]
            continue
        if not args or args[0] != cur or any(k not in known for k in args[1:]):
            return None
        out = int(np.prod(a["shape"]))
        c = [known[k] for k in args[1:]]
        if name in ("fp.linear", "fp.matmul"):
            w = c[0] if name == "fp.linear" else c[0].T
            if w.shape != (out, size):
                return None
            blocks[-1].append(("lin", w))
            if len(c) == 2:
                blocks[-1].append(("add", np.broadcast_to(c[1], (out,)).reshape(-1)))
        elif name in ("fp.add", "fp.sub") and len(c) == 1 and out == size:
            blocks[-1].append(("add", np.broadcast_to(c[0], a["shape"]).reshape(-1) * (1 if name == "fp.add" else -1)))
        elif name == "fp.relu":
            blocks.append([])
        elif name not in ("fp.round", "fp.flatten", "fp.reshape"):
            return None
        cur, size = i, out
    return None


def apply(leaf: Leaf, name: str, xs: list[Value], a: dict, where: str) -> Value:
    fmt, acc, rounding, shape = a["format"], a["acc"], a["rounding"], a["shape"]
    if name in ("flatten", "reshape"):
        return Value(tuple(shape), xs[0].val, xs[0].err, xs[0].fmt, xs[0].known)
    if name in ("linear", "matmul"):
        x, w = xs[0], xs[1]
        if not w.known or len(w.shape) != 2 or len(x.shape) < 2 or (len(xs) == 3 and not xs[2].known):
            raise AnalysisError(f"{NAME}: {where}: the error analysis needs x @ W with W a known matrix "
                                "(a parameter or constant)")
        wm, dw = w.val.c.reshape(w.shape), w.err.c.reshape(w.shape)
        if name == "linear":
            wm, dw = wm.T, dw.T
        return leaf.contraction(x, wm, dw, xs[2] if len(xs) == 3 else None, shape, fmt, acc, rounding,
                                a["order"], where)
    if name in ("conv2d", "maxpool2d") and all(v.known for v in xs[1:]) and contains(fmt, xs[0].fmt):
        return leaf.window(name, xs, a["window"], shape, fmt, acc, rounding, a["order"], where)
    if name in ("add", "sub"):
        return leaf.add(xs[0], xs[1], 1.0 if name == "add" else -1.0, shape, fmt, acc, rounding, where)
    if name == "softmax" and a["axis"] in (-1, len(shape) - 1):
        return leaf.softmax(xs[0], a["ulp"], fmt, acc, rounding, where)
    if name in SMOOTH:
        return leaf.smooth(xs[0], name, a["ulp"], fmt, acc, rounding, where)
    if name == "relu":  # exact, but stored into a coarser format than its operand's it rounds
        y = leaf.relu(xs[0], xs[0].fmt, where)
        return y if contains(fmt, y.fmt) else leaf.store(y, fmt, y.fmt, rounding, where)
    raise AnalysisError(f"{NAME}: {where}: fp.{name} is not supported by the error analysis "
                        f"(supported: {SUPPORTED})")


# ---------------------------------------------------------------- splitting and claims


@dataclass
class Node:
    lo: np.ndarray
    hi: np.ndarray
    bound: np.ndarray  # the output's error bound over this box
    rules: list[str]
    values: dict | None  # index -> (range lo, range hi, error lo, error hi)
    gain: np.ndarray  # per input element: its share of the output's range
    split: tuple | None = None  # (dim, at, below, above)
    stall: np.ndarray | int = 0  # per output: halvings since its bound over this box's ancestors last fell by GAIN
    reference: np.ndarray | float = 0.0  # those bounds
    overflow: str = ""  # why no bound was found here
    domains: dict | None = None  # the relu inputs' domains over this box (robust.py)


def evaluate(prog: Program, params: dict, lo: np.ndarray, hi: np.ndarray, parent: Node | None = None,
             blocks=None) -> Node:
    """One box's analysis; a box where some value may overflow gets an infinite bound (and its
    parent's split preferences), so that the search splits it first."""
    dom = domains(blocks, lo, hi, parent.domains if parent is not None else None)
    try:
        env, out, leaf = run_leaf(prog, params, lo, hi, domains=dom)
    except OverflowRisk as e:
        gain = parent.gain if parent is not None else (hi - lo).reshape(-1)
        return Node(lo, hi, np.full(prog.out_size, np.inf), [], None, gain, overflow=str(e), domains=dom)
    elo, ehi = out.err.bounds()
    values = {i: (*v.val.bounds(), *v.err.bounds()) for i, v in env.items() if i >= 0 and not v.known}
    return Node(lo, hi, np.maximum(np.abs(elo), np.abs(ehi)), leaf.chosen, values,
                split_gain(prog, env, out, lo, hi), domains=dom)


class _Parent(NamedTuple):
    """What `evaluate` reads of a box's parent (sent to the helper instead of the whole node)."""

    gain: np.ndarray
    domains: dict | None


def start_helper(prog: Program, params: dict, blocks):
    """A `vnnc.parallel.Helper` evaluating boxes (lo, hi, parent) as `evaluate` does, or None."""
    from vnnc.parallel import Helper

    return Helper.start(lambda lo, hi, parent: evaluate(prog, params, lo, hi, parent, blocks))


def split_gain(prog: Program, env: dict, out: Value, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Per input element, what halving the box along it promises: its share of the output's
    range plus its mean share of the width of the unstable relu inputs (whose instability
    costs most), each share a fraction."""
    inputs = np.nonzero(hi.reshape(-1) > lo.reshape(-1))[0]  # the first value symbols, in order
    k = len(inputs)
    m = out.val.mv[:k]  # no share for an input no output depends on (rounding up would make it 1e-323):
    total = np.zeros(k)  # every input, past a convolution's intervals
    if len(m) == k:
        total = np.where(np.any(m != 0, axis=1), _sum_cols(m.T) / max(float(np.sum(out.val.radius())), 1e-300), 0.0)
    shares, count = np.zeros(k), 0
    for _, name, args, _ in prog.steps:
        if name == "fp.relu":
            v = env[args[0]].val
            a, b = v.bounds()
            unstable = (a < 0) & (b > 0)
            if np.any(unstable) and len(v.mv) >= k:
                shares += (np.abs(v.mv[:k][:, unstable]) / np.maximum(v.radius()[unstable], 1e-300)).sum(axis=1)
                count += int(np.sum(unstable))
    gain = np.zeros(lo.size)
    gain[inputs] = total + shares / max(count, 1)
    return gain


def analyse(module, params: dict[str, np.ndarray], box_lo: np.ndarray, box_hi: np.ndarray,
            max_leaves: int | None = None) -> dict:
    """The roundoff witness's claims: split tree with relu rules, per-value range and error
    (hulls over the leaves), and the output's bound per element."""
    prog = program(module)
    lo, hi = np.asarray(box_lo, np.float64), np.asarray(box_hi, np.float64)
    if max_leaves is None:
        size = sum(int(np.asarray(p).size) for p in params.values()) + lo.size
        max_leaves = max(1, min(MAX_LEAVES, SPLIT_WORK // size))
    blocks = chain(prog, params)
    root = evaluate(prog, params, lo, hi, blocks=blocks)
    # Every output element's bound is its largest over the leaves: only splitting that box (its
    # bottleneck) can lower it. Each step halves the bottleneck of the output with the largest
    # bound among those whose bottleneck can still improve (fewer than STALL halvings in a row
    # without lowering that output's bound by GAIN); the search ends when none can, or at the
    # budget. (Stopping at the first stalled box left the other outputs' bounds where they were.)
    leaves_now, bounds = [root], np.empty((max_leaves, root.bound.size))  # bounds[k]: leaves_now[k]'s
    bounds[0], born = root.bound, np.zeros(max_leaves, int)  # ties go to the box made first
    from vnnc.parallel import Lazy

    with Lazy(lambda: start_helper(prog, params, blocks)) as helper:  # started at the first split
        search(prog, params, blocks, leaves_now, bounds, born, max_leaves, helper)
    leaves = len(leaves_now)
    prune(root)
    failed = next((leaf.overflow for leaf in _leaves(root) if leaf.overflow), "")
    if failed:  # no split within the budget excluded it
        raise AnalysisError(f"{failed} (still in a box {leaves} splits of the input box could not shrink away)")
    return claims(root)


def search(prog: Program, params: dict, blocks, leaves_now: list, bounds: np.ndarray, born: np.ndarray,
           max_leaves: int, lazy) -> None:
    """The split search of `analyse` (above), growing `leaves_now`; a helper process
    (`start_helper`, through the `vnnc.parallel.Lazy` `lazy`), evaluates the upper half of
    every split while this process evaluates the lower half."""
    while len(leaves_now) < max_leaves:
        node, now = None, bounds[:len(leaves_now)]
        for j in np.argsort(-np.max(now, axis=0), kind="stable"):  # the largest bound that can improve
            tied = np.flatnonzero(now[:, j] == np.max(now[:, j]))
            k = int(tied[np.argmin(born[tied])])
            cand = leaves_now[k]
            dims = [d for d in np.argsort(-cand.gain, kind="stable") if cand.gain[d] > 0]
            stall = int(cand.stall[j]) if np.ndim(cand.stall) else 0
            dim = int(dims[stall % len(dims)]) if dims else 0  # after a halving that did not pay, the next coordinate
            a, b = cand.lo.reshape(-1)[dim], cand.hi.reshape(-1)[dim]
            if stall < min(STALL, len(dims) + 1) and dims and a < a / 2 + b / 2 < b:
                node, at_k = cand, k
                break
        if node is None:
            break  # no output's worst box can be improved: neither can the bound
        at = a / 2 + b / 2
        below_hi, above_lo = node.hi.copy(), node.lo.copy()
        below_hi.reshape(-1)[dim] = above_lo.reshape(-1)[dim] = at
        helper = lazy.get()
        if helper is not None:
            helper.submit(above_lo, node.hi, _Parent(node.gain, node.domains))
        below = evaluate(prog, params, node.lo, below_hi, node, blocks)
        above = helper.result() if helper is not None else evaluate(prog, params, above_lo, node.hi, node, blocks)
        node.split = (dim, float(at), below, above)
        stall = node.stall if np.ndim(node.stall) else np.zeros(node.bound.size, int)
        reference = np.where(stall > 0, node.reference, node.bound)
        for child in (below, above):  # per output: the halvings since its bound last fell by GAIN
            worse = child.bound > reference * (1 - GAIN)
            child.stall, child.reference = np.where(worse, stall + 1, 0), np.where(worse, reference, child.bound)
        n = len(leaves_now)
        leaves_now[at_k], bounds[at_k], born[at_k] = below, below.bound, 2 * n - 1
        bounds[n], born[n] = above.bound, 2 * n
        leaves_now.append(above)


def prune(root: Node) -> np.ndarray:
    """Undo the splits that do not pay; the tree's bound. First, a box whose own bound is, for
    every output, at most its leaves' largest or the largest over the whole tree's leaves
    becomes a leaf again: no output's bound over the tree rises. Where an output's bound over
    the tree then stands above the one-box analysis's (affine ranges are not monotone in the
    box), the splits are restored and each box where some output's bound over its leaves is
    above its own, or none is below it, becomes a leaf again instead."""
    splits = [(node, node.split) for node in _nodes(root) if node.split is not None]
    target = np.max([leaf.bound for leaf in _leaves(root)], axis=0)
    bound = _undo(root, lambda own, below: np.all(own <= np.maximum(below, target)))
    if np.any(bound > root.bound):
        for node, split in splits:
            node.split = split
        bound = _undo(root, lambda own, below: np.any(below > own) or np.all(below >= own))
    return bound


def _undo(node: Node, worse) -> np.ndarray:
    """Bottom up, make a box a leaf again where worse(its bound, its leaves' largest); the bound."""
    if node.split is None:
        return node.bound
    below = np.maximum(_undo(node.split[2], worse), _undo(node.split[3], worse))
    if not node.overflow and worse(node.bound, below):
        node.split = None
        return node.bound
    return below


def _nodes(node: Node):
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        if n.split is not None:
            stack += [n.split[3], n.split[2]]


def _leaves(node: Node):
    return (n for n in _nodes(node) if n.split is None)


def _tree(node: Node) -> dict:
    if node.split is None:
        return {"relu": node.rules}
    dim, at, below, above = node.split
    return {"dim": dim, "at": at, "below": _tree(below), "above": _tree(above)}


def claims(root: Node) -> dict:
    hull: dict[int, list] = {}
    bound = np.zeros_like(root.bound)
    for leaf in _leaves(root):
        bound = np.maximum(bound, leaf.bound)
        for i, (lo, hi, elo, ehi) in leaf.values.items():
            h = hull.setdefault(i, [lo, hi, elo, ehi])
            h[:] = np.minimum(h[0], lo), np.maximum(h[1], hi), np.minimum(h[2], elo), np.maximum(h[3], ehi)
    values = [{"at": i, "range": _widened(lo, hi), "error": _widened(elo, ehi)}
              for i, (lo, hi, elo, ehi) in sorted(hull.items())]
    return {"tree": _tree(root), "values": values,
            "abs": [float(x) for x in up(bound * (1 + MARGIN) + 2.0**-1070)]}


def _widened(lo: np.ndarray, hi: np.ndarray) -> list[list[float]]:
    w = up(np.maximum(np.abs(lo), np.abs(hi)) * MARGIN + 2.0**-1070)
    return [[float(x) for x in down(lo - w)], [float(x) for x in up(hi + w)]]


# ---------------------------------------------------------------- the driver's entry points


def load_box(path, shape) -> tuple[np.ndarray, np.ndarray, bytes]:
    """(lo, hi, file bytes) of an input box file: an .npz with float arrays `lo` and `hi` of
    the input's shape, finite, lo <= hi."""
    import io
    import zipfile
    from pathlib import Path

    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise AnalysisError(f"{path}: cannot read the input box: {e.strerror or e}") from None
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            arrays = {k: z[k] for k in ("lo", "hi") if k in z.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise AnalysisError(f"{path}: not an .npz file with arrays lo and hi ({e})") from None
    for key in ("lo", "hi"):
        if key not in arrays:
            raise AnalysisError(f"{path}: the input box has no array {key!r} (it needs lo and hi)")
        a = arrays[key]
        if a.dtype.kind not in "fiu":
            raise AnalysisError(f"{path}: array {key!r} has dtype {a.dtype}, expected floats")
        if list(a.shape) != list(shape):
            raise AnalysisError(f"{path}: array {key!r} has shape {list(a.shape)}, the model's input has "
                                f"shape {list(shape)}")
        if not np.all(np.isfinite(a)):
            raise AnalysisError(f"{path}: array {key!r} holds NaN or infinite values")
    lo, hi = arrays["lo"].astype(np.float64), arrays["hi"].astype(np.float64)
    bad = np.argwhere(lo > hi)
    if len(bad):
        i = tuple(int(k) for k in bad[0])
        raise AnalysisError(f"{path}: lo > hi at index {list(i)} ({lo[i]!r} > {hi[i]!r}); "
                            f"{len(bad)} element(s) in all")
    return lo, hi, data


def witness(fp_text: str, params: dict, params_bytes: bytes, lo: np.ndarray, hi: np.ndarray,
            box_bytes: bytes) -> dict:
    """The roundoff witness of the fp stage `fp_text` over the box (docs/WITNESS.md §5.5)."""
    import hashlib

    from vnnc.frontend_mlir import parse_module

    found = analyse(parse_module(fp_text, "fp stage"), params, lo, hi)
    digest = hashlib.sha256(fp_text.encode()).hexdigest()
    return {"version": 1, "pass": NAME, "kind": "roundoff", "source_sha256": digest, "target_sha256": digest,
            "claims": {"input_box_sha256": hashlib.sha256(box_bytes).hexdigest(),
                       "params_sha256": hashlib.sha256(params_bytes).hexdigest(), **found}}


def count_leaves(tree: dict) -> int:
    count, todo = 0, [tree]
    while todo:
        node = todo.pop()
        if "relu" in node:
            count += 1
        else:
            todo += [node["below"], node["above"]]
    return count
