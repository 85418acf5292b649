"""The storage rounding of a value: half an ulp of its magnitude's binade, or exact in one cell.

A value y with |y| <= M, 2^(e-1) <= M < 2^e, rounds into a format S with error at most
max(u_S 2^(e-1), eta_S) (docs/WITNESS.md §5.5), never more than the u_S M + eta_S used before
and up to twice less. The model here is one relu whose input is read into S: its certified
error is that one rounding, so the bound must cover the largest rounding error over the box,
computed in this test from the format's own grid of numbers (decoded from the bit patterns
with exact rationals, sharing nothing with vnnc), and come within 2% of it where the box
holds that worst case; the rule u_S M + eta_S would be 1.5x to 1.9x looser on these boxes.
Where every computed value rounds to the same number r (the enclosure lies in one rounding
cell), the stored value is r and its error r - val exactly: a box inside one cell is bounded
by its distance to r, and an fp8 MLP over a small box stays within its bound at every input
sampled, against the network computed in exact rationals.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest
import vnnc
from test_roundoff import exact_mlp, inputs_in_box, write_mlp
from vnnc import safetensors

# (exponent bits, fraction bits, fn: no infinities, the all-ones exponent holds numbers)
FORMATS = {"fp8-e5m2": (5, 2, False), "fp8-e4m3fn": (4, 3, True), "bf16": (8, 7, False), "f16": (5, 10, False)}
# box elements: [lo, hi] each
BOXES = [(1.5, 1.9), (3.0, 3.9), (1.0, 1.05), (0.375, 0.49)]


def grid(fmt: str, top: float) -> list[Fraction]:
    """The nonnegative finite numbers of the format up to beyond `top`, in order."""
    e_bits, m_bits, fn = FORMATS[fmt]
    bias, out = 2 ** (e_bits - 1) - 1, []
    for e in range(2**e_bits - (0 if fn else 1)):
        for m in range(2**m_bits):
            if fn and e == 2**e_bits - 1 and m == 2**m_bits - 1:
                continue  # the NaN pattern
            scale = Fraction(2) ** ((e if e else 1) - bias - m_bits)
            out.append((m + (2**m_bits if e else 0)) * scale)
    out = sorted(set(out))
    return [v for i, v in enumerate(out) if i == 0 or out[i - 1] <= top]


def worst_error(fmt: str, mode: str, lo: float, hi: float) -> Fraction:
    """sup over y in [lo, hi] of |round(y) - y| (0 < lo), from the grid's gaps [a, b]."""
    g, lo, hi, worst = grid(fmt, hi), Fraction(lo), Fraction(hi), Fraction(0)
    for a, b in itertools.pairwise(g):
        if b <= lo or a >= hi:
            continue
        if mode == "nearest":  # the point of the gap inside the box farthest from both ends
            mid = (a + b) / 2
            y = min(max(mid, lo), hi)
            worst = max(worst, min(y - a, b - y))
        else:  # down: y - a, up to the box's end or (as a supremum) the gap's end
            worst = max(worst, min(hi, b) - a if mode == "down" else b - max(a, lo))
    return worst


def relu_model(d, n: int):
    text = (f'builtin.module attributes {{vnnc.params = "relu.safetensors"}} {{\n'
            f'  func.func @main(%x: tensor<1x{n}xf32> {{vnnc.name = "x"}}) -> (tensor<1x{n}xf32> {{vnnc.name = "y"}}) {{\n'
            f"    %y = spec.relu %x : (tensor<1x{n}xf32>) -> tensor<1x{n}xf32>\n"
            f"    func.return %y : tensor<1x{n}xf32>\n  }}\n}}\n")
    (d / "relu.mlir").write_text(text)
    safetensors.write(d / "relu.safetensors", {})
    return d / "relu.mlir"


@pytest.mark.parametrize(("fmt", "mode"), [("fp8-e5m2", "nearest"), ("fp8-e4m3fn", "nearest"),
                                           ("bf16", "nearest"), ("f16", "nearest"), ("fp8-e5m2", "down")])
def test_storage_rounding_bound_is_half_an_ulp_of_the_binade(tmp_path, fmt, mode):
    lo = np.array([[a for a, _ in BOXES]], np.float32)
    hi = np.array([[b for _, b in BOXES]], np.float32)
    np.savez(tmp_path / "box.npz", lo=lo, hi=hi)
    bundle = vnnc.compile(relu_model(tmp_path, len(BOXES)), out=tmp_path / "b",
                          precision={"precision": fmt, "rounding": mode}, input_box=tmp_path / "box.npz")
    bound = bundle.manifest["certified_error_bound"]["abs"]
    _, m_bits, _ = FORMATS[fmt]
    u = 2.0 ** -(m_bits + 1) * (2 if mode != "nearest" else 1)
    for i, (a, b) in enumerate(zip(lo[0].tolist(), hi[0].tolist())):
        worst = worst_error(fmt, mode, a, b)
        assert Fraction(bound[i]) >= worst, (i, bound[i], float(worst))  # sound
        assert bound[i] < u * b, (i, bound[i], u * b)  # below the former rule u M
        binade = 2.0 ** (np.frexp(b)[1] - 1)
        if worst == Fraction(u * binade):  # the box holds the worst case of its binade
            assert bound[i] <= 1.02 * float(worst), (i, bound[i], float(worst))


def test_worst_error_reference_itself():
    # e5m2 between 1 and 2: 1, 1.25, 1.5, 1.75, 2 (and the first number beyond the top, 2.5)
    assert grid("fp8-e5m2", 2.0)[-7:] == [Fraction(7, 8), Fraction(1), Fraction(5, 4), Fraction(3, 2),
                                          Fraction(7, 4), Fraction(2), Fraction(5, 2)]
    assert worst_error("fp8-e5m2", "nearest", 1.5, 1.9) == Fraction(1, 8)  # at 1.625
    assert worst_error("fp8-e5m2", "nearest", 1.0, 1.05) == Fraction(1.05) - 1  # the float 1.05
    assert worst_error("fp8-e5m2", "down", 1.5, 1.9) == Fraction(1, 4)  # just below 1.75
    assert max(grid("fp8-e4m3fn", 1000.0)) == 448


@pytest.mark.parametrize(("fmt", "mode", "lo", "hi", "r"), [
    ("fp8-e5m2", "nearest", 1.55, 1.6, 1.5), ("fp8-e5m2", "nearest", 1.63, 1.7, 1.75),
    ("fp8-e4m3fn", "nearest", 1.52, 1.55, 1.5), ("fp8-e5m2", "down", 1.52, 1.7, 1.5)])
def test_a_box_inside_one_rounding_cell_is_bounded_by_its_distance_to_the_rounded_value(tmp_path, fmt, mode, lo, hi, r):
    np.savez(tmp_path / "box.npz", lo=np.array([[lo]], np.float32), hi=np.array([[hi]], np.float32))
    bundle = vnnc.compile(relu_model(tmp_path, 1), out=tmp_path / "b",
                          precision={"precision": fmt, "rounding": mode}, input_box=tmp_path / "box.npz")
    bound = bundle.manifest["certified_error_bound"]["abs"][0]
    worst = max(abs(Fraction(r) - Fraction(float(np.float32(v)))) for v in (lo, hi))
    assert worst <= Fraction(bound) <= worst * (1 + 1e-8), (bound, float(worst))
    assert bundle.run(np.array([[lo]], np.float32)).reshape(-1)[0] == r  # the library agrees: r everywhere


@pytest.mark.parametrize("fmt", ["fp8-e5m2", "fp8-e4m3fn"])
def test_fp8_mlp_over_a_small_box_stays_within_its_bound(tmp_path, fmt):
    path, params = write_mlp(tmp_path, sizes=(6, 16, 16, 4), seed=11)
    x0 = np.random.default_rng(5).uniform(-1, 1, (1, 6))
    lo, hi = x0 - 0.01, x0 + 0.01
    np.savez(tmp_path / "box.npz", lo=lo, hi=hi)
    bundle = vnnc.compile(path, out=tmp_path / "b", precision={"precision": fmt}, input_box=tmp_path / "box.npz")
    bound = [Fraction(b) for b in bundle.manifest["certified_error_bound"]["abs"]]
    worst = 0.0
    for x in inputs_in_box(lo, hi, 150, seed=2):
        err = [abs(Fraction(float(a)) - v) for a, v in zip(bundle.run(x).reshape(-1), exact_mlp(params, x))]
        assert all(e <= b for e, b in zip(err, bound)), (x, err, bound)
        worst = max(worst, max(float(e / b) for e, b in zip(err, bound)))
    assert worst > 0.01  # the comparison saw real rounding errors, at a real fraction of the bound
