"""The certified error bound through conv2d and maxpool2d.

Two seeded CNNs (spec .mlir written here) are compiled with an input box: a small one
(grouped, padded conv; maxpool; strided conv; linear) and a wide one whose first feature map
has 3,072 elements, so that its fresh terms go to the remainder instead of symbols
(docs/WITNESS.md §5.5). Soundness is tested against an independent reference: the
real-valued network evaluated in exact rational arithmetic on the float32 inputs the
compiled library ran on. The analysis's convolution matrices and pooling are compared with
PyTorch's. Tampered twins: the output bound, a conv's range and a maxpool's error narrowed
by one ulp, and a conv's padding changed in the fp stage, are rejected.
"""

from __future__ import annotations

import copy
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import vnnc
from test_roundoff import Twin, inputs_in_box, rejected, write_box
from vnnc import safetensors
from vnnc.errors import VnncError
from vnnc.passes import error_analysis as ea
from vnnc.verifier.check import Accepted
from vnnc.verifier.mlir import parse
from vnnc.verifier.semantics import main_function

CONFIGS = {"f32": {"precision": "f32"}, "bf16": {"precision": "bf16"},
           "f16-down-f64": {"precision": "f16", "rounding": "down", "accumulate": "f64"}}
# name -> input shape, [(op, attrs)...]: conv (out channels, kernel, attrs), pool (kernel, strides), linear (out)
MODELS = {
    "small": ((1, 2, 7, 7), [("conv", 4, 3, {"pads": (1, 1, 1, 1), "groups": 2}), ("relu",),
                             ("pool", 2, 2), ("conv", 3, 2, {"strides": (2, 2)}), ("relu",),
                             ("flatten",), ("linear", 3)]),
    "wide": ((1, 1, 16, 16), [("conv", 12, 3, {"pads": (1, 1, 1, 1)}), ("relu",), ("pool", 2, 2),
                              ("flatten",), ("linear", 4)]),
}


def _t(shape) -> str:
    return f"tensor<{'x'.join(map(str, shape))}xf32>"


def _attrs(a: dict) -> str:
    items = [f"{k} = array<i64: {', '.join(map(str, v))}>" if isinstance(v, tuple) else f"{k} = {v} : i64"
             for k, v in a.items()]
    return f" {{{', '.join(items)}}}" if items else ""


def write_cnn(d: Path, name: str, seed: int = 11) -> tuple[Path, dict]:
    shape, layers = MODELS[name]
    rng = np.random.default_rng(seed)
    params, lines, prev, cur = {}, [], "%x", shape
    for k, layer in enumerate(layers):
        if layer[0] in ("conv", "linear"):
            if layer[0] == "conv":
                out, kern, a = layer[1], layer[2], layer[3]
                w_shape = (out, cur[1] // a.get("groups", 1), kern, kern)
                (s0, s1), (t, left, b, r) = a.get("strides", (1, 1)), a.get("pads", (0, 0, 0, 0))
                nxt = (1, out, (cur[2] + t + b - kern) // s0 + 1, (cur[3] + left + r - kern) // s1 + 1)
            else:
                w_shape, nxt, a = (layer[1], cur[1]), (1, layer[1]), {}
            fan_in = int(np.prod(w_shape[1:]))
            params[f"l{k}.weight"] = (rng.uniform(-1.5, 1.5, w_shape) / np.sqrt(fan_in)).astype(np.float32)
            params[f"l{k}.bias"] = rng.uniform(-0.3, 0.3, (w_shape[0],)).astype(np.float32)
            for part in ("weight", "bias"):
                p = params[f"l{k}.{part}"]
                lines.append(f'    %l{k}_{part} = spec.param "l{k}.{part}" {{sha256 = "{safetensors.param_sha256(p)}"}}'
                             f" : {_t(p.shape)}")
            op = "conv2d" if layer[0] == "conv" else "linear"
            lines.append(f"    %v{k} = spec.{op} {prev}, %l{k}_weight, %l{k}_bias{_attrs(a)} : ({_t(cur)}, "
                         f"{_t(w_shape)}, {_t((w_shape[0],))}) -> {_t(nxt)}")
        elif layer[0] == "pool":
            a = {"kernel": (layer[1],) * 2, "strides": (layer[2],) * 2}
            nxt = (*cur[:2], (cur[2] - layer[1]) // layer[2] + 1, (cur[3] - layer[1]) // layer[2] + 1)
            lines.append(f"    %v{k} = spec.maxpool2d {prev}{_attrs(a)} : ({_t(cur)}) -> {_t(nxt)}")
        elif layer[0] == "flatten":
            nxt = (1, int(np.prod(cur)))
            lines.append(f"    %v{k} = spec.flatten {prev} : ({_t(cur)}) -> {_t(nxt)}")
        else:
            nxt = cur
            lines.append(f"    %v{k} = spec.relu {prev} : ({_t(cur)}) -> {_t(cur)}")
        prev, cur = f"%v{k}", nxt
    text = (f'builtin.module attributes {{vnnc.params = "{name}.safetensors"}} {{\n'
            f'  func.func @main(%x: {_t(shape)} {{vnnc.name = "x"}}) -> ({_t(cur)} {{vnnc.name = "y"}}) {{\n'
            + "\n".join(lines) + f"\n    func.return {prev} : {_t(cur)}\n  }}\n}}\n")
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{name}.mlir").write_text(text)
    safetensors.write(d / f"{name}.safetensors", params)
    return d / f"{name}.mlir", params


def exact_cnn(name: str, params: dict, x: np.ndarray) -> list[Fraction]:
    """The real-valued network at x, in exact rationals (numpy object arrays of Fractions)."""
    frac = np.vectorize(lambda v: Fraction(float(v)), otypes=[object])
    v = frac(x[0])  # C H W
    for k, layer in enumerate(MODELS[name][1]):
        if layer[0] == "conv":
            w, b, a = frac(params[f"l{k}.weight"]), frac(params[f"l{k}.bias"]), layer[3]
            (s0, s1), (t, left, bot, r) = a.get("strides", (1, 1)), a.get("pads", (0, 0, 0, 0))
            xp = np.full((v.shape[0], v.shape[1] + t + bot, v.shape[2] + left + r), Fraction(0), object)
            xp[:, t:t + v.shape[1], left:left + v.shape[2]] = v
            out, cg, kh, kw = w.shape
            oh, ow = (xp.shape[1] - kh) // s0 + 1, (xp.shape[2] - kw) // s1 + 1
            og = out // a.get("groups", 1)
            y = np.empty((out, oh, ow), object)
            for o in range(out):
                acc = np.full((oh, ow), b[o], object)
                for c in range(cg):
                    for p in range(kh):
                        for q in range(kw):
                            acc = acc + w[o, c, p, q] * xp[(o // og) * cg + c, p:p + s0 * oh:s0, q:q + s1 * ow:s1]
                y[o] = acc
            v = y
        elif layer[0] == "pool":
            kern, s = layer[1], layer[2]
            oh, ow = (v.shape[1] - kern) // s + 1, (v.shape[2] - kern) // s + 1
            taps = [v[:, p:p + s * oh:s, q:q + s * ow:s] for p in range(kern) for q in range(kern)]
            v = np.array(taps[0])
            for t in taps[1:]:
                v = np.where(t > v, t, v)
        elif layer[0] == "relu":
            v = np.where(v > 0, v, Fraction(0))
        elif layer[0] == "flatten":
            v = v.reshape(-1)
        else:
            w, b = frac(params[f"l{k}.weight"]), frac(params[f"l{k}.bias"])
            v = np.array([sum((w[j, i] * v[i] for i in range(len(v))), b[j]) for j in range(w.shape[0])], object)
    return list(v.reshape(-1))


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    """(params, box, {config: bundle}) per model."""
    out = {}
    for name, (shape, _) in MODELS.items():
        d = tmp_path_factory.mktemp(name)
        path, params = write_cnn(d, name)
        x0 = np.random.default_rng(4).uniform(-1, 1, shape)
        box = write_box(d / "box.npz", x0 - 0.02, x0 + 0.02)
        out[name] = (params, box, {c: vnnc.compile(path, out=d / c, input_box=box, precision=o)
                                   for c, o in CONFIGS.items()})
    return out


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("name", list(MODELS))
def test_library_stays_within_the_certified_bound(built, name, config):
    params, box, bundles = built[name]
    m = bundles[config].manifest
    assert m["verified"] and m["certified_error_bound"]["certified"], m["checks"]
    bound = np.array(m["certified_error_bound"]["abs"])
    assert np.all(np.isfinite(bound)) and np.all(bound > 0)
    with np.load(box) as z:
        xs = inputs_in_box(z["lo"], z["hi"], 12)
    worst = 0.0
    for x in xs:
        y = bundles[config].run(x).reshape(-1)
        err = [abs(Fraction(float(a)) - r) for a, r in zip(y, exact_cnn(name, params, x))]
        assert all(e <= Fraction(float(b)) for e, b in zip(err, bound)), (name, config, err, bound)
        worst = max(worst, max(float(e / Fraction(float(b))) for e, b in zip(err, bound)))
    print(name, config, "largest error / bound", worst)
    assert worst > 0  # the comparison saw real rounding errors


def test_a_wide_feature_map_keeps_no_symbols(built):
    """The wide model's first conv output (3,072 elements) has its terms in the remainder;
    the small model's are symbols: both bounds are finite and the narrower format's larger."""
    for name in MODELS:
        b = {c: max(bundle.manifest["certified_error_bound"]["abs"]) for c, bundle in built[name][2].items()}
        assert b["f32"] < b["f16-down-f64"] < b["bf16"], (name, b)
    shape = MODELS["wide"][0]
    leaf = ea.Leaf(np.zeros(shape), np.ones(shape))
    wide = leaf.symbols.fresh(ea.Affine.const(np.zeros(ea.WIDE + 1)), 1.0, "value")
    narrow = leaf.symbols.fresh(ea.Affine.const(np.zeros(ea.WIDE)), 1.0, "value")
    assert len(wide.mv) == 0 and np.all(wide.r >= 1.0) and len(narrow.mv) == 256 + ea.WIDE


@pytest.mark.parametrize("a", [{"pads": (1, 0, 2, 1)}, {"strides": (2, 1), "dilations": (1, 2)},
                               {"groups": 3, "pads": (1, 1, 1, 1)}])
def test_conv_matrix_is_pytorchs_convolution(a):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((6, 3 // a.get("groups", 1), 3, 2))
    pads = a.get("pads", (0, 0, 0, 0))
    xt = torch.nn.functional.pad(torch.tensor(x), (pads[1], pads[3], pads[0], pads[2]))
    ref = torch.nn.functional.conv2d(xt, torch.tensor(w), stride=a.get("strides", (1, 1)),
                                     dilation=a.get("dilations", (1, 1)), groups=a.get("groups", 1)).numpy()
    m = ea.conv_matrix(w, x.shape, ref.shape, a)
    assert np.allclose(x.reshape(2, -1) @ m, ref.reshape(2, -1), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("ceil", [False, True])
def test_pool_max_is_pytorchs_maxpool(ceil):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(2).standard_normal((2, 3, 7, 6))
    ref = torch.nn.functional.max_pool2d(torch.tensor(x), 3, stride=2, padding=1, ceil_mode=ceil).numpy()
    got = ea.pool_max(x.reshape(-1), x.shape, ref.shape, {"kernel": (3, 3), "strides": (2, 2), "pads": (1, 1, 1, 1)})
    assert np.array_equal(got, ref.reshape(-1))


def test_too_large_a_convolution_is_a_clear_error(built, tmp_path, monkeypatch):
    """The dense matrix grows with input size times output size: above CONV_ENTRIES the
    analysis says so (naming the op) instead of exhausting memory."""
    monkeypatch.setattr(ea, "CONV_ENTRIES", 100)
    path, _ = write_cnn(tmp_path, "small")
    box = write_box(tmp_path / "box.npz", np.zeros(MODELS["small"][0]), np.ones(MODELS["small"][0]))
    with pytest.raises(VnncError, match=r"fp.conv2d \(op \d+ of @main\).*entries"):
        vnnc.compile(path, out=tmp_path / "o", input_box=box, precision={"precision": "f32"})
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------- tampered twins


@pytest.fixture(scope="module")
def twin(built) -> Twin:
    return Twin(built["small"][2]["bf16"])


def _claim(twin: Twin, op: str) -> int:
    ops = main_function(parse(twin.fp)).regions[0][0].ops
    return next(k for k, v in enumerate(twin.witness["claims"]["values"]) if ops[v["at"]].name == op)


def test_witness_is_accepted(twin, built):
    assert twin.verdict(rehash=False) == Accepted()
    for name in MODELS:
        for bundle in built[name][2].values():
            assert Twin(bundle).verdict(rehash=False) == Accepted()


@pytest.mark.parametrize("name", list(MODELS))
def test_claims_are_the_checkers_recomputation(built, name):
    """The claims exceed the checker's numbers by the compiler's margin only: with the
    soundness test above, the checker's own recomputation holds the real errors."""
    t = Twin(built[name][2]["bf16"])
    hull, bound = t.recomputed()
    claimed = np.array(t.witness["claims"]["abs"])
    assert np.all(claimed >= bound) and np.all(claimed <= bound * (1 + 2.0**-25))
    for v in t.witness["claims"]["values"]:
        h = hull[v["at"]]
        for k, pair in enumerate((v["range"], v["error"])):
            slack = 2.0**-25 * np.maximum(np.abs(h[2 * k]), np.abs(h[2 * k + 1])) + 1e-300
            for g, want in zip(pair, h[2 * k:2 * k + 2]):
                assert np.all(np.abs(np.asarray(g) - want) <= slack), (v["at"], k)


def test_output_bound_one_ulp_short_is_rejected(twin):
    _, bound = twin.recomputed()
    w = copy.deepcopy(twin.witness)
    w["claims"]["abs"][0] = float(np.nextafter(bound[0], 0))
    assert "output bound" in rejected(twin.verdict(witness=w))


@pytest.mark.parametrize("op, part", [("fp.conv2d", ("range", 0)), ("fp.conv2d", ("error", 1)),
                                      ("fp.maxpool2d", ("range", 1)), ("fp.maxpool2d", ("error", 1))])
def test_value_claim_one_ulp_short_is_rejected(twin, op, part):
    hull, _ = twin.recomputed()
    w = copy.deepcopy(twin.witness)
    v = w["claims"]["values"][_claim(twin, op)]
    k = (0 if part[0] == "range" else 2) + part[1]
    worst = int(np.argmax(np.abs(hull[v["at"]][k])))  # an element where the claim is not zero
    v[part[0]][part[1]][worst] = float(np.nextafter(hull[v["at"]][k][worst], np.inf if part[1] == 0 else -np.inf))
    assert "does not contain" in rejected(twin.verdict(witness=w))


def test_conv_padding_changed_in_the_stage_is_rejected(twin):
    assert twin.fp.count("pads = array<i64: 1, 1, 1, 1>") == 1
    fp = twin.fp.replace("pads = array<i64: 1, 1, 1, 1>", "pads = array<i64: 0, 0, 2, 2>")  # the same shapes
    assert "does not contain" in rejected(twin.verdict(fp=fp))
