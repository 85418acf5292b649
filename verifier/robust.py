"""Robustness certificates of `vnnc verify`: `check(spec, params, property, certificate)`.

The spec stage is read as z_{k+1} = A_k(a_k), a_k = relu(z_k), a_0 = x, each A_k a chain of
affine ops (lin: y = x M^T; add: y = x + c; mul: y = x * c; and, in roundoff.py's chain of an
fp program, pm: y = x + d for an unknown |d| <= c, which enters the bound as -|nu| c).
For ANY multipliers nu_k, c . z_L = sum_k sum_j (g_kj a_kj - nu_kj z_kj) + g_0 . x + const
with g_k = A_k^T nu_{k+1}, so its minimum over a leaf is at least the sum of each neuron's
minimum over the hull of its ReLU graph on [l, u] (vertices l, clip(0, l, u), u) plus the
minimum of g_0 . x over the box (weak duality: Wong and Kolter 2018). Multipliers are never
trusted: the checker derives them by its own CROWN back-substitution (Zhang et al. 2018) or
reads them from the leaf, then evaluates the bound with outward rounding. Domains [l, u]:
IBP, intersected with this bound where IBP leaves z_kj unstable; a ReLU split clamps l >= 0
or u <= 0; l > u: empty leaf.
Leaves are derived from the split tree, so they cover each box of the property exactly.
"""

from __future__ import annotations

import base64
import time
from fractions import Fraction

import numpy as np
from vnnc.verifier import vnnlib
from vnnc.verifier.check import Accepted, Reject, Rejected, guarded, sha256
from vnnc.verifier.interval import ETA, affine_interval, down, matmul_enclose, up
from vnnc.verifier.mlir import parse
from vnnc.verifier.params import read
from vnnc.verifier.semantics import evaluate, main_function

MAX_NODES = 4_000_000
MAX_SECONDS = 1800.0
BATCH = 256


def network(spec: str, params: dict) -> tuple[list[list], list[int]]:
    """The blocks [[(kind, constant)...]...] between ReLUs and the sizes of x, z_1, .., z_L."""
    block = main_function(parse(spec)).regions[0][0]
    if len(block.args) != 1 or len(block.ops[-1].operands) != 1:
        raise Reject("robustness: the model must have one input and one output")
    cur, blocks, consts = block.args[0][0], [[]], {}
    sizes = [int(np.prod(block.args[0][1].shape))]
    for op in block.ops[:-1]:
        name, t = op.name.removeprefix("spec."), op.result_types[0]
        if name in ("param", "constant"):
            value = params[op.props["name"]] if name == "param" else op.props["value"].values
            consts[op.results[0]] = np.asarray(value, np.float64).reshape(t.shape)
            continue
        c = [consts[v] for v in op.operands if v != cur]
        first, size = op.operands[0] == cur, int(np.prod(t.shape))
        n = int(np.prod(op.operand_types[op.operands.index(cur)].shape)) if cur in op.operands else 0
        if [v for v in op.operands if v not in consts] != [cur] or name not in (
                "matmul", "linear", "add", "sub", "mul", "neg", "relu", "flatten", "reshape") or (
                name in ("add", "sub", "mul") and size != n):  # no broadcast of the variable
            raise Reject(f"robustness: {op.name} is not a step of a chain of affine maps and ReLUs")
        if name in ("add", "sub", "mul"):  # the constant as broadcast to the result, flat
            c = np.broadcast_to(c[0], t.shape).reshape(-1)
        if name == "relu":
            blocks.append([])
            sizes.append(size)
        elif name == "neg" or name == "sub" and not first:
            blocks[-1].append(("mul", -np.ones(size)))
        if name in ("add", "sub"):
            blocks[-1].append(("add", c if name == "add" else -c if first else c))
        elif name == "mul":
            blocks[-1].append(("mul", c))
        elif name in ("matmul", "linear"):  # y = x A^T on the flat vector
            a = c[0].T if name == "matmul" and first else c[0]
            if a.ndim != 2 or a.shape != (size, n):
                raise Reject(f"robustness: {op.name} is not one vector times a matrix")
            blocks[-1].append(("lin", a))
            if name == "linear" and len(c) == 2:
                blocks[-1].append(("add", c[1]))
        cur = op.results[0]
    if block.ops[-1].operands != [cur]:
        raise Reject("robustness: the output is not the end of the chain")
    return blocks, sizes + [int(np.prod(block.ops[-1].operand_types[0].shape))]




def _mul(lo, hi, c):
    p, q = lo * c, hi * c  # each product correctly rounded: one ulp outward encloses it
    return down(np.minimum(p, q)), up(np.maximum(p, q))


def forward(block: list, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An enclosure of A(x) for x in [lo, hi] (rows)."""
    for kind, c in block:
        if kind == "lin":
            lo, hi = affine_interval(lo, hi, c)
        elif kind in ("add", "pm"):  # pm: plus an unknown d, |d| <= c
            lo, hi = down(lo + (c if kind == "add" else -c)), up(hi + c)
        else:
            lo, hi = _mul(lo, hi, c)
    return lo, hi


def backward(block: list, nu: np.ndarray):
    """For the multipliers nu (rows over A's outputs): an enclosure [glo, ghi] of A^T nu and
    a lower bound of nu . A(0), so that nu . A(a) >= min over g of g . a + that bound."""
    const, lo, hi = np.zeros(nu.shape[:-1]), nu, nu
    for kind, c in reversed(block):
        if kind == "lin" and lo is hi:  # exact multipliers: one enclosed product
            g, e = matmul_enclose(lo, c)
            lo, hi = down(g - e), up(g + e)
        elif kind == "lin":
            lo, hi = affine_interval(lo, hi, c.T)
        elif kind == "add":
            s, e = matmul_enclose(lo, c) if lo is hi else (None, None)
            low = down(s - e) if lo is hi else affine_interval(lo, hi, c[None, :])[0][..., 0]
            const = down(const + low)
        elif kind == "pm":  # nu . d >= -|nu| c
            s, e = matmul_enclose(np.maximum(np.abs(lo), np.abs(hi)), c)
            const = down(const - up(s + e))
        else:
            lo, hi = _mul(lo, hi, c)
    return lo, hi, const


def _sumdown(v: np.ndarray) -> np.ndarray:
    s, e = matmul_enclose(v, np.ones(v.shape[-1]))
    return down(s - e)


def dual_bound(blocks, K, bounds, x_lo, x_hi, nus) -> np.ndarray:
    """A lower bound of nus[K] . z_K over each row's leaf (rows: one objective each): nus[k]
    (P, n_k) are any multipliers, bounds[k] = (l, u) the row's domains of z_k, k = 1..K-1."""
    total = np.zeros(len(nus[K]))
    for k in range(K - 1, 0, -1):
        glo, ghi, const = backward(blocks[k], nus[k + 1])
        l, u = bounds[k]
        terms = [glo * np.maximum(z, 0.0) - nus[k] * z for z in (l, np.clip(0.0, l, u), u)]  # g a >= glo a
        # fl(fl(p) - fl(q)) is within 2^-51 (|p| + |q|) + 3 ETA of p - q; |p|, |q| at most these:
        slack = (np.abs(glo) * np.maximum(u, 0.0) + np.abs(nus[k]) * np.maximum(-l, u)) * 2.0**-50 + 4 * ETA
        total = down(down(total + const) + _sumdown(down(np.minimum.reduce(terms) - slack)))
    glo, ghi, const = backward(blocks[0], nus[1])  # min of g x over the box and g in [glo, ghi]: a corner
    corners = [g * x for g in (glo, ghi) for x in (x_lo, x_hi)]
    total = down(down(total + const) + _sumdown(down(np.minimum.reduce(corners))))
    return np.where(np.isfinite(total), total, -np.inf)


def crown(blocks, K, bounds, objective: np.ndarray) -> dict:
    """CROWN's multipliers (float64, unchecked: any are sound) for the rows of objective (P, n_K)."""
    nus, lam = {K: objective}, objective
    for k in range(K - 1, 0, -1):
        for kind, c in reversed(blocks[k]):
            lam = lam @ c if kind == "lin" else lam * c if kind == "mul" else lam
        l, u = bounds[k]
        unstable = (l < 0) & (u > 0)
        upper = np.where(unstable, u / np.where(unstable, u - l, 1.0), (l >= 0) * 1.0)
        lower = np.where(unstable, (u > -l) * 1.0, (l >= 0) * 1.0)
        nus[k] = lam = lam * np.where(lam >= 0, lower, upper)
    return nus


def rows(bounds: dict, b: np.ndarray) -> dict:  # the domains of leaves b, one row each
    return {k: (l[b], u[b]) for k, (l, u) in bounds.items()}


def layer_bounds(blocks, x_lo, x_hi, splits: dict, root: dict | None = None, carried: list = (), first: int = 1) -> dict:
    """Domains (l, u) of every z_k (k >= first) over each leaf: IBP (intersected with root[k], the domains
    over the whole box), intersected with the dual bound (CROWN's multipliers) where IBP leaves
    z_kj unstable, then, over the box itself (one row), with the dual bound of each carried
    (k, j, side, multipliers) for side * z_kj; a split clamps it (splits[k]: +1, -1 or 0)."""
    bounds, lo, hi = {k: root[k] for k in range(1, first)}, x_lo, x_hi  # from z_first on: root's below it
    if first > 1:
        lo, hi = np.maximum(root[first - 1][0], 0.0), np.maximum(root[first - 1][1], 0.0)
    for k in range(first, len(blocks)):
        l, u = forward(blocks[k - 1], lo, hi)
        if root is not None:  # a leaf lies in the box: the box's domains hold over it
            l, u = np.maximum(l, root[k][0]), np.minimum(u, root[k][1])
        # leaves with the same box and the same domains below z_k have the same domain of z_k:
        # computed for the first of them (same[b]), then copied
        same = np.arange(len(l))
        if k > 1 and len(l) > 1:
            keys = np.hstack([x_lo, x_hi] + [np.hstack(bounds[i]) for i in range(1, k)])
            _, first, group = np.unique(keys, axis=0, return_index=True, return_inverse=True)
            same = first[group.reshape(-1)]
        pairs = np.argwhere((l < 0) & (u > 0) & (same == np.arange(len(l)))[:, None]) if k > 1 else []
        for c in range(0, len(pairs), 4 * BATCH):  # rows z_kj, then -z_kj, per unstable (leaf b, neuron j)
            b, j = pairs[c:c + 4 * BATCH].T
            b2, e, sub = np.tile(b, 2), np.eye(l.shape[1])[j], rows(bounds, np.tile(b, 2))
            lower = dual_bound(blocks, k, sub, x_lo[b2], x_hi[b2], crown(blocks, k, sub, np.vstack([e, -e])))
            l[b, j], u[b, j] = np.maximum(l[b, j], lower[:len(b)]), np.minimum(u[b, j], -lower[len(b):])
        l, u = l[same], u[same]
        mine = [c for c in carried if c[0] == k]
        if mine:
            nus = {i: np.array([c[3][i] for c in mine]) for i in range(1, k)}
            nus[k] = np.array([c[2] * np.eye(l.shape[1])[c[1]] for c in mine])
            lower = dual_bound(blocks, k, rows(bounds, np.zeros(len(mine), int)), x_lo, x_hi, nus)
            for (_, j, side, _), v in zip(mine, lower):
                l[0, j], u[0, j] = (max(l[0, j], v), u[0, j]) if side > 0 else (l[0, j], min(u[0, j], -v))
        l = np.where(splits[k] > 0, np.maximum(l, 0.0), l)
        u = np.where(splits[k] < 0, np.minimum(u, 0.0), u)
        bounds[k] = (l, u)
        lo, hi = np.maximum(l, 0.0), np.maximum(u, 0.0)
    return bounds


def _leaves(nodes: list, x_lo: np.ndarray, x_hi: np.ndarray, sizes: list) -> list[tuple]:
    """(box lo, box hi, {layer: signs}, refutations) of every leaf of a preorder split tree:
    ["x", i, t] splits X_i at lo < t < hi into [lo, t] then [t, hi]; ["relu", k, j] splits
    neuron j of layer k into z <= 0 then z >= 0; ["leaf", refutations] ends a branch."""
    out, stack, i = [], [(x_lo, x_hi, {k: np.zeros(n) for k, n in enumerate(sizes[:-1]) if k})], 0
    while stack:
        lo, hi, signs = stack.pop()
        node, i = nodes[i] if i < len(nodes) and isinstance(nodes[i], list) and nodes[i] else [None], i + 1
        if node[0] == "leaf" and len(node) == 2 and isinstance(node[1], list):
            out.append((lo, hi, signs, node[1]))
        elif node[0] == "x" and len(node) == 3 and type(node[1]) is int and 0 <= node[1] < len(lo) \
                and isinstance(node[2], float) and lo[node[1]] < node[2] < hi[node[1]]:
            left_hi, right_lo = hi.copy(), lo.copy()
            left_hi[node[1]] = right_lo[node[1]] = node[2]
            stack += [(right_lo, hi, signs), (lo, left_hi, signs)]
        elif node[0] == "relu" and len(node) == 3 and type(node[1]) is int and node[1] in signs \
                and type(node[2]) is int and 0 <= node[2] < sizes[node[1]] and signs[node[1]][node[2]] == 0:
            twins = [{k: v.copy() for k, v in signs.items()} for _ in range(2)]
            twins[0][node[1]][node[2]], twins[1][node[1]][node[2]] = 1, -1
            stack += [(lo, hi, twins[0]), (lo, hi, twins[1])]
        else:
            raise Reject(f"robustness: node {i - 1} {str(node)[:80]} is not a leaf or a split inside "
                         "its domain (a split point strictly inside the box, a neuron not yet split)")
    if i != len(nodes):  # nodes left over
        raise Reject(f"robustness: {len(nodes) - i} nodes after the tree's last leaf")
    return out


def _multipliers(text, sizes: list) -> dict:
    flat = np.frombuffer(base64.b64decode(text, validate=True), "<f4").astype(np.float64)
    if flat.size != sum(sizes[1:-1]) or not np.isfinite(flat).all():
        raise Reject("robustness: a leaf's multipliers have the wrong size or are not finite")
    return dict(enumerate(np.split(flat, np.cumsum(sizes[1:-2])), 1))  # {k: nu_k}, k = 1..L-1


def _carried(entries, sizes: list) -> list:
    """The certificate's [k, j, side, multipliers of z_1..z_{k-1}] for a bound of side * z_kj."""
    if not isinstance(entries, list) or len(entries) > 2 * sum(sizes[1:-1]):
        raise Reject("robustness: intermediate bounds must be a list, at most two per neuron")
    for e in entries:
        if not (isinstance(e, list) and len(e) == 4 and all(type(v) is int for v in e[:3])
                and 2 <= e[0] < len(sizes) - 1 and 0 <= e[1] < sizes[e[0]] and e[2] in (1, -1)):
            raise Reject("robustness: an intermediate bound is [layer >= 2, neuron, 1 or -1, multipliers]")
    return [(k, j, side, _multipliers(text, sizes[:k + 1])) for k, j, side, text in entries]


def _refute(blocks, sizes, leaves, conjs, t0, root=None) -> None:
    """Every leaf refutes every conjunction: a lower bound of c . y above rhs for one of its
    constraints c . y <= rhs (chosen by the leaf)."""
    L, n_out = len(blocks), sizes[-1]
    for s in range(0, len(leaves), BATCH):
        if time.perf_counter() - t0 > MAX_SECONDS:
            raise Reject(f"robustness: the check took longer than {MAX_SECONDS:.0f} s")
        batch = leaves[s:s + BATCH]
        x_lo, x_hi = np.array([b[0] for b in batch]), np.array([b[1] for b in batch])
        bounds = layer_bounds(blocks, x_lo, x_hi, {k: np.array([b[2][k] for b in batch]) for k in range(1, L)}, root)
        empty = np.any([(bounds[k][0] > bounds[k][1]).any(axis=1) for k in range(1, L)], axis=0)
        objective, rhs, given = np.zeros((len(batch), len(conjs), n_out)), [], {}
        for b, (_, _, _, refutations) in enumerate(batch):
            if not isinstance(refutations, list) or len(refutations) != len(conjs):
                raise Reject("robustness: a leaf must refute each conjunction of its region once")
            for r, ref in enumerate(refutations):
                if not (isinstance(ref, list) and len(ref) == 2 and type(ref[0]) is int
                        and 0 <= ref[0] < len(conjs[r])):
                    raise Reject("robustness: a refutation is [constraint index, multipliers or null]")
                coef, d = conjs[r][ref[0]]
                for j, v in coef.items():  # the parser made j an output index
                    if Fraction(float(v)) != v:
                        raise Reject(f"robustness: coefficient {v} of Y_{j} is not a float64")
                    objective[b, r, j] = float(v)
                rhs.append(d)
                if ref[1] is not None:
                    given[b, r] = _multipliers(ref[1], sizes)
        b = np.repeat(np.arange(len(batch)), len(conjs))  # a row per (leaf, conjunction)
        nus = crown(blocks, L, sub := rows(bounds, b), objective.reshape(len(b), n_out))
        for (i, r), nu in given.items():
            for k in range(1, L):
                nus[k][i * len(conjs) + r] = nu[k]
        lower = dual_bound(blocks, L, sub, x_lo[b], x_hi[b], nus).reshape(len(batch), len(conjs))
        for b in range(len(batch)):
            for r in range(len(conjs)):
                if not empty[b] and not Fraction(float(lower[b, r])) > (d := rhs[b * len(conjs) + r]):
                    raise Reject(f"robustness: leaf {s + b}, conjunction {r}: bound {lower[b, r]:.6g} <= {float(d):.6g}")


def _counterexample(blocks, spec, params, regions, x) -> None:
    """x lies in a box and its output meets a conjunction, both in exact rationals."""
    if not (isinstance(x, list) and all(isinstance(v, float) for v in x)):
        raise Reject("robustness: the counterexample must be a list of numbers")
    _point(blocks, spec, params, np.array(x, np.float64))  # also rejects a wrong length
    y = _exact(blocks, x)
    for lo, hi, conjs in regions:
        if all(a <= Fraction(v) <= b for a, v, b in zip(lo, x, hi)) and any(
                all(sum(c * y[j] for j, c in coef.items()) <= rhs for coef, rhs in conj) for conj in conjs):
            return
    raise Reject("robustness: the counterexample lies in no box, or meets no conjunction there")


def _point(blocks, spec, params, x) -> None:
    """The chain at x must agree with the spec evaluator: a guard on `network`."""
    y = x[None]
    for k, block in enumerate(blocks):
        y = forward(block, y, y)[0]
        y = np.maximum(y, 0.0) if k < len(blocks) - 1 else y
    ref = evaluate(parse(spec), params, [x.reshape(main_function(parse(spec)).regions[0][0].args[0][1].shape)])
    if not (np.abs(ref[0].reshape(-1) - y[0]) <= 1e-6 * (1 + np.abs(y[0]))).all():
        raise Reject("robustness: the chain of affine maps disagrees with the spec evaluator")


def _exact(blocks, x) -> list[Fraction]:
    v = [Fraction(t) for t in x]
    for k, block in enumerate(blocks):
        for kind, c in block:
            if kind == "lin":
                v = [sum((Fraction(float(w)) * t for w, t in zip(row, v)), Fraction(0)) for row in c]
            else:
                v = [t + Fraction(float(w)) if kind == "add" else t * Fraction(float(w)) for t, w in zip(v, c)]
        if k < len(blocks) - 1:
            v = [max(t, Fraction(0)) for t in v]
    return v


def check(spec: str, params_data: bytes, prop: bytes, cert: dict) -> Accepted | Rejected:
    """The certificate for the spec stage (its import witness checked), parameters and property."""
    return guarded(_check, spec, params_data, prop, cert, time.perf_counter(), prefix="robustness: ")


def _check(spec: str, params_data: bytes, prop: bytes, cert: dict, t0: float) -> None:
    if not isinstance(cert, dict) or cert.get("version") != 1 or cert.get("kind") != "robustness":
        raise Reject("robustness: not a version 1 robustness certificate")
    for key, data in (("spec", spec), ("params", params_data), ("property", prop)):
        if cert.get(f"{key}_sha256") != sha256(data):
            raise Reject(f"robustness: {key}_sha256 does not match the {key}")
    blocks, sizes = network(spec, params := read(params_data))
    regions = vnnlib.regions(prop.decode(), sizes[0], sizes[-1])
    if cert.get("verdict") == "violated":
        return _counterexample(blocks, spec, params, regions, cert.get("counterexample"))
    trees = cert.get("trees")
    if cert.get("verdict") != "holds" or not isinstance(trees, list) or len(trees) != len(regions):
        raise Reject("robustness: verdict must be holds (one split tree per box) or violated")
    if not all(isinstance(t, list) for t in trees) or sum(map(len, trees)) > MAX_NODES:
        raise Reject(f"robustness: a tree is not a list, or more than {MAX_NODES} nodes")
    inter = cert.get("intermediate", [[] for _ in trees])  # per box: bounds the leaves start from
    if not isinstance(inter, list) or len(inter) != len(trees):
        raise Reject("robustness: intermediate must hold one list per box")
    for (lo, hi, conjs), nodes, entries in zip(regions, trees, inter):
        x_lo, x_hi = down(np.array([float(v) for v in lo])), up(np.array([float(v) for v in hi]))  # outward
        _point(blocks, spec, params, (x_lo + x_hi) / 2)
        root = layer_bounds(blocks, x_lo[None], x_hi[None], {k: np.zeros((1, n)) for k, n in
                            enumerate(sizes[:-1]) if k}, carried=_carried(entries, sizes)) if entries else None
        _refute(blocks, sizes, _leaves(nodes, x_lo, x_hi, sizes), conjs, t0, root)
