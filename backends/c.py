"""The C printer: func/scf/memref/arith/math (the output of lower-to-loops) to C11.

Syntax-directed and small on purpose (it is trusted, see TRUST.md): one case per op,
every SSA value a C local, every memref a flat pointer indexed row-major. Floats are
printed as C hex literals (exact). Semantics kept explicit: `arith.maximumf` propagates
NaN (C's fmaxf does not), unordered float comparisons are negated ordered ones.
A `vector<16xf32>` is a GCC vector of 16 floats, on which + - * / are the IEEE operations
lane by lane (GCC manual, "Using Vector Instructions through Built-in Functions"); only
those, constants, `vector.load` (16 consecutive floats, copied), `vector.extract` (v[i]),
`vector.shuffle` (`__builtin_shuffle` over both operands' lanes), `vector.broadcast` (the
scalar written into all 16 lanes of a vector literal) and loop-carried values may be vectors.
Backends differ by the `CTarget` tables; CUDA subclasses them.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

from vnnc.dialects.fp import RoundOp, parse_format
from xdsl.dialects import arith, func, memref, scf, vector
from xdsl.dialects import math as xmath
from xdsl.dialects.builtin import (
    DenseIntOrFPElementsAttr,
    FloatAttr,
    IndexType,
    IntegerAttr,
    IntegerType,
    MemRefType,
    ModuleOp,
    StringAttr,
    UnitAttr,
    VectorType,
    f32,
)
from xdsl.ir import Operation, SSAValue

ENTRY = "main"


class CPrintError(Exception):
    pass


def c_ident(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def hex_float(value: float, double: bool = False) -> str:
    """An exact C literal of the float32 (or, with `double`, float64) `value`."""
    v = value if double else struct.unpack("<f", struct.pack("<f", value))[0]
    suffix = "" if double else "f"
    if math.isnan(v):
        return f"(0.0{suffix}/0.0{suffix})"
    if math.isinf(v):
        return f"(1.0{suffix}/0.0{suffix})" if v > 0 else f"(-1.0{suffix}/0.0{suffix})"
    return f"{v.hex()}{suffix}"


FP_HEADER = (Path(__file__).parent / "vnnc_fp.h").read_text()
"""vnnc_round: rounding a double to a binary format (bit-exact emulation)."""

ROUNDING_C = {"nearest": ("FE_TONEAREST", "VNNC_RN"), "zero": ("FE_TOWARDZERO", "VNNC_RZ"),
              "up": ("FE_UPWARD", "VNNC_RU"), "down": ("FE_DOWNWARD", "VNNC_RD")}
FORMAT_KIND_C = {"ieee": "VNNC_FMT_IEEE", "fn": "VNNC_FMT_FN", "fn-sat": "VNNC_FMT_FN_SAT"}


class CTarget:
    """String tables for plain C; other targets override them."""

    kernel_prefix = "static void"
    restrict = "restrict"
    binary: ClassVar[dict] = {
        arith.AddfOp: "+", arith.SubfOp: "-", arith.MulfOp: "*", arith.DivfOp: "/",
        arith.AddiOp: "+", arith.SubiOp: "-", arith.MuliOp: "*",
        arith.DivSIOp: "/", arith.RemSIOp: "%", arith.AndIOp: "&", arith.OrIOp: "|",
    }
    unary_call: ClassVar[dict] = {
        xmath.ExpOp: "expf", xmath.LogOp: "logf", xmath.SqrtOp: "sqrtf",
        xmath.TanhOp: "tanhf", xmath.ErfOp: "erff", xmath.AbsFOp: "fabsf",
        arith.MaximumfOp: "vnnc_maximumf", arith.MinimumfOp: "vnnc_minimumf",
    }
    unary_call_f64: ClassVar[dict] = {  # the same ops on double (f64 compute type)
        xmath.ExpOp: "exp", xmath.LogOp: "log", xmath.SqrtOp: "sqrt",
        xmath.TanhOp: "tanh", xmath.ErfOp: "erf", xmath.AbsFOp: "fabs",
        arith.MaximumfOp: "vnnc_maximum", arith.MinimumfOp: "vnnc_minimum",
    }
    cmpf: ClassVar[dict] = {
        "oeq": "{a} == {b}", "ogt": "{a} > {b}", "oge": "{a} >= {b}", "olt": "{a} < {b}",
        "ole": "{a} <= {b}", "one": "({a} < {b} || {a} > {b})", "ord": "({a} == {a} && {b} == {b})",
        "ueq": "!({a} < {b} || {a} > {b})", "ugt": "!({a} <= {b})", "uge": "!({a} < {b})",
        "ult": "!({a} >= {b})", "ule": "!({a} > {b})", "une": "{a} != {b}",
        "uno": "({a} != {a} || {b} != {b})", "false": "0", "true": "1",
    }
    cmpi: ClassVar[dict] = {"eq": "==", "ne": "!=", "slt": "<", "sle": "<=", "sgt": ">", "sge": ">="}
    prelude = """#include <fenv.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>

/* arith.maximumf / minimumf: NaN-propagating, and -0 < +0; for float (suffix f) and double.
   A NaN operand gives a + b (a NaN). Of two equal non-NaN values, the maximum is the AND of
   their bits and the minimum the OR: equal nonzero values have the same bits, and of +0 and
   -0 (bits differing only in the sign) AND gives +0, OR -0. Written on the bits with masks
   (all ones where a comparison holds) and no branch or select, so that gcc vectorises loops
   of them without if-conversion (which the build turns off, backends/build.py). */
#define VNNC_MAXMIN(T, SUFFIX, U)                                                \
  static inline T vnnc_maxmin##SUFFIX(T a, T b, int larger) {                    \
    const T nan = a + b;                                                         \
    U ua, ub, un;                                                                \
    memcpy(&ua, &a, sizeof a);                                                   \
    memcpy(&ub, &b, sizeof b);                                                   \
    memcpy(&un, &nan, sizeof nan);                                               \
    const U gt = (U)0 - (U)(a > b), lt = (U)0 - (U)(a < b);                      \
    const U ord = (U)0 - (U)((a == a) & (b == b));                               \
    const U eq = ~(gt | lt); /* equal (or unordered: replaced by the NaN below) */ \
    const U m = larger ? (gt & ua) | (lt & ub) | (eq & ua & ub)                  \
                       : (lt & ua) | (gt & ub) | (eq & (ua | ub));               \
    const U r = (ord & m) | (~ord & un);                                         \
    T out;                                                                       \
    memcpy(&out, &r, sizeof out);                                                \
    return out;                                                                  \
  }                                                                              \
  static inline T vnnc_maximum##SUFFIX(T a, T b) { return vnnc_maxmin##SUFFIX(a, b, 1); } \
  static inline T vnnc_minimum##SUFFIX(T a, T b) { return vnnc_maxmin##SUFFIX(a, b, 0); }
VNNC_MAXMIN(float, f, uint32_t)
VNNC_MAXMIN(double, , uint64_t)
static void* vnnc_alloc(size_t bytes) {
  return aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
}
/* vector<16xf32>: arithmetic lane by lane; a load copies 16 consecutive floats */
typedef float vnnc_f32x16 __attribute__((vector_size(64)));
typedef int32_t vnnc_i32x16 __attribute__((vector_size(64)));
static inline vnnc_f32x16 vnnc_load_f32x16(const float* p) {
  vnnc_f32x16 v;
  memcpy(&v, p, sizeof v);
  return v;
}
"""


_DTYPE_NAMES = {"float": "float32", "double": "float64", "int64_t": "int64"}


VECTOR_OPS = (arith.AddfOp, arith.SubfOp, arith.MulfOp, arith.DivfOp, arith.ConstantOp, vector.LoadOp,
              vector.ShuffleOp, vector.BroadcastOp, scf.ForOp, scf.YieldOp)
"""The ops whose results or operands may be vector<16xf32> values."""


def _elem(t) -> str:
    if isinstance(t, VectorType):
        if t.element_type != f32 or t.get_shape() != (16,):
            raise CPrintError(f"emit-c: unsupported vector type {t}")
        return "vnnc_f32x16"
    if isinstance(t, IntegerType):
        return "int64_t" if t.width.data == 64 else ("_Bool" if t.width.data == 1 else f"int{t.width.data}_t")
    if isinstance(t, IndexType):
        return "ptrdiff_t"
    s = str(t)
    if s == "f32":
        return "float"
    if s == "f64":
        return "double"
    raise CPrintError(f"emit-c: unsupported element type {t}")


class CPrinter:
    def __init__(self, module: ModuleOp, target: CTarget | None = None):
        self.module = module
        self.t = target or CTarget()
        self.lines: list[str] = []
        self.names: dict[SSAValue, str] = {}
        self.globals: dict[str, str] = {}
        self.params: list[tuple[str, str, MemRefType]] = []  # (param name, C name, type)
        self.depth = 0

    # ------------------------------------------------------------ helpers

    def emit(self, line: str) -> None:
        self.lines.append("  " * self.depth + line)

    def name(self, v: SSAValue) -> str:
        if v not in self.names:
            self.names[v] = f"v{len(self.names)}"
        return self.names[v]

    def ctype(self, t) -> str:
        if isinstance(t, MemRefType):
            return f"{_elem(t.element_type)}*"
        return _elem(t)

    def decl(self, v: SSAValue, expr: str) -> None:
        self.emit(f"const {self.ctype(v.type)} {self.name(v)} = {expr};")

    def flat_index(self, ref: SSAValue, indices: Iterable[SSAValue]) -> str:
        shape = ref.type.get_shape()
        idx = [self.name(i) for i in indices]
        if not idx:
            return "0"
        expr, stride = "", 1
        terms = []
        for d in range(len(shape) - 1, -1, -1):
            terms.append(idx[d] if stride == 1 else f"{idx[d]}*{stride}")
            stride *= shape[d]
        return " + ".join(reversed(terms)) or expr

    # ------------------------------------------------------------ module

    def start_module(self, header: str, what: str = "emit-c", error: type = CPrintError) -> list[func.FuncOp]:
        """The source's prelude and `header`, then every global; returns the functions."""
        self.lines = [self.t.prelude, header]
        funcs = []
        for op in self.module.ops:
            if isinstance(op, memref.GlobalOp):
                self.print_global(op)
            elif isinstance(op, func.FuncOp):
                funcs.append(op)
            else:
                raise error(f"{what}: unexpected top-level op {op.name}")
        return funcs

    def print_module(self) -> str:
        funcs = self.start_module(FP_HEADER)
        for fn in funcs:
            if fn.sym_name.data != ENTRY:
                self.emit(f"{self.t.kernel_prefix} k_{c_ident(fn.sym_name.data)}({self.signature(fn)});")
        for fn in funcs:
            self.print_func(fn)
        return "\n".join(self.lines) + "\n"

    def print_global(self, op: memref.GlobalOp) -> None:
        sym = op.sym_name.data
        cname = f"g_{c_ident(sym)}"
        self.globals[sym] = cname
        t = op.type
        elem = _elem(t.element_type)
        if isinstance(op.initial_value, UnitAttr):
            self.params.append((sym, cname, t))
            self.emit(f"static const {elem}* {cname};  /* parameter {sym!r}, {t} */")
            return
        init = op.initial_value
        if not isinstance(init, DenseIntOrFPElementsAttr):
            raise CPrintError(f"emit-c: memref.global @{sym} has no dense initial value")
        n = math.prod(t.get_shape())
        values = list(init.get_values())
        if len(values) == 1 and n > 1:
            values = values * n
        if len(values) != n:
            raise CPrintError(f"emit-c: memref.global @{sym}: {len(values)} values for {n} elements")
        body = ", ".join(hex_float(v) if elem == "float" else str(int(v)) for v in values)
        self.emit(f"static const {elem} {cname}[{max(n, 1)}] __attribute__((aligned(64))) = {{{body}}};")

    def signature(self, fn: func.FuncOp) -> str:
        args = []
        for i, t in enumerate(fn.function_type.inputs.data):
            args.append(f"{self.ctype(t)} {self.t.restrict} a{i}" if isinstance(t, MemRefType)
                        else f"{self.ctype(t)} a{i}")
        return ", ".join(args) or "void"

    def print_func(self, fn: func.FuncOp) -> None:
        self.names = {}
        is_entry = fn.sym_name.data == ENTRY
        for i, arg in enumerate(fn.body.block.args):
            self.names[arg] = f"a{i}"
        head = "int vnnc_model_main" if is_entry else f"{self.t.kernel_prefix} k_{c_ident(fn.sym_name.data)}"
        self.emit(f"{head}({self.signature(fn)}) {{")
        self.depth += 1
        self.is_entry = is_entry
        mode = fn.attributes.get("fp.rounding")
        self.mode = ROUNDING_C.get(mode.data, (None,))[0] if isinstance(mode, StringAttr) else None
        if mode is not None and self.mode is None:
            raise CPrintError(f"emit-c: unknown rounding mode {mode}")
        if self.mode:
            self.emit("const int vnnc_saved_mode = fegetround();")
            self.emit(f"fesetround({self.mode});")
        for op in fn.body.block.ops:
            self.print_op(op)
        self.depth -= 1
        self.emit("}")
        self.emit("")

    # ------------------------------------------------------------ ops

    def print_op(self, op: Operation) -> None:
        t = self.t
        kind = type(op)
        vectors = [v for v in (*op.operands, *op.results) if isinstance(v.type, VectorType)]
        if vectors and not isinstance(op, VECTOR_OPS) and not (isinstance(op, vector.ExtractOp) and not op.dynamic_position):
            raise CPrintError(f"emit-c: {op.name} on vectors is not supported")
        if kind in t.binary:
            a, b = (self.name(v) for v in op.operands)
            self.decl(op.results[0], f"{a} {t.binary[kind]} {b}")
        elif kind in t.unary_call:
            # f64 values go through the double functions (sqrtf would round them to float)
            table = t.unary_call_f64 if str(op.results[0].type) == "f64" else t.unary_call
            self.decl(op.results[0], f"{table[kind]}({', '.join(self.name(v) for v in op.operands)})")
        elif isinstance(op, arith.NegfOp):
            self.decl(op.result, f"-{self.name(op.operand)}")
        elif isinstance(op, arith.ConstantOp):
            self.decl(op.result, self.constant(op))
        elif isinstance(op, arith.CmpfOp):
            pred = arith.CMPF_COMPARISON_OPERATIONS[op.predicate.value.data]
            self.decl(op.result, t.cmpf[pred].format(a=self.name(op.lhs), b=self.name(op.rhs)))
        elif isinstance(op, arith.CmpiOp):
            pred = arith.CMPI_COMPARISON_OPERATIONS[op.predicate.value.data]
            if pred not in t.cmpi:
                raise CPrintError(f"emit-c: arith.cmpi {pred} is not supported")
            self.decl(op.result, f"{self.name(op.lhs)} {t.cmpi[pred]} {self.name(op.rhs)}")
        elif isinstance(op, arith.SelectOp):
            c, a, b = (self.name(v) for v in op.operands)
            self.decl(op.result, f"{c} ? {a} : {b}")
        elif isinstance(op, (arith.SIToFPOp, arith.IndexCastOp)):
            self.decl(op.results[0], f"({self.ctype(op.results[0].type)}){self.name(op.operands[0])}")
        elif isinstance(op, vector.LoadOp):
            self.decl(op.result, f"vnnc_load_f32x16(&{self.name(op.base)}[{self.flat_index(op.base, op.indices)}])")
        elif isinstance(op, vector.BroadcastOp):  # the scalar in every lane, exactly
            self.decl(op.vector, f"({_elem(op.vector.type)}){{{', '.join([self.name(op.source)] * 16)}}}")
        elif isinstance(op, vector.ExtractOp):
            self.decl(op.result, f"{self.name(op.vector)}[{op.static_position.get_values()[0]}]")
        elif isinstance(op, vector.ShuffleOp):
            mask = ", ".join(str(m) for m in op.mask.get_values())
            self.decl(op.result, f"__builtin_shuffle({self.name(op.v1)}, {self.name(op.v2)}, (vnnc_i32x16){{{mask}}})")
        elif isinstance(op, memref.LoadOp):
            self.decl(op.res, f"{self.name(op.memref)}[{self.flat_index(op.memref, op.indices)}]")
        elif isinstance(op, memref.StoreOp):
            self.emit(f"{self.name(op.memref)}[{self.flat_index(op.memref, op.indices)}] = {self.name(op.value)};")
        elif isinstance(op, scf.ForOp):
            self.print_for(op)
        elif isinstance(op, scf.IfOp):
            self.print_if(op)
        elif isinstance(op, scf.YieldOp):
            pass  # handled by the enclosing for / if
        elif isinstance(op, memref.AllocOp):
            t_ = op.memref.type
            n = math.prod(t_.get_shape())
            elem, v = _elem(t_.element_type), self.name(op.memref)
            size = f"{max(n, 1)} * sizeof({elem})"
            if self.is_entry:
                # The model function's temporaries are allocated on a thread's first call and kept
                # for its next calls (each alloc runs once per call, with a fixed size): freeing
                # them every call made the C library return the pages and fault them in again.
                self.emit(f"static _Thread_local {elem}* ws_{v} = NULL;")
                self.emit(f"{elem}* {v} = ws_{v} ? ws_{v} : (ws_{v} = ({elem}*)vnnc_alloc({size}));")
            else:
                self.emit(f"{elem}* {v} = ({elem}*)vnnc_alloc({size});")
            self.emit(f"if (!{v}) return 1;")
        elif isinstance(op, memref.DeallocOp):
            if not self.is_entry:  # the model function keeps its workspace (above)
                self.emit(f"free({self.name(op.memref)});")
        elif isinstance(op, memref.GetGlobalOp):
            sym = op.name_.root_reference.data
            elem = _elem(op.memref.type.element_type)
            self.emit(f"{elem}* {self.name(op.memref)} = ({elem}*){self.globals[sym]};")
        elif isinstance(op, (memref.CollapseShapeOp, memref.ExpandShapeOp)):
            elem = _elem(op.result.type.element_type)
            self.emit(f"{elem}* {self.name(op.result)} = {self.name(op.src)};")
        elif isinstance(op, memref.CopyOp):
            n = math.prod(op.source.type.get_shape())
            elem = _elem(op.source.type.element_type)
            self.emit(f"memmove({self.name(op.destination)}, {self.name(op.source)}, {max(n, 1)} * sizeof({elem}));")
        elif isinstance(op, func.CallOp):
            args = ", ".join(self.name(v) for v in op.arguments)
            self.emit(f"k_{c_ident(op.callee.root_reference.data)}({args});")
        elif isinstance(op, func.ReturnOp):
            if self.mode:
                self.emit("fesetround(vnnc_saved_mode);")
            self.emit("return 0;" if self.is_entry else "return;")
        elif isinstance(op, (arith.ExtFOp, arith.TruncFOp)):
            self.decl(op.result, f"({self.ctype(op.result.type)}){self.name(op.input)}")
        elif isinstance(op, RoundOp):
            fmt = parse_format(op.format.data)
            mode_c = ROUNDING_C[op.rounding.data][1]
            call = (f"vnnc_round((double){self.name(op.input)}, {fmt.ebits}, {fmt.mbits}, "
                    f"{FORMAT_KIND_C[fmt.kind]}, {mode_c})")
            self.decl(op.result, f"({self.ctype(op.result.type)}){call}")
        else:
            raise CPrintError(f"emit-c: unsupported op {op.name}")

    def constant(self, op: arith.ConstantOp) -> str:
        v = op.value
        if isinstance(op.result.type, VectorType) and isinstance(v, DenseIntOrFPElementsAttr):
            values = list(v.get_values())
            values = values * 16 if len(values) == 1 else values
            return f"({_elem(op.result.type)}){{{', '.join(hex_float(x) for x in values)}}}"
        if isinstance(v, FloatAttr):
            if str(v.type) not in ("f32", "f64"):
                raise CPrintError(f"emit-c: float constant of type {v.type}")
            return hex_float(v.value.data, double=str(v.type) == "f64")
        if isinstance(v, IntegerAttr):
            if isinstance(v.type, IntegerType) and v.type.width.data == 1:
                return "1" if v.value.data else "0"
            return str(v.value.data)
        raise CPrintError(f"emit-c: unsupported constant {v}")

    def print_for(self, op: scf.ForOp) -> None:
        body = op.body.block
        iv, *carried = body.args
        for res, init in zip(op.results, op.iter_args):
            self.emit(f"{self.ctype(res.type)} {self.name(res)} = {self.name(init)};")
        i = self.name(iv)
        self.emit(f"for (ptrdiff_t {i} = {self.name(op.lb)}; {i} < {self.name(op.ub)}; {i} += {self.name(op.step)}) {{")
        self.depth += 1
        for arg, res in zip(carried, op.results):
            self.decl(arg, self.name(res))
        for inner in body.ops:
            self.print_op(inner)
        yld = body.last_op
        for res, val in zip(op.results, yld.operands):
            self.emit(f"{self.name(res)} = {self.name(val)};")
        self.depth -= 1
        self.emit("}")

    def print_if(self, op: scf.IfOp) -> None:
        for res in op.results:
            self.emit(f"{self.ctype(res.type)} {self.name(res)};")
        self.emit(f"if ({self.name(op.cond)}) {{")
        for k, region in enumerate((op.true_region, op.false_region)):
            if k == 1:
                if not region.blocks:
                    break
                self.emit("} else {")
            self.depth += 1
            block = region.block
            for inner in block.ops:
                self.print_op(inner)
            for res, val in zip(op.results, block.last_op.operands):
                self.emit(f"{self.name(res)} = {self.name(val)};")
            self.depth -= 1
        self.emit("}")


def emit_c(module: ModuleOp, target: CTarget | None = None) -> tuple[str, list[tuple[str, str, MemRefType]]]:
    """C source for a loop-level module and its parameter table [(name, C global, type)]."""
    p = CPrinter(module, target)
    src = p.print_module()
    return src, p.params


def abi_source(module: ModuleOp, params: list[tuple[str, str, MemRefType]]) -> tuple[str, str]:
    """The stable ABI wrappers (appended to model.c) and model.h, documenting them."""
    main = next(op for op in module.ops if isinstance(op, func.FuncOp) and op.sym_name.data == ENTRY)
    types = main.function_type.inputs.data
    names = []
    if main.arg_attrs is not None:
        for entry in main.arg_attrs.data:
            n = entry.data.get("vnnc.name")
            names.append(n.data if isinstance(n, StringAttr) else "")
    n_params = len(params)
    lines = [
        "",
        "/* ---- ABI (see model.h) ---- */",
        f"static const char* const vnnc_param_names[{max(n_params, 1)}] = {{"
        + ", ".join(f'"{p[0]}"' for p in params) + ("" if params else "0") + "};",
        f"static const long vnnc_param_sizes[{max(n_params, 1)}] = {{"
        + ", ".join(str(math.prod(p[2].get_shape())) for p in params) + ("" if params else "0") + "};",
        f"int vnnc_model_num_params(void) {{ return {n_params}; }}",
        "const char* vnnc_model_param_name(int i) { return (i >= 0 && i < vnnc_model_num_params()) ? vnnc_param_names[i] : 0; }",
        "long vnnc_model_param_size(int i) { return (i >= 0 && i < vnnc_model_num_params()) ? vnnc_param_sizes[i] : -1; }",
        f"static const char* const vnnc_param_dtypes[{max(n_params, 1)}] = {{"
        + ", ".join(f'"{_DTYPE_NAMES[_elem(p[2].element_type)]}"' for p in params) + ("" if params else "0") + "};",
        "const char* vnnc_model_param_dtype(int i) { return (i >= 0 && i < vnnc_model_num_params()) ? vnnc_param_dtypes[i] : 0; }",
        "int vnnc_model_bind_params(const void* const* params) {",
        *[f"  {c} = (const {_elem(t.element_type)}*)params[{i}];" for i, (_, c, t) in enumerate(params)],
        "  return 0;",
        "}",
        "int vnnc_model_run(const void* const* args) {",
        "  return vnnc_model_main(" + ", ".join(
            f"({_elem(t.element_type)}*)args[{i}]" for i, t in enumerate(types)) + ");",
        "}",
    ]
    arg_doc = "\n".join(
        f" *   args[{i}]: {names[i] if i < len(names) else ''} {t}" for i, t in enumerate(types)
    )
    header = f"""/* model.h: the C ABI of a vnnc-compiled model.
 *
 * Buffers are dense, row-major, native-endian; float32 unless noted. Any alignment
 * works; buffers starting on a 64-byte boundary run fastest (vector loads of 16 floats).
 * 1. Bind parameters once: vnnc_model_bind_params(ptrs) with ptrs[i] pointing at
 *    parameter i (name: vnnc_model_param_name(i), vnnc_model_param_size(i) elements of
 *    vnnc_model_param_dtype(i): "float32" or "int64", as stored in params.safetensors).
 *    The pointers must stay valid while the model is used.
 * 2. Run: vnnc_model_run(args) with one pointer per model input, then one per output:
{arg_doc}
 *    Outputs must not overlap inputs. Returns 0 on success, 1 if memory ran out.
 * Not thread-safe across different parameter bindings; runs are re-entrant otherwise.
 */
#ifndef VNNC_MODEL_H
#define VNNC_MODEL_H
#ifdef __cplusplus
extern "C" {{
#endif
#define VNNC_MODEL_NUM_ARGS {len(types)}
int vnnc_model_num_params(void);
const char* vnnc_model_param_name(int i);
long vnnc_model_param_size(int i);
const char* vnnc_model_param_dtype(int i);
int vnnc_model_bind_params(const void* const* params);
int vnnc_model_run(const void* const* args);
#ifdef __cplusplus
}}
#endif
#endif
"""
    return "\n".join(lines) + "\n", header
