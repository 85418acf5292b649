"""Contractions: linear, matmul (and, below, convolution).

Each output element is summed from 0 in the kernel's summation order, then the bias is
added and the result stored once. Orders (`KernelSpec.order`, recorded in the witness):

  sequential  one accumulator, k = 0, 1, ..., n-1
  lanes16     16 accumulators, lane t summing k = t, t+16, ... over the n // 16 full
              blocks; the lanes combined as a balanced tree ((s0+s1)+(s2+s3))+...; then
              the n % 16 remaining terms added in increasing k. Independent lanes let
              the C compiler keep them in vector registers without reassociating any
              sum it was given (no fast-math).

A lanes16 linear computes a block of ri rows times rj columns of its output per loop
iteration (`KernelSpec.block`, recorded in the witness): the 16 lanes of each output are
one vector<16xf32>, so each x row's and each W row's 16 elements are loaded once per block
and used rj and ri times. Every output keeps its own order, so its value is the same, bit
for bit, as unblocked. The lanes' trees of two outputs are summed together, pairs of lanes
side by side in one vector addition per level (`lane_sums`). The factors divide the output's
extents (rows 8, 4, 2 or 1; columns 2 or 1), so no remainder nest is needed.
"""

from __future__ import annotations

from vnnc.passes.kernels import KernelSpec
from vnnc.passes.kernels.builder import KernelBuilder
from vnnc.passes.kernels.elementwise import broadcast_index

LANES = 16


def tree_sum(kb: KernelBuilder, values: list):
    """((v0 + v1) + (v2 + v3)) + ...: a balanced tree, left half first."""
    if len(values) == 1:
        return values[0]
    half = len(values) // 2
    return kb.add(tree_sum(kb, values[:half]), tree_sum(kb, values[half:]))


def dot(kb: KernelBuilder, order: str, n: int, x, w):
    """sum_k x(k) w(k) over k < n in `order`; x(k), w(k) load one term's factors."""
    def add_term(acc, kk):
        return kb.add(acc, kb.mul(x(kk), w(kk)))

    if order == "sequential":
        return kb.reduce([n], [kb.const(0.0)], lambda kv, accs: [add_term(accs[0], kv[0])])[0]
    blocks, rest = divmod(n, LANES)

    def block(kv, accs):
        base = kb.affine([(LANES, kv[0])])
        return [add_term(accs[t], kb.affine([(1, base)], t)) for t in range(LANES)]

    total = tree_sum(kb, kb.reduce([blocks], [kb.const(0.0)] * LANES, block))
    if rest:
        (total,) = kb.reduce([rest], [total], lambda kv, accs: [
            add_term(accs[0], kb.affine([(1, kv[0])], blocks * LANES))])
    return total


def block_for(out_shape) -> tuple[int, int]:
    """Rows and columns of a lanes16 linear's output computed per loop iteration: the
    largest of 8, 4, 2, 1 rows and of 2, 1 columns that divide the extents (measured on
    x86-64 with AVX-512, benchmarks/README.md: 8 x 2 keeps 16 vector accumulators)."""
    rows = next(r for r in (8, 4, 2, 1) if out_shape[-2] % r == 0) if len(out_shape) > 1 else 1
    return rows, 2 if out_shape[-1] % 2 == 0 else 1


def lane_sums(kb: KernelBuilder, vecs: list) -> list:
    """The tree sum ((s0 + s1) + (s2 + s3)) + ... of the 16 lanes of each vector. While
    the vectors pair up, one vector addition per pair sums neighbouring lanes of both
    (lanes 0..7 from the first, 8..15 from the second); the rest is added from scalars."""
    owner = [[o] * LANES for o in range(len(vecs))]  # whose tree each lane belongs to
    # pair while the vectors pair up and a lane's neighbour is still of its own tree
    while len(vecs) > 1 and len(vecs) % 2 == 0 and owner[0][0] == owner[0][1]:
        pairs = list(zip(vecs[::2], vecs[1::2]))
        vecs = [kb.add(kb.shuffle(a, b, range(0, 2 * LANES, 2)), kb.shuffle(a, b, range(1, 2 * LANES, 2)))
                for a, b in pairs]
        owner = [(a + b)[::2] for a, b in zip(owner[::2], owner[1::2])]
    parts: dict[int, list] = {}
    for v, lanes in zip(vecs, owner):
        for t, o in enumerate(lanes):
            parts.setdefault(o, []).append(kb.extract(v, t))
    return [tree_sum(kb, parts[o]) for o in sorted(parts)]


def vector_dots(kb: KernelBuilder, n: int, xs: list, ws: list) -> list:
    """sum_k x(k) w(k) in the lanes16 order for every x of `xs` and w of `ws` (x by x);
    x(k) and w(k) give (buffer, index) of a factor, whose 16 lanes from k on are one load."""
    blocks, rest = divmod(n, LANES)

    def block(kv, accs):
        base = kb.affine([(LANES, kv[0])])
        xv = [kb.vload(*x(base)) for x in xs]
        wv = [kb.vload(*w(base)) for w in ws]
        return [kb.add(accs[len(ws) * r + c], kb.mul(xr, wc)) for r, xr in enumerate(xv) for c, wc in enumerate(wv)]

    sums = lane_sums(kb, kb.reduce([blocks], [kb.vconst(0.0)] * (len(xs) * len(ws)), block))
    if not rest:
        return sums

    def tail(kv, accs):
        kk = kb.affine([(1, kv[0])], blocks * LANES)
        xv = [kb.load(*x(kk)) for x in xs]
        wv = [kb.load(*w(kk)) for w in ws]
        return [kb.add(accs[len(ws) * r + c], kb.mul(xr, wc)) for r, xr in enumerate(xv) for c, wc in enumerate(wv)]

    return kb.reduce([rest], sums, tail)


def linear(kb: KernelBuilder, k: KernelSpec) -> None:
    """y[..., i, j] = sum_k x[..., i, k] W[j, k] + b[j], a block of rows i and columns j at
    a time (lanes16)."""
    x, w, *bias, y = kb.args
    n_in = k.in_shapes[1][1]
    ri, rj = k.block

    def point(ivs):
        *lead, j0 = ivs
        # each index once: ri i0 + r is (ri i0) + r
        row0, col0 = (kb.affine([(ri, lead[-1])]) if lead else None), kb.affine([(rj, j0)])
        rows = [[*lead[:-1], kb.affine([(1, row0)], r)] for r in range(ri)] if lead else [[]]
        cols = [kb.affine([(1, col0)], c) for c in range(rj)]
        if k.order == "lanes16" and set(k.in_dtypes) | {k.out_dtype} == {"f32"}:
            sums = vector_dots(kb, n_in, [lambda kk, i=i: (x, [*i, kk]) for i in rows],
                               [lambda kk, j=j: (w, [j, kk]) for j in cols])
        else:
            sums = [dot(kb, k.order, n_in, lambda kk, i=i: kb.load(x, [*i, kk]),
                        lambda kk, j=j: kb.load(w, [j, kk])) for i in rows for j in cols]
        for (i, j), acc in zip([(i, j) for i in rows for j in cols], sums):
            if bias:
                acc = kb.add(acc, kb.load(bias[0], [j]))
            kb.store(acc, y, [*i, j])

    outer = [*k.out_shape[:-2], k.out_shape[-2] // ri] if len(k.out_shape) > 1 else []
    kb.nest([*outer, k.out_shape[-1] // rj], point)


def matmul_columns(kb: KernelBuilder, k: KernelSpec) -> None:
    """y[i, j] = sum_k a[i, k] b[k, j] for 2-D a and b, each output summed from 0 in
    increasing k (sequential), a block of ri rows by 16 cv columns per loop iteration
    (`KernelSpec.block` = (ri, 16 cv)): the 16 lanes of a
    vector are 16 consecutive columns, a[i, k] is broadcast to them and b[k, j0:j0+16] is one
    load, so the lanes never meet. The columns past the last full group of 16 cv follow, one
    scalar sum each."""
    a, b, y = kb.args
    (m, n_k), (_, n) = k.in_shapes
    ri, width = k.block
    cv = width // LANES

    def point(ivs):
        row0, col0 = kb.affine([(ri, ivs[0])]), kb.affine([(width, ivs[1])])
        rows = [kb.affine([(1, row0)], r) for r in range(ri)]
        cols = [kb.affine([(1, col0)], LANES * c) for c in range(cv)]

        def step(kv, accs):
            ws = [kb.vload(b, [kv[0], j]) for j in cols]
            out = []
            for r, i in enumerate(rows):
                xb = kb.broadcast(kb.load(a, [i, kv[0]]))
                out += [kb.add(accs[cv * r + c], kb.mul(xb, w)) for c, w in enumerate(ws)]
            return out

        sums = kb.reduce([n_k], [kb.vconst(0.0)] * (ri * cv), step)
        for r, i in enumerate(rows):
            for c, j in enumerate(cols):
                for t in range(LANES):
                    kb.store(kb.extract(sums[cv * r + c], t), y, [i, kb.affine([(1, j)], t)])

    kb.nest([m // ri, n // width], point)
    if n % width:
        def tail(ivs):
            j = kb.affine([(1, ivs[1])], n - n % width)
            kb.store(dot(kb, "sequential", n_k, lambda kk: kb.load(a, [ivs[0], kk]), lambda kk: kb.load(b, [kk, j])),
                     y, [ivs[0], j])

        kb.nest([m, n % width], tail)


def columns_block(shapes, dtypes) -> tuple[int, int]:
    """(rows, columns) per iteration of a matmul of 2-D f32 operands with at least 16
    columns, summed by matmul_columns; (1, 1) (unblocked) for any other matmul. Rows: the
    largest of 8, 4, 2, 1 dividing the rows; columns: 32 when 32 divides them, else 16 (ACAS
    Xu's 50 columns: three vectors and two single columns, not one pair and 18)."""
    (sa, sb) = shapes
    if len(sa) != 2 or len(sb) != 2 or sb[1] < LANES or set(dtypes) != {"f32"}:
        return 1, 1
    return next(r for r in (8, 4, 2, 1) if sa[0] % r == 0), 2 * LANES if sb[1] % (2 * LANES) == 0 else LANES


def matmul(kb: KernelBuilder, k: KernelSpec) -> None:
    """y = a @ b with numpy.matmul's promotion of 1-D operands and batch broadcasting."""
    if k.block != (1, 1):
        return matmul_columns(kb, k)
    a, b, y = kb.args
    sa, sb = k.in_shapes
    a2 = (1,) + sa if len(sa) == 1 else sa
    b2 = sb + (1,) if len(sb) == 1 else sb
    n_k = a2[-1]
    full_rank = max(len(a2), len(b2))

    def point(ivs):
        # rebuild the promoted output index [batch..., i, j]
        full = list(ivs)
        if len(sa) == 1:
            full.insert(len(full) - (0 if len(sb) == 1 else 1), 0)
        if len(sb) == 1:
            full.append(0)
        batch, i, j = full[:-2], full[-2], full[-1]

        def a_at(kk):
            ai = broadcast_index(batch, a2[:-2], full_rank - 2) + [i, kk]
            return kb.load(a, ai[1:] if len(sa) == 1 else ai)

        def b_at(kk):
            bi = broadcast_index(batch, b2[:-2], full_rank - 2) + [kk, j]
            return kb.load(b, bi[:-1] if len(sb) == 1 else bi)

        kb.store(dot(kb, k.order, n_k, a_at, b_at), y, ivs)

    kb.nest(k.out_shape, point)


WRITERS = {"linear": linear, "matmul": matmul}
