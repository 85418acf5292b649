// The C of an emulated format: the kernel sets its rounding mode, computes in double
// and calls vnnc_round (bf16 = 8 exponent, 7 fraction bits) before storing.
// RUN: vnnc-opt %s -p lower-to-loops -t c | filecheck %s

func.func @main(%a: tensor<4xbf16>, %b: tensor<4xbf16>) -> tensor<4xbf16> {
  %y = fp.mul %a, %b {acc = "f64", rounding = "up"} : (tensor<4xbf16>, tensor<4xbf16>) -> tensor<4xbf16>
  func.return %y : tensor<4xbf16>
}

// CHECK: static inline double vnnc_round(double x, int ebits, int mbits, int kind, int mode)
// CHECK: static void k_mul_4_4_4({{.*}}) {
// CHECK-NEXT: const int vnnc_saved_mode = fegetround();
// CHECK-NEXT: fesetround(FE_UPWARD);
// CHECK: (double)
// CHECK: * 
// CHECK: vnnc_round((double){{.*}}, 8, 7, VNNC_FMT_IEEE, VNNC_RU)
// CHECK: fesetround(vnnc_saved_mode);
// CHECK-NEXT: return;
