"""The loop-nest certificate of a kernel: its stores and reductions, read back from the built IR.

The form (documented in docs/WITNESS.md) is what the checker derives on its side:
  store  = (loops, index, value): loops the enclosing plain loops as (var, extent),
           index one affine form per output dimension, value an expression;
  affine = ("aff", const, ((var, coef), ...)) with vars sorted and no zero coefficient;
  expr   = ("f32", hex bits) | ("load", arg, index) | (op, *operands)
           | ("res", j, var): result j of the reduction ("for", var, extent, inits, yields),
             listed once among the kernel's reductions (in the order they end)
           | ("if", cond, then_yields, else_yields) reached through ("res", j, node)
           | ("acc", var, j) for the accumulators inside a reduction.
A vector value is ("vec", lanes) while it is read; it never reaches a store: a reduction's
inits and yields, and its accumulators and results, are numbered lane by lane.
Loop variables are v0, v1, ... in program order. Tuples here, lists once in JSON.
"""

from __future__ import annotations

import struct

from vnnc.dialects.fp import RoundOp
from xdsl.dialects import arith, func, math, memref, scf, vector
from xdsl.dialects.builtin import (
    DenseIntOrFPElementsAttr,
    FloatAttr,
    IndexType,
    IntegerAttr,
    f32,
    f64,
)
from xdsl.ir import Operation, SSAValue

FLOAT_OPS = {arith.AddfOp: "addf", arith.SubfOp: "subf", arith.MulfOp: "mulf", arith.DivfOp: "divf",
             arith.MaximumfOp: "maximumf", arith.NegfOp: "negf", math.ExpOp: "exp", math.LogOp: "log",
             math.SqrtOp: "sqrt", math.TanhOp: "tanh", math.ErfOp: "erf"}
OTHER = {arith.SelectOp: "select", arith.AndIOp: "andi", arith.IndexCastOp: "index_cast"}


def _aff(terms: dict[str, int], const: int) -> tuple:
    return ("aff", const, tuple(sorted((v, c) for v, c in terms.items() if c)))


def _lanes(values) -> tuple:
    return tuple(x for v in values for x in (v[1] if v[0] == "vec" else (v,)))


def _combine(a: tuple, b: tuple, sign: int) -> tuple:
    terms = dict(a[2])
    for v, c in b[2]:
        terms[v] = terms.get(v, 0) + sign * c
    return _aff(terms, a[1] + sign * b[1])


class _Reader:
    def __init__(self, fn: func.FuncOp):
        self.args = list(fn.body.block.args)
        self.env: dict[SSAValue, tuple] = {}
        self.loops: list[tuple[str, int]] = []
        self.stores: list[tuple] = []
        self.fors: list[tuple] = []
        self.count = 0
        self.block(fn.body.block)

    def block(self, block) -> list[tuple]:
        ops = list(block.ops)
        for op in ops[:-1]:
            self.op(op)
        return [self.env[v] for v in ops[-1].operands]

    def op(self, op: Operation) -> None:
        kind = type(op)
        if isinstance(op, arith.ConstantOp):
            v = op.value
            if isinstance(v, IntegerAttr) and isinstance(v.type, IndexType):
                self.env[op.result] = ("aff", v.value.data, ())
            elif isinstance(v, FloatAttr) and v.type == f32:
                self.env[op.result] = ("f32", struct.pack("<f", v.value.data).hex())
            elif isinstance(v, FloatAttr) and v.type == f64:
                self.env[op.result] = ("f64", struct.pack("<d", v.value.data).hex())
            elif isinstance(v, DenseIntOrFPElementsAttr) and v.get_element_type() == f32:
                values = list(v.get_values()) * (v.get_type().get_shape()[0] if len(v) == 1 else 1)
                self.env[op.result] = ("vec", tuple(("f32", struct.pack("<f", x).hex()) for x in values))
            else:
                raise TypeError(f"certificate: unsupported constant {v}")
        elif isinstance(op, (arith.AddiOp, arith.SubiOp)):
            self.env[op.result] = _combine(self.env[op.lhs], self.env[op.rhs],
                                           -1 if isinstance(op, arith.SubiOp) else 1)
        elif isinstance(op, arith.MuliOp):
            a, b = self.env[op.lhs], self.env[op.rhs]
            a, b = (a, b) if not b[2] else (b, a)  # b is the constant
            self.env[op.result] = _aff({v: c * b[1] for v, c in a[2]}, a[1] * b[1])
        elif kind in FLOAT_OPS:
            args = [self.env[v] for v in op.operands]
            if all(a[0] == "vec" for a in args):  # lane by lane
                self.env[op.results[0]] = ("vec", tuple((FLOAT_OPS[kind], *ls) for ls in zip(*(a[1] for a in args))))
            else:
                self.env[op.results[0]] = (FLOAT_OPS[kind], *args)
        elif kind in OTHER:
            self.env[op.results[0]] = (OTHER[kind], *(self.env[v] for v in op.operands))
        elif isinstance(op, (arith.ExtFOp, arith.TruncFOp)):
            kind_name = "extf" if isinstance(op, arith.ExtFOp) else "truncf"
            self.env[op.result] = (kind_name, self.env[op.input])
        elif isinstance(op, RoundOp):
            self.env[op.result] = ("round", op.format.data, op.rounding.data, self.env[op.input])
        elif isinstance(op, arith.CmpfOp):
            pred = arith.CMPF_COMPARISON_OPERATIONS[op.predicate.value.data]
            self.env[op.result] = ("cmpf", pred, self.env[op.lhs], self.env[op.rhs])
        elif isinstance(op, arith.CmpiOp):
            pred = arith.CMPI_COMPARISON_OPERATIONS[op.predicate.value.data]
            self.env[op.result] = ("cmpi", pred, self.env[op.lhs], self.env[op.rhs])
        elif isinstance(op, memref.LoadOp):
            arg = self.args.index(op.memref)
            self.env[op.res] = ("load", arg, tuple(self.env[i] for i in op.indices))
        elif isinstance(op, vector.LoadOp):
            arg, index = self.args.index(op.base), [self.env[i] for i in op.indices]
            self.env[op.result] = ("vec", tuple(("load", arg, (*index[:-1], _combine(index[-1], ("aff", t, ()), 1)))
                                               for t in range(op.result.type.get_shape()[0])))
        elif isinstance(op, vector.BroadcastOp):
            self.env[op.vector] = ("vec", (self.env[op.source],) * op.vector.type.get_shape()[0])
        elif isinstance(op, vector.ExtractOp):
            self.env[op.result] = self.env[op.vector][1][op.static_position.get_values()[0]]
        elif isinstance(op, vector.ShuffleOp):
            both = self.env[op.v1][1] + self.env[op.v2][1]
            self.env[op.result] = ("vec", tuple(both[m] for m in op.mask.get_values()))
        elif isinstance(op, memref.StoreOp):
            index = tuple(self.env[i] for i in op.indices)
            self.stores.append((tuple(self.loops), index, self.env[op.value]))
        elif isinstance(op, scf.ForOp):
            self.for_loop(op)
        elif isinstance(op, scf.IfOp):
            then = tuple(self.block(op.true_region.block))
            other = tuple(self.block(op.false_region.block)) if op.false_region.blocks else ()
            node = ("if", self.env[op.cond], then, other)
            for j, r in enumerate(op.results):
                self.env[r] = ("res", j, node)
        else:
            raise ValueError(f"certificate: unsupported op {op.name}")

    def for_loop(self, op: scf.ForOp) -> None:
        var = f"v{self.count}"
        self.count += 1
        extent = self.env[op.ub][1]
        iv, *accs = op.body.block.args
        self.env[iv] = ("aff", 0, ((var, 1),))
        if not accs:
            self.loops.append((var, extent))
            self.block(op.body.block)
            self.loops.pop()
            return
        inits = tuple(self.env[v] for v in op.iter_args)

        def shaped(values, make):  # one value per iteration argument, lanes numbered on
            out, j = [], 0
            for v in values:
                n = len(v[1]) if v[0] == "vec" else 0
                out.append(("vec", tuple(make(j + t) for t in range(n))) if n else make(j))
                j += max(n, 1)
            return out

        for a, value in zip(accs, shaped(inits, lambda j: ("acc", var, j))):
            self.env[a] = value
        self.fors.append(("for", var, extent, _lanes(inits), _lanes(self.block(op.body.block))))
        for r, value in zip(op.results, shaped(inits, lambda j: ("res", j, var))):
            self.env[r] = value


def kernel_form(fn: func.FuncOp) -> tuple[list[tuple], list[tuple]]:
    """The canonical stores and reductions of a kernel function built by KernelBuilder."""
    reader = _Reader(fn)
    return reader.stores, reader.fors
