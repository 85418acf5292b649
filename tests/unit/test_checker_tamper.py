"""The tamper suite: tampered twins of good bundles, each of which the checker must reject.

Four good bundles are compiled once: the example MLP and CNN, MISC, a small model
with two same-shaped leaky_relus that differ only in alpha, exp, two same-shaped
parameters, a constant and a dead op, and BLOCKED, a linear whose kernel computes a block
of 8 rows and 2 columns per iteration, with a tail (n = 40 = 2 * 16 + 8). A twin is a copy of one bundle's texts or files with
one change. Where a twin is meant for a deeper check than the hashes, the witness's
source_sha256/target_sha256 are recomputed for the tampered texts (`rehash`), and where a
kernel's loop IR is changed, its certificate is recomputed from the tampered IR
(`recertify`) so that the witness describes the tampered kernel truthfully: what must
reject it then is the match against the checker's own definition of the op.

1. baseline: the good bundles are accepted, step by step and witness by witness;
2. hand-written twins (TWINS), each with the check that must catch it and a word of the
   reason it must give;
3. generated twins: every scalar leaf and key of every witness mutated; every operand of
   every op of the loop stage replaced by another visible value of its type and every
   constant changed (sampled deterministically); every parameter hash, result type and a
   few parameter bytes of the spec stage changed.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import vnnc
from vnnc import safetensors
from vnnc.verifier import mlir
from vnnc.verifier.bundle import check_bundle
from vnnc.verifier.check import Accepted, Reject, Rejected, check
from vnnc.verifier.loops import KernelReader, functions

ROOT = Path(__file__).resolve().parents[2]
LOOPS = "01-lower-to-loops"

MISC = """\
builtin.module attributes {{vnnc.params = "p.safetensors"}} {{
  func.func @main(%x: tensor<2x4xf32> {{vnnc.name = "x"}}) -> (tensor<2x4xf32> {{vnnc.name = "y"}}) {{
    %p1 = spec.param "p1" {{sha256 = "{p1}"}} : tensor<2x4xf32>
    %p2 = spec.param "p2" {{sha256 = "{p2}"}} : tensor<2x4xf32>
    %c = spec.constant dense<[0.5, -1.0, 2.0, 0.25]> : tensor<4xf32>
    %a = spec.leaky_relu %x {{alpha = 1.000000e-01 : f32}} : (tensor<2x4xf32>) -> tensor<2x4xf32>
    %b = spec.leaky_relu %a {{alpha = 2.000000e-01 : f32}} : (tensor<2x4xf32>) -> tensor<2x4xf32>
    %e = spec.exp %b : (tensor<2x4xf32>) -> tensor<2x4xf32>
    %s = spec.sub %p1, %p2 : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
    %t = spec.add %e, %s : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
    %y = spec.add %t, %c : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
    %dead = spec.neg %x : (tensor<2x4xf32>) -> tensor<2x4xf32>
    func.return %y : tensor<2x4xf32>
  }}
}}
"""


BLOCKED = """\
builtin.module attributes {{vnnc.params = "p.safetensors"}} {{
  func.func @main(%x: tensor<8x40xf32> {{vnnc.name = "x"}}) -> (tensor<8x4xf32> {{vnnc.name = "y"}}) {{
    %w = spec.param "w" {{sha256 = "{w}"}} : tensor<4x40xf32>
    %b = spec.param "b" {{sha256 = "{b}"}} : tensor<4xf32>
    %y = spec.linear %x, %w, %b : (tensor<8x40xf32>, tensor<4x40xf32>, tensor<4xf32>) -> tensor<8x4xf32>
    func.return %y : tensor<8x4xf32>
  }}
}}
"""


@dataclass
class Good:
    """One good bundle: its directory and the texts its witnesses relate."""

    dir: Path
    scratch: Path
    params: bytes
    spec: str
    loops: str
    w0: dict
    w1: dict


def _load(path: Path, scratch: Path) -> Good:
    return Good(path, scratch, (path / "params.safetensors").read_bytes(),
                (path / "stages" / "00-import.mlir").read_text(),
                (path / "stages" / f"{LOOPS}.mlir").read_text(),
                json.loads((path / "witnesses" / "00-import.json").read_text()),
                json.loads((path / "witnesses" / f"{LOOPS}.json").read_text()))


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> dict[str, Good]:
    root = tmp_path_factory.mktemp("tamper")
    out = {}
    for name in ("mlp", "cnn"):
        out[name] = vnnc.compile(ROOT / "examples" / f"{name}.mlir", out=root / name, force=True).path
    rng = np.random.default_rng(3)
    p1, p2 = (rng.standard_normal((2, 4)).astype(np.float32) for _ in range(2))
    (root / "misc").mkdir()
    safetensors.write(root / "misc" / "p.safetensors", {"p1": p1, "p2": p2})
    model = root / "misc" / "model.mlir"
    model.write_text(MISC.format(p1=safetensors.param_sha256(p1), p2=safetensors.param_sha256(p2)))
    out["misc"] = vnnc.compile(model, out=root / "misc" / "bundle", force=True).path
    w, b = rng.standard_normal((4, 40)).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    (root / "blocked").mkdir()
    safetensors.write(root / "blocked" / "p.safetensors", {"w": w, "b": b})
    model = root / "blocked" / "model.mlir"
    model.write_text(BLOCKED.format(w=safetensors.param_sha256(w), b=safetensors.param_sha256(b)))
    out["blocked"] = vnnc.compile(model, out=root / "blocked" / "bundle", force=True).path
    return {name: _load(path, root / f"{name}-twins") for name, path in out.items()}


# ---------------------------------------------------------------- making twins


def sha(data: str | bytes) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def copy(x):
    return json.loads(json.dumps(x))


def edit(text: str, old: str, new: str, count: int = 1) -> str:
    """Replace `old`, which must occur exactly `count` times, so the twin really differs."""
    assert text.count(old) == count, f"{old!r} occurs {text.count(old)} times, not {count}"
    out = text.replace(old, new)
    assert out != text
    return out


def in_function(text: str, name: str, old: str, new: str, count: int = 1) -> str:
    """`edit` inside the func.func @name only."""
    start = text.index(f'sym_name = "{name}"')
    end = text.find('"func.func"', start)
    end = len(text) if end < 0 else end
    return text[:start] + edit(text[start:end], old, new, count) + text[end:]


def function_text(text: str, name: str) -> str:
    start = text.index(f'sym_name = "{name}"')
    end = text.find('"func.func"', start)
    return text[start:len(text) if end < 0 else end]


def first(pattern: str, text: str) -> re.Match:
    m = re.search(pattern, text)
    assert m, f"{pattern!r} not found"
    return m


def fc1_acc(g: Good) -> str:
    """The first accumulation of the 784-long dot product (the 16 lanes of the lanes16 order
    of the first output of the block, one vector addition)."""
    return first(r'%\d+ = "arith\.addf"\(%\d+, %\d+\) <\{fastmath = #arith\.fastmath<none>\}> : '
                 r"\(vector<16xf32>, vector<16xf32>\) -> vector<16xf32>", function_text(g.loops, MLP_FC1)).group(0)


def fc2_loads_swapped(g: Good) -> str:
    """A W row's 16 lanes loaded at [k, j] instead of [j, k]."""
    m = first(r'"vector\.load"\(%1, (%\d+), (%\d+)\)', function_text(g.loops, MLP_FC2))
    return in_function(g.loops, MLP_FC2, m.group(0), f'"vector.load"(%1, {m.group(2)}, {m.group(1)})')


def fc3_sum_dropped(g: Good) -> str:
    """The bias added to itself instead of to the dot product: the lanes' reduction is lost."""
    m = first(r'"arith\.addf"\((%\d+), (%\d+)\)(.*)\n\s*"memref\.store"', function_text(g.loops, MLP_FC3))
    return in_function(g.loops, MLP_FC3, m.group(0), m.group(0).replace(f"({m.group(1)}, ", f"({m.group(2)}, "))


BLOCKED_LINEAR = "linear_8x40_4x40_4_8x4"
BLOCK_LOOP = r'= "scf\.for"\((%\d+), (%\d+), (%\d+)((?:, %\d+)+)\) \(\{\n\s*\^bb0\(%\d+: index, %\d+: '


def block_yield_swapped(g: Good, a: int, b: int) -> str:
    """The lane loop yields output a's accumulation as output b's and the reverse."""
    m = first(r'"scf\.yield"\(((?:%\d+, )+%\d+)\) : \(vector', function_text(g.loops, BLOCKED_LINEAR))
    vals = m.group(1).split(", ")
    vals[a], vals[b] = vals[b], vals[a]
    return in_function(g.loops, BLOCKED_LINEAR, m.group(0), m.group(0).replace(m.group(1), ", ".join(vals)))


def block_loop_bound(g: Good, carried: str, extent: int) -> str:
    """The reduction carrying `carried` values (vector<16xf32>: the lanes; f32: the tail)
    runs to `extent`."""
    m = first(BLOCK_LOOP + re.escape(carried), function_text(g.loops, BLOCKED_LINEAR))
    line = m.group(0)
    new = line.replace(f"({m.group(1)}, {m.group(2)}, ", f"({m.group(1)}, %990, ", 1)
    const = f'%990 = "arith.constant"() <{{value = {extent} : index}}> : () -> index\n    '
    twin = in_function(g.loops, BLOCKED_LINEAR, line, new)
    return in_function(twin, BLOCKED_LINEAR, '%0: memref<8x40xf32>, %1: memref<4x40xf32>, %2: memref<4xf32>, '
                       '%3: memref<8x4xf32>):\n    ', '%0: memref<8x40xf32>, %1: memref<4x40xf32>, '
                       '%2: memref<4xf32>, %3: memref<8x4xf32>):\n    ' + const)


def block_row_loaded_twice(g: Good) -> str:
    """Row 0 of the block loaded for row 1 too: row 1 is never computed, row 0 twice."""
    text = function_text(g.loops, BLOCKED_LINEAR)
    loads = re.findall(r'"vector\.load"\(%0, (%\d+), (%\d+)\)', text)
    old = f'"vector.load"(%0, {loads[1][0]}, {loads[1][1]})'
    return in_function(g.loops, BLOCKED_LINEAR, old, old.replace(loads[1][0], loads[0][0]))


def block_first(g: Good, pattern: str, change) -> str:
    """The first match of `pattern` in the blocked kernel changed by change(match)."""
    m = first(pattern, function_text(g.loops, BLOCKED_LINEAR))
    text = function_text(g.loops, BLOCKED_LINEAR)
    return g.loops.replace(text, text[:m.start()] + change(m) + text[m.end():], 1)


def block_store(g: Good, change) -> str:
    """The last store of the blocked kernel changed by change(line)."""
    m = list(re.finditer(r'\n *"memref\.store"\(.*', function_text(g.loops, BLOCKED_LINEAR)))[-1]
    return in_function(g.loops, BLOCKED_LINEAR, m.group(0), change(m.group(0)))


def fc3_bias_load_moved_into_loop(g: Good) -> str:
    """The bias load moved into the reduction's body and used after the loop."""
    text = function_text(g.loops, MLP_FC3)
    load = first(r'\n( *)((%\d+) = "memref\.load"\(%2, %\d+\).*)\n', text)
    yield_ = first(r'\n( *)"scf\.yield"\(%\d+(, %\d+)+\)', text)
    moved = in_function(g.loops, MLP_FC3, load.group(0), "\n")
    moved = in_function(moved, MLP_FC3, yield_.group(0),
                        "\n" + yield_.group(1) + load.group(2) + yield_.group(0))
    return moved


def rejected(verdict) -> str:
    assert isinstance(verdict, Rejected), "tampered twin was accepted"
    assert verdict.reason
    return verdict.reason


def recertify(loops: str, witness: dict) -> dict:
    """The witness with each kernel's stores and reductions read back from the (tampered)
    loop IR, where it can be read: the certificate then tells the truth about the tampered
    kernel."""
    w = copy(witness)
    try:
        fns = functions(mlir.parse(loops))
    except Reject:  # the twin does not even parse: there is nothing to read back
        return w
    for cert in w["claims"]["kernels"]:
        try:
            reader = KernelReader(fns[cert["kernel"]])
            cert["stores"], cert["reductions"] = copy(reader.stores), copy(reader.fors)
        except (Reject, KeyError):
            pass
    return w


def loops_reason(g: Good, loops: str | None = None, witness: dict | None = None, *,
                 spec: str | None = None, rehash: bool = True, recert: bool = True) -> str:
    """Why the checker rejects the loop witness of the twin (spec, loops, witness)."""
    spec, loops = spec or g.spec, loops or g.loops
    w = copy(witness or g.w1)
    if recert and loops != g.loops:
        w = recertify(loops, w)
    if rehash:
        w["source_sha256"], w["target_sha256"] = sha(spec), sha(loops)
    return rejected(check(spec, loops, json.dumps(w)))


def import_reason(g: Good, params: bytes | None = None, spec: str | None = None,
                  witness: dict | None = None, *, rehash: bool = True) -> str:
    params, spec = params or g.params, spec or g.spec
    w = copy(witness or g.w0)
    if rehash:
        w["source_sha256"], w["target_sha256"] = sha(params), sha(spec)
    return rejected(check(params, spec, json.dumps(w)))


def witness_text_reason(g: Good, text: str | bytes) -> str:
    return rejected(check(g.spec, g.loops, text))


def bundle_copy(g: Good) -> Path:
    d = g.scratch / f"b{len(list(g.scratch.glob('b*'))) if g.scratch.exists() else 0}"
    shutil.copytree(g.dir, d)
    return d


def manifest_edit(d: Path, change) -> None:
    m = json.loads((d / "manifest.json").read_text())
    change(m)
    (d / "manifest.json").write_text(json.dumps(m))


def rehash_manifest(d: Path) -> None:
    """Make the manifest's hashes match the (tampered) files again."""
    def change(m):
        for s in m["stages"]:
            s["sha256"] = sha((d / s["file"]).read_bytes())
        m["params"]["sha256"] = sha((d / m["params"]["file"]).read_bytes())
        for key, rel in m["artifacts"].items():
            m["artifact_sha256"][key] = sha((d / rel).read_bytes())
    manifest_edit(d, change)


def bundle_reason(g: Good, tamper, *, sample: bool = False) -> str:
    """Copy the bundle, tamper(dir), check it: some row must be rejected; their reasons."""
    d = bundle_copy(g)
    tamper(d)
    rows = check_bundle(d, sample=sample)
    bad = [r for r in rows if r["verdict"] != "accepted"]
    assert bad, "tampered bundle was accepted"
    assert all(r["reason"] for r in bad)
    return " | ".join(f"{r['stage']}: {r['reason']}" for r in bad)


def flip_param_byte(d: Path, offset: int = -3) -> None:
    raw = bytearray((d / "params.safetensors").read_bytes())
    raw[offset] ^= 0x40
    (d / "params.safetensors").write_bytes(bytes(raw))


# ---------------------------------------------------------------- 1. baseline


@pytest.mark.parametrize("name", ["mlp", "cnn", "misc", "blocked"])
def test_good_bundle_is_accepted(good, name):
    g = good[name]
    rows = check_bundle(g.dir)
    assert [r["stage"] for r in rows] == ["bundle", "00-import", LOOPS, "library"]
    assert all(r["verdict"] == "accepted" and r["reason"] == "" for r in rows), rows
    assert check(g.params, g.spec, json.dumps(g.w0)) == Accepted()
    assert check(g.spec, g.loops, json.dumps(g.w1)) == Accepted()
    assert check(g.spec, g.loops, g.w1) == Accepted()  # an already loaded witness
    assert recertify(g.loops, g.w1) == g.w1  # recertify is the identity on the good IR


# ---------------------------------------------------------------- 2. hand-written twins
# Each twin: (model, tamper(good) -> reason, a word the reason must hold). The comment
# names the check that must catch it.

MLP_FC1 = "linear_1x784_256x784_256_1x256"
MLP_FC2 = "linear_1x256_256x256_256_1x256"
MLP_FC3 = "linear_1x256_10x256_10_1x10"
MLP_RELU = "relu_1x256_1x256"
CNN_CONV1 = "conv2d_1x1x28x28_8x1x3x3_8_1x8x28x28"
CNN_CONV2 = "conv2d_1x8x14x14_16x8x3x3_16_1x16x14x14"
F32_ZERO = '"arith.constant"() <{value = 0.000000e+00 : f32}> : () -> f32'
RELU_MAX = '%9 = "arith.maximumf"(%8, %3) <{fastmath = #arith.fastmath<none>}> : (f32, f32) -> f32'
RELU_STORE = '"memref.store"(%9, %1, %6, %7) : (f32, memref<1x256xf32>, index, index) -> ()'
RELU_INNER_LOOP = '"scf.for"(%2, %4, %5) ({'
MLP_CALL_FC1 = ('"func.call"(%0, %2, %3, %4) <{callee = @linear_1x784_256x784_256_1x256}> : '
                "(memref<1x784xf32>, memref<256x784xf32>, memref<256xf32>, memref<1x256xf32>) -> ()")
MLP_CALL_RELU1 = '"func.call"(%4, %5) <{callee = @relu_1x256_1x256}> : (memref<1x256xf32>, memref<1x256xf32>) -> ()'
MLP_FREE4 = '    "memref.dealloc"(%4) : (memref<1x256xf32>) -> ()\n'
MLP_ALLOC4 = ('%4 = "memref.alloc"() <{alignment = 64 : i64, operandSegmentSizes = array<i32: 0, 0>}> : '
              "() -> memref<1x256xf32>")
MISC_CALL_NEG = '    "func.call"(%0, %10) <{callee = @neg_2x4_2x4}> : (memref<2x4xf32>, memref<2x4xf32>) -> ()\n'
MISC_FREE_DEAD = '    "memref.dealloc"(%10) : (memref<2x4xf32>) -> ()\n'
CNN_FLAT_VIEW = "(memref<1x16x7x7xf32>) -> memref<784xf32>"
CNN_FLAT_DEST = "(memref<1x784xf32>) -> memref<784xf32>"
CNN_FLAT_COPY = '"memref.copy"(%13, %14) : (memref<784xf32>, memref<784xf32>)'
RELU_ZERO = '%3 = "arith.constant"() <{value = 0.000000e+00 : f32}> : () -> f32\n'
ZERO_UNDER_SCF_IF = """%96 = "arith.cmpi"(%2, %2) <{predicate = 0 : i64}> : (index, index) -> i1
    %97 = "scf.if"(%96) ({
      %99 = "arith.constant"() <{value = 0.000000e+00 : f32}> : () -> f32
      "scf.yield"(%99) : (f32) -> ()
    }, {
      "scf.yield"(%3) : (f32) -> ()
    }) : (i1) -> f32
    """
DEAD_GUARDED_LOAD = """
        %90 = "arith.constant"() <{value = 100000000 : index}> : () -> index
        %91 = "arith.cmpi"(%2, %2) <{predicate = 0 : i64}> : (index, index) -> i1
        "scf.if"(%91) ({
          %92 = "memref.load"(%0, %90, %90) : (memref<1x256xf32>, index, index) -> f32
          "scf.yield"() : () -> ()
        }, {
        }) : (i1) -> ()"""


def _relu_kernel_copy(loops: str) -> str:
    """An extra function: a copy of the relu kernel under another name, before @main."""
    start = loops.index('  "func.func"() <{sym_name = "relu_1x256_1x256"')
    end = loops.index('  "func.func"()', start + 1)
    extra = loops[start:end].replace('"relu_1x256_1x256"', '"relu_extra"')
    main = loops.index('  "func.func"() <{sym_name = "main"')
    return loops[:main] + extra + loops[main:]


def first_in_function(text: str, name: str, pattern: str, change) -> str:
    """The first match of `pattern` inside the func.func @name changed by change(match)."""
    body = function_text(text, name)
    m = first(pattern, body)
    return text.replace(body, body[:m.start()] + change(m) + body[m.end():], 1)


def padding_fill_one(g: Good) -> str:
    """The first guarded load of conv1 yields 1.0 outside the input instead of 0.0."""
    zero = first(rf"(%\d+) = {re.escape(F32_ZERO)}", function_text(g.loops, CNN_CONV1)).group(1)
    one = first_in_function(g.loops, CNN_CONV1, rf"{zero} = {re.escape(F32_ZERO)}", lambda m: m.group(0) + (
        '\n    %9999 = "arith.constant"() <{value = 1.000000e+00 : f32}> : () -> f32'))
    return first_in_function(one, CNN_CONV1, rf'"scf\.yield"\({zero}\) : \(f32\) -> \(\)',
                             lambda m: '"scf.yield"(%9999) : (f32) -> ()')


def reduction_extent_one(g: Good) -> str:
    """conv2's reduction over the 8 input channels runs over channel 0 only."""
    one = first(r'(%\d+) = "arith\.constant"\(\) <\{value = 1 : index\}>', function_text(g.loops, CNN_CONV2)).group(1)
    return first_in_function(g.loops, CNN_CONV2, r'"scf\.for"\((%\d+), (%\d+), (%\d+), %',
                             lambda m: f'"scf.for"({m.group(1)}, {one}, {m.group(3)}, %')


def _kernel_cert(w: dict, name: str) -> dict:
    return next(c for c in w["claims"]["kernels"] if c["kernel"] == name)


def _with(w: dict, change) -> dict:
    w = copy(w)
    change(w)
    return w


def _witness_json(g: Good, w: dict | None = None) -> str:
    return json.dumps(w or g.w1)


TWINS = {
    # ---- kernel loop IR: the certificate is recomputed, the definition match rejects
    "relu-constant-0.0-becomes-1.0": ("mlp", lambda g: loops_reason(g, in_function(
        g.loops, MLP_RELU, "value = 0.000000e+00 : f32", "value = 1.000000e+00 : f32")),
        "not the definition of spec.relu"),
    "conv-padding-fill-0.0-becomes-1.0": ("cnn", lambda g: loops_reason(g, padding_fill_one(g)),
        "not the definition of spec.conv2d"),
    "conv-padding-offset-changed": ("cnn", lambda g: loops_reason(g, in_function(
        g.loops, CNN_CONV2, "<{value = -1 : index}>", "<{value = -2 : index}>")),
        "not the definition of spec.conv2d"),
    # W[k, j..j+15] for W[j, k..k+15]: its lanes run past the row's end
    "load-indices-swapped": ("mlp", lambda g: loops_reason(g, fc2_loads_swapped(g)), "outside its buffer"),
    # ---- blocks of outputs: a lanes16 linear computing 8 rows x 2 columns per iteration
    "block-factors-of-a-product-swapped": ("blocked", lambda g: loops_reason(g, block_first(
        g, r'"arith\.mulf"\((%\d+), (%\d+)\)', lambda m: f'"arith.mulf"({m[2]}, {m[1]})')),
        "not the definition of spec.linear"),
    "block-accumulator-yielded-into-the-wrong-column": ("blocked", lambda g: loops_reason(
        g, block_yield_swapped(g, 0, 1)), "not the definition of spec.linear"),
    "block-accumulator-yielded-into-the-wrong-row": ("blocked", lambda g: loops_reason(
        g, block_yield_swapped(g, 0, 2)), "not the definition of spec.linear"),
    "block-row-loaded-twice-another-dropped": ("blocked", lambda g: loops_reason(
        g, block_row_loaded_twice(g)), "not the definition of spec.linear"),
    "block-output-store-dropped": ("blocked", lambda g: loops_reason(
        g, block_store(g, lambda line: "")), "not the definition of spec.linear"),
    "block-output-store-duplicated": ("blocked", lambda g: loops_reason(
        g, block_store(g, lambda line: line + line)), "not the definition of spec.linear"),
    "block-lane-loop-one-block-short": ("blocked", lambda g: loops_reason(
        g, block_loop_bound(g, "vector<16xf32>", 1)), "not the definition of spec.linear"),
    "block-lane-loop-one-block-long": ("blocked", lambda g: loops_reason(
        g, block_loop_bound(g, "vector<16xf32>", 3)), "outside its buffer"),
    "block-tail-one-term-short": ("blocked", lambda g: loops_reason(
        g, block_loop_bound(g, "f32", 7)), "not the definition of spec.linear"),
    "block-lanes-shuffled-out-of-tree-order": ("blocked", lambda g: loops_reason(g, block_first(
        g, r"<\{mask = array<i64: 0, 2, 4,", lambda m: "<{mask = array<i64: 2, 0, 4,")),
        "not the definition of spec.linear"),
    "block-shuffle-mask-out-of-range": ("blocked", lambda g: loops_reason(g, block_first(
        g, r"26, 28, 30>\}>", lambda m: "26, 28, 32>}>")), "mask of lanes in range"),
    "block-lane-extracted-out-of-range": ("blocked", lambda g: loops_reason(g, block_first(
        g, r"<\{static_position = array<i64: 15>\}>", lambda m: "<{static_position = array<i64: 16>}>")),
        "extracts one lane"),
    "block-vector-constant-not-zero": ("blocked", lambda g: loops_reason(g, in_function(
        g.loops, BLOCKED_LINEAR, "dense<0.000000e+00> : vector<16xf32>", "dense<1.000000e+00> : vector<16xf32>")),
        "not the definition of spec.linear"),
    # a vector constant written as one scalar: the value read and the result's type disagree
    "block-vector-constant-written-as-a-scalar": ("blocked", lambda g: loops_reason(g, in_function(
        g.loops, BLOCKED_LINEAR, "dense<0.000000e+00> : vector<16xf32>", "0.000000e+00 : vector<16xf32>")),
        "a vector of its type's lanes"),
    "block-certificate-claims-another-blocking": ("blocked", lambda g: loops_reason(g, witness=_with(
        g.w1, lambda w: _kernel_cert(w, BLOCKED_LINEAR).update(block=[4, 2])), recert=False),
        "not the definition of spec.linear"),
    "block-certificate-claims-no-blocking": ("blocked", lambda g: loops_reason(g, witness=_with(
        g.w1, lambda w: _kernel_cert(w, BLOCKED_LINEAR).pop("block")), recert=False),
        "not the definition of spec.linear"),
    "block-certified-on-a-relu": ("mlp", lambda g: loops_reason(g, witness=_with(
        g.w1, lambda w: _kernel_cert(w, MLP_RELU).update(block=[1, 1, 2])), recert=False),
        "is not allowed here"),
    # a bound one too high makes the loads leave their buffer (the reader's bounds test)
    "loop-bound-plus-one": ("mlp", lambda g: loops_reason(g, in_function(
        g.loops, MLP_RELU, "<{value = 256 : index}>", "<{value = 257 : index}>")),
        "outside its buffer"),
    "loop-bound-minus-one": ("mlp", lambda g: loops_reason(g, in_function(
        g.loops, MLP_RELU, "<{value = 256 : index}>", "<{value = 255 : index}>")),
        "not the definition of spec.relu"),
    "reduction-bound-minus-one": ("mlp", lambda g: loops_reason(g, in_function(
        g.loops, MLP_FC1, "<{value = 49 : index}>", "<{value = 48 : index}>")),
        "not the definition of spec.linear"),
    "reduction-bound-plus-one": ("mlp", lambda g: loops_reason(g, in_function(
        g.loops, MLP_FC1, "<{value = 49 : index}>", "<{value = 50 : index}>")),
        "outside its buffer"),
    # the reader accepts only loops from 0 by 1
    "loop-step-2": ("mlp", lambda g: loops_reason(g, in_function(in_function(
        g.loops, MLP_RELU, RELU_INNER_LOOP, '"scf.for"(%2, %4, %98) ({'),
        MLP_RELU, "%4 = ", '%98 = "arith.constant"() <{value = 2 : index}> : () -> index\n    %4 = ')),
        "from 0 by 1"),
    "loop-lower-bound-1": ("mlp", lambda g: loops_reason(g, in_function(
        g.loops, MLP_RELU, RELU_INNER_LOOP, '"scf.for"(%5, %4, %5) ({')), "from 0 by 1"),
    "reduction-extent-shrunk-to-1": ("cnn", lambda g: loops_reason(g, reduction_extent_one(g)),
        "not the definition of spec.conv2d"),
    "reduction-result-dropped": ("mlp", lambda g: loops_reason(g, fc3_sum_dropped(g)),
        "not the definition of spec.linear"),
    "addf-becomes-subf": ("mlp", lambda g: loops_reason(g, in_function(
        g.loops, MLP_FC1, fc1_acc(g), fc1_acc(g).replace("arith.addf", "arith.subf"))),
        "not the definition of spec.linear"),
    # minimumf is not in the checker's op table at all
    "maximumf-becomes-minimumf": ("mlp", lambda g: loops_reason(g, in_function(
        g.loops, MLP_RELU, RELU_MAX, RELU_MAX.replace("maximumf", "minimumf"))), "arith.minimumf"),
    "exp-becomes-log": ("misc", lambda g: loops_reason(g, in_function(
        g.loops, "exp_2x4_2x4", '"math.exp"', '"math.log"')), "not the definition of spec.exp"),
    "fastmath-fast-on-addf": ("mlp", lambda g: loops_reason(g, in_function(
        g.loops, MLP_FC1, fc1_acc(g), fc1_acc(g).replace("fastmath<none>", "fastmath<fast>"))), "fast-math"),
    "store-index-shifted": ("mlp", lambda g: loops_reason(g, in_function(
        g.loops, MLP_RELU, RELU_STORE, '%97 = "arith.addi"(%7, %5) : (index, index) -> index\n        '
        + RELU_STORE.replace("%6, %7)", "%6, %97)"))), "not the definition of spec.relu"),
    "store-added-element-written-twice": ("mlp", lambda g: loops_reason(g, in_function(
        g.loops, MLP_RELU, RELU_STORE, RELU_STORE + "\n        " + RELU_STORE)),
        "not the definition of spec.relu"),
    "store-removed": ("mlp", lambda g: loops_reason(g, in_function(
        g.loops, MLP_RELU, "        " + RELU_STORE + "\n", "")), "not the definition of spec.relu"),
    "kernel-stores-into-its-input": ("mlp", lambda g: loops_reason(g, in_function(
        g.loops, MLP_RELU, RELU_STORE, RELU_STORE.replace("(%9, %1,", "(%9, %0,"))),
        "stores go only to the output"),
    # regression: a load under an always-true scf.if that no store needs ran unchecked
    "dead-guarded-load-out-of-bounds": ("mlp", lambda g: loops_reason(g, in_function(
        g.loops, MLP_RELU, RELU_MAX, RELU_MAX + DEAD_GUARDED_LOAD)), "load under scf.if"),
    # no dead code at all: a value computed and never used
    "dead-value-in-a-kernel": ("mlp", lambda g: loops_reason(g, in_function(
        g.loops, MLP_RELU, RELU_MAX, RELU_MAX + '\n        %95 = "arith.negf"(%8) : (f32) -> f32')),
        "%95 is computed but never used"),
    # regression (SSA scoping): a value defined in a loop body or under scf.if was visible after it
    "value-defined-in-a-loop-body-used-after-it": ("mlp", lambda g: loops_reason(
        g, fc3_bias_load_moved_into_loop(g)), "is used before it is defined, or outside its region"),
    "value-defined-under-scf.if-used-after-it": ("mlp", lambda g: loops_reason(g, in_function(in_function(
        g.loops, MLP_RELU, RELU_ZERO, RELU_ZERO + "    " + ZERO_UNDER_SCF_IF),
        MLP_RELU, RELU_MAX, RELU_MAX.replace("(%8, %3)", "(%8, %99)"))), "%99 is used before it is defined, or outside its region"),
    # regression: a value name defined twice was read as its last definition
    "value-defined-twice": ("mlp", lambda g: loops_reason(g, in_function(
        g.loops, MLP_RELU, RELU_ZERO, RELU_ZERO + "    " + RELU_ZERO)), "%3 is defined twice"),
    # regression: predicate -6 was read as predicate 10 (uge) by Python's negative indexing
    "cmpf-predicate-negative": ("misc", lambda g: loops_reason(g, in_function(
        g.loops, "leaky_relu_2x4_2x4", "predicate = 10 : i64", "predicate = -6 : i64")),
        "unknown predicate"),
    # regression: the C printer declares a kernel by its function_type, the checker read its block
    "kernel-function-type-differs-from-its-block": ("mlp", lambda g: loops_reason(g, edit(
        g.loops, 'function_type = (memref<1x256xf32>, memref<1x256xf32>) -> ()',
        'function_type = (memref<1x256xi64>, memref<1x256xf32>) -> ()')), "function type differs"),
    "uncertified-extra-kernel": ("mlp", lambda g: loops_reason(g, _relu_kernel_copy(g.loops)),
                                 "uncertified functions"),
    # ---- the model function: the call-graph check
    "call-points-at-same-signature-kernel": ("misc", lambda g: loops_reason(g, edit(
        g.loops, "<{callee = @leaky_relu_2x4_2x4}>", "<{callee = @leaky_relu_2x4_2x4_v2}>")),
        "not a kernel certified for it"),
    "linear-weight-and-bias-swapped": ("mlp", lambda g: loops_reason(g, edit(
        g.loops, MLP_CALL_FC1, '"func.call"(%0, %3, %2, %4) <{callee = @linear_1x784_256x784_256_1x256}> : '
        "(memref<1x784xf32>, memref<256xf32>, memref<256x784xf32>, memref<1x256xf32>) -> ()")),
        "buffer types other than the spec op's"),
    "same-shaped-weights-swapped": ("misc", lambda g: loops_reason(g, edit(
        g.loops, '"func.call"(%2, %3, %8)', '"func.call"(%3, %2, %8)')), "passes the wrong buffers"),
    "call-destination-is-the-model-input": ("misc", lambda g: loops_reason(g, edit(
        g.loops, '"func.call"(%6, %7) <{callee = @exp_2x4_2x4}>', '"func.call"(%6, %0) <{callee = @exp_2x4_2x4}>')),
        "passes the wrong buffers"),
    "call-destination-is-its-own-input": ("mlp", lambda g: loops_reason(g, edit(
        g.loops, MLP_CALL_RELU1, MLP_CALL_RELU1.replace("(%4, %5)", "(%4, %4)"))), "wrong buffers"),
    # the input is freed after its reader's destination was allocated, before the call
    # (regression: the arguments were checked live before that dealloc, not at the call)
    "use-after-dealloc": ("mlp", lambda g: loops_reason(g, edit(edit(
        g.loops, MLP_FREE4, ""), f"    {MLP_CALL_RELU1}\n", MLP_FREE4 + f"    {MLP_CALL_RELU1}\n")),
        "after it is freed"),
    "use-after-dealloc-before-the-destination": ("mlp", lambda g: loops_reason(g, edit(edit(
        g.loops, MLP_FREE4, ""), '    %5 = "memref.alloc"', MLP_FREE4 + '    %5 = "memref.alloc"')),
        "after it is freed"),
    # regression: freeing a fresh buffer before the call that writes it was accepted
    "dealloc-before-write-of-a-dead-value": ("misc", lambda g: loops_reason(g, edit(
        g.loops, MISC_CALL_NEG + MISC_FREE_DEAD, MISC_FREE_DEAD + MISC_CALL_NEG)), "was freed"),
    # regression: an alloc's own type was never compared with the value it holds
    # (the reader now rejects the use of %4 at another type first; with every use retyped too,
    # the call-graph check of the alloc's type must still reject it)
    "alloc-smaller-than-its-value": ("mlp", lambda g: loops_reason(g, edit(
        g.loops, MLP_ALLOC4, MLP_ALLOC4.replace("memref<1x256xf32>", "memref<1x25xf32>"))),
        "%4 is used as memref<1x256xf32> but defined as memref<1x25xf32>"),
    "alloc-smaller-than-its-value-at-every-use": ("mlp", lambda g: loops_reason(g, edit(edit(edit(edit(
        g.loops, MLP_ALLOC4, MLP_ALLOC4.replace("memref<1x256xf32>", "memref<1x25xf32>")),
        MLP_CALL_FC1, MLP_CALL_FC1.replace("memref<1x256xf32>) -> ()", "memref<1x25xf32>) -> ()")),
        MLP_CALL_RELU1, MLP_CALL_RELU1.replace("(memref<1x256xf32>, ", "(memref<1x25xf32>, ")),
        MLP_FREE4, MLP_FREE4.replace("1x256", "1x25"))), "allocates"),
    # regression: flatten views of 700 elements copied only 700 of 784
    "flatten-view-narrower-than-the-buffer": ("cnn", lambda g: loops_reason(g, edit(edit(edit(
        g.loops, CNN_FLAT_VIEW, CNN_FLAT_VIEW.replace("784", "700")),
        CNN_FLAT_DEST, CNN_FLAT_DEST.replace("<784", "<700")),
        CNN_FLAT_COPY, CNN_FLAT_COPY.replace("784", "700", 2))), "reshape views"),
    # regression: a parameter global's element type was not compared with the spec's
    "param-global-read-as-i64": ("mlp", lambda g: loops_reason(g, edit(edit(
        g.loops, "type = memref<256x784xf32>, initial_value", "type = memref<256x784xi64>, initial_value"),
        '<{name = @fc1.weight}> : () -> memref<256x784xf32>', '<{name = @fc1.weight}> : () -> memref<256x784xi64>')),
        "%2 is used as memref<256x784xf32> but defined as memref<256x784xi64>"),
    "param-global-read-as-i64-at-every-use": ("mlp", lambda g: loops_reason(g, edit(edit(edit(
        g.loops, "type = memref<256x784xf32>, initial_value", "type = memref<256x784xi64>, initial_value"),
        '<{name = @fc1.weight}> : () -> memref<256x784xf32>', '<{name = @fc1.weight}> : () -> memref<256x784xi64>'),
        MLP_CALL_FC1, MLP_CALL_FC1.replace("memref<256x784xf32>", "memref<256x784xi64>"))), "mistyped global"),
    "param-global-sha256-changed": ("mlp", lambda g: loops_reason(g, edit(
        g.loops, 'vnnc.sha256 = "27270b1', 'vnnc.sha256 = "37270b1')), "not bound to a global with its hash"),
    "param-global-renamed": ("mlp", lambda g: loops_reason(g, edit(edit(
        g.loops, 'sym_name = "fc2.bias"', 'sym_name = "fc2.bias2"'), "@fc2.bias}", "@fc2.bias2}")),
        "not bound to a global with its hash"),
    "constant-global-value-changed": ("misc", lambda g: loops_reason(g, edit(
        g.loops, "2.000000e+00, 2.500000e-01]", "2.000000e+00, 5.000000e-01]")),
        "constant global differs"),
    # ---- the witness itself
    "witness-names-another-op": ("mlp", lambda g: loops_reason(g, witness=_with(
        g.w1, lambda w: _kernel_cert(w, MLP_RELU).update(op="spec.neg"))), "not the definition of spec.neg"),
    "witness-stores-of-another-op": ("mlp", lambda g: loops_reason(g, witness=_with(
        g.w1, lambda w: _kernel_cert(w, MLP_RELU)["stores"][0].__setitem__(
            2, ["negf", _kernel_cert(w, MLP_RELU)["stores"][0][2][1]]))), "differs from its certificate"),
    # the summation order is part of the definition: lanes16 IR certified as sequential,
    # an order the checker does not know, and a reordered sum on an fp op (which records
    # its order, sequential) are all rejected
    "witness-lanes-order-dropped": ("mlp", lambda g: loops_reason(g, witness=_with(
        g.w1, lambda w: _kernel_cert(w, MLP_FC1).pop("order")), recert=False),
        "not the definition of spec.linear"),
    "witness-order-unknown": ("mlp", lambda g: loops_reason(g, witness=_with(
        g.w1, lambda w: _kernel_cert(w, MLP_FC1).update(order="lanes8")), recert=False),
        "summation order 'lanes8' or block (1, 2) is not allowed"),
    "witness-fp-op-with-lanes-order": ("mlp", lambda g: loops_reason(g, witness=_with(
        g.w1, lambda w: _kernel_cert(w, MLP_FC1).update(op="fp.linear", format="f32", acc="f32",
                                                       rounding="nearest")), recert=False),
        "summation order 'lanes16' or block (1, 2) is not allowed"),
    "witness-kernel-listed-twice": ("mlp", lambda g: loops_reason(g, witness=_with(
        g.w1, lambda w: w["claims"]["kernels"].append(copy(w["claims"]["kernels"][1])))), "certified twice"),
    "witness-kernel-missing-stores": ("mlp", lambda g: loops_reason(g, witness=_with(
        g.w1, lambda w: w["claims"]["kernels"][0].pop("stores"))), "'stores'"),
    "witness-kernel-missing": ("mlp", lambda g: loops_reason(g, witness=_with(
        g.w1, lambda w: w["claims"]["kernels"].pop(1))), "uncertified functions"),
    "witness-calls-reordered": ("mlp", lambda g: loops_reason(g, witness=_with(
        g.w1, lambda w: w["claims"]["calls"].reverse())), "call list differs"),
    "witness-claims-a-list": ("mlp", lambda g: loops_reason(g, witness=_with(
        g.w1, lambda w: w.__setitem__("claims", [w["claims"]]))), "claims must hold"),
    "witness-unknown-kind": ("mlp", lambda g: loops_reason(g, witness=_with(
        g.w1, lambda w: w.__setitem__("kind", "loop-nests-v2"))), "unknown witness kind"),
    "witness-wrong-version": ("mlp", lambda g: loops_reason(g, witness=_with(
        g.w1, lambda w: w.__setitem__("version", 2))), "version 2"),
    # regression: the version compared equal to 1 as 1.0 and as true
    "witness-version-1.0": ("mlp", lambda g: loops_reason(g, witness=_with(
        g.w1, lambda w: w.__setitem__("version", 1.0))), "version 1.0 is not 1"),
    "witness-version-true": ("mlp", lambda g: loops_reason(g, witness=_with(
        g.w1, lambda w: w.__setitem__("version", True))), "version True is not 1"),
    # regression: the loop witness did not say which pass it is for
    "witness-for-another-pass": ("mlp", lambda g: loops_reason(g, witness=_with(
        g.w1, lambda w: w.__setitem__("pass", "tile"))), "pass lower-to-loops"),
    "witness-kind-swapped-with-import": ("mlp", lambda g: loops_reason(g, witness=_with(
        g.w1, lambda w: w.__setitem__("kind", "spec-wellformed"))), "bytes of the parameter file"),
    # ---- the hashes (no rehash)
    "stage-edited-witness-not-updated": ("mlp", lambda g: loops_reason(g, in_function(
        g.loops, MLP_FC1, fc1_acc(g), fc1_acc(g).replace("addf", "subf")), rehash=False), "target_sha256"),
    "witness-hashes-swapped": ("mlp", lambda g: loops_reason(g, witness=_with(g.w1, lambda w: w.update(
        source_sha256=g.w1["target_sha256"], target_sha256=g.w1["source_sha256"])), rehash=False),
        "source_sha256"),
    # ---- malformed witness text
    "witness-truncated-json": ("mlp", lambda g: witness_text_reason(g, _witness_json(g)[:-40]), "not valid JSON"),
    "witness-garbage-bytes": ("mlp", lambda g: witness_text_reason(
        g, bytes(range(256)) * 4), "not valid JSON"),
    "witness-NaN-in-a-claim": ("mlp", lambda g: witness_text_reason(
        g, _witness_json(g).replace('"out_shape": [1, 256]', '"out_shape": [1, NaN]', 1)), "NaN"),
    "witness-Infinity-in-a-claim": ("mlp", lambda g: witness_text_reason(
        g, _witness_json(g).replace('"out_shape": [1, 256]', '"out_shape": [1, Infinity]', 1)), "Infinity"),
    # hardening: a float literal that overflows is Infinity by another spelling
    "witness-1e400-in-a-claim": ("mlp", lambda g: witness_text_reason(
        g, _witness_json(g).replace('"out_shape": [1, 256]', '"out_shape": [1, 1e400]', 1)), "overflows"),
    "witness-nested-100000-deep": ("mlp", lambda g: witness_text_reason(g, "[" * 100_000 + "]" * 100_000),
                                   "nested too deeply"),
    "witness-claims-nested-100000-deep": ("mlp", lambda g: witness_text_reason(
        g, _witness_json(g).replace('"kernels": [', '"kernels": [' + "[" * 100_000 + "]" * 100_000 + ", ", 1)),
        "nested too deeply"),
    "witness-not-an-object": ("mlp", lambda g: witness_text_reason(g, "[1, 2, 3]"), "not a JSON object"),
    # ---- the import witness (spec-wellformed)
    "param-byte-flipped-import-rehashed": ("mlp", lambda g: import_reason(
        g, params=g.params[:-3] + bytes([g.params[-3] ^ 0x40]) + g.params[-2:]), "hashes to"),
    "spec-param-sha256-changed": ("mlp", lambda g: import_reason(
        g, spec=edit(g.spec, 'sha256 = "bf5360', 'sha256 = "cf5360')), "hashes to"),
    "import-claimed-param-hash-changed": ("cnn", lambda g: import_reason(g, witness=_with(
        g.w0, lambda w: w["claims"]["params"].update({"fc.bias": "0" * 64}))), "claimed params differ"),
    "import-NaN-in-a-claim": ("cnn", lambda g: rejected(check(g.params, g.spec, json.dumps(g.w0).replace(
        '"shape": [1, 10]', '"shape": [1, NaN]', 1))), "NaN"),
    # ---- whole bundles (check_bundle)
    "bundle-param-byte-flipped": ("mlp", lambda g: bundle_reason(g, flip_param_byte),
                                  "params: params.safetensors does not match its sha256"),
    "bundle-param-byte-flipped-manifest-fixed": ("mlp", lambda g: bundle_reason(
        g, lambda d: (flip_param_byte(d), rehash_manifest(d))), "source_sha256 does not match"),
    "bundle-stage-files-swapped": ("mlp", lambda g: bundle_reason(g, _swap_stage_files),
                                   "does not match its sha256"),
    "bundle-stage-files-swapped-manifest-fixed": ("mlp", lambda g: bundle_reason(
        g, lambda d: (_swap_stage_files(d), rehash_manifest(d))), "target_sha256 does not match"),
    "bundle-library-of-another-bundle": ("mlp", lambda g: bundle_reason(
        g, lambda d: _other_library(g, d)), "library: libmodel.so does not match"),
    # the hash fixed too: only the sampled run of the library can tell
    "bundle-library-of-another-bundle-manifest-fixed": ("mlp", lambda g: bundle_reason(
        g, lambda d: (_other_library(g, d), rehash_manifest(d)), sample=True), "library: the library failed"),
    "bundle-stage-path-escapes": ("mlp", lambda g: bundle_reason(g, lambda d: manifest_edit(
        d, lambda m: m["stages"][0].update(file="../../etc/passwd"))), "bad path"),
    "bundle-witness-path-absolute": ("mlp", lambda g: bundle_reason(g, lambda d: manifest_edit(
        d, lambda m: m["witnesses"][1].update(file="/etc/passwd"))), "bad path"),
    "bundle-witness-missing": ("mlp", lambda g: bundle_reason(g, lambda d: manifest_edit(
        d, lambda m: m["witnesses"].pop(1))), "no witness for this stage"),
    "bundle-witness-file-deleted": ("mlp", lambda g: bundle_reason(
        g, lambda d: (d / "witnesses" / f"{LOOPS}.json").unlink()), "cannot read"),
    # regressions: a malformed manifest crashed check_bundle
    "bundle-manifest-params-a-list": ("mlp", lambda g: bundle_reason(g, lambda d: manifest_edit(
        d, lambda m: m.__setitem__("params", []))), "must be objects"),
    "bundle-manifest-no-artifacts": ("mlp", lambda g: bundle_reason(g, lambda d: manifest_edit(
        d, lambda m: m.pop("artifacts"))), "must be objects"),
    "bundle-manifest-witness-stage-a-list": ("mlp", lambda g: bundle_reason(g, lambda d: manifest_edit(
        d, lambda m: m["witnesses"][0].update(stage=["00-import"]))), "witnesses a list"),
    "bundle-manifest-not-json": ("mlp", lambda g: bundle_reason(
        g, lambda d: (d / "manifest.json").write_text("{")), "manifest is not valid JSON"),
    # regression: a stage dropped from the manifest (with its witness) went unnoticed
    "bundle-stage-dropped": ("mlp", lambda g: bundle_reason(g, lambda d: manifest_edit(
        d, lambda m: (m["stages"].pop(), m["witnesses"].pop()))), "one stage per pass"),
    "bundle-stage-listed-twice": ("mlp", lambda g: bundle_reason(g, lambda d: manifest_edit(
        d, lambda m: (m["stages"].append(m["stages"][1]), m["passes"].append("lower-to-loops")))),
        "repeated stage"),
    # regression: the manifest's inputs (what `vnnc run` routes by) were not checked
    "bundle-manifest-input-renamed": ("mlp", lambda g: bundle_reason(g, lambda d: manifest_edit(
        d, lambda m: m["inputs"][0].update(name="logits"))), "inputs differ"),
    # regression: a pipeline that stops at the spec stage was accepted, though the library is
    # printed from the last stage and no loop stage was checked
    "bundle-pipeline-stops-at-the-spec-stage": ("mlp", lambda g: bundle_reason(g, lambda d: manifest_edit(
        d, lambda m: (m["stages"].pop(), m["witnesses"].pop(), m.__setitem__("passes", [])))),
        "not loop-nests"),
}


def _swap_stage_files(d: Path) -> None:
    a, b = d / "stages" / "00-import.mlir", d / "stages" / f"{LOOPS}.mlir"
    ta, tb = a.read_bytes(), b.read_bytes()
    a.write_bytes(tb)
    b.write_bytes(ta)


def _other_library(g: Good, d: Path) -> None:
    cnn_library = g.dir.parent / "cnn" / "libmodel.so"
    assert cnn_library.read_bytes() != (d / "libmodel.so").read_bytes()
    shutil.copyfile(cnn_library, d / "libmodel.so")


INF_MODEL = """\
builtin.module attributes {{vnnc.params = "p.safetensors"}} {{
  func.func @main(%x: tensor<2x4xf32> {{vnnc.name = "x"}}) -> (tensor<2x4xf32> {{vnnc.name = "y"}}) {{
    %p = spec.param "p" {{sha256 = "{p}"}} : tensor<4xf32>
    %y = spec.add %x, %p : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
    func.return %y : tensor<2x4xf32>
  }}
}}
"""


def test_outputs_infinite_on_both_sides_are_a_match(tmp_path):
    # regression: an output +inf (or -inf) in the library and in the reference was a mismatch
    from vnnc.verifier.sampled import compare

    compare("y", np.array([np.inf, -np.inf, 1.0], np.float32), np.array([np.inf, -np.inf, 1.0]))
    for y, ref in (([np.inf], [-np.inf]), ([np.inf], [1e30]), ([1.0], [np.inf]), ([np.nan], [np.inf]),
                   ([np.inf], [np.nan])):
        with pytest.raises(Reject, match="output 'y'"):
            compare("y", np.array(y, np.float32), np.array(ref))
    p = np.array([np.inf, -np.inf, 1.0, 2.0], np.float32)  # y = x + p: two columns infinite
    safetensors.write(tmp_path / "p.safetensors", {"p": p})
    (tmp_path / "model.mlir").write_text(INF_MODEL.format(p=safetensors.param_sha256(p)))
    bundle = vnnc.compile(tmp_path / "model.mlir", out=tmp_path / "bundle", force=True)
    rows = check_bundle(bundle.path)
    assert [r["verdict"] for r in rows] == ["accepted"] * 4, rows


def test_there_are_enough_distinct_twins():
    assert len(TWINS) >= 30


@pytest.mark.parametrize("name", list(TWINS))
def test_tampered_twin_is_rejected(good, name):
    model, tamper, needle = TWINS[name]
    reason = tamper(good[model])
    assert needle in reason, reason


# ---------------------------------------------------------------- 3a. every witness field

CAP = 150  # generated twins per witness or stage: every k-th, so that the suite stays fast


def sample(items: list, cap: int = CAP) -> list:
    step = max(1, -(-len(items) // cap))
    return items[::step]


def mutate_scalar(v):
    """A different value of the same JSON kind: ints +1, bools negated, floats doubled (or
    +1 at zero), strings with their last character changed (v0 -> v1, hex stays hex)."""
    if isinstance(v, bool):
        return not v
    if isinstance(v, int):
        return v + 1
    if isinstance(v, float):
        return v * 2 if v else 1.0
    if isinstance(v, str):
        return v[:-1] + ("1" if v[-1:] == "0" else "0")
    raise TypeError(v)


def leaf_paths(x, path=()):
    """The path of every scalar leaf and (as "key:NAME") every dictionary key of x."""
    if isinstance(x, dict):
        for k, v in x.items():
            yield (*path, f"key:{k}")
            yield from leaf_paths(v, (*path, k))
    elif isinstance(x, list):
        for i, v in enumerate(x):
            yield from leaf_paths(v, (*path, i))
    elif x is not None:
        yield path


def apply_leaf(doc: dict, path: tuple) -> dict:
    doc = copy(doc)
    *parents, last = path
    c = doc
    for p in parents:
        c = c[p]
    if isinstance(last, str) and last.startswith("key:"):
        k = last[4:]
        c[mutate_scalar(k)] = c.pop(k)
    else:
        c[last] = mutate_scalar(c[last])
    return doc


TOP_LEVEL = [("version",), ("pass",), ("kind",), ("source_sha256",), ("target_sha256",), ("key:claims",)]


def claim_paths(w: dict) -> list[tuple]:
    """Every scalar leaf and key of the claims."""
    return [("claims", *p) for p in leaf_paths(w["claims"])]


@pytest.mark.parametrize("name", ["mlp", "cnn", "misc"])
def test_every_loop_witness_field_mutated_is_rejected(good, name):
    g = good[name]
    accepted = []
    for path in TOP_LEVEL + sample(claim_paths(g.w1), 2 * CAP):
        verdict = check(g.spec, g.loops, json.dumps(apply_leaf(g.w1, path)))
        if not isinstance(verdict, Rejected) or not verdict.reason:
            accepted.append(path)
    assert accepted == []


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_every_import_witness_field_mutated_is_rejected(good, name):
    g = good[name]
    accepted = []
    for path in TOP_LEVEL + claim_paths(g.w0):
        verdict = check(g.params, g.spec, json.dumps(apply_leaf(g.w0, path)))
        if not isinstance(verdict, Rejected) or not verdict.reason:
            accepted.append(path)
    assert accepted == []


# ---------------------------------------------------------------- 3b. every operand of the loop stage

OPEN_LINE = re.compile(r'^(\s*)(?:((?:%\w+, )*%\w+) = )?"([\w.]+)"\(([^)]*)\)(.*)$')
TYPES = re.compile(r" : \(([^)]*)\) -> (.*)$")
CLOSE_LINE = re.compile(r"^\s*\}\) : \(([^)]*)\) -> (.*)$")
BLOCK_LINE = re.compile(r"^(\s*)\^bb\d+\((.*)\):$")


def _types(text: str) -> list[str]:
    """Split a type list at top-level commas."""
    out, depth, cur = [], 0, ""
    for ch in text:
        depth += (ch == "<") - (ch == ">")
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    return [t for t in out + [cur.strip()] if t]


def _results(indent: int, names: str, types: str) -> list[tuple[int, str, str]]:
    """(indent, name, type) of each result of an op: `%a, %b` with types `(t1, t2)`."""
    names, types = names.split(", "), types.strip()
    types = _types(types[1:-1]) if len(names) > 1 else [types]
    return [(indent, name, t) for name, t in zip(names, types)]


def operand_mutants(text: str) -> list[tuple[str, Callable[[], str]]]:
    """(description, the twin's text when called) for every operand of every op replaced by
    each other value of its type visible there (a block argument or result defined earlier in
    an enclosing block), and for every arith.constant with its value changed."""
    lines = text.splitlines(keepends=True)
    # an op with regions states its types on the line that closes them
    signature, closes, stack = {}, {}, []
    for n, line in enumerate(lines):
        if line.rstrip().endswith("({") and OPEN_LINE.match(line):
            stack.append(n)
        elif (m := CLOSE_LINE.match(line)) is not None:
            signature[stack[-1]] = (m[1], m[2])
            closes[n] = stack.pop()
        elif (m := TYPES.search(line)) is not None:
            signature[n] = (m[1], m[2])
    visible: list[tuple[int, str, str]] = []  # (indent of the block, name, type)
    out = []
    for n, line in enumerate(lines):
        indent = len(line) - len(line.lstrip())
        visible = [v for v in visible if v[0] <= indent]  # what closed blocks defined is gone
        if (m := BLOCK_LINE.match(line)) is not None:
            for arg in _types(m[2]):
                name, t = arg.split(": ", 1)
                visible.append((indent + 2, name, t))
            continue
        if n in closes:  # the result of an op with regions is defined after them
            opened = OPEN_LINE.match(lines[closes[n]])
            if opened[2]:
                visible += _results(indent, opened[2], signature[closes[n]][1])
            continue
        m = OPEN_LINE.match(line)
        if m is None or n not in signature:
            continue
        operands = [o.strip() for o in m[4].split(",") if o.strip()]
        for k, (operand, t) in enumerate(zip(operands, _types(signature[n][0]))):
            for _, other, other_t in visible:
                if other != operand and other_t == t:
                    new = operands[:k] + [other] + operands[k + 1:]
                    twin = line.replace(f'"{m[3]}"({m[4]})', f'"{m[3]}"({", ".join(new)})', 1)
                    out.append((f"line {n + 1}: {m[3]} operand {k} {operand} -> {other}", n, twin))
        if m[3] == "arith.constant":  # a scalar, or a vector's every lane (dense<x>)
            c = re.search(r"value = (?:dense<)?(0x[0-9a-f]+|-?[0-9.e+-]+)>? : (\w+)", line)
            if c[1].startswith("0x"):  # a float by its bits: flip the lowest
                value = hex(int(c[1], 16) ^ 1)
            else:
                value = str(int(c[1]) + 1) if c[2] == "index" else repr(float(c[1]) * 2 + 0.5)
            twin = line[:c.start(1)] + value + line[c.end(1):]
            out.append((f"line {n + 1}: constant {c[1]} -> {value}", n, twin))
        if m[2] and not line.rstrip().endswith("({"):
            visible += _results(indent, m[2], signature[n][1])
    return [(what, lambda n=n, twin=twin: "".join(lines[:n] + [twin] + lines[n + 1:]))
            for what, n, twin in out if twin != lines[n]]


@pytest.mark.parametrize("name", ["mlp", "cnn", "misc", "blocked"])
def test_every_loop_stage_operand_replaced_is_rejected(good, name):
    g = good[name]
    mutants = operand_mutants(g.loops)
    assert len(mutants) > 100
    accepted = []
    for what, make in sample(mutants):
        twin = make()
        # the certificate tells the truth about the twin: the definition match must reject it
        w = dict(recertify(twin, g.w1), target_sha256=sha(twin))
        verdict = check(g.spec, twin, json.dumps(w))
        if not isinstance(verdict, Rejected) or not verdict.reason:
            accepted.append(what)
    assert accepted == []


def test_operand_mutants_cover_every_kind_of_operand(good):
    whats = " ".join(what for what, _ in operand_mutants(good["cnn"].loops))
    for kind in ("memref.load operand", "memref.store operand", "scf.for operand", "arith.addi operand",
                 "scf.if operand", "func.call operand", "memref.dealloc operand", "memref.copy operand",
                 "arith.cmpi operand", "arith.mulf operand", "constant"):
        assert kind in whats, kind
    whats = " ".join(what for what, _ in operand_mutants(good["blocked"].loops))
    for kind in ("vector.load operand", "vector.shuffle operand", "vector.extract operand", "constant 0.000000e+00"):
        assert kind in whats, kind


# ---------------------------------------------------------------- 3c. the spec stage and the parameters


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_every_spec_param_hash_and_result_type_changed_is_rejected(good, name):
    g = good[name]
    twins = []
    for digest in re.findall(r'sha256 = "([0-9a-f]{64})"', g.spec):
        twins.append((f"sha256 {digest[:8]}", edit(g.spec, digest, mutate_scalar(digest))))
    for line in g.spec.splitlines():
        m = re.match(r"\s*(%\w+) = .* -> tensor<(\d+)x(.*)>$", line)
        if m:
            changed = line[: m.start(2)] + str(int(m[2]) + 1) + line[m.end(2):]
            twins.append((f"result type of {m[1]}", edit(g.spec, line, changed)))
    assert len(twins) >= 10
    accepted = []
    for what, spec in twins:
        verdict = check(g.params, spec, json.dumps(dict(g.w0, target_sha256=sha(spec))))
        if not isinstance(verdict, Rejected) or not verdict.reason:
            accepted.append(what)
    assert accepted == []


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_parameter_bytes_flipped_are_rejected(good, name):
    g = good[name]
    n = int.from_bytes(g.params[:8], "little")
    offsets = [0, 3, 7, 8, 9, 8 + n // 2, 8 + n - 1, 8 + n, 8 + n + 1, (8 + n + len(g.params)) // 2,
               len(g.params) - 1]
    accepted = []
    for offset in offsets:
        for bit in (0x01, 0x80):
            raw = bytearray(g.params)
            raw[offset] ^= bit
            payload = bytes(raw)
            verdict = check(payload, g.spec, json.dumps(dict(g.w0, source_sha256=sha(payload))))
            if not isinstance(verdict, Rejected) or not verdict.reason:
                accepted.append((offset, bit))
    assert accepted == []
