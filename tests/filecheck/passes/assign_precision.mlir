// assign-precision: inputs and parameters are rounded into the format of the op that
// reads them, each op gets its fp twin, results are rounded back to f32.
// RUN: vnnc-opt %s -p 'assign-precision{precision=bf16 rounding=down}' | filecheck %s

func.func @main(%x: tensor<1x4xf32>) -> tensor<1x3xf32> {
  %w = spec.param "fc.weight" {sha256 = "0000000000000000000000000000000000000000000000000000000000000000"} : tensor<3x4xf32>
  %y = spec.linear %x, %w : (tensor<1x4xf32>, tensor<3x4xf32>) -> tensor<1x3xf32>
  %r = spec.relu %y : (tensor<1x3xf32>) -> tensor<1x3xf32>
  %f = spec.flatten %r {axis = 1 : i64} : (tensor<1x3xf32>) -> tensor<1x3xf32>
  func.return %f : tensor<1x3xf32>
}

// CHECK:      %[[W:.*]] = spec.param "fc.weight"
// CHECK-NEXT: %[[XB:.*]] = fp.round %x {format = "bf16", rounding = "down"} : (tensor<1x4xf32>) -> tensor<1x4xbf16>
// CHECK-NEXT: %[[WB:.*]] = fp.round %[[W]] {format = "bf16", rounding = "down"} : (tensor<3x4xf32>) -> tensor<3x4xbf16>
// CHECK-NEXT: %[[Y:.*]] = fp.linear %[[XB]], %[[WB]] {rounding = "down"} : (tensor<1x4xbf16>, tensor<3x4xbf16>) -> tensor<1x3xbf16>
// CHECK-NEXT: %[[R:.*]] = fp.relu %[[Y]] {rounding = "down"} : (tensor<1x3xbf16>) -> tensor<1x3xbf16>
// CHECK-NEXT: %[[F:.*]] = fp.flatten %[[R]] {{{.*}}} : (tensor<1x3xbf16>) -> tensor<1x3xbf16>
// CHECK-NEXT: %[[O:.*]] = fp.round %[[F]] {format = "f32", rounding = "down"} : (tensor<1x3xbf16>) -> tensor<1x3xf32>
// CHECK-NEXT: func.return %[[O]] : tensor<1x3xf32>
