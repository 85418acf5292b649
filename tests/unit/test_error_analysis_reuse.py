"""The error analysis' shortcuts give what the plain computation gives, bit for bit.

The oracle reuses column sums between forms whose matrices have the same absolute values
(`Affine._same`), builds a + sign b without padding both with zero rows (`_combine`), and
encloses a product of nonnegative matrices with one product (`enclose_nonnegative`); each
is checked here against the plain computation on real forms (every value of a leaf of an
MLP in f32 and f16, whose stores also take the path where a value rounds to one float),
zeros of both signs included.
"""

from __future__ import annotations

import numpy as np
import pytest
import vnnc
from test_roundoff import write_box, write_mlp
from vnnc.frontend_mlir import parse_module
from vnnc.passes import error_analysis as ea
from vnnc.verifier.interval import down, matmul_enclose, up


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.array_equal(a.view(np.uint64), b.view(np.uint64))


def padded(m: np.ndarray, k: int) -> np.ndarray:
    return np.concatenate([m, np.zeros((k - len(m), m.shape[1]))])


@pytest.mark.parametrize("na,nb", [(3, 5), (5, 3), (4, 4), (0, 2), (2, 0), (0, 0)])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_combine_is_the_padded_sum(na, nb, sign):
    rng = np.random.default_rng(na * 10 + nb)
    a, b = rng.standard_normal((na, 4)), rng.standard_normal((nb, 4))
    a[:, 0], b[:, 1] = -0.0, -0.0  # the sign of a zero sum depends on the operations
    k = max(na, nb)
    want = padded(a, k) + sign * padded(b, k)
    assert same_bits(np.ascontiguousarray(ea._combine(a, b, sign)), want)


def test_one_product_encloses_as_two():
    rng = np.random.default_rng(3)
    a, b = np.abs(rng.standard_normal((7, 30))), np.abs(rng.standard_normal((30, 9)))
    a[2], b[:, 4] = 0.0, -0.0
    for x, y in ((a, b), (np.ones(30), b), (a[:1], b)):
        c, e = ea.enclose_nonnegative(x, y)
        c0, e0 = matmul_enclose(x, y)
        assert same_bits(c, c0) and same_bits(e, e0)


@pytest.mark.parametrize("fmt", ["f32", "f16"])
def test_reused_column_sums_are_the_recomputed_ones(tmp_path, fmt):
    path, params = write_mlp(tmp_path, sizes=(3, 12, 12, 2), seed=5, name="reuse")
    lo, hi = np.full((1, 3), -1.0), np.full((1, 3), 1.0)
    bundle = vnnc.compile(path, out=tmp_path / "b", precision={"precision": fmt},
                          input_box=write_box(tmp_path / "box.npz", lo, hi))
    prog = ea.program(parse_module((bundle.path / "stages" / "01-assign-precision.mlir").read_text(), "fp"))
    env, _, _ = ea.run_leaf(prog, params, lo, hi, domains=ea.domains(ea.chain(prog, params), lo, hi))
    forms = [f for i, v in env.items() if i >= 0 and not v.known for f in (v.val, v.err)]
    assert sum(len(f.mr) > 0 for f in forms) > 4
    for f in forms:
        for k, m in enumerate((f.mv, f.mr)):
            assert same_bits(f.col(k), ea._sum_cols(m))
        rad = up(up(ea._sum_cols(f.mv) + ea._sum_cols(f.mr)) + f.r)
        assert same_bits(f.bounds()[0], down(f.c - rad)) and same_bits(f.bounds()[1], up(f.c + rad))
