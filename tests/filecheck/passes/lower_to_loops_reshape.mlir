// reshape and flatten are copies through flat (collapse_shape) views, not kernels;
// a reshape whose result is returned copies straight into the output buffer.
// RUN: vnnc-opt %s -p lower-to-loops | filecheck %s

func.func @main(%x: tensor<2x3x4xf32>) -> (tensor<6x4xf32>, tensor<4x6xf32>) {
  %f = spec.flatten %x {axis = 2 : i64} : (tensor<2x3x4xf32>) -> tensor<6x4xf32>
  %r = spec.reshape %x {shape = array<i64: 4, 6>} : (tensor<2x3x4xf32>) -> tensor<4x6xf32>
  func.return %f, %r : tensor<6x4xf32>, tensor<4x6xf32>
}

// CHECK-NOT:   func.func private
// CHECK:       func.func public @main(%[[X:[0-9]+]]: memref<2x3x4xf32> {{.*}}, %[[F:[0-9]+]]: memref<6x4xf32> {{.*}}, %[[R:[0-9]+]]: memref<4x6xf32> {{.*}})
// CHECK-NEXT:    %[[XF:.*]] = memref.collapse_shape %[[X]] {{\[}}[0 : i64, 1 : i64, 2 : i64]] : memref<2x3x4xf32> into memref<24xf32>
// CHECK-NEXT:    %[[FF:.*]] = memref.collapse_shape %[[F]] {{\[}}[0 : i64, 1 : i64]] : memref<6x4xf32> into memref<24xf32>
// CHECK-NEXT:    "memref.copy"(%[[XF]], %[[FF]])
// CHECK:         %[[RF:.*]] = memref.collapse_shape %[[R]] {{\[}}[0 : i64, 1 : i64]] : memref<4x6xf32> into memref<24xf32>
// CHECK-NEXT:    "memref.copy"(%{{.*}}, %[[RF]])
// CHECK-NEXT:    func.return
