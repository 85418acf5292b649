"""Relu input ranges tightened by the checker's CROWN engine in the certified error bound.

On a ReLU chain the error analysis intersects every relu input's affine range with the
domain verifier/robust.py's `layer_bounds` gives over the box (IBP and a CROWN dual bound per
unstable neuron, outward rounded), each box's domains within its parent's; the roundoff
checker reads the fp stage as the same chain (`roundoff.chain`) and recomputes them itself.
Tested here: the chain read from the fp stage is the one robust.py reads from the spec stage
(same ops, same parameters); over a wide box the tightened bound is strictly smaller than the
untightened one and still holds against the real network evaluated in exact rationals on
float32 inputs; tampered twins: a relu range narrowed one ulp below the recomputed CROWN
range, and a witness whose ranges came from the chain of other parameters, are rejected.
"""

from __future__ import annotations

import copy
import io
import json
from fractions import Fraction

import numpy as np
import pytest
import vnnc
from test_roundoff import Twin, exact_mlp, inputs_in_box, rejected, write_box, write_mlp
from vnnc.frontend_mlir import parse_module
from vnnc.passes import error_analysis as ea
from vnnc.verifier import robust, roundoff
from vnnc.verifier.check import Accepted
from vnnc.verifier.mlir import parse
from vnnc.verifier.semantics import main_function

SIZES = (3, 16, 16, 16, 2)
LO, HI = np.full((1, 3), -1.0), np.full((1, 3), 1.0)


@pytest.fixture(scope="module")
def wide(tmp_path_factory):
    d = tmp_path_factory.mktemp("crown")
    path, params = write_mlp(d, sizes=SIZES, seed=21, name="deep")
    bundle = vnnc.compile(path, out=d / "b", precision={"precision": "f32"},
                          input_box=write_box(d / "box.npz", LO, HI))
    return bundle, params


def stage(bundle):
    text = (bundle.path / "stages" / "01-assign-precision.mlir").read_text()
    return text, main_function(parse(text)).regions[0][0]


def test_the_fp_stage_reads_as_the_spec_chain(wide):
    """roundoff.chain of the fp stage, robust.network of the spec stage and the oracle's chain:
    the same affine maps with the same constants, block by block."""
    bundle, params = wide
    text, block = stage(bundle)
    mine = roundoff.chain(block, params)
    spec, _ = robust.network((bundle.path / "stages" / "00-import.mlir").read_text(), params)
    oracle = ea.chain(ea.program(parse_module(text, "fp")), params)
    assert mine is not None and len(mine) == len(spec) == len(oracle) == len(SIZES) - 1
    for a, b, c in zip(mine, spec, oracle):
        assert [k for k, _ in a] == [k for k, _ in b] == [k for k, _ in c]
        for (_, x), (_, y), (_, z) in zip(a, b, c):
            assert np.array_equal(x, y) and np.array_equal(x, z)


def test_a_stage_that_is_no_relu_chain_is_not_tightened(tmp_path):
    """tanh is not a step of the chain: no domains, the analysis as before."""
    path = write_mlp(tmp_path, sizes=(3, 4, 2), seed=2, name="t")[0]
    path.write_text(path.read_text().replace("spec.relu", "spec.tanh"))
    bundle = vnnc.compile(path, out=tmp_path / "b", precision={"precision": "f32"},
                          input_box=write_box(tmp_path / "box.npz", LO, HI))
    text, block = stage(bundle)
    params = roundoff.read((bundle.path / "params.safetensors").read_bytes())
    assert roundoff.chain(block, params) is None
    assert ea.chain(ea.program(parse_module(text, "fp")), params) is None


def leaf_bound(prog, params, lo, hi, tighten: bool) -> float:
    dom = ea.domains(ea.chain(prog, params), lo, hi) if tighten else None
    _, out, _ = ea.run_leaf(prog, params, lo, hi, domains=dom)
    return float(np.max(np.abs(out.err.bounds())))


def test_tightened_bound_is_smaller_and_sound(wide):
    bundle, params = wide
    text, block = stage(bundle)
    prog = ea.program(parse_module(text, "fp"))
    before, after = leaf_bound(prog, params, LO, HI, False), leaf_bound(prog, params, LO, HI, True)
    assert after < before, (before, after)
    # the checker's recomputation over the whole box follows: smaller with its domains
    rules = ["h" * n for n in SIZES[1:-1]]
    plain = roundoff.run_leaf(block, params, LO, HI, rules)[1]
    blocks = roundoff.chain(block, params)
    dom = robust.layer_bounds(blocks, LO, HI, dict.fromkeys(range(1, len(blocks)), 0))
    tight = roundoff.run_leaf(block, params, LO, HI, rules, dom)[1]
    assert np.max(np.abs(tight[2].bounds())) < np.max(np.abs(plain[2].bounds()))
    # the compiled build: certified, checked, and sound against exact arithmetic
    m = bundle.manifest
    assert m["verified"] and m["certified_error_bound"]["certified"], m["checks"]
    bound = [Fraction(b) for b in m["certified_error_bound"]["abs"]]
    worst = 0.0
    for x in inputs_in_box(LO, HI, 150, seed=9):
        y, real = bundle.run(x).reshape(-1), exact_mlp(params, x)
        err = [abs(Fraction(float(a)) - r) for a, r in zip(y, real)]
        assert all(e <= b for e, b in zip(err, bound)), (x, err, bound)
        worst = max(worst, max(float(e / b) for e, b in zip(err, bound)))
    assert worst > 0


def test_relu_ranges_contain_the_real_values(wide):
    """The claimed ranges of the relu inputs (tightened) hold the exact pre-activations."""
    bundle, params = wide
    _, block = stage(bundle)
    claims = json.loads((bundle.path / "witnesses" / "error-bound.json").read_text())["claims"]
    at = {v["at"]: v for v in claims["values"]}
    pre = [op.operands[0] for op in block.ops if op.name == "fp.relu"]
    index = {op.results[0]: i for i, op in enumerate(block.ops) if op.results}
    for x in inputs_in_box(LO, HI, 30, seed=4):
        h = [Fraction(float(v)) for v in x.reshape(-1)]
        for k, value in enumerate(pre):
            w, b = params[f"fc{k}.weight"], params[f"fc{k}.bias"]
            h = [sum((Fraction(float(w[j, i])) * h[i] for i in range(len(h))), Fraction(float(b[j])))
                 for j in range(w.shape[0])]
            lo, hi = at[index[value]]["range"]
            assert all(Fraction(a) <= r <= Fraction(c) for a, r, c in zip(lo, h, hi))
            h = [max(r, Fraction(0)) for r in h]


def recompute(twin: Twin, tighten: bool = True):
    block = main_function(parse(twin.fp)).regions[0][0]
    with np.load(io.BytesIO(twin.box)) as z:
        lo, hi = z["lo"], z["hi"]
    params = roundoff.read(twin.params)
    if tighten:
        return roundoff.recompute(block, params, twin.witness["claims"]["tree"], lo, hi)
    saved = roundoff.chain
    roundoff.chain = lambda *_: None
    try:
        return roundoff.recompute(block, params, twin.witness["claims"]["tree"], lo, hi)
    finally:
        roundoff.chain = saved


def test_relu_range_one_ulp_inside_the_crown_range_is_rejected(wide):
    bundle, _ = wide
    twin = Twin(bundle)
    assert twin.verdict(rehash=False) == Accepted()
    (tight, bound), (plain, plain_bound) = recompute(twin), recompute(twin, tighten=False)
    assert np.all(bound <= plain_bound) and np.any(bound < plain_bound)
    _, block = stage(bundle)
    relus = [i for i, op in enumerate(block.ops) if op.name == "fp.relu"]
    # a relu output whose range the domains narrowed: claim exactly the recomputed range, then one ulp less
    i, j = next((i, int(np.argmax(plain[i][1] - tight[i][1]))) for i in relus if np.any(tight[i][1] < plain[i][1]))
    w = copy.deepcopy(twin.witness)
    v = next(v for v in w["claims"]["values"] if v["at"] == i)
    v["range"][1][j] = float(tight[i][1][j])
    assert twin.verdict(witness=w) == Accepted()
    v["range"][1][j] = float(np.nextafter(tight[i][1][j], -np.inf))
    assert "does not contain" in rejected(twin.verdict(witness=w))


def test_ranges_from_the_chain_of_other_parameters_are_rejected(wide, monkeypatch):
    """The oracle tightened with the chain of other weights (the first layer halved): its
    witness, bound to the real stage and parameters, claims ranges the checker's own chain
    does not give."""
    bundle, params = wide
    twin = Twin(bundle)
    with np.load(io.BytesIO(twin.box)) as z:
        lo, hi = z["lo"], z["hi"]
    real_chain = ea.chain

    def other(prog, p):
        blocks = real_chain(prog, p)
        blocks[0] = [(kind, c / 2 if kind == "lin" else c) for kind, c in blocks[0]]
        return blocks

    monkeypatch.setattr(ea, "chain", other)
    w = ea.witness(twin.fp, params, twin.params, lo, hi, twin.box)
    w["pass"] = twin.witness["pass"]
    assert "does not contain" in rejected(twin.verdict(witness=w))
