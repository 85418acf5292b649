// The fp dialect round-trips in custom and generic form: formats as element types,
// rounding / acc / order properties, fp.round between formats.
// RUN: vnnc-opt %s | vnnc-opt | filecheck %s
// RUN: vnnc-opt %s --print-op-generic | vnnc-opt | filecheck %s

func.func @main(%x: tensor<2x4xf32>, %w: tensor<3x4xf32>) -> tensor<2x3xf32> {
  %xb = fp.round %x {format = "bf16"} : (tensor<2x4xf32>) -> tensor<2x4xbf16>
  %wh = fp.round %w {format = "f16", rounding = "down"} : (tensor<3x4xf32>) -> tensor<3x4xf16>
  %y = fp.linear %xb, %wh {acc = "f64", rounding = "up"} : (tensor<2x4xbf16>, tensor<3x4xf16>) -> tensor<2x3xbf16>
  %r = fp.relu %y : (tensor<2x3xbf16>) -> tensor<2x3xbf16>
  %e = fp.round %r {format = "fp8-e4m3fn"} : (tensor<2x3xbf16>) -> tensor<2x3xf8E4M3FN>
  %c = fp.round %e {format = "e5m6", rounding = "zero"} : (tensor<2x3xf8E4M3FN>) -> tensor<2x3x!fp.float<"e5m6">>
  %s = fp.round %c {format = "fp8-e4m3fn-sat"} : (tensor<2x3x!fp.float<"e5m6">>) -> tensor<2x3x!fp.float<"fp8-e4m3fn-sat">>
  %o = fp.round %s {format = "f32"} : (tensor<2x3x!fp.float<"fp8-e4m3fn-sat">>) -> tensor<2x3xf32>
  func.return %o : tensor<2x3xf32>
}

// CHECK:      %{{.*}} = fp.round %{{.*}} {format = "bf16"} : (tensor<2x4xf32>) -> tensor<2x4xbf16>
// CHECK-NEXT: %{{.*}} = fp.round %{{.*}} {format = "f16", rounding = "down"} : (tensor<3x4xf32>) -> tensor<3x4xf16>
// CHECK-NEXT: %{{.*}} = fp.linear %{{.*}}, %{{.*}} {{{.*}}acc = "f64"{{.*}}rounding = "up"{{.*}}} : (tensor<2x4xbf16>, tensor<3x4xf16>) -> tensor<2x3xbf16>
// CHECK-NEXT: %{{.*}} = fp.relu %{{.*}} : (tensor<2x3xbf16>) -> tensor<2x3xbf16>
// CHECK-NEXT: fp.round %{{.*}} {format = "fp8-e4m3fn"} : (tensor<2x3xbf16>) -> tensor<2x3xf8E4M3FN>
// CHECK-NEXT: fp.round %{{.*}} {format = "e5m6", rounding = "zero"} : (tensor<2x3xf8E4M3FN>) -> tensor<2x3x!fp.float<"e5m6">>
// CHECK-NEXT: fp.round %{{.*}} {format = "fp8-e4m3fn-sat"}
// CHECK-NEXT: fp.round %{{.*}} {format = "f32"}

// A transcendental op's ulp contract round-trips with it.
func.func @contract(%x: tensor<2xbf16>) -> tensor<2xbf16> {
  %y = fp.tanh %x {libm = "tanhf", ulp = 2.5 : f64} : (tensor<2xbf16>) -> tensor<2xbf16>
  func.return %y : tensor<2xbf16>
}
// CHECK: fp.tanh %{{.*}} {libm = "tanhf", ulp = 2.500000e+00 : f64} : (tensor<2xbf16>) -> tensor<2xbf16>
