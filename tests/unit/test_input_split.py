"""Input-split branch and bound (vnnc.input_split) and the falsifier's search inside leaves
(vnnc.falsify): a counterexample planted in a sliver of the box is found and confirmed, the
split dimension follows the inputs the output depends on, and the tree of a holding
property covers the box with leaves that refute it."""

from __future__ import annotations

import time

import numpy as np
from vnnc import input_split as isp
from vnnc.falsify import Falsifier
from vnnc.passes import bounds as bnd
from vnnc.vnnlib import read_property


def prop(tmp_path, n_in: int, box: list[tuple[float, float]], unsafe: str):
    text = "".join(f"(declare-const X_{i} Real)\n" for i in range(n_in)) + "(declare-const Y_0 Real)\n"
    text += "".join(f"(assert (>= X_{i} {a!r}))\n(assert (<= X_{i} {b!r}))\n" for i, (a, b) in enumerate(box))
    (tmp_path / "p.vnnlib").write_text(text + f"(assert {unsafe})\n")
    return read_property(tmp_path / "p.vnnlib", n_in, 1).regions[0]


def spike(centre: float = 0.3) -> bnd.Network:
    """y = 0.5 - 10 relu(0.1 - |x_0 - centre|): below 0 only where |x_0 - centre| < 0.05."""
    w = [np.array([[1.0, 0.0], [-1.0, 0.0]]), np.array([[-1.0, -1.0]]), np.array([[-10.0]])]
    b = [np.array([-centre, centre]), np.array([0.1]), np.array([0.5])]
    return bnd.Network(w, b, (1, 2), (1, 1))


def skip_layer(net: bnd.Network) -> bnd.Network:
    """The spike net with 0.001 x_1 carried to the output through relu(x_1 + 1) (x_1 >= -1)."""
    w0 = np.vstack([net.weights[0], [[0.0, 1.0]]])
    w1 = np.block([[net.weights[1], np.zeros((1, 1))], [np.zeros((1, 2)), np.ones((1, 1))]])
    w2 = np.array([[-10.0, 0.001]])
    return bnd.Network([w0, w1, w2], [np.append(net.biases[0], 1.0), np.append(net.biases[1], 0.0),
                                      net.biases[2] - 0.001], (1, 2), (1, 1))


def test_search_inside_leaves_finds_a_planted_counterexample(tmp_path):
    net = skip_layer(spike())
    region = prop(tmp_path, 2, [(0.0, 1.0), (0.0, 1.0)], "(<= Y_0 0.0)")
    f = Falsifier(net, region)
    rng = np.random.default_rng(0)
    far = f.inside_boxes(rng, np.array([[0.6, 0.0]]), np.array([[0.9, 1.0]]))
    assert far is None  # nothing to find there
    x = f.inside_boxes(rng, np.array([[0.6, 0.0], [0.21, 0.0]]), np.array([[0.9, 1.0], [0.39, 1.0]]))
    assert x is not None
    assert abs(x[0] - 0.3) < 0.05 and region.contains(x)
    assert net.forward(x[None])[0, 0] <= 0.0  # checked here in float64, independently of confirm


def test_input_split_finds_the_sliver(tmp_path):
    net = skip_layer(spike(0.8137))
    region = prop(tmp_path, 2, [(0.0, 1.0), (0.0, 1.0)], "(<= Y_0 0.0)")
    out = isp.input_split(net, region, time.perf_counter() + 60, lambda m: None, alpha_steps=5)
    assert out.verdict == "violated"
    x = out.counterexample
    assert region.contains(x) and abs(x[0] - 0.8137) < 0.05
    assert net.forward(x[None])[0, 0] <= 0.0


def test_holds_splits_only_the_input_that_matters(tmp_path):
    # y = |x_0| - 0.9 relu(x_0 - 0.05) + 0.001 x_1 >= 0 on [-1, 1]^2, which CROWN alone does not see
    net = bnd.Network([np.array([[1.0, 0.0], [-1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), np.array([[1.0, 1.0, -0.9, 0.001]])],
                      [np.array([0.0, 0.0, -0.05, 1.0]), np.array([-0.001])], (1, 2), (1, 1))
    region = prop(tmp_path, 2, [(-1.0, 1.0), (-1.0, 1.0)], "(<= Y_0 -0.01)")
    for trials in (1, 2, 3):
        out = isp.input_split(net, region, time.perf_counter() + 60, lambda m: None, trials=trials)
        assert out.verdict == "holds"
        nodes = out.tree.preorder()
        splits = [n for n in nodes if n[0] == "x"]
        assert splits, "the property should need splits"
        assert all(n[1] == 0 for n in splits), "x_1 barely moves the output: never split it"
    # the leaves tile the box: their volumes add up to it
    lo, hi = region.box
    total, stack, i = 0.0, [(lo, hi)], 0
    while stack:
        a, b = stack.pop()
        node = nodes[i]
        i += 1
        if node[0] == "leaf":
            total += float(np.prod(b - a))
            ys = net.forward(np.random.default_rng(i).uniform(a, b, (200, 2)))
            assert (ys > -0.01).all()
        else:
            left_hi, right_lo = b.copy(), a.copy()
            left_hi[node[1]] = right_lo[node[1]] = node[2]
            stack += [(right_lo, b), (a, left_hi)]
    assert abs(total - float(np.prod(hi - lo))) < 1e-12


def test_candidates_rank_by_weighted_width():
    lo0, hi0 = np.zeros(3), np.ones(3)
    lo, hi = np.zeros((2, 3)), np.array([[1.0, 1.0, 0.25], [0.5, 1.0, 1.0]])
    gw = np.array([[1.0, 2.0, 8.0], [3.0, 1.0, 0.0]])
    # |g| w sqrt(w / w0): [1, 2, 1] and [1.06, 1, 0]
    assert isp._candidates(hi0, lo0, lo, hi, gw, 2).tolist() == [[1, 0], [0, 1]]
    clo, chi, mids = isp._halves(lo, hi, np.array([[2], [0]]))
    assert mids.tolist() == [[0.125], [0.25]]
    assert clo.tolist() == [[0, 0, 0], [0, 0, 0.125], [0, 0, 0], [0.25, 0, 0]]
    assert chi.tolist() == [[1, 1, 0.125], [1, 1, 0.25], [0.25, 1, 1], [0.5, 1, 1]]
