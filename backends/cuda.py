"""The CUDA printer: the same loop IR as the C printer, as `__global__` kernels and a host launcher.

`CudaPrinter` subclasses `CPrinter` and overrides only what differs (STYLE.md: backends share
one printer). Every kernel function of the loop IR becomes one or more `__global__` functions:
  - a function whose body is constants and loop nests without results becomes one launch per
    nest, in program order (a launch ends before the next starts: the nests' order is kept);
  - in each nest, the outermost perfectly nested loops without loop-carried values run one
    iteration per thread when `parallel_loops` proves it sound, else the nest runs on one
    thread (<<<1, 1>>>);
  - any other function (values flowing between nests, e.g. a loss reduced to a scalar) runs
    whole on one thread.
`@main` runs on the host: it may allocate device buffers (kept between calls, as the C
backend keeps its workspace), alias them (collapse/expand shape), copy them and launch kernels,
all on the library's one stream. The first run after a parameter bind runs @main directly and
then captures the same launches and copies as a CUDA graph, which later runs replay (one call
in place of a launch per kernel); a bind re-uploads the parameters and drops the graph.
A parallel nest that sums vector<16xf32> values runs each iteration on 16 threads (`LANES`),
thread l holding lane l of every vector (`lane_split`).
Every CUDA call is checked; `vnnc_model_run` returns 0, 1 (device memory ran out) or 2 (any
other CUDA error, text in `vnnc_model_last_error()`).

Float semantics as in C: `nvcc -fmad=false` (no FMA contraction), IEEE division and square
root, no flush to zero (backends/build.py); arith.maximumf propagates NaN; the emulated formats'
`vnnc_round` (vnnc_fp.h) is compiled for the device too. A kernel computes each value with the
same operations in the same order as the C kernel, so f32 +, -, *, /, sqrt and max agree bit
for bit; CUDA's expf, logf, tanhf and erff are not glibc's (up to 2 ulp, CUDA C Programming
Guide, "Mathematical Functions"), so those may differ in the last bits. Directed rounding
(fp.rounding other than nearest) is refused: the device has no fesetround.
The CUDA path is tested, not checked (TRUST.md): the checker validates the loop IR printed here.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from dataclasses import dataclass

from vnnc.backends.c import (
    ENTRY,
    FP_HEADER,
    CPrinter,
    CPrintError,
    CTarget,
    _elem,
    abi_source,
    c_ident,
    hex_float,
)
from vnnc.dialects.fp import RoundOp
from xdsl.dialects import arith, func, memref, scf, vector
from xdsl.dialects.builtin import (
    DenseIntOrFPElementsAttr,
    IndexType,
    IntegerAttr,
    MemRefType,
    ModuleOp,
    StringAttr,
    UnitAttr,
    VectorType,
)
from xdsl.ir import BlockArgument, Operation, SSAValue

THREADS_PER_BLOCK = 256
GRAPH = True
"""Replay the captured CUDA graph of @main (module constant; a benchmark sets it False to time
a launch per kernel on every run)."""
LANES = 16
"""Threads per iteration of a lane-split launch (a nest summing vector<16xf32> values): thread
l of a group of 16 holds lane l of every vector (module constant; a benchmark may set it to 1
to time the one-thread-per-iteration form)."""


class CudaPrintError(CPrintError):
    pass


class CudaTarget(CTarget):
    """String tables for CUDA C++ (nvcc): kernels are `__global__`, the rest as in C."""

    kernel_prefix = "__global__ void"
    restrict = "__restrict__"
    prelude = """#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#pragma nv_diag_suppress 177 /* a kernel's unused constants (each launch gets all of its function's) */
#define _Bool bool /* i1 values */

/* arith.maximumf / minimumf: NaN-propagating, and -0 < +0; for float (suffix f) and double */
#define VNNC_MAXMIN(T, SUFFIX)                                                   \\
  static __host__ __device__ inline T vnnc_maximum##SUFFIX(T a, T b) {           \\
    if (a != a || b != b) return a + b;                                          \\
    if (a == b) return signbit(a) ? b : a;                                       \\
    return a > b ? a : b;                                                        \\
  }                                                                              \\
  static __host__ __device__ inline T vnnc_minimum##SUFFIX(T a, T b) {           \\
    if (a != a || b != b) return a + b;                                          \\
    if (a == b) return signbit(a) ? a : b;                                       \\
    return a < b ? a : b;                                                        \\
  }
VNNC_MAXMIN(float, f)
VNNC_MAXMIN(double, )

/* vector<16xf32>: 16 floats, arithmetic lane by lane (the IEEE operation on each lane), a load
 * copies 16 consecutive floats, lane i is v[i] */
struct vnnc_f32x16 {
  float v[16];
  __device__ float operator[](int i) const { return v[i]; }
};
#define VNNC_LANEWISE(OP)                                                                \\
  static __device__ inline vnnc_f32x16 operator OP(vnnc_f32x16 a, vnnc_f32x16 b) {      \\
    vnnc_f32x16 r;                                                                       \\
    _Pragma("unroll") for (int i = 0; i < 16; i++) r.v[i] = a.v[i] OP b.v[i];           \\
    return r;                                                                            \\
  }
VNNC_LANEWISE(+)
VNNC_LANEWISE(-)
VNNC_LANEWISE(*)
VNNC_LANEWISE(/)
static __device__ inline vnnc_f32x16 vnnc_load_f32x16(const float* p) {
  vnnc_f32x16 r;
  _Pragma("unroll") for (int i = 0; i < 16; i++) r.v[i] = p[i];
  return r;
}

/* every CUDA call is checked: 1 when device memory ran out, 2 for any other error */
static const char* vnnc_error = "";
static int vnnc_status(cudaError_t e) {
  if (e == cudaSuccess) return 0;
  vnnc_error = cudaGetErrorString(e);
  return e == cudaErrorMemoryAllocation ? 1 : 2;
}
#define VNNC_TRY(rc) do { int vnnc_rc_ = (rc); if (vnnc_rc_) return vnnc_rc_; } while (0)
#define VNNC_CUDA(call) VNNC_TRY(vnnc_status(call))
/* the library's stream: every copy and launch of a run goes to it, in program order */
static cudaStream_t vnnc_stream = NULL;
#ifndef VNNC_LAUNCH /* tests/e2e/test_cuda.py defines it to run the kernels on the CPU */
#define VNNC_LAUNCH(kernel, blocks, threads) kernel<<<blocks, threads, 0, vnnc_stream>>>
#endif
#ifndef VNNC_LAUNCH_LANES /* likewise, a lane-split launch (its threads exchange lanes by __shfl_sync) */
#define VNNC_LAUNCH_LANES(kernel, blocks, threads) kernel<<<blocks, threads, 0, vnnc_stream>>>
#endif
"""


FP_HEADER_CUDA = FP_HEADER.replace("static inline", "static __host__ __device__ inline")
"""vnnc_round for host and device: it uses only exact operations (ilogb, ldexp, floor, fmod),
which CUDA's device math library computes exactly as the C library does."""


# ---------------------------------------------------------------- the parallel decision


def _const_index(v: SSAValue) -> int | None:
    op = v.owner
    if isinstance(op, arith.ConstantOp) and isinstance(op.value, IntegerAttr) and isinstance(op.value.type, IndexType):
        return op.value.value.data
    return None


def _loop_bounds(loop: scf.ForOp) -> tuple[int, int, int] | None:
    """(lb, step, trip count) of a loop with constant bounds and a positive step."""
    lb, ub, step = (_const_index(v) for v in (loop.lb, loop.ub, loop.step))
    if lb is None or ub is None or step is None or step <= 0:
        return None
    return lb, step, max(0, -(-(ub - lb) // step))


def _induction_var(loop: scf.ForOp) -> SSAValue:
    return loop.body.block.args[0]


def _affine(v: SSAValue) -> tuple[int, dict] | None:
    """v as const + sum coef * iv over loop induction variables, or None if it is not one."""
    if isinstance(v, BlockArgument):
        parent = v.owner.parent_op()
        if isinstance(parent, scf.ForOp) and v is _induction_var(parent):
            return 0, {v: 1}
        return None
    c = _const_index(v)
    if c is not None:
        return c, {}
    op = v.owner
    if isinstance(op, (arith.AddiOp, arith.MuliOp)):
        a, b = _affine(op.lhs), _affine(op.rhs)
        if a is None or b is None:
            return None
        if isinstance(op, arith.AddiOp):
            terms = dict(a[1])
            for k, coef in b[1].items():
                terms[k] = terms.get(k, 0) + coef
            return a[0] + b[0], {k: coef for k, coef in terms.items() if coef}
        if a[1] and b[1]:
            return None  # a product of two variables
        (k, terms) = (b[0], a[1]) if not b[1] else (a[0], b[1])
        const = a[0] * b[0]
        return const, {var: coef * k for var, coef in terms.items() if coef * k}
    return None


_EFFECTS = (func.CallOp, memref.CopyOp, memref.AllocOp, memref.DeallocOp, memref.GetGlobalOp,
            memref.CollapseShapeOp, memref.ExpandShapeOp)
"""Ops that write memory other than by memref.store, or make a memref the analysis cannot follow."""


def _accesses(fn: func.FuncOp, nest: scf.ForOp) -> dict | None:
    """{buffer argument: [(is_store, indices, lanes)]} of the nest, or None if it has an op with
    other effects or accesses a memref that is not an argument of the function."""
    args = set(fn.body.block.args)
    out: dict = {}
    for op in nest.walk():
        if isinstance(op, _EFFECTS):
            return None
        if isinstance(op, memref.StoreOp):
            ref, indices, store, lanes = op.memref, op.indices, True, 1
        elif isinstance(op, memref.LoadOp):
            ref, indices, store, lanes = op.memref, op.indices, False, 1
        elif isinstance(op, vector.LoadOp):
            ref, indices, store, lanes = op.base, op.indices, False, op.result.type.get_shape()[0]
        else:
            if any(isinstance(v.type, MemRefType) for v in op.operands):
                return None
            continue
        if ref not in args:
            return None
        out.setdefault(ref, []).append((store, list(indices), lanes))
    return out


def _range(form: tuple[int, dict], ranges: dict) -> tuple[int, int] | None:
    """The least and greatest value of an affine form over the loops' ranges."""
    lo = hi = form[0]
    for var, coef in form[1].items():
        if var not in ranges:
            return None
        a, b = coef * ranges[var][0], coef * ranges[var][1]
        lo, hi = lo + min(a, b), hi + max(a, b)
    return lo, hi


def _separated(accesses: list, parallel: dict, ranges: dict) -> set:
    """The parallel variables that iterations of different values never share a cell through.

    `parallel` maps each parallel variable to (step, trip count). A dimension d separates the
    parallel variables V that it reads when every access has the form sum_{v in V} c_v v + r
    (the same c_v != 0 in every access, r free of parallel variables), the stores' r lie in a
    window W, every load's r lies in W, and, with a_v = |c_v * step_v| in increasing order,
    each a_v exceeds width(W) + sum of a_u (n_u - 1) over the smaller ones (a mixed radix).
    Then two iterations that differ in some v of V store dimension-d values in disjoint ranges
    sum c_v v + W, and read only inside their own range: no cell one writes is touched by the
    other."""
    covered: set = set()
    rank = len(accesses[0][1])
    for d in range(rank):
        window, loads, coefs = None, [], None
        for store, indices, lanes in accesses:
            form = _affine(indices[d])
            if form is None:
                break
            mine = {v: c for v, c in form[1].items() if v in parallel}
            if coefs is not None and mine != coefs:
                break
            coefs = mine
            rest = _range((form[0], {v: c for v, c in form[1].items() if v not in parallel}), ranges)
            if rest is None:
                break
            if d == rank - 1 and lanes > 1:  # a vector load reads lanes consecutive cells
                rest = (rest[0], rest[1] + lanes - 1)
            if store:
                window = rest if window is None else (min(window[0], rest[0]), max(window[1], rest[1]))
            else:
                loads.append(rest)
        else:
            if not coefs or window is None or not all(window[0] <= lo and hi <= window[1] for lo, hi in loads):
                continue
            span = window[1] - window[0]
            for a, n in sorted((abs(c * parallel[v][0]), parallel[v][1]) for v, c in coefs.items()):
                if a <= span:
                    break
                span += a * (n - 1)
            else:
                covered |= set(coefs)
    return covered


def parallel_loops(fn: func.FuncOp, nest: scf.ForOp) -> list[scf.ForOp]:
    """The outermost loops of `nest` that may run one iteration per thread ([] if none):
    the longest prefix of its perfectly nested, constant-bounded loops without loop-carried
    values such that, for every buffer the nest writes, `_separated` covers every parallel
    variable. Buffers only read may be shared; distinct arguments do not alias (the C backend
    declares them restrict for the same reason)."""
    chain = []
    loop = nest
    while isinstance(loop, scf.ForOp) and not loop.iter_args and not loop.results \
            and _loop_bounds(loop) is not None:
        chain.append(loop)
        body = [op for op in loop.body.block.ops if not isinstance(op, scf.YieldOp)]
        loop = body[0] if len(body) == 1 else None
    accesses = _accesses(fn, nest)
    if not chain or accesses is None:
        return []
    ranges = {}
    for op in nest.walk():
        if isinstance(op, scf.ForOp) and (b := _loop_bounds(op)) is not None and b[2] > 0:
            ranges[_induction_var(op)] = (b[0], b[0] + b[1] * (b[2] - 1))
    written = [acc for acc in accesses.values() if any(store for store, _, _ in acc)]
    for depth in range(len(chain), 0, -1):
        loops = chain[:depth]
        parallel = {_induction_var(lp): _loop_bounds(lp)[1:] for lp in loops}
        if all(_separated(acc, parallel, ranges) == set(parallel) for acc in written):
            return loops
    return []


@dataclass
class Launch:
    """One `__global__` function: its name, the loops run one iteration per thread, and
    its grid (blocks, threads per block)."""

    name: str
    loops: list
    blocks: int
    threads: int
    lanes: int = 1  # threads per iteration: LANES for a lane-split launch


def lane_split(fn: func.FuncOp, nest: scf.ForOp) -> bool:
    """Whether a parallel nest may run each iteration on LANES threads, thread l holding lane l
    of every vector<16xf32> value: the nest has vector values, and no buffer it stores to is
    also loaded in it. Every thread of a group computes the nest's scalar values itself (the
    same operations on the same operands, so the same bits) and stores them; a group's threads
    are not in step between shuffles, so a thread could read a cell another thread of its group
    has already rewritten: hence no loads from stored buffers."""
    if not any(isinstance(v.type, VectorType) for op in nest.walk() for v in op.results):
        return False
    accesses = _accesses(fn, nest)
    return accesses is not None and not any(
        any(store for store, _, _ in acc) and not all(store for store, _, _ in acc) for acc in accesses.values())


def plan_kernel(fn: func.FuncOp) -> list[tuple[Launch, scf.ForOp | None]]:
    """The launches of one kernel function: one per top-level nest, or one for the whole
    function (nest None) when values flow between its top-level ops."""
    name = f"k_{c_ident(fn.sym_name.data)}"
    ops = list(fn.body.block.ops)
    nests = [op for op in ops if isinstance(op, scf.ForOp)]
    if not nests or any(not isinstance(op, (arith.ConstantOp, scf.ForOp, func.ReturnOp)) for op in ops) \
            or any(n.results for n in nests):
        return [(Launch(name, [], 1, 1), None)]
    plan = []
    for i, nest in enumerate(nests):
        loops = parallel_loops(fn, nest)
        lanes = LANES if loops and LANES > 1 and lane_split(fn, nest) else 1
        total = (math.prod(_loop_bounds(lp)[2] for lp in loops) if loops else 1) * lanes
        threads = min(THREADS_PER_BLOCK, max(total, 1))
        plan.append((Launch(f"{name}_{i}", loops, max(1, -(-total // threads)), threads, lanes), nest))
    return plan


# ---------------------------------------------------------------- the printer


class CudaPrinter(CPrinter):
    def __init__(self, module: ModuleOp, n_inputs: int):
        super().__init__(module, CudaTarget())
        self.n_inputs = n_inputs
        self.plans: dict[str, list] = {}
        self.constants: list[tuple[str, str, MemRefType]] = []  # dense globals, uploaded at bind
        self.lanes = False  # printing a lane-split launch: a vector value is the thread's lane

    def print_module(self) -> str:
        funcs = self.start_module(FP_HEADER_CUDA, "emit-cuda", CudaPrintError)
        entry = [fn for fn in funcs if fn.sym_name.data == ENTRY]
        if len(entry) != 1:
            raise CudaPrintError(f"emit-cuda: the module has no func.func @{ENTRY}")
        for fn in funcs:
            if fn is not entry[0]:
                self.print_kernel(fn)
        self.print_func(entry[0])
        return "\n".join(self.lines) + "\n"

    def print_global(self, op: memref.GlobalOp) -> None:
        """Parameters and dense constants live in device memory; the host keeps the pointers
        (g_*) and, for constants, the values (h_*) to upload at bind time."""
        if isinstance(op.initial_value, UnitAttr):
            return super().print_global(op)
        mark = len(self.lines)
        super().print_global(op)  # the C array, renamed h_*, and a device pointer g_*
        cname = f"g_{c_ident(op.sym_name.data)}"
        self.lines[mark] = self.lines[mark].replace(f" {cname}[", f" h_{cname}[", 1)
        self.globals[op.sym_name.data] = cname
        self.constants.append((op.sym_name.data, cname, op.type))
        self.emit(f"static const {_elem(op.type.element_type)}* {cname};  /* device copy of h_{cname} */")

    def check_rounding(self, fn: func.FuncOp) -> None:
        mode = fn.attributes.get("fp.rounding")
        if isinstance(mode, StringAttr) and mode.data != "nearest":
            raise CudaPrintError(f"emit-cuda: @{fn.sym_name.data} rounds {mode.data!r}: the CUDA target "
                                 "supports round-to-nearest only (use --target c for directed rounding)")
        for op in fn.walk():
            if isinstance(op, RoundOp) and op.rounding.data != "nearest":
                raise CudaPrintError(f"emit-cuda: fp.round {op.rounding.data!r} in @{fn.sym_name.data}: the "
                                     "CUDA target supports round-to-nearest only (use --target c)")

    def print_kernel(self, fn: func.FuncOp) -> None:
        self.check_rounding(fn)
        plan = plan_kernel(fn)
        self.plans[fn.sym_name.data] = [launch for launch, _ in plan]
        for launch, nest in plan:
            self.names = {}
            self.is_entry, self.mode = False, None
            self.lanes = launch.lanes > 1
            for i, arg in enumerate(fn.body.block.args):
                self.names[arg] = f"a{i}"
            kind = f"{len(launch.loops)} parallel loop(s)" if launch.loops else "one thread"
            kind += f", {launch.lanes} threads an iteration (lane l of each vector on thread l)" if self.lanes else ""
            self.emit(f"/* @{fn.sym_name.data}: {kind} */")
            self.emit(f"{self.t.kernel_prefix} {launch.name}({self.signature(fn)}) {{")
            self.depth += 1
            if nest is None:
                for op in fn.body.block.ops:
                    self.print_op(op)
            else:
                for op in fn.body.block.ops:
                    if isinstance(op, arith.ConstantOp):
                        self.print_op(op)
                if launch.loops:
                    self.print_thread_indices(launch)
                    for op in launch.loops[-1].body.block.ops:
                        self.print_op(op)
                else:
                    self.print_op(nest)
            self.depth -= 1
            self.emit("}")
            self.emit("")
        self.lanes = False

    def print_thread_indices(self, launch: Launch) -> None:
        """Thread t runs the iteration whose index tuple is t in row-major order (the
        innermost loop fastest, so neighbouring threads store neighbouring cells). In a
        lane-split launch, threads 16 t .. 16 t + 15 (a half warp: blocks hold a multiple of 16
        threads) run iteration t, and the shuffles' mask is their half warp."""
        bounds = [_loop_bounds(lp) for lp in launch.loops]
        total = math.prod(n for _, _, n in bounds)
        if launch.lanes > 1:
            self.emit(f"const ptrdiff_t vnnc_t = ((ptrdiff_t)blockIdx.x * blockDim.x + threadIdx.x) / {launch.lanes};")
            self.emit(f"const int vnnc_lane = (int)(threadIdx.x % {launch.lanes});")
            self.emit("const unsigned vnnc_half = 0xffffu << (threadIdx.x & 16);")
        else:
            self.emit("const ptrdiff_t vnnc_t = (ptrdiff_t)blockIdx.x * blockDim.x + threadIdx.x;")
        self.emit(f"if (vnnc_t >= {total}) return;")
        inner = 1
        for lp, (lb, step, n) in reversed(list(zip(launch.loops, bounds))):
            self.emit(f"const ptrdiff_t {self.name(_induction_var(lp))} = {lb} + vnnc_t / {inner} % {n} * {step};")
            inner *= n

    def ctype(self, t) -> str:
        return "float" if self.lanes and isinstance(t, VectorType) else super().ctype(t)

    def print_lane_op(self, op: Operation) -> bool:
        """A vector op of a lane-split launch, on this thread's lane (False if `op` is none)."""
        if isinstance(op, vector.LoadOp):  # lane l of 16 consecutive cells: coalesced
            self.decl(op.result, f"{self.name(op.base)}[{self.flat_index(op.base, op.indices)} + vnnc_lane]")
        elif isinstance(op, vector.BroadcastOp):
            self.decl(op.vector, self.name(op.source))
        elif isinstance(op, arith.ConstantOp) and isinstance(op.result.type, VectorType):
            values = [hex_float(x) for x in op.value.get_values()]
            if len(set(values)) == 1:
                self.decl(op.result, values[0])
            else:
                table = f"{self.name(op.result)}_lanes"
                self.emit(f"const float {table}[16] = {{{', '.join(values)}}};")
                self.decl(op.result, f"{table}[vnnc_lane]")
        elif isinstance(op, vector.ExtractOp):
            self.decl(op.result, f"__shfl_sync(vnnc_half, {self.name(op.vector)}, "
                                 f"{op.static_position.get_values()[0]}, 16)")
        elif isinstance(op, vector.ShuffleOp):  # lane l of (v1 ++ v2)[mask[l]]
            r = self.name(op.result)
            self.emit(f"const int {r}_src[16] = {{{', '.join(str(m) for m in op.mask.get_values())}}};")
            self.emit(f"const float {r}_a = __shfl_sync(vnnc_half, {self.name(op.v1)}, {r}_src[vnnc_lane] % 16, 16);")
            self.emit(f"const float {r}_b = __shfl_sync(vnnc_half, {self.name(op.v2)}, {r}_src[vnnc_lane] % 16, 16);")
            self.decl(op.result, f"{r}_src[vnnc_lane] < 16 ? {r}_a : {r}_b")
        else:
            return False
        return True

    def print_op(self, op: Operation) -> None:
        if self.lanes and self.print_lane_op(op):
            return
        if isinstance(op, vector.BroadcastOp):
            self.decl(op.vector, f"vnnc_f32x16{{{{{', '.join([self.name(op.source)] * 16)}}}}}")
        elif isinstance(op, arith.ConstantOp) and isinstance(op.value, DenseIntOrFPElementsAttr) \
                and isinstance(op.result.type, VectorType):
            values = list(op.value.get_values())
            values = values * 16 if len(values) == 1 else values
            self.decl(op.result, f"vnnc_f32x16{{{{{', '.join(hex_float(x) for x in values)}}}}}")
        elif isinstance(op, vector.ShuffleOp):  # lane m of (v1 ++ v2)
            a, b = self.name(op.v1), self.name(op.v2)
            lanes = [f"{a}.v[{m}]" if m < 16 else f"{b}.v[{m - 16}]" for m in op.mask.get_values()]
            self.decl(op.result, f"vnnc_f32x16{{{{{', '.join(lanes)}}}}}")
        elif self.is_entry:
            self.print_host_op(op)
        elif isinstance(op, (memref.AllocOp, memref.DeallocOp, memref.GetGlobalOp, memref.CopyOp, func.CallOp)):
            raise CudaPrintError(f"emit-cuda: {op.name} inside a kernel is not supported")
        else:
            super().print_op(op)

    def print_host_op(self, op: Operation) -> None:
        """@main on the host: device buffers, aliases, copies and launches only."""
        if isinstance(op, memref.AllocOp):
            t = op.memref.type
            elem, v = _elem(t.element_type), self.name(op.memref)
            size = f"{max(math.prod(t.get_shape()), 1)} * sizeof({elem})"
            self.emit(f"static {elem}* ws_{v} = NULL;  /* device workspace, kept between calls */")
            self.emit(f"if (!ws_{v}) VNNC_CUDA(cudaMalloc((void**)&ws_{v}, {size}));")
            self.emit(f"{elem}* {v} = ws_{v};")
        elif isinstance(op, memref.DeallocOp):
            pass  # the workspace is kept (above)
        elif isinstance(op, memref.CopyOp):
            n = math.prod(op.source.type.get_shape())
            elem = _elem(op.source.type.element_type)
            self.emit(f"VNNC_CUDA(cudaMemcpyAsync({self.name(op.destination)}, {self.name(op.source)}, "
                      f"{max(n, 1)} * sizeof({elem}), cudaMemcpyDeviceToDevice, vnnc_stream));")
        elif isinstance(op, func.CallOp):
            callee = op.callee.root_reference.data
            if callee not in self.plans:
                raise CudaPrintError(f"emit-cuda: @{ENTRY} calls @{callee}, which is not a kernel of the module")
            args = ", ".join(self.name(v) for v in op.arguments)
            for launch in self.plans[callee]:
                macro = "VNNC_LAUNCH_LANES" if launch.lanes > 1 else "VNNC_LAUNCH"
                self.emit(f"{macro}({launch.name}, {launch.blocks}, {launch.threads})({args});")
                self.emit("VNNC_CUDA(cudaGetLastError());")
        elif isinstance(op, func.ReturnOp):
            self.emit("return 0;")
        elif isinstance(op, (memref.GetGlobalOp, memref.CollapseShapeOp, memref.ExpandShapeOp)):
            super().print_op(op)
        else:
            raise CudaPrintError(f"emit-cuda: {op.name} in @{ENTRY}: the host part may only allocate, "
                                 "reshape, copy and launch kernels")

    def print_func(self, fn: func.FuncOp) -> None:
        """@main, on the host (kernels go through print_kernel)."""
        self.check_rounding(fn)
        self.names = {}
        self.is_entry, self.mode = True, None
        for i, arg in enumerate(fn.body.block.args):
            self.names[arg] = f"a{i}"
        self.emit(f"static int vnnc_model_main({self.signature(fn)}) {{")
        self.depth += 1
        for op in fn.body.block.ops:
            self.print_op(op)
        self.depth -= 1
        self.emit("}")
        self.emit("")


def emit_cuda(module: ModuleOp, n_inputs: int) -> tuple[str, str]:
    """(model.cu, model.h) for a loop-level module whose @main takes `n_inputs` inputs, then
    its outputs. The ABI is the C backend's (backends/c.py `abi_source`), so the same ctypes
    runner loads either library."""
    p = CudaPrinter(module, n_inputs)
    src = p.print_module()
    c_abi, header = abi_source(module, p.params)
    main = next(op for op in module.ops if isinstance(op, func.FuncOp) and op.sym_name.data == ENTRY)
    types = main.function_type.inputs.data
    if not 0 <= n_inputs <= len(types):
        raise CudaPrintError(f"emit-cuda: @{ENTRY} has {len(types)} arguments, fewer than {n_inputs} inputs")
    # the parameter tables of the C ABI, unchanged; bind and run copy to and from the device
    tables = c_abi.split("int vnnc_model_bind_params(")[0]
    lines = ['extern "C" {',
             tables.replace("/* ---- ABI (see model.h) ---- */", "/* ---- ABI (see model.h), on the host ---- */"),
             "const char* vnnc_model_last_error(void) { return vnnc_error; }",
             "static int vnnc_upload(const void** device, const void* host, size_t bytes) {",
             "  if (*device) VNNC_CUDA(cudaFree((void*)*device));",
             "  *device = NULL;",
             "  void* d = NULL;",
             "  VNNC_CUDA(cudaMalloc(&d, bytes ? bytes : 1));",
             "  *device = d;",
             "  VNNC_CUDA(cudaMemcpy(d, host, bytes, cudaMemcpyHostToDevice));",
             "  return 0;",
             "}",
             "/* the launches and device copies of vnnc_model_main, captured by the first run after a",
             " * bind (the pointers they take are fixed until the next bind) and replayed by later runs */",
             "static cudaGraphExec_t vnnc_graph = NULL;",
             "int vnnc_model_bind_params(const void* const* params) {",
             "  if (vnnc_graph) VNNC_CUDA(cudaGraphExecDestroy(vnnc_graph));",
             "  vnnc_graph = NULL;"]
    for _, cname, t in p.constants:
        n = max(math.prod(t.get_shape()), 1)
        lines.append(f"  VNNC_CUDA_UPLOAD({cname}, h_{cname}, {n} * sizeof(*h_{cname}));")
    for i, (_, cname, t) in enumerate(p.params):
        n = math.prod(t.get_shape())
        lines.append(f"  VNNC_CUDA_UPLOAD({cname}, params[{i}], {n} * sizeof({_elem(t.element_type)}));")
    lines += ["  return 0;", "}"]
    sizes = [f"{max(math.prod(t.get_shape()), 1)} * sizeof({_elem(t.element_type)})" for t in types]
    lines.append("int vnnc_model_run(const void* const* args) {")
    lines.append(f"  static void* d[{max(len(types), 1)}];  /* device copies of the arguments, kept */")
    lines.append("  if (!vnnc_stream) VNNC_CUDA(cudaStreamCreateWithFlags(&vnnc_stream, cudaStreamNonBlocking));")
    for i, size in enumerate(sizes):
        lines.append(f"  if (!d[{i}]) VNNC_CUDA(cudaMalloc(&d[{i}], {size}));")
    for i in range(n_inputs):
        lines.append(f"  VNNC_CUDA(cudaMemcpyAsync(d[{i}], args[{i}], {sizes[i]}, cudaMemcpyHostToDevice, vnnc_stream));")
    call = ", ".join(f"({_elem(t.element_type)}*)d[{i}]" for i, t in enumerate(types))
    if not GRAPH:  # a launch per kernel on every run (for timing the graph's gain)
        lines += ["  if (1) {", f"    VNNC_TRY(vnnc_model_main({call}));", "  } else if (vnnc_graph) {"]
    else:
        lines.append("  if (vnnc_graph) {")
    lines += ["    VNNC_CUDA(cudaGraphLaunch(vnnc_graph, vnnc_stream));",
              "  } else {  /* run directly (the workspace is allocated), then capture the same calls */",
              f"    VNNC_TRY(vnnc_model_main({call}));",
              "    cudaGraph_t graph = NULL;",
              "    VNNC_CUDA(cudaStreamBeginCapture(vnnc_stream, cudaStreamCaptureModeThreadLocal));",
              f"    const int rc = vnnc_model_main({call});",
              "    const cudaError_t end = cudaStreamEndCapture(vnnc_stream, &graph);",
              "    VNNC_TRY(rc);",
              "    VNNC_CUDA(end);",
              "    const cudaError_t made = cudaGraphInstantiate(&vnnc_graph, graph, 0);",
              "    VNNC_CUDA(cudaGraphDestroy(graph));",
              "    if (made != cudaSuccess) vnnc_graph = NULL;",
              "    VNNC_CUDA(made);",
              "  }"]
    for i in range(n_inputs, len(types)):
        lines.append(f"  VNNC_CUDA(cudaMemcpyAsync((void*)args[{i}], d[{i}], {sizes[i]}, cudaMemcpyDeviceToHost, "
                     "vnnc_stream));")
    lines += ["  VNNC_CUDA(cudaStreamSynchronize(vnnc_stream));", "  return 0;", "}", '}  /* extern "C" */', ""]
    upload = ("#define VNNC_CUDA_UPLOAD(g, host, bytes) "
              "VNNC_TRY(vnnc_upload((const void**)&(g), (host), (bytes)))\n")
    cuda_doc = (" * CUDA: parameters are copied to the device at bind time, inputs and outputs at each\n"
                " *    run; the first run after a bind captures its kernel launches as a CUDA graph that\n"
                " *    later runs replay. vnnc_model_run returns 0, 1 (device memory ran out) or 2 (another CUDA error:\n"
                " *    vnnc_model_last_error() says which). Not thread-safe: the device buffers are\n"
                " *    shared by every run.\n")
    c_line = " * Not thread-safe across different parameter bindings; runs are re-entrant otherwise.\n"
    if c_line not in header:
        raise AssertionError("backends/c.py's model.h changed: its thread-safety line is not found")
    header = header.replace(c_line, cuda_doc, 1)  # the C library's line does not hold here
    header = header.replace("int vnnc_model_run(const void* const* args);",
                            "int vnnc_model_run(const void* const* args);\nconst char* vnnc_model_last_error(void);", 1)
    return src + upload + "\n".join(lines), header


# ---------------------------------------------------------------- GPU presence


def gpu_present() -> bool:
    """Whether this host has an NVIDIA GPU that the driver lists (`nvidia-smi -L` succeeds)."""
    smi = shutil.which("nvidia-smi")
    if not smi:
        return False
    try:
        proc = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0 and "GPU" in proc.stdout


def check_cuda_bundle(root) -> tuple[list[dict], dict]:
    """The checker's rows for a CUDA bundle (hashes and witnesses: checked) and the `tested`
    row of its library, run on sampled inputs against the checker's reference
    (verifier/sampled.py) when a GPU is present, and otherwise not run, saying why."""
    from vnnc.verifier.bundle import check_bundle
    from vnnc.verifier.sampled import SAMPLES

    gpu = gpu_present()
    rows = check_bundle(root, sample=gpu)
    row = {"what": "cuda-library", "against": "the checker's float64 reference (verifier/sampled.py)",
           "samples": SAMPLES, "max_abs_error": None, "tolerance": None, "passed": None}
    if gpu:
        library = rows.pop()  # check_bundle's last row, the sampled run
        row["passed"] = library["verdict"] == "accepted"
        if library["reason"]:
            row["reason"] = library["reason"]
    else:
        row["reason"] = ("not run: no GPU on this host (`nvidia-smi -L` failed); "
                         "`vnnc check DIR` on a GPU host runs it")
    return rows, row
