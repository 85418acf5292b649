"""Branch and bound of `vnnc verify`: split trees whose every leaf a bound refutes.

A region (one input box and the conjunctions unsafe on it) holds when every leaf of a split
tree refutes every conjunction: some constraint c . y <= d of the conjunction has a lower
bound of c . y above d over the leaf. Two ways to split, both stored as the checker reads
them (docs/WITNESS.md §8):

- input splits (few inputs, ACAS Xu): a box is halved along an input chosen by the widths'
  cost to its linear bound, the halves bounded in large batches by CROWN, then
  alpha-CROWN (`vnnc.input_split`, whose docstring gives the rule);
- ReLU splits (many inputs, MNIST): an unstable neuron's phase is fixed (z <= 0 | z >= 0),
  chosen by a BaBSR-style score (the intercept of its upper relaxation times its
  multiplier) filtered by the children's actual bounds (FSB, De Palma et al. 2021); the
  split constraints enter the bound through beta multipliers (beta-CROWN, Wang et al.
  2021), optimised with alpha by projected gradient; a child recomputes only the layers
  after its new split.

Each refutation records the constraint it uses and, when the checker's own CROWN
multipliers would not suffice, the optimised multipliers (float32, the bound re-evaluated
here with exactly those). Unrefuted leaves are also searched for counterexamples (the
point where their linear bound is least), so violated regions end early. All of it is
untrusted: `vnnc.verifier.robust` checks the tree.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field

import numpy as np
from vnnc.errors import VnncError
from vnnc.falsify import confirm, constraint_rows
from vnnc.passes import bounds as bnd
from vnnc.vnnlib import Region

MARGIN = 1e-5  # a leaf counts as refuted when its bound clears d by this (relative)
EMPTY = 1e-9  # a domain counts as empty when some l exceeds u by this (relative)
# The search's domains follow the checker's rule in float64, not float32: with float32 CROWN
# passes (bounds.layer_bounds dtype, each bound lowered by 1e-5) the checker rejected
# mnist-net_256x4 prop_0_0.03 at leaf 39,694 (bound -8.4e-4): CROWN's lower slope (1 where
# u > -l) is a discontinuous choice, so domains a little looser than the checker's can change
# it, and with it the checker's own CROWN multipliers and domains. A row CROWN refutes by less
# than this (relative) carries its multipliers rather than leave them to the checker.
NULL_GAP = 1e-3


@dataclass
class Tree:
    """Split tree of one box: nodes[i] = ["x", dim, point, left, right] |
    ["relu", layer, neuron, inactive, active] | ["leaf", refutations] | None (open)."""

    nodes: list = field(default_factory=lambda: [None])
    intermediate: list = field(default_factory=list)  # [k, j, side, multipliers]: bounds over the box

    def split(self, node: int, head: list) -> tuple[int, int]:
        left, right = len(self.nodes), len(self.nodes) + 1
        self.nodes += [None, None]
        self.nodes[node] = head + [left, right]
        return left, right

    def preorder(self) -> list:
        out, stack = [], [0]
        while stack:
            node = self.nodes[stack.pop()]
            if node is None:
                raise VnncError("internal: certificate requested for an unfinished tree")
            if node[0] == "leaf":
                out.append(node)
            else:
                out.append(node[:3])
                stack += [node[4], node[3]]
        return out

    @property
    def leaves(self) -> int:
        return sum(1 for n in self.nodes if n is not None and n[0] == "leaf")


@dataclass
class Outcome:
    verdict: str  # holds | violated | unknown
    tree: Tree | None = None
    counterexample: np.ndarray | None = None
    note: str = ""


class Objective:
    """The constraints of a region as rows of the bound engine."""

    def __init__(self, net, region: Region):
        self.net = net
        self.C, self.d, self.conj, self.idx = constraint_rows(region, net.sizes[-1])
        self.n_conj = len(region.conjunctions)
        self.R = len(self.d)
        self.margin = MARGIN * (1 + np.abs(self.d))
        self.g, self.const = bnd.objective_rows(net, net.depth, self.C)

    def refuted(self, gap: np.ndarray):
        """gap (B, R): per leaf, whether every conjunction has a row with gap > 0, and the
        best row of each conjunction (B, n_conj)."""
        B = gap.shape[0]
        ok = np.ones(B, bool)
        best = np.zeros((B, self.n_conj), int)
        for r in range(self.n_conj):
            rows = np.where(self.conj == r)[0]
            j = rows[np.argmax(gap[:, rows], axis=1)]
            best[:, r] = j
            ok &= gap[np.arange(B), j] > 0
        return ok, best

    def rows(self, leaves: np.ndarray):
        """Rows (g, const, leaf index, row index) for every constraint of the given leaves."""
        leaf = np.repeat(leaves, self.R)
        row = np.tile(np.arange(self.R), len(leaves))
        return self.g[row], self.const[row], leaf, row


def nu_text(nu: dict, L: int) -> str:
    """Multipliers of z_1..z_{L-1} as the certificate stores them (base64 of float32)."""
    flat = np.concatenate([nu[k] for k in range(1, L)]).astype("<f4")
    return base64.b64encode(flat.tobytes()).decode()


def _empty(bounds: list) -> np.ndarray:
    out = np.zeros(len(bounds[1][0]) if len(bounds) > 1 else len(bounds[0][0]), bool)
    for l, u in bounds[1:]:
        out |= (l > u + EMPTY * (1 + np.abs(u))).any(axis=1)
    return out


def optimised_refutations(net, obj: Objective, bounds: list, x_lo, x_hi, leaves: np.ndarray,
                          steps: int, signs: dict | None = None, mask: np.ndarray | None = None,
                          warm: list | None = None):
    """alpha(-beta)-CROWN on the rows of the given leaves (those where mask (len(leaves), R) is
    set), from warm[position][row] = (alpha, beta) where given: (gap (len(leaves), R) as the
    checker will see it with the float32 multipliers, -inf elsewhere; {(leaf position, row):
    multipliers}; {(leaf position, row): (alpha, beta)} reached)."""
    L = net.depth
    g, const, leaf, row = obj.rows(leaves)
    pos = np.repeat(np.arange(len(leaves)), obj.R)
    if mask is not None:
        keep = mask.reshape(-1)
        g, const, leaf, row, pos = g[keep], const[keep], leaf[keep], row[keep], pos[keep]
    gap = np.full((len(leaves), obj.R), -np.inf)
    if not len(row):
        return gap, {}, {}
    relax = bnd.Relax.of(bounds, L)
    target = obj.d[row] + obj.margin[row]
    alpha = beta = None
    if warm is not None:
        alpha = {k: bnd._gather(relax.lo[k], leaf).astype(np.float32) for k in range(1, L)}
        beta = {k: np.zeros((len(row), net.sizes[k]), np.float32) for k in range(1, L)}
        for i, (p, r) in enumerate(zip(pos, row)):
            if r in warm[p]:
                a, b = warm[p][r]
                for k in range(1, L):
                    alpha[k][i], beta[k][i] = a[k], b[k]
    _, nus, alpha, beta = bnd.optimize(net, L, g, const, relax, leaf, x_lo, x_hi, steps=steps, signs=signs,
                                       target=target, alpha=alpha, beta=beta)
    value = bnd.dual_value(net, L, nus, obj.C[row], bounds, leaf, x_lo, x_hi)
    gap[pos, row] = value - target
    keys = [(int(p), int(r)) for p, r in zip(pos, row)]
    zero = {k: np.zeros(net.sizes[k], np.float32) for k in range(1, L)}
    reached = {key: ({k: alpha[k][i] for k in alpha},
                     {k: beta[k][i] if beta and k in beta else zero[k] for k in range(1, L)})
               for i, key in enumerate(keys)}
    return gap, {key: {k: v[i] for k, v in nus.items()} for i, key in enumerate(keys)}, reached


def _violations(net, obj: Objective, region: Region, xs: np.ndarray):
    """Confirmed counterexamples among the points xs (float64 check first)."""
    y = net.forward(xs)
    v = y @ obj.C.T - obj.d  # (N, R) <= 0: the constraint holds
    met = np.zeros(len(xs), bool)
    for r in range(obj.n_conj):
        met |= (v[:, obj.conj == r] <= 1e-9).all(axis=1)
    for i in np.where(met)[0][:8]:
        x = confirm(net, region, xs[i])
        if x is not None:
            yield x


# ---------------------------------------------------------------- ReLU splits


@dataclass
class Domain:
    """A leaf of the ReLU split tree: its node, split signs {k: (n_k,)}, the domains of its
    layers (valid below `start`, recomputed from there on)."""

    node: int
    signs: dict
    bounds: list
    start: int
    warm: dict = field(default_factory=dict)  # row -> (alpha, beta) {k: (n_k,)} of the parent
    refs: dict = field(default_factory=dict)  # row -> float32 multipliers {k: (n_k,)} that refuted it in the parent


@dataclass
class Batch:
    """What bounding one batch of leaves found (`relu_split`'s `bound_batch`): the refuted
    leaves with their refutations, a counterexample or a reason to stop, and the splits of
    the others, each with its two children (active first) whose nodes the tree assigns."""

    refuted: list  # [(node, refutations)]
    counterexample: np.ndarray | None = None
    stop: str = ""  # why the search cannot go on ("": it can)
    splits: list = field(default_factory=list)  # [(node, layer, neuron, [(sign, Domain), (sign, Domain)])]


def relu_split(net, region: Region, deadline: float, log, batch: int = 32, steps: int = 20,
               candidates: int = 6, attack=None) -> Outcome:
    """Branch and bound over the phases of unstable ReLUs, the box kept whole (beta-CROWN).
    With a second core, two batches of leaves are bounded at a time, one in a helper process
    (vnnc.parallel)."""
    L = net.depth
    obj = Objective(net, region)
    tree = Tree()
    if obj.n_conj == 0:
        tree.nodes[0] = ["leaf", []]
        return Outcome("holds", tree)
    if any(len(c) == 0 for c in region.conjunctions):
        return Outcome("unknown", note="a conjunction without output constraints: the box is unsafe")
    lo0, hi0 = region.box
    x_lo, x_hi = lo0[None], hi0[None]
    sizes = net.sizes
    root = None
    if steps:  # alpha-CROWN on the box's unstable neurons, kept for every leaf (a split only clamps)
        root, entries = bnd.root_bounds(net, lo0, hi0, steps, deadline)
        tree.intermediate = [[k, j, side, nu_text(nus, k)] for k, j, side, nus in entries]
        log(f"  box: {len(entries)} intermediate bounds tightened by alpha-CROWN")

    def bound_batch(take: list) -> Batch:
        # a child shares its parent's layers below its start: only the layers from there are recomputed
        start = np.array([d.start for d in take])
        signs = {k: np.array([d.signs[k] for d in take]) for k in range(1, L)}
        prev = None if (start == 1).all() else [None] + [
            (np.array([d.bounds[k][0] for d in take]), np.array([d.bounds[k][1] for d in take]))
            for k in range(1, L)]
        bounds = bnd.layer_bounds(net, x_lo, x_hi, signs, prev=prev, start=start, leaves=len(take), root=root)
        B = len(take)
        empty = _empty(bounds)
        g, const, leaf, _ = obj.rows(np.arange(B))
        relax = bnd.Relax.of(bounds, L)
        lower, crown_nus, tape = bnd.backward(net, L, g, const, relax, leaf, x_lo, x_hi, keep=True)
        gap = lower.reshape(B, obj.R) - obj.d - obj.margin
        given = _inherited(net, obj, take, bounds, x_lo, x_hi, gap)  # (b, row) -> multipliers behind gap
        _narrow_crown(net, obj, crown_nus, bounds, x_lo, x_hi, gap, given)
        ok, best = obj.refuted(gap)
        ok |= empty
        reached = {}
        todo = np.where(~ok)[0]
        g0 = tape[1].reshape(B, obj.R, -1)
        if len(todo) and steps:
            per = np.stack([gap[todo][:, obj.conj == c].max(axis=1) for c in range(obj.n_conj)], axis=1)
            mask = (per <= 0)[:, obj.conj]  # every row of a conjunction not yet refuted
            gap2, nus, reached = optimised_refutations(net, obj, bounds, x_lo, x_hi, todo, steps, signs, mask,
                                                       [take[b].warm for b in todo])
            for (t, j), nu in nus.items():
                g0[todo[t], j] = nu[1] @ net.weights[0]
                if gap2[t, j] > gap[todo[t], j]:
                    gap[todo[t], j] = gap2[t, j]
                    given[todo[t], j] = nu
            ok2, best2 = obj.refuted(gap[todo])
            ok[todo], best[todo] = ok2, best2
        out = Batch([])
        for b in np.where(ok)[0]:  # multipliers where given, else the checker's own CROWN ones (null)
            refs = [[int(obj.idx[j]), nu_text(given[b, j], L) if (b, j) in given else None] for j in best[b]]
            out.refuted.append((take[b].node, refs))
        todo = np.where(~ok)[0]
        if not len(todo):
            return out
        worst = best[todo, np.argmin(gap[todo][np.arange(len(todo))[:, None], best[todo]], axis=1)]
        gw = g0[todo, worst]
        cand = np.where(gw > 0, lo0, hi0)
        for x in _violations(net, obj, region, cand):
            out.counterexample = x
            return out
        if attack is not None:
            out.counterexample = attack(cand)
            if out.counterexample is not None:
                return out
        picks = _pick_neurons(net, obj, bounds, signs, todo, gap, x_lo, x_hi, candidates)
        for t, b in enumerate(todo):
            if picks[t] is None:
                out.stop = "a leaf with every neuron stable is not refuted"
                return out
            k, j = picks[t]
            children = []
            for sign in (1.0, -1.0):
                cs = {kk: signs[kk][b].copy() for kk in signs}
                cs[k][j] = sign
                cb = [bounds[0]] + [(l[b].copy(), u[b].copy()) for l, u in bounds[1:]]
                warm = {j2: ab for (tt, j2), ab in reached.items() if tt == t}
                inherit = {j2: {kk: v.astype(np.float32) for kk, v in nu.items()}
                           for (bb, j2), nu in given.items() if bb == b and gap[b, j2] > 0}
                if sign > 0:
                    cb[k][0][j] = max(cb[k][0][j], 0.0)
                else:
                    cb[k][1][j] = min(cb[k][1][j], 0.0)
                children.append((sign, Domain(-1, cs, cb, k + 1, warm, inherit)))
            out.splits.append((take[b].node, int(k), int(j), children))
        return out

    queue = [Domain(0, {k: np.zeros(sizes[k]) for k in range(1, L)}, None, 1)]
    done, last = 0, time.perf_counter()
    from vnnc.parallel import Helper, Lazy

    with Lazy(lambda: Helper.start(bound_batch, getattr(attack, "reseed", None))) as lazy:
        while queue:
            if time.perf_counter() > deadline:
                return Outcome("unknown", note=f"time limit reached ({done} leaves refuted, {len(queue)} open)")
            take = queue[-batch:]
            del queue[-batch:]
            other, helper = None, lazy.get() if queue else None  # a second batch to bound: the helper's
            if helper is not None:
                other = queue[-batch:]
                del queue[-batch:]
                helper.submit(other)
            results = [bound_batch(take)] + ([helper.result()] if other is not None else [])
            for r in results:
                for node, refs in r.refuted:
                    tree.nodes[node] = ["leaf", refs]
                done += len(r.refuted)
            for r in results:
                if r.counterexample is not None:
                    return Outcome("violated", counterexample=r.counterexample)
            for r in results:
                if r.stop:
                    return Outcome("unknown", note=r.stop)
            for r in results:
                for node, k, j, children in r.splits:
                    left, right = tree.split(node, ["relu", k, j])
                    for child, (_, domain) in zip((right, left), children):
                        domain.node = child
                        queue.append(domain)
            if time.perf_counter() - last > 2:
                last = time.perf_counter()
                log(f"  {done} leaves refuted, {len(queue)} open")
    return Outcome("holds", tree)


def _narrow_crown(net, obj: Objective, nus: dict, bounds: list, x_lo, x_hi, gap: np.ndarray, given: dict) -> None:
    """Rows that CROWN refutes by less than NULL_GAP (and nothing better does): their CROWN
    multipliers as float32, gap set to the bound those give (`dual_value`), kept in given."""
    near = (gap > 0) & (gap <= NULL_GAP * (1 + np.abs(obj.d)))
    for b, j in list(given):
        near[b, j] = False
    b, j = np.nonzero(near)
    if not len(b):
        return
    L = net.depth
    rows = b * obj.R + j
    pick = {k: nus[k][rows].astype(np.float32).astype(np.float64) for k in range(1, L)}
    value = bnd.dual_value(net, L, pick, obj.C[j], bounds, b, x_lo, x_hi) - obj.d[j] - obj.margin[j]
    for i, (bb, jj) in enumerate(zip(b, j)):
        gap[bb, jj] = value[i]
        given[bb, jj] = {k: pick[k][i] for k in range(1, L)}


def _inherited(net, obj: Objective, take: list, bounds: list, x_lo, x_hi, gap: np.ndarray) -> dict:
    """The parents' refuting multipliers re-evaluated on their children's domains (any
    multipliers bound every domain; a child's are mostly tighter, so they mostly still
    refute): gap raised where they do better and CROWN's own (null in the certificate, so
    smaller) do not refute, and {(leaf, row): multipliers} of those rows."""
    items = [(b, j, nu) for b, d in enumerate(take) for j, nu in d.refs.items()]
    if not items:
        return {}
    L = net.depth
    leaf, row = np.array([b for b, _, _ in items]), np.array([j for _, j, _ in items])
    nus = {k: np.array([nu[k] for _, _, nu in items], np.float64) for k in range(1, L)}
    value = bnd.dual_value(net, L, nus, obj.C[row], bounds, leaf, x_lo, x_hi) - obj.d[row] - obj.margin[row]
    out = {}
    for (b, j, nu), v in zip(items, value):
        if v > gap[b, j] and gap[b, j] <= 0:
            gap[b, j] = v
            out[b, j] = nu
    return out


def _pick_neurons(net, obj: Objective, bounds, signs, todo, gap, x_lo, x_hi, candidates: int) -> list:
    """Per unrefuted leaf, the unstable neuron to split: the `candidates` best by a BaBSR-style
    score (on the leaf's least refuted conjunction: max(-g, 0) times the upper relaxation's
    intercept plus max(g, 0) min(u, -l), g the multiplier reaching the neuron), then the one
    whose worse child has the best CROWN bound, the other domains kept (FSB)."""
    L = net.depth
    T = len(todo)
    per = np.stack([gap[todo][:, obj.conj == c].max(axis=1) for c in range(obj.n_conj)], axis=1)
    # rows of each leaf's unrefuted conjunctions, best row each
    rows = []
    for t in range(T):
        open_c = np.where(per[t] <= 0)[0]
        rows.append([np.where(obj.conj == c)[0][np.argmax(gap[todo[t], obj.conj == c])] for c in open_c])
    worst_row = np.array([r[int(np.argmin(gap[todo[t], r]))] for t, r in enumerate(rows)])
    relax = bnd.Relax.of(bounds, L)
    _, _, tape = bnd.backward32(net, L, obj.g[worst_row], obj.const[worst_row], relax, todo, x_lo, x_hi)
    scores = []
    for k, g, gp, lo, up, icpt, s in tape[0]:
        l, u = bounds[k][0][todo], bounds[k][1][todo]
        free = relax.unstable[k][todo] & (signs[k][todo] == 0)
        sc = np.maximum(-g, 0.0) * icpt + gp * np.minimum(u, -l)
        scores.append((k, np.where(free, sc, -1.0)))
    flat = np.concatenate([sc for _, sc in scores], axis=1)
    layer_of = np.concatenate([np.full(sc.shape[1], k) for k, sc in scores])
    index_of = np.concatenate([np.arange(sc.shape[1]) for _, sc in scores])
    top = np.argsort(-flat, axis=1)[:, :candidates]
    picks: list = [None] * T
    # FSB: both children of each candidate, bounds of the other layers kept
    meta = []
    for t in range(T):
        for c in top[t]:
            if flat[t, c] < 0:
                continue
            for sign in (1.0, -1.0):
                meta.append((t, c, sign))
    if not meta:
        return picks
    M = len(meta)
    R_t = [len(r) for r in rows]
    leaf_rows = np.concatenate([np.full(R_t[t], i) for i, (t, _, _) in enumerate(meta)])
    obj_rows = np.concatenate([rows[t] for t, _, _ in meta])
    which = todo[[m[0] for m in meta]]
    cl = [bounds[0]] + [(bounds[k][0][which], bounds[k][1][which]) for k in range(1, L)]
    for i, (t, c, sign) in enumerate(meta):
        k, j = layer_of[c], index_of[c]
        if sign > 0:
            cl[k][0][i, j] = max(cl[k][0][i, j], 0.0)
        else:
            cl[k][1][i, j] = min(cl[k][1][i, j], 0.0)
    low = bnd.backward32(net, L, obj.g[obj_rows], obj.const[obj_rows], bnd.Relax.of(cl, L), leaf_rows,
                         x_lo, x_hi)[0] - obj.d[obj_rows] - obj.margin[obj_rows]
    child = np.full(M, np.inf)
    np.minimum.at(child, leaf_rows, low)
    best_val = {}
    for i in range(0, M, 2):
        t, c, _ = meta[i]
        v = min(child[i], child[i + 1])
        if t not in best_val or v > best_val[t]:
            best_val[t] = v
            picks[t] = (int(layer_of[c]), int(index_of[c]))
    return picks
