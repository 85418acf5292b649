"""Checks the `spec-wellformed` witness of the import: parameter file -> spec stage 00.

From the stage text and the parameter file's bytes alone, the checker re-derives:
  - structure: one builtin.module holding one func.func @main, whose one block holds
    only spec ops and ends with its only func.return;
  - SSA: every value is defined once, before its uses, and every use states the type
    of its definition; block arguments and the return match the function type;
  - types: every value is a tensor of f32 or i64; every spec op's operands are f32
    (cross_entropy's labels: i64), its result f32 of the shape `semantics.infer` gives;
  - parameters: each spec.param names an entry of the file with the declared shape
    and dtype, whose hash (`params.param_sha256`) is the op's sha256;
  - claims: {"inputs": [{"name", "shape", "dtype"}], "outputs": [...], "params":
    {name: sha256 of every entry of the file}} equal what it recomputed exactly. Names
    come from the "vnnc.name" of arg_attrs / res_attrs, else input{i} / output{i}.
"""

from __future__ import annotations

import json

from vnnc.verifier.check import Reject
from vnnc.verifier.mlir import Dense, MLIRSyntaxError, Op, Type, parse
from vnnc.verifier.params import param_sha256, read
from vnnc.verifier.semantics import SHAPE_RULES, infer, main_function, plain_attrs

DTYPES = {"f32": "float32", "i64": "int64"}
"""Element types a spec value may have, and their names in claims and numpy."""

FUNC_PROPS = {"sym_name", "function_type", "arg_attrs", "res_attrs", "sym_visibility"}


def _tensor(where: str, t: Type) -> None:
    if t.kind != "tensor" or t.elem not in DTYPES:
        raise Reject(f"{where}: type {t} is not a tensor of f32 or i64")


def _signature(fn: Op, key: str, types: tuple, prefix: str) -> list[dict]:
    """Claims rows {name, shape, dtype} for the function's arguments or results."""
    attrs = fn.props.get(key, [{} for _ in types])
    if not isinstance(attrs, list) or len(attrs) != len(types) or not all(
        isinstance(d, dict) for d in attrs
    ):
        raise Reject(f"func.func @main: {key} must hold one dictionary per value")
    rows = []
    for i, (t, d) in enumerate(zip(types, attrs)):
        _tensor(f"func.func @main: {prefix} {i}", t)
        name = d.get("vnnc.name")
        name = name if isinstance(name, str) and name else f"{prefix}{i}"
        rows.append({"name": name, "shape": list(t.shape), "dtype": DTYPES[t.elem]})
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
    short = op.name[len("spec."):]
    for k, operand_type in enumerate(op.operand_types):
        want = "i64" if (short, k) == ("cross_entropy", 1) else "f32"
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
    defined: dict[str, Type] = {}
    for name, t in block.args:
        if name in defined:
            raise Reject(f"func.func @main: block argument {name} is defined twice")
        defined[name] = t
    if tuple(t for _, t in block.args) != fn_type.inputs:
        raise Reject("func.func @main: block arguments do not match the function type")
    if not block.ops or block.ops[-1].name != "func.return":
        raise Reject("func.func @main: the block must end with func.return")
    for op in block.ops:
        where = f"{op.name} {op.results[0]}" if op.results else op.name
        if op.regions:
            raise Reject(f"{where}: ops of the spec function take no regions")
        for v, t in zip(op.operands, op.operand_types):
            if v not in defined:
                raise Reject(f"{where}: {v} is used before it is defined")
            if defined[v] != t:
                raise Reject(f"{where}: {v} is used as {t} but defined as {defined[v]}")
        if op.name == "func.return":
            if op is not block.ops[-1] or op.results or tuple(op.operand_types) != fn_type.outputs:
                raise Reject(f"{where}: must be last and return the function type's results")
            continue
        compute = op.name.startswith("spec.") and op.name[len("spec."):] in SHAPE_RULES
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
            fits = isinstance(value, Dense) and value.type == t
            if op.operands or set(op.props) != {"value"} or not fits:
                raise Reject(f"{where}: a constant takes no operands and a dense value of its type")
        else:
            _check_compute(where, op, t)
        if op.results[0] in defined:
            raise Reject(f"{where}: {op.results[0]} is defined twice")
        defined[op.results[0]] = t


def check(source: bytes, target: str, witness: dict, params: dict | None) -> None:
    """Accept the import witness (by returning) or raise Reject."""
    if not isinstance(source, (bytes, bytearray)):
        raise Reject("import: the source must be the bytes of the parameter file")
    if witness.get("pass") != "import":
        raise Reject(f"import: this witness kind is for pass import, not {witness['pass']!r}")
    try:
        module = parse(target)
    except MLIRSyntaxError as e:
        raise Reject(f"stage 00: {e}") from None
    payload = read(source)
    hashes = {name: param_sha256(array) for name, array in payload.items()}
    fn = main_function(module)
    if module.operands or module.results or len(module.regions[0][0].ops) != 1:
        raise Reject("builtin.module: must hold func.func @main and nothing else")
    _check_function(fn, payload, hashes)
    fn_type = fn.props["function_type"]
    recomputed = {"inputs": _signature(fn, "arg_attrs", fn_type.inputs, "input"),
                  "outputs": _signature(fn, "res_attrs", fn_type.outputs, "output"),
                  "params": hashes}
    claims = witness["claims"]
    if not isinstance(claims, dict) or set(claims) != set(recomputed):
        raise Reject(f"import: claims must have exactly the keys {sorted(recomputed)}")
    for key in ("inputs", "outputs", "params"):
        # compared as canonical JSON: exact, so 1.0 is not 1 and true is not 1
        if json.dumps(claims[key], sort_keys=True) == json.dumps(recomputed[key], sort_keys=True):
            continue
        if key == "params" and isinstance(claims[key], dict):
            names = sorted(set(claims[key]) | set(hashes))
            differ = [n for n in names if claims[key].get(n) != hashes.get(n)]
            raise Reject(f"import: claimed params differ from the parameter file at {differ}")
        raise Reject(f"import: claimed {key} {json.dumps(claims[key])[:200]} are not the "
                     f"recomputed {json.dumps(recomputed[key])[:200]}")
