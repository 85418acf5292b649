// The CUDA printer's kernel structure: an elementwise nest runs one iteration per thread over
// both loops (a grid covering 2x4 iterations), a reduction into one cell runs on one thread,
// dense constants are uploaded at bind time, @main launches the kernels in order on the host
// (the first run after a bind captures the launches as a CUDA graph, later runs replay it),
// and the ABI is C's (extern "C"), every CUDA call checked.
// RUN: vnnc compile %s --emit cuda | filecheck %s

builtin.module {
  func.func @main(%x: tensor<2x4xf32>) -> (tensor<2x4xf32>, tensor<f32>) {
    %b = spec.constant dense<[0.5, -1.25, 0.1, 3.0]> : tensor<4xf32>
    %h = spec.add %x, %b : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
    %r = spec.relu %h : (tensor<2x4xf32>) -> tensor<2x4xf32>
    %m = spec.reduce_max %r {axes = array<i64: 0, 1>, keepdims = false} : (tensor<2x4xf32>) -> tensor<f32>
    func.return %r, %m : tensor<2x4xf32>, tensor<f32>
  }
}

// CHECK: #include <cuda_runtime.h>
// CHECK: static __host__ __device__ inline double vnnc_round(
// CHECK: static const float [[H:h_g_[A-Za-z0-9_]+]][4] {{.*}}= {0x1.0000000000000p-1f, -0x1.4000000000000p+0f, 0x1.99999a0000000p-4f, 0x1.8000000000000p+1f};
// CHECK: static const float* [[G:g_[A-Za-z0-9_]+]];  /* device copy of [[H]] */

// CHECK: /* @add_2x4_4_2x4: 2 parallel loop(s) */
// CHECK-NEXT: __global__ void [[ADD:k_add_2x4_4_2x4_0]](float* __restrict__ a0, float* __restrict__ a1, float* __restrict__ a2) {
// CHECK: const ptrdiff_t vnnc_t = (ptrdiff_t)blockIdx.x * blockDim.x + threadIdx.x;
// CHECK-NEXT: if (vnnc_t >= 8) return;
// CHECK-NEXT: const ptrdiff_t [[J:v[0-9]+]] = 0 + vnnc_t / 1 % 4 * 1;
// CHECK-NEXT: const ptrdiff_t [[I:v[0-9]+]] = 0 + vnnc_t / 4 % 2 * 1;
// CHECK-NOT: for (
// CHECK: a2[[[I]]*4 + [[J]]] =
// CHECK-NEXT: }

// CHECK: /* @relu_2x4_2x4: 2 parallel loop(s) */
// CHECK: __global__ void [[RELU:k_relu_2x4_2x4_0]](

// the maximum of every cell into one: a loop-carried value, so the whole function on one thread
// CHECK: /* @reduce_max_2x4_s: one thread */
// CHECK-NEXT: __global__ void [[MAX:k_reduce_max_2x4_s]](float* __restrict__ a0, float* __restrict__ a1) {
// CHECK: for (ptrdiff_t
// CHECK: vnnc_maximumf(

// CHECK: static int vnnc_model_main(float* __restrict__ a0, float* __restrict__ a1, float* __restrict__ a2) {
// CHECK: if (!ws_{{v[0-9]+}}) VNNC_CUDA(cudaMalloc(
// CHECK: VNNC_LAUNCH([[ADD]], 1, 8)(a0, {{v[0-9]+}}, {{v[0-9]+}});
// CHECK-NEXT: VNNC_CUDA(cudaGetLastError());
// CHECK: VNNC_LAUNCH([[RELU]], 1, 8)(
// CHECK: VNNC_LAUNCH([[MAX]], 1, 1)(a1, a2);
// CHECK: return 0;

// CHECK: extern "C" {
// a bind drops the captured graph (the parameters' device pointers change), then uploads
// CHECK: static cudaGraphExec_t vnnc_graph = NULL;
// CHECK: int vnnc_model_bind_params(const void* const* params) {
// CHECK-NEXT: if (vnnc_graph) VNNC_CUDA(cudaGraphExecDestroy(vnnc_graph));
// CHECK-NEXT: vnnc_graph = NULL;
// CHECK-NEXT: VNNC_CUDA_UPLOAD([[G]], [[H]], 4 * sizeof(*[[H]]));
// every copy and launch of a run on the library's stream; the first run after a bind runs
// @main, then captures it as a graph; later runs replay the graph
// CHECK: int vnnc_model_run(const void* const* args) {
// CHECK: VNNC_CUDA(cudaMemcpyAsync(d[0], args[0], 8 * sizeof(float), cudaMemcpyHostToDevice, vnnc_stream));
// CHECK-NOT: cudaMemcpyAsync(d[1], args[1]
// CHECK: if (vnnc_graph) {
// CHECK-NEXT: VNNC_CUDA(cudaGraphLaunch(vnnc_graph, vnnc_stream));
// CHECK-NEXT: } else {
// CHECK-NEXT: VNNC_TRY(vnnc_model_main((float*)d[0], (float*)d[1], (float*)d[2]));
// CHECK: VNNC_CUDA(cudaStreamBeginCapture(vnnc_stream, cudaStreamCaptureModeThreadLocal));
// CHECK-NEXT: const int rc = vnnc_model_main((float*)d[0], (float*)d[1], (float*)d[2]);
// CHECK-NEXT: const cudaError_t end = cudaStreamEndCapture(vnnc_stream, &graph);
// CHECK: cudaGraphInstantiate(&vnnc_graph, graph, 0);
// CHECK: cudaMemcpyAsync((void*)args[1], d[1], 8 * sizeof(float), cudaMemcpyDeviceToHost, vnnc_stream)
// CHECK: cudaMemcpyAsync((void*)args[2], d[2], 1 * sizeof(float), cudaMemcpyDeviceToHost, vnnc_stream)
// CHECK: VNNC_CUDA(cudaStreamSynchronize(vnnc_stream));
