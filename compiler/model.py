"""A model inside the compiler: a spec module plus its parameter payload."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, ModuleOp, StringAttr, TensorType
from xdsl.dialects.func import FuncOp

ENTRY = "main"
"""The model function's symbol in every stage."""

NAME_ATTR = "vnnc.name"
"""Argument / result attribute carrying the user-facing name of a model input or output."""


@dataclass
class Model:
    module: ModuleOp
    params: dict[str, np.ndarray]
    source: Path
    tested: list[dict] = field(default_factory=list)
    """Front-end cross-checks (recorded as tested, never as checked)."""


def entry_function(module: ModuleOp) -> FuncOp:
    for op in module.ops:
        if isinstance(op, FuncOp) and op.sym_name.data == ENTRY:
            return op
    raise LookupError(f"no func.func @{ENTRY} in the module")


def _names(attrs: ArrayAttr | None, count: int, prefix: str) -> list[str]:
    names = []
    for i in range(count):
        name = None
        if attrs is not None and i < len(attrs.data):
            entry = attrs.data[i]
            if isinstance(entry, DictionaryAttr) and isinstance(entry.data.get(NAME_ATTR), StringAttr):
                name = entry.data[NAME_ATTR].data
        names.append(name or f"{prefix}{i}")
    return names


def signature(module: ModuleOp) -> tuple[list[dict], list[dict]]:
    """Inputs and outputs of the spec model function as manifest entries."""
    fn = entry_function(module)
    ins, outs = fn.function_type.inputs.data, fn.function_type.outputs.data

    def entries(types, names):
        rows = []
        for t, n in zip(types, names):
            assert isinstance(t, TensorType)
            dtype = "float32" if str(t.element_type) == "f32" else "int64"
            rows.append({"name": n, "shape": list(t.get_shape()), "dtype": dtype})
        return rows

    return (
        entries(ins, _names(fn.arg_attrs, len(ins), "input")),
        entries(outs, _names(fn.res_attrs, len(outs), "output")),
    )


def name_attrs(names: list[str]) -> ArrayAttr:
    return ArrayAttr([DictionaryAttr({NAME_ATTR: StringAttr(n)}) for n in names])
