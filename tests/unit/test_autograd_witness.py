"""The checker's verdicts on lower-autograd and on ad programs: honest stages are accepted,
tampered twins (a swapped rule, a dropped term, a transposed operand, a changed constant or
hyper-parameter, altered claims, mistyped ad ops) are rejected with a reason."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from vnnc import safetensors
from vnnc.driver import run_pipeline
from vnnc.frontend_mlir import parse_module
from vnnc.model import Model
from vnnc.passes import lower_autograd
from vnnc.passes.lower_autograd import LowerAutogradPass
from vnnc.verifier.check import check

SGD_STEP = """
builtin.module {
  func.func @main(%x: tensor<3x4xf32>, %t: tensor<3x4xf32>, %lr: tensor<f32>, %w: tensor<4x4xf32>,
                  %b: tensor<4xf32>, %mw: tensor<4x4xf32>, %mb: tensor<4xf32>)
      -> (tensor<f32>, tensor<4x4xf32>, tensor<4xf32>, tensor<4x4xf32>, tensor<4xf32>) {
    %h = spec.linear %x, %w, %b : (tensor<3x4xf32>, tensor<4x4xf32>, tensor<4xf32>) -> tensor<3x4xf32>
    %s = spec.sigmoid %h : (tensor<3x4xf32>) -> tensor<3x4xf32>
    %l = spec.mse_loss %s, %t : (tensor<3x4xf32>, tensor<3x4xf32>) -> tensor<f32>
    %w2, %b2, %mw2, %mb2 = ad.train_step %l, %lr, %w, %b, %mw, %mb
        {optimizer = "momentum", momentum = 0.9 : f64, nesterov = false, weight_decay = 0.0 : f64}
        : (tensor<f32>, tensor<f32>, tensor<4x4xf32>, tensor<4xf32>, tensor<4x4xf32>, tensor<4xf32>)
        -> (tensor<4x4xf32>, tensor<4xf32>, tensor<4x4xf32>, tensor<4xf32>)
    func.return %l, %w2, %b2, %mw2, %mb2 : tensor<f32>, tensor<4x4xf32>, tensor<4xf32>, tensor<4x4xf32>, tensor<4xf32>
  }
}
"""

GRAD_SQUARE = """
builtin.module {
  func.func @main(%x: tensor<2x3xf32>, %a: tensor<3x3xf32>) -> (tensor<2x3xf32>, tensor<3x3xf32>) {
    %h = spec.matmul %x, %a : (tensor<2x3xf32>, tensor<3x3xf32>) -> tensor<2x3xf32>
    %q = spec.mul %h, %h : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
    %l = spec.reduce_sum %q {axes = array<i64: 0, 1>} : (tensor<2x3xf32>) -> tensor<f32>
    %gx, %ga = ad.grad %l, %x, %a : (tensor<f32>, tensor<2x3xf32>, tensor<3x3xf32>) -> (tensor<2x3xf32>, tensor<3x3xf32>)
    func.return %gx, %ga : tensor<2x3xf32>, tensor<3x3xf32>
  }
}
"""


def sha(text) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def lowered(text: str) -> tuple[str, str, dict]:
    """(ad stage, spec stage, witness with hashes) as the driver makes them."""
    model = Model(parse_module(text, "t.mlir"), {}, Path("t.mlir"))
    stages = run_pipeline(model, [LowerAutogradPass()])
    w = dict(stages[1].witness, source_sha256=sha(stages[0].text), target_sha256=sha(stages[1].text))
    return stages[0].text, stages[1].text, w


def verdict(source: str, target: str, witness: dict):
    return check(source, target, dict(witness, source_sha256=sha(source), target_sha256=sha(target)))


@pytest.fixture(scope="module")
def sgd():
    return lowered(SGD_STEP)


@pytest.fixture(scope="module")
def square():
    return lowered(GRAD_SQUARE)


def test_honest_stages_are_accepted(sgd, square):
    for source, target, w in (sgd, square):
        assert check(source, target, w), check(source, target, w)
    # the claims name every rule instance: the forward op, the operand, where its target ops end
    ops = [(c["op"], c["operand"]) for c in sgd[2]["claims"]["backward"]]
    assert ops == [("spec.mse_loss", 0), ("spec.sigmoid", 0), ("spec.linear", 1), ("spec.linear", 2)]
    ends = [c["target"] for c in sgd[2]["claims"]["backward"]]
    assert ends == sorted(ends) and ends[0] > 3


def relowered(text: str, monkeypatch, patch) -> tuple[str, str, dict]:
    """The stages a compiler with a patched rule table would produce (consistent hashes)."""
    with monkeypatch.context() as m:
        patch(m)
        return lowered(text)


def rejected_for(source, target, w, words: str):
    """Rejected, for a reason naming `words` (the hashes are made to fit: the checker must find
    the fault in the content)."""
    v = verdict(source, target, w)
    assert not v, "a tampered twin was accepted"
    assert words in v.reason, v.reason
    return v


def test_swapped_rule_is_rejected(sgd, monkeypatch):
    # sigmoid differentiated with tanh's rule: 1 - y^2 instead of y (1 - y)
    twin = relowered(SGD_STEP, monkeypatch, lambda m: m.setitem(
        lower_autograd.VJP, "sigmoid", lower_autograd.VJP["tanh"]))
    assert twin[1] != sgd[1]
    rejected_for(*twin, "is not the expected")


def test_dropped_term_is_rejected(square, monkeypatch):
    # d(h*h)/dh = dy h + dy h; a compiler that keeps only the first contribution
    def patch(m):
        original = lower_autograd.VJP["mul"]
        m.setitem(lower_autograd.VJP, "mul", lambda e, f, k: original(e, f, k) if k == 0 else f.dy)
    twin = relowered(GRAD_SQUARE, monkeypatch, patch)
    rejected_for(*twin, "is not the expected")


def test_transposed_operand_is_rejected(square, monkeypatch):
    # da = x^T dy, computed as dy^T-less x dy on a square... : matmul(dy, a) instead of dy a^T
    def patch(m):
        original = lower_autograd.VJP["matmul"]

        def wrong(e, f, k):
            return e("matmul", f.dy, f.x[1]) if k == 0 else original(e, f, k)
        m.setitem(lower_autograd.VJP, "matmul", wrong)
    twin = relowered(GRAD_SQUARE, monkeypatch, patch)
    rejected_for(*twin, "is not the expected")


def test_changed_constant_and_hyperparameter_are_rejected(sgd):
    source, target, w = sgd
    assert "dense<9.000000e-01>" in target  # the momentum
    rejected_for(source, target.replace("dense<9.000000e-01>", "dense<8.000000e-01>", 1), w, "spec.constant")
    # the 2/n of mse_loss
    assert "dense<0.166666672>" in target
    rejected_for(source, target.replace("dense<0.166666672>", "dense<0.333333343>", 1), w, "spec.constant")


def test_swapped_operands_in_the_target_text_are_rejected(square):
    source, target, w = square
    lines = target.splitlines()
    k = next(i for i, line in enumerate(lines) if '"spec.mul"' in line and "%q" not in line)
    a, b = lines[k].split("(", 1)[1].split(")", 1)[0].split(", ")
    lines[k] = lines[k].replace(f"({a}, {b})", f"({b}, {a})", 1)
    assert a != b
    rejected_for(source, "\n".join(lines) + "\n", w, "is not the expected")


def test_altered_claims_are_rejected(sgd):
    source, target, w = sgd
    for edit in (lambda c: c["backward"][1].update(operand=1), lambda c: c["backward"][0].update(target=1),
                 lambda c: c["backward"].pop(), lambda c: c["backward"][2].update(op="spec.matmul"),
                 lambda c: c.update(extra=[])):
        claims = json.loads(json.dumps(w["claims"]))
        edit(claims)
        rejected_for(source, target, dict(w, claims=claims), "claimed rule instances")


def test_target_with_an_op_too_many_or_too_few_is_rejected(sgd):
    source, target, w = sgd
    lines = target.splitlines()
    k = next(i for i, line in enumerate(lines) if '"spec.where"' in line or '"spec.sigmoid"' in line)
    rejected_for(source, "\n".join(lines[:k] + lines[k + 1:]) + "\n", w, "")
    ret = next(i for i, line in enumerate(lines) if '"func.return"' in line)
    extra = lines[ret - 1].replace("%", "%extra_", 1) if "=" in lines[ret - 1] else lines[ret - 1]
    assert not verdict(source, "\n".join(lines[:ret] + [extra] + lines[ret:]) + "\n", w)


def test_a_different_optimizer_or_signature_is_rejected(sgd):
    source, target, w = sgd
    # the source asks for momentum 0.9; a target derived for 0.8 is another program
    other = lowered(SGD_STEP.replace("momentum = 0.9 : f64", "momentum = 0.8 : f64"))
    rejected_for(source, other[1], w, "")
    rejected_for(source, target.replace('"main"', '"main2"', 1), w, "")


# ---------------------------------------------------------------- the import of an ad program


def import_witness(text: str, params: dict) -> tuple[bytes, str, dict]:
    from vnnc.driver import generic_text
    from vnnc.model import signature

    module = parse_module(text, "t.mlir")
    stage = generic_text(module)
    payload = safetensors_bytes(params)
    ins, outs = signature(module)
    claims = {"inputs": ins, "outputs": outs, "params": {k: safetensors.param_sha256(v) for k, v in params.items()}}
    return payload, stage, {"version": 1, "pass": "import", "kind": "ad-wellformed",
                            "source_sha256": sha(payload), "target_sha256": sha(stage), "claims": claims}


def safetensors_bytes(params: dict) -> bytes:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        safetensors.write(Path(d) / "p.safetensors", params)
        return (Path(d) / "p.safetensors").read_bytes()


def test_ad_program_import_and_its_twins():
    payload, stage, w = import_witness(SGD_STEP, {"unused": np.zeros(2, np.float32)})
    assert check(payload, stage, w)
    assert not check(payload, stage, dict(w, kind="spec-wellformed"))  # spec-wellformed: not a spec op

    def twin(new_stage: str, words: str):
        v = check(payload, new_stage, dict(w, target_sha256=sha(new_stage)))
        assert not v and words in v.reason, v

    twin(stage.replace('optimizer = "momentum"', 'optimizer = "rmsprop"'), "known ad op")
    twin(stage.replace("nesterov = false, ", ""), "with its properties")
    twin(stage.replace("(tensor<f32>, tensor<f32>, tensor<4x4xf32>, tensor<4xf32>, tensor<4x4xf32>, tensor<4xf32>) -> "
                       "(tensor<4x4xf32>, tensor<4xf32>, tensor<4x4xf32>, tensor<4xf32>)",
                       "(tensor<f32>, tensor<f32>, tensor<4x4xf32>, tensor<4xf32>, tensor<4x4xf32>, tensor<4xf32>) -> "
                       "(tensor<4x4xf32>, tensor<4xf32>, tensor<4x4xf32>, tensor<4x4xf32>)"), "")
    twin(stage.replace("momentum = 9.000000e-01 : f64", "momentum = 9 : i64"), "with its properties")
    claims = json.loads(json.dumps(w["claims"]))
    claims["inputs"][2]["name"] = "learning_rate"
    assert not check(payload, stage, dict(w, claims=claims))
    # two ad ops are refused by the compiler's verifier too; here a second grad in the text
    bad = GRAD_SQUARE.replace("func.return %gx, %ga", "%gy, %gb = ad.grad %l, %x, %a : (tensor<f32>, "
                              "tensor<2x3xf32>, tensor<3x3xf32>) -> (tensor<2x3xf32>, tensor<3x3xf32>)\n"
                              "    func.return %gx, %ga")
    payload2, stage2, w2 = import_witness(bad, {})
    v = check(payload2, stage2, w2)
    assert not v and "more than one ad op" in v.reason
