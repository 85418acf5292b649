"""The bound-ibp, bound-crown and bound-alpha-crown passes: their claims enclose sampled
outputs, IBP's equal an interval computation written here, each method is at least as tight
as the one before, and the witness's certificate is accepted by the checker against the
stage text, the (empty) parameter file and the property it states, while a narrowed claim
or changed multipliers are rejected."""

from __future__ import annotations

import base64
import copy
import hashlib
import itertools

import numpy as np
import pytest
from vnnc.driver import generic_text
from vnnc.frontend_mlir import parse_module
from vnnc.passes import witness
from vnnc.passes.bound_alpha_crown import BoundAlphaCrownPass
from vnnc.passes.bound_crown import BoundCROWNPass
from vnnc.passes.bound_ibp import BoundIBPPass
from vnnc.passes.bounds import bounds_property
from vnnc.verifier import robust
from vnnc.verify import params_bytes

SIZES = (3, 6, 5, 2)


def net_text(seed: int):
    rng = np.random.default_rng(seed)
    ws = [rng.standard_normal((b, a)).astype(np.float32) for a, b in itertools.pairwise(SIZES)]
    bs = [(rng.standard_normal(b) * 0.3).astype(np.float32) for b in SIZES[1:]]
    lines, cur = [], "%x"

    def dense(a):
        return "[" + ", ".join(dense(r) if a.ndim > 1 else repr(float(r)) for r in a) + "]"

    for k, (w, b) in enumerate(zip(ws, bs)):
        lines += [f"  %w{k} = spec.constant dense<{dense(w)}> : tensor<{w.shape[0]}x{w.shape[1]}xf32>",
                  f"  %b{k} = spec.constant dense<{dense(b)}> : tensor<{b.shape[0]}xf32>",
                  (f"  %z{k} = spec.linear {cur}, %w{k}, %b{k} : (tensor<1x{w.shape[1]}xf32>, "
                   f"tensor<{w.shape[0]}x{w.shape[1]}xf32>, tensor<{b.shape[0]}xf32>) -> tensor<1x{w.shape[0]}xf32>")]
        cur = f"%z{k}"
        if k < len(ws) - 1:
            lines.append(f"  %a{k} = spec.relu %z{k} : (tensor<1x{w.shape[0]}xf32>) -> tensor<1x{w.shape[0]}xf32>")
            cur = f"%a{k}"
    body = "\n".join(lines)
    text = (f"func.func @main(%x: tensor<1x{SIZES[0]}xf32>) -> tensor<1x{SIZES[-1]}xf32> {{\n{body}\n"
            f"  func.return {cur} : tensor<1x{SIZES[-1]}xf32>\n}}\n")
    return text, [w.astype(np.float64) for w in ws], [b.astype(np.float64) for b in bs]


def forward(ws, bs, x):
    for k, (w, b) in enumerate(zip(ws, bs)):
        x = x @ w.T + b
        x = np.maximum(x, 0) if k < len(ws) - 1 else x
    return x


def ibp(ws, bs, lo, hi):
    for k, (w, b) in enumerate(zip(ws, bs)):
        l = np.array([b[j] + sum(min(w[j, i] * lo[i], w[j, i] * hi[i]) for i in range(len(lo))) for j in range(len(b))])
        u = np.array([b[j] + sum(max(w[j, i] * lo[i], w[j, i] * hi[i]) for i in range(len(lo))) for j in range(len(b))])
        lo, hi = (np.maximum(l, 0), np.maximum(u, 0)) if k < len(ws) - 1 else (l, u)
    return lo, hi


@pytest.fixture(scope="module", params=[0, 1])
def runs(request, tmp_path_factory):
    text, ws, bs = net_text(request.param)
    tmp = tmp_path_factory.mktemp("bounds")
    box = "".join(f"(declare-const X_{i} Real)\n" for i in range(SIZES[0])) + \
        "".join(f"(declare-const Y_{j} Real)\n" for j in range(SIZES[-1])) + \
        "".join(f"(assert (>= X_{i} -0.5))\n(assert (<= X_{i} {0.25 * (i + 1)}))\n" for i in range(SIZES[0]))
    (tmp / "box.vnnlib").write_text(box)
    out = {}
    for cls in (BoundIBPPass, BoundCROWNPass, BoundAlphaCrownPass):
        module = parse_module(text, "net.mlir")
        with witness.collecting() as sink:
            cls(property=str(tmp / "box.vnnlib")).apply(None, module)
        out[cls.name] = (sink[0], generic_text(module))
    return out, ws, bs


def check(stage, claims, prop=None, cert=None):
    prop = (prop or claims["property"]).encode()
    return robust.check(stage, params_bytes({}), prop, cert or claims["certificate"])


def test_claims_enclose_samples_tighten_and_match_ibp(runs):
    out, ws, bs = runs
    lo, hi = -0.5 * np.ones(3), 0.25 * np.arange(1, 4)
    ys = forward(ws, bs, np.random.default_rng(0).uniform(lo, hi, (20000, 3)))
    widths = []
    for name in ("bound-ibp", "bound-crown", "bound-alpha-crown"):
        w, _ = out[name]
        assert w["pass"] == name and w["kind"] == "robustness"
        lower, upper = np.array(w["claims"]["lower"]), np.array(w["claims"]["upper"])
        assert (ys >= lower).all() and (ys <= upper).all(), name
        widths.append(upper - lower)
    ref_lo, ref_hi = ibp(ws, bs, lo, hi)
    w, _ = out["bound-ibp"]
    np.testing.assert_allclose(w["claims"]["lower"], ref_lo, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(w["claims"]["upper"], ref_hi, rtol=1e-8, atol=1e-8)
    assert (widths[1] <= widths[0] + 1e-9).all() and (widths[2] <= widths[1] + 1e-9).all()


def test_certificates_accepted_and_tampered_twins_rejected(runs):
    out, _, _ = runs
    for name, (w, stage) in out.items():
        claims = w["claims"]
        assert check(stage, claims), name
        lower, upper = np.array(claims["lower"]), np.array(claims["upper"])
        lo, hi = -0.5 * np.ones(3), 0.25 * np.arange(1, 4)
        narrowed = lower.copy()
        narrowed[0] += 0.25 * (upper[0] - lower[0])  # a claim the bound does not reach
        prop = bounds_property(lo, hi, narrowed, upper)
        cert = dict(claims["certificate"], property_sha256=hashlib.sha256(prop.encode()).hexdigest())
        assert not check(stage, claims, prop, cert), name
        twin = copy.deepcopy(claims["certificate"])
        twin["trees"][0][0][1][0][1] = base64.b64encode(np.full(11, 50.0, "<f4").tobytes()).decode()
        assert not check(stage, claims, cert=twin), name  # other multipliers: the bound collapses
        assert not check(stage + " ", claims), name  # another stage text
