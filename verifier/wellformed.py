"""Checks the `spec-wellformed` witness of the import: parameter file -> spec stage 00.

docs/WITNESS.md §4: the module holds one func.func @main whose block holds only spec ops
and ends with its only func.return (SSA is checked by the parser, mlir.py); every value is a
tensor of f32 or i64; spec ops take f32 operands (cross_entropy's labels: i64) and give the
f32 result `semantics.infer` gives; every spec.param names an entry of the file, of its
type, whose hash is its sha256. The claims must be the recomputed ones.
"""

from __future__ import annotations

import json

from vnnc.verifier.check import Reject
from vnnc.verifier.mlir import Dense, Op, Type, parse
from vnnc.verifier.params import param_sha256, read
from vnnc.verifier.semantics import SHAPE_RULES, infer, main_function, plain_attrs

DTYPES = {"f32": "float32", "i64": "int64"}  # element types of spec values, as claims name them
FUNC_PROPS = {"sym_name", "function_type", "arg_attrs", "res_attrs", "sym_visibility"}


def _tensor(where: str, t: Type) -> None:
    if t.kind != "tensor" or t.elem not in DTYPES:
        raise Reject(f"{where}: type {t} is not a tensor of f32 or i64")


def _signature(fn: Op, key: str, types: tuple, prefix: str) -> list[dict]:
    """Claims rows {name, shape, dtype}; names from vnnc.name, else input{i} / output{i}."""
    attrs = fn.props.get(key, [{} for _ in types])
    if not isinstance(attrs, list) or len(attrs) != len(types) or not all(isinstance(d, dict) for d in attrs):
        raise Reject(f"func.func @main: {key} must hold one dictionary per value")
    rows = []
    for i, (t, d) in enumerate(zip(types, attrs)):
        _tensor(f"func.func @main: {prefix} {i}", t)
        name = d.get("vnnc.name")
        rows.append({"name": name if isinstance(name, str) and name else f"{prefix}{i}",
                     "shape": list(t.shape), "dtype": DTYPES[t.elem]})
    return rows


def _check_param(where: str, op: Op, t: Type, payload: dict, hashes: dict) -> None:
    name, digest = op.props.get("name"), op.props.get("sha256")
    strings = isinstance(name, str) and isinstance(digest, str)
    if op.operands or set(op.props) != {"name", "sha256"} or not strings:
        raise Reject(f"{where}: spec.param takes no operands, and string properties name, sha256")
    if name not in payload:
        raise Reject(f"{where}: the parameter file has no entry {name!r}")
    array = payload[name]
    if array.shape != t.shape or str(array.dtype) != DTYPES[t.elem]:
        raise Reject(f"{where}: parameter {name!r} is {array.dtype} {list(array.shape)}, "
                     f"the op declares {t}")
    if hashes[name] != digest:
        raise Reject(f"{where}: parameter {name!r} hashes to {hashes[name]}, not {digest}")


def _check_compute(where: str, op: Op, t: Type) -> None:
    short = op.name.removeprefix("spec.")
    for k, operand_type in enumerate(op.operand_types):
        want = "i64" if (short, k) in (("cross_entropy", 1), ("one_hot", 0)) else "f32"
        if operand_type.elem != want:
            raise Reject(f"{where}: operand {k} must be a tensor of {want}, got {operand_type}")
    try:
        shape = infer(short, [ot.shape for ot in op.operand_types], plain_attrs(op))
    except Reject as e:
        raise Reject(f"{op.results[0]} = {e}") from None
    if t.elem != "f32" or t.shape != shape:
        raise Reject(f"{where}: result type {t} is not the inferred {list(shape)} of f32")


def _check_function(fn: Op, payload: dict, hashes: dict) -> None:
    fn_type = fn.props.get("function_type")
    if not isinstance(fn_type, Type) or fn_type.kind != "function" or set(fn.props) - FUNC_PROPS:
        raise Reject("func.func @main: needs a function_type and no properties beyond "
                     f"{sorted(FUNC_PROPS)}")
    block = fn.regions[0][0]
    if tuple(t for _, t in block.args) != fn_type.inputs:
        raise Reject("func.func @main: block arguments do not match the function type")
    if not block.ops or block.ops[-1].name != "func.return":
        raise Reject("func.func @main: the block must end with func.return")
    for op in block.ops:  # values are defined once, before their uses, at their types: mlir.parse
        where = f"{op.name} {op.results[0]}" if op.results else op.name
        if op.regions:
            raise Reject(f"{where}: ops of the spec function take no regions")
        if op.name == "func.return":
            if op is not block.ops[-1] or op.results or tuple(op.operand_types) != fn_type.outputs:
                raise Reject(f"{where}: must be last and return the function type's results")
            continue
        compute = op.name.startswith("spec.") and op.name.removeprefix("spec.") in SHAPE_RULES
        if op.name not in ("spec.param", "spec.constant") and not compute:
            raise Reject(f"{where}: not a spec op")
        if len(op.results) != 1:
            raise Reject(f"{where}: a spec op has exactly one result")
        t = op.result_types[0]
        _tensor(where, t)
        if op.name == "spec.param":
            _check_param(where, op, t, payload, hashes)
        elif op.name == "spec.constant":
            value = op.props.get("value")
            if op.operands or set(op.props) != {"value"} or not (
                    isinstance(value, Dense) and value.type == t):
                raise Reject(f"{where}: a constant takes no operands and a dense value of its type")
        else:
            _check_compute(where, op, t)


def check(source: bytes, target: str, witness: dict, spec_part=lambda fn: fn) -> None:
    """Accept the import witness (by returning) or raise Reject. `spec_part(fn)` is the part
    of @main that must be spec ops (autograd.py's ad-wellformed leaves out its ad op)."""
    if not isinstance(source, (bytes, bytearray)):
        raise Reject("import: the source must be the bytes of the parameter file")
    if witness["pass"] != "import":
        raise Reject(f"import: this witness kind is for pass import, not {witness['pass']!r}")
    module = parse(target)
    payload = read(source)
    hashes = {name: param_sha256(array) for name, array in payload.items()}
    fn = main_function(module)
    if module.operands or module.results or len(module.regions[0][0].ops) != 1:
        raise Reject("builtin.module: must hold func.func @main and nothing else")
    _check_function(spec_part(fn), payload, hashes)
    fn_type = fn.props["function_type"]
    recomputed = {"inputs": _signature(fn, "arg_attrs", fn_type.inputs, "input"),
                  "outputs": _signature(fn, "res_attrs", fn_type.outputs, "output"),
                  "params": hashes}
    claims = witness["claims"]
    if not isinstance(claims, dict) or set(claims) != set(recomputed):
        raise Reject(f"import: claims must have exactly the keys {sorted(recomputed)}")
    for key, value in recomputed.items():
        # canonical JSON: exact, so 1.0 is not 1 and true is not 1; key order does not count
        claimed, want = json.dumps(claims[key], sort_keys=True), json.dumps(value, sort_keys=True)
        if claimed != want:
            raise Reject(f"import: claimed {key} differ from the recomputed ones: {claimed[:200]} "
                         f"is not {want[:200]}")
