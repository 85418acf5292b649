"""Outward-rounded float64 enclosures, shared by every check that bounds real numbers.

Each elementary float64 operation numpy performs (+, -, *, /, sqrt) is correctly rounded
to nearest, so stepping its result one ulp outward encloses the exact value: `up(x)` adds
|x| 2^-52 + ETA, at least one ulp of x (2^-52 |x| for a normal x, ETA for a subnormal one),
and rounding is monotone, so the sum rounds to the float above x or beyond (one vectorised
addition, ten times faster than `nextafter`); likewise `down`. A product of matrices is not one operation: BLAS may sum in any order, with or
without FMA, so it is enclosed by the a-priori bound (Higham, Accuracy and Stability of
Numerical Algorithms, 2nd ed., §3.1 and §3.5):

    |fl(A B) - A B| <= gamma_n |A| |B| + n eta,   gamma_n = n u / (1 - n u),

u = 2^-53 and eta = 2^-1074 covering products that underflow. Nudging fl(A B) by an ulp
would not be sound. Every function returns plain float64 arrays; an infinite or NaN
bound is the caller's to reject.
"""

from __future__ import annotations

import numpy as np

U = 2.0**-53  # unit roundoff of float64, round to nearest
ETA = 2.0**-1074  # smallest positive subnormal float64


def up(x):
    return x + (np.abs(x) * 2.0**-52 + ETA)


def down(x):
    return x - (np.abs(x) * 2.0**-52 + ETA)


def gamma(n: int) -> float:
    """An upper bound of gamma_n = n u / (1 - n u)."""
    return float(up(up(n * U) / down(1.0 - n * U)))


def matmul_enclose(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(C, E) with |C - a @ b| <= E elementwise, for the exact product of float64 arrays."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    n = a.shape[-1]
    c = a @ b
    m = np.abs(a) @ np.abs(b)  # |A||B| <= (fl(|A||B|) + n eta) / (1 - gamma_n)
    g = gamma(2 * n)  # gamma_n / (1 - gamma_n) <= gamma_2n
    e = up(up(g * up(m + n * ETA)) + n * ETA)
    return c, e


def center_radius(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """mid, rad with [lo, hi] inside [mid - rad, mid + rad] (exactly, not only in floats)."""
    mid = lo / 2 + hi / 2  # finite even where lo + hi would overflow
    return mid, np.maximum(up(hi - mid), up(mid - lo))


def affine_interval(x_lo, x_hi, w, b=None) -> tuple[np.ndarray, np.ndarray]:
    """An enclosure of {x @ w.T + b : x_lo <= x <= x_hi} (w of shape (out, in), x rows)."""
    mid, rad = center_radius(np.asarray(x_lo, np.float64), np.asarray(x_hi, np.float64))
    w = np.asarray(w, np.float64)
    c, e_c = matmul_enclose(mid, w.T)
    r, e_r = matmul_enclose(rad, np.abs(w).T)
    spread = up(up(r + e_r) + e_c)  # >= |w| rad + the error of c
    if b is not None:
        b = np.asarray(b, np.float64)
        return down(down(c + b) - spread), up(up(c + b) + spread)
    return down(c - spread), up(c + spread)
