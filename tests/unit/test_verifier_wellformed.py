"""The import witness (`spec-wellformed`): accepted on the example bundles, and every
tampered twin rejected with a reason. Also: the trusted checker imports nothing but the
standard library, numpy, mpmath and itself."""

from __future__ import annotations

import ast
import hashlib
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import vnnc
from vnnc.verifier import mlir, params, semantics
from vnnc.verifier.check import Accepted, Rejected, check

ROOT = Path(__file__).resolve().parents[2]
VERIFIER = ROOT / "verifier"


@pytest.fixture(scope="module", params=["mlp", "cnn"])
def bundle(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("wf") / request.param
    compiled = vnnc.compile(ROOT / "examples" / f"{request.param}.mlir", out=out, force=True)
    return {"name": request.param, "bundle": compiled,
            "params": (out / "params.safetensors").read_bytes(),
            "stage": (out / "stages" / "00-import.mlir").read_text(),
            "witness": json.loads((out / "witnesses" / "00-import.json").read_text()),
            "manifest": json.loads((out / "manifest.json").read_text())}


def sha(data) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def rejected(params: bytes, stage: str, witness: dict, *, rehash: bool = True) -> str:
    """The checker's reason for rejecting; the witness's hashes are first made to match the
    tampered texts (rehash), so that the check behind them must catch the change."""
    w = dict(witness)
    if rehash:
        w["source_sha256"], w["target_sha256"] = sha(params), sha(stage)
    verdict = check(params, stage, json.dumps(w))
    assert isinstance(verdict, Rejected), "tampered twin was accepted"
    assert verdict.reason
    return verdict.reason


def test_examples_are_accepted(bundle):
    assert check(bundle["params"], bundle["stage"], json.dumps(bundle["witness"])) == Accepted()
    first = bundle["manifest"]["witnesses"][0]
    assert first == {"stage": "00-import", "file": "witnesses/00-import.json"}
    w = bundle["witness"]
    assert (w["pass"], w["kind"], w["version"]) == ("import", "spec-wellformed", 1)
    assert w["claims"]["inputs"] == bundle["manifest"]["inputs"]
    assert w["claims"]["params"] == bundle["manifest"]["params"]["entries"]


def test_parameter_byte_flipped(bundle):
    raw = bytearray(bundle["params"])
    raw[-3] ^= 0x40  # inside the last parameter's data
    reason = rejected(bytes(raw), bundle["stage"], bundle["witness"])
    assert "hashes to" in reason


def test_unrehashed_tamper_is_caught_by_the_hashes(bundle):
    raw = bytearray(bundle["params"])
    raw[-3] ^= 0x40
    assert "source_sha256" in rejected(bytes(raw), bundle["stage"], bundle["witness"], rehash=False)
    stage = bundle["stage"].replace("spec.relu", "spec.tanh", 1)
    assert "target_sha256" in rejected(bundle["params"], stage, bundle["witness"], rehash=False)


def test_param_sha256_changed_in_the_stage(bundle):
    digest = re.search(r'sha256 = "([0-9a-f]{64})"', bundle["stage"])[1]
    other = ("1" if digest[0] == "0" else "0") + digest[1:]
    stage = bundle["stage"].replace(digest, other, 1)
    assert "hashes to" in rejected(bundle["params"], stage, bundle["witness"])


def test_result_shape_changed(bundle):
    # the last op before the return produces the output [1, 10]: claim [1, 11]
    stage = bundle["stage"].replace("-> tensor<1x10xf32>\n    \"func.return\"",
                                    "-> tensor<1x11xf32>\n    \"func.return\"")
    assert stage != bundle["stage"]
    reason = rejected(bundle["params"], stage, bundle["witness"])
    assert "inferred" in reason or "used as" in reason


def test_operand_swapped(bundle):
    # the final linear's weight and bias change places (types moved along, so only the
    # shape rule can tell)
    m = re.search(r'"spec.linear"\((%\w+), (%\w+), (%\w+)\) : \((.*?), (.*?), (.*?)\)',
                  bundle["stage"])
    x, w, b, tx, tw, tb = m.groups()
    swapped = f'"spec.linear"({x}, {b}, {w}) : ({tx}, {tb}, {tw})'
    stage = bundle["stage"].replace(m[0], swapped)
    assert "spec.linear" in rejected(bundle["params"], stage, bundle["witness"])


def test_operand_type_lies_about_its_definition(bundle):
    m = re.search(r'(%\w+) = "spec.relu"\((%\w+)\) : \((tensor<[^>]*>)\)', bundle["stage"])
    lying = m[0].replace(f"({m[3]})", "(tensor<1x2xf32>)")
    reason = rejected(bundle["params"], bundle["stage"].replace(m[0], lying), bundle["witness"])
    assert "used as" in reason


def test_claimed_input_shape_changed(bundle):
    w = json.loads(json.dumps(bundle["witness"]))
    w["claims"]["inputs"][0]["shape"][0] = 2
    assert "claimed inputs" in rejected(bundle["params"], bundle["stage"], w)


def test_claimed_shape_as_floats(bundle):
    w = json.loads(json.dumps(bundle["witness"]))
    w["claims"]["inputs"][0]["shape"] = [float(d) for d in w["claims"]["inputs"][0]["shape"]]
    assert "claimed inputs" in rejected(bundle["params"], bundle["stage"], w)


def test_claimed_param_removed(bundle):
    w = json.loads(json.dumps(bundle["witness"]))
    w["claims"]["params"].pop(next(iter(w["claims"]["params"])))
    assert "claimed params" in rejected(bundle["params"], bundle["stage"], w)


def test_claims_malformed(bundle):
    for claims in ({}, [], {**bundle["witness"]["claims"], "extra": 1}):
        w = {**bundle["witness"], "claims": claims}
        assert "claims" in rejected(bundle["params"], bundle["stage"], w)
    w = {**bundle["witness"], "pass": "lower-to-loops"}
    assert "import" in rejected(bundle["params"], bundle["stage"], w)


def test_unknown_op_inserted(bundle):
    line = '    %evil = "spec.frobnicate"(%x) : (tensor<TYPE>) -> tensor<TYPE>\n'
    t = re.search(r"\^bb0\(%x: tensor<([^>]*)>", bundle["stage"])[1]
    ret = '    "func.return"'
    stage = bundle["stage"].replace(ret, line.replace("TYPE", t) + ret)
    assert "not a spec op" in rejected(bundle["params"], stage, bundle["witness"])
    foreign = '    "arith.constant"() <{value = 1 : i64}> : () -> ()\n'
    stage = bundle["stage"].replace(ret, foreign + ret)
    assert "arith.constant" in rejected(bundle["params"], stage, bundle["witness"])


def test_value_used_before_its_definition(bundle):
    lines = bundle["stage"].splitlines(keepends=True)
    first_param = next(i for i, s in enumerate(lines) if '"spec.param"' in s)
    name = lines[first_param].split("=")[0].strip()
    use = next(i for i, s in enumerate(lines)
               if i > first_param and (f"{name}," in s or f"{name})" in s))
    moved = (lines[:first_param] + lines[first_param + 1 : use + 1] + [lines[first_param]]
             + lines[use + 1 :])
    reason = rejected(bundle["params"], "".join(moved), bundle["witness"])
    assert "before it is defined" in reason


def test_value_defined_twice_and_garbage_text(bundle):
    m = re.search(r'(%\w+) = "spec.relu"', bundle["stage"])
    first_param = re.search(r'(%\w+) = "spec.param"', bundle["stage"])[1]
    stage = bundle["stage"].replace(m[0], f'{first_param} = "spec.relu"', 1)
    assert "defined twice" in rejected(bundle["params"], stage, bundle["witness"])
    for garbage in ("", "not mlir", bundle["stage"][: len(bundle["stage"]) // 2], "(" * 10000):
        assert rejected(bundle["params"], garbage, bundle["witness"])
    assert "parameter" in rejected(bundle["params"][:20], bundle["stage"], bundle["witness"])


def test_reference_evaluator_matches_the_compiled_library(bundle):
    lib = bundle["bundle"]
    payload = params.read(bundle["params"])
    x = np.random.default_rng(0).uniform(-1, 1, lib.inputs[0]["shape"]).astype(np.float32)
    (want,) = semantics.evaluate(mlir.parse(bundle["stage"]), payload, [x])
    got = np.asarray(lib.run(x), np.float64)
    assert np.abs(got - want).max() <= 1e-4 * max(1.0, np.abs(want).max())


# ---------------------------------------------------------------- a hand-written module

LABELS_MODULE = """"builtin.module"() ({
  "func.func"() <{sym_name = "main", function_type = (tensor<2x3xf32>, tensor<2xi64>) -> (tensor<f32>, tensor<2x3xf32>), arg_attrs = [{vnnc.name = "z"}, {}]}> ({
  ^bb0(%z: tensor<2x3xf32>, %t: tensor<2xi64>):
    %w = "spec.param"() <{name = "w", sha256 = "HASH"}> : () -> tensor<3xf32>
    %c = "spec.constant"() <{value = dense<[1.5, -2.0, 0.25]> : tensor<3xf32>}> : () -> tensor<3xf32>
    %a = "spec.add"(%z, %w) : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
    %b = "spec.mul"(%a, %c) : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
    %l = "spec.cross_entropy"(%b, %t) : (tensor<2x3xf32>, tensor<2xi64>) -> tensor<f32>
    "func.return"(%l, %b) : (tensor<f32>, tensor<2x3xf32>) -> ()
  }) : () -> ()
}) : () -> ()
"""


def test_labels_constants_and_default_names(tmp_path):
    from vnnc import safetensors
    from vnnc.frontend_mlir import parse_module
    from vnnc.model import signature

    w = np.array([0.5, -1.0, 2.0], np.float32)
    safetensors.write(tmp_path / "p.safetensors", {"w": w})
    payload = (tmp_path / "p.safetensors").read_bytes()
    stage = LABELS_MODULE.replace("HASH", safetensors.param_sha256(w))
    inputs, outputs = signature(parse_module(stage, "labels.mlir"))  # the compiler's claims
    assert [r["name"] for r in inputs + outputs] == ["z", "input1", "output0", "output1"]
    witness = {"version": 1, "pass": "import", "kind": "spec-wellformed",
               "source_sha256": sha(payload), "target_sha256": sha(stage),
               "claims": {"inputs": inputs, "outputs": outputs,
                          "params": {"w": safetensors.param_sha256(w)}}}
    assert check(payload, stage, witness) == Accepted()

    z, labels = np.arange(6.0).reshape(2, 3), np.array([2, 0])
    loss, b = semantics.evaluate(mlir.parse(stage), params.read(payload), [z, labels])
    want_b = (z + w) * np.array([1.5, -2.0, 0.25])
    np.testing.assert_allclose(b, want_b, rtol=1e-15)
    lse = np.log(np.exp(want_b).sum(axis=1))
    np.testing.assert_allclose(loss, np.mean(lse - want_b[[0, 1], [2, 0]]), rtol=1e-14)

    f32_labels = stage.replace("tensor<2xi64>", "tensor<2xf32>")
    assert "i64" in rejected(payload, f32_labels, witness)
    wrong_constant = stage.replace("dense<[1.5, -2.0, 0.25]> : tensor<3xf32>",
                                   "dense<[1.5, -2.0]> : tensor<2xf32>")
    assert "constant" in rejected(payload, wrong_constant, witness)
    int64_claim = json.loads(json.dumps(witness))
    int64_claim["claims"]["outputs"][0]["dtype"] = "int64"
    assert "claimed outputs" in rejected(payload, stage, int64_claim)


# ---------------------------------------------------------------- the checker's imports


def _imported_names(node: ast.AST) -> list[str] | None:
    """Module names an import statement or a dynamic import call names (a dynamic one by
    its literal prefix); None for other nodes."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom):
        if node.level == 1:
            return []  # `from . import x`: inside vnnc.verifier
        return ["." * node.level + (node.module or "")]  # `from .. import x` leaves it
    func = getattr(node, "func", None)
    if isinstance(node, ast.Call) and getattr(func, "id", getattr(func, "attr", "")) in (
        "__import__", "import_module"
    ):
        arg = node.args[0] if node.args else None
        if isinstance(arg, ast.JoinedStr) and arg.values:
            arg = arg.values[0]
        return [arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else "?"]
    return None


def test_verifier_imports_only_stdlib_numpy_mpmath_and_itself():
    allowed = set(sys.stdlib_module_names) | {"numpy", "mpmath"}
    files = sorted(VERIFIER.glob("*.py"))
    assert files
    bad = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            for name in _imported_names(node) or []:
                top = name.split(".")[0]
                ok = name.startswith("vnnc.verifier.") or name == "vnnc.verifier" or (
                    top != "vnnc" and top in allowed
                )
                if not ok:
                    bad.append(f"{path.name}:{node.lineno}: {name}")
    assert not bad, f"the trusted checker imports outside its allowed set: {bad}"
