"""Input-split branch and bound of `vnnc verify` (networks with few inputs: ACAS Xu).

A box is halved along one of its four most promising inputs (those whose width costs the bound
most: |g_0,i| (hi_i - lo_i) for the linear bound g_0 . x + const of its closest constraint,
weighted by the input's remaining relative width): both halves of every candidate are
bounded by CROWN and the candidate whose halves are together closest to refuted wins. That
pays where the region has a single constraint (ACAS Xu prop 1); with several (props 2-10)
the trial halves chose badly (1_1 prop 2, 2_1 prop 3 and 1_1 prop 5 not decided in 116 s,
against 1,005, 112 and 840 leaves with the first candidate alone), so there the first
candidate is taken. Boxes are
bounded in large batches by CROWN, then alpha-CROWN; PGD runs inside the unrefuted boxes
whose bounds are least, so that a counterexample in a sliver of the box is found early.
(Measured on ACAS Xu prop 1, leaves with one / three / four / five candidates: 4_7 71,992 /
not decided in 150 s of search / 413 / 389; 2_9 5,949 / 469 / 305 / 287; benchmarks/README.md.)
The tree, the Objective and the refutations are those of `vnnc.branch_and_bound`; all of it
is untrusted: `vnnc.verifier.robust` checks the tree.
"""

from __future__ import annotations

import time

import numpy as np
from vnnc.branch_and_bound import (
    Objective,
    Outcome,
    Tree,
    _empty,
    _violations,
    nu_text,
    optimised_refutations,
)
from vnnc.falsify import Falsifier
from vnnc.passes import bounds as bnd
from vnnc.vnnlib import Region

HELPED = 256  # halves bounded at once from which a helper process takes half of them


def input_split(net, region: Region, deadline: float, log, alpha_steps: int = 0,
                batch: int = 2048, trials: int | None = None) -> Outcome:
    """Branch and bound over input splits of the region's box. Each unrefuted box is halved
    along the best of its `trials` most promising inputs (by `_candidates`): both halves of
    every candidate are bounded by CROWN and the best pair by `_pair_value` wins (its halves'
    bounds are then used as they are). By default four candidates when the region has a single
    constraint, else one (the first candidate: no trial halves). With two cores for the
    search, a helper process (vnnc.parallel) bounds half of every HELPED or more halves."""
    from vnnc.parallel import Helper, Lazy

    obj = Objective(net, region)

    def evaluate(lo, hi):
        helper = lazy.get() if len(lo) >= HELPED else None  # started at the first large batch
        if helper is None:
            return _evaluate(net, obj, lo, hi)
        h = len(lo) // 2
        helper.submit(lo[h:], hi[h:])
        mine = _evaluate(net, obj, lo[:h], hi[:h])
        theirs = helper.result()
        return ([(np.concatenate([a[0], b[0]]), np.concatenate([a[1], b[1]])) for a, b in zip(mine[0], theirs[0])],
                np.concatenate([mine[1], theirs[1]]), np.concatenate([mine[2], theirs[2]]))

    with Lazy(lambda: Helper.start(lambda a, b: _evaluate(net, obj, a, b))) as lazy:
        return _search(net, region, obj, deadline, log, alpha_steps, batch, trials, evaluate)


def _search(net, region: Region, obj: Objective, deadline: float, log, alpha_steps: int, batch: int,
            trials: int | None, evaluate) -> Outcome:
    """`input_split`'s search; `evaluate(lo, hi)` is `_evaluate` over those boxes."""
    L = net.depth
    tree = Tree()
    lo0, hi0 = region.box
    if obj.n_conj == 0:
        tree.nodes[0] = ["leaf", []]
        return Outcome("holds", tree)
    if any(len(c) == 0 for c in region.conjunctions):
        return Outcome("unknown", note="a conjunction without output constraints: the box is unsafe")
    if trials is None:
        trials = 4 if obj.R == 1 else 1
    t0 = last = time.perf_counter()
    search, done = _LeafSearch(net, region, deadline), 0
    # open boxes to split: id, lo, hi, g_0 of the closest constraint's linear bound
    ids, los, his, gws = [], [], [], []
    if time.perf_counter() > deadline:
        return Outcome("unknown", note="time limit reached (0 leaves refuted, 1 open)")
    bid, lo, hi = [0], lo0[None], hi0[None]
    bounds, gap, g0 = _evaluate(net, obj, lo, hi)
    while True:
        empty = _empty(bounds)
        ok, best = obj.refuted(gap)
        ok |= empty
        texts: dict = {}
        todo = np.where(~ok)[0]
        if len(todo) and alpha_steps and L > 1:
            plain = gap[todo] > 0  # rows the checker's own CROWN multipliers refute
            gap2, nus, _ = optimised_refutations(net, obj, bounds, lo, hi, todo, alpha_steps)
            ok2, best2 = obj.refuted(np.maximum(gap[todo], gap2))
            for t, b in enumerate(todo):
                if ok2[t]:
                    ok[b], best[b] = True, best2[t]
                    texts[b] = [None if plain[t, j] else nu_text(nus[t, j], L) for j in best2[t]]
        for b in np.where(ok)[0]:
            refs = [[int(obj.idx[j]), texts[b][r] if b in texts else None] for r, j in enumerate(best[b])]
            tree.nodes[bid[b]] = ["leaf", refs]
        done += int(ok.sum())
        todo = np.where(~ok)[0]
        if len(todo):
            # counterexample candidates: where the closest constraint's linear bound is least
            least = gap[todo][np.arange(len(todo))[:, None], best[todo]]
            worst = best[todo, np.argmin(least, axis=1)]
            gw = g0[todo, worst]
            cand = np.where(gw > 0, lo[todo], hi[todo])
            for x in _violations(net, obj, region, np.concatenate([cand, (lo[todo] + hi[todo]) / 2])):
                return Outcome("violated", counterexample=x)
            if search.spent < 0.1 * (time.perf_counter() - t0) + 0.5:  # a tenth of the time, and half a second
                x = search(lo[todo], hi[todo], least.min(axis=1))
                if x is not None:
                    return Outcome("violated", counterexample=x)
            for b, t in zip(todo[::-1], range(len(todo) - 1, -1, -1)):
                ids.append(bid[b])
                los.append(lo[b])
                his.append(hi[b])
                gws.append(gw[t])
        if time.perf_counter() - last > 2:
            last = time.perf_counter()
            log(f"  {done} leaves refuted, {len(ids)} open")
        if not ids:
            return Outcome("holds", tree)
        if time.perf_counter() > deadline:
            return Outcome("unknown", note=f"time limit reached ({done} leaves refuted, {len(ids)} open)")
        take = min(max(1, batch // (2 * trials)), len(ids))
        pid, plo, phi, pgw = ids[-take:], np.array(los[-take:]), np.array(his[-take:]), np.array(gws[-take:])
        del ids[-take:], los[-take:], his[-take:], gws[-take:]
        cand = _candidates(hi0, lo0, plo, phi, pgw, trials)  # (N, T)
        N, T = cand.shape
        clo, chi, mids = _halves(plo, phi, cand)  # children of (parent, candidate, side), in that order
        inside = (plo[np.arange(N)[:, None], cand] < mids) & (mids < phi[np.arange(N)[:, None], cand])
        if not inside.any(axis=1).all():
            return Outcome("unknown", note="a box too small to split further")
        cbounds, cgap, cg0 = evaluate(clo, chi)
        value = _pair_value(_score(obj, cgap, cbounds).reshape(N, T, 2))
        pick = np.argmax(np.where(inside, value, -np.inf), axis=1)
        rows = (2 * (np.arange(N) * T + pick))[:, None] + np.array([0, 1])  # (N, 2): left, right
        bid = []
        for n in range(N):
            bid += tree.split(pid[n], ["x", int(cand[n, pick[n]]), float(mids[n, pick[n]])])
        sel = rows.reshape(-1)
        lo, hi, gap, g0 = clo[sel], chi[sel], cgap[sel], cg0[sel]
        bounds = [(lb[sel], ub[sel]) for lb, ub in cbounds]


def _evaluate(net, obj: Objective, lo, hi, chunk: int = 2048):
    """CROWN over the boxes lo, hi (B, n_0): layer bounds, gap (B, R) of every constraint row
    (> 0: refuted) and g_0 (B, R, n_0), the input coefficients of each row's linear bound."""
    L, parts = net.depth, []
    for s in range(0, len(lo), chunk):
        a, b = lo[s:s + chunk], hi[s:s + chunk]
        bounds = bnd.layer_bounds(net, a, b)
        g, const, leaf, _ = obj.rows(np.arange(len(a)))
        lower, _, tape = bnd.backward(net, L, g, const, bnd.Relax.of(bounds, L), leaf, a, b)
        parts.append((bounds, lower.reshape(len(a), obj.R) - obj.d - obj.margin, tape[1].reshape(len(a), obj.R, -1)))
    bounds = [tuple(np.concatenate([p[0][k][i] for p in parts]) for i in (0, 1)) for k in range(len(parts[0][0]))]
    return bounds, np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts])


def _score(obj: Objective, gap, bounds) -> np.ndarray:
    """How far each box is from refuted: min over conjunctions of its best row's gap (inf: empty)."""
    worst = np.full(len(gap), np.inf)
    for r in range(obj.n_conj):
        worst = np.minimum(worst, gap[:, obj.conj == r].max(axis=1))
    return np.where(_empty(bounds), np.inf, worst)


def _pair_value(score: np.ndarray) -> np.ndarray:
    """How good a split is, from its halves' scores (N, T, 2): the sum of how far each half is
    from refuted (a refuted or empty half counts 0, however large its margin). The worse
    half alone (max-min) chose worse on ACAS Xu: 4_7 prop 1 with two candidates 17,126
    leaves against 3,659, 2_7 prop 1 3,960 against 832, 1_8 prop 2 not decided in 116 s."""
    return np.minimum(score, 0.0).sum(axis=2)


def _halves(lo, hi, cand):
    """Both halves of each box along each candidate input: (lo, hi) (2 N T, n_0) ordered by
    (box, candidate, lower half first), and the split points (N, T)."""
    N, T = cand.shape
    mids = (lo[np.arange(N)[:, None], cand] + hi[np.arange(N)[:, None], cand]) / 2
    clo, chi = np.repeat(lo, 2 * T, axis=0), np.repeat(hi, 2 * T, axis=0)
    r, d, m = np.arange(2 * N * T), np.repeat(cand.reshape(-1), 2), np.repeat(mids.reshape(-1), 2)
    upper = np.tile([False, True], N * T)
    chi[r[~upper], d[~upper]] = m[~upper]
    clo[r[upper], d[upper]] = m[upper]
    return clo, chi, mids


def _candidates(hi0, lo0, lo, hi, gw, trials: int) -> np.ndarray:
    """The `trials` inputs most worth halving, per box (N, trials): by the largest |g_0,i| width_i
    (the loss of the closest constraint's linear bound along input i, smart branching)
    weighted by sqrt(width_i / initial width_i), so that an input already split finely is
    chosen less. (Measured on ACAS Xu with one candidate: 1_1 prop 3 holds with 1,278 leaves
    instead of >60,000 unweighted, 2_1 prop 3 with 112 instead of >28,000; benchmarks/README.md.)"""
    width = hi - lo
    rel = np.divide(width, hi0 - lo0, out=np.zeros_like(width), where=hi0 > lo0)  # a fixed input: 0
    score = np.abs(gw) * width * np.sqrt(rel)
    return np.argsort(-score, axis=1, kind="stable")[:, :min(trials, lo.shape[1])]


class _LeafSearch:
    """PGD inside the unrefuted leaves whose bounds are least (`Falsifier.inside_boxes`):
    a violated region's counterexamples may fill a sliver of the box that PGD over the whole
    box misses, but the leaves around them keep the lowest bounds."""

    def __init__(self, net, region: Region, deadline: float, worst: int = 64):
        self.f, self.deadline, self.worst = Falsifier(net, region), deadline, worst
        self.rng, self.spent = np.random.default_rng(0), 0.0

    def __call__(self, lo, hi, score):
        t = time.perf_counter()
        pick = np.argsort(score)[:self.worst]
        found = self.f.inside_boxes(self.rng, lo[pick], hi[pick], deadline=self.deadline)
        self.spent += time.perf_counter() - t
        return found
