"""VNN-LIB: the compiler's reader (exact decimals, outward boxes, DNF, errors naming the line)
and the checker's own parser, which must read every property the same way."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from vnnc.errors import VnncError
from vnnc.verifier import vnnlib as checker_vnnlib
from vnnc.verifier.check import Reject
from vnnc.vnnlib import read_property

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "vnncomp2021"

HEAD = "".join(f"(declare-const X_{i} Real)\n" for i in range(2)) + \
    "".join(f"(declare-const Y_{j} Real)\n" for j in range(3))


def write(tmp_path, body: str) -> Path:
    path = tmp_path / "p.vnnlib"
    path.write_text(HEAD + body)
    return path


def test_box_is_exact_and_rounded_outward(tmp_path):
    p = read_property(write(tmp_path, "(assert (>= X_0 0.1))\n(assert (<= X_0 0.3))\n"
                                      "(assert (<= X_1 1e-1)) (assert (>= X_1 -2))\n"
                                      "(assert (<= Y_0 Y_1))\n"), 2, 3)
    (region,) = p.regions
    assert region.lo == [Fraction(1, 10), Fraction(-2)] and region.hi == [Fraction(3, 10), Fraction(1, 10)]
    lo, hi = region.box
    for a, f, b in zip(region.lo, lo, region.hi):
        assert Fraction(float(f)) <= a  # never shrunk by float()
    for a, f in zip(region.hi, hi):
        assert Fraction(float(f)) >= a
    assert float(lo[0]) < 0.1  # 0.1 is not a float: the lower end moves down one ulp
    (conj,) = region.conjunctions
    (con,) = conj
    assert dict(con.coef) == {0: 1, 1: -1} and con.rhs == 0
    assert con.holds(np.array([1.0, 2.0, 0.0])) and not con.holds(np.array([2.0, 1.0, 0.0]))


def test_disjunctions_of_boxes_and_of_conjunctions(tmp_path):
    body = """(assert (or (and (<= X_0 1) (>= X_0 0) (<= X_1 1) (>= X_1 0))
                       (and (<= X_0 3) (>= X_0 2) (<= X_1 1) (>= X_1 0))))
              (assert (or (and (<= Y_0 Y_1) (<= (+ Y_0 (* 2 Y_2)) 0.5)) (and (>= (- Y_2 Y_1) 1))))"""
    p = read_property(write(tmp_path, body), 2, 3)
    assert len(p.regions) == 2
    for region in p.regions:
        assert [len(c) for c in region.conjunctions] == [2, 1]
    c = p.regions[0].conjunctions[0][1]
    assert dict(c.coef) == {0: 1, 2: 2} and c.rhs == Fraction(1, 2)
    c = p.regions[0].conjunctions[1][0]  # Y_2 - Y_1 >= 1  <=>  Y_1 - Y_2 <= -1
    assert dict(c.coef) == {1: 1, 2: -1} and c.rhs == -1


@pytest.mark.parametrize("body, line, words", [
    ("(assert (<= X_0 1))\n(assert (>= X_0 0))\n(assert (<= X_1 1))\n(check-sat)\n", 9, "unsupported command"),
    ("(assert (<= X_0 Z_3))\n", 6, "undeclared variable"),
    ("(assert (<= (* X_0 X_1) 1))\n", 6, "not linear"),
    ("(assert (<= X_0 1)\n", 6, "unclosed"),
    ("(assert (<= (+ X_0 X_1) 1))\n", None, "single X variable"),
    ("(assert (<= X_0 1))\n(assert (>= X_0 0))\n(assert (<= Y_0 1))\n", None, "X_1 is not bounded"),
])
def test_errors_name_the_file_and_line(tmp_path, body, line, words):
    with pytest.raises(VnncError) as e:
        read_property(write(tmp_path, body), 2, 3)
    message = str(e.value)
    assert str(tmp_path / "p.vnnlib") in message and words in message
    if line is not None:
        assert f"p.vnnlib:{line}:" in message


def test_variable_counts_must_match_the_network(tmp_path):
    path = write(tmp_path, "(assert (<= X_0 1))")
    with pytest.raises(VnncError, match="declares 2 inputs"):
        read_property(path, 5, 3)


def _same(p, regions):
    assert len(p.regions) == len(regions)
    for region, (lo, hi, conjs) in zip(p.regions, regions):
        assert region.lo == lo and region.hi == hi
        assert [[(dict(c.coef), c.rhs) for c in conj] for conj in region.conjunctions] == conjs


def test_checker_parser_agrees(tmp_path):
    body = """(assert (or (and (<= X_0 1) (>= X_0 0) (<= X_1 1) (>= X_1 0))
                       (and (<= X_0 3) (>= X_0 2) (<= X_1 1) (>= X_1 0))))
              (assert (or (and (<= Y_0 Y_1) (<= (+ Y_0 (* 2 Y_2)) 0.5)) (and (>= (- Y_2 Y_1) 1))))"""
    path = write(tmp_path, body)
    _same(read_property(path, 2, 3), checker_vnnlib.regions(path.read_text(), 2, 3))


@pytest.mark.parametrize("text", ["(assert (<= X_0 1)", "(declare-const X_1 Real)", "(assert (<= X_0 (* X_0 X_0)))",
                                  HEAD + "(assert (<= (+ X_0 X_1) 1))", HEAD + "(assert (<= X_0 1))"])
def test_checker_parser_rejects(text):
    with pytest.raises(Reject):
        checker_vnnlib.regions(text, 2, 3)


def test_vnncomp_properties_read_alike():
    files = sorted(DATA.glob("acasxu/prop_*.vnnlib")) + sorted(DATA.glob("test/*.vnnlib")) \
        + sorted(DATA.glob("mnistfc/prop_0_*.vnnlib"))
    if not files:
        pytest.skip(f"{DATA} is absent (the shared benchmark data is not checked out beside the project)")
    for path in files:
        n_in = 784 if "mnist" in str(path) else 1 if "test_" in path.name and "prop" not in path.name else 5
        n_out = 10 if "mnist" in str(path) else 1 if n_in == 1 else 5
        _same(read_property(path, n_in, n_out), checker_vnnlib.regions(path.read_text(), n_in, n_out))
    prop6 = read_property(DATA / "acasxu" / "prop_6.vnnlib", 5, 5)
    assert len(prop6.regions) == 2 and all(len(r.conjunctions) == 4 for r in prop6.regions)
