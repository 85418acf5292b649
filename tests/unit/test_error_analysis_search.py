"""The split search of error-analysis (passes/error_analysis.py, `analyse`), on boxes whose
bounds a stand-in analysis gives by formula: every output's bound is its largest over the
leaves, so the search must keep splitting for the outputs that can still improve after the
largest one's worst box stopped improving, and no split may leave an output worse than one box."""

from __future__ import annotations

import re

import numpy as np
import pytest
from vnnc.frontend_mlir import parse_module
from vnnc.passes import error_analysis as ea

STAGE = """\
builtin.module {
  func.func @main(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
    %y = fp.relu %x : (tensor<1x2xf32>) -> tensor<1x2xf32>
    func.return %y : tensor<1x2xf32>
  }
}
"""


def fake_evaluate(formula):
    """evaluate() replaced: a box's bound per output is formula(lo, hi)."""
    def evaluate(prog, params, lo, hi, parent=None, blocks=None):
        bound = np.asarray(formula(lo.reshape(-1), hi.reshape(-1)), np.float64)
        overflow = "" if np.all(np.isfinite(bound)) else "a value may overflow"  # as evaluate() says it
        return ea.Node(lo, hi, bound, ["hh"], {}, (hi - lo).reshape(-1).astype(np.float64), overflow=overflow)
    return evaluate


def leaf_bounds(tree, lo, hi, formula):
    """Each leaf's bound, by the formula, over the boxes the claimed tree splits into."""
    if "relu" in tree:
        return [np.asarray(formula(lo, hi))]
    below, above = hi.copy(), lo.copy()
    below[tree["dim"]] = above[tree["dim"]] = tree["at"]
    return leaf_bounds(tree["below"], lo, below, formula) + leaf_bounds(tree["above"], above, hi, formula)


def run(monkeypatch, formula, leaves, start=0.0):
    monkeypatch.setattr(ea, "evaluate", fake_evaluate(formula))
    module = parse_module(STAGE, "stage")
    lo, hi = np.full((1, 2), start), np.full((1, 2), start + 1.0)
    claims = ea.analyse(module, {}, lo, hi, max_leaves=leaves)
    got = np.max(leaf_bounds(claims["tree"], lo.reshape(-1), hi.reshape(-1), formula), axis=0)
    assert np.all(np.asarray(claims["abs"]) >= got)  # the claims cover every leaf
    return claims, got


def test_the_search_goes_on_for_outputs_that_can_improve(monkeypatch):
    # output 0 is 10 whatever the box (its worst box stalls at once), output 1 is the box's
    # width along x0 plus along x1: halvings keep lowering it
    formula = lambda lo, hi: [10.0, (hi[0] - lo[0]) + (hi[1] - lo[1])]
    claims, got = run(monkeypatch, formula, 64)
    assert got[0] == 10.0
    assert got[1] <= 0.25  # a box of 1/16 x 1/16 or better; stopping at output 0's stall left 2.0
    assert ea.count_leaves(claims["tree"]) == 64


def test_the_search_ends_when_no_output_can_improve(monkeypatch):
    formula = lambda lo, hi: [10.0, 3.0]
    claims, got = run(monkeypatch, formula, 64)
    assert ea.count_leaves(claims["tree"]) == 1  # the splits that did not pay were undone
    assert list(got) == [10.0, 3.0]


@pytest.mark.parametrize("seed", range(4))
def test_no_output_ends_above_its_one_box_bound(monkeypatch, seed):
    # bounds not monotone in the box (as affine ranges are not): a split may worsen an output
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(0.5, 2.0, (2, 2))

    def formula(lo, hi):
        w = hi - lo
        return [float(a @ w + np.sin(40 * lo[0])), float(b @ w + np.cos(40 * lo[1]))]

    root = np.asarray(formula(np.zeros(2), np.ones(2)))
    _, got = run(monkeypatch, formula, 48)
    assert np.all(got <= root)


def test_boxes_that_may_overflow_are_split_breadth_first(monkeypatch):
    # no bound (overflow) until a box is at most 1/4 wide in both coordinates: 16 boxes are
    # needed; splitting one box ever deeper (its halves tie at infinity) never gets there
    def formula(lo, hi):
        return [np.inf] * 2 if np.max(hi - lo) > 0.25 else [1.0, 1.0]

    _, got = run(monkeypatch, formula, 64)
    assert list(got) == [1.0, 1.0]


def test_a_box_that_never_stops_overflowing_does_not_take_the_whole_search(monkeypatch):
    # on [1, 2]^2 the box at the corner (1, 1) may overflow however small it gets, the others
    # once they are at most 1/4 wide; overflowing boxes tie (at infinity) and the oldest is
    # halved first, so the other 15 boxes of side 1/4 are made before the corner runs out of
    # halvings (~100: float64 widths). Halving the newest box instead dives into the corner
    # and ends there with the others still overflowing: 105 splits.
    def formula(lo, hi):
        return [np.inf] * 2 if np.max(hi - lo) > 0.25 or np.all(lo == 1.0) else [1.0, 1.0]

    with pytest.raises(ea.AnalysisError) as e:
        run(monkeypatch, formula, 400, start=1.0)
    splits = int(re.search(r"in a box (\d+) splits", str(e.value)).group(1))
    assert splits >= 100 + 15


def test_a_split_that_worsens_an_output_below_its_largest_is_kept(monkeypatch):
    # output 1 is 2 on every box at the corner (0, 0), whatever its size, and elsewhere 1, or
    # 1.5 on boxes under 0.3 wide: halving a box away from the corner worsens output 1 there,
    # but never above its bound over the tree (2). Output 0 is the box's width: only splits
    # lower it. Undoing every split that worsens some output locally kept output 0 at 0.75
    # (the boxes away from the corner were merged back); it must reach 0.25 or better.
    def formula(lo, hi):
        small = np.max(hi - lo) < 0.3
        return [float(np.sum(hi - lo)), 2.0 if np.all(lo == 0.0) else 1.5 if small else 1.0]

    _, got = run(monkeypatch, formula, 64)
    assert got[1] == 2.0
    assert got[0] <= 0.25


def test_an_output_never_ends_above_one_box_even_where_the_splits_lower_another(monkeypatch):
    # output 1 is 1 over the whole box and 1.5 over any smaller one; output 0 is the box's
    # width. Keeping the splits would leave output 1 at 1.5, above the one-box analysis: the
    # splits are undone where they make some output worse (here, all of them)
    def formula(lo, hi):
        return [float(np.sum(hi - lo)), 1.0 if np.all(hi - lo == 1.0) else 1.5]

    claims, got = run(monkeypatch, formula, 16)
    assert list(got) == [2.0, 1.0]
    assert ea.count_leaves(claims["tree"]) == 1
