"""Tampered twins of finite-precision bundles: the checker must reject each, with a reason.

Two good bundles of examples/mlp.mlir are compiled once: BF16 (--precision bf16 --rounding
down --accumulate f64) and FP8 (--precision fp8-e4m3fn, nearest, f32). A twin changes one
thing in the fp stage (checked by the `precision` witness, spec -> fp), in the loop stage or
in the loop witness (the `loop-nests` witness, fp -> loops). As in test_checker_tamper.py,
the witness's source/target hashes are recomputed for the tampered texts and a tampered
kernel's certificate is read back from its IR (`recertify`), so that what rejects the twin
is the deep check it is meant for: the match against the spec stage op for op, the
witness's per-op choices, or the checker's own definition of the kernel with its
arithmetic (compute type, conversions, the rounding to the storage format, the kernel's
rounding-mode attribute that the C printer turns into fesetround).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import vnnc
from test_checker_tamper import copy, edit, in_function, recertify, rejected, sha
from vnnc.verifier.bundle import check_bundle
from vnnc.verifier.check import Accepted, check

ROOT = Path(__file__).resolve().parents[2]
STAGES = ("00-import", "01-assign-precision", "02-lower-to-loops")
BUILDS = {
    "bf16": {"precision": "bf16", "rounding": "down", "accumulate": "f64"},
    "fp8": {"precision": "fp8-e4m3fn", "rounding": "nearest", "accumulate": "f32"},
}
FC2, FC3, RELU = "linear_1x256_256x256_256_1x256", "linear_1x256_10x256_10_1x10", "relu_1x256_1x256"
ROUND_W2 = "round_256x256_256x256"  # the kernel of fc2.weight's fp.round


@dataclass
class Good:
    dir: Path
    spec: str
    fp: str
    loops: str
    w_fp: dict  # precision: spec -> fp
    w_loops: dict  # loop-nests: fp -> loops


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> dict[str, Good]:
    root = tmp_path_factory.mktemp("fp_tamper")
    out = {}
    for name, precision in BUILDS.items():
        d = vnnc.compile(ROOT / "examples" / "mlp.mlir", out=root / name, force=True, precision=precision).path
        texts = [(d / "stages" / f"{s}.mlir").read_text() for s in STAGES]
        ws = [json.loads((d / "witnesses" / f"{s}.json").read_text()) for s in STAGES[1:]]
        out[name] = Good(d, *texts, *ws)
    return out


def fp_reason(g: Good, fp: str | None = None, witness: dict | None = None) -> str:
    """Why the checker rejects the precision witness of the twin (spec, fp, witness)."""
    fp = fp or g.fp
    w = copy(witness or g.w_fp)
    w["source_sha256"], w["target_sha256"] = sha(g.spec), sha(fp)
    return rejected(check(g.spec, fp, json.dumps(w)))


def loops_reason(g: Good, loops: str | None = None, witness: dict | None = None) -> str:
    """Why the checker rejects the loop witness of the twin (fp, loops, witness); a
    tampered kernel's certificate is read back from the tampered IR."""
    loops = loops or g.loops
    w = copy(witness or g.w_loops)
    if loops != g.loops:
        w = recertify(loops, w)
    w["source_sha256"], w["target_sha256"] = sha(g.fp), sha(loops)
    return rejected(check(g.fp, loops, json.dumps(w)))


def with_claim(w: dict, change) -> dict:
    w = copy(w)
    change(w["claims"])
    return w


def kernel_cert(claims: dict, name: str) -> dict:
    return next(c for c in claims["kernels"] if c["kernel"] == name)


def set_cert(name: str, **fields):
    return lambda claims: kernel_cert(claims, name).update(fields)


# ---------------------------------------------------------------- baseline


@pytest.mark.parametrize("name", list(BUILDS))
def test_good_bundles_are_accepted(good, name):
    g = good[name]
    rows = check_bundle(g.dir)
    assert [r["stage"] for r in rows] == ["bundle", *STAGES, "library"]
    assert all(r["verdict"] == "accepted" for r in rows), rows
    assert check(g.spec, g.fp, json.dumps(g.w_fp)) == Accepted()
    assert check(g.fp, g.loops, json.dumps(g.w_loops)) == Accepted()
    assert recertify(g.loops, g.w_loops) == g.w_loops
    assert g.w_fp["kind"] == "precision" and g.w_loops["kind"] == "loop-nests"


def test_default_f32_pipeline_verifies(tmp_path):
    bundle = vnnc.compile(ROOT / "examples" / "mlp.mlir", out=tmp_path / "b", force=True,
                          precision={"precision": "f32"})
    m = bundle.manifest
    assert m["verified"] and m["passes"] == ["assign-precision", "lower-to-loops"]
    assert all(r["verdict"] == "accepted" for r in check_bundle(bundle.path))
    fp = (bundle.path / "stages" / "01-assign-precision.mlir").read_text()
    assert fp.count('"fp.linear"') == 3 and '"fp.round"' not in fp  # f32 in, f32 out
    assert 'acc = "f32"' in fp and 'rounding = "nearest"' in fp


# ---------------------------------------------------------------- fp stage twins

# bf16 fp stage lines (the second layer and the relu before it)
RELU1 = '%a1 = "fp.relu"(%h1) <{rounding = "down", acc = "f64", order = "sequential"}>'
RELU1_TYPE = "%a1 = \"fp.relu\"(%h1) <{rounding = \"down\", acc = \"f64\", order = \"sequential\"}> : " \
             "(tensor<1x256xbf16>) -> tensor<1x256xbf16>"
W2_ROUND = ('%3 = "fp.round"(%fc2_weight) <{format = "bf16", rounding = "down"}> : '
            "(tensor<256x256xf32>) -> tensor<256x256xbf16>")
FC2_OP = '%h2 = "fp.linear"(%a1, %3, %4) <{rounding = "down", acc = "f64", order = "sequential"}>'
FC2_TYPES = "(tensor<1x256xbf16>, tensor<256x256xbf16>, tensor<256xbf16>) -> tensor<1x256xbf16>"
OUT_ROUND = '%7 = "fp.round"(%logits) <{format = "f32", rounding = "down"}>'


def _param_read_unrounded(fp: str) -> str:
    """fc2's linear reads the f32 parameter itself: its fp.round is gone."""
    fp = edit(fp, f"    {W2_ROUND}\n", "")
    return edit(fp, f"{FC2_OP} : {FC2_TYPES}",
                '%h2 = "fp.linear"(%a1, %fc2_weight, %4) <{rounding = "down", acc = "f64", order = '
                '"sequential"}> : (tensor<1x256xbf16>, tensor<256x256xf32>, tensor<256xbf16>) -> '
                "tensor<1x256xbf16>")


def _param_rounded_to(fp: str, fmt: str, elem: str) -> str:
    """fc2.weight is rounded to another format, which the linear reads."""
    fp = edit(fp, W2_ROUND, W2_ROUND.replace('format = "bf16"', f'format = "{fmt}"')
              .replace("tensor<256x256xbf16>", f"tensor<256x256x{elem}>"))
    return edit(fp, f"{FC2_OP} : {FC2_TYPES}",
                f"{FC2_OP} : {FC2_TYPES.replace('tensor<256x256xbf16>', f'tensor<256x256x{elem}>')}")


def _relu_stored_in(fp: str, elem: str) -> str:
    """The first relu's result (and so fc2's operand) is stored in another format."""
    fp = edit(fp, RELU1_TYPE, RELU1_TYPE.replace("-> tensor<1x256xbf16>", f"-> tensor<1x256x{elem}>"))
    return edit(fp, f"{FC2_OP} : {FC2_TYPES}",
                f"{FC2_OP} : {FC2_TYPES.replace('(tensor<1x256xbf16>', f'(tensor<1x256x{elem}>', 1)}")


FP_TWINS = {
    # the witness's per-op choices must be what the fp stage holds
    "relu-rounding-down-to-up": ("bf16", lambda g: fp_reason(g, edit(
        g.fp, RELU1, RELU1.replace('"down"', '"up"'))), "choices differ"),
    "relu-rounding-down-to-nearest": ("bf16", lambda g: fp_reason(g, edit(
        g.fp, RELU1, RELU1.replace('"down"', '"nearest"'))), "choices differ"),
    "fc2-and-its-roundings-down-to-zero": ("bf16", lambda g: fp_reason(g, edit(
        edit(g.fp, FC2_OP, FC2_OP.replace('"down"', '"zero"')),
        '(%fc2_weight) <{format = "bf16", rounding = "down"}>',
        '(%fc2_weight) <{format = "bf16", rounding = "zero"}>').replace(
        '(%fc2_bias) <{format = "bf16", rounding = "down"}>',
        '(%fc2_bias) <{format = "bf16", rounding = "zero"}>')), "choices differ"),
    "relu-acc-f64-to-f32": ("bf16", lambda g: fp_reason(g, edit(
        g.fp, RELU1, RELU1.replace('acc = "f64"', 'acc = "f32"'))), "choices differ"),
    "fc2-acc-f64-to-f32": ("bf16", lambda g: fp_reason(g, edit(
        g.fp, FC2_OP, FC2_OP.replace('acc = "f64"', 'acc = "f32"'))), "choices differ"),
    "fp8-fc1-acc-f32-to-f64": ("fp8", lambda g: fp_reason(g, edit(
        g.fp, '%h1 = "fp.linear"(%0, %1, %2) <{rounding = "nearest", acc = "f32"',
        '%h1 = "fp.linear"(%0, %1, %2) <{rounding = "nearest", acc = "f64"')), "choices differ"),
    "relu-stored-in-f16": ("bf16", lambda g: fp_reason(g, _relu_stored_in(g.fp, "f16")), "choices differ"),
    "relu-stored-in-e5m6": ("bf16", lambda g: fp_reason(g, _relu_stored_in(g.fp, '!fp.float<"e5m6">')),
                            "choices differ"),
    "fp8-relu-stored-saturating": ("fp8", lambda g: fp_reason(g, edit(
        edit(g.fp, '(tensor<1x256xf8E4M3FN>) -> tensor<1x256xf8E4M3FN>\n    %fc2_weight',
             '(tensor<1x256xf8E4M3FN>) -> tensor<1x256x!fp.float<"fp8-e4m3fn-sat">>\n    %fc2_weight'),
        "(tensor<1x256xf8E4M3FN>, tensor<256x256xf8E4M3FN>, tensor<256xf8E4M3FN>) -> tensor<1x256xf8E4M3FN>",
        '(tensor<1x256x!fp.float<"fp8-e4m3fn-sat">>, tensor<256x256xf8E4M3FN>, tensor<256xf8E4M3FN>) -> '
        "tensor<1x256xf8E4M3FN>")), "choices differ"),
    # the result type alone: the type no longer matches the value's uses
    "relu-result-type-only": ("bf16", lambda g: fp_reason(g, edit(
        g.fp, RELU1_TYPE, RELU1_TYPE.replace("-> tensor<1x256xbf16>", "-> tensor<1x256xf16>"))), "defined as"),
    # values from outside enter through fp.round into the op's format, in its mode
    "param-round-removed": ("bf16", lambda g: fp_reason(g, _param_read_unrounded(g.fp)),
                            "not read in bf16"),
    "param-rounded-to-f16": ("bf16", lambda g: fp_reason(g, _param_rounded_to(g.fp, "f16", "f16")),
                             "not read in bf16"),
    "param-rounded-to-fp8": ("bf16", lambda g: fp_reason(g, _param_rounded_to(g.fp, "fp8-e5m2", "f8E5M2")),
                             "not read in bf16"),
    "param-round-mode-down-to-nearest": ("bf16", lambda g: fp_reason(g, edit(
        g.fp, W2_ROUND, W2_ROUND.replace('rounding = "down"', 'rounding = "nearest"'))), "not read in bf16"),
    "param-round-format-attr-only": ("bf16", lambda g: fp_reason(g, edit(
        g.fp, W2_ROUND, W2_ROUND.replace('format = "bf16"', 'format = "f16"'))), "declared format"),
    "fp8-input-rounded-saturating": ("fp8", lambda g: fp_reason(g, edit(
        edit(g.fp, '%0 = "fp.round"(%x) <{format = "fp8-e4m3fn", rounding = "nearest"}> : '
             "(tensor<1x784xf32>) -> tensor<1x784xf8E4M3FN>",
             '%0 = "fp.round"(%x) <{format = "fp8-e4m3fn-sat", rounding = "nearest"}> : '
             '(tensor<1x784xf32>) -> tensor<1x784x!fp.float<"fp8-e4m3fn-sat">>'),
        "(tensor<1x784xf8E4M3FN>, tensor<256x784xf8E4M3FN>",
        '(tensor<1x784x!fp.float<"fp8-e4m3fn-sat">>, tensor<256x784xf8E4M3FN>')), "not read in fp8-e4m3fn"),
    "output-round-to-f32-removed": ("bf16", lambda g: fp_reason(g, edit(edit(
        g.fp, f"    {OUT_ROUND} : (tensor<1x10xbf16>) -> tensor<1x10xf32>\n", ""),
        '"func.return"(%7) : (tensor<1x10xf32>) -> ()', '"func.return"(%logits) : (tensor<1x10xbf16>) -> ()')),
        "fp.round to f32"),
    # the witness's claims, each field of one entry
    "claim-format": ("bf16", lambda g: fp_reason(g, witness=with_claim(
        g.w_fp, lambda c: c["ops"][1].update(format="f16"))), "choices differ"),
    "claim-acc": ("bf16", lambda g: fp_reason(g, witness=with_claim(
        g.w_fp, lambda c: c["ops"][0].update(acc="f32"))), "choices differ"),
    "claim-rounding": ("bf16", lambda g: fp_reason(g, witness=with_claim(
        g.w_fp, lambda c: c["ops"][2].update(rounding="nearest"))), "choices differ"),
    "fp8-claim-format-saturating": ("fp8", lambda g: fp_reason(g, witness=with_claim(
        g.w_fp, lambda c: c["ops"][4].update(format="fp8-e4m3fn-sat"))), "choices differ"),
    "fp8-claim-rounding": ("fp8", lambda g: fp_reason(g, witness=with_claim(
        g.w_fp, lambda c: c["ops"][0].update(rounding="down"))), "choices differ"),
    "claim-entry-dropped": ("bf16", lambda g: fp_reason(g, witness=with_claim(
        g.w_fp, lambda c: c["ops"].pop())), "choices differ"),
}


@pytest.mark.parametrize("twin", list(FP_TWINS))
def test_fp_stage_twin_is_rejected(good, twin):
    name, make, word = FP_TWINS[twin]
    reason = make(good[name])
    assert word in reason, reason


# ---------------------------------------------------------------- loop stage twins

FC3_EXTF = '          %15 = "arith.extf"(%14) : (f32) -> f64\n'
FC3_MUL = '%18 = "arith.mulf"(%15, %17) <{fastmath = #arith.fastmath<none>}> : (f64, f64) -> f64'
FC3_ADD = '%19 = "arith.addf"(%13, %18) <{fastmath = #arith.fastmath<none>}> : (f64, f64) -> f64'
FC3_ROUND = '        %23 = "fp.round"(%22) <{format = "bf16", rounding = "down"}> : (f64) -> f64\n'
FC3_TRUNC = '%24 = "arith.truncf"(%23) : (f64) -> f32'
FP8_FC3_MUL = '%16 = "arith.mulf"(%14, %15) <{fastmath = #arith.fastmath<none>}> : (f32, f32) -> f32'
FP8_FC3_ROUND = '        %20 = "fp.round"(%19) <{format = "fp8-e4m3fn", rounding = "nearest"}> : (f32) -> f32\n'
FP8_FC3_STORE = '"memref.store"(%20, %3, %9, %10)'


LOOP_TWINS = {
    # the kernel's rounding-mode attribute, from which the C printer sets fesetround
    "relu-fp.rounding-removed": ("bf16", lambda g: loops_reason(g, in_function(
        g.loops, RELU, '{vnnc.op = "fp.relu", fp.rounding = "down"}', '{vnnc.op = "fp.relu"}')),
        "fp.rounding attribute"),
    "fc3-fp.rounding-down-to-up": ("bf16", lambda g: loops_reason(g, in_function(
        g.loops, FC3, 'fp.rounding = "down"', 'fp.rounding = "up"')), "fp.rounding attribute"),
    "round-kernel-fp.rounding-removed": ("bf16", lambda g: loops_reason(g, in_function(
        g.loops, ROUND_W2, '{vnnc.op = "fp.round", fp.rounding = "down"}', '{vnnc.op = "fp.round"}')),
        "fp.rounding attribute"),
    "fp8-relu-fp.rounding-added": ("fp8", lambda g: loops_reason(g, in_function(
        g.loops, RELU, '{vnnc.op = "fp.relu"}', '{vnnc.op = "fp.relu", fp.rounding = "down"}')),
        "fp.rounding attribute"),
    # the rounding to the storage format inside a kernel
    "fc3-round-format-bf16-to-f16": ("bf16", lambda g: loops_reason(g, in_function(
        g.loops, FC3, 'format = "bf16", rounding = "down"', 'format = "f16", rounding = "down"')),
        "not the definition"),
    "fc3-round-mode-down-to-up": ("bf16", lambda g: loops_reason(g, in_function(
        g.loops, FC3, 'format = "bf16", rounding = "down"', 'format = "bf16", rounding = "up"')),
        "not the definition"),
    "fp8-fc3-round-saturating": ("fp8", lambda g: loops_reason(g, in_function(
        g.loops, FC3, 'format = "fp8-e4m3fn"', 'format = "fp8-e4m3fn-sat"')), "not the definition"),
    "fp8-relu-round-e5m2": ("fp8", lambda g: loops_reason(g, in_function(
        g.loops, RELU, 'format = "fp8-e4m3fn"', 'format = "fp8-e5m2"')), "not the definition"),
    "param-round-kernel-format": ("bf16", lambda g: loops_reason(g, in_function(
        g.loops, ROUND_W2, 'format = "bf16"', 'format = "f16"')), "not the definition"),
    # stores of a value not rounded to the storage format
    "fc3-stores-unrounded": ("bf16", lambda g: loops_reason(g, in_function(in_function(
        g.loops, FC3, FC3_ROUND, ""), FC3, FC3_TRUNC, FC3_TRUNC.replace("(%23)", "(%22)"))),
        "not the definition"),
    "fp8-fc3-stores-unrounded": ("fp8", lambda g: loops_reason(g, in_function(in_function(
        g.loops, FC3, FP8_FC3_ROUND, ""), FC3, FP8_FC3_STORE, FP8_FC3_STORE.replace("%20", "%19"))),
        "not the definition"),
    "fp8-relu-stores-unrounded": ("fp8", lambda g: loops_reason(g, in_function(in_function(
        g.loops, RELU,
        '        %10 = "fp.round"(%9) <{format = "fp8-e4m3fn", rounding = "nearest"}> : (f32) -> f32\n', ""),
        RELU, '"memref.store"(%10, %1, %6, %7)', '"memref.store"(%9, %1, %6, %7)')), "not the definition"),
    # conversions: the load used in f64 arithmetic without its extf; a double rounding
    "fc3-extf-removed": ("bf16", lambda g: loops_reason(g, in_function(in_function(
        g.loops, FC3, FC3_EXTF, ""), FC3, FC3_MUL, FC3_MUL.replace("(%15, %17)", "(%14, %17)")
        .replace("(f64, f64)", "(f32, f64)"))), "must all be f32 or all f64"),
    "fc3-load-typed-f64": ("bf16", lambda g: loops_reason(g, in_function(in_function(
        g.loops, FC3, FC3_EXTF, ""), FC3,
        '%14 = "memref.load"(%0, %9, %12) : (memref<1x256xf32>, index, index) -> f32',
        '%15 = "memref.load"(%0, %9, %12) : (memref<1x256xf32>, index, index) -> f64')), "type"),
    "fc3-product-through-f32": ("bf16", lambda g: loops_reason(g, in_function(in_function(
        g.loops, FC3, FC3_MUL, FC3_MUL + '\n          %90 = "arith.truncf"(%18) : (f64) -> f32'
        '\n          %91 = "arith.extf"(%90) : (f32) -> f64'), FC3, FC3_ADD, FC3_ADD.replace("%18)", "%91)"))),
        "not the definition"),
    "fc3-result-truncated-before-rounding": ("bf16", lambda g: loops_reason(g, in_function(
        g.loops, FC3, FC3_ROUND,
        '        %90 = "arith.truncf"(%22) : (f64) -> f32\n'
        '        %91 = "arith.extf"(%90) : (f32) -> f64\n' + FC3_ROUND.replace("(%22)", "(%91)"))),
        "not the definition"),
    "fp8-fc3-product-in-f64": ("fp8", lambda g: loops_reason(g, in_function(
        g.loops, FC3, FP8_FC3_MUL,
        '%90 = "arith.extf"(%14) : (f32) -> f64\n          %91 = "arith.extf"(%15) : (f32) -> f64\n'
        '          %92 = "arith.mulf"(%90, %91) <{fastmath = #arith.fastmath<none>}> : (f64, f64) -> f64\n'
        '          %16 = "arith.truncf"(%92) : (f64) -> f32')), "not the definition"),
    # the witness's kernel certificate claims other arithmetic than the kernel has
    "cert-acc-f64-to-f32": ("bf16", lambda g: loops_reason(g, witness=with_claim(
        g.w_loops, set_cert(FC3, acc="f32"))), "not the definition"),
    "cert-format-bf16-to-f16": ("bf16", lambda g: loops_reason(g, witness=with_claim(
        g.w_loops, set_cert(FC3, format="f16"))), "not the definition"),
    "cert-rounding-down-to-up": ("bf16", lambda g: loops_reason(g, witness=with_claim(
        g.w_loops, set_cert(RELU, rounding="up"))), "fp.rounding attribute"),
    "fp8-cert-acc-f32-to-f64": ("fp8", lambda g: loops_reason(g, witness=with_claim(
        g.w_loops, set_cert(FC3, acc="f64"))), "not the definition"),
    "fp8-cert-format-saturating": ("fp8", lambda g: loops_reason(g, witness=with_claim(
        g.w_loops, set_cert(RELU, format="fp8-e4m3fn-sat"))), "not the definition"),
    # kernel and certificate agree with each other, not with the fp stage's op
    "kernel-and-cert-in-f16": ("bf16", lambda g: loops_reason(g, in_function(
        g.loops, FC3, 'format = "bf16", rounding = "down"', 'format = "f16", rounding = "down"'),
        with_claim(g.w_loops, set_cert(FC3, format="f16"))), "not a kernel certified for it"),
    "kernel-and-cert-rounding-up": ("bf16", lambda g: loops_reason(g, in_function(in_function(
        g.loops, FC3, 'format = "bf16", rounding = "down"', 'format = "bf16", rounding = "up"'),
        FC3, 'fp.rounding = "down"', 'fp.rounding = "up"'),
        with_claim(g.w_loops, set_cert(FC3, rounding="up"))), "not a kernel certified for it"),
}


@pytest.mark.parametrize("twin", list(LOOP_TWINS))
def test_loop_stage_twin_is_rejected(good, twin):
    name, make, word = LOOP_TWINS[twin]
    reason = make(good[name])
    assert word in reason, reason


# ---------------------------------------------------------------- a whole bundle


def test_bundle_with_a_tampered_fp_stage_is_rejected(good, tmp_path):
    """The relu's rounding mode changed in the bundle's fp stage, every hash made to match
    (manifest, the precision witness's target, the loop witness's source): the precision
    witness's row rejects it, and the library is not sampled against an unchecked stage."""
    d = tmp_path / "b"
    shutil.copytree(good["bf16"].dir, d)
    fp_file = d / "stages" / "01-assign-precision.mlir"
    fp = edit(fp_file.read_text(), RELU1, RELU1.replace('"down"', '"up"'))
    fp_file.write_text(fp)
    for stage, key in (("01-assign-precision", "target_sha256"), ("02-lower-to-loops", "source_sha256")):
        wf = d / "witnesses" / f"{stage}.json"
        wf.write_text(json.dumps(dict(json.loads(wf.read_text()), **{key: sha(fp)})))
    m = json.loads((d / "manifest.json").read_text())
    next(s for s in m["stages"] if s["name"] == "01-assign-precision")["sha256"] = sha(fp)
    (d / "manifest.json").write_text(json.dumps(m))
    rows = {r["stage"]: r for r in check_bundle(d)}
    assert rows["bundle"]["verdict"] == "accepted"
    assert rows["01-assign-precision"]["verdict"] == "rejected"
    assert "choices differ" in rows["01-assign-precision"]["reason"]
    assert rows["library"]["verdict"] == "rejected"


@pytest.mark.parametrize("default", [{"format": "bf16", "acc": "f16", "rounding": "down"},
                                     {"format": "bf99", "acc": "f32", "rounding": "down"},
                                     "garbage", {"format": "bf16", "acc": "f32"}])
def test_precision_witness_default_choice_is_checked(tmp_path, default):
    # regression: claims.default was not read by the checker
    import json as _json

    from vnnc.driver import compile_model
    from vnnc.verifier.check import check

    b = compile_model(Path(__file__).resolve().parents[2] / "examples" / "mlp.mlir", tmp_path / "b",
                      precision={"precision": "bf16", "rounding": "down"})
    stages = [(b.path / s["file"]).read_text() for s in b.manifest["stages"]]
    w = _json.loads((b.path / "witnesses" / "01-assign-precision.json").read_text())
    assert check(stages[0], stages[1], w)
    w["claims"]["default"] = default
    assert not check(stages[0], stages[1], w)
    w["claims"]["default"] = {"format": "bf16", "acc": "f32", "rounding": "down"}
    w["claims"]["extra"] = 1
    assert not check(stages[0], stages[1], w)
