"""verifier/interval.py encloses exact results: checked against exact rational arithmetic."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from vnnc.verifier.interval import affine_interval, gamma, matmul_enclose


def exact_matmul(a, b):
    return [[sum((Fraction(float(a[i, k])) * Fraction(float(b[k, j])) for k in range(a.shape[1])),
                 Fraction(0)) for j in range(b.shape[1])] for i in range(a.shape[0])]


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 40), st.sampled_from([1.0, 1e-300, 1e-310, 1e150]))
def test_matmul_enclosure_contains_the_exact_product(seed, n, scale):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((3, n)) * scale
    b = rng.standard_normal((n, 2))
    b[0] = -b[0] if n > 1 else b[0]  # some cancellation
    c, e = matmul_enclose(a, b)
    exact = exact_matmul(a, b)
    for i in range(3):
        for j in range(2):
            assert abs(Fraction(float(c[i, j])) - exact[i][j]) <= Fraction(float(e[i, j]))


def test_matmul_enclosure_covers_catastrophic_cancellation():
    a = np.array([[1e16, 1.0, -1e16]])
    b = np.array([[1.0], [1.0], [1.0]])
    c, e = matmul_enclose(a, b)
    assert abs(Fraction(float(c[0, 0])) - 1) <= Fraction(float(e[0, 0]))
    assert e[0, 0] > 0


def test_gamma_is_an_upper_bound():
    for n in (1, 2, 7, 1000, 10**6):
        u = Fraction(1, 2**53)
        assert Fraction(gamma(n)) >= n * u / (1 - n * u)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_affine_interval_contains_every_corner_image(seed):
    rng = np.random.default_rng(seed)
    w, b = rng.standard_normal((4, 3)), rng.standard_normal(4)
    lo = rng.standard_normal(3)
    hi = lo + rng.random(3)
    y_lo, y_hi = affine_interval(lo, hi, w, b)
    for corner in range(8):
        x = [Fraction(float(hi[k] if corner >> k & 1 else lo[k])) for k in range(3)]
        for o in range(4):
            y = sum((Fraction(float(w[o, k])) * x[k] for k in range(3)), Fraction(float(b[o])))
            assert Fraction(float(y_lo[o])) <= y <= Fraction(float(y_hi[o]))
