"""The certified error bound: error-analysis's roundoff witness and its check (verifier/roundoff.py).

A small seeded ReLU MLP (spec .mlir written here) is compiled with an input box for several
formats, rounding modes and accumulation formats. Soundness is tested against an
independent reference: the real-valued network evaluated in exact rational arithmetic
(fractions) on the float32 inputs the compiled library ran on, at the box's corners and at
random points. The checker must accept the compiler's witness, and reject tampered twins:
the output bound or one value's range or error narrowed to one ulp inside what the checker
recomputes, a wider box, a changed weight, a rounding mode or accumulation format changed
in the fp stage but not in the witness, a malformed split tree or relu rule.
"""

from __future__ import annotations

import copy
import io
import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import vnnc
from vnnc import safetensors
from vnnc.verifier import roundoff
from vnnc.verifier.check import Accepted, check, sha256
from vnnc.verifier.mlir import parse
from vnnc.verifier.semantics import main_function

SIZES = (6, 12, 12, 3)
CONFIGS = {  # name -> precision options
    "f32": {"precision": "f32"},
    "bf16": {"precision": "bf16"},
    "f16-down-f64": {"precision": "f16", "rounding": "down", "accumulate": "f64"},
    "fp8-e4m3fn": {"precision": "fp8-e4m3fn"},
    "fp8-e5m2-up": {"precision": "fp8-e5m2", "rounding": "up"},
    "e6m5-zero": {"precision": "e6m5", "rounding": "zero"},
    "f64": {"precision": "f64"},
    "mixed": {"precision": "bf16", "config": "mixed.json"},  # first layer f32, last f16 rounded down
}


def write_mlp(d: Path, sizes=SIZES, seed: int = 7, name: str = "mlp", column: bool = False) -> tuple[Path, dict]:
    """A ReLU MLP as a spec .mlir with its safetensors file (weights uniform in +-1/sqrt(fan_in));
    `column`: the input is [1, n, 1], flattened first (as MNIST networks in ONNX take it)."""
    rng = np.random.default_rng(seed)
    params, lines, prev = {}, [], "%x"
    x_type = f"tensor<1x{sizes[0]}x1xf32>" if column else f"tensor<1x{sizes[0]}xf32>"
    if column:
        lines.append(f"    %flat = spec.flatten %x : ({x_type}) -> tensor<1x{sizes[0]}xf32>")
        prev = "%flat"
    for k in range(len(sizes) - 1):
        n_in, n_out = sizes[k], sizes[k + 1]
        bound = 1 / np.sqrt(n_in)
        params[f"fc{k}.weight"] = rng.uniform(-bound, bound, (n_out, n_in)).astype(np.float32)
        params[f"fc{k}.bias"] = rng.uniform(-bound, bound, (n_out,)).astype(np.float32)
        for part in ("weight", "bias"):
            a = params[f"fc{k}.{part}"]
            lines.append(f'    %fc{k}_{part} = spec.param "fc{k}.{part}" {{sha256 = "{safetensors.param_sha256(a)}"}}'
                         f' : tensor<{"x".join(map(str, a.shape))}xf32>')
        lines.append(f"    %h{k} = spec.linear {prev}, %fc{k}_weight, %fc{k}_bias : (tensor<1x{n_in}xf32>, "
                     f"tensor<{n_out}x{n_in}xf32>, tensor<{n_out}xf32>) -> tensor<1x{n_out}xf32>")
        prev = f"%h{k}"
        if k < len(sizes) - 2:
            lines.append(f"    %a{k} = spec.relu {prev} : (tensor<1x{n_out}xf32>) -> tensor<1x{n_out}xf32>")
            prev = f"%a{k}"
    text = (f'builtin.module attributes {{vnnc.params = "{name}.safetensors"}} {{\n'
            f'  func.func @main(%x: {x_type} {{vnnc.name = "x"}}) -> '
            f'(tensor<1x{sizes[-1]}xf32> {{vnnc.name = "y"}}) {{\n' + "\n".join(lines)
            + f"\n    func.return {prev} : tensor<1x{sizes[-1]}xf32>\n  }}\n}}\n")
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{name}.mlir").write_text(text)
    safetensors.write(d / f"{name}.safetensors", params)
    return d / f"{name}.mlir", params


def write_box(path: Path, lo: np.ndarray, hi: np.ndarray) -> Path:
    np.savez(path, lo=lo, hi=hi)
    return path


def exact_mlp(params: dict, x: np.ndarray) -> list[Fraction]:
    """The real-valued network at x, in exact rational arithmetic."""
    h = [Fraction(float(v)) for v in x.reshape(-1)]
    layers = len(params) // 2
    for k in range(layers):
        w, b = params[f"fc{k}.weight"], params[f"fc{k}.bias"]
        h = [sum((Fraction(float(w[j, i])) * h[i] for i in range(len(h))), Fraction(float(b[j])))
             for j in range(w.shape[0])]
        if k < layers - 1:
            h = [max(v, Fraction(0)) for v in h]
    return h


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> tuple[Path, dict, Path]:
    d = tmp_path_factory.mktemp("roundoff")
    path, params = write_mlp(d)
    x0 = np.random.default_rng(3).uniform(-1, 1, (1, SIZES[0]))
    box = write_box(d / "box.npz", x0 - 0.05, x0 + 0.05)
    return path, params, box


@pytest.fixture(scope="module")
def bundles(model, tmp_path_factory) -> dict:
    path, _, box = model
    root = tmp_path_factory.mktemp("bundles")
    (root / "mixed.json").write_text(json.dumps({"layers": {"first": {"precision": "f32"},
                                                            "last": {"precision": "f16", "rounding": "down"}}}))
    return {name: vnnc.compile(path, out=root / name, input_box=box,
                               precision={k: str(root / v) if k == "config" else v for k, v in options.items()})
            for name, options in CONFIGS.items()}


def inputs_in_box(lo: np.ndarray, hi: np.ndarray, n: int, seed: int = 0) -> list[np.ndarray]:
    """The two corners and n uniform points, as float32 inside the box."""
    rng = np.random.default_rng(seed)
    xs = [lo, hi, *(rng.uniform(lo, hi) for _ in range(n))]
    out = []
    for x in xs:
        x32 = x.astype(np.float32)
        x32 = np.where(x32 < lo, np.nextafter(x32, np.float32(np.inf)), x32)
        out.append(np.where(x32 > hi, np.nextafter(x32, np.float32(-np.inf)), x32).astype(np.float32))
    return out


@pytest.mark.parametrize("name", list(CONFIGS))
def test_library_stays_within_the_certified_bound(model, bundles, name):
    _, params, box = model
    bundle = bundles[name]
    m = bundle.manifest
    assert m["verified"] and m["certified_error_bound"]["certified"], m["checks"]
    assert [r["stage"] for r in m["checks"]][-2:] == ["error-bound", "library"]
    bound = np.array(m["certified_error_bound"]["abs"])
    assert bound.shape == (SIZES[-1],) and np.all(np.isfinite(bound)) and np.all(bound > 0)
    with np.load(box) as z:
        lo, hi = z["lo"], z["hi"]
    worst = 0.0
    for x in inputs_in_box(lo, hi, 60):
        y = bundle.run(x).reshape(-1)
        real = exact_mlp(params, x)
        err = [abs(Fraction(float(a)) - r) for a, r in zip(y, real)]
        assert all(e <= Fraction(float(b)) for e, b in zip(err, bound)), (name, x, err, bound)
        worst = max(worst, max(float(e / Fraction(float(b))) for e, b in zip(err, bound)))
    assert worst > 0 or name == "f64"  # the comparison saw real rounding errors


def test_ranges_contain_the_real_intermediate_values(model, bundles):
    """Every claimed range of the f32 build holds the exact values of the linear layers."""
    _, params, box = model
    claims = json.loads((bundles["f32"].path / "witnesses" / "error-bound.json").read_text())["claims"]
    text = (bundles["f32"].path / "stages" / "01-assign-precision.mlir").read_text()
    ops = main_function(parse(text)).regions[0][0].ops
    linear = [v for v in claims["values"] if ops[v["at"]].name == "fp.linear"]
    assert len(linear) == len(SIZES) - 1
    with np.load(box) as z:
        xs = inputs_in_box(z["lo"], z["hi"], 20)
    for x in xs:
        h = [Fraction(float(v)) for v in x.reshape(-1)]
        for k, v in enumerate(linear):
            w, b = params[f"fc{k}.weight"], params[f"fc{k}.bias"]
            h = [sum((Fraction(float(w[j, i])) * h[i] for i in range(len(h))), Fraction(float(b[j])))
                 for j in range(w.shape[0])]
            lo, hi = v["range"]
            assert all(Fraction(a) <= r <= Fraction(c) for a, r, c in zip(lo, h, hi))
            h = [max(r, Fraction(0)) for r in h]


def test_the_bound_is_not_vacuous(bundles):
    """bf16 is coarser than f32 and fp8 coarser still; f64 computes finer (its result is then
    rounded to the f32 interface, which dominates its bound): the bounds say so."""
    worst = {k: max(b.manifest["certified_error_bound"]["abs"]) for k, b in bundles.items()}
    print(worst)
    assert worst["f64"] < worst["f32"] < 1e-4 < worst["bf16"] < worst["fp8-e4m3fn"]


def test_input_of_higher_rank(tmp_path):
    """An input [1, n, 1] flattened by the model: box, symbols and sampling follow its shape."""
    path, params = write_mlp(tmp_path, sizes=(5, 8, 2), seed=4, name="col", column=True)
    lo, hi = np.full((1, 5, 1), -0.25), np.full((1, 5, 1), 0.75)
    bundle = vnnc.compile(path, out=tmp_path / "b", precision={"precision": "f16"},
                          input_box=write_box(tmp_path / "col.npz", lo, hi))
    bound = bundle.manifest["certified_error_bound"]["abs"]
    assert bundle.manifest["verified"] and len(bound) == 2
    for x in inputs_in_box(lo, hi, 50, seed=2):
        y, real = bundle.run(x).reshape(-1), exact_mlp(params, x)
        assert all(abs(Fraction(float(a)) - r) <= Fraction(b) for a, r, b in zip(y, real, bound))


def test_split_tree_is_used_when_it_pays(model, tmp_path):
    """A wide box on a 2-input network: the analysis splits it, the checker walks every leaf."""
    path, params = write_mlp(tmp_path, sizes=(2, 16, 16, 2), seed=11, name="wide")
    box = write_box(tmp_path / "wide.npz", np.full((1, 2), -2.0), np.full((1, 2), 2.0))
    bundle = vnnc.compile(path, out=tmp_path / "b", precision={"precision": "bf16"}, input_box=box)
    bound = bundle.manifest["certified_error_bound"]
    assert bundle.manifest["verified"] and bound["leaves"] > 1
    for x in inputs_in_box(np.full((1, 2), -2.0), np.full((1, 2), 2.0), 200, seed=5):
        y, real = bundle.run(x).reshape(-1), exact_mlp(params, x)
        assert all(abs(Fraction(float(a)) - r) <= Fraction(b) for a, r, b in zip(y, real, bound["abs"]))


# ---------------------------------------------------------------- the checker and tampered twins


class Twin:
    """The witness of one build, with the files it speaks about, re-checkable after a change."""

    def __init__(self, bundle):
        d = bundle.path
        self.fp = (d / "stages" / "01-assign-precision.mlir").read_text()
        self.params = (d / "params.safetensors").read_bytes()
        self.box = (d / "input_box.npz").read_bytes()
        self.witness = json.loads((d / "witnesses" / "error-bound.json").read_text())

    def verdict(self, fp=None, witness=None, params=None, box=None, rehash=True):
        fp, params, box = fp or self.fp, params or self.params, box or self.box
        w = copy.deepcopy(witness or self.witness)
        if rehash:  # bind the witness to the changed files, so that the deep check decides
            w["source_sha256"] = w["target_sha256"] = sha256(fp)
            w["claims"]["params_sha256"], w["claims"]["input_box_sha256"] = sha256(params), sha256(box)
        return check(fp, fp, json.dumps(w), {"params": params, "box": box})

    def recomputed(self):
        block = main_function(parse(self.fp)).regions[0][0]
        with np.load(io.BytesIO(self.box)) as z:
            lo, hi = z["lo"], z["hi"]
        return roundoff.recompute(block, roundoff.read(self.params), self.witness["claims"]["tree"], lo, hi)


@pytest.fixture(scope="module")
def twin(bundles) -> Twin:
    return Twin(bundles["bf16"])


def rejected(verdict) -> str:
    assert verdict != Accepted() and not verdict, "the checker accepted a tampered twin"
    return verdict.reason


def test_witness_is_accepted(twin, bundles):
    assert twin.verdict(rehash=False) == Accepted()
    for name in CONFIGS:
        assert Twin(bundles[name]).verdict(rehash=False) == Accepted(), name


def test_claims_are_tight_to_the_recomputation(twin):
    """The claims exceed the checker's own numbers by the compiler's margin only, so the
    one-ulp twins below are real tests."""
    _, bound = twin.recomputed()
    claimed = np.array(twin.witness["claims"]["abs"])
    assert np.all(claimed >= bound) and np.all(claimed <= bound * (1 + 2.0**-25))


def test_output_bound_one_ulp_short_is_rejected(twin):
    _, bound = twin.recomputed()
    w = copy.deepcopy(twin.witness)
    w["claims"]["abs"][1] = float(np.nextafter(bound[1], 0))
    assert "output bound" in rejected(twin.verdict(witness=w))
    w["claims"]["abs"][1] = float(bound[1])  # exactly the recomputed bound is accepted
    assert twin.verdict(witness=w) == Accepted()


@pytest.mark.parametrize("part", ["range lo", "range hi", "error lo", "error hi"])
def test_value_claim_one_ulp_short_is_rejected(twin, part):
    hull, _ = twin.recomputed()
    w = copy.deepcopy(twin.witness)
    v = w["claims"]["values"][2]
    k = ["range lo", "range hi", "error lo", "error hi"].index(part)
    want = hull[v["at"]][k][0]
    v["range" if k < 2 else "error"][k % 2][0] = float(np.nextafter(want, np.inf if k % 2 == 0 else -np.inf))
    assert "does not contain" in rejected(twin.verdict(witness=w))


def test_missing_value_claim_is_rejected(twin):
    w = copy.deepcopy(twin.witness)
    del w["claims"]["values"][-1]
    assert "every computed value" in rejected(twin.verdict(witness=w))


def test_wider_box_is_rejected(twin):
    with np.load(io.BytesIO(twin.box)) as z:
        lo, hi = z["lo"], z["hi"]
    buf = io.BytesIO()
    np.savez(buf, lo=lo - 0.01, hi=hi)
    assert rejected(twin.verdict(box=buf.getvalue()))
    assert "input box" in rejected(twin.verdict(box=buf.getvalue(), rehash=False))


def test_changed_weight_is_rejected(twin, tmp_path):
    arrays = roundoff.read(twin.params)
    old = safetensors.param_sha256(arrays["fc1.weight"])
    arrays["fc1.weight"] = arrays["fc1.weight"].copy()
    arrays["fc1.weight"][0, 0] *= 1.5
    safetensors.write(tmp_path / "p.safetensors", arrays)
    params = (tmp_path / "p.safetensors").read_bytes()
    assert "differs from its hash" in rejected(twin.verdict(params=params))
    # with the stage's hash changed as well, the recomputation no longer fits the claims
    fp = twin.fp.replace(old, safetensors.param_sha256(arrays["fc1.weight"]))
    assert fp != twin.fp
    assert "does not contain" in rejected(twin.verdict(fp=fp, params=params))


def test_rounding_mode_changed_in_the_stage_is_rejected(bundles):
    """The fp stage rounds up where the witness was made for round-to-nearest: the unit
    roundoff doubles and the recomputed errors outgrow the claims."""
    t = Twin(bundles["bf16"])
    assert t.fp.count('rounding = "nearest"') > 3
    assert rejected(t.verdict(fp=t.fp.replace('rounding = "nearest"', 'rounding = "up"')))


def test_accumulation_format_changed_in_the_stage_is_rejected(bundles):
    """f16 storage accumulated in f32 instead of the f64 the witness was made for."""
    t = Twin(bundles["f16-down-f64"])
    assert 'acc = "f64"' in t.fp
    assert rejected(t.verdict(fp=t.fp.replace('acc = "f64"', 'acc = "f32"')))


def test_storage_format_changed_in_the_stage_is_rejected(bundles):
    t = Twin(bundles["bf16"])
    assert "tensor<1x12xbf16>" in t.fp
    assert rejected(t.verdict(fp=t.fp.replace("tensor<1x12xbf16>", "tensor<1x12xf8E5M2>")))


@pytest.mark.parametrize("tree", [
    {"dim": 0, "at": 5.0, "below": {"relu": ["h" * 12] * 2}, "above": {"relu": ["h" * 12] * 2}},
    {"dim": 9, "at": 0.0, "below": {"relu": ["h" * 12] * 2}, "above": {"relu": ["h" * 12] * 2}},
    {"relu": ["h" * 12]},
    {"relu": ["h" * 12, "x" * 12]},
    {"relu": ["h" * 11, "h" * 12]},
    {"relu": ["h" * 12] * 3},
    {"below": {"relu": []}},
])
def test_malformed_tree_is_rejected(twin, tree):
    w = copy.deepcopy(twin.witness)
    w["claims"]["tree"] = tree
    rejected(twin.verdict(witness=w))


def test_other_relu_rules_are_checked_not_trusted(twin):
    """Any rule is sound, so a witness with other rules is judged by its own recomputation:
    with every rule `h`, the bound grows and the original claims no longer cover it."""
    w = copy.deepcopy(twin.witness)
    w["claims"]["tree"] = {"relu": ["b" * 12, "b" * 12]}
    assert rejected(twin.verdict(witness=w))


def test_wrong_pass_or_claim_keys_are_rejected(twin):
    for change in (lambda w: w.update({"pass": "assign-precision"}), lambda w: w["claims"].pop("tree"),
                   lambda w: w["claims"].update({"extra": 1})):
        w = copy.deepcopy(twin.witness)
        change(w)
        rejected(twin.verdict(witness=w))
    assert "is not the one" in rejected(check(twin.fp, twin.fp, json.dumps(twin.witness),
                                              {"params": twin.params + b" ", "box": twin.box}))


def test_relu_rounding_into_a_coarser_format_is_counted(tmp_path):
    """Regression: a first layer kept in f32 feeds a relu stored in fp8-e5m2 (the default
    format): the relu then rounds, and the bound must include that rounding."""
    path, params = write_mlp(tmp_path, sizes=(6, 12, 3), seed=9, name="coarse")
    (tmp_path / "first.json").write_text(json.dumps({"layers": {"first": {"precision": "f32"}}}))
    x0 = np.random.default_rng(4).uniform(-1, 1, (1, 6))
    box = write_box(tmp_path / "box.npz", x0 - 0.1, x0 + 0.1)
    bundle = vnnc.compile(path, out=tmp_path / "b", input_box=box,
                          precision={"precision": "fp8-e5m2", "config": str(tmp_path / "first.json")})
    fp = (bundle.path / "stages" / "01-assign-precision.mlir").read_text()
    assert "f8E5M2" in fp and "tensor<1x12xf32>" in fp  # an f32 layer, then an fp8 relu
    bound = bundle.manifest["certified_error_bound"]["abs"]
    worst = 0.0
    for x in inputs_in_box(x0 - 0.1, x0 + 0.1, 300, seed=3):
        y, real = bundle.run(x).reshape(-1), exact_mlp(params, x)
        err = [abs(Fraction(float(a)) - r) for a, r in zip(y, real)]
        assert all(e <= Fraction(b) for e, b in zip(err, bound)), (err, bound)
        worst = max(worst, max(float(e) / b for e, b in zip(err, bound)))
    assert worst > 0.05  # the samples come near the bound: the relu's rounding is real


def test_a_format_holds_itself():
    """Regressions: storing an fp8-e4m3fn value as fp8-e4m3fn (relu) is exact, although the
    format has no infinity; an IEEE e4m3 (largest 240) does not hold fp8-e4m3fn's values up
    to 448, so converting between them is a rounding that may overflow, not an exact step."""
    from vnnc.passes.error_analysis import contains

    for name in ("fp8-e4m3fn", "fp8-e4m3fn-sat", "fp8-e5m2", "bf16", "e6m5"):
        assert roundoff.within(name, name) and contains(name, name)
    assert roundoff.within("f32", "fp8-e4m3fn") and not roundoff.within("e4m3", "fp8-e4m3fn")
    assert not roundoff.within("bf16", "f16") and not contains("fp8-e5m2", "fp8-e4m3fn")
