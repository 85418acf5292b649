"""The witnesses of real bundles match the JSON schemas written in docs/WITNESS.md.

The schemas are read from the document itself (the ```json blocks whose "$id" starts
with "vnnc-witness/"), so the document cannot drift from what the compiler writes. A
small validator covers the keywords the document uses.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import vnnc

ROOT = Path(__file__).resolve().parents[2]

MANY_OPS = """\
builtin.module {
  func.func @main(%x: tensor<1x2x5x5xf32>, %t: tensor<2xi64>) -> (tensor<1x2x3x3xf32>, tensor<f32>) {
    %a = spec.avgpool2d %x {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 0, 0>} : (tensor<1x2x5x5xf32>) -> tensor<1x2x3x3xf32>
    %g = spec.gelu %a : (tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
    %l = spec.leaky_relu %g : (tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
    %f = spec.reshape %x {shape = array<i64: 2, 25>} : (tensor<1x2x5x5xf32>) -> tensor<2x25xf32>
    %s = spec.log_softmax %f {axis = 1 : i64} : (tensor<2x25xf32>) -> tensor<2x25xf32>
    %n = spec.layernorm %s {axes = array<i64: 1>} : (tensor<2x25xf32>) -> tensor<2x25xf32>
    %c = spec.cross_entropy %n, %t : (tensor<2x25xf32>, tensor<2xi64>) -> tensor<f32>
    func.return %l, %c : tensor<1x2x3x3xf32>, tensor<f32>
  }
}
"""


def schemas() -> dict[str, dict]:
    text = (ROOT / "docs" / "WITNESS.md").read_text()
    found = {}
    for block in re.findall(r"```json\n(.*?)```", text, re.DOTALL):
        if '"$id": "vnnc-witness/' in block:
            sch = json.loads(block)
            found[sch["$id"].split("/")[1]] = sch
    assert set(found) == {"spec-wellformed", "loop-nests"}, "docs/WITNESS.md lacks a witness schema"
    return found


TYPES = {"object": dict, "array": list, "string": str, "null": type(None)}


def _is(value, name: str) -> bool:
    if name == "integer":
        return type(value) is int
    if name == "number":
        return type(value) in (int, float)
    if name == "boolean":
        return type(value) is bool
    return isinstance(value, TYPES[name])


def validate(value, sch, root: dict, path: str = "$") -> list[str]:
    if sch is False:
        return [f"{path}: not allowed"]
    if "$ref" in sch:
        return validate(value, root["$defs"][sch["$ref"].split("/")[-1]], root, path)
    types = sch.get("type")
    if types is not None and not any(_is(value, t) for t in ([types] if isinstance(types, str) else types)):
        return [f"{path}: expected {types}, got {type(value).__name__}"]
    errors = []
    if "const" in sch and (value != sch["const"] or type(value) is not type(sch["const"])):
        errors.append(f"{path}: expected {sch['const']!r}")
    if "enum" in sch and value not in sch["enum"]:
        errors.append(f"{path}: {value!r} not in {sch['enum']}")
    if "pattern" in sch and not (isinstance(value, str) and re.search(sch["pattern"], value)):
        errors.append(f"{path}: {value!r} does not match {sch['pattern']}")
    if "minimum" in sch and value < sch["minimum"]:
        errors.append(f"{path}: {value} < {sch['minimum']}")
    if "anyOf" in sch and all(validate(value, s, root, path) for s in sch["anyOf"]):
        errors.append(f"{path}: matches none of the forms: {json.dumps(value)[:120]}")
    if isinstance(value, dict):
        errors += [f"{path}: missing {k!r}" for k in sch.get("required", []) if k not in value]
        for key, v in value.items():
            if key in sch.get("properties", {}):
                errors += validate(v, sch["properties"][key], root, f"{path}.{key}")
            elif "additionalProperties" in sch:
                errors += validate(v, sch["additionalProperties"], root, f"{path}.{key}")
    if isinstance(value, list):
        if len(value) < sch.get("minItems", 0):
            errors.append(f"{path}: fewer than {sch['minItems']} items")
        prefix = sch.get("prefixItems", [])
        for i, v in enumerate(value):
            if i < len(prefix):
                errors += validate(v, prefix[i], root, f"{path}[{i}]")
            elif "items" in sch:
                errors += validate(v, sch["items"], root, f"{path}[{i}]")
    return errors


@pytest.fixture(scope="module")
def witnesses(tmp_path_factory) -> list[dict]:
    tmp = tmp_path_factory.mktemp("witness-schema")
    (tmp / "many.mlir").write_text(MANY_OPS)
    models = [ROOT / "examples" / "mlp.mlir", ROOT / "examples" / "cnn.mlir", tmp / "many.mlir"]
    found = []
    for model in models:
        bundle = vnnc.compile(model, out=tmp / model.stem, force=True)
        for row in bundle.manifest["witnesses"]:
            found.append(json.loads((bundle.path / row["file"]).read_text()))
    return found


def test_every_witness_matches_its_documented_schema(witnesses):
    by_kind = schemas()
    assert {w["kind"] for w in witnesses} == set(by_kind)
    for w in witnesses:
        sch = by_kind[w["kind"]]
        assert validate(w, sch, sch) == [], w["pass"]


def test_the_documented_forms_are_the_ones_used(witnesses):
    """Every expression form the schema lists occurs in these bundles' certificates."""
    heads: set[str] = set()

    def walk(x):
        if isinstance(x, list):
            if x and isinstance(x[0], str):
                heads.add(x[0])
            for y in x:
                walk(y)

    for w in witnesses:
        if w["kind"] == "loop-nests":
            walk([[k["stores"], k["reductions"]] for k in w["claims"]["kernels"]])
    assert {"aff", "f32", "load", "res", "for", "if", "acc", "addf", "subf", "mulf", "divf",
            "maximumf", "exp", "log", "sqrt", "erf", "select", "andi", "index_cast", "cmpf",
            "cmpi"} <= heads


@pytest.mark.parametrize("mutate", [
    lambda w: w["claims"]["kernels"][0]["stores"][0][2].__setitem__(0, "fmaf"),
    lambda w: w["claims"]["kernels"][0]["stores"][0][0][0].append(3),
    lambda w: w["claims"]["kernels"][0]["stores"][0][1][0].__setitem__(0, "affine"),
    lambda w: w["claims"]["calls"][0].__setitem__("op", "relu"),
    lambda w: w.__setitem__("target_sha256", "ABC"),
    lambda w: w["claims"].pop("calls"),
])
def test_the_validator_is_not_vacuous(witnesses, mutate):
    sch = schemas()["loop-nests"]
    w = copy.deepcopy(next(w for w in witnesses if w["kind"] == "loop-nests"))
    mutate(w)
    assert validate(w, sch, sch) != []
