"""The error bound through tanh, sigmoid and exp, and the ulp contracts of libm calls.

Small seeded MLPs with tanh and sigmoid activations (and one ending in exp) are compiled
with an input box in f32, f16, bf16 and bf16 rounded down with f64 accumulation. Soundness
is tested against an independent reference: the real-valued network evaluated with mpmath
at 40 digits on the float32 inputs the compiled library ran on (corners and uniform
points); no sampled error may exceed the certified bound, and every claimed range must hold
the real intermediate values. Tampered twins: a contract lowered, renamed, dropped or put
on an op that calls no libm function (rejected by the precision and the roundoff checks),
an output bound, a range and an error one ulp short.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import mpmath
import numpy as np
import pytest
import vnnc
from test_roundoff import Twin, inputs_in_box, rejected, write_box
from vnnc import safetensors
from vnnc.dialects import fp
from vnnc.verifier import precision, roundoff
from vnnc.verifier.check import Accepted, check
from vnnc.verifier.mlir import parse
from vnnc.verifier.semantics import main_function

mpmath.mp.dps = 40
CONFIGS = {
    "f32": {"precision": "f32"},
    "f16": {"precision": "f16"},
    "bf16": {"precision": "bf16"},
    "bf16-down-f64": {"precision": "bf16", "rounding": "down", "accumulate": "f64"},
}
ACTS = {"act": ("tanh", "sigmoid"), "exp": ("tanh", "exp"), "softmax": ("tanh", "relu")}  # after each hidden layer
HEADS = {"softmax": "softmax"}  # an op after the last layer
SIZES = (4, 10, 8, 3)
REAL = {"tanh": mpmath.tanh, "sigmoid": lambda v: 1 / (1 + mpmath.exp(-v)), "exp": mpmath.exp,
        "relu": lambda v: max(v, 0)}


def write_model(d: Path, acts, sizes=SIZES, seed: int = 5, name: str = "act", head: str = "") -> tuple[Path, dict]:
    """linear -> act[0] -> linear -> act[1] -> linear [-> head along the last axis], weights
    uniform in +-1.5/sqrt(fan_in)."""
    rng = np.random.default_rng(seed)
    params, lines, prev = {}, [], "%x"
    for k in range(len(sizes) - 1):
        n_in, n_out = sizes[k], sizes[k + 1]
        params[f"fc{k}.weight"] = rng.uniform(-1.5, 1.5, (n_out, n_in)).astype(np.float32) / np.float32(np.sqrt(n_in))
        params[f"fc{k}.bias"] = rng.uniform(-0.5, 0.5, (n_out,)).astype(np.float32)
        for part in ("weight", "bias"):
            a = params[f"fc{k}.{part}"]
            lines.append(f'    %fc{k}_{part} = spec.param "fc{k}.{part}" {{sha256 = "{safetensors.param_sha256(a)}"}}'
                         f' : tensor<{"x".join(map(str, a.shape))}xf32>')
        lines.append(f"    %h{k} = spec.linear {prev}, %fc{k}_weight, %fc{k}_bias : (tensor<1x{n_in}xf32>, "
                     f"tensor<{n_out}x{n_in}xf32>, tensor<{n_out}xf32>) -> tensor<1x{n_out}xf32>")
        prev = f"%h{k}"
        if k < len(acts):
            lines.append(f"    %a{k} = spec.{acts[k]} {prev} : (tensor<1x{n_out}xf32>) -> tensor<1x{n_out}xf32>")
            prev = f"%a{k}"
    if head:
        lines.append(f"    %head = spec.{head} {prev} {{axis = 1 : i64}} : (tensor<1x{sizes[-1]}xf32>) -> "
                     f"tensor<1x{sizes[-1]}xf32>")
        prev = "%head"
    text = (f'builtin.module attributes {{vnnc.params = "{name}.safetensors"}} {{\n'
            f'  func.func @main(%x: tensor<1x{sizes[0]}xf32> {{vnnc.name = "x"}}) -> '
            f'(tensor<1x{sizes[-1]}xf32> {{vnnc.name = "y"}}) {{\n' + "\n".join(lines)
            + f"\n    func.return {prev} : tensor<1x{sizes[-1]}xf32>\n  }}\n}}\n")
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{name}.mlir").write_text(text)
    safetensors.write(d / f"{name}.safetensors", params)
    return d / f"{name}.mlir", params


def real_network(params: dict, acts, x: np.ndarray, head: str = "") -> list[list]:
    """Every linear's, activation's and the head's real value at x (mpmath, 40 digits), in order."""
    h = [mpmath.mpf(float(v)) for v in x.reshape(-1)]
    values = []
    for k in range(len(params) // 2):
        w, b = params[f"fc{k}.weight"], params[f"fc{k}.bias"]
        h = [mpmath.fsum([mpmath.mpf(float(w[j, i])) * h[i] for i in range(len(h))] + [mpmath.mpf(float(b[j]))])
             for j in range(w.shape[0])]
        values.append(h)
        if k < len(acts):
            h = [REAL[acts[k]](v) for v in h]
            values.append(h)
    if head == "softmax":
        total = mpmath.fsum([mpmath.exp(v) for v in h])
        values.append([mpmath.exp(v) / total for v in h])
    return values


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("smooth")
    x0 = np.random.default_rng(9).uniform(-1, 1, (1, SIZES[0]))
    box = write_box(d / "box.npz", x0 - 0.1, x0 + 0.1)
    return {name: (*write_model(d, acts, name=name, head=HEADS.get(name, "")), box) for name, acts in ACTS.items()}


@pytest.fixture(scope="module")
def bundles(models, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("smooth-bundles")
    out = {}
    for config, options in CONFIGS.items():
        path, _, box = models["act"]
        out[("act", config)] = vnnc.compile(path, out=root / f"act-{config}", input_box=box, precision=options)
    for name, config in (("exp", "f32"), ("softmax", "f32"), ("softmax", "bf16")):
        path, _, box = models[name]
        out[(name, config)] = vnnc.compile(path, out=root / f"{name}-{config}", input_box=box,
                                           precision=CONFIGS[config])
    return out


def test_contracts_come_from_one_measured_table():
    """The compiler's table and the checker's own copy hold the same numbers; every op whose
    kernel calls libm names its functions."""
    assert {k: tuple(v[m] for m in fp.ROUNDINGS) for k, v in fp.ULP_CONTRACTS.items()} == precision.ULPS
    assert set(fp.LIBM_CALLS) == set(precision.LIBM)
    for op, names in fp.LIBM_CALLS.items():
        assert precision.LIBM[op] == ",".join(names)
    assert fp.libm_functions("gelu", {"approximate": "tanh", "acc": "f32"}) == ("tanhf",)
    assert fp.libm_functions("log_softmax", {"acc": "f64"}) == ("exp", "log")
    assert fp.libm_functions("relu", {"acc": "f32"}) == ()


@pytest.mark.parametrize("config", list(CONFIGS))
def test_fp_stage_carries_the_contract(bundles, config):
    text = (bundles[("act", config)].path / "stages" / "01-assign-precision.mlir").read_text()
    acc = CONFIGS[config].get("accumulate", "f32")
    mode = CONFIGS[config].get("rounding", "nearest")
    suffix = "f" if acc == "f32" else ""
    tanh = re.search(r'"fp.tanh".*libm = "([a-z]+)", ulp = ([0-9.e+-]+) : f64', text)
    sigmoid = re.search(r'"fp.sigmoid".*libm = "([a-z]+)", ulp = ([0-9.e+-]+) : f64', text)
    assert tanh and tanh.group(1) == "tanh" + suffix and float(tanh.group(2)) == fp.ULP_CONTRACTS["tanh" + suffix][mode]
    assert sigmoid and sigmoid.group(1) == "exp" + suffix
    assert float(sigmoid.group(2)) == fp.ULP_CONTRACTS["exp" + suffix][mode]
    assert not re.search(r'"fp.linear".*ulp', text)


@pytest.mark.parametrize("key", [("act", c) for c in CONFIGS] + [("exp", "f32"), ("softmax", "f32"),
                                                                   ("softmax", "bf16")])
def test_library_stays_within_the_certified_bound(models, bundles, key):
    _, params, box = models[key[0]]
    bundle = bundles[key]
    m = bundle.manifest
    assert m["verified"] and m["certified_error_bound"]["certified"], m["checks"]
    bound = np.array(m["certified_error_bound"]["abs"])
    assert bound.shape == (SIZES[-1],) and np.all(np.isfinite(bound)) and np.all(bound > 0)
    with np.load(box) as z:
        lo, hi = z["lo"], z["hi"]
    worst = 0.0
    for x in inputs_in_box(lo, hi, 40):
        y = bundle.run(x).reshape(-1)
        real = real_network(params, ACTS[key[0]], x, HEADS.get(key[0], ""))[-1]
        for a, r, b in zip(y, real, bound):
            err = abs(mpmath.mpf(float(a)) - r)
            assert err <= b, (key, x, float(err), b)
            worst = max(worst, float(err / b))
    assert worst > 0  # the comparison saw real rounding errors
    print(key, "largest sampled error / bound:", worst)


@pytest.mark.parametrize("key", [("act", "f32"), ("act", "bf16"), ("exp", "f32"), ("softmax", "bf16")])
def test_ranges_contain_the_real_values(models, bundles, key):
    """Every claimed range holds the real value of its linear, activation or softmax."""
    _, params, box = models[key[0]]
    d = bundles[key].path
    claims = json.loads((d / "witnesses" / "error-bound.json").read_text())["claims"]
    ops = main_function(parse((d / "stages" / "01-assign-precision.mlir").read_text())).regions[0][0].ops
    kinds = ("fp.linear", "fp.tanh", "fp.sigmoid", "fp.exp", "fp.relu", "fp.softmax")
    claimed = [v for v in claims["values"] if ops[v["at"]].name in kinds]
    assert len(claimed) == 2 * len(SIZES) - 3 + (key[0] in HEADS)
    with np.load(box) as z:
        xs = inputs_in_box(z["lo"], z["hi"], 20, seed=4)
    for x in xs:
        for v, real in zip(claimed, real_network(params, ACTS[key[0]], x, HEADS.get(key[0], ""))):
            lo, hi = v["range"]
            assert all(a <= r <= c for a, r, c in zip(lo, real, hi)), ops[v["at"]].name


def test_a_wide_box_is_split_and_stays_sound(tmp_path):
    """tanh and sigmoid over [-3, 3]^2: curved enough that the split search pays."""
    path, params = write_model(tmp_path, ("tanh", "sigmoid"), sizes=(2, 8, 8, 2), seed=3, name="wide")
    lo, hi = np.full((1, 2), -3.0), np.full((1, 2), 3.0)
    bundle = vnnc.compile(path, out=tmp_path / "b", precision={"precision": "f16"},
                          input_box=write_box(tmp_path / "wide.npz", lo, hi))
    bound = bundle.manifest["certified_error_bound"]
    assert bundle.manifest["verified"] and bound["leaves"] > 1
    for x in inputs_in_box(lo, hi, 100, seed=6):
        y, real = bundle.run(x).reshape(-1), real_network(params, ("tanh", "sigmoid"), x)[-1]
        assert all(abs(mpmath.mpf(float(a)) - r) <= b for a, r, b in zip(y, real, bound["abs"]))


def test_sigmoid_exp_overflow_means_no_bound(tmp_path):
    """exp(-x) of a sigmoid input reaching -1e3 overflows f32: no bound, one clear error."""
    path, _ = write_model(tmp_path, ("sigmoid", "tanh"), sizes=(2, 3, 3, 1), seed=1, name="big")
    box = write_box(tmp_path / "big.npz", np.full((1, 2), -1e4), np.full((1, 2), 1e4))
    with pytest.raises(Exception, match="exp\\(-x\\) may overflow f32"):
        vnnc.compile(path, out=tmp_path / "o", input_box=box)


# ---------------------------------------------------------------- tampered twins


@pytest.fixture(scope="module")
def twin(bundles) -> Twin:
    return Twin(bundles[("act", "f32")])


def precision_verdict(bundle, fp_text: str):
    d = bundle.path
    spec = (d / "stages" / "00-import.mlir").read_text()
    w = json.loads((d / "witnesses" / "01-assign-precision.json").read_text())
    w["target_sha256"] = __import__("hashlib").sha256(fp_text.encode()).hexdigest()
    return check(spec, fp_text, json.dumps(w))


def test_witnesses_are_accepted(twin, bundles):
    assert twin.verdict(rehash=False) == Accepted()
    for key, bundle in bundles.items():
        assert Twin(bundle).verdict(rehash=False) == Accepted(), key
        assert precision_verdict(bundle, Twin(bundle).fp) == Accepted(), key


TANHF, EXPF = (f"{fp.ULP_CONTRACTS[n]['nearest']:e}" for n in ("tanhf", "expf"))  # as the stage prints them
CONTRACT_TWINS = {
    "lowered": lambda t: t.replace(f'libm = "tanhf", ulp = {TANHF}', 'libm = "tanhf", ulp = 2.188500e+00'),
    "renamed": lambda t: t.replace('libm = "tanhf"', 'libm = "expf"'),
    "dropped": lambda t: t.replace(f', libm = "tanhf", ulp = {TANHF} : f64', ""),
    "as an integer": lambda t: t.replace(f"ulp = {TANHF} : f64", "ulp = 3 : i64"),
    "on a linear": lambda t: re.sub(r'("fp.linear"\([^)]*\) <\{)', r'\1libm = "expf", ulp = 1.0 : f64, ', t, count=1),
    "sigmoid's lowered": lambda t: t.replace(f'libm = "expf", ulp = {EXPF}', 'libm = "expf", ulp = 5.000000e-01'),
}


def test_softmax_contract_lowered_is_rejected(bundles):
    t = Twin(bundles[("softmax", "f32")])
    tampered = t.fp.replace(f'libm = "expf", ulp = {EXPF}', 'libm = "expf", ulp = 5.015000e-01')
    assert tampered != t.fp and t.verdict(rehash=False) == Accepted()
    assert "error contract" in rejected(t.verdict(fp=tampered))


def test_softmax_output_claim_one_ulp_short_is_rejected(bundles):
    t = Twin(bundles[("softmax", "bf16")])
    _, bound = t.recomputed()
    w = copy.deepcopy(t.witness)
    w["claims"]["abs"][2] = float(np.nextafter(bound[2], 0))
    assert "output bound" in rejected(t.verdict(witness=w))


@pytest.mark.parametrize("change", list(CONTRACT_TWINS))
def test_contract_twin_is_rejected(twin, bundles, change):
    tampered = CONTRACT_TWINS[change](twin.fp)
    assert tampered != twin.fp, change
    assert "error contract" in rejected(precision_verdict(bundles[("act", "f32")], tampered))
    assert "error contract" in rejected(twin.verdict(fp=tampered))


def test_claims_are_tight_to_the_recomputation(twin):
    _, bound = twin.recomputed()
    claimed = np.array(twin.witness["claims"]["abs"])
    assert np.all(claimed >= bound) and np.all(claimed <= bound * (1 + 2.0**-25))


def test_output_bound_one_ulp_short_is_rejected(twin):
    _, bound = twin.recomputed()
    w = copy.deepcopy(twin.witness)
    w["claims"]["abs"][0] = float(np.nextafter(bound[0], 0))
    assert "output bound" in rejected(twin.verdict(witness=w))


@pytest.mark.parametrize("op", ["fp.tanh", "fp.sigmoid"])
@pytest.mark.parametrize("part", ["range", "error"])
def test_activation_claim_one_ulp_short_is_rejected(twin, op, part):
    hull, _ = twin.recomputed()
    ops = main_function(parse(twin.fp)).regions[0][0].ops
    at = next(i for i in hull if ops[i].name == op)
    w = copy.deepcopy(twin.witness)
    claim = next(v for v in w["claims"]["values"] if v["at"] == at)
    k = 0 if part == "range" else 2
    claim[part][0][1] = float(np.nextafter(hull[at][k][1], np.inf))  # lower end moved up by one ulp
    assert "does not contain" in rejected(twin.verdict(witness=w))


def test_numpy_margin_covers_mpmath():
    """`near` encloses the exact tanh, sigmoid, exp and their derivatives at float64 points,
    including where cosh overflows and exp underflows."""
    xs = np.array([-800.0, -30.0, -1.5, -1e-9, 0.0, 3e-300, 0.25, 2.0, 19.0, 700.0])
    exact = {"tanh": (mpmath.tanh, lambda v: 1 / mpmath.cosh(v) ** 2),
             "sigmoid": (REAL["sigmoid"], lambda v: REAL["sigmoid"](v) * REAL["sigmoid"](-v)),
             "exp": (mpmath.exp, mpmath.exp)}
    for name, (f, df, _) in roundoff.SMOOTH.items():
        for fn, ref in zip((f, df), exact[name]):
            with np.errstate(over="ignore"):
                lo, hi = roundoff.near(fn(xs))
            for a, x, b in zip(lo, xs, hi):
                r = ref(mpmath.mpf(float(x)))
                assert a <= r <= b, (name, x)
