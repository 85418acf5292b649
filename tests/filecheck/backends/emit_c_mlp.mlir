// The C printer on a small MLP: exact hex float literals, one kernel per distinct op,
// @main calling the kernels, and the ABI wrappers.
// RUN: vnnc-opt %s -p lower-to-loops -t c | filecheck %s

builtin.module {
  func.func @main(%x: tensor<1x3xf32>) -> tensor<1x2xf32> {
    %w1 = spec.param "w1" {sha256 = "f1636b5f812ea0305e9cf60eb96b095289dea98b1da088d02dbcbbfccaec7c10"} : tensor<4x3xf32>
    %b1 = spec.constant dense<[0.5, -1.25, 0.1, 3.0]> : tensor<4xf32>
    %w2 = spec.param "w2" {sha256 = "f86ff306ab770edbe4187298ffc1b28fd3a830d0d1391639c5d7b87c62cbb310"} : tensor<2x4xf32>
    %h = spec.linear %x, %w1, %b1 : (tensor<1x3xf32>, tensor<4x3xf32>, tensor<4xf32>) -> tensor<1x4xf32>
    %r = spec.leaky_relu %h {alpha = 0.1} : (tensor<1x4xf32>) -> tensor<1x4xf32>
    %y = spec.linear %r, %w2 : (tensor<1x4xf32>, tensor<2x4xf32>) -> tensor<1x2xf32>
    func.return %y : tensor<1x2xf32>
  }
}

// CHECK: static const float* g_w1;  /* parameter 'w1', memref<4x3xf32> */
// 0.5, -1.25, 0.1f (rounded to float32) and 3.0, exactly:
// CHECK: static const float [[B1:g_[A-Za-z0-9_]+]][4] {{.*}}= {0x1.0000000000000p-1f, -0x1.4000000000000p+0f, 0x1.99999a0000000p-4f, 0x1.8000000000000p+1f};
// CHECK: static const float* g_w2;  /* parameter 'w2', memref<2x4xf32> */
// CHECK: static void k_linear_1x3_4x3_4_1x4(float* restrict a0, float* restrict a1, float* restrict a2, float* restrict a3) {
// CHECK: const float v{{[0-9]+}} = 0x0.0p+0f;
// CHECK: static void k_leaky_relu_1x4_1x4(
// CHECK: const float v{{[0-9]+}} = 0x1.99999a0000000p-4f;
// CHECK: int vnnc_model_main(float* restrict a0, float* restrict a1) {
// CHECK-NEXT: float* [[W1:v[0-9]+]] = (float*)g_w1;
// CHECK-NEXT: float* [[B:v[0-9]+]] = (float*)[[B1]];
// CHECK-NEXT: float* [[W2:v[0-9]+]] = (float*)g_w2;
// the model function's temporaries: a per-thread workspace, allocated on the first call
// CHECK: static _Thread_local float* ws_[[H:v[0-9]+]] = NULL;
// CHECK-NEXT: float* [[H]] = ws_[[H]] ? ws_[[H]] : (ws_[[H]] = (float*)vnnc_alloc(4 * sizeof(float)));
// CHECK-NEXT: if (![[H]]) return 1;
// CHECK: k_linear_1x3_4x3_4_1x4(a0, [[W1]], [[B]], [[H]]);
// CHECK: static _Thread_local float* ws_[[R:v[0-9]+]] = NULL;
// CHECK: k_leaky_relu_1x4_1x4([[H]], [[R]]);
// CHECK-NOT: free(
// CHECK: k_linear_1x4_2x4_1x2([[R]], [[W2]], a1);
// CHECK-NEXT: return 0;
// CHECK: static const char* const vnnc_param_names[2] = {"w1", "w2"};
// CHECK: int vnnc_model_run(const void* const* args) {
// CHECK-NEXT: return vnnc_model_main((float*)args[0], (float*)args[1]);
