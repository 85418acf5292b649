// A matmul of 2-D f32 operands with at least 16 columns is vectorised over its columns:
// here both rows and 16 columns per iteration (the block 2 x 16), a[i, k] broadcast to the
// 16 lanes, b[k, j0:j0+16] one load shared by both rows, every output summed from 0 in
// increasing k; then the two remaining columns one output at a time.
// RUN: vnnc-opt %s -p lower-to-loops | filecheck %s

builtin.module {
  func.func @main(%x: tensor<2x3xf32>, %w: tensor<3x18xf32>) -> tensor<2x18xf32> {
    %y = spec.matmul %x, %w : (tensor<2x3xf32>, tensor<3x18xf32>) -> tensor<2x18xf32>
    func.return %y : tensor<2x18xf32>
  }
}

// CHECK-LABEL: func.func private @matmul_2x3_3x18_2x18(
// CHECK-DAG:     %[[ZERO:[0-9]+]] = arith.constant dense<0.000000e+00> : vector<16xf32>
// CHECK-DAG:     %[[C3:[0-9]+]] = arith.constant 3 : index
// CHECK:         scf.for %[[I0:[0-9]+]] =
// CHECK-NEXT:      scf.for %[[J0:[0-9]+]] =
// CHECK:             %[[R0:[0-9]+]], %[[R1:[0-9]+]] = scf.for %[[K:[0-9]+]] = %{{[0-9]+}} to %[[C3]] step %{{[0-9]+}} iter_args(%[[S0:[0-9]+]] = %[[ZERO]], %[[S1:[0-9]+]] = %[[ZERO]]) -> (vector<16xf32>, vector<16xf32>) {
// CHECK-NEXT:          %[[W:[0-9]+]] = vector.load %1[%[[K]], %[[COL:[0-9]+]]] : memref<3x18xf32>, vector<16xf32>
// CHECK-NEXT:          %[[A0:[0-9]+]] = memref.load %0[%[[ROW0:[0-9]+]], %[[K]]] : memref<2x3xf32>
// CHECK-NEXT:          %[[B0:[0-9]+]] = vector.broadcast %[[A0]] : f32 to vector<16xf32>
// CHECK-NEXT:          %[[P0:[0-9]+]] = arith.mulf %[[B0]], %[[W]] : vector<16xf32>
// CHECK-NEXT:          %[[T0:[0-9]+]] = arith.addf %[[S0]], %[[P0]] : vector<16xf32>
// CHECK-NEXT:          %[[A1:[0-9]+]] = memref.load %0[%{{[0-9]+}}, %[[K]]] : memref<2x3xf32>
// CHECK-NEXT:          %[[B1:[0-9]+]] = vector.broadcast %[[A1]] : f32 to vector<16xf32>
// CHECK-NEXT:          %[[P1:[0-9]+]] = arith.mulf %[[B1]], %[[W]] : vector<16xf32>
// CHECK-NEXT:          %[[T1:[0-9]+]] = arith.addf %[[S1]], %[[P1]] : vector<16xf32>
// CHECK-NEXT:          scf.yield %[[T0]], %[[T1]] : vector<16xf32>, vector<16xf32>
// CHECK:             vector.extract %[[R0]][0] : f32 from vector<16xf32>
// CHECK:             vector.extract %[[R1]][15] : f32 from vector<16xf32>
// The two last columns: one sequential sum each.
// CHECK:         scf.for
// CHECK-NEXT:      scf.for
// CHECK:             scf.for %{{[0-9]+}} = %{{[0-9]+}} to %[[C3]] step %{{[0-9]+}} iter_args(%{{[0-9]+}} = %{{[0-9]+}}) -> (f32) {
// CHECK:               arith.mulf %{{[0-9]+}}, %{{[0-9]+}} : f32
// CHECK-NEXT:          arith.addf %{{[0-9]+}}, %{{[0-9]+}} : f32
