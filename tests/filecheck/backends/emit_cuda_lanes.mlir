// A lanes16 linear on the GPU is lane-split: each of its 8 outputs (4 rows x 2 columns) runs
// on 16 threads, thread l holding lane l of the vector accumulator (its loads of x and W
// read cell base + l: a half warp reads 16 consecutive floats), the 16 lanes meeting by
// shuffles within the half warp, then the tail of 8 and the bias summed as in the C kernel.
// RUN: vnnc compile %s --emit cuda | filecheck %s

builtin.module {
  func.func @main(%x: tensor<4x40xf32>, %w: tensor<2x40xf32>, %b: tensor<2xf32>) -> tensor<4x2xf32> {
    %y = spec.linear %x, %w, %b : (tensor<4x40xf32>, tensor<2x40xf32>, tensor<2xf32>) -> tensor<4x2xf32>
    func.return %y : tensor<4x2xf32>
  }
}

// CHECK: /* @linear_4x40_2x40_2_4x2: 2 parallel loop(s), 16 threads an iteration (lane l of each vector on thread l) */
// CHECK-NEXT: __global__ void [[K:k_linear_4x40_2x40_2_4x2_0]](
// CHECK: const ptrdiff_t vnnc_t = ((ptrdiff_t)blockIdx.x * blockDim.x + threadIdx.x) / 16;
// CHECK-NEXT: const int vnnc_lane = (int)(threadIdx.x % 16);
// CHECK-NEXT: const unsigned vnnc_half = 0xffffu << (threadIdx.x & 16);
// CHECK-NEXT: if (vnnc_t >= 8) return;
// CHECK: float [[ACC:v[0-9]+]] = {{v[0-9]+}};
// CHECK: const float {{v[0-9]+}} = a0[{{.*}} + vnnc_lane];
// CHECK-NEXT: const float {{v[0-9]+}} = a1[{{.*}} + vnnc_lane];
// CHECK-COUNT-16: __shfl_sync(vnnc_half, [[ACC]], {{[0-9]+}}, 16);
// CHECK: for (ptrdiff_t
// CHECK: a3[{{.*}}] =
// CHECK: VNNC_LAUNCH_LANES([[K]], 1, 128)(
