"""The computed relu inputs bounded over the fp program's own chain (the certified error bound).

Where the fp stage is a chain of affine maps and relus, the error analysis and its checker
build the fp program itself as robust.py's chain, op by op: the rounded parameters, and each
op's roundoff (accumulation and storage) as a perturbation step `pm` (plus an unknown d,
|d| <= c). robust.py's `layer_bounds` over it, from the relu's own layer on (`first`), bounds
the value the fp program feeds each relu; a neuron inactive in the reals whose fp input is
proven inactive too then carries no error at all.

Tested here: `pm` steps in robust.py enclose every perturbation (exact rationals, at the
perturbations' extremes), `first` reuses the given lower domains exactly; on ACAS Xu 1_1 in
bf16 (from ../shared/data, skipped where absent) the analysis and the checker's
recomputation both give a bound several times smaller than without the fp chain, the build
is certified and checked, and the compiled library stays within the bound against the real
network in exact rationals; a hostile oracle whose fp chain leaves the roundoff out claims
ranges the checker rejects.
"""

from __future__ import annotations

import io
import itertools
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import vnnc
from test_roundoff import Twin, inputs_in_box, rejected, write_box
from vnnc.frontend_mlir import parse_module
from vnnc.passes import error_analysis as ea
from vnnc.verifier import robust, roundoff
from vnnc.verifier.check import Accepted
from vnnc.verifier.mlir import parse
from vnnc.verifier.sampled import check_library
from vnnc.verifier.semantics import main_function

ACAS = Path(__file__).resolve().parents[3] / "shared" / "data" / "vnncomp2021" / "acasxu"
PROP1_LO = np.array([0.6, -0.5, -0.5, 0.45, -0.5])  # prop_1.vnnlib's box
PROP1_HI = np.array([0.679857769, 0.5, 0.5, 0.5, -0.45])


def random_chain(rng, sizes=(3, 6, 6, 2), pm=0.05) -> list:
    blocks = []
    for n_in, n_out in itertools.pairwise(sizes):
        blocks.append([("pm", rng.uniform(0, pm, n_in)), ("lin", rng.uniform(-1, 1, (n_out, n_in))),
                       ("add", rng.uniform(-0.5, 0.5, n_out)), ("pm", rng.uniform(0, pm, n_out))])
    return blocks


def exact_chain(blocks, x, signs) -> list[list[Fraction]]:
    """z_1 .. z_L at x, each pm step adding sign * c (signs: one +-1 per element of each pm)."""
    v, zs, s = [Fraction(float(t)) for t in x], [], iter(signs)
    for k, block in enumerate(blocks):
        if k:
            v = [max(t, Fraction(0)) for t in v]
        for kind, c in block:
            if kind == "lin":
                v = [sum((Fraction(float(w)) * t for w, t in zip(row, v)), Fraction(0)) for row in c]
            elif kind == "add":
                v = [t + Fraction(float(a)) for t, a in zip(v, c)]
            else:
                v = [t + Fraction(float(a)) * int(g) for t, a, g in zip(v, c, next(s))]
        zs.append(v)
    return zs


def test_pm_steps_enclose_every_perturbation():
    rng = np.random.default_rng(5)
    blocks = random_chain(rng)
    lo, hi = np.full((1, 3), -1.0), np.full((1, 3), 1.0)
    bounds = robust.layer_bounds(blocks, lo, hi, dict.fromkeys(range(1, len(blocks)), 0))
    plain = robust.layer_bounds([[s for s in b if s[0] != "pm"] for b in blocks], lo, hi,
                                dict.fromkeys(range(1, len(blocks)), 0))
    for k in bounds:  # the perturbations are counted: every domain strictly wider than without
        assert np.all(bounds[k][0] < plain[k][0]) and np.all(bounds[k][1] > plain[k][1])
    sizes = [len(c) for b in blocks for kind, c in b if kind == "pm"]
    for _ in range(150):
        x = rng.uniform(-1, 1, 3)
        x[rng.random(3) < 0.5] = rng.choice([-1.0, 1.0])  # corners and faces too
        signs = [rng.choice([-1, 1], n) for n in sizes]  # the perturbations at their extremes
        zs = exact_chain(blocks, x, signs)
        for k, (l, u) in bounds.items():
            assert all(Fraction(a) <= z <= Fraction(b) for a, z, b in zip(l[0], zs[k - 1], u[0])), (k, x)


def test_first_reuses_the_given_lower_domains():
    rng = np.random.default_rng(8)
    blocks = random_chain(rng, sizes=(4, 8, 8, 8, 3))
    lo, hi = np.full((1, 4), -1.0), np.full((1, 4), 1.0)
    splits = dict.fromkeys(range(1, len(blocks)), 0)
    full = robust.layer_bounds(blocks, lo, hi, splits)
    for first in range(1, len(blocks)):
        root = {k: full[k] if k < first else (np.full_like(full[k][0], -np.inf), np.full_like(full[k][1], np.inf))
                for k in full}
        part = robust.layer_bounds(blocks[:first + 1], lo, hi, splits, root, first=first)
        assert sorted(part) == list(range(1, first + 1))
        assert all(np.array_equal(part[k][0], full[k][0]) and np.array_equal(part[k][1], full[k][1]) for k in part)


# ---------------------------------------------------------------- ACAS Xu 1_1 in bf16


def without_fp_chain(cls, monkeypatch):
    """Leaf objects of `cls` built without the fp chain (the analysis before it)."""
    real = cls.__init__

    def init(self, *a, **k):
        real(self, *a, **k)
        self.fp = None

    monkeypatch.setattr(cls, "__init__", init)


@pytest.fixture(scope="module")
def acas(tmp_path_factory):
    onnx = ACAS / "ACASXU_run2a_1_1_batch_2000.onnx"
    if not onnx.exists():
        pytest.skip(f"{onnx} is absent: the ACAS Xu networks come from ../shared/data")
    d = tmp_path_factory.mktemp("acas")
    mid, rad = (PROP1_LO + PROP1_HI) / 2, (PROP1_HI - PROP1_LO) / 2 * 0.05  # 5% of prop_1's box
    lo, hi = (mid - rad).reshape(1, 1, 1, 5), (mid + rad).reshape(1, 1, 1, 5)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(ea, "MAX_LEAVES", 1)  # one box: the fp chain's effect, not the split search's
        bundle = vnnc.compile(onnx, out=d / "b", precision={"precision": "bf16"},
                              input_box=write_box(d / "box.npz", lo, hi))
    return bundle, lo, hi


def leaf_bound(text: str, params: dict, lo, hi, per_output=False):
    prog = ea.program(parse_module(text, "fp"))
    _, out, _ = ea.run_leaf(prog, params, lo, hi, domains=ea.domains(ea.chain(prog, params), lo, hi))
    bound = np.max(np.abs(out.err.bounds()), axis=0)
    return bound if per_output else float(np.max(bound))


def exact_acas(params: dict, x: np.ndarray) -> list[Fraction]:
    """ACAS Xu's real network (x - mean, then 6 relu layers and a linear one) in exact rationals."""
    h = [Fraction(float(a)) - Fraction(float(m)) for a, m in zip(x.reshape(-1), params["input_AvgImg"].reshape(-1))]
    for k in range(1, 8):
        name = "Operation" if k < 7 else "linear"
        w, b = params[f"{name}_{k}_MatMul_W"], params[f"{name}_{k}_Add_B"]
        h = [sum((Fraction(float(w[i, j])) * h[i] for i in range(len(h))), Fraction(float(b[j])))
             for j in range(w.shape[1])]
        h = [max(v, Fraction(0)) for v in h] if k < 7 else h
    return h


def test_acas_bound_with_the_fp_chain_is_smaller_checked_and_sound(acas, monkeypatch):
    bundle, lo, hi = acas
    m = bundle.manifest
    assert m["verified"] and m["certified_error_bound"]["certified"], m["checks"]
    assert m["certified_error_bound"]["leaves"] == 1
    twin = Twin(bundle)
    assert twin.verdict(rehash=False) == Accepted()
    params = roundoff.read(twin.params)
    bound = np.asarray(m["certified_error_bound"]["abs"])
    with_chain = leaf_bound(twin.fp, params, lo, hi)
    assert with_chain <= float(np.max(bound))
    block = main_function(parse(twin.fp)).regions[0][0]
    checked = roundoff.recompute(block, params, twin.witness["claims"]["tree"], lo, hi)[1]
    with monkeypatch.context() as mp:  # the analysis and the checker without it: several times looser
        without_fp_chain(ea.Leaf, mp)
        without_fp_chain(roundoff.Leaf, mp)
        assert leaf_bound(twin.fp, params, lo, hi) > 3 * with_chain
        looser = roundoff.recompute(block, params, twin.witness["claims"]["tree"], lo, hi)[1]
    assert np.max(looser) > 3 * np.max(checked) and np.all(checked <= bound)
    # the compiled library against the real network in exact rationals: corners and uniform points
    corners = [np.where(np.array(c, bool).reshape(lo.shape), hi, lo) for c in itertools.product((0, 1), repeat=5)]
    worst = 0.0
    for x in [*corners, *inputs_in_box(lo, hi, 200, seed=2)]:
        x32 = x.astype(np.float32)  # inside the box: float32 rounding moves a point inward
        x32 = np.where(x32 < lo, np.nextafter(x32, np.float32(np.inf)), x32)
        x32 = np.where(x32 > hi, np.nextafter(x32, np.float32(-np.inf)), x32).astype(np.float32)
        y, real = bundle.run(x32).reshape(-1), exact_acas(params, x32)
        err = [abs(Fraction(float(a)) - r) for a, r in zip(y, real)]
        assert all(e <= Fraction(float(b)) for e, b in zip(err, bound)), (x32, err, bound)
        worst = max(worst, max(float(e) / b for e, b in zip(err, bound)))
    assert worst > 0


def test_an_fp_chain_without_the_roundoff_is_rejected(acas, monkeypatch):
    """A hostile oracle: the fp chain with its perturbation steps left out bounds the relu
    inputs as if the fp program computed exactly; the checker's own chain keeps them."""
    twin = Twin(acas[0])
    real = robust.layer_bounds
    monkeypatch.setattr(robust, "layer_bounds", lambda blocks, *a, **k: real(
        [[s for s in b if s[0] != "pm"] for b in blocks], *a, **k))
    monkeypatch.setattr(ea, "MAX_LEAVES", 1)
    with np.load(io.BytesIO(twin.box)) as z:
        box_lo, box_hi = z["lo"], z["hi"]
    w = ea.witness(twin.fp, roundoff.read(twin.params), twin.params, box_lo, box_hi, twin.box)
    w["pass"] = twin.witness["pass"]
    assert np.max(w["claims"]["abs"]) < np.max(twin.witness["claims"]["abs"])
    assert "does not contain" in rejected(twin.verdict(witness=w))


def test_subtracting_an_exact_zero_adds_no_rounding(acas):
    """ACAS Xu subtracts its input mean, all zeros: x - 0 of a bf16 x is stored in bf16 as it
    is, so the difference's claimed error is the rounded input's, not one more rounding."""
    bundle, _, _ = acas
    twin = Twin(bundle)
    block = main_function(parse(twin.fp)).regions[0][0]
    sub = next(i for i, op in enumerate(block.ops) if op.name == "fp.sub")
    rounded = next(i for i, op in enumerate(block.ops) if op.name == "fp.round" and op.operands[0] == block.args[0][0])
    assert not np.any(roundoff.read(twin.params)["input_AvgImg"])
    claims = {v["at"]: v for v in twin.witness["claims"]["values"]}
    assert np.any(np.asarray(claims[rounded]["error"][1]) > 0)  # the input's rounding is counted
    hull = roundoff.recompute(block, roundoff.read(twin.params), twin.witness["claims"]["tree"], *acas[1:])[0]
    # equal up to the float64 rounding of the forms' arithmetic, far below a bf16 half-ulp (2^-10 here)
    for a, b in zip(hull[sub][2:], hull[rounded][2:]):
        assert np.allclose(a, b, rtol=1e-12, atol=1e-15), (a, b)


def test_a_rounded_relu_input_takes_its_operands_domain_rounded(acas, monkeypatch):
    """x^ = round(t) at a relu: t's domain over the fp chain (the last op's pm its arithmetic's
    alone), rounded, bounds x^ (rounding is monotone). Without that rule, in the analysis and
    in the checker alike, every output's bound on ACAS Xu's leaf is looser."""
    bundle, lo, hi = acas
    twin = Twin(bundle)
    params = roundoff.read(twin.params)
    block = main_function(parse(twin.fp)).regions[0][0]
    tree = twin.witness["claims"]["tree"]
    analysed, checked = leaf_bound(twin.fp, params, lo, hi, per_output=True), roundoff.recompute(block, params, tree, lo, hi)[1]
    with monkeypatch.context() as mp:
        for cls, none in ((ea.Leaf, None), (roundoff.Leaf, ())):
            real = cls.store

            def store(self, *a, _real=real, _none=none, **k):
                out = _real(self, *a, **k)
                self.last = _none  # no rounding remembered: every relu input takes the whole pm
                return out

            mp.setattr(cls, "store", store)
        looser_analysed = leaf_bound(twin.fp, params, lo, hi, per_output=True)
        looser_checked = roundoff.recompute(block, params, tree, lo, hi)[1]
    assert np.all(analysed < looser_analysed) and np.all(checked < looser_checked)
    assert np.all(checked <= np.asarray(bundle.manifest["certified_error_bound"]["abs"]))


def test_the_library_row_encloses_the_real_output_whatever_the_fp_programs_range(tmp_path):
    """The library row compares the binary's outputs on sampled inputs with an enclosure of the
    real output there (`roundoff.enclose`). On a chain it is interval arithmetic through the
    real network at the point. It was the fp analysis at a one-point box with rule h at every
    relu, whose error bound alone overflows e5m4 on ACAS Xu (the box's analysis needs its fp
    chain and splits there), so a certified build was rejected."""
    onnx = ACAS / "ACASXU_run2a_1_1_batch_2000.onnx"
    if not onnx.exists():
        pytest.skip(f"{onnx} is absent: the ACAS Xu networks come from ../shared/data")
    bundle = vnnc.compile(onnx, out=tmp_path / "b", precision={"precision": "e5m4"})
    fp_text = (bundle.path / "stages" / "01-assign-precision.mlir").read_text()
    params = (bundle.path / "params.safetensors").read_bytes()
    block = main_function(parse(fp_text)).regions[0][0]
    rules = ["h" * int(np.prod(op.result_types[0].shape)) for op in block.ops if op.name == "fp.relu"]
    lo, hi = PROP1_LO.reshape(1, 1, 1, 5), PROP1_HI.reshape(1, 1, 1, 5)
    for x in inputs_in_box(lo, hi, 20, seed=4):
        x = x.astype(np.float64)
        a, b = roundoff.enclose(fp_text, params, x)
        real = exact_acas(roundoff.read(params), x)
        assert all(Fraction(float(p)) <= r <= Fraction(float(q)) for p, r, q in zip(a, real, b))
        assert np.all(b - a < 1e-12)
    with pytest.raises(roundoff.Reject, match="may overflow e5m4"):  # the analysis' own range at a point
        roundoff.run_leaf(block, roundoff.read(params), x, x, rules)


def test_the_library_row_rejects_outputs_beyond_a_claimed_bound_of_zero(acas):
    """The library row's tampered twin: the same library and box, a bound of 0 claimed, so the
    bf16 binary's outputs lie beyond it around the real output's enclosure."""
    bundle = acas[0]
    root, m = bundle.path, bundle.manifest
    fp = (root / "stages" / "01-assign-precision.mlir").read_text()
    params = (root / "params.safetensors").read_bytes()
    bound = m["certified_error_bound"]["abs"]
    box = root / m["certified_error_bound"]["input_box"]
    assert check_library(root, m, fp, params, (fp, box, bound)) == Accepted()
    zero = check_library(root, m, fp, params, (fp, box, [0.0 for _ in bound]))
    assert "beyond the certified bound" in rejected(zero)
