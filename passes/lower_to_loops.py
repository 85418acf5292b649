"""lower-to-loops: spec tensors to loops over float32 buffers (func/scf/memref/arith/math).

Expects: a module whose `func.func @main` is in the spec dialect with static shapes
(every op verified).
Guarantees: no spec op and no tensor remains. `@main` takes its inputs' buffers, then
one output buffer per result (destination-passing style) and returns nothing. Each
distinct (op, shapes, attributes) becomes one private kernel `func.func` that `@main`
calls; parameters become `memref.global`s named after the parameter (uninitialised,
bound at load time, carrying `vnnc.sha256`), small constants become initialised
constant globals. Reshape and flatten copy through flat views. Temporaries are
`memref.alloc`ed and freed after their last use. Contractions of length >= 32 are summed
in 16 lanes; a linear's lanes are `vector<16xf32>` values and its kernel computes a block
of output rows and columns per iteration (passes/kernels/contraction.py); the witness
records both (`order`, `block`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from vnnc.dialects import fp
from vnnc.dialects.spec import ConstantOp, ParamOp, SpecOp
from vnnc.passes import witness
from vnnc.passes.kernels import KernelSpec, contraction, writers
from vnnc.passes.kernels.builder import KernelBuilder
from vnnc.passes.kernels.certificate import kernel_form
from xdsl.builder import Builder, InsertPoint
from xdsl.context import Context
from xdsl.dialects import func, memref
from xdsl.dialects.builtin import (
    ArrayAttr,
    DenseIntOrFPElementsAttr,
    IntegerAttr,
    MemRefType,
    ModuleOp,
    StringAttr,
    TensorType,
    UnitAttr,
    f32,
    f64,
    i64,
)
from xdsl.ir import Block, Region, SSAValue
from xdsl.passes import ModulePass

NAME = "lower-to-loops"
COPY_OPS = ("reshape", "flatten")


class LoweringError(Exception):
    pass


def carrier(t: TensorType) -> str:
    """The buffer element type holding a tensor's values exactly: f64 for f64, i64 for
    labels, f32 for every other format (all of them are subsets of float32)."""
    if t.element_type == i64:
        return "i64"
    return "f64" if t.element_type == f64 else "f32"


def memref_of(t: TensorType) -> MemRefType:
    return MemRefType({"f32": f32, "f64": f64, "i64": i64}[carrier(t)], list(t.get_shape()))


def kernel_spec(op, target: str = "c") -> KernelSpec:
    """What a kernel computes: the op, its shapes and attributes, and its arithmetic. For the
    GPU (`target` "cuda") every contraction is unblocked, one output per loop iteration (a
    thread), each summed exactly as the C kernel sums it (the same order, so the same bits)."""
    shapes = tuple(tuple(v.type.get_shape()) for v in op.operands)
    dtypes = tuple(carrier(v.type) for v in op.operands)
    out = op.results[0].type
    if isinstance(op, fp.RoundOp):
        acc = "f64" if "f64" in (*dtypes, carrier(out)) else "f32"
        return KernelSpec("round", shapes, tuple(out.get_shape()), (), dtypes, carrier(out),
                          op.format.data, acc, op.rounding.data, "fp")
    attrs = op.attrs()
    if isinstance(op, fp.FpOp):
        extra = {k: attrs.pop(k) for k in fp.FP_PROPS}
        return KernelSpec(op.short_name(), shapes, tuple(out.get_shape()), tuple(sorted(attrs.items())),
                          dtypes, carrier(out), fp.format_of(out).name, extra["acc"], extra["rounding"], "fp")
    order = summation_order(op.short_name(), shapes)
    vectors = op.short_name() == "linear" and order == "lanes16" and set(dtypes) | {carrier(out)} == {"f32"}
    block = contraction.block_for(out.get_shape()) if vectors else (1, 1)
    if op.short_name() == "matmul":  # vectors over columns, each output summed in sequence
        block = contraction.columns_block(shapes, (*dtypes, carrier(out)))
        order = "sequential" if block != (1, 1) else order
    if op.short_name() == "conv2d" and set(dtypes) | {carrier(out)} == {"f32"}:
        # two output channels by a row of output columns per iteration (up to 28, else the
        # largest divisor up to 16), each output its own sum in the unblocked order
        o_group, ow = shapes[1][0] // attrs["groups"], out.get_shape()[3]
        block = (2 if o_group % 2 == 0 else 1, ow if ow <= 28 else next(c for c in range(16, 0, -1) if ow % c == 0))
    if target == "cuda":
        block = (1, 1)
    return KernelSpec(op.short_name(), shapes, tuple(out.get_shape()), tuple(sorted(attrs.items())), dtypes,
                      order=order, block=block)


def summation_order(name: str, shapes) -> str:
    """Real-valued contractions long enough to fill the lanes are summed in lanes (any order
    computes the real sum; an fp op's recorded order is kept as it is)."""
    if name in ("linear", "matmul") and shapes[0][-1] >= 2 * contraction.LANES:
        return "lanes16"
    return "sequential"


def kernel_name(k: KernelSpec, taken: set[str]) -> str:
    dims = "_".join("x".join(map(str, s)) or "s" for s in (*k.in_shapes, k.out_shape))
    base = f"{k.op}_{dims}"
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}_v{n}"
    return name


def _flat(b: Builder, value: SSAValue) -> SSAValue:
    """A 1-D view of a contiguous buffer (the same buffer for rank 1)."""
    t = value.type
    shape = t.get_shape()
    if len(shape) == 1:
        return value
    flat_t = MemRefType(t.element_type, [math.prod(shape)])
    op = memref.CollapseShapeOp.create(
        operands=[value],
        result_types=[flat_t],
        properties={"reassociation": ArrayAttr([ArrayAttr([IntegerAttr(d, i64) for d in range(len(shape))])])},
    )
    b.insert(op)
    return op.results[0]


@dataclass
class _Lowering:
    module: ModuleOp
    writers: dict
    target: str = "c"

    def __post_init__(self):
        self.kernels: dict[KernelSpec, str] = {}
        self.kernel_ops: list[func.FuncOp] = []
        self.globals: dict[str, memref.GlobalOp] = {}
        self.calls: list[dict] = []

    def run(self) -> None:
        spec_main = next(
            (op for op in self.module.ops if isinstance(op, func.FuncOp) and op.sym_name.data == "main"),
            None,
        )
        if spec_main is None:
            raise LoweringError(f"{NAME}: no func.func @main")
        new_main = self.lower_main(spec_main)
        for op in list(self.module.ops):
            if op is spec_main:
                continue
            if isinstance(op, func.FuncOp):
                raise LoweringError(f"{NAME}: only @main is supported, found @{op.sym_name.data}")
        spec_main.detach()
        for g in self.globals.values():
            self.module.body.block.add_op(g)
        for k in self.kernel_ops:
            self.module.body.block.add_op(k)
        self.module.body.block.add_op(new_main)

    def global_for_param(self, op: ParamOp) -> memref.GlobalOp:
        name = op.param_name.data
        if name not in self.globals:
            g = memref.GlobalOp.get(StringAttr(name), memref_of(op.result.type), UnitAttr(),
                                    sym_visibility=StringAttr("public"))
            g.attributes["vnnc.sha256"] = op.sha256
            self.globals[name] = g
        return self.globals[name]

    def global_for_constant(self, op: ConstantOp) -> memref.GlobalOp:
        name = f"__constant_{len(self.globals)}"
        value = op.value
        t = value.get_type()
        if t.element_type != f32:
            raise LoweringError(f"{NAME}: spec.constant of {t.element_type} is not supported")
        g = memref.GlobalOp.get(StringAttr(name), memref_of(t), value,
                                constant=UnitAttr())
        self.globals[name] = g
        return g

    def kernel(self, k: KernelSpec) -> str:
        if k not in self.kernels:
            writer = self.writers.get(k.op)
            if writer is None:
                raise LoweringError(f"{NAME}: no loop lowering for spec.{k.op}")
            name = kernel_name(k, set(self.kernels.values()))
            types = {"f32": f32, "f64": f64, "i64": i64}
            arg_types = [MemRefType(types[dt], list(s)) for s, dt in zip(k.in_shapes, k.in_dtypes)]
            arg_types.append(MemRefType(types[k.out_dtype], list(k.out_shape)))
            kb = KernelBuilder(name, arg_types, types[k.acc], k.fmt, k.rounding)
            writer(kb, k)
            fn = kb.finish()
            fn.attributes["vnnc.op"] = StringAttr(f"{k.dialect}.{k.op}")
            if k.rounding != "nearest":
                fn.attributes["fp.rounding"] = StringAttr(k.rounding)
            self.kernels[k] = name
            self.kernel_ops.append(fn)
        return self.kernels[k]

    def lower_main(self, spec_main: func.FuncOp) -> func.FuncOp:
        ins = [memref_of(t) for t in spec_main.function_type.inputs.data]
        outs = [memref_of(t) for t in spec_main.function_type.outputs.data]
        block = Block(arg_types=ins + outs)
        b = Builder(InsertPoint.at_end(block))
        body = spec_main.body.block
        ret = body.last_op
        assert isinstance(ret, func.ReturnOp)
        env: dict[SSAValue, SSAValue] = dict(zip(body.args, block.args[: len(ins)]))
        out_args = block.args[len(ins):]

        # a value returned once, and computed by an op, is written straight into its output
        direct: dict[SSAValue, SSAValue] = {}
        for v, dest in zip(ret.operands, out_args):
            if isinstance(v.owner, (SpecOp, fp.RoundOp)) and v not in direct:
                direct[v] = dest

        last_use: dict[SSAValue, object] = {}
        for op in body.ops:
            for v in op.operands:
                last_use[v] = op
        allocated: list[SSAValue] = []

        for op in body.ops:
            if op is ret:
                break
            if isinstance(op, ParamOp):
                g = self.global_for_param(op)
                env[op.result] = b.insert(memref.GetGlobalOp(g.sym_name.data, g.type)).memref
            elif isinstance(op, ConstantOp):
                g = self.global_for_constant(op)
                env[op.result] = b.insert(memref.GetGlobalOp(g.sym_name.data, g.type)).memref
            elif isinstance(op, (SpecOp, fp.RoundOp)):
                result = op.results[0]
                dest = direct.get(result)
                if dest is None:
                    dest = b.insert(memref.AllocOp.get(memref_of(result.type).element_type,
                                                       shape=result.type.get_shape(), alignment=64)).memref
                    allocated.append(result)
                args = [env[v] for v in op.operands]
                if isinstance(op, SpecOp) and op.short_name() in COPY_OPS:
                    if op.inputs[0].type.element_type != result.type.element_type:
                        raise LoweringError(f"{NAME}: {op.name} must keep its operand's format")
                    b.insert(memref.CopyOp(_flat(b, args[0]), _flat(b, dest)))
                else:
                    k = kernel_spec(op, self.target)
                    callee = self.kernel(k)
                    b.insert(func.CallOp(callee, [*args, dest], []))
                    self.calls.append({"kernel": callee, "op": op.name})
                env[result] = dest
            else:
                raise LoweringError(f"{NAME}: cannot lower {op.name}")
            # free temporaries whose last reader was this op (once, if it reads one twice)
            for v in dict.fromkeys(op.operands):
                if last_use.get(v) is op and v in allocated:
                    b.insert(memref.DeallocOp.get(env[v]))
        for v, dest in zip(ret.operands, out_args):
            if direct.get(v) is not dest:
                b.insert(memref.CopyOp(env[v], dest))
        for v in allocated:
            if (v not in last_use or last_use[v] is ret) and direct.get(v) is None:
                b.insert(memref.DeallocOp.get(env[v]))
        b.insert(func.ReturnOp())

        names = _io_names(spec_main)
        new_main = func.FuncOp("main", (ins + outs, []), Region(block), "public")
        if names:
            from vnnc.model import name_attrs

            new_main.arg_attrs = name_attrs(names)
        return new_main


def _io_names(spec_main: func.FuncOp) -> list[str] | None:
    from vnnc.model import _names

    n_in = len(spec_main.function_type.inputs.data)
    n_out = len(spec_main.function_type.outputs.data)
    return _names(spec_main.arg_attrs, n_in, "input") + _names(spec_main.res_attrs, n_out, "output")


@dataclass(frozen=True)
class LowerToLoopsPass(ModulePass):
    name = NAME
    target: str = "c"  # "cuda": contractions unblocked, one output per thread (kernel_spec)

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.target not in ("c", "cuda"):
            raise LoweringError(f"{NAME}: unknown target {self.target!r} (c or cuda)")
        lowering = _Lowering(op, writers(), self.target)
        lowering.run()
        fns = {fn.sym_name.data: fn for fn in lowering.kernel_ops}
        witness.record(
            NAME,
            "loop-nests",
            {
                "kernels": [
                    {"kernel": name, "op": f"{k.dialect}.{k.op}", "in_shapes": [list(s) for s in k.in_shapes],
                     "out_shape": list(k.out_shape), "attrs": {a: _jsonable(v) for a, v in k.attrs},
                     **({"format": k.fmt, "acc": k.acc, "rounding": k.rounding} if k.dialect == "fp" else {}),
                     **({"order": k.order} if k.order != "sequential" else {}),
                     **({"block": list(k.block)} if k.block != (1, 1) else {}),
                     **dict(zip(("stores", "reductions"), _jsonable(kernel_form(fns[name]))))}
                    for k, name in lowering.kernels.items()
                ],
                "calls": lowering.calls,
            },
        )


def _jsonable(v):
    if isinstance(v, (tuple, list)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, IntegerAttr):
        return v.value.data
    if isinstance(v, DenseIntOrFPElementsAttr):
        return str(v)
    return v
