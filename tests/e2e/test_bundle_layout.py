"""A compiled bundle matches docs/BUNDLE.md: its files, and manifest.json against the
JSON schema written there (checked by a small validator for the keywords it uses)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
import vnnc

ROOT = Path(__file__).resolve().parents[2]


def schema() -> dict:
    text = (ROOT / "docs" / "BUNDLE.md").read_text()
    block = re.search(r"## manifest.json.*?```json\n(.*?)```", text, re.DOTALL)
    assert block, "docs/BUNDLE.md has no JSON schema block"
    return json.loads(block.group(1))


def validate(value, sch: dict, root: dict, path: str = "$") -> list[str]:
    if "$ref" in sch:
        sch = root["$defs"][sch["$ref"].split("/")[-1]]
    errors = []
    types = {"object": dict, "array": list, "string": str, "boolean": bool, "number": (int, float),
             "integer": int, "null": type(None)}
    allowed = [sch["type"]] if isinstance(sch.get("type"), str) else sch.get("type", [])
    if allowed and not any(isinstance(value, types[t]) for t in allowed):
        return [f"{path}: expected {sch['type']}, got {type(value).__name__}"]
    if "const" in sch and value != sch["const"]:
        errors.append(f"{path}: expected {sch['const']!r}")
    if "enum" in sch and value not in sch["enum"]:
        errors.append(f"{path}: {value!r} not in {sch['enum']}")
    if "pattern" in sch and not re.search(sch["pattern"], value):
        errors.append(f"{path}: {value!r} does not match {sch['pattern']}")
    if "minimum" in sch and value < sch["minimum"]:
        errors.append(f"{path}: {value} < {sch['minimum']}")
    if isinstance(value, dict):
        for key in sch.get("required", []):
            if key not in value:
                errors.append(f"{path}: missing {key!r}")
        for key, sub in sch.get("properties", {}).items():
            if key in value:
                errors += validate(value[key], sub, root, f"{path}.{key}")
        if "additionalProperties" in sch:
            for key, v in value.items():
                if key not in sch.get("properties", {}):
                    errors += validate(v, sch["additionalProperties"], root, f"{path}.{key}")
    if isinstance(value, list) and "items" in sch:
        for i, v in enumerate(value):
            errors += validate(v, sch["items"], root, f"{path}[{i}]")
    return errors


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("bundle") / "mlp"
    return vnnc.compile(ROOT / "examples" / "mlp.mlir", out=out)


def test_manifest_matches_the_documented_schema(bundle):
    sch = schema()
    assert validate(bundle.manifest, sch, sch) == []


def test_onnx_manifest_with_a_tested_row_matches_the_schema(tmp_path):
    pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "relu",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), str(tmp_path / "r.onnx"))
    manifest = vnnc.compile(tmp_path / "r.onnx", out=tmp_path / "b").manifest
    assert [row["what"] for row in manifest["tested"]] == ["onnx-import"]
    sch = schema()
    assert validate(manifest, sch, sch) == []
    broken = dict(manifest, tested=[dict(manifest["tested"][0], max_abs_error="small")])
    assert validate(broken, sch, sch) != []


def test_validator_rejects_a_broken_manifest(bundle):
    sch = schema()
    broken = dict(bundle.manifest, verified="yes")
    del broken["stages"]
    del broken["artifact_sha256"]
    broken["checks"] = [dict(bundle.manifest["checks"][0], stage="somewhere")]
    errors = validate(broken, sch, sch)
    assert any("stages" in e for e in errors) and any("verified" in e for e in errors)
    assert any("artifact_sha256" in e for e in errors) and any("somewhere" in e for e in errors)


def test_bundle_files_and_hashes(bundle):
    m = bundle.manifest
    for rel in m["artifacts"].values():
        assert (bundle.path / rel).is_file()
    assert [s["name"] for s in m["stages"]] == ["00-import", "01-lower-to-loops"]
    for s in m["stages"]:
        text = (bundle.path / s["file"]).read_text()
        assert hashlib.sha256(text.encode()).hexdigest() == s["sha256"]
        assert text.startswith('"builtin.module"()'), "stages hold the generic form"
    for w in m["witnesses"]:
        witness = json.loads((bundle.path / w["file"]).read_text())
        assert {"version", "pass", "kind", "source_sha256", "target_sha256", "claims"} <= set(witness)
        assert witness["target_sha256"] == next(s["sha256"] for s in m["stages"] if s["name"] == w["stage"])
    assert not list(bundle.path.parent.glob(".mlp.*")), "no temporary directory is left behind"


def test_bundle_runs_the_example(bundle):
    from vnnc import safetensors

    p = safetensors.read(ROOT / "examples" / "mlp.safetensors")
    x = np.random.default_rng(0).random((1, 784), dtype=np.float32)
    h = x.astype(np.float64)
    for i, layer in enumerate(("fc1", "fc2", "fc3")):
        h = h @ p[f"{layer}.weight"].T.astype(np.float64) + p[f"{layer}.bias"]
        h = np.maximum(h, 0) if i < 2 else h
    y = bundle.run(x)
    assert y.shape == (1, 10)
    assert np.abs(y - h).max() <= 1e-5 * max(1.0, np.abs(h).max())
