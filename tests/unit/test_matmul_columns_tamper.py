"""Tampered twins of a matmul vectorised over columns (passes/kernels/contraction.py,
`matmul_columns`): a 4x20 by 20x18 matmul computed 4 rows by 16 columns per iteration
(a[i, k] broadcast, b[k, j0:j0+16] one load), then two columns one at a time. Each twin's
certificate is read back from the tampered loop IR (`recertify`), so what rejects it is the
match against the checker's own definition of spec.matmul, or the reader's rules."""

from __future__ import annotations

import re

import numpy as np
import pytest
import vnnc
from test_checker_tamper import (
    _kernel_cert,
    _load,
    _with,
    first,
    function_text,
    in_function,
    loops_reason,
)
from vnnc import safetensors

KERNEL = "matmul_4x20_20x18_4x18"
MODEL = """\
builtin.module attributes {{vnnc.params = "p.safetensors"}} {{
  func.func @main(%x: tensor<4x20xf32> {{vnnc.name = "x"}}) -> (tensor<4x18xf32> {{vnnc.name = "y"}}) {{
    %w = spec.param "w" {{sha256 = "{hw}"}} : tensor<20x18xf32>
    %y = spec.matmul %x, %w : (tensor<4x20xf32>, tensor<20x18xf32>) -> tensor<4x18xf32>
    func.return %y : tensor<4x18xf32>
  }}
}}
"""


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    root = tmp_path_factory.mktemp("columns")
    w = np.random.default_rng(1).standard_normal((20, 18)).astype(np.float32)
    safetensors.write(root / "p.safetensors", {"w": w})
    (root / "model.mlir").write_text(MODEL.format(hw=safetensors.param_sha256(w)))
    bundle = vnnc.compile(root / "model.mlir", out=root / "bundle", force=True)
    assert bundle.manifest["verified"] is True
    g = _load(bundle.path, root / "twins")
    assert _kernel_cert(g.w1, KERNEL)["block"] == [4, 16]
    return g


def change_first(g, pattern: str, change) -> str:
    """The first match of `pattern` in the kernel changed by change(match)."""
    text = function_text(g.loops, KERNEL)
    m = first(pattern, text)
    return g.loops.replace(text, text[:m.start()] + change(m) + text[m.end():], 1)


def broadcasts(g) -> list[tuple[str, str]]:
    """(result, operand) of each vector.broadcast of the kernel, in order."""
    return re.findall(r'(%\d+) = "vector\.broadcast"\((%\d+)\)', function_text(g.loops, KERNEL))


def row_broadcast_reused(g) -> str:
    """Row 0's broadcast multiplied into row 1's accumulator: row 1 is never computed."""
    (b0, _), (b1, _) = broadcasts(g)[:2]
    return change_first(g, rf'"arith\.mulf"\({b1}, ', lambda m: f'"arith.mulf"({b0}, ')


def broadcast_of_another_row(g) -> str:
    """Row 1's broadcast made from row 0's load (loaded twice)."""
    (_, x0), (b1, x1) = broadcasts(g)[:2]
    return in_function(g.loops, KERNEL, f'{b1} = "vector.broadcast"({x1})', f'{b1} = "vector.broadcast"({x0})')


def w_load_transposed(g) -> str:
    return change_first(g, r'"vector\.load"\(%1, (%\d+), (%\d+)\)',
                        lambda m: f'"vector.load"(%1, {m.group(2)}, {m.group(1)})')


def broadcast_of_a_vector(g) -> str:
    """A vector given to vector.broadcast (the types say so): the reader refuses it."""
    load = first(r'(%\d+) = "vector\.load"', function_text(g.loops, KERNEL)).group(1)
    return change_first(g, r'"vector\.broadcast"\((%\d+)\) : \(f32\)',
                        lambda m: f'"vector.broadcast"({load}) : (vector<16xf32>)')


def tail_store_dropped(g) -> str:
    m = list(re.finditer(r'\n *"memref\.store"\(.*', function_text(g.loops, KERNEL)))[-1]
    return in_function(g.loops, KERNEL, m.group(0), "")


def lane_store_shifted(g) -> str:
    """Lane 1 of the first vector stored at column 0 (lane 0's place): column 0 twice, 1 never."""
    text = function_text(g.loops, KERNEL)
    stores = re.findall(r'"memref\.store"\((%\d+), %2, (%\d+), (%\d+)\)', text)
    (v1, r1, c1), (_, _, c0) = stores[1], stores[0]
    return in_function(g.loops, KERNEL, f'"memref.store"({v1}, %2, {r1}, {c1})', f'"memref.store"({v1}, %2, {r1}, {c0})')


def cert(change):
    return lambda g: loops_reason(g, witness=_with(g.w1, lambda w: change(_kernel_cert(w, KERNEL))), recert=False)


TWINS = {
    "row-broadcast-reused": (lambda g: loops_reason(g, row_broadcast_reused(g)), "not the definition of spec.matmul"),
    "broadcast-of-another-row": (lambda g: loops_reason(g, broadcast_of_another_row(g)),
                                 "not the definition of spec.matmul"),
    "w-load-transposed": (lambda g: loops_reason(g, w_load_transposed(g)), "outside its buffer"),
    "broadcast-of-a-vector": (lambda g: loops_reason(g, broadcast_of_a_vector(g)), "broadcasts one f32 scalar"),
    "tail-store-dropped": (lambda g: loops_reason(g, tail_store_dropped(g)), "not the definition of spec.matmul"),
    "lane-store-shifted": (lambda g: loops_reason(g, lane_store_shifted(g)), "not the definition of spec.matmul"),
    "certificate-claims-2-rows": (cert(lambda c: c.update(block=[2, 16])), "not the definition of spec.matmul"),
    "certificate-claims-32-columns": (cert(lambda c: c.update(block=[4, 32])), "not the definition of spec.matmul"),
    "certificate-claims-no-block": (cert(lambda c: c.pop("block")), "not the definition of spec.matmul"),
    "certificate-claims-lanes16": (cert(lambda c: c.update(order="lanes16")), "not the definition of spec.matmul"),
}


@pytest.mark.parametrize("name", sorted(TWINS))
def test_columns_twin_rejected(good, name):
    make, reason = TWINS[name]
    got = make(good)
    assert reason in got, got
