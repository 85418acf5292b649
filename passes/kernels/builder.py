"""The vocabulary kernels are written in: loop nests over memrefs, built as xDSL IR.

A kernel is a `func.func` whose arguments are its input buffers followed by its output
buffer (destination-passing style). Index expressions are affine in the induction
variables (sums of constant multiples plus a constant), so a checker can read them back.
Float values are scalars or vectors of 16 float32 lanes (`vector<16xf32>`): a vector is
loaded from 16 consecutive elements of a buffer's last axis, combined lane by lane by the
float operations, its lanes rearranged by `shuffle` and read by `extract`; it is never
stored whole.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence

from xdsl.builder import Builder, InsertPoint
from xdsl.dialects import arith, math, memref, scf, vector
from xdsl.dialects.builtin import (
    DenseArrayBase,
    DenseIntOrFPElementsAttr,
    FloatAttr,
    IndexType,
    IntegerAttr,
    MemRefType,
    VectorType,
    f32,
    f64,
    i64,
)
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Region, SSAValue

Index = int | SSAValue
"""An index operand: a Python int (becomes a constant) or an SSA index value."""
VECTOR = VectorType(f32, [16])


class KernelBuilder:
    """Builds one kernel function: `KernelBuilder(name, [memref types])`, then `.func`."""

    def __init__(self, name: str, arg_types: Sequence[MemRefType], compute=f32,
                 store_format: str = "f32", rounding: str = "nearest"):
        """`compute` (f32 or f64) is the type every float operation is done in;
        values are rounded to `store_format` in `rounding` mode when stored."""
        self.compute = compute
        self.store_format = store_format
        self.rounding = rounding
        self.block = Block(arg_types=list(arg_types))
        self.args = list(self.block.args)
        self.func = FuncOp(name, (list(arg_types), []), Region(self.block), "private")
        self._consts: dict[tuple, SSAValue] = {}
        self._const_ops: list = []
        self.b = Builder(InsertPoint.at_end(self.block))

    def finish(self) -> FuncOp:
        """Terminate the kernel; its constants go first in the entry block."""
        self.b.insert(ReturnOp())
        first = self.block.first_op
        for op in self._const_ops:
            self.block.insert_op_before(op, first)
        return self.func

    # ------------------------------------------------------------ constants

    def index(self, value: Index) -> SSAValue:
        if isinstance(value, SSAValue):
            return value
        key = ("index", int(value))
        if key not in self._consts:
            op = arith.ConstantOp(IntegerAttr(int(value), IndexType()))
            self._const_ops.append(op)
            self._consts[key] = op.result
        return self._consts[key]

    def const(self, value: float) -> SSAValue:
        """A constant of the compute type: `value` rounded to it (nearest-even)."""
        if self.compute == f32:
            value = struct.unpack("<f", struct.pack("<f", value))[0]
        key = (str(self.compute), struct.pack("<d", value))
        if key not in self._consts:
            op = arith.ConstantOp(FloatAttr(value, self.compute))
            self._const_ops.append(op)
            self._consts[key] = op.result
        return self._consts[key]

    def vconst(self, value: float) -> SSAValue:
        """A vector<16xf32> with `value` (rounded to f32) in every lane."""
        key = ("vector", struct.pack("<f", value))
        if key not in self._consts:
            op = arith.ConstantOp(DenseIntOrFPElementsAttr.from_list(VECTOR, [value]))
            self._const_ops.append(op)
            self._consts[key] = op.result
        return self._consts[key]

    # ------------------------------------------------------------ index arithmetic

    def affine(self, terms: Sequence[tuple[int, SSAValue]], const: int = 0) -> SSAValue:
        """sum(coef * iv) + const, as index arithmetic."""
        acc: SSAValue | None = None
        for coef, iv in terms:
            if coef == 0:
                continue
            t = iv if coef == 1 else self._ins(arith.MuliOp(iv, self.index(coef)))
            acc = t if acc is None else self._ins(arith.AddiOp(acc, t))
        if acc is None:
            return self.index(const)
        if const:
            acc = self._ins(arith.AddiOp(acc, self.index(const)))
        return acc

    def in_range(self, value: SSAValue, lo: int, hi: int) -> SSAValue:
        """lo <= value < hi, as an i1."""
        ge = self._ins(arith.CmpiOp(value, self.index(lo), "sge"))
        lt = self._ins(arith.CmpiOp(value, self.index(hi), "slt"))
        return self._ins(arith.AndIOp(ge, lt))

    def cmpi(self, a: SSAValue, b: Index, predicate: str) -> SSAValue:
        """An integer comparison (`eq`, `slt`, ...) of index or integer values, as an i1."""
        return self._ins(arith.CmpiOp(a, self.index(b), predicate))

    def index_cast(self, value: SSAValue) -> SSAValue:
        """An integer value (e.g. an i64 class label) as an index."""
        return self._ins(arith.IndexCastOp(value, IndexType()))

    def all_of(self, conds: Sequence[SSAValue]) -> SSAValue | None:
        acc = None
        for c in conds:
            acc = c if acc is None else self._ins(arith.AndIOp(acc, c))
        return acc

    # ------------------------------------------------------------ memory

    def load(self, buf: SSAValue, indices: Sequence[Index]) -> SSAValue:
        """buf[indices], a float converted to the compute type (f32 -> f64 is exact)."""
        v = self._ins(memref.LoadOp.get(buf, [self.index(i) for i in indices]))
        return self.convert(v, self.compute) if v.type in (f32, f64) else v

    def vload(self, buf: SSAValue, indices: Sequence[Index]) -> SSAValue:
        """Lanes t < 16: buf[indices[:-1], indices[-1] + t] (a float32 buffer)."""
        return self._ins(vector.LoadOp(buf, [self.index(i) for i in indices], VECTOR))

    def broadcast(self, v: SSAValue) -> SSAValue:
        """A vector<16xf32> with the f32 scalar v in every lane."""
        return self._ins(vector.BroadcastOp(v, VECTOR))

    def extract(self, v: SSAValue, lane: int) -> SSAValue:
        """Lane `lane` of a vector, as a scalar."""
        return self._ins(vector.ExtractOp(v, [lane], v.type.element_type))

    def shuffle(self, a: SSAValue, b: SSAValue, mask: Sequence[int]) -> SSAValue:
        """Lane q: lane mask[q] of a's lanes followed by b's."""
        return self._ins(vector.ShuffleOp(a, b, DenseArrayBase.from_list(i64, list(mask)), result_type=a.type))

    def convert(self, v: SSAValue, to) -> SSAValue:
        if v.type == to:
            return v
        return self._ins(arith.ExtFOp(v, to) if to == f64 else arith.TruncFOp(v, to))

    def store(self, value: SSAValue, buf: SSAValue, indices: Sequence[Index]) -> None:
        """buf[indices] = value rounded to the storage format (exact in the buffer's type)."""
        if self.store_format != str(self.compute):
            from vnnc.dialects.fp import RoundOp, parse_format

            op = RoundOp(value, parse_format(self.store_format), self.rounding, value.type)
            value = self._ins(op)
        value = self.convert(value, buf.type.element_type)
        self.b.insert(memref.StoreOp.get(value, buf, [self.index(i) for i in indices]))

    # ------------------------------------------------------------ scalar float math

    def _ins(self, op) -> SSAValue:
        self.b.insert(op)
        return op.results[0]

    def add(self, a, b):
        return self._ins(arith.AddfOp(a, b))

    def sub(self, a, b):
        return self._ins(arith.SubfOp(a, b))

    def mul(self, a, b):
        return self._ins(arith.MulfOp(a, b))

    def div(self, a, b):
        return self._ins(arith.DivfOp(a, b))

    def neg(self, a):
        return self._ins(arith.NegfOp(a))

    def max(self, a, b):
        """NaN-propagating maximum (arith.maximumf)."""
        return self._ins(arith.MaximumfOp(a, b))

    def cmp(self, a, b, predicate: str):
        return self._ins(arith.CmpfOp(a, b, predicate))

    def select(self, cond, a, b):
        return self._ins(arith.SelectOp(cond, a, b))

    def exp(self, a):
        return self._ins(math.ExpOp(a))

    def log(self, a):
        return self._ins(math.LogOp(a))

    def sqrt(self, a):
        return self._ins(math.SqrtOp(a))

    def tanh(self, a):
        return self._ins(math.TanhOp(a))

    def erf(self, a):
        return self._ins(math.ErfOp(a))

    # ------------------------------------------------------------ control flow

    def nest(self, extents: Sequence[int], body: Callable[[list[SSAValue]], None]) -> None:
        """for i0 in [0, e0): for i1 ...: body([i0, i1, ...])."""
        self.reduce(extents, [], lambda ivs, accs: (body(ivs), [])[1])

    def reduce(
        self,
        extents: Sequence[int],
        inits: Sequence[SSAValue],
        body: Callable[[list[SSAValue], list[SSAValue]], Sequence[SSAValue]],
    ) -> list[SSAValue]:
        """Nested loops carrying accumulators: accs = body(ivs, accs) at every point, in
        lexicographic order; returns the final accumulators."""
        if not extents:
            return list(body([], list(inits)))
        return self._reduce_level(list(extents), list(inits), [], body)

    def _reduce_level(self, extents, inits, ivs, body) -> list[SSAValue]:
        loop_block = Block(arg_types=[IndexType()] + [v.type for v in inits])
        iv, *accs = loop_block.args
        outer = self.b
        self.b = Builder(InsertPoint.at_end(loop_block))
        if len(extents) == 1:
            results = list(body(ivs + [iv], list(accs)))
        else:
            results = self._reduce_level(extents[1:], list(accs), ivs + [iv], body)
        self.b.insert(scf.YieldOp(*results))
        self.b = outer
        loop = scf.ForOp(self.index(0), self.index(extents[0]), self.index(1), inits, loop_block)
        self.b.insert(loop)
        return list(loop.results)

    def if_else(self, cond: SSAValue | None, then: Callable[[], SSAValue],
                otherwise: Callable[[], SSAValue]) -> SSAValue:
        """cond ? then() : otherwise(), evaluating only the taken branch (for guarded loads)."""
        if cond is None:
            return then()
        results = []
        regions = []
        for branch in (then, otherwise):
            block = Block()
            outer = self.b
            self.b = Builder(InsertPoint.at_end(block))
            value = branch()
            self.b.insert(scf.YieldOp(value))
            self.b = outer
            regions.append(Region(block))
            results.append(value)
        op = scf.IfOp(cond, [results[0].type], regions[0], regions[1])
        return self._ins(op)
