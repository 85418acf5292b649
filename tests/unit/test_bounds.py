"""IBP, CROWN and alpha/beta-CROWN of passes/bounds.py against an independent numpy
implementation written here (one box, plain loops), against sampled points of the box, and
the reverse-mode gradients against finite differences."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from vnnc.passes import bounds as bnd


def random_net(seed: int, sizes=(3, 8, 8, 4)) -> bnd.Network:
    rng = np.random.default_rng(seed)
    ws = [rng.standard_normal((b, a)) / np.sqrt(a) for a, b in itertools.pairwise(sizes)]
    bs = [rng.standard_normal(b) * 0.1 for b in sizes[1:]]
    return bnd.Network(ws, bs, (sizes[0],), (sizes[-1],))


def ref_ibp(ws, bs, lo, hi):
    """Interval arithmetic one neuron at a time; returns pre-activation bounds per layer."""
    out = []
    for k, (w, b) in enumerate(zip(ws, bs)):
        l, u = np.zeros(len(b)), np.zeros(len(b))
        for j in range(len(b)):
            l[j] = b[j] + sum(min(w[j, i] * lo[i], w[j, i] * hi[i]) for i in range(len(lo)))
            u[j] = b[j] + sum(max(w[j, i] * lo[i], w[j, i] * hi[i]) for i in range(len(lo)))
        out.append((l, u))
        lo, hi = np.maximum(l, 0), np.maximum(u, 0)
    return out


def ref_crown_lower(ws, bs, pre, x_lo, x_hi, c):
    """CROWN (Zhang et al. 2018) lower bound of c . z_K, z_K = ws[K-1] a + bs[K-1], written as
    back-substitution of one linear function with the per-neuron relaxation."""
    K = len(ws)
    lam, const = np.array(c, float), 0.0
    for k in range(K - 1, 0, -1):
        const += lam @ bs[k]
        g = ws[k].T @ lam
        l, u = pre[k - 1]
        new = np.zeros_like(g)
        for j in range(len(g)):
            if l[j] >= 0:
                new[j] = g[j]
            elif u[j] <= 0:
                new[j] = 0.0
            elif g[j] >= 0:
                new[j] = g[j] * (1.0 if u[j] > -l[j] else 0.0)
            else:
                s = u[j] / (u[j] - l[j])
                new[j] = g[j] * s
                const += g[j] * (-s * l[j])
        lam = new
    const += lam @ bs[0]
    g0 = ws[0].T @ lam
    return const + sum(min(g0[i] * x_lo[i], g0[i] * x_hi[i]) for i in range(len(g0)))


def ref_bounds(net, x_lo, x_hi):
    """Layer bounds by IBP, intersected with CROWN where IBP leaves a neuron unstable, layer by
    layer, as documented (the checker's rule)."""
    pre = []
    lo, hi = x_lo, x_hi
    for k in range(len(net.weights) - 1):
        (l, u), = ref_ibp([net.weights[k]], [net.biases[k]], lo, hi)
        if k > 0:
            ws, bs = net.weights[:k + 1], net.biases[:k + 1]
            for j in range(len(l)):
                if not l[j] < 0 < u[j]:
                    continue
                e = np.eye(len(l))[j]
                l[j] = max(l[j], ref_crown_lower(ws, bs, pre, x_lo, x_hi, e))
                u[j] = min(u[j], -ref_crown_lower(ws, bs, pre, x_lo, x_hi, -e))
        pre.append((l, u))
        lo, hi = np.maximum(l, 0), np.maximum(u, 0)
    return pre


@pytest.mark.parametrize("seed", range(4))
def test_ibp_and_crown_match_the_reference(seed):
    net = random_net(seed)
    rng = np.random.default_rng(100 + seed)
    x_lo = rng.uniform(-1, 0, 3)
    x_hi = x_lo + rng.uniform(0.1, 1, 3)
    got = bnd.layer_bounds(net, x_lo[None], x_hi[None])
    want = ref_bounds(net, x_lo, x_hi)
    for k, (l, u) in enumerate(want, 1):
        np.testing.assert_allclose(got[k][0][0], l, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(got[k][1][0], u, rtol=1e-10, atol=1e-12)
    lo_ibp, hi_ibp = bnd.output_bounds(net, x_lo[None], x_hi[None], "ibp")
    (l_ref, u_ref), = ref_ibp([net.weights[-1]], [net.biases[-1]],
                              np.maximum(want[-1][0], 0), np.maximum(want[-1][1], 0))
    # IBP of the last layer from the same (CROWN-tightened) intermediate bounds is not the
    # pure-IBP answer; pure IBP is checked layer by layer:
    pure = ref_ibp(net.weights, net.biases, x_lo, x_hi)
    np.testing.assert_allclose(lo_ibp[0], pure[-1][0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(hi_ibp[0], pure[-1][1], rtol=1e-10, atol=1e-12)
    lo_c, hi_c = bnd.output_bounds(net, x_lo[None], x_hi[None], "crown")
    for j in range(4):
        e = np.eye(4)[j]
        ref_lo = max(l_ref[j], ref_crown_lower(net.weights, net.biases, want, x_lo, x_hi, e))
        ref_hi = min(u_ref[j], -ref_crown_lower(net.weights, net.biases, want, x_lo, x_hi, -e))
        assert lo_c[0, j] == pytest.approx(ref_lo, rel=1e-10, abs=1e-12)
        assert hi_c[0, j] == pytest.approx(ref_hi, rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_bounds_enclose_samples_and_tighten(seed):
    net = random_net(seed, (4, 16, 16, 16, 3))
    rng = np.random.default_rng(seed)
    x_lo = rng.uniform(-1, 0, 4)
    x_hi = x_lo + 0.5
    xs = rng.uniform(x_lo, x_hi, (4000, 4))
    ys = net.forward(xs)
    widths = []
    for method in ("ibp", "crown", "alpha-crown"):
        lo, hi = bnd.output_bounds(net, x_lo[None], x_hi[None], method)
        assert (ys >= lo[0] - 1e-9).all() and (ys <= hi[0] + 1e-9).all(), method
        widths.append(float((hi - lo).sum()))
    assert widths[1] <= widths[0] + 1e-9 and widths[2] <= widths[1] + 1e-9


def test_alpha_and_beta_gradients_match_finite_differences():
    net = random_net(7, (3, 10, 10, 2))
    x_lo, x_hi = -np.ones((1, 3)), np.ones((1, 3))
    bounds = bnd.layer_bounds(net, x_lo, x_hi)
    relax = bnd.Relax.of(bounds, 3)
    rng = np.random.default_rng(0)
    lam = np.array([[1.0, -1.0], [-0.5, 2.0]])
    g, const = bnd.objective_rows(net, 3, lam)
    leaf = np.zeros(2, int)
    signs = {1: np.zeros((1, 10)), 2: np.zeros((1, 10))}
    signs[1][0, np.argmax(relax.unstable[1][0])] = 1.0  # a split (its clamp is not needed here)
    signs[2][0, np.argmax(relax.unstable[2][0])] = -1.0
    alpha = {k: rng.uniform(0, 1, (2, 10)) for k in (1, 2)}
    beta = {k: rng.uniform(0, 1, (2, 10)) for k in (1, 2)}

    def lower(a, b):
        return bnd.backward(net, 3, g, const, relax, leaf, x_lo, x_hi, a, b, signs)[0]

    base, _, tape = bnd.backward(net, 3, g, const, relax, leaf, x_lo, x_hi, alpha, beta, signs)
    ga, gb = bnd.gradient(net, tape)
    for grads, which in ((ga, "alpha"), (gb, "beta")):
        for k in (1, 2):
            for r in range(2):
                mask = relax.unstable[k][0] if which == "alpha" else signs[k][0] != 0
                j = int(np.argmax(np.abs(grads[k][r]) * mask))
                bumped = {kk: v.copy() for kk, v in (alpha if which == "alpha" else beta).items()}
                bumped[k][r, j] += 1e-7
                new = lower(bumped, beta) if which == "alpha" else lower(alpha, bumped)
                fd = (new[r] - base[r]) / 1e-7
                assert fd == pytest.approx(grads[k][r, j], rel=1e-4, abs=1e-6), (which, k, r)


@pytest.mark.parametrize("seed", range(3))
def test_root_bounds_enclose_samples_and_tighten(seed):
    """Domains over the box tightened by alpha-CROWN: they hold on sampled points, are no
    looser than the checker's rule without them, tighter somewhere, and each entry's
    multipliers give (weak duality, evaluated independently here) the domain kept."""
    net = random_net(seed, (4, 10, 10, 10, 3))
    lo, hi = -np.ones(4), np.ones(4)
    root, entries = bnd.root_bounds(net, lo, hi, steps=30)
    plain = bnd.layer_bounds(net, lo[None], hi[None])
    tight = bnd.layer_bounds(net, lo[None], hi[None], root=root)
    xs = np.random.default_rng(seed).uniform(lo, hi, (20000, 4))
    a = xs
    for k in range(1, net.depth):
        z = a @ net.weights[k - 1].T + net.biases[k - 1]
        assert (z >= tight[k][0] - 1e-9).all() and (z <= tight[k][1] + 1e-9).all(), k
        assert (tight[k][0] >= plain[k][0]).all() and (tight[k][1] <= plain[k][1]).all(), k
        a = np.maximum(z, 0.0)
    assert entries and all(k >= 2 for k, *_ in entries)
    assert sum(((t[0] > p[0]) | (t[1] < p[1])).sum() for t, p in zip(tight[1:], plain[1:])) > 0
    for k, j, side, nus in entries:
        # sum_i (g_i a_i - nu_i z_i) per neuron over its hull's vertices, g_0 . x over the corners
        obj, total = side * np.eye(net.sizes[k])[j], 0.0
        for i in range(k - 1, 0, -1):
            g = (obj if i == k - 1 else nus[i + 1]) @ net.weights[i]
            total += (obj if i == k - 1 else nus[i + 1]) @ net.biases[i]
            l, u = tight[i][0][0], tight[i][1][0]
            total += sum(min(g[n] * max(z, 0.0) - nus[i][n] * z for z in (l[n], min(max(0.0, l[n]), u[n]), u[n]))
                         for n in range(len(g)))
        g0 = nus[1] @ net.weights[0]
        total += nus[1] @ net.biases[0] + np.minimum(g0 * lo, g0 * hi).sum()
        kept = tight[k][0][0, j] if side > 0 else -tight[k][1][0, j]
        assert kept <= total + 1e-9 and kept >= total - 1e-6 * (1 + abs(total))


@pytest.mark.parametrize("seed", range(3))
def test_float32_domains_hold_and_are_no_tighter(seed):
    """Domains with the CROWN passes in float32 (a search's, `dtype=np.float32`): they hold on
    sampled points of every leaf, contain the float64 domains (each bound lowered by WIDEN,
    more than float32 rounding here) and stay within 1e-4 of them."""
    sizes = (30, 20, 20, 20, 3)
    net = random_net(seed, sizes)
    rng = np.random.default_rng(seed)
    lo = np.repeat(rng.uniform(-1, 0, (1, 30)), 4, axis=0)
    hi = lo + 0.5
    signs = {k: np.zeros((4, n)) for k, n in enumerate(sizes[1:-1], 1)}
    xs = rng.uniform(lo[0], hi[0], (20000, 30))
    zs, a = [None], xs
    for k in range(1, net.depth):
        zs.append(a @ net.weights[k - 1].T + net.biases[k - 1])
        a = np.maximum(zs[k], 0.0)
    for b in range(1, 4):  # leaves 1..3: a split of the neuron of layer 1 or 2 whose samples split most evenly
        k = 1 + (b - 1) % 2
        j = int(np.argmin(np.abs((zs[k] > 0).mean(axis=0) - 0.5)))
        signs[k][b, j] = 1.0 if b % 2 else -1.0
    f64 = bnd.layer_bounds(net, lo, hi, signs)
    f32 = bnd.layer_bounds(net, lo, hi, signs, dtype=np.float32)
    for k in range(1, net.depth):
        (l64, u64), (l32, u32) = f64[k], f32[k]
        assert (l32 <= l64).all() and (u32 >= u64).all(), k
        assert np.abs(l32 - l64).max() <= 1e-4 * (1 + np.abs(l64).max()), k
        assert np.abs(u32 - u64).max() <= 1e-4 * (1 + np.abs(u64).max()), k
    for b in range(4):
        ok = np.ones(len(xs), bool)  # the leaf's points
        for k in range(1, net.depth):
            ok &= ((signs[k][b] == 0) | (np.sign(zs[k]) == signs[k][b])).all(axis=1)
        assert ok.sum() > 100
        for k in range(1, net.depth):
            assert (zs[k][ok] >= f32[k][0][b]).all() and (zs[k][ok] <= f32[k][1][b]).all(), (b, k)


def test_per_leaf_start_keeps_the_layers_below_it():
    """start per leaf: each leaf's layers below its start are prev's (re-clamped), the others
    recomputed, the same as every leaf computed from layer 1; a prev marked wrong below a
    leaf's start shows through (it is used), above it not."""
    sizes = (6, 10, 10, 10, 3)
    net = random_net(7, sizes)
    lo, hi = -np.ones((1, 6)), np.ones((1, 6))
    signs = {k: np.zeros((3, n)) for k, n in enumerate(sizes[1:-1], 1)}
    base = bnd.layer_bounds(net, lo, hi, leaves=3)
    for b, k in ((0, 1), (1, 2), (2, 3)):  # leaf b split at layer k: start k + 1
        j = int(np.argmax((base[k][0][b] < 0) & (base[k][1][b] > 0)))
        signs[k][b, j] = 1.0
    full = bnd.layer_bounds(net, lo, hi, signs, leaves=3)
    prev = [None] + [(l.copy(), u.copy()) for l, u in full[1:]]
    start = np.array([2, 3, 4])
    got = bnd.layer_bounds(net, lo, hi, signs, prev=prev, start=start, leaves=3)
    for k in range(1, net.depth):
        np.testing.assert_allclose(got[k][0], full[k][0], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(got[k][1], full[k][1], rtol=1e-12, atol=1e-12)
    for k in range(1, net.depth):
        prev[k][0][:] = -1e3
    got = bnd.layer_bounds(net, lo, hi, signs, prev=prev, start=start, leaves=3)
    for b in range(3):
        for k in range(1, net.depth):
            assert (got[k][0][b] == -1e3).any() == (k < start[b]), (b, k)
