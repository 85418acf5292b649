"""Robustness certificates (verifier/robust.py): accepted as `vnnc verify` writes them (input
splits, ReLU splits with beta multipliers), and their tampered twins rejected: a leaf
removed, a split point on or outside its box's edge, a ReLU split outside the hidden layers
or twice on a path, a refutation that does not hold, multipliers changed or dropped, a
counterexample nudged out of the box or across the constraint, another property, a changed
weight, and mismatched hashes."""

from __future__ import annotations

import base64
import copy
import hashlib
import json

import numpy as np
import pytest
from vnnc.passes import bounds as bnd
from vnnc.verifier import robust
from vnnc.verify import load_problem, params_bytes, solve

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper


def make_model(path, seed=3, n_in=3):
    """x [1, n_in] -> (x - m) W1 + b1 -> relu -> W2 -> relu -> W3 -> [1, 3], float32; inputs
    after the third weigh little (so that sampling finds the maximum)."""
    rng = np.random.default_rng(seed)
    f = lambda *s: (rng.standard_normal(s) / np.sqrt(s[0])).astype(np.float32)
    w1 = f(3, 12)
    if n_in > 3:
        w1 = np.concatenate([w1, f(n_in - 3, 12) * np.float32(0.01)])
    consts = {"m": (rng.standard_normal((1, n_in)) * 0.1).astype(np.float32), "w1": w1, "b1": f(12) * 0.3,
              "w2": f(12, 12), "b2": f(12) * 0.3, "w3": f(12, 3), "b3": f(3) * 0.3}
    nodes = [helper.make_node("Sub", ["x", "m"], ["s"]), helper.make_node("MatMul", ["s", "w1"], ["h1"]),
             helper.make_node("Add", ["h1", "b1"], ["z1"]), helper.make_node("Relu", ["z1"], ["a1"]),
             helper.make_node("MatMul", ["a1", "w2"], ["h2"]), helper.make_node("Add", ["h2", "b2"], ["z2"]),
             helper.make_node("Relu", ["z2"], ["a2"]), helper.make_node("MatMul", ["a2", "w3"], ["h3"]),
             helper.make_node("Add", ["h3", "b3"], ["y"])]
    g = helper.make_graph(nodes, "net", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, n_in])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
                          [numpy_helper.from_array(v, k) for k, v in consts.items()])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), str(path))


def prop_text(threshold: float, other: float | None = None, n_in: int = 3) -> str:
    head = "".join(f"(declare-const X_{i} Real)\n" for i in range(n_in)) + \
        "".join(f"(declare-const Y_{j} Real)\n" for j in range(3))
    box = "".join(f"(assert (<= X_{i} 0.5))\n(assert (>= X_{i} -0.5))\n" for i in range(n_in))
    return head + box + f"(assert (or (and (>= Y_0 {threshold!r}) (>= Y_0 Y_1)) (and (>= Y_2 {threshold if other is None else other!r}))))\n"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("robust")
    make_model(tmp / "net.onnx")
    (tmp / "any.vnnlib").write_text(prop_text(0.0))
    net = load_problem(tmp / "net.onnx", tmp / "any.vnnlib").net
    lo, hi = -0.5 * np.ones((1, 3)), 0.5 * np.ones((1, 3))
    top = float(net.forward(np.random.default_rng(0).uniform(lo, hi, (20000, 3))).max(axis=0)[[0, 2]].max())
    lam = -np.eye(3)[[0, 2]]  # CROWN alone (no IBP) bounds Y_0 and Y_2 from above
    bounds = bnd.layer_bounds(net, lo, hi)
    g, const = bnd.objective_rows(net, 3, lam)
    crown = -bnd.backward(net, 3, g, const, bnd.Relax.of(bounds, 3), np.zeros(2, int), lo, hi)[0]
    crown_hi = float(crown.max())
    out = {}
    for name, t, other in (("root", crown[0] + 1e-4, 1e3), ("split", top + 0.2 * (crown_hi - top), None),
                           ("violated", top - 0.05, None)):
        (tmp / f"{name}.vnnlib").write_text(prop_text(float(t), other))
        problem = load_problem(tmp / "net.onnx", tmp / f"{name}.vnnlib")
        outcome = solve(problem, "crown", 60)  # raises if the checker rejected it
        out[name] = (problem, outcome.certificate)
    # 20 inputs: branch and bound splits ReLUs, and beta multipliers enter the leaves
    make_model(tmp / "wide.onnx", n_in=20)
    (tmp / "wide_any.vnnlib").write_text(prop_text(0.0, n_in=20))
    net = load_problem(tmp / "wide.onnx", tmp / "wide_any.vnnlib").net
    lo, hi = -0.5 * np.ones((1, 20)), 0.5 * np.ones((1, 20))
    top = float(net.forward(np.random.default_rng(0).uniform(lo, hi, (50000, 20))).max(axis=0)[[0, 2]].max())
    bounds = bnd.layer_bounds(net, lo, hi)
    crown = -bnd.backward(net, 3, g, const, bnd.Relax.of(bounds, 3), np.zeros(2, int), lo, hi)[0]
    (tmp / "relu.vnnlib").write_text(prop_text(float(top + 0.3 * (crown.max() - top)), n_in=20))
    problem = load_problem(tmp / "wide.onnx", tmp / "relu.vnnlib")
    out["relu"] = (problem, solve(problem, "auto", 60).certificate)
    return out


def run_check(problem, cert, params=None, prop=None):
    return robust.check(problem.spec_text, params if params is not None else params_bytes(problem.params),
                        prop if prop is not None else problem.prop.text, json.loads(json.dumps(cert)))


def test_verdicts_and_acceptance(setup):
    for name, verdict in (("root", "holds"), ("split", "holds"), ("violated", "violated"), ("relu", "holds")):
        problem, cert = setup[name]
        assert cert["verdict"] == verdict
        assert run_check(problem, cert), name
    nodes = setup["split"][1]["trees"][0]
    assert any(n[0] == "x" for n in nodes), "the split property should need input splits"
    nodes = setup["relu"][1]["trees"][0]
    assert any(n[0] == "relu" for n in nodes), "the wide property should need ReLU splits"
    assert any(n[0] == "leaf" and any(ref[1] for ref in n[1]) for n in nodes), "and beta multipliers"


def test_tampered_relu_split_trees_are_rejected(setup):
    problem, cert = setup["relu"]
    nodes = cert["trees"][0]
    split = next(i for i, n in enumerate(nodes) if n[0] == "relu")
    given = next(i for i, n in enumerate(nodes) if n[0] == "leaf" and any(ref[1] for ref in n[1]))
    twins = {}
    twins["leaf removed"] = copy.deepcopy(cert)
    del twins["leaf removed"]["trees"][0][-1]
    for what, (k, j) in (("input layer", (0, 0)), ("output layer", (3, 0)), ("neuron out of range", (1, 12)),
                         ("negative neuron", (1, -1)), ("layer as a float", (1.0, 0))):
        twins[what] = copy.deepcopy(cert)
        twins[what]["trees"][0][split][1:] = [k, j]
    twins["a neuron split twice on a path"] = copy.deepcopy(cert)
    twins["a neuron split twice on a path"]["trees"][0].insert(split, list(nodes[split]))
    for what, scale in (("beta multipliers scaled", 100.0), ("beta multipliers negated", -1.0)):
        twin = copy.deepcopy(cert)
        for ref in twin["trees"][0][given][1]:
            if ref[1]:
                nu = np.frombuffer(base64.b64decode(ref[1]), "<f4") * np.float32(scale)
                ref[1] = base64.b64encode(nu.astype("<f4").tobytes()).decode()
        twins[what] = twin
    twin = copy.deepcopy(cert)
    for ref in twin["trees"][0][given][1]:
        ref[1] = None  # the checker's own CROWN multipliers ignore the splits' constraints
    twins["beta multipliers dropped"] = twin
    for what, twin in twins.items():
        assert not run_check(problem, twin), what


def test_tampered_split_trees_are_rejected(setup):
    problem, cert = setup["split"]
    nodes = cert["trees"][0]
    leaf = next(i for i, n in enumerate(nodes) if n[0] == "leaf")
    split = next(i for i, n in enumerate(nodes) if n[0] == "x")
    twins = {}
    twins["leaf removed"] = copy.deepcopy(cert)
    del twins["leaf removed"]["trees"][0][leaf]
    twins["extra node"] = copy.deepcopy(cert)
    twins["extra node"]["trees"][0].append(["leaf", [[0, None], [0, None]]])
    for what, point in (("split at the box edge (empty half)", 0.5), ("split outside the box", 0.75)):
        twins[what] = copy.deepcopy(cert)
        twins[what]["trees"][0][split][2] = point if nodes[split][1] is not None else 0.0
    twins["split dimension out of range"] = copy.deepcopy(cert)
    twins["split dimension out of range"]["trees"][0][split][1] = 3
    twins["no tree"] = dict(cert, trees=[])
    twins["refutation index out of range"] = copy.deepcopy(cert)
    twins["refutation index out of range"]["trees"][0][leaf][1][0][0] = 5
    twins["a conjunction not refuted"] = copy.deepcopy(cert)
    twins["a conjunction not refuted"]["trees"][0][leaf][1] = twins["a conjunction not refuted"]["trees"][0][leaf][1][:1]
    twins["verdict flipped"] = dict(cert, verdict="violated")
    for what, twin in twins.items():
        assert not run_check(problem, twin), what


def test_refutation_must_hold(setup):
    """Each leaf's chosen constraint must be refuted: pointing the conjunction (Y_0 >= t,
    Y_0 >= Y_1) at the constraint that no bound refutes is rejected."""
    problem, cert = setup["root"]
    assert cert["trees"][0] == [["leaf", [[0, None], [0, None]]]]
    twin = copy.deepcopy(cert)
    twin["trees"][0][0][1][0][0] = 1  # Y_0 >= Y_1 is not refuted on this box
    assert not run_check(problem, twin)


def _crown_multipliers(problem, cert):
    params = robust.read(params_bytes(problem.params))
    blocks, sizes = robust.network(problem.spec_text, params)
    lo, hi = -0.5 * np.ones((1, 3)), 0.5 * np.ones((1, 3))
    lo, hi = robust.down(lo), robust.up(hi)
    bounds = robust.layer_bounds(blocks, lo, hi, {k: np.zeros((1, n)) for k, n in enumerate(sizes) if k})
    objective = np.zeros((1, 3))
    objective[0, 0] = -1.0  # Y_0 >= t  is  -Y_0 <= -t
    nus = robust.crown(blocks, len(blocks), bounds, objective)
    return np.concatenate([nus[k][0] for k in range(1, len(blocks))])


def _with_nu(cert, flat):
    twin = copy.deepcopy(cert)
    twin["trees"][0][0][1][0][1] = base64.b64encode(np.asarray(flat, "<f4").tobytes()).decode()
    return twin


def test_multipliers_in_the_certificate(setup):
    problem, cert = setup["root"]
    nu = _crown_multipliers(problem, cert)
    assert run_check(problem, _with_nu(cert, nu))  # the same multipliers, written out
    changed = nu.copy()
    changed[int(np.argmax(np.abs(nu)))] *= 1000  # one multiplier changed: the bound collapses
    assert not run_check(problem, _with_nu(cert, changed))
    assert not run_check(problem, _with_nu(cert, -5 * nu))
    assert not run_check(problem, _with_nu(cert, nu[:-1]))
    bad = nu.copy()
    bad[0] = np.nan
    assert not run_check(problem, _with_nu(cert, bad))


def test_tampered_counterexamples_are_rejected(setup):
    problem, cert = setup["violated"]
    x = np.array(cert["counterexample"])
    outside = x.copy()
    outside[0] = 0.5000001
    assert not run_check(problem, dict(cert, counterexample=list(outside)))
    assert not run_check(problem, dict(cert, counterexample=[0.0, 0.0, 0.0]))  # far below the threshold
    assert not run_check(problem, dict(cert, counterexample=list(x[:2])))
    assert not run_check(problem, dict(cert, counterexample=["0.1", 0.0, 0.0]))


def test_bindings_property_and_weights(setup):
    problem, cert = setup["split"]
    other = setup["root"][0].prop.text
    assert not run_check(problem, cert, prop=other)  # another property: hash mismatch
    # a tighter property with its hash updated: the bound no longer clears it
    tight = prop_text(-5.0).encode()
    assert not run_check(problem, dict(cert, property_sha256=hashlib.sha256(tight).hexdigest()), prop=tight)
    # a changed weight, rehashed: the certificate speaks of other numbers
    params = dict(problem.params)
    params["w3"] = -4 * params["w3"]
    data = params_bytes(params)
    assert not run_check(problem, cert, params=data)
    assert not run_check(problem, dict(cert, params_sha256=hashlib.sha256(data).hexdigest()), params=data)
    assert not run_check(problem, dict(cert, spec_sha256="0" * 64))
    assert not run_check(problem, dict(cert, version=2))


# ---------------------------------------------------------------- intermediate bounds over the box


@pytest.fixture(scope="module")
def intermediate(tmp_path_factory):
    """A property between alpha-CROWN's bound of Y_0 over the box with the checker's own
    domains (0.19 on this net) and with the layer-2 domains tightened by alpha-CROWN (0.11):
    its certificate needs the intermediate bounds it carries."""
    tmp = tmp_path_factory.mktemp("intermediate")
    make_model(tmp / "wide.onnx", n_in=20)
    (tmp / "p.vnnlib").write_text(prop_text(0.16, 1e3, n_in=20))
    problem = load_problem(tmp / "wide.onnx", tmp / "p.vnnlib")
    return problem, solve(problem, "auto", 60).certificate


def _entries_with(cert, change):
    twin = copy.deepcopy(cert)
    for entry in twin["intermediate"][0]:
        change(entry)
    return twin


def _scaled(entry, scale):
    nu = np.frombuffer(base64.b64decode(entry[3]), "<f4") * np.float32(scale)
    entry[3] = base64.b64encode(nu.astype("<f4").tobytes()).decode()


def test_intermediate_bounds_are_needed_and_checked(intermediate):
    problem, cert = intermediate
    assert cert["verdict"] == "holds" and cert["intermediate"][0], "the box's bounds should be tightened"
    assert run_check(problem, cert)
    assert all(entry[0] == 2 and entry[2] in (1, -1) for entry in cert["intermediate"][0])
    twins = {"intermediate bounds dropped": {k: v for k, v in cert.items() if k != "intermediate"},
             "no list per box": dict(cert, intermediate=[]),
             "multipliers zeroed (no gain left)": _entries_with(cert, lambda e: _scaled(e, 0.0)),
             "multipliers negated": _entries_with(cert, lambda e: _scaled(e, -1.0)),
             "sides swapped": _entries_with(cert, lambda e: e.__setitem__(2, -e[2])),
             "side not +1 or -1": _entries_with(cert, lambda e: e.__setitem__(2, 2)),
             "the first hidden layer": _entries_with(cert, lambda e: e.__setitem__(0, 1)),
             "the output layer": _entries_with(cert, lambda e: e.__setitem__(0, 3)),
             "a neuron out of range": _entries_with(cert, lambda e: e.__setitem__(1, 12)),
             "each bound moved to the next neuron": _entries_with(cert, lambda e: e.__setitem__(1, (e[1] + 1) % 12)),
             "multipliers cut short": _entries_with(cert, lambda e: e.__setitem__(3, e[3][:-8])),
             "a float layer": _entries_with(cert, lambda e: e.__setitem__(0, 2.0))}
    for what, twin in twins.items():
        assert not run_check(problem, twin), what


def test_rows_refuted_narrowly_carry_crown_multipliers(setup, monkeypatch):
    """A row that CROWN refutes by less than NULL_GAP carries its multipliers (the search's
    float32 domains are not the checker's): with NULL_GAP infinite every CROWN refutation does,
    the checker accepts them, and rejects them scaled."""
    from vnnc import branch_and_bound as bab

    problem, cert = setup["relu"]
    monkeypatch.setattr(bab, "NULL_GAP", np.inf)
    carried = solve(problem, "auto", 60).certificate
    assert run_check(problem, carried)
    leaves = [n for n in carried["trees"][0] if n[0] == "leaf"]
    assert all(ref[1] for n in leaves for ref in n[1])  # no leaf left to the checker's own CROWN
    assert sum(ref[1] is None for n in cert["trees"][0] if n[0] == "leaf" for ref in n[1]) > 0
    twin = copy.deepcopy(carried)
    for node in twin["trees"][0]:
        if node[0] == "leaf":
            for ref in node[1]:
                nu = np.frombuffer(base64.b64decode(ref[1]), "<f4") * np.float32(-3.0)
                ref[1] = base64.b64encode(nu.astype("<f4").tobytes()).decode()
    assert not run_check(problem, twin)


def test_leaves_sharing_their_lower_domains_share_the_next(setup):
    """The checker computes a layer's domains once for leaves whose box and lower domains
    agree: a batch of leaves (same box; splits in layer 1 alike or not, in layer 2 apart; one
    leaf on half the box) gets exactly the domains each leaf gets alone."""
    problem, _ = setup["relu"]
    blocks, _ = robust.network(problem.spec_text, robust.read(params_bytes(problem.params)))
    lo, hi = -0.5 * np.ones(20), 0.5 * np.ones(20)
    alone = robust.layer_bounds(blocks, lo[None], hi[None], {1: np.zeros((1, 12)), 2: np.zeros((1, 12))})
    j1 = int(np.argmax((alone[1][0][0] < 0) & (alone[1][1][0] > 0)))
    j2 = np.nonzero((alone[2][0][0] < 0) & (alone[2][1][0] > 0))[0][:2]
    signs = {1: np.zeros((6, 12)), 2: np.zeros((6, 12))}
    signs[1][[0, 1, 2], j1], signs[1][3, j1] = 1, -1
    signs[2][0, j2[0]], signs[2][1, j2[-1]], signs[2][2, j2[0]] = 1, -1, -1
    x_lo, x_hi = np.tile(lo, (6, 1)), np.tile(hi, (6, 1))
    x_hi[5, 0] = 0.0  # leaf 5: half the box, no splits, like leaf 4
    batch = robust.layer_bounds(blocks, x_lo, x_hi, signs)
    for b in range(6):
        one = robust.layer_bounds(blocks, x_lo[b:b + 1], x_hi[b:b + 1], {k: s[b:b + 1] for k, s in signs.items()})
        for k in (1, 2):
            np.testing.assert_allclose(batch[k][0][b], one[k][0][0], rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(batch[k][1][b], one[k][1][0], rtol=1e-12, atol=1e-12)
    assert (batch[2][1][5] < batch[2][1][4]).any() or (batch[2][0][5] > batch[2][0][4]).any()


@pytest.fixture
def helper_starts(monkeypatch) -> list:
    """The helpers vnnc.parallel starts during a test (None where it declines), recorded."""
    from vnnc import parallel

    if parallel.openblas_threads() is None:
        pytest.skip("no OpenBLAS whose threads can be set: the search runs alone")
    started = []
    real = parallel.Helper.start

    def start(fn, init=None):
        started.append(real(fn, init))
        return started[-1]

    monkeypatch.setattr(parallel.Helper, "start", staticmethod(start))
    return started


def test_relu_split_with_a_helper_process_is_accepted(setup, monkeypatch, helper_starts):
    """One leaf a batch, so that two batches are bounded at a time (the second in a helper
    process, vnnc.parallel): the tree the two build together is accepted, as alone."""
    import functools

    from vnnc import branch_and_bound as bab

    monkeypatch.setattr(bab, "relu_split", functools.partial(bab.relu_split, batch=1))
    problem, _ = setup["relu"]
    outcome = solve(problem, "auto", 60)  # raises if the checker rejects the certificate
    assert outcome.verdict == "holds" and helper_starts and helper_starts[0] is not None
    assert outcome.leaves >= 4  # at least two batches were bounded side by side
    assert run_check(problem, outcome.certificate)


def test_input_split_with_a_helper_process_is_accepted(setup, monkeypatch, helper_starts):
    """Every batch of halves split between this process and a helper (HELPED = 2): the same
    tree as alone, accepted."""
    from vnnc import input_split

    problem, alone = setup["split"]
    monkeypatch.setattr(input_split, "HELPED", 2)
    outcome = solve(problem, "crown", 60)  # raises if the checker rejects the certificate
    assert helper_starts and helper_starts[0] is not None
    assert outcome.verdict == "holds" and outcome.certificate["trees"] == alone["trees"]
    assert run_check(problem, outcome.certificate)
