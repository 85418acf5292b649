// Data movement: every output element is loaded from one input element and stored once,
// at indices affine in the loop variables.
// transpose: y[i0, i1, i2] = x[i1, i2, i0] for perm (2, 0, 1).
// concat: one nest per operand; operand t stores at offset (sum of earlier extents) on the axis.
// slice: x[start + i*step] per dimension, negative steps included.
// flatten and reshape are copies through flat views, not kernels.
// RUN: vnnc-opt %s -p lower-to-loops | filecheck %s

builtin.module {
  func.func @main(%x: tensor<2x3x4xf32>, %y: tensor<2x2x4xf32>) -> (tensor<4x2x3xf32>, tensor<2x5x4xf32>, tensor<1x2x2xf32>, tensor<2x12xf32>) {
    %t = spec.transpose %x {perm = array<i64: 2, 0, 1>} : (tensor<2x3x4xf32>) -> tensor<4x2x3xf32>
    %c = spec.concat %x, %y {axis = 1 : i64} : (tensor<2x3x4xf32>, tensor<2x2x4xf32>) -> tensor<2x5x4xf32>
    %s = spec.slice %x {starts = array<i64: 1, 0, 3>, ends = array<i64: 2, 3, -1>, steps = array<i64: 1, 2, -2>} : (tensor<2x3x4xf32>) -> tensor<1x2x2xf32>
    %f = spec.flatten %x {axis = 1 : i64} : (tensor<2x3x4xf32>) -> tensor<2x12xf32>
    func.return %t, %c, %s, %f : tensor<4x2x3xf32>, tensor<2x5x4xf32>, tensor<1x2x2xf32>, tensor<2x12xf32>
  }
}

// CHECK-LABEL: func.func private @transpose_2x3x4_4x2x3(%0: memref<2x3x4xf32>, %1: memref<4x2x3xf32>) attributes {vnnc.op = "spec.transpose"} {
// CHECK-DAG:     %[[C0:[0-9]+]] = arith.constant 0 : index
// CHECK-DAG:     %[[C1:[0-9]+]] = arith.constant 1 : index
// CHECK-DAG:     %[[C2:[0-9]+]] = arith.constant 2 : index
// CHECK-DAG:     %[[C3:[0-9]+]] = arith.constant 3 : index
// CHECK-DAG:     %[[C4:[0-9]+]] = arith.constant 4 : index
// CHECK:         scf.for %[[I0:[0-9]+]] = %[[C0]] to %[[C4]] step %[[C1]] {
// CHECK-NEXT:      scf.for %[[I1:[0-9]+]] = %[[C0]] to %[[C2]] step %[[C1]] {
// CHECK-NEXT:        scf.for %[[I2:[0-9]+]] = %[[C0]] to %[[C3]] step %[[C1]] {
// CHECK-NEXT:          %[[V:[0-9]+]] = memref.load %0[%[[I1]], %[[I2]], %[[I0]]] : memref<2x3x4xf32>
// CHECK-NEXT:          memref.store %[[V]], %1[%[[I0]], %[[I1]], %[[I2]]] : memref<4x2x3xf32>

// CHECK-LABEL: func.func private @concat_2x3x4_2x2x4_2x5x4(%0: memref<2x3x4xf32>, %1: memref<2x2x4xf32>, %2: memref<2x5x4xf32>) attributes {vnnc.op = "spec.concat"} {
// CHECK-DAG:     %[[K0:[0-9]+]] = arith.constant 0 : index
// CHECK-DAG:     %[[K2:[0-9]+]] = arith.constant 2 : index
// CHECK-DAG:     %[[K3:[0-9]+]] = arith.constant 3 : index
// CHECK:         scf.for %[[A0:[0-9]+]] = %[[K0]] to %[[K2]]
// CHECK-NEXT:      scf.for %[[A1:[0-9]+]] = %[[K0]] to %[[K3]]
// CHECK-NEXT:        scf.for %[[A2:[0-9]+]] =
// CHECK-NEXT:          %[[VA:[0-9]+]] = memref.load %0[%[[A0]], %[[A1]], %[[A2]]] : memref<2x3x4xf32>
// CHECK-NEXT:          memref.store %[[VA]], %2[%[[A0]], %[[A1]], %[[A2]]] : memref<2x5x4xf32>
// CHECK:         scf.for %[[B0:[0-9]+]] = %[[K0]] to %[[K2]]
// CHECK-NEXT:      scf.for %[[B1:[0-9]+]] = %[[K0]] to %[[K2]]
// CHECK-NEXT:        scf.for %[[B2:[0-9]+]] =
// CHECK-NEXT:          %[[OFF:[0-9]+]] = arith.addi %[[B1]], %[[K3]] : index
// CHECK-NEXT:          %[[VB:[0-9]+]] = memref.load %1[%[[B0]], %[[B1]], %[[B2]]] : memref<2x2x4xf32>
// CHECK-NEXT:          memref.store %[[VB]], %2[%[[B0]], %[[OFF]], %[[B2]]] : memref<2x5x4xf32>

// CHECK-LABEL: func.func private @slice_2x3x4_1x2x2(%0: memref<2x3x4xf32>, %1: memref<1x2x2xf32>) attributes {vnnc.op = "spec.slice"} {
// CHECK-DAG:     %[[S1:[0-9]+]] = arith.constant 1 : index
// CHECK-DAG:     %[[S2:[0-9]+]] = arith.constant 2 : index
// CHECK-DAG:     %[[SM2:[0-9]+]] = arith.constant -2 : index
// CHECK-DAG:     %[[S3:[0-9]+]] = arith.constant 3 : index
// CHECK:         scf.for %[[J0:[0-9]+]] =
// CHECK-NEXT:      scf.for %[[J1:[0-9]+]] =
// CHECK-NEXT:        scf.for %[[J2:[0-9]+]] =
// CHECK-NEXT:          %[[X0:[0-9]+]] = arith.addi %[[J0]], %[[S1]] : index
// CHECK-NEXT:          %[[X1:[0-9]+]] = arith.muli %[[J1]], %[[S2]] : index
// CHECK-NEXT:          %[[X2A:[0-9]+]] = arith.muli %[[J2]], %[[SM2]] : index
// CHECK-NEXT:          %[[X2:[0-9]+]] = arith.addi %[[X2A]], %[[S3]] : index
// CHECK-NEXT:          %[[VS:[0-9]+]] = memref.load %0[%[[X0]], %[[X1]], %[[X2]]] : memref<2x3x4xf32>
// CHECK-NEXT:          memref.store %[[VS]], %1[%[[J0]], %[[J1]], %[[J2]]] : memref<1x2x2xf32>

// CHECK-LABEL: func.func public @main(
// CHECK-NEXT:    func.call @transpose_2x3x4_4x2x3(%0, %2)
// CHECK-NEXT:    func.call @concat_2x3x4_2x2x4_2x5x4(%0, %1, %3)
// CHECK-NEXT:    func.call @slice_2x3x4_1x2x2(%0, %4)
// CHECK-NEXT:    %[[FLAT_X:[0-9]+]] = memref.collapse_shape %0 {{.*}} : memref<2x3x4xf32> into memref<24xf32>
// CHECK-NEXT:    %[[FLAT_Y:[0-9]+]] = memref.collapse_shape %5 {{.*}} : memref<2x12xf32> into memref<24xf32>
// CHECK-NEXT:    "memref.copy"(%[[FLAT_X]], %[[FLAT_Y]])
