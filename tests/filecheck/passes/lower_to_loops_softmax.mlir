// softmax / log_softmax along an axis: per row, pass 1 folds the maximum m from -inf,
// pass 2 sums exp(x - m) from 0, pass 3 stores exp(x - m) / s (or (x - m) - log s).
// The row's loop runs over the chosen axis; the outer nest over the other axes.
// RUN: vnnc-opt %s -p lower-to-loops | filecheck %s

builtin.module {
  func.func @main(%x: tensor<2x3x5xf32>) -> tensor<2x3x5xf32> {
    %s = spec.softmax %x {axis = 1 : i64} : (tensor<2x3x5xf32>) -> tensor<2x3x5xf32>
    %l = spec.log_softmax %s {axis = -1 : i64} : (tensor<2x3x5xf32>) -> tensor<2x3x5xf32>
    func.return %l : tensor<2x3x5xf32>
  }
}

// CHECK-LABEL: func.func private @softmax_2x3x5_2x3x5(%0: memref<2x3x5xf32>, %1: memref<2x3x5xf32>) attributes {vnnc.op = "spec.softmax"} {
// CHECK-DAG:     %[[NEGINF:[0-9]+]] = arith.constant 0xff800000 : f32
// CHECK-DAG:     %[[ZERO:[0-9]+]] = arith.constant 0.000000e+00 : f32
// CHECK-DAG:     %[[C0:[0-9]+]] = arith.constant 0 : index
// CHECK-DAG:     %[[C1:[0-9]+]] = arith.constant 1 : index
// CHECK-DAG:     %[[C2:[0-9]+]] = arith.constant 2 : index
// CHECK-DAG:     %[[C3:[0-9]+]] = arith.constant 3 : index
// CHECK-DAG:     %[[C5:[0-9]+]] = arith.constant 5 : index
// CHECK:         scf.for %[[I:[0-9]+]] = %[[C0]] to %[[C2]] step %[[C1]] {
// CHECK-NEXT:      scf.for %[[K:[0-9]+]] = %[[C0]] to %[[C5]] step %[[C1]] {
// CHECK-NEXT:        %[[M:[0-9]+]] = scf.for %[[J:[0-9]+]] = %[[C0]] to %[[C3]] step %[[C1]] iter_args(%[[MA:[0-9]+]] = %[[NEGINF]]) -> (f32) {
// CHECK-NEXT:          %[[X:[0-9]+]] = memref.load %0[%[[I]], %[[J]], %[[K]]] : memref<2x3x5xf32>
// CHECK-NEXT:          %[[MN:[0-9]+]] = arith.maximumf %[[MA]], %[[X]] : f32
// CHECK-NEXT:          scf.yield %[[MN]] : f32
// CHECK-NEXT:        }
// CHECK-NEXT:        %[[S:[0-9]+]] = scf.for %[[J2:[0-9]+]] = %[[C0]] to %[[C3]] step %[[C1]] iter_args(%[[SA:[0-9]+]] = %[[ZERO]]) -> (f32) {
// CHECK-NEXT:          %[[X2:[0-9]+]] = memref.load %0[%[[I]], %[[J2]], %[[K]]] : memref<2x3x5xf32>
// CHECK-NEXT:          %[[D2:[0-9]+]] = arith.subf %[[X2]], %[[M]] : f32
// CHECK-NEXT:          %[[E2:[0-9]+]] = math.exp %[[D2]] : f32
// CHECK-NEXT:          %[[SN:[0-9]+]] = arith.addf %[[SA]], %[[E2]] : f32
// CHECK-NEXT:          scf.yield %[[SN]] : f32
// CHECK-NEXT:        }
// CHECK-NEXT:        scf.for %[[J3:[0-9]+]] = %[[C0]] to %[[C3]] step %[[C1]] {
// CHECK-NEXT:          %[[X3:[0-9]+]] = memref.load %0[%[[I]], %[[J3]], %[[K]]] : memref<2x3x5xf32>
// CHECK-NEXT:          %[[D3:[0-9]+]] = arith.subf %[[X3]], %[[M]] : f32
// CHECK-NEXT:          %[[E3:[0-9]+]] = math.exp %[[D3]] : f32
// CHECK-NEXT:          %[[Y:[0-9]+]] = arith.divf %[[E3]], %[[S]] : f32
// CHECK-NEXT:          memref.store %[[Y]], %1[%[[I]], %[[J3]], %[[K]]] : memref<2x3x5xf32>

// CHECK-LABEL: func.func private @log_softmax_2x3x5_2x3x5(%0: memref<2x3x5xf32>, %1: memref<2x3x5xf32>) attributes {vnnc.op = "spec.log_softmax"} {
// CHECK:         scf.for %[[LI:[0-9]+]] =
// CHECK-NEXT:      scf.for %[[LJ:[0-9]+]] =
// CHECK-NEXT:        %[[LM:[0-9]+]] = scf.for %[[LK:[0-9]+]] = {{.*}} -> (f32) {
// CHECK-NEXT:          memref.load %0[%[[LI]], %[[LJ]], %[[LK]]] : memref<2x3x5xf32>
// CHECK-NEXT:          arith.maximumf
// CHECK:             %[[LS:[0-9]+]] = scf.for
// CHECK:               math.exp
// CHECK:             %[[LOGS:[0-9]+]] = math.log %[[LS]] : f32
// CHECK-NEXT:        scf.for %[[LK3:[0-9]+]] =
// CHECK-NEXT:          %[[LX:[0-9]+]] = memref.load %0[%[[LI]], %[[LJ]], %[[LK3]]] : memref<2x3x5xf32>
// CHECK-NEXT:          %[[LD:[0-9]+]] = arith.subf %[[LX]], %[[LM]] : f32
// CHECK-NEXT:          %[[LY:[0-9]+]] = arith.subf %[[LD]], %[[LOGS]] : f32
// CHECK-NEXT:          memref.store %[[LY]], %1[%[[LI]], %[[LJ]], %[[LK3]]] : memref<2x3x5xf32>

// CHECK-LABEL: func.func public @main(
// CHECK-NEXT:    %[[T:[0-9]+]] = memref.alloc() {alignment = 64 : i64} : memref<2x3x5xf32>
// CHECK-NEXT:    func.call @softmax_2x3x5_2x3x5(%0, %[[T]])
// CHECK-NEXT:    func.call @log_softmax_2x3x5_2x3x5(%[[T]], %1)
// CHECK-NEXT:    memref.dealloc %[[T]] : memref<2x3x5xf32>
