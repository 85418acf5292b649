"""Counterexample search for `vnnc verify`: projected gradient descent with restarts.

A property's region is violated when some input of its box makes every constraint of one
conjunction hold. For each conjunction the search minimises the worst violation margin
max_i (c_i . y - d_i) over the box (targeted, one objective per conjunction) by signed
gradient steps with a shrinking step size (PGD, Madry et al. 2018), from the box centre, its
corners' neighbourhood and uniform random starts; the network runs in float32 here, and a
candidate counts only once `confirm` has checked it exactly (a float32 input inside the
exact box whose float64 output meets the conjunction in exact rational arithmetic).
"""

from __future__ import annotations

import time
from fractions import Fraction

import numpy as np
from vnnc.vnnlib import Region


def constraint_rows(region: Region, n_out: int):
    """Every constraint of the region's conjunctions as rows: (C (R, n_out), d (R,) float,
    conjunction index (R,), index inside the conjunction (R,))."""
    cs, ds, conj, idx = [], [], [], []
    for r, conjunction in enumerate(region.conjunctions):
        for j, con in enumerate(conjunction):
            c, d = con.dense(n_out)
            cs.append(c)
            ds.append(float(d))
            conj.append(r)
            idx.append(j)
    return np.array(cs).reshape(-1, n_out), np.array(ds), np.array(conj, int), np.array(idx, int)


def meets(region: Region, y: np.ndarray) -> int | None:
    """The first conjunction that the float64 output y meets exactly, or None."""
    for r, conjunction in enumerate(region.conjunctions):
        if all(con.holds(y) for con in conjunction):
            return r
    return None


def inside(v: float, lo: Fraction, hi: Fraction) -> float:
    """The float32 nearest v, moved inside [lo, hi] when it can be."""
    f = np.float32(v)
    for _ in range(4):
        if Fraction(float(f)) < lo:
            f = np.nextafter(f, np.float32(np.inf))
        elif Fraction(float(f)) > hi:
            f = np.nextafter(f, np.float32(-np.inf))
    return float(f)


def confirm(net, region: Region, x: np.ndarray) -> np.ndarray | None:
    """x as float32 values inside the exact box, if its float64 output still meets a
    conjunction exactly."""
    x32 = np.array([inside(v, a, b) for v, a, b in zip(x, region.lo, region.hi)])
    if not region.contains(x32):
        return None
    return x32 if meets(region, net.forward(x32[None])[0]) is not None else None


class Falsifier:
    """PGD on the network in float32 for one region."""

    def __init__(self, net, region: Region):
        self.net, self.region = net, region
        self.ws = [w.astype(np.float32) for w in net.weights]
        self.bs = [b.astype(np.float32) for b in net.biases]
        self.C, self.d, self.conj, _ = constraint_rows(region, net.sizes[-1])
        self.n_conj = len(region.conjunctions)
        self.lo, self.hi = (v.astype(np.float32) for v in region.box)

    def margins(self, x: np.ndarray, r: int, grad: bool = True):
        """Per point of x (N, n_0): the worst margin max_i (c_i . y - d_i) over the
        constraints of conjunction r (<= 0: the conjunction is met), and its gradient."""
        rows = np.where(self.conj == r)[0]
        acts, a = [], x
        for k, (w, b) in enumerate(zip(self.ws, self.bs)):
            a = a @ w.T + b
            if k < len(self.ws) - 1:
                acts.append(a > 0)
                a = np.maximum(a, 0.0)
        v = a @ self.C[rows].T.astype(np.float32) - self.d[rows].astype(np.float32)
        worst = np.argmax(v, axis=1)
        m = v[np.arange(len(x)), worst]
        if not grad:
            return m, None
        g = self.C[rows][worst].astype(np.float32)
        for k in range(len(self.ws) - 1, -1, -1):
            g = g @ self.ws[k]
            if k > 0:
                g *= acts[k - 1]
        return m, g

    def run(self, rng, restarts: int = 32, steps: int = 60, deadline: float | None = None,
            starts: dict | None = None) -> np.ndarray | None:
        """A confirmed counterexample, or None. Per conjunction r: the box centre, starts[r]
        (points a bound suggests, e.g. where CROWN's linear bound is least), random corners
        and uniform random points, each descending with its own random step scale."""
        if self.n_conj == 0:
            return None
        if self.C.shape[0] == 0 or any(len(c) == 0 for c in self.region.conjunctions):
            return confirm(self.net, self.region, (self.lo + self.hi) / 2)  # the box itself is unsafe
        width = self.hi - self.lo
        for r in range(self.n_conj):
            n = len(self.lo)
            corners = np.where(rng.uniform(size=(restarts // 2, n)) < 0.5, self.lo, self.hi)
            x = [((self.lo + self.hi) / 2)[None], corners, rng.uniform(self.lo, self.hi, (restarts - len(corners), n))]
            if starts and r in starts:
                x.insert(0, np.atleast_2d(starts[r]))
            x = np.clip(np.concatenate(x).astype(np.float32), self.lo, self.hi)
            scale = rng.uniform(0.05, 1.0, (len(x), 1)).astype(np.float32) * width
            found = self._descend(x, self.lo, self.hi, r, scale, steps, deadline)
            if found is not None or (deadline is not None and time.perf_counter() > deadline):
                return found
        return None

    def _descend(self, x, lo, hi, r: int, scale, steps: int, deadline: float | None):
        """Signed gradient steps on conjunction r's worst margin from the points x (N, n_0),
        each kept in its box [lo, hi] (rows, or one box for all), the step `scale` (N, n_0)
        shrinking by 0.93 a step: the first confirmed counterexample met, or None."""
        tol = 1e-6 * (1 + float(np.abs(self.d).max(initial=0)))
        for t in range(steps + 1):
            m, g = self.margins(x, r, grad=t < steps)
            for i in np.argsort(m)[:3]:
                if m[i] <= tol:
                    found = confirm(self.net, self.region, x[i].astype(np.float64))
                    if found is not None:
                        return found
            if t == steps or (deadline is not None and time.perf_counter() > deadline):
                break
            x = np.clip(x - scale * np.sign(g), lo, hi)
            scale = scale * 0.93
        return None

    def inside_boxes(self, rng, lo: np.ndarray, hi: np.ndarray, per_box: int = 4, steps: int = 40,
                     deadline: float | None = None) -> np.ndarray | None:
        """PGD confined to each of the boxes lo, hi (N, n_0) (e.g. the leaves whose bounds are
        least): from each box's centre and per_box - 1 uniform points in it, with step sizes
        relative to the box. A confirmed counterexample, or None."""
        if self.n_conj == 0 or self.C.shape[0] == 0:
            return None
        lo = np.repeat(np.asarray(lo, np.float32), per_box, axis=0)
        hi = np.repeat(np.asarray(hi, np.float32), per_box, axis=0)
        x = rng.uniform(lo, hi).astype(np.float32)
        x[::per_box] = (lo[::per_box] + hi[::per_box]) / 2
        for r in range(self.n_conj):
            scale = rng.uniform(0.1, 0.5, (len(x), 1)).astype(np.float32) * (hi - lo)
            found = self._descend(x, lo, hi, r, scale, steps, deadline)
            if found is not None:
                return found
        return None
