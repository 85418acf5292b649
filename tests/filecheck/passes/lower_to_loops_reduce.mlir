// reduce_sum / reduce_mean / reduce_max: the outer nest runs over the kept axes, one
// accumulator (0, or -inf with arith.maximumf) over the reduced axes, one store; mean
// divides by the reduced count; keepdims stores at index 0 of each reduced axis.
// RUN: vnnc-opt %s -p lower-to-loops | filecheck %s

builtin.module {
  func.func @main(%x: tensor<2x3x4xf32>) -> (tensor<3xf32>, tensor<2x3x1xf32>, tensor<f32>) {
    %s = spec.reduce_sum %x {axes = array<i64: 0, 2>, keepdims = false} : (tensor<2x3x4xf32>) -> tensor<3xf32>
    %m = spec.reduce_mean %x {axes = array<i64: -1>, keepdims = true} : (tensor<2x3x4xf32>) -> tensor<2x3x1xf32>
    %x2 = spec.reduce_max %x {axes = array<i64: 0, 1, 2>, keepdims = false} : (tensor<2x3x4xf32>) -> tensor<f32>
    func.return %s, %m, %x2 : tensor<3xf32>, tensor<2x3x1xf32>, tensor<f32>
  }
}

// CHECK-LABEL: func.func private @reduce_sum_2x3x4_3(%0: memref<2x3x4xf32>, %1: memref<3xf32>) attributes {vnnc.op = "spec.reduce_sum"} {
// CHECK-DAG:     %[[ZERO:[0-9]+]] = arith.constant 0.000000e+00 : f32
// CHECK-DAG:     %[[C0:[0-9]+]] = arith.constant 0 : index
// CHECK-DAG:     %[[C1:[0-9]+]] = arith.constant 1 : index
// CHECK-DAG:     %[[C2:[0-9]+]] = arith.constant 2 : index
// CHECK-DAG:     %[[C3:[0-9]+]] = arith.constant 3 : index
// CHECK-DAG:     %[[C4:[0-9]+]] = arith.constant 4 : index
// CHECK:         scf.for %[[J:[0-9]+]] = %[[C0]] to %[[C3]] step %[[C1]] {
// CHECK-NEXT:      %[[S:[0-9]+]] = scf.for %[[I:[0-9]+]] = %[[C0]] to %[[C2]] step %[[C1]] iter_args(%{{[0-9]+}} = %[[ZERO]]) -> (f32) {
// CHECK-NEXT:        scf.for %[[K:[0-9]+]] = %[[C0]] to %[[C4]] step %[[C1]] iter_args(%[[A:[0-9]+]] = %{{[0-9]+}}) -> (f32) {
// CHECK-NEXT:          %[[X:[0-9]+]] = memref.load %0[%[[I]], %[[J]], %[[K]]] : memref<2x3x4xf32>
// CHECK-NEXT:          arith.addf %[[A]], %[[X]] : f32
// CHECK:           memref.store %[[S]], %1[%[[J]]] : memref<3xf32>

// CHECK-LABEL: func.func private @reduce_mean_2x3x4_2x3x1(%0: memref<2x3x4xf32>, %1: memref<2x3x1xf32>) attributes {vnnc.op = "spec.reduce_mean"} {
// CHECK-DAG:     %[[M0:[0-9]+]] = arith.constant 0 : index
// CHECK-DAG:     %[[FOUR:[0-9]+]] = arith.constant 4.000000e+00 : f32
// CHECK:         scf.for %[[MI:[0-9]+]] =
// CHECK-NEXT:      scf.for %[[MJ:[0-9]+]] =
// CHECK-NEXT:        %[[MS:[0-9]+]] = scf.for %[[MK:[0-9]+]] = {{.*}} -> (f32) {
// CHECK-NEXT:          memref.load %0[%[[MI]], %[[MJ]], %[[MK]]] : memref<2x3x4xf32>
// CHECK:             %[[MEAN:[0-9]+]] = arith.divf %[[MS]], %[[FOUR]] : f32
// CHECK-NEXT:        memref.store %[[MEAN]], %1[%[[MI]], %[[MJ]], %[[M0]]] : memref<2x3x1xf32>

// CHECK-LABEL: func.func private @reduce_max_2x3x4_s(%0: memref<2x3x4xf32>, %1: memref<f32>) attributes {vnnc.op = "spec.reduce_max"} {
// CHECK-DAG:     %[[NEGINF:[0-9]+]] = arith.constant 0xff800000 : f32
// CHECK:         %[[MAX:[0-9]+]] = scf.for {{.*}} iter_args(%{{[0-9]+}} = %[[NEGINF]]) -> (f32) {
// CHECK-NEXT:      scf.for
// CHECK-NEXT:        scf.for {{.*}} iter_args(%[[XA:[0-9]+]] = %{{[0-9]+}}) -> (f32) {
// CHECK-NEXT:          %[[XV:[0-9]+]] = memref.load %0[%{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}}] : memref<2x3x4xf32>
// CHECK-NEXT:          arith.maximumf %[[XA]], %[[XV]] : f32
// CHECK:         memref.store %[[MAX]], %1[] : memref<f32>

// CHECK-LABEL: func.func public @main(
// CHECK-NEXT:    func.call @reduce_sum_2x3x4_3(%0, %1)
// CHECK-NEXT:    func.call @reduce_mean_2x3x4_2x3x1(%0, %2)
// CHECK-NEXT:    func.call @reduce_max_2x3x4_s(%0, %3)
