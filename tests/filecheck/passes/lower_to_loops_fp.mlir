// fp ops lower to kernels computing in their accumulation type, rounding once into the
// storage format (fp.round on scalars) before each store; a directed rounding mode is
// a kernel attribute (the C printer sets it with fesetround).
// RUN: vnnc-opt %s -p lower-to-loops | filecheck %s

func.func @main(%a: tensor<4xbf16>, %b: tensor<4xbf16>) -> tensor<4xbf16> {
  %y = fp.add %a, %b {acc = "f64", rounding = "down"} : (tensor<4xbf16>, tensor<4xbf16>) -> tensor<4xbf16>
  func.return %y : tensor<4xbf16>
}

// CHECK:      func.func private @add_4_4_4(%{{.*}}: memref<4xf32>, %{{.*}}: memref<4xf32>, %{{.*}}: memref<4xf32>) attributes {vnnc.op = "fp.add", fp.rounding = "down"}
// CHECK:        %[[A:.*]] = memref.load
// CHECK-NEXT:   %[[AE:.*]] = arith.extf %[[A]] : f32 to f64
// CHECK-NEXT:   %[[B:.*]] = memref.load
// CHECK-NEXT:   %[[BE:.*]] = arith.extf %[[B]] : f32 to f64
// CHECK-NEXT:   %[[S:.*]] = arith.addf %[[AE]], %[[BE]] : f64
// CHECK-NEXT:   %[[R:.*]] = fp.round %[[S]] {format = "bf16", rounding = "down"} : (f64) -> f64
// CHECK-NEXT:   %[[T:.*]] = arith.truncf %[[R]] : f64 to f32
// CHECK-NEXT:   memref.store %[[T]]
