// Contractions: one accumulator per output element, initialised once to 0 and summed in
// increasing order of the contracted index; linear adds its bias once, after the sum.
// matmul follows numpy.matmul: a 1-D operand is promoted and its axis dropped again;
// batch dimensions broadcast (a size-1 batch axis reads index 0).
// RUN: vnnc-opt %s -p lower-to-loops | filecheck %s

builtin.module {
  func.func @main(%x: tensor<2x3x5xf32>, %w: tensor<4x5xf32>, %bias: tensor<4xf32>, %v: tensor<5xf32>, %bm: tensor<2x1x3x5xf32>, %bw: tensor<4x5x2xf32>) -> (tensor<2x3x4xf32>, tensor<2x3xf32>, tensor<2x4x3x2xf32>) {
    %y = spec.linear %x, %w, %bias : (tensor<2x3x5xf32>, tensor<4x5xf32>, tensor<4xf32>) -> tensor<2x3x4xf32>
    %m = spec.matmul %x, %v : (tensor<2x3x5xf32>, tensor<5xf32>) -> tensor<2x3xf32>
    %bb = spec.matmul %bm, %bw : (tensor<2x1x3x5xf32>, tensor<4x5x2xf32>) -> tensor<2x4x3x2xf32>
    func.return %y, %m, %bb : tensor<2x3x4xf32>, tensor<2x3xf32>, tensor<2x4x3x2xf32>
  }
}

// CHECK-LABEL: func.func private @linear_2x3x5_4x5_4_2x3x4(%0: memref<2x3x5xf32>, %1: memref<4x5xf32>, %2: memref<4xf32>, %3: memref<2x3x4xf32>) attributes {vnnc.op = "spec.linear"} {
// CHECK-DAG:     %[[ZERO:[0-9]+]] = arith.constant 0.000000e+00 : f32
// CHECK-DAG:     %[[C0:[0-9]+]] = arith.constant 0 : index
// CHECK-DAG:     %[[C1:[0-9]+]] = arith.constant 1 : index
// CHECK-DAG:     %[[C2:[0-9]+]] = arith.constant 2 : index
// CHECK-DAG:     %[[C3:[0-9]+]] = arith.constant 3 : index
// CHECK-DAG:     %[[C4:[0-9]+]] = arith.constant 4 : index
// CHECK-DAG:     %[[C5:[0-9]+]] = arith.constant 5 : index
// CHECK:         scf.for %[[B:[0-9]+]] = %[[C0]] to %[[C2]] step %[[C1]] {
// CHECK-NEXT:      scf.for %[[I:[0-9]+]] = %[[C0]] to %[[C3]] step %[[C1]] {
// CHECK-NEXT:        scf.for %[[J:[0-9]+]] = %[[C0]] to %[[C4]] step %[[C1]] {
// CHECK-NEXT:          %[[ACC:[0-9]+]] = scf.for %[[K:[0-9]+]] = %[[C0]] to %[[C5]] step %[[C1]] iter_args(%[[A:[0-9]+]] = %[[ZERO]]) -> (f32) {
// CHECK-NEXT:            %[[X:[0-9]+]] = memref.load %0[%[[B]], %[[I]], %[[K]]] : memref<2x3x5xf32>
// CHECK-NEXT:            %[[W:[0-9]+]] = memref.load %1[%[[J]], %[[K]]] : memref<4x5xf32>
// CHECK-NEXT:            %[[XW:[0-9]+]] = arith.mulf %[[X]], %[[W]] : f32
// CHECK-NEXT:            %[[S:[0-9]+]] = arith.addf %[[A]], %[[XW]] : f32
// CHECK-NEXT:            scf.yield %[[S]] : f32
// CHECK-NEXT:          }
// CHECK-NEXT:          %[[BJ:[0-9]+]] = memref.load %2[%[[J]]] : memref<4xf32>
// CHECK-NEXT:          %[[Y:[0-9]+]] = arith.addf %[[ACC]], %[[BJ]] : f32
// CHECK-NEXT:          memref.store %[[Y]], %3[%[[B]], %[[I]], %[[J]]] : memref<2x3x4xf32>

// CHECK-LABEL: func.func private @matmul_2x3x5_5_2x3(%0: memref<2x3x5xf32>, %1: memref<5xf32>, %2: memref<2x3xf32>) attributes {vnnc.op = "spec.matmul"} {
// CHECK:         scf.for %[[MB:[0-9]+]] =
// CHECK-NEXT:      scf.for %[[MI:[0-9]+]] =
// CHECK-NEXT:        %[[MACC:[0-9]+]] = scf.for %[[MK:[0-9]+]] = {{.*}} -> (f32) {
// CHECK-NEXT:          memref.load %0[%[[MB]], %[[MI]], %[[MK]]] : memref<2x3x5xf32>
// CHECK-NEXT:          memref.load %1[%[[MK]]] : memref<5xf32>
// CHECK:             memref.store %[[MACC]], %2[%[[MB]], %[[MI]]] : memref<2x3xf32>

// CHECK-LABEL: func.func private @matmul_2x1x3x5_4x5x2_2x4x3x2(%0: memref<2x1x3x5xf32>, %1: memref<4x5x2xf32>, %2: memref<2x4x3x2xf32>) attributes {vnnc.op = "spec.matmul"} {
// CHECK-DAG:     %[[Z0:[0-9]+]] = arith.constant 0 : index
// CHECK:         scf.for %[[P:[0-9]+]] =
// CHECK-NEXT:      scf.for %[[Q:[0-9]+]] =
// CHECK-NEXT:        scf.for %[[R:[0-9]+]] =
// CHECK-NEXT:          scf.for %[[T:[0-9]+]] =
// CHECK-NEXT:            %[[BACC:[0-9]+]] = scf.for %[[BK:[0-9]+]] = {{.*}} -> (f32) {
// CHECK-NEXT:              memref.load %0[%[[P]], %[[Z0]], %[[R]], %[[BK]]] : memref<2x1x3x5xf32>
// CHECK-NEXT:              memref.load %1[%[[Q]], %[[BK]], %[[T]]] : memref<4x5x2xf32>
// CHECK:               memref.store %[[BACC]], %2[%[[P]], %[[Q]], %[[R]], %[[T]]] : memref<2x4x3x2xf32>

// CHECK-LABEL: func.func public @main(
// CHECK-NEXT:    func.call @linear_2x3x5_4x5_4_2x3x4(%0, %1, %2, %6)
// CHECK-NEXT:    func.call @matmul_2x3x5_5_2x3(%0, %3, %7)
// CHECK-NEXT:    func.call @matmul_2x1x3x5_4x5x2_2x4x3x2(%4, %5, %8)
