"""Bounds of a ReLU network's values over input boxes: IBP, CROWN, alpha- and beta-CROWN.

The spec graph is read as a chain z_{k+1} = W_k a_k + b_k, a_k = relu(z_k), a_0 = x (the
input flattened), z_L the output, each affine map folding the spec ops between two ReLUs
(matmul, linear, add/sub/mul with a constant, neg, flatten, reshape). Everything here runs
in float64 and is *untrusted*: `vnnc verify` only claims what the checker
(vnnc.verifier.robust) recomputes with outward rounding, so the domains computed here follow
the checker's rule exactly.

Work is organised in *rows*: a row is one linear objective lam . z_K over one leaf (a box
and, for branch and bound over ReLUs, a sign per split neuron); leaves are batched, and a
row names its leaf. CROWN (Zhang et al. 2018) bounds lam . z_K from below by propagating
lam back through the layers, relaxing each unstable ReLU (l < 0 < u) by a >= alpha z
(alpha in [0, 1]) and a <= u (z - l) / (u - l). The multiplier of z_k it produces, nu_k, is
what a certificate can carry: for ANY nu the checker's weak-duality bound holds, and for
CROWN's nu it is at least CROWN's value. alpha-CROWN (Xu et al. 2021) chooses alpha by
projected gradient ascent; beta-CROWN (Wang et al. 2021) adds beta >= 0 per split neuron
(nu_j = g_j - beta_j on an active split z_j >= 0, nu_j = beta_j on an inactive one).

Domains of the pre-activations (the checker's rule): IBP from the previous layer's domain;
where IBP leaves z_kj unstable, intersected with CROWN's bound of z_kj over the leaf's box
(default slopes, the domains of earlier layers); a split neuron's domain clamped to its
sign (l >= 0 or u <= 0). A ReLU split at layer m leaves layers < m unchanged, so a child
leaf recomputes only the layers after its new split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from vnnc.errors import VnncError

SUPPORTED = ("param", "constant", "matmul", "linear", "add", "sub", "mul", "neg", "flatten",
             "reshape", "relu")


@dataclass
class Network:
    weights: list[np.ndarray]  # W_k, shape (n_{k+1}, n_k)
    biases: list[np.ndarray]  # b_k, shape (n_{k+1},)
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]

    @property
    def sizes(self) -> list[int]:
        return [self.weights[0].shape[1]] + [w.shape[0] for w in self.weights]

    @property
    def depth(self) -> int:
        """L: the number of affine maps (L - 1 hidden ReLU layers)."""
        return len(self.weights)

    def astype(self, dtype) -> Network:
        """The same network with weights of another dtype (kept once made)."""
        cache = self.__dict__.setdefault("_as", {})
        if np.dtype(dtype) not in cache:
            cache[np.dtype(dtype)] = Network([w.astype(dtype) for w in self.weights],
                                             [b.astype(dtype) for b in self.biases],
                                             self.input_shape, self.output_shape)
        return cache[np.dtype(dtype)]

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Outputs for a batch of flat inputs (B, n_0), in the dtype of x and the weights."""
        a = x
        for k, (w, b) in enumerate(zip(self.weights, self.biases)):
            a = a @ w.T + b
            if k < len(self.weights) - 1:
                a = np.maximum(a, 0.0)
        return a


def extract_network(module, params: dict[str, np.ndarray], source: str = "model") -> Network:
    """The chain of affine maps and ReLUs of a spec module's @main (one input, one output)."""
    from vnnc.model import entry_function

    fn = entry_function(module)
    block = fn.body.blocks[0]
    if len(block.args) != 1 or len(fn.function_type.outputs.data) != 1:
        raise VnncError(f"{source}: verification needs a model with one input and one output")
    x = block.args[0]
    in_shape = tuple(x.type.get_shape())
    n = int(np.prod(in_shape))
    consts: dict = {}
    weights, biases = [], []
    cur, lin, off = x, np.eye(n), np.zeros(n)  # cur = flat(a_k) @ lin + off

    def bad(op, why):
        raise VnncError(f"{source}: {op.name}: {why} (vnnc verify supports chains of "
                        f"{', '.join('spec.' + s for s in SUPPORTED)})")

    for op in block.ops:
        name = op.name.removeprefix("spec.")
        if name == "param":
            consts[op.results[0]] = np.asarray(params[op.param_name.data], np.float64)
            continue
        if name == "constant":
            consts[op.results[0]] = np.asarray(op.value.get_values(), np.float64).reshape(
                op.results[0].type.get_shape())
            continue
        if op.name == "func.return":
            if op.operands[0] is not cur:
                bad(op, "the output is not the end of the chain")
            weights.append(lin.T.copy())
            biases.append(off.copy())
            break
        if name not in SUPPORTED:
            bad(op, "no bound rule for this op")
        operands = list(op.operands)
        if sum(v is cur for v in operands) != 1 or any(v is not cur and v not in consts for v in operands):
            bad(op, "each op must take the previous value once and otherwise constants")
        out_shape = tuple(op.results[0].type.get_shape())
        k = operands.index(cur)
        others = [consts[v] for v in operands if v is not cur]
        cur_shape = tuple(cur.type.get_shape())
        if name in ("flatten", "reshape"):
            pass
        elif name == "neg":
            lin, off = -lin, -off
        elif name in ("add", "sub", "mul"):
            if int(np.prod(out_shape)) != int(np.prod(cur_shape)):
                bad(op, "the value is broadcast to a larger shape")
            c = np.broadcast_to(others[0], out_shape).reshape(-1)
            if name == "add":
                off = off + c
            elif name == "sub":
                lin, off = (lin, off - c) if k == 0 else (-lin, c - off)
            else:
                lin, off = lin * c, off * c
        elif name == "matmul":
            w = others[0]
            lead = cur_shape[:-1] if k == 0 else cur_shape[:-2] + cur_shape[-1:] if len(cur_shape) > 1 else ()
            if w.ndim != 2 or int(np.prod(lead)) != 1:
                bad(op, "only a product of one vector and a 2-D constant is supported")
            m = w if k == 0 else w.T  # y = x @ w, or y = w @ x = x @ w.T
            lin, off = lin @ m, off @ m
        elif name == "linear":
            w = others[0]
            if int(np.prod(cur_shape[:-1])) != 1:
                bad(op, "only a batch of one is supported")
            lin, off = lin @ w.T, off @ w.T + (others[1] if len(others) > 1 else 0.0)
        elif name == "relu":
            weights.append(lin.T.copy())
            biases.append(off.copy())
            n = int(np.prod(out_shape))
            lin, off = np.eye(n), np.zeros(n)
        cur = op.results[0]
    out_shape = tuple(cur.type.get_shape())
    return Network(weights, biases, in_shape, out_shape)


# ---------------------------------------------------------------- domains


def ibp_affine(lo, hi, w, b):
    """{x @ w.T + b : lo <= x <= hi} by interval arithmetic (rows)."""
    mid, rad = (lo + hi) / 2, (hi - lo) / 2
    c = mid @ w.T + b
    r = rad @ np.abs(w).T
    return c - r, c + r


def relaxation(l, u):
    """CROWN's relaxation of a = relu(z) on [l, u] per neuron: (lower slope, upper slope,
    upper intercept); the default lower slope is 1 where u > -l, else 0 (the checker's)."""
    active, unstable = l >= 0, (l < 0) & (u > 0)
    den = np.where(unstable, u - l, 1.0)
    up_slope = np.where(active, 1.0, np.where(unstable, u / den, 0.0))
    up_icpt = np.where(unstable, -l * up_slope, 0.0)
    lo_slope = np.where(active, 1.0, np.where(unstable, (u > -l) * 1.0, 0.0))
    return lo_slope, up_slope, up_icpt


@dataclass
class Relax:
    """Per leaf and hidden layer k: CROWN's relaxation, kept for the backward passes."""

    lo: dict  # k -> (B, n_k) default lower slope
    up: dict  # k -> (B, n_k) upper slope
    icpt: dict  # k -> (B, n_k) upper intercept
    unstable: dict  # k -> (B, n_k) bool

    def astype(self, dtype) -> Relax:
        return Relax(*({k: v.astype(dtype) if v.dtype != bool else v for k, v in d.items()}
                       for d in (self.lo, self.up, self.icpt, self.unstable)))

    @classmethod
    def of(cls, bounds: list, upto: int) -> Relax:
        r = cls({}, {}, {}, {})
        for k in range(1, upto):
            l, u = bounds[k]
            r.lo[k], r.up[k], r.icpt[k] = relaxation(l, u)
            r.unstable[k] = (l < 0) & (u > 0)
        return r


def _gather(a: np.ndarray, leaf) -> np.ndarray:
    return a if leaf is None else a[leaf]


def backward(net: Network, K: int, g: np.ndarray, const: np.ndarray, relax: Relax, leaf, x_lo, x_hi,
             alpha: dict | None = None, beta: dict | None = None, signs: dict | None = None,
             keep: bool = False):
    """CROWN's lower bound of the rows lam . z_K, given g = lam W_{K-1} (P, n_{K-1}) and
    const = lam . b_{K-1} (P,). leaf (P,) names each row's leaf in relax / x_lo / x_hi (None:
    one leaf per row, in order). alpha[k] (P, n_k): lower slopes of unstable neurons (else the
    default); beta[k] (P, n_k) >= 0 with signs[k] (B, n_k) in {+1, -1, 0}: beta-CROWN.
    Returns (lower (P,), nus {k: (P, n_k)} if keep, tape for `gradient`)."""
    const = const.copy()
    nus, tape = {}, []
    for k in range(K - 1, 0, -1):
        up, icpt = _gather(relax.up[k], leaf), _gather(relax.icpt[k], leaf)
        lo = _gather(relax.lo[k], leaf)
        if alpha is not None and k in alpha:
            lo = np.where(_gather(relax.unstable[k], leaf), alpha[k], lo)
        gp = np.maximum(g, 0.0)
        nu = g * up
        nu += gp * (lo - up)  # g >= 0: the lower slope, else the upper
        const += np.einsum("pn,pn->p", g - gp, icpt)
        s = None
        if beta is not None and k in beta:
            s = _gather(signs[k], leaf)
            nu -= s * beta[k]  # active split: g - beta; inactive (nu was 0): beta
        tape.append((k, g, gp, lo, up, icpt, s))
        if keep:
            nus[k] = nu
        const += nu @ net.biases[k - 1]
        g = nu @ net.weights[k - 1]
    x_lo, x_hi = _gather(x_lo, leaf if len(x_lo) > 1 else None), _gather(x_hi, leaf if len(x_hi) > 1 else None)
    mid, rad = (x_lo + x_hi) / 2, (x_hi - x_lo) / 2
    if len(mid) == 1:  # one box for every row
        lower = const + g @ mid[0] - np.abs(g) @ rad[0]
    else:
        lower = const + np.einsum("pn,pn->p", g, mid) - np.einsum("pn,pn->p", np.abs(g), rad)
    return lower, nus, (tape, g, mid, rad)


def gradient(net: Network, tape) -> tuple[dict, dict]:
    """d lower / d alpha[k] and d lower / d beta[k] for the rows of one `backward` pass (lower
    is piecewise linear in them; reverse mode through the same steps)."""
    tape, g0, mid, rad = tape
    d_g = mid - np.sign(g0) * rad  # d lower / d g_0 (mid, rad of one box broadcast)
    d_nu = d_g @ net.weights[0].T + net.biases[0]  # g_0 = nu_1 W_0, const += nu_1 . b_0
    ga, gb = {}, {}
    for k, g, gp, lo, up, icpt, s in reversed(tape):  # k = 1, 2, ...
        ga[k] = d_nu * gp  # nu = g up + max(g, 0) (lo - up) - s beta
        if s is not None:
            gb[k] = -s * d_nu
        if k == len(tape):
            break
        d_g = np.where(gp > 0, d_nu * lo, d_nu * up) + np.where(g < 0, icpt, 0.0)
        d_nu = d_g @ net.weights[k].T + net.biases[k]
    return ga, gb


def layer_bounds(net: Network, x_lo: np.ndarray, x_hi: np.ndarray, signs: dict | None = None,
                 prev: list | None = None, start: int | np.ndarray = 1, method: str = "crown",
                 leaves: int | None = None, root: dict | None = None, dtype=np.float64) -> list:
    """[(l_k, u_k)] (B, n_k) for k = 1..L-1 (index 0 holds the boxes): the checker's rule
    (module docstring); IBP alone if method is "ibp". signs[k] (B, n_k): +1 active split, -1
    inactive, 0 none. Layers below `start` are taken from prev (re-clamped by signs); start
    may be one layer per leaf (B,), the CROWN passes then run only for the leaves that need
    them. One box
    (x_lo of one row) may serve B = `leaves` leaves. root[k] = (l, u) (1, n_k): domains over
    the whole box (`root_bounds`), intersected with IBP's before CROWN, as the checker does.
    dtype float32 runs the CROWN passes per neuron in float32, each bound widened by WIDEN
    (about twice as fast, slightly looser than the checker's domains; not used for
    certificates: branch_and_bound.NULL_GAP's comment says why)."""
    bounds = [(x_lo, x_hi)]
    L = net.depth
    for k in range(1, L):
        if np.all(k < start):
            l, u = prev[k]
        else:
            lo, hi = (x_lo, x_hi) if k == 1 else (np.maximum(bounds[k - 1][0], 0.0), np.maximum(bounds[k - 1][1], 0.0))
            l, u = ibp_affine(lo, hi, net.weights[k - 1], net.biases[k - 1])
            if leaves is not None and len(l) != leaves:
                l, u = np.repeat(l, leaves, axis=0), np.repeat(u, leaves, axis=0)
            if root is not None and k in root:
                l, u = np.maximum(l, root[k][0]), np.minimum(u, root[k][1])
            kept = np.broadcast_to(k < np.asarray(start), (len(l),))  # leaves whose layer k is prev's
            if k > 1 and method != "ibp":
                leaf, j = np.nonzero((l < 0) & (u > 0) & ~kept[:, None])
                if len(leaf):
                    lower = _crown_neurons(net, k, leaf, j, bounds, x_lo, x_hi, dtype)
                    n = len(leaf)
                    l[leaf, j] = np.maximum(l[leaf, j], lower[:n])
                    u[leaf, j] = np.minimum(u[leaf, j], -lower[n:])
            if kept.any():
                l, u = np.where(kept[:, None], prev[k][0], l), np.where(kept[:, None], prev[k][1], u)
        if signs is not None and k in signs:
            l = np.where(signs[k] > 0, np.maximum(l, 0.0), l)
            u = np.where(signs[k] < 0, np.minimum(u, 0.0), u)
        bounds.append((l, u))
    return bounds


CHUNK = 4096  # rows per backward pass, to bound memory


def root_bounds(net: Network, lo: np.ndarray, hi: np.ndarray, steps: int = 20, deadline: float | None = None):
    """Domains over the whole box [lo, hi] (flat) tightened by alpha-CROWN on every unstable
    neuron of layers 2..L-1, layer by layer (a layer's relaxation uses the layers below as
    tightened): (root {k: (l, u) (1, n_k)} for `layer_bounds`, entries [k, j, side, nus]).
    An entry holds float32 multipliers nus {1..k-1: (n_i,)} whose weak-duality bound of
    side * z_kj (side +1: a lower bound, -1: an upper one) beats the checker's own domain;
    the certificate carries it, and the checker re-evaluates it (`dual_bound`). The domain
    kept here is that bound lowered by a relative 1e-9, below the checker's rounding."""
    import time

    x_lo, x_hi = lo[None], hi[None]
    root: dict = {}
    entries: list = []
    for k in range(2, net.depth):
        if deadline is not None and time.perf_counter() > deadline:
            break
        bounds = layer_bounds(net, x_lo, x_hi, root=root)
        l, u = bounds[k][0][0].copy(), bounds[k][1][0].copy()
        j = np.nonzero((l < 0) & (u > 0))[0]
        if len(j):
            side = np.concatenate([np.ones(len(j)), -np.ones(len(j))])
            jj = np.concatenate([j, j])
            lam = np.zeros((len(jj), net.sizes[k]))
            lam[np.arange(len(jj)), jj] = side
            g, const = objective_rows(net, k, lam)
            leaf = np.zeros(len(jj), int)
            _, nus, _, _ = optimize(net, k, g, const, Relax.of(bounds, k), leaf, x_lo, x_hi, steps=steps)
            value = dual_value(net, k, nus, lam, bounds, leaf, x_lo, x_hi)
            value -= 1e-9 * (1 + np.abs(value))
            cur = np.where(side > 0, l[jj], -u[jj])
            for r in np.nonzero(value > cur + 1e-6 * (1 + np.abs(cur)))[0]:
                entries.append([k, int(jj[r]), int(side[r]), {i: nus[i][r] for i in range(1, k)}])
                if side[r] > 0:
                    l[jj[r]] = value[r]
                else:
                    u[jj[r]] = -value[r]
        root[k] = (l[None], u[None])
    return root, entries


WIDEN = 1e-5  # float32 CROWN bounds are lowered by this (relative); their error measured on
# MNIST-FC's leaves was at most 3.5e-6 of 1 + |bound|


def _crown_neurons(net: Network, k: int, leaf, j, bounds: list, x_lo, x_hi, dtype=np.float64) -> np.ndarray:
    """CROWN's lower bounds of z_kj, then of -z_kj, for pairs (leaf, j): (2 P,), in float64,
    or computed in float32 and lowered by WIDEN (the box rounded outward to float32 first)."""
    relax = Relax.of(bounds, k)
    run = backward if dtype != np.float32 else backward32
    w, b = net.weights[k - 1], net.biases[k - 1]
    out = []
    for sign in (1.0, -1.0):
        for c in range(0, len(leaf), CHUNK):
            lf, jj = leaf[c:c + CHUNK], j[c:c + CHUNK]
            out.append(run(net, k, sign * w[jj], sign * b[jj], relax, lf, x_lo, x_hi)[0])
    lower = np.concatenate(out)
    return lower if dtype != np.float32 else lower - WIDEN * (1 + np.abs(lower))


def backward32(net: Network, K: int, g: np.ndarray, const: np.ndarray, relax: Relax, leaf, x_lo, x_hi,
               keep: bool = False):
    """`backward` (plain CROWN) run in float32, about twice as fast, for a search: its lower
    bounds (returned in float64) differ from float64's by about 1e-6 of 1 + |bound|, either
    way; the box is rounded outward to float32 first; nus come back in float64 if keep."""
    f = np.float32
    x_lo, x_hi = _outward32(x_lo, -np.inf), _outward32(x_hi, np.inf)
    lower, nus, tape = backward(net.astype(f), K, g.astype(f), const.astype(f), relax.astype(f), leaf,
                                x_lo, x_hi, keep=keep)
    return lower.astype(np.float64), {k: v.astype(np.float64) for k, v in nus.items()}, tape


def _outward32(x: np.ndarray, toward: float) -> np.ndarray:
    """x as float32, moved one float32 step toward `toward` where rounding went the other way."""
    y = x.astype(np.float32)
    bad = y > x if toward < 0 else y < x
    return np.where(bad, np.nextafter(y, np.float32(toward)), y)


def objective_rows(net: Network, K: int, lam: np.ndarray):
    """(g, const) of the rows lam . z_K: g = lam W_{K-1}, const = lam . b_{K-1}."""
    return lam @ net.weights[K - 1], lam @ net.biases[K - 1]


def output_bounds(net: Network, x_lo: np.ndarray, x_hi: np.ndarray, method: str = "crown"):
    """(lower, upper), each (B, n_L): the network's outputs over each box, no splitting."""
    L = net.depth
    bounds = layer_bounds(net, x_lo, x_hi, method=method)
    lo, hi = (x_lo, x_hi) if L == 1 else (np.maximum(bounds[-1][0], 0.0), np.maximum(bounds[-1][1], 0.0))
    lo, hi = ibp_affine(lo, hi, net.weights[-1], net.biases[-1])
    if method == "ibp" or L == 1:
        return lo, hi
    B, n = lo.shape
    leaf = np.repeat(np.arange(B), n)
    eye = np.tile(np.eye(n), (B, 1))
    relax = Relax.of(bounds, L)
    res = []
    for sign in (1.0, -1.0):
        g, const = objective_rows(net, L, sign * eye)
        if method == "alpha-crown":
            low = optimize(net, L, g, const, relax, leaf, x_lo, x_hi, steps=20)[0]
        else:
            low = backward(net, L, g, const, relax, leaf, x_lo, x_hi)[0]
        res.append(low.reshape(B, n))
    return np.maximum(lo, res[0]), np.minimum(hi, -res[1])


# ---------------------------------------------------------------- alpha / beta optimisation


def optimize(net: Network, K: int, g: np.ndarray, const: np.ndarray, relax: Relax, leaf, x_lo, x_hi,
             steps: int = 20, lr: float = 0.1, lr_beta: float = 0.05, signs: dict | None = None,
             alpha: dict | None = None, beta: dict | None = None, target: np.ndarray | None = None,
             dtype=np.float32):
    """alpha-CROWN, and beta-CROWN when signs are given: (best lower (P,), its nus, alpha,
    beta) after `steps` of projected gradient ascent (Adam) on alpha in [0, 1] and beta >= 0,
    from the given alpha / beta (default slopes, zero) on; the search stops when every row's
    bound passes `target`. It runs in `dtype` (float32: a search only; the multipliers it
    returns are exact float32 values, as a certificate stores them, for `dual_value`)."""
    net, relax = net.astype(dtype), relax.astype(dtype)
    g, const, x_lo, x_hi = (np.asarray(v, dtype) for v in (g, const, x_lo, x_hi))
    if signs is not None:
        signs = {k: v.astype(dtype) for k, v in signs.items()}
    if leaf is not None:  # one leaf per row from here on: gathered once, not at every step
        relax = Relax(*({k: v[leaf] for k, v in d.items()} for d in (relax.lo, relax.up, relax.icpt, relax.unstable)))
        signs = None if signs is None else {k: v[leaf] for k, v in signs.items()}
        x_lo, x_hi = (x_lo, x_hi) if len(x_lo) == 1 else (x_lo[leaf], x_hi[leaf])
        leaf = None
    P = len(g)
    alpha = {k: (alpha[k].astype(dtype) if alpha and k in alpha else _gather(relax.lo[k], leaf).copy())
             for k in range(1, K)}
    use_beta = signs is not None and any((signs[k] != 0).any() for k in signs)
    if use_beta:
        beta = {k: (beta[k].astype(dtype) if beta and k in beta else np.zeros((P, relax.lo[k].shape[1]), dtype))
                for k in signs if (signs[k] != 0).any()}
    else:
        beta = None
    moments = {}
    best = np.full(P, -np.inf)
    best_nu: dict = {}
    act = np.arange(P)  # the rows still searched (a row past its target leaves the batch)
    out_alpha, out_beta = dict(alpha), None if beta is None else dict(beta)
    for t in range(1, steps + 1):
        lower, nus, tape = backward(net, K, g, const, relax, leaf, x_lo, x_hi, alpha, beta, signs, keep=True)
        better = lower > best[act]
        best[act[better]] = lower[better]
        for k, nu in nus.items():
            best_nu.setdefault(k, np.zeros((P, nu.shape[1]), dtype))[act[better]] = nu[better]
        done = np.zeros(len(act), bool) if target is None else best[act] > target[act]
        if t == steps or done.all():
            break
        ga, gb = gradient(net, tape)
        params = [("a", k, alpha, ga[k], lr) for k in alpha] + \
            ([("b", k, beta, gb[k], lr_beta) for k in beta] if beta else [])
        for kind, k, store, grad, rate in params:
            m, v = moments.setdefault((kind, k), (np.zeros_like(grad), np.zeros_like(grad)))
            m *= 0.9
            m += 0.1 * grad
            v *= 0.999
            v += 0.001 * grad * grad
            step = rate * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
            store[k] = np.clip(store[k] + step, 0.0, 1.0) if kind == "a" else np.maximum(store[k] + step, 0.0)
        if done.mean() > 0.25:  # narrow every per-row array to the rows still searched
            keep = ~done
            for store, out in ((alpha, out_alpha), (beta, out_beta)):
                for k in store or {}:
                    out[k][act] = store[k]
                    store[k] = store[k][keep]
            moments = {key: (m[keep], v[keep]) for key, (m, v) in moments.items()}
            relax = Relax(*({k: v[keep] for k, v in d.items()} for d in (relax.lo, relax.up, relax.icpt, relax.unstable)))
            signs = None if signs is None else {k: v[keep] for k, v in signs.items()}
            x_lo, x_hi = (x_lo, x_hi) if len(x_lo) == 1 else (x_lo[keep], x_hi[keep])
            g, const, act = g[keep], const[keep], act[keep]
    for store, out in ((alpha, out_alpha), (beta, out_beta)):
        for k in store or {}:
            out[k][act] = store[k]
    return best, {k: v.astype(np.float64) for k, v in best_nu.items()}, out_alpha, out_beta


# ---------------------------------------------------------------- the checker's bound, for given multipliers


def dual_value(net: Network, K: int, nus: dict, lam: np.ndarray, bounds: list, leaf, x_lo, x_hi) -> np.ndarray:
    """The weak-duality bound of lam . z_K for the multipliers nus (rows), as the checker
    evaluates it (without its outward rounding): sum over neurons of the minimum of
    g a - nu z over the vertices l, clip(0, l, u), u of the ReLU hull, plus the box term."""
    nus = dict(nus)
    nus[K] = lam
    total = np.zeros(len(lam))
    for k in range(K - 1, 0, -1):
        g = nus[k + 1] @ net.weights[k]
        total += nus[k + 1] @ net.biases[k]
        l, u = _gather(bounds[k][0], leaf), _gather(bounds[k][1], leaf)
        nu = nus[k]
        terms = [g * np.maximum(z, 0.0) - nu * z for z in (l, np.clip(0.0, l, u), u)]
        total += np.minimum.reduce(terms).sum(1)
    g0 = nus[1] @ net.weights[0]
    total += nus[1] @ net.biases[0]
    x_lo, x_hi = _gather(x_lo, leaf if len(x_lo) > 1 else None), _gather(x_hi, leaf if len(x_hi) > 1 else None)
    total += np.minimum(g0 * x_lo, g0 * x_hi).sum(1)
    return total


# ---------------------------------------------------------------- the bound-* passes


MARGIN = 2.0**-30  # claims are widened by this (relative), so the checker's rounding lands inside


def _decimal(v: float) -> str:
    """A float64 as the exact decimal VNN-LIB reads it as (a dyadic rational's expansion)."""
    from decimal import Decimal

    return format(Decimal(float(v)), "f")


def bounds_property(lo: np.ndarray, hi: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> str:
    """VNN-LIB whose unsafe set is an output outside [lower, upper] over the box [lo, hi]: it
    holds exactly when the claimed bounds do (strictly)."""
    head = "; output bounds claimed by a bound-* pass: unsafe if some Y_j leaves (lower_j, upper_j)\n"
    head += "".join(f"(declare-const X_{i} Real)\n" for i in range(len(lo)))
    head += "".join(f"(declare-const Y_{j} Real)\n" for j in range(len(lower)))
    box = "".join(f"(assert (>= X_{i} {_decimal(a)}))\n(assert (<= X_{i} {_decimal(b)}))\n"
                  for i, (a, b) in enumerate(zip(lo, hi)))
    outs = "".join(f"    (and (<= Y_{j} {_decimal(a)}))\n    (and (>= Y_{j} {_decimal(b)}))\n"
                   for j, (a, b) in enumerate(zip(lower, upper)))
    return head + box + "(assert (or\n" + outs + "))\n"


def certified_bounds(net: Network, lo: np.ndarray, hi: np.ndarray, method: str):
    """(lower, upper, multipliers): bounds of every output over the box [lo, hi] (flat) by
    `method`, each as the checker will recompute it: per row (Y_j from below, then -Y_j) the
    best of the multipliers the method allows (all zero: interval arithmetic over the
    checker's domains, at least pure IBP; None: the checker's own CROWN; alpha-CROWN's,
    float32), evaluated by `dual_value`; "ibp" claims pure IBP. Claims are widened by MARGIN.
    multipliers[row] is None or {k: nu_k}."""
    L = net.depth
    x_lo, x_hi = lo[None], hi[None]
    n = net.sizes[-1]
    lam = np.concatenate([np.eye(n), -np.eye(n)])  # rows: Y_j from below, then -Y_j
    if L == 1:
        value = lam @ net.biases[0] + np.minimum(lam @ net.weights[0] * lo, lam @ net.weights[0] * hi).sum(1)
        best, choice = value, [{} for _ in range(2 * n)]
    else:
        bounds = layer_bounds(net, x_lo, x_hi)
        leaf = np.zeros(2 * n, int)
        zero = {k: np.zeros((2 * n, net.sizes[k])) for k in range(1, L)}
        best = dual_value(net, L, zero, lam, bounds, leaf, x_lo, x_hi)
        choice: list = [{k: v[r] for k, v in zero.items()} for r in range(2 * n)]
        options = []
        if method in ("crown", "alpha-crown"):
            g, const = objective_rows(net, L, lam)
            _, nus, _ = backward(net, L, g, const, Relax.of(bounds, L), leaf, x_lo, x_hi, keep=True)
            options.append((dual_value(net, L, nus, lam, bounds, leaf, x_lo, x_hi), None))
        if method == "alpha-crown":
            g, const = objective_rows(net, L, lam)
            _, nus, _, _ = optimize(net, L, g, const, Relax.of(bounds, L), leaf, x_lo, x_hi, steps=50)
            options.append((dual_value(net, L, nus, lam, bounds, leaf, x_lo, x_hi), nus))
        for value, nus in options:
            for r in np.where(value > best)[0]:
                best[r] = value[r]
                choice[r] = None if nus is None else {k: v[r] for k, v in nus.items()}
    if method == "ibp":  # the claim is pure interval arithmetic (zero multipliers give at least it)
        ibp = output_bounds(net, x_lo, x_hi, "ibp")
        best = np.minimum(best, np.concatenate([ibp[0][0], -ibp[1][0]]))
    widen = MARGIN * (1 + np.abs(best))
    lower, upper = np.nextafter(best[:n] - widen[:n], -np.inf), np.nextafter(-(best[n:] - widen[n:]), np.inf)
    return lower, upper, choice


def bound_pass(module, method: str, prop_path: str, params_path: str, pass_name: str) -> None:
    """What every bound-* pass does: read the box and the parameters, bound the outputs, and
    record a witness whose claims hold the bounds, the VNN-LIB property stating them and a
    robustness certificate of it (one leaf; `vnnc.verifier.robust.check` replays it)."""
    import base64
    import hashlib
    from pathlib import Path

    from vnnc import safetensors
    from vnnc.driver import generic_text
    from vnnc.passes import witness
    from vnnc.vnnlib import read_property

    params, data = {}, b""
    attr = module.attributes.get("vnnc.params")
    path = params_path or (attr.data if attr is not None else "")
    try:
        if path:
            data = Path(path).read_bytes()
            params = safetensors.read(path)
    except (OSError, safetensors.SafetensorsError) as e:
        raise VnncError(f"{pass_name}: cannot read parameters {path}: {e}") from None
    if not data:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            safetensors.write(Path(tmp) / "p.safetensors", {})
            data = (Path(tmp) / "p.safetensors").read_bytes()
    net = extract_network(module, params, pass_name)
    if not prop_path:
        raise VnncError(f"{pass_name}: needs property=FILE.vnnlib (the input box)")
    prop = read_property(prop_path, net.sizes[0], net.sizes[-1])
    if len(prop.regions) != 1:
        raise VnncError(f"{pass_name}: {prop_path}: needs exactly one input box, not {len(prop.regions)}")
    lo, hi = prop.regions[0].box
    lower, upper, choice = certified_bounds(net, lo, hi, method)
    text = bounds_property(lo, hi, lower, upper)

    def ref(m):
        if m is None:
            return [0, None]
        flat = np.concatenate([m[k] for k in range(1, net.depth)]).astype("<f4")
        return [0, base64.b64encode(flat.tobytes()).decode()]

    n = len(lower)
    refs = [ref(choice[r]) for j in range(n) for r in (j, n + j)]  # the property's conjunction order
    sha = lambda b: hashlib.sha256(b.encode() if isinstance(b, str) else b).hexdigest()
    cert = {"version": 1, "kind": "robustness", "spec_sha256": sha(generic_text(module)),
            "params_sha256": sha(data), "property_sha256": sha(text), "verdict": "holds",
            "trees": [[["leaf", refs]]]}
    witness.record(pass_name, "robustness", {"method": method, "lower": [float(v) for v in lower],
                                             "upper": [float(v) for v in upper], "property": text,
                                             "certificate": cert})
