"""Bounds of a ReLU network's values over input boxes: IBP, CROWN and alpha-CROWN, batched.

The spec graph is read as a chain z_{k+1} = W_k a_k + b_k, a_k = relu(z_k), a_0 = x (the
input flattened), z_L the output, each affine map folding the spec ops between two ReLUs
(matmul, linear, add/sub/mul with a constant, neg, flatten, reshape). Everything here runs
in float64 over a batch of B boxes at once and is *untrusted*: `vnnc verify` only claims
what the checker (vnnc.verifier.robust) recomputes with outward rounding.

CROWN (Zhang et al. 2018) bounds c^T z_K from below by propagating a linear function back
through the layers, relaxing each unstable ReLU (l < 0 < u) by a >= alpha z (alpha in
[0, 1]) and a <= u (z - l) / (u - l). In Lagrangian form the multiplier of z_k it produces,
nu_k, is what the certificate can carry; alpha-CROWN (Xu et al. 2021) chooses alpha by
projected gradient ascent, beta-CROWN (Wang et al. 2021) adds beta >= 0 for split neurons
(nu_j = g_j - beta_j on an active split z_j >= 0, nu_j = beta_j on an inactive one).
Intermediate bounds are IBP intersected with CROWN (default slopes), layer by layer, over
the box alone; ReLU splits only clamp their own neuron, exactly as the checker recomputes.
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

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Outputs for a batch of flat inputs (B, n_0), in float64."""
        a = x
        for k, (w, b) in enumerate(zip(self.weights, self.biases)):
            a = a @ w.T + b
            if k < len(self.weights) - 1:
                a = np.maximum(a, 0.0)
        return a


def extract_network(module, params: dict[str, np.ndarray], source: str = "model") -> Network:
    """The chain of affine maps and ReLUs of a spec module's @main (one input, one output)."""
    from vnnc.dialects import spec
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
            consts[op.results[0]] = np.asarray(spec.attr_value(op.value), np.float64).reshape(
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


# ---------------------------------------------------------------- batched bounds


def _interval_affine(lo, hi, w, b):
    mid, rad = (lo + hi) / 2, (hi - lo) / 2
    c = mid @ w.T + b
    r = rad @ np.abs(w).T
    return c - r, c + r


def relu_slopes(l, u):
    """CROWN relaxation of a = relu(z) on [l, u]: (lower slope, upper slope, upper intercept)
    per neuron; the default lower slope is 1 where u > -l, else 0 (the checker's rule)."""
    active, inactive = l >= 0, u <= 0
    unstable = ~(active | inactive)
    den = np.where(unstable, u - l, 1.0)
    up_slope = np.where(active, 1.0, np.where(unstable, u / den, 0.0))
    up_icpt = np.where(unstable, -l * up_slope, 0.0)
    lo_slope = np.where(active, 1.0, np.where(unstable, (u > -l).astype(np.float64), 0.0))
    return lo_slope, up_slope, up_icpt


def backward(net: Network, K: int, lam: np.ndarray, bounds: list, x_lo, x_hi,
             alpha: list | None = None, beta: list | None = None, splits: list | None = None):
    """CROWN lower bound of lam . z_K over the boxes, lam of shape (B, R, n_K).

    bounds[k] = (l_k, u_k), shapes (B, n_k), for k = 1..K-1 (index 0 unused), split neurons
    already clamped. Returns (lower (B, R), nus {k: nu_k (B, R, n_k)}, g_0 (B, R, n_0))."""
    B, R = lam.shape[:2]
    const = np.zeros((B, R))
    nus = {K: lam}
    for k in range(K - 1, 0, -1):
        w, b = net.weights[k], net.biases[k]
        const += lam @ b
        g = lam @ w
        l, u = bounds[k]
        lo_s, up_s, up_i = relu_slopes(l, u)
        lo_s = lo_s[:, None, :] if alpha is None or alpha[k] is None else alpha[k]
        pos = g >= 0
        nu = g * np.where(pos, lo_s, up_s[:, None, :])
        const += np.einsum("brn,bn->br", np.minimum(g, 0.0), up_i)
        if beta is not None and beta[k] is not None:
            # split sign s = +1 active (nu = g - beta), -1 inactive (nu = beta)
            s = splits[k][:, None, :]
            nu = np.where(s > 0, g - beta[k], np.where(s < 0, beta[k], nu))
        lam = nu
        nus[k] = nu
    const += lam @ net.biases[0]
    g0 = lam @ net.weights[0]
    mid, rad = (x_lo + x_hi) / 2, (x_hi - x_lo) / 2
    lower = const + np.einsum("brn,bn->br", g0, mid) - np.einsum("brn,bn->br", np.abs(g0), rad)
    return lower, nus, g0


def intermediate_bounds(net: Network, x_lo: np.ndarray, x_hi: np.ndarray, splits: list | None = None,
                        method: str = "crown") -> list:
    """[(l_k, u_k)] for the pre-activations z_k, k = 1..L-1 (index 0 holds the box), over a
    batch of boxes (B, n_0): IBP, intersected with CROWN unless method is 'ibp'; split
    neurons (splits[k][b, j] = +1 active, -1 inactive, 0 free) clamped."""
    bounds = [(x_lo, x_hi)]
    a_lo, a_hi = x_lo, x_hi
    L = len(net.weights)
    for k in range(1, L):
        l, u = _interval_affine(a_lo, a_hi, net.weights[k - 1], net.biases[k - 1])
        if method != "ibp" and k > 1:
            n = l.shape[1]  # objectives z_kj and -z_kj in one pass
            both = np.broadcast_to(np.concatenate([np.eye(n), -np.eye(n)]), (l.shape[0], 2 * n, n))
            bound = backward(net, k, both, bounds, x_lo, x_hi)[0]
            l, u = np.maximum(l, bound[:, :n]), np.minimum(u, -bound[:, n:])
        if splits is not None and splits[k] is not None:
            l = np.where(splits[k] > 0, np.maximum(l, 0.0), l)
            u = np.where(splits[k] < 0, np.minimum(u, 0.0), u)
        bounds.append((l, u))
        a_lo, a_hi = np.maximum(l, 0.0), np.maximum(u, 0.0)
    return bounds


def output_bounds(net: Network, x_lo: np.ndarray, x_hi: np.ndarray, method: str = "crown"):
    """(lower, upper), each (B, n_L): the network's outputs over each box."""
    bounds = intermediate_bounds(net, x_lo, x_hi, method=method)
    L = len(net.weights)
    l, u = bounds[-1] if L > 1 else (x_lo, x_hi)
    a_lo, a_hi = (np.maximum(l, 0.0), np.maximum(u, 0.0)) if L > 1 else (l, u)
    lo, hi = _interval_affine(a_lo, a_hi, net.weights[-1], net.biases[-1])
    if method == "ibp" or L == 1:
        return lo, hi
    n = lo.shape[1]
    eye = np.broadcast_to(np.eye(n), (lo.shape[0], n, n))
    if method == "alpha-crown":
        lower = optimize_alpha(net, eye, bounds, x_lo, x_hi)[0]
        upper = optimize_alpha(net, -eye, bounds, x_lo, x_hi)[0]
    else:
        lower = backward(net, L, eye, bounds, x_lo, x_hi)[0]
        upper = backward(net, L, -eye, bounds, x_lo, x_hi)[0]
    return np.maximum(lo, lower), np.minimum(hi, -upper)


# ---------------------------------------------------------------- alpha / beta optimisation


def _grad_bound(net, K, lam0, bounds, x_lo, x_hi, alpha, beta, splits):
    """The CROWN lower bound and its gradients with respect to alpha and beta (reverse mode
    through `backward`, which is piecewise linear in them)."""
    B, R = lam0.shape[:2]
    lam, tape = lam0, []
    const = np.zeros((B, R))
    for k in range(K - 1, 0, -1):
        w, b = net.weights[k], net.biases[k]
        const += lam @ b
        g = lam @ w
        l, u = bounds[k]
        _, up_s, up_i = relu_slopes(l, u)
        pos = g >= 0
        nu = np.where(pos, g * alpha[k], g * up_s[:, None, :])
        const += np.sum(np.where(pos, 0.0, g * up_i[:, None, :]), axis=-1)
        s = splits[k][:, None, :] if splits is not None and splits[k] is not None else None
        if s is not None:
            nu = np.where(s > 0, g - beta[k], np.where(s < 0, beta[k], nu))
        tape.append((k, g, pos, up_s, up_i, s))
        lam = nu
    const += lam @ net.biases[0]
    g0 = lam @ net.weights[0]
    mid, rad = (x_lo + x_hi) / 2, (x_hi - x_lo) / 2
    lower = const + np.einsum("brn,bn->br", g0, mid) - np.einsum("brn,bn->br", np.abs(g0), rad)
    # reverse sweep: d lower / d lam_k
    l_u = bounds
    d_lam = np.einsum("brn,mn->brm", mid[:, None, :] - np.sign(g0) * rad[:, None, :], net.weights[0]) \
        + net.biases[0]
    grads_a, grads_b = {}, {}
    for k, g, pos, up_s, up_i, s in reversed(tape):
        # nu = pos ? g*alpha : g*up_s ; const += (!pos) * g * up_i ; then split overrides
        d_g = np.where(pos, d_lam * alpha[k], d_lam * up_s[:, None, :]) + np.where(pos, 0.0, up_i[:, None, :])
        grads_a[k] = np.where(pos & ((l_u[k][0] < 0) & (l_u[k][1] > 0))[:, None, :], d_lam * g, 0.0)
        if s is not None:
            d_g = np.where(s > 0, d_lam, np.where(s < 0, 0.0, d_g))
            grads_a[k] = np.where(s != 0, 0.0, grads_a[k])
            grads_b[k] = np.where(s > 0, -d_lam, np.where(s < 0, d_lam, 0.0))
        d_lam = d_g @ net.weights[k].T + net.biases[k]
    return lower, grads_a, grads_b


def optimize_alpha(net: Network, lam: np.ndarray, bounds: list, x_lo, x_hi, steps: int = 20,
                   lr: float = 0.1, splits: list | None = None, beta_init: dict | None = None):
    """alpha-CROWN (and beta-CROWN when `splits` is given): (lower (B, R), nus) after
    `steps` of projected gradient ascent (Adam) on alpha in [0, 1] and beta >= 0; the best
    bound seen is returned with its multipliers."""
    K = len(bounds)
    B, R = lam.shape[:2]
    alpha, beta = {}, {}
    for k in range(1, K):
        l, u = bounds[k]
        lo_s = relu_slopes(l, u)[0]
        alpha[k] = np.broadcast_to(lo_s[:, None, :], (B, R, l.shape[1])).copy()
        beta[k] = np.zeros((B, R, l.shape[1])) if splits is not None else None
        if beta_init and k in beta_init:
            beta[k] = beta_init[k].copy()
    state = {key: [np.zeros_like(v), np.zeros_like(v)] for key, v in
             [(("a", k), alpha[k]) for k in alpha] + [(("b", k), beta[k]) for k in beta if beta[k] is not None]}
    best = np.full((B, R), -np.inf)
    best_nu = None
    for t in range(1, steps + 1):
        lower, ga, gb = _grad_bound(net, K, lam, bounds, x_lo, x_hi, alpha, beta, splits)
        improved = lower > best
        if best_nu is None or improved.any():
            _, nus, _ = backward(net, K, lam, bounds, x_lo, x_hi, alpha, beta if splits is not None else None,
                                 splits)
            if best_nu is None:
                best_nu = {k: v.copy() for k, v in nus.items()}
            else:
                for k in best_nu:
                    best_nu[k] = np.where(improved[..., None], nus[k], best_nu[k])
            best = np.where(improved, lower, best)
        if t == steps:
            break
        for key, grad in [(("a", k), ga[k]) for k in ga] + [(("b", k), gb[k]) for k in gb]:
            m, v = state[key]
            m *= 0.9
            m += 0.1 * grad
            v *= 0.999
            v += 0.001 * grad * grad
            step = lr * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
            if key[0] == "a":
                alpha[key[1]] = np.clip(alpha[key[1]] + step, 0.0, 1.0)
            else:
                beta[key[1]] = np.maximum(beta[key[1]] + step, 0.0)
    return best, best_nu
