"""The CUDA backend (backends/cuda.py): generated kernels compile, the parallel/serial decision,
errors, and numerics.

Without a GPU (this is CI): the generated CUDA compiles with nvcc (skipped, saying so, when nvcc
is absent), and the same source also runs on the CPU, built with the C++ compiler against a
small stand-in for the CUDA runtime (EMULATION below) that runs every launch's threads one
after another in reverse order: the host launcher, the thread-to-iteration mapping and the
kernels are compared bit for bit with the C backend's library built from the same loop IR.
With a GPU (`nvidia-smi -L` succeeds) the GPU tests compile bundles with `--target cuda`,
whose sampled run against the checker's reference must pass, and compare the GPU's results
with the C backend's: bit for bit where the model uses only + - * / max (f32, no FMA, same
order of operations), within a stated tolerance where it calls expf (CUDA's is not glibc's).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import vnnc
from vnnc import safetensors
from vnnc.backends.build import CUDA_FLAGS, build_shared
from vnnc.backends.c import abi_source, emit_c
from vnnc.backends.cuda import CudaPrintError, emit_cuda, gpu_present, plan_kernel
from vnnc.driver import emit, load_model, pipeline_passes, run_pipeline
from vnnc.frontend_mlir import parse_module
from vnnc.model import signature
from xdsl.dialects import func

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
NVCC = shutil.which("nvcc")
CXX = shutil.which("g++") or shutil.which("c++")
GPU = gpu_present()

needs_nvcc = pytest.mark.skipif(NVCC is None, reason="nvcc is not installed (CUDA source is only printed)")
needs_cxx = pytest.mark.skipif(CXX is None, reason="no C++ compiler for the CPU emulation of the CUDA source")
needs_gpu = pytest.mark.skipif(not GPU, reason="no GPU: `nvidia-smi -L` does not list one")

SOFTMAX_W = np.random.default_rng(4).uniform(-1, 1, (10, 10)).astype(np.float32)
SOFTMAX = """builtin.module {
  func.func @main(%x: tensor<4x10xf32> {vnnc.name = "x"}) -> (tensor<4x10xf32> {vnnc.name = "p"}) {
    %w = spec.constant dense<WEIGHTS> : tensor<10x10xf32>
    %h = spec.linear %x, %w : (tensor<4x10xf32>, tensor<10x10xf32>) -> tensor<4x10xf32>
    %p = spec.softmax %h {axis = 1 : i64} : (tensor<4x10xf32>) -> tensor<4x10xf32>
    func.return %p : tensor<4x10xf32>
  }
}
"""


def loop_module(path: Path, precision: dict | None = None, batch: int = 1):
    """(loop-level module, number of inputs, parameters) of a model file."""
    model = load_model(path, batch)
    n_inputs = len(signature(model.module)[0])
    stages = run_pipeline(model, pipeline_passes(precision))
    return parse_module(stages[-1].text, "loops"), n_inputs, model.params


@pytest.fixture(scope="module")
def softmax_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("softmax") / "softmax.mlir"
    rows = ", ".join("[" + ", ".join(repr(float(v)) for v in row) + "]" for row in SOFTMAX_W)
    path.write_text(SOFTMAX.replace("WEIGHTS", f"[{rows}]"))
    return path


def mlp_at_batch(batch: int, tmp: Path) -> Path:
    """examples/mlp.mlir with a batch of `batch` rows (its activations are tensor<1x...>)."""
    text = (EXAMPLES / "mlp.mlir").read_text().replace("tensor<1x", f"tensor<{batch}x")
    shutil.copy(EXAMPLES / "mlp.safetensors", tmp / "mlp.safetensors")
    (tmp / f"mlp{batch}.mlir").write_text(text)
    return tmp / f"mlp{batch}.mlir"


MODELS = {  # name -> (file, precision)
    "mlp": (EXAMPLES / "mlp.mlir", None),
    "cnn": (EXAMPLES / "cnn.mlir", None),
    "mlp-bf16": (EXAMPLES / "mlp.mlir", {"precision": "bf16"}),
}


def model_file(name: str, softmax_file: Path) -> tuple[Path, dict | None]:
    return (softmax_file, None) if name == "softmax" else MODELS[name]


# ---------------------------------------------------------------- nvcc compiles the source


def nvcc_compile(source: str, tmp: Path) -> None:
    """Host and device code of `source` through nvcc (sm_90 SASS and compute_90 PTX), as the
    build does, into an object file (no GPU needed)."""
    cu = tmp / "model.cu"
    cu.write_text(source)
    flags = [f for f in CUDA_FLAGS if f not in ("-shared",)]
    proc = subprocess.run([NVCC, *flags, "-c", "-o", str(tmp / "model.o"), str(cu)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]


@needs_nvcc
@pytest.mark.parametrize("name", ["mlp", "cnn", "softmax", "mlp-bf16"])
def test_generated_cuda_compiles_with_nvcc(name, softmax_file, tmp_path):
    path, precision = model_file(name, softmax_file)
    module, n_inputs, _ = loop_module(path, precision)
    source, header = emit_cuda(module, n_inputs)
    assert "__global__ void" in source and 'extern "C"' in source
    assert "vnnc_model_last_error" in header
    # one thread-safety rule: the device buffers are shared, not the C library's re-entrant runs
    assert "Not thread-safe: the device buffers are" in header and "re-entrant" not in header
    nvcc_compile(source, tmp_path)


LOWERING_INPUTS = sorted((ROOT / "tests" / "filecheck" / "passes").glob("lower_to_loops_*.mlir"))


@needs_nvcc
@pytest.mark.parametrize("path", LOWERING_INPUTS, ids=lambda p: p.stem)
def test_every_lowering_compiles_with_nvcc(path, tmp_path):
    """Every kernel kind lower-to-loops writes (its FileCheck inputs) prints as CUDA that nvcc
    accepts; a function with directed rounding is refused instead."""
    module = parse_module(path.read_text(), str(path))
    n_inputs = len(next(op for op in module.ops if isinstance(op, func.FuncOp)
                        and op.sym_name.data == "main").function_type.inputs.data)
    from vnnc.dialects.registry import make_context
    from vnnc.passes.lower_to_loops import LowerToLoopsPass

    LowerToLoopsPass().apply(make_context(), module)
    try:
        source, _ = emit_cuda(module, n_inputs)
    except CudaPrintError as e:
        assert "round-to-nearest only" in str(e)
        return
    nvcc_compile(source, tmp_path)


# ---------------------------------------------------------------- the parallel decision

KERNEL = """builtin.module {{
  func.func private @k(%in: memref<8xf32>, %out: memref<{n}xf32>) {{
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c2 = arith.constant 2 : index
    %c8 = arith.constant 8 : index
    %zero = arith.constant 0.0 : f32
{body}
    func.return
  }}
}}
"""


def plan(body: str, n: int = 16) -> list:
    module = parse_module(KERNEL.format(body=body, n=n), "kernel")
    fn = next(op for op in module.ops if isinstance(op, func.FuncOp))
    return [(launch.blocks, launch.threads, len(launch.loops)) for launch, _ in plan_kernel(fn)]


def test_elementwise_loop_is_parallel():
    assert plan("""    scf.for %i = %c0 to %c8 step %c1 {
      %x = memref.load %in[%i] : memref<8xf32>
      memref.store %x, %out[%i] : memref<16xf32>
    }""") == [(1, 8, 1)]


def test_reduction_into_one_cell_is_serial():
    """out[0] += in[i]: every iteration writes the same cell."""
    assert plan("""    scf.for %i = %c0 to %c8 step %c1 {
      %x = memref.load %in[%i] : memref<8xf32>
      %s = memref.load %out[%c0] : memref<16xf32>
      %t = arith.addf %s, %x : f32
      memref.store %t, %out[%c0] : memref<16xf32>
    }""") == [(1, 1, 0)]


def test_loop_carried_value_is_serial():
    assert plan("""    %r = scf.for %i = %c0 to %c8 step %c1 iter_args(%acc = %zero) -> (f32) {
      %x = memref.load %in[%i] : memref<8xf32>
      %t = arith.addf %acc, %x : f32
      memref.store %t, %out[%i] : memref<16xf32>
      scf.yield %t : f32
    }""") == [(1, 1, 0)]


def test_overlapping_stores_are_serial():
    """out[i] and out[i+1]: iteration i+1 writes what iteration i wrote."""
    assert plan("""    scf.for %i = %c0 to %c8 step %c1 {
      %x = memref.load %in[%i] : memref<8xf32>
      %j = arith.addi %i, %c1 : index
      memref.store %x, %out[%i] : memref<16xf32>
      memref.store %x, %out[%j] : memref<16xf32>
    }""") == [(1, 1, 0)]


def test_interleaved_stores_are_parallel():
    """out[2i] and out[2i+1]: a window of 2 cells per iteration, stride 2."""
    assert plan("""    scf.for %i = %c0 to %c8 step %c1 {
      %x = memref.load %in[%i] : memref<8xf32>
      %a = arith.muli %i, %c2 : index
      %b = arith.addi %a, %c1 : index
      memref.store %x, %out[%a] : memref<16xf32>
      memref.store %x, %out[%b] : memref<16xf32>
    }""") == [(1, 8, 1)]


def test_reading_another_iterations_cell_is_serial():
    """out[i] = out[i+1] (a shift in place): iteration i reads what iteration i+1 writes."""
    assert plan("""    scf.for %i = %c0 to %c8 step %c1 {
      %j = arith.addi %i, %c1 : index
      %x = memref.load %out[%j] : memref<16xf32>
      memref.store %x, %out[%i] : memref<16xf32>
    }""") == [(1, 1, 0)]


def test_inner_reduction_keeps_the_outer_loop_parallel():
    """for i: for j: out[i] = out[i] + in[j]: i is parallel, j (same cell) is not."""
    assert plan("""    scf.for %i = %c0 to %c8 step %c1 {
      scf.for %j = %c0 to %c8 step %c1 {
        %x = memref.load %in[%j] : memref<8xf32>
        %s = memref.load %out[%i] : memref<16xf32>
        %t = arith.addf %s, %x : f32
        memref.store %t, %out[%i] : memref<16xf32>
      }
    }""") == [(1, 8, 1)]


def test_flattened_index_of_two_loops_is_parallel():
    """out[2i + j] for i < 8, j < 2: a mixed radix, both loops parallel (16 threads)."""
    assert plan("""    scf.for %i = %c0 to %c8 step %c1 {
      scf.for %j = %c0 to %c2 step %c1 {
        %x = memref.load %in[%i] : memref<8xf32>
        %a = arith.muli %i, %c2 : index
        %b = arith.addi %a, %j : index
        memref.store %x, %out[%b] : memref<16xf32>
      }
    }""") == [(1, 16, 2)]


def test_colliding_flattened_index_keeps_only_the_outer_loop():
    """out[i + j] for j < 2: (i, j) = (1, 0) and (0, 1) write the same cell."""
    assert plan("""    scf.for %i = %c0 to %c8 step %c1 {
      scf.for %j = %c0 to %c2 step %c1 {
        %x = memref.load %in[%i] : memref<8xf32>
        %b = arith.addi %i, %j : index
        memref.store %x, %out[%b] : memref<16xf32>
      }
    }""") == [(1, 1, 0)]


def test_two_nests_are_two_launches_in_order():
    assert plan("""    scf.for %i = %c0 to %c8 step %c1 {
      memref.store %zero, %out[%i] : memref<16xf32>
    }
    scf.for %i = %c0 to %c8 step %c1 {
      %s = memref.load %out[%c0] : memref<16xf32>
      memref.store %s, %out[%c1] : memref<16xf32>
    }""") == [(1, 8, 1), (1, 1, 0)]


VECTOR_KERNEL = """builtin.module {{
  func.func private @k(%in: memref<4x32xf32>, %out: memref<4xf32>) {{
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c2 = arith.constant 2 : index
    %c4 = arith.constant 4 : index
    %c16 = arith.constant 16 : index
    %zero = arith.constant dense<0.0> : vector<16xf32>
    scf.for %i = %c0 to %c4 step %c1 {{
      %v = scf.for %k = %c0 to %c2 step %c1 iter_args(%acc = %zero) -> (vector<16xf32>) {{
        %kk = arith.muli %k, %c16 : index
        %x = vector.load %in[%i, %kk] : memref<4x32xf32>, vector<16xf32>
        %t = arith.addf %acc, %x : vector<16xf32>
        scf.yield %t : vector<16xf32>
      }}
      %s = vector.extract %v[3] : f32 from vector<16xf32>
{store}
    }}
    func.return
  }}
}}
"""


def vector_plan(store: str) -> list:
    module = parse_module(VECTOR_KERNEL.format(store=store), "kernel")
    fn = next(op for op in module.ops if isinstance(op, func.FuncOp))
    return [(launch.blocks, launch.threads, launch.lanes) for launch, _ in plan_kernel(fn)]


def test_vector_nest_is_lane_split():
    """Four iterations summing vectors: 16 threads each (lane l of every vector on thread l)."""
    assert vector_plan("      memref.store %s, %out[%i] : memref<4xf32>") == [(1, 64, 16)]


def test_vector_nest_that_reads_what_it_stores_is_not_lane_split():
    """out[i] = out[i] + s: a thread of the group could read the cell after another thread of
    its group rewrote it (a group's threads are in step only at shuffles): one thread each."""
    assert vector_plan("""      %o = memref.load %out[%i] : memref<4xf32>
      %u = arith.addf %o, %s : f32
      memref.store %u, %out[%i] : memref<4xf32>""") == [(1, 4, 1)]


# ---------------------------------------------------------------- the CUDA source on the CPU

EMULATION = r"""/* A stand-in for cuda_runtime.h: host memory, and each launch's threads run one after
 * another, the last thread first. Only for testing the generated source on a CPU. */
#pragma once
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#define __global__
#define __device__
#define __host__
struct vnnc_dim3 { unsigned x; };
static vnnc_dim3 blockIdx, blockDim, threadIdx;
typedef enum { cudaSuccess = 0, cudaErrorMemoryAllocation = 2 } cudaError_t;
typedef enum { cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice } cudaMemcpyKind;
static inline const char* cudaGetErrorString(cudaError_t) { return "emulated error"; }
static inline cudaError_t cudaMalloc(void** p, size_t n) {
  *p = malloc(n); return *p ? cudaSuccess : cudaErrorMemoryAllocation; }
static inline cudaError_t cudaFree(void* p) {  /* poisoned (NaN) and kept: a stale pointer shows */
  if (p) memset(p, 0xff, malloc_usable_size(p));
  return cudaSuccess; }
static inline cudaError_t cudaMemcpy(void* d, const void* s, size_t n, cudaMemcpyKind) {
  memcpy(d, s, n); return cudaSuccess; }
/* one stream; a graph is the list of launches and copies recorded while capturing, each with
 * the pointers it was given then, and replaying it runs them again in order */
#include <functional>
#include <vector>
typedef struct vnnc_stream_* cudaStream_t;
typedef std::vector<std::function<void()>>* cudaGraph_t;
typedef cudaGraph_t cudaGraphExec_t;
enum { cudaStreamNonBlocking = 1 };
typedef enum { cudaStreamCaptureModeThreadLocal } cudaStreamCaptureMode;
static cudaGraph_t vnnc_capturing = NULL;
static inline void vnnc_do(std::function<void()> f) {
  if (vnnc_capturing) vnnc_capturing->push_back(f); else f(); }
static inline cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned) {
  *s = (cudaStream_t)1; return cudaSuccess; }
static inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
static inline cudaError_t cudaStreamBeginCapture(cudaStream_t, cudaStreamCaptureMode) {
  vnnc_capturing = new std::vector<std::function<void()>>(); return cudaSuccess; }
static inline cudaError_t cudaStreamEndCapture(cudaStream_t, cudaGraph_t* g) {
  *g = vnnc_capturing; vnnc_capturing = NULL; return cudaSuccess; }
static inline cudaError_t cudaGraphInstantiate(cudaGraphExec_t* e, cudaGraph_t g, unsigned long long) {
  *e = new std::vector<std::function<void()>>(*g); return cudaSuccess; }
static inline cudaError_t cudaGraphDestroy(cudaGraph_t g) { delete g; return cudaSuccess; }
static inline cudaError_t cudaGraphExecDestroy(cudaGraphExec_t e) { delete e; return cudaSuccess; }
static inline cudaError_t cudaGraphLaunch(cudaGraphExec_t e, cudaStream_t) {
  for (auto& f : *e) f();
  return cudaSuccess; }
static inline cudaError_t cudaMemcpyAsync(void* d, const void* s, size_t n, cudaMemcpyKind k, cudaStream_t) {
  if (k == cudaMemcpyDeviceToDevice) vnnc_do([=] { memcpy(d, s, n); }); else memcpy(d, s, n);
  return cudaSuccess; }
static inline cudaError_t cudaGetLastError(void) { return cudaSuccess; }
static inline cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }
template <class K> struct vnnc_launch {
  K kernel; unsigned blocks, threads;
  template <class... A> void operator()(A... args) {
    K k = kernel; unsigned nb = blocks, nt = threads;
    vnnc_do([=] {
      blockDim.x = nt;
      for (unsigned b = nb; b-- > 0;)
        for (unsigned t = nt; t-- > 0;) { blockIdx.x = b; threadIdx.x = t; k(args...); }
    });
  }
};
template <class K> vnnc_launch<K> vnnc_emulate(K k, unsigned b, unsigned t) { return {k, b, t}; }
#define VNNC_LAUNCH(kernel, blocks, threads) vnnc_emulate(kernel, blocks, threads)

/* A lane-split launch: each group of 16 threads (the last group first) runs as 16 fibers in
 * lockstep between shuffles: __shfl_sync stores the fiber's value, yields until all 16 have,
 * reads its source lane's value, and yields until all 16 have read. */
#include <ucontext.h>
static ucontext_t vnnc_main_ctx, vnnc_fiber[16];
static bool vnnc_done[16];
static float vnnc_slot[16];
static int vnnc_cur;
static std::function<void()> vnnc_body;
static void vnnc_yield() { swapcontext(&vnnc_fiber[vnnc_cur], &vnnc_main_ctx); }
static void vnnc_fiber_main() { vnnc_body(); vnnc_done[vnnc_cur] = true; }
static inline float __shfl_sync(unsigned, float v, int src, int width) {
  if (width != 16 || src < 0 || src >= 16) abort();
  vnnc_slot[vnnc_cur] = v;
  vnnc_yield();
  const float r = vnnc_slot[src];
  vnnc_yield();
  return r;
}
template <class K> struct vnnc_launch_lanes {
  K kernel; unsigned blocks, threads;
  template <class... A> void operator()(A... args) {
    K k = kernel; unsigned nb = blocks, nt = threads;
    vnnc_do([=] { run(k, nb, nt, args...); });
  }
  template <class... A> static void run(K kernel, unsigned blocks, unsigned threads, A... args) {
    static std::vector<char> stacks(16 << 18);
    if (threads % 16) abort();
    blockDim.x = threads;
    vnnc_body = [&] { kernel(args...); };
    for (unsigned b = blocks; b-- > 0;)
      for (unsigned g = threads; g > 0; g -= 16) {
        for (int l = 0; l < 16; l++) {
          getcontext(&vnnc_fiber[l]);
          vnnc_fiber[l].uc_stack.ss_sp = &stacks[(size_t)l << 18];
          vnnc_fiber[l].uc_stack.ss_size = 1 << 18;
          vnnc_fiber[l].uc_link = &vnnc_main_ctx;
          makecontext(&vnnc_fiber[l], vnnc_fiber_main, 0);
          vnnc_done[l] = false;
        }
        for (bool running = true; running;) {  /* one round: every fiber to its next yield */
          running = false;
          for (int l = 0; l < 16; l++)
            if (!vnnc_done[l]) {
              vnnc_cur = l; blockIdx.x = b; threadIdx.x = g - 16 + l;
              swapcontext(&vnnc_main_ctx, &vnnc_fiber[l]);
              running = true;
            }
        }
      }
  }
};
template <class K> vnnc_launch_lanes<K> vnnc_emulate_lanes(K k, unsigned b, unsigned t) { return {k, b, t}; }
#define VNNC_LAUNCH_LANES(kernel, blocks, threads) vnnc_emulate_lanes(kernel, blocks, threads)
"""


def emulated_library(source: str, tmp: Path) -> Path:
    (tmp / "cuda_runtime.h").write_text(EMULATION)
    cu = tmp / "model_emulated.cpp"
    cu.write_text(source)
    lib = tmp / "libemulated.so"
    cmd = [CXX, "-std=c++17", "-O1", "-ffp-contract=off", "-fno-fast-math", "-fPIC", "-shared",
           "-Wno-unknown-pragmas", "-I", str(tmp), "-include", str(tmp / "cuda_runtime.h"),
           "-o", str(lib), str(cu), "-lm"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return lib


COMPARE = """
import json, sys
import numpy as np
from vnnc.backends.runner import Runner
c_lib, cuda_lib, params_file, inputs, outputs = sys.argv[1:6]
params = dict(np.load(params_file))
inputs, outputs = json.loads(inputs), json.loads(outputs)
c, cuda = (Runner(lib, params, inputs, outputs) for lib in (c_lib, cuda_lib))
rng = np.random.default_rng(1)
for sample in range(3):
    xs = [rng.uniform(-1, 1, s["shape"]).astype(np.float32) for s in inputs]
    for a, b in zip(c.run(*xs), cuda.run(*xs)):
        if a.tobytes() != b.tobytes():
            sys.exit(f"sample {sample}: max difference {np.abs(a - b).max()}")
"""


def compare_with_c(path: Path, precision: dict | None, tmp: Path, script: str | None = None) -> None:
    """Build the C library and the emulated CUDA library of one model and run `script`
    (default COMPARE: their outputs bit for bit) on them in a child process (a wrong kernel
    must fail the test, not crash it)."""
    import json

    inputs, outputs = signature(load_model(path).module)
    module, n_inputs, params = loop_module(path, precision)
    src, table = emit_c(module)
    (tmp / "model.c").write_text(src + abi_source(module, table)[0])
    build_shared(tmp / "model.c", tmp / "libc.so", portable=True)
    lib = emulated_library(emit_cuda(module, n_inputs)[0], tmp)
    np.savez(tmp / "params.npz", **params)
    proc = subprocess.run([sys.executable, "-c", script or COMPARE, str(tmp / "libc.so"), str(lib),
                           str(tmp / "params.npz"), json.dumps(inputs), json.dumps(outputs)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]


@needs_cxx
@pytest.mark.parametrize("name", ["mlp", "cnn", "softmax", "mlp-bf16"])
def test_cuda_source_on_the_cpu_equals_the_c_backend_bit_for_bit(name, softmax_file, tmp_path):
    """Same loop IR, same operations in the same order: the CUDA source run by the emulation
    (threads in reverse order) gives the C library's bits exactly (both use glibc's expf)."""
    path, precision = model_file(name, softmax_file)
    if name == "mlp":  # several rows: the batch loop runs across threads too
        path = mlp_at_batch(3, tmp_path)
    compare_with_c(path, precision, tmp_path)


REBIND = """
import sys
import numpy as np
from vnnc.backends.runner import Runner
c_lib, cuda_lib, params_file, inputs, outputs = sys.argv[1:6]
import json
inputs, outputs = json.loads(inputs), json.loads(outputs)
a = dict(np.load(params_file))
b = {k: (v[::-1].copy() if v.ndim else v) for k, v in a.items()}  # other weights, same shapes
x = np.random.default_rng(2).uniform(-1, 1, inputs[0]["shape"]).astype(np.float32)
for params in (a, a, b, b, a):  # the first run after each bind captures, the next replays
    want = Runner(c_lib, params, inputs, outputs).run(x)
    got = Runner(cuda_lib, params, inputs, outputs).run(x)
    if any(p.tobytes() != q.tobytes() for p, q in zip(want, got)):
        sys.exit("a run after binding other parameters differs from the C library's")
"""


@needs_cxx
def test_binding_other_parameters_replaces_the_captured_graph(tmp_path):
    """The first run after a bind captures the launches (with the device pointers of the
    parameters then bound); binding again frees and re-uploads them, so the graph must be made
    again: the emulation poisons freed device memory, so a stale graph gives NaN."""
    compare_with_c(mlp_at_batch(2, tmp_path), None, tmp_path, REBIND)


@needs_cxx
def test_gpu_path_of_the_driver_with_the_emulation_standing_in(monkeypatch, tmp_path):
    """What a GPU host does at compile time, here with the emulated library in place of
    nvcc's: the sampled run against the checker's reference becomes a passed `tested` row
    (not a `checks` row), and the bundle runs through the unchanged ctypes runner."""
    import vnnc.backends.build
    import vnnc.backends.cuda

    def build(source: Path, output: Path) -> list[str]:
        out = tmp_path / "emulation"
        out.mkdir(exist_ok=True)
        shutil.copy(emulated_library(source.read_text(), out), output)
        return ["emulated", str(source)]

    monkeypatch.setattr(vnnc.backends.build, "build_cuda", build)
    monkeypatch.setattr(vnnc.backends.cuda, "gpu_present", lambda: True)
    path = mlp_at_batch(4, tmp_path)
    g = vnnc.compile(path, out=tmp_path / "g", target="cuda")
    c = vnnc.compile(path, out=tmp_path / "c")
    (row,) = [r for r in g.manifest["tested"] if r["what"] == "cuda-library"]
    assert row["passed"] is True and "library" not in [r["stage"] for r in g.manifest["checks"]]
    x = np.random.default_rng(5).uniform(-1, 1, (4, 784)).astype(np.float32)
    assert g.run(x).tobytes() == c.run(x).tobytes()


def test_cuda_lowering_computes_one_output_per_sixteen_threads(tmp_path):
    """For the GPU, lower-to-loops leaves contractions unblocked (the C lowering computes 8 x 2
    outputs per iteration for the CPU's registers), and its certificate records no block; the
    first layer of the MLP at batch 4 is launched lane-split, 16 threads per output (each
    summing one lane of the 16, then exchanging them by shuffles)."""
    path = mlp_at_batch(4, tmp_path)
    blocks = {}
    for target in ("c", "cuda"):
        model = load_model(path, 1)
        stages = run_pipeline(model, pipeline_passes(None, False, target))
        kernels = stages[-1].witness["claims"]["kernels"]
        blocks[target] = {k["kernel"]: tuple(k.get("block", (1, 1))) for k in kernels if k["op"] == "spec.linear"}
    assert blocks["c"] and any(b != (1, 1) for b in blocks["c"].values())
    assert set(blocks["cuda"].values()) == {(1, 1)}
    source = emit(path, "cuda")
    launches = re.findall(r"VNNC_LAUNCH_LANES\((k_linear_4x784\w*), (\d+), (\d+)\)", source)
    assert launches and int(launches[0][1]) * int(launches[0][2]) == 4 * 256 * 16
    kernel = source.split(f"__global__ void {launches[0][0]}(")[1].split("\n}\n")[0]
    assert "vnnc_lane]" in kernel and kernel.count("__shfl_sync(vnnc_half") == 16


@needs_cxx
def test_a_wrong_cuda_library_fails_its_sampled_test(monkeypatch, tmp_path):
    """The tested row can fail: a library whose ReLU is a minimum is an error of the compile."""
    import vnnc.backends.build
    import vnnc.backends.cuda
    from vnnc.errors import VnncError

    def build(source: Path, output: Path) -> list[str]:
        wrong = source.read_text().replace("vnnc_maximumf(v", "vnnc_minimumf(v")
        shutil.copy(emulated_library(wrong, tmp_path), output)
        return ["emulated", str(source)]

    monkeypatch.setattr(vnnc.backends.build, "build_cuda", build)
    monkeypatch.setattr(vnnc.backends.cuda, "gpu_present", lambda: True)
    with pytest.raises(VnncError, match="CUDA library failed its sampled test"):
        vnnc.compile(EXAMPLES / "mlp.mlir", out=tmp_path / "g", target="cuda")


# ---------------------------------------------------------------- errors


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vnnc", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, check=False)


def test_directed_rounding_is_refused_with_one_clear_error(tmp_path):
    out = tmp_path / "b"
    proc = run_cli("compile", str(EXAMPLES / "mlp.mlir"), "--target", "cuda", "--precision", "bf16",
                   "--rounding", "down", "-o", str(out))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("vnnc: error: ") and "mlp.mlir" in line and "round-to-nearest only" in line
    assert not out.exists()


def test_missing_nvcc_is_one_clear_error(tmp_path):
    import os

    env = dict(os.environ, NVCC=str(tmp_path / "no-such-nvcc"))
    proc = run_cli("compile", str(EXAMPLES / "mlp.mlir"), "--target", "cuda", "-o", str(tmp_path / "b"), env=env)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("vnnc: error: ") and "nvcc" in line
    assert not (tmp_path / "b").exists()


def test_emit_c_with_target_cuda_is_refused():
    proc = run_cli("compile", str(EXAMPLES / "mlp.mlir"), "--target", "cuda", "--emit", "c")
    assert proc.returncode == 1 and "--emit cuda" in proc.stderr


def test_unknown_target_is_a_usage_error():
    proc = run_cli("compile", str(EXAMPLES / "mlp.mlir"), "--target", "opencl")
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


def test_host_ops_the_launcher_cannot_run_are_refused():
    module = parse_module("""builtin.module {
  func.func private @k(%a: memref<4xf32>) {
    func.return
  }
  func.func @main(%x: memref<4xf32>, %y: memref<4xf32>) {
    %c0 = arith.constant 0 : index
    %v = memref.load %x[%c0] : memref<4xf32>
    memref.store %v, %y[%c0] : memref<4xf32>
    func.return
  }
}
""", "host")
    with pytest.raises(CudaPrintError, match="the host part may only"):
        emit_cuda(module, 1)


# ---------------------------------------------------------------- bundles


@needs_nvcc
def test_cuda_bundle_is_checked_and_its_run_tested(tmp_path):
    """The loop IR is checked as for C; the CUDA library's sampled run is a `tested` row: run
    on a GPU host, and otherwise not run with the reason stated."""
    bundle = vnnc.compile(EXAMPLES / "mlp.mlir", out=tmp_path / "b", target="cuda")
    m = bundle.manifest
    assert m["target"] == "cuda" and m["artifacts"]["source"] == "model.cu"
    assert (bundle.path / "model.cu").is_file() and (bundle.path / "libmodel.so").is_file()
    assert "-fmad=false" in m["build"]["flags"] and not any("fast" in f for f in m["build"]["flags"])
    assert m["verified"] is True
    assert [r["stage"] for r in m["checks"]] == ["bundle", "00-import", "01-lower-to-loops"]
    (row,) = [r for r in m["tested"] if r["what"] == "cuda-library"]
    if GPU:
        assert row["passed"] is True
    else:
        assert row["passed"] is None and "no GPU" in row["reason"]
    proc = run_cli("check", str(bundle.path))
    assert proc.returncode == 0, proc.stderr
    assert "CUDA library (tested, not checked)" in proc.stdout
    # the manifest against the schema of docs/BUNDLE.md, with the validator of test_bundle_layout
    import importlib.util

    spec = importlib.util.spec_from_file_location("layout", Path(__file__).with_name("test_bundle_layout.py"))
    layout = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(layout)
    sch = layout.schema()
    assert layout.validate(m, sch, sch) == []


def test_a_c_bundle_relabelled_cuda_still_has_its_library_sampled(tmp_path):
    """`vnnc check` treats the library as CUDA (tested, not checked) only when it holds nvcc's
    fat binary: editing the manifest's target does not skip a C library's sampled check."""
    import json

    bundle = vnnc.compile(EXAMPLES / "mlp.mlir", out=tmp_path / "b")
    manifest = json.loads((bundle.path / "manifest.json").read_text())
    (bundle.path / "manifest.json").write_text(json.dumps(dict(manifest, target="cuda")))
    proc = run_cli("check", str(bundle.path))
    assert proc.returncode == 0, proc.stderr
    assert "CUDA library" not in proc.stdout
    assert any(line.split()[:2] == ["library", "accepted"] for line in proc.stdout.splitlines())


@needs_nvcc
@pytest.mark.skipif(GPU, reason="checks the error path of a host without a GPU")
def test_without_a_gpu_the_library_reports_the_cuda_error(tmp_path):
    bundle = vnnc.compile(EXAMPLES / "mlp.mlir", out=tmp_path / "b", target="cuda")
    proc = subprocess.run([sys.executable, "-c", f"""
import ctypes
lib = ctypes.CDLL({str(bundle.path / "libmodel.so")!r})
lib.vnnc_model_last_error.restype = ctypes.c_char_p
zeros = (ctypes.c_float * 200704)()
ptrs = (ctypes.c_void_p * 6)(*[ctypes.addressof(zeros)] * 6)
print(lib.vnnc_model_bind_params(ptrs), lib.vnnc_model_last_error().decode())
"""], capture_output=True, text=True, check=False)
    code, _, message = proc.stdout.strip().partition(" ")
    assert proc.returncode == 0 and code == "2" and message, proc.stdout + proc.stderr
    np.save(tmp_path / "x.npy", np.zeros((1, 784), np.float32))
    proc = run_cli("run", str(bundle.path), "--input", str(tmp_path / "x.npy"))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line == f"vnnc: error: {bundle.path}: the CUDA library failed: {message}"


# ---------------------------------------------------------------- on a GPU


@needs_gpu
@pytest.mark.parametrize("name,batch", [("mlp", 1), ("mlp", 64), ("cnn", 1), ("mlp-bf16", 1)])
def test_gpu_equals_the_c_backend_bit_for_bit(name, batch, softmax_file, tmp_path):
    """f32 (and bf16-emulated) + - * / max without FMA, same order: identical bits."""
    path, precision = model_file(name, softmax_file)
    if batch > 1:
        path = mlp_at_batch(batch, tmp_path)
    c = vnnc.compile(path, out=tmp_path / "c", precision=precision)
    g = vnnc.compile(path, out=tmp_path / "g", target="cuda", precision=precision)
    assert c.inputs[0]["shape"][0] == batch
    (row,) = [r for r in g.manifest["tested"] if r["what"] == "cuda-library"]
    assert row["passed"] is True, row
    rng = np.random.default_rng(2)
    for _ in range(3):
        xs = [rng.uniform(-1, 1, s["shape"]).astype(np.float32) for s in c.inputs]
        assert np.asarray(c.run(*xs)).tobytes() == np.asarray(g.run(*xs)).tobytes()


@needs_gpu
def test_gpu_softmax_within_the_expf_difference(softmax_file, tmp_path):
    """CUDA's expf is within 2 ulp, glibc's within 1: the softmax agrees to a few ulp, not
    necessarily bit for bit."""
    c = vnnc.compile(softmax_file, out=tmp_path / "c")
    g = vnnc.compile(softmax_file, out=tmp_path / "g", target="cuda")
    x = np.random.default_rng(3).uniform(-4, 4, (4, 10)).astype(np.float32)
    a, b = c.run(x), g.run(x)
    np.testing.assert_allclose(b, a, rtol=16 * 2.0**-24, atol=0)
    ref = np.exp(x.astype(np.float64) @ SOFTMAX_W.T.astype(np.float64))
    np.testing.assert_allclose(b, ref / ref.sum(axis=1, keepdims=True), rtol=1e-5)


def _linear(tmp: Path, w: np.ndarray) -> Path:
    safetensors.write(tmp / "p.safetensors", {"w": w})
    n_out, n_in = w.shape
    path = tmp / "m.mlir"
    path.write_text(f"""module attributes {{vnnc.params = "p.safetensors"}} {{
  func.func @main(%x: tensor<1x{n_in}xf32>) -> tensor<1x{n_out}xf32> {{
    %w = spec.param "w" {{sha256 = "{safetensors.param_sha256(w)}"}} : tensor<{n_out}x{n_in}xf32>
    %y = spec.linear %x, %w : (tensor<1x{n_in}xf32>, tensor<{n_out}x{n_in}xf32>) -> tensor<1x{n_out}xf32>
    func.return %y : tensor<1x{n_out}xf32>
  }}
}}
""")
    return path


@needs_gpu
def test_gpu_has_no_fma_contraction_and_no_flush_to_zero(tmp_path):
    """As tests/e2e/test_c_numerics_flags.py for C: fused, acc + x*w would give 2^-24, not 0;
    flushed, 2^-126 * 0.5 would give 0, not 2^-127."""
    e = 2.0**-12
    w = np.array([[-(1 + 2 * e), 1 + e]], np.float32)
    g = vnnc.compile(_linear(tmp_path, w), out=tmp_path / "a", target="cuda")
    assert g.run(np.array([[1.0, 1 + e]], np.float32))[0, 0] == 0.0
    g = vnnc.compile(_linear(tmp_path, np.array([[0.5]], np.float32)), out=tmp_path / "b", target="cuda",
                     force=True)
    assert g.run(np.array([[2.0**-126]], np.float32))[0, 0] == np.float32(2.0**-127)

