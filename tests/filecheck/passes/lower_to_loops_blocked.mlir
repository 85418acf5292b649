// A lanes16 linear computes a block of output rows and columns per iteration (here all
// 4 rows and both columns): each x row and each W row is loaded once per block of 16
// lanes, as one vector<16xf32>, and used by every output of its row or column; each
// output keeps its own 16 lanes (one vector accumulator). The outputs' lane trees are
// summed side by side (neighbouring lanes of two vectors per shuffle pair), the last level
// from extracted scalars; then the tail (40 = 2 * 16 + 8) in one loop carrying every
// output, then each output's bias and its store.
// RUN: vnnc-opt %s -p lower-to-loops | filecheck %s

builtin.module {
  func.func @main(%x: tensor<4x40xf32>, %w: tensor<2x40xf32>, %b: tensor<2xf32>) -> tensor<4x2xf32> {
    %y = spec.linear %x, %w, %b : (tensor<4x40xf32>, tensor<2x40xf32>, tensor<2xf32>) -> tensor<4x2xf32>
    func.return %y : tensor<4x2xf32>
  }
}

// CHECK-LABEL: func.func private @linear_4x40_2x40_2_4x2(
// CHECK-DAG:     %[[ZERO:[0-9]+]] = arith.constant dense<0.000000e+00> : vector<16xf32>
// CHECK-DAG:     %[[C2:[0-9]+]] = arith.constant 2 : index
// CHECK-DAG:     %[[C8:[0-9]+]] = arith.constant 8 : index
// CHECK-DAG:     %[[C16:[0-9]+]] = arith.constant 16 : index
// CHECK:         scf.for %[[I0:[0-9]+]] =
// CHECK-NEXT:      scf.for %[[J0:[0-9]+]] =
// CHECK:             %[[A0:[0-9]+]], %[[A1:[0-9]+]], %{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}} = scf.for %[[B:[0-9]+]] = %{{[0-9]+}} to %[[C2]] step %{{[0-9]+}} iter_args(%[[S0:[0-9]+]] = %[[ZERO]], %[[S1:[0-9]+]] = %[[ZERO]], {{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>) {
// CHECK-NEXT:          %[[K:[0-9]+]] = arith.muli %[[B]], %[[C16]] : index
// CHECK-NEXT:          %[[X0:[0-9]+]] = vector.load %0[%[[R0:[0-9]+]], %[[K]]] : memref<4x40xf32>, vector<16xf32>
// CHECK-NEXT:          vector.load %0[{{.*}}, %[[K]]] : memref<4x40xf32>, vector<16xf32>
// CHECK-NEXT:          vector.load %0[{{.*}}, %[[K]]] : memref<4x40xf32>, vector<16xf32>
// CHECK-NEXT:          vector.load %0[{{.*}}, %[[K]]] : memref<4x40xf32>, vector<16xf32>
// CHECK-NEXT:          %[[W0:[0-9]+]] = vector.load %1[%[[COL0:[0-9]+]], %[[K]]] : memref<2x40xf32>, vector<16xf32>
// CHECK-NEXT:          %[[W1:[0-9]+]] = vector.load %1[%[[COL1:[0-9]+]], %[[K]]] : memref<2x40xf32>, vector<16xf32>
// CHECK-NEXT:          %[[P00:[0-9]+]] = arith.mulf %[[X0]], %[[W0]] : vector<16xf32>
// CHECK-NEXT:          %[[N0:[0-9]+]] = arith.addf %[[S0]], %[[P00]] : vector<16xf32>
// CHECK-NEXT:          %[[P01:[0-9]+]] = arith.mulf %[[X0]], %[[W1]] : vector<16xf32>
// CHECK-NEXT:          %[[N1:[0-9]+]] = arith.addf %[[S1]], %[[P01]] : vector<16xf32>
// CHECK:               scf.yield %[[N0]], %[[N1]], {{.*}} : vector<16xf32>
// CHECK:             %[[E:[0-9]+]] = vector.shuffle %[[A0]], %[[A1]] [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30] : vector<16xf32>, vector<16xf32>
// CHECK-NEXT:        %[[O:[0-9]+]] = vector.shuffle %[[A0]], %[[A1]] [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31] : vector<16xf32>, vector<16xf32>
// CHECK-NEXT:        arith.addf %[[E]], %[[O]] : vector<16xf32>
// CHECK:             %[[L0:[0-9]+]] = vector.extract %[[V:[0-9]+]][0] : f32 from vector<16xf32>
// CHECK-NEXT:        %[[L1:[0-9]+]] = vector.extract %[[V]][1] : f32 from vector<16xf32>
// CHECK:             %[[T0:[0-9]+]] = arith.addf %[[L0]], %[[L1]] : f32
// CHECK:             %[[Y0:[0-9]+]], {{.*}} = scf.for %[[KT:[0-9]+]] = %{{[0-9]+}} to %[[C8]] step %{{[0-9]+}} iter_args(%{{[0-9]+}} = %[[T0]], {{.*}}) -> (f32, f32, f32, f32, f32, f32, f32, f32) {
// CHECK:               memref.load %0[%[[R0]], %{{[0-9]+}}] : memref<4x40xf32>
// CHECK:             %[[B0:[0-9]+]] = memref.load %2[%[[COL0]]] : memref<2xf32>
// CHECK-NEXT:        %[[Z0:[0-9]+]] = arith.addf %[[Y0]], %[[B0]] : f32
// CHECK-NEXT:        memref.store %[[Z0]], %3[%[[R0]], %[[COL0]]] : memref<4x2xf32>
