// The C printer on vector<16xf32> values: a GCC vector of 16 floats (+ and * lane by
// lane), loads as copies of 16 consecutive floats, shuffles by __builtin_shuffle with the
// mask as written, extracts by subscript, and vector loop-carried values as C locals.
// RUN: vnnc-opt %s -p lower-to-loops -t c | filecheck %s

builtin.module {
  func.func @main(%x: tensor<1x32xf32>, %w: tensor<2x32xf32>) -> tensor<1x2xf32> {
    %y = spec.linear %x, %w : (tensor<1x32xf32>, tensor<2x32xf32>) -> tensor<1x2xf32>
    func.return %y : tensor<1x2xf32>
  }
}

// CHECK: typedef float vnnc_f32x16 __attribute__((vector_size(64)));
// CHECK: static inline vnnc_f32x16 vnnc_load_f32x16(const float* p) {
// CHECK-NEXT:   vnnc_f32x16 v;
// CHECK-NEXT:   memcpy(&v, p, sizeof v);
// CHECK: static void k_linear_1x32_2x32_1x2(float* restrict a0, float* restrict a1, float* restrict a2) {
// CHECK: const vnnc_f32x16 [[Z:v[0-9]+]] = (vnnc_f32x16){0x0.0p+0f, 0x0.0p+0f, {{.*}}, 0x0.0p+0f};
// CHECK: vnnc_f32x16 [[A:v[0-9]+]] = [[Z]];
// CHECK: for (ptrdiff_t [[B:v[0-9]+]] = {{.*}}) {
// CHECK: const vnnc_f32x16 [[X:v[0-9]+]] = vnnc_load_f32x16(&a0[{{v[0-9]+}}*32 + [[K:v[0-9]+]]]);
// CHECK: const vnnc_f32x16 [[W:v[0-9]+]] = vnnc_load_f32x16(&a1[{{v[0-9]+}}*32 + [[K]]]);
// CHECK: const vnnc_f32x16 [[P:v[0-9]+]] = [[X]] * [[W]];
// CHECK: const vnnc_f32x16 {{v[0-9]+}} = {{v[0-9]+}} + [[P]];
// CHECK: const vnnc_f32x16 [[E:v[0-9]+]] = __builtin_shuffle({{v[0-9]+}}, {{v[0-9]+}}, (vnnc_i32x16){0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30});
// CHECK: const float {{v[0-9]+}} = [[V:v[0-9]+]][0];
// CHECK: const float {{v[0-9]+}} = [[V]][15];
