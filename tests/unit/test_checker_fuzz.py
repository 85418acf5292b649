"""Fuzzing the trusted checker: random and mutated input never crashes it, and a mutated
stage is accepted only when it means the same as the original.

- `verifier.mlir.parse` on random text raises nothing but MLIRSyntaxError;
- `check` on random bytes, random text, random witnesses and random parameter files
  always answers Accepted or Rejected, never raises;
- token-level mutations of real stage files (tokens deleted, duplicated, replaced by
  other tokens of the file, swapped, numbers changed), checked with witnesses that match
  the mutated text (hashes recomputed, kernel certificates read back from the mutated IR):
  whenever the checker accepts a mutant, what is built from it must be what is built from
  the original (the C printer's output, ABI included, is identical), and a mutated spec
  stage must be the same module up to its attributes.

The checker reads less of the text than xDSL does: it ignores properties it has no use for
(alignment, operandSegmentSizes). Mutants that change only those are accepted by the
checker and refused by the backend, which parses and verifies the stage with xDSL before
printing C: nothing can be built from them, so they pass here (`built` returns None).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
import vnnc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vnnc import safetensors
from vnnc.verifier import mlir
from vnnc.verifier.check import Accepted, Reject, Rejected, check
from vnnc.verifier.loops import KernelReader, functions

ROOT = Path(__file__).resolve().parents[2]
LOOPS = "01-lower-to-loops"
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SMALL = """\
builtin.module attributes {{vnnc.params = "p.safetensors"}} {{
  func.func @main(%x: tensor<2x3xf32> {{vnnc.name = "x"}}) -> (tensor<2x4xf32> {{vnnc.name = "y"}}) {{
    %w = spec.param "w" {{sha256 = "{w}"}} : tensor<4x3xf32>
    %h = spec.linear %x, %w : (tensor<2x3xf32>, tensor<4x3xf32>) -> tensor<2x4xf32>
    %y = spec.relu %h : (tensor<2x4xf32>) -> tensor<2x4xf32>
    func.return %y : tensor<2x4xf32>
  }}
}}
"""


def sha(data: str | bytes) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


BUNDLES: dict[str, dict] = {}
"""The MLP example and a small linear+relu model: their stage texts and witnesses (a
module global, not a fixture argument, so that hypothesis does not print them)."""


@pytest.fixture(scope="module", autouse=True)
def bundles(tmp_path_factory) -> None:
    root = tmp_path_factory.mktemp("fuzz")
    w = np.random.default_rng(5).standard_normal((4, 3)).astype(np.float32)
    safetensors.write(root / "p.safetensors", {"w": w})
    (root / "small.mlir").write_text(SMALL.format(w=safetensors.param_sha256(w)))
    for name, model in (("mlp", ROOT / "examples" / "mlp.mlir"), ("small", root / "small.mlir")):
        d = vnnc.compile(model, out=root / name, force=True).path
        BUNDLES[name] = {
            "params": (d / "params.safetensors").read_bytes(),
            "spec": (d / "stages" / "00-import.mlir").read_text(),
            "loops": (d / "stages" / f"{LOOPS}.mlir").read_text(),
            "w0": json.loads((d / "witnesses" / "00-import.json").read_text()),
            "w1": json.loads((d / "witnesses" / f"{LOOPS}.json").read_text()),
        }


def verdict_of(source, target, witness) -> Accepted | Rejected:
    """check(), which must answer and never raise."""
    v = check(source, target, witness)
    assert isinstance(v, (Accepted, Rejected)), v
    if isinstance(v, Rejected):
        assert isinstance(v.reason, str) and v.reason
    return v


# ---------------------------------------------------------------- the parser

MLIR_ALPHABET = ' \n%"(){}<>[]:,=-^@#0123456789abcdefx.+_ilmnoprstuyz'
MLIR_WORDS = ['"builtin.module"', '"func.func"', '"scf.for"', '"memref.load"', '"arith.constant"',
              "tensor<", "memref<", "dense<", "array<i64:", "0x7fc00000", "f32", "index", "->",
              "^bb0", "%0", "%1", "({", "})", "<{", "}>", ": () -> ()", "value = ", "unit", "@main"]


def parse_or_syntax_error(text: str) -> None:
    try:
        module = mlir.parse(text)
    except mlir.MLIRSyntaxError:
        return
    assert module.name == "builtin.module"


@FUZZ
@given(st.text())
def test_parser_on_random_text(text):
    parse_or_syntax_error(text)


@FUZZ
@given(st.lists(st.sampled_from(MLIR_WORDS) | st.text(alphabet=MLIR_ALPHABET, max_size=8), max_size=60))
def test_parser_on_mlir_shaped_noise(parts):
    parse_or_syntax_error(" ".join(parts))


def test_parser_limits():
    for text in ('"builtin.module"() (' * 10_000, "[" * 100_000, '"a"() {x = ' + "[" * 100_000,
                 '"builtin.module"() ({}) {v = dense<"0x' + "0" * 7 + '"> : tensor<2xf32>} : () -> ()',
                 '"builtin.module"() ({}) {v = 1e999999 : f32} : () -> ()', "\x00\ud800", "%" * 1000):
        parse_or_syntax_error(text)


def test_double_slash_inside_a_string_is_not_a_comment(tmp_path):
    # regression: comments were cut out of the whole text first, strings included
    module = mlir.parse('"builtin.module"() ({\n}) {a = "x//y", b = "//"} // a comment\n : () -> ()')
    assert module.attrs == {"a": "x//y", "b": "//"}
    (tmp_path / "m.mlir").write_text(
        'func.func @main(%x: tensor<2x3xf32> {vnnc.name = "in//put"}) -> tensor<2x3xf32> {\n'
        "  %y = spec.relu %x : (tensor<2x3xf32>) -> tensor<2x3xf32>\n"
        "  func.return %y : tensor<2x3xf32>\n}\n")
    bundle = vnnc.compile(tmp_path / "m.mlir", out=tmp_path / "b", force=True)  # raises if rejected
    assert bundle.manifest["verified"] and bundle.manifest["inputs"][0]["name"] == "in//put"


def test_shape_with_a_space_is_not_read_as_one_number():
    # regression: "memref<2 4xf32>" was read as memref<24xf32> (xDSL refuses it)
    with pytest.raises(mlir.MLIRSyntaxError):
        mlir.Parser("memref<2 4xf32>").parse_type()
    assert str(mlir.Parser("memref<2x4xf32>").parse_type()) == "memref<2x4xf32>"


def test_tokenizer_reads_a_large_stage_in_one_pass():
    # regression: each token copied the rest of the text (quadratic: minutes for a few MB)
    text = BUNDLES["mlp"]["loops"] * 200  # about 2 MB
    assert len(mlir.tokenize(text)) > 200 * 1000


# ---------------------------------------------------------------- check() on random input

JSON = st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=20)


@FUZZ
@given(st.binary(), st.text(), st.binary())
def test_check_on_random_bytes(source, target, witness):
    verdict_of(source, target, witness)


@FUZZ
@given(kind=st.sampled_from(["loop-nests", "spec-wellformed", "other"]), claims=JSON, text=st.text())
def test_check_on_random_claims_and_stages(kind, claims, text):
    b = BUNDLES["small"]
    source = b["params"] if kind == "spec-wellformed" else b["spec"]
    for target in (text, b["loops"], b["spec"]):
        w = {"version": 1, "pass": "import" if kind == "spec-wellformed" else "lower-to-loops",
             "kind": kind, "source_sha256": sha(source), "target_sha256": sha(target), "claims": claims}
        assert not verdict_of(source, target, json.dumps(w))


@FUZZ
@given(st.binary(max_size=600), st.integers(0, 10_000))
def test_check_on_random_parameter_files(data, length):
    b_spec = SMALL.format(w="0" * 64)
    for payload in (data, length.to_bytes(8, "little") + data):
        w = {"version": 1, "pass": "import", "kind": "spec-wellformed", "source_sha256": sha(payload),
             "target_sha256": sha(b_spec), "claims": {}}
        assert not verdict_of(payload, b_spec, json.dumps(w))


# ---------------------------------------------------------------- mutated stages

TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|%[\w.$#-]+|\^\w+|@[\w.$-]+|#[\w.$]+|0x[0-9a-fA-F]+'
                   r"|-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|[A-Za-z_][\w.$]*|->|\s+|.")
MUTATIONS = st.lists(st.tuples(st.sampled_from(["delete", "duplicate", "replace", "swap", "number"]),
                               st.integers(0, 10**6), st.integers(0, 10**6), st.integers(-3, 300)),
                     min_size=1, max_size=3)


def mutate(text: str, mutations) -> str:
    tokens = TOKEN.findall(text)
    assert "".join(tokens) == text
    for kind, i, j, number in mutations:
        solid = [k for k, t in enumerate(tokens) if not t.isspace()]
        a, b = solid[i % len(solid)], solid[j % len(solid)]
        if kind == "delete":
            tokens[a] = ""
        elif kind == "duplicate":
            tokens[a] = tokens[a] + " " + tokens[a]
        elif kind == "replace":
            tokens[a] = tokens[b]
        elif kind == "swap":
            tokens[a], tokens[b] = tokens[b], tokens[a]
        else:
            numbers = [k for k in solid if re.fullmatch(r"-?\d+", tokens[k])] or [a]
            tokens[numbers[i % len(numbers)]] = str(number)
        tokens = TOKEN.findall("".join(tokens))
    return "".join(tokens)


def recertified(loops: str, witness: dict) -> dict:
    """The loop witness with each kernel's stores and reductions read back from the
    (mutated) IR, where it can be read, and the hash of the mutated text."""
    w = json.loads(json.dumps(witness))
    try:
        fns = functions(mlir.parse(loops))
    except mlir.MLIRSyntaxError:
        fns = {}
    for cert in w["claims"]["kernels"]:
        try:
            reader = KernelReader(fns[cert["kernel"]])
            cert["stores"], cert["reductions"] = json.loads(json.dumps([reader.stores, reader.fors]))
        except (Reject, KeyError, TypeError, ValueError, IndexError, AttributeError):
            pass
    w["target_sha256"] = sha(loops)
    return w


_BUILT: dict[str, str | None] = {}


def built(text: str) -> str | None:
    """What the C backend builds from a loop stage (model.c, ABI included), or None where
    the backend refuses the text: nothing can be built from it."""
    from vnnc.backends.c import abi_source, emit_c
    from vnnc.frontend_mlir import parse_module

    if text not in _BUILT:
        try:
            module = parse_module(text, "stage")
            src, params = emit_c(module)
            _BUILT[text] = src + abi_source(module, params)[0]
        except Exception:  # noqa: BLE001 - xDSL's verifier may fail with any error
            _BUILT[text] = None
    return _BUILT[text]


def spec_module(text: str, names: bool = True) -> str | None:
    """The spec module as xDSL reads it (generic form, without the module's attributes;
    without the value names of @main unless `names`), or None where xDSL refuses it."""
    from vnnc.frontend_mlir import parse_module
    from xdsl.printer import Printer

    try:
        module = parse_module(text, "stage")
    except Exception:  # noqa: BLE001
        return None
    module.attributes.clear()
    if not names:
        for op in module.ops:
            op.properties.pop("arg_attrs", None)
            op.properties.pop("res_attrs", None)
    out = io.StringIO()
    Printer(stream=out, print_generic_format=True).print_op(module)
    return out.getvalue()


@pytest.mark.parametrize("name", ["small", "mlp"])
@FUZZ
@given(mutations=MUTATIONS)
def test_mutated_loop_stage(name, mutations):
    b = BUNDLES[name]
    text = mutate(b["loops"], mutations)
    if text == b["loops"]:
        return
    if verdict_of(b["spec"], text, json.dumps(recertified(text, b["w1"]))):
        assert built(text) in (None, built(b["loops"])), f"checker accepted a different program:\n{text}"


@pytest.mark.parametrize("name", ["small", "mlp"])
@FUZZ
@given(mutations=MUTATIONS)
def test_mutated_spec_stage(name, mutations):
    b = BUNDLES[name]
    text = mutate(b["spec"], mutations)
    if text == b["spec"]:
        return
    w0 = dict(b["w0"], target_sha256=sha(text))
    if verdict_of(b["params"], text, json.dumps(w0)):
        assert spec_module(text) in (None, spec_module(b["spec"])), f"accepted a different spec:\n{text}"
    # the unchanged loop stage must not be accepted as the lowering of a different spec
    # (the loop witness does not re-check the spec's well-formedness: witness 00 does)
    w1 = dict(b["w1"], source_sha256=sha(text))
    if verdict_of(text, b["loops"], json.dumps(w1)):
        # (nor the names of its inputs and outputs: witness 00 does)
        assert spec_module(text, names=False) in (None, spec_module(b["spec"], names=False)), \
            f"loops accepted for a different spec:\n{text}"
