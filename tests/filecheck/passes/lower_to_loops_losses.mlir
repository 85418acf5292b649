// Losses store one scalar into a rank-0 buffer (memref<f32>, empty index list).
// mse_loss: one sum of (p - t)^2 over all elements, divided by their count.
// cross_entropy: per sample n the i64 label is cast to an index; one pass over the
// classes folds the maximum m and selects the labelled logit (arith.cmpi eq + select,
// NaN if no class matches), a second sums exp(x - m); the sample adds
// (m - x[label]) + log s, and the total is divided by N.
// RUN: vnnc-opt %s -p lower-to-loops | filecheck %s

builtin.module {
  func.func @main(%p: tensor<4x3xf32>, %t: tensor<4x3xf32>, %labels: tensor<4xi64>) -> (tensor<f32>, tensor<f32>) {
    %mse = spec.mse_loss %p, %t : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<f32>
    %ce = spec.cross_entropy %p, %labels : (tensor<4x3xf32>, tensor<4xi64>) -> tensor<f32>
    func.return %mse, %ce : tensor<f32>, tensor<f32>
  }
}

// CHECK-LABEL: func.func private @mse_loss_4x3_4x3_s(%0: memref<4x3xf32>, %1: memref<4x3xf32>, %2: memref<f32>) attributes {vnnc.op = "spec.mse_loss"} {
// CHECK-DAG:     %[[ZERO:[0-9]+]] = arith.constant 0.000000e+00 : f32
// CHECK-DAG:     %[[COUNT:[0-9]+]] = arith.constant 1.200000e+01 : f32
// CHECK:         %[[TOTAL:[0-9]+]] = scf.for %[[I:[0-9]+]] = {{.*}} iter_args(%{{[0-9]+}} = %[[ZERO]]) -> (f32) {
// CHECK-NEXT:      scf.for %[[J:[0-9]+]] = {{.*}} iter_args(%[[A:[0-9]+]] = %{{[0-9]+}}) -> (f32) {
// CHECK-NEXT:        %[[P:[0-9]+]] = memref.load %0[%[[I]], %[[J]]] : memref<4x3xf32>
// CHECK-NEXT:        %[[T:[0-9]+]] = memref.load %1[%[[I]], %[[J]]] : memref<4x3xf32>
// CHECK-NEXT:        %[[D:[0-9]+]] = arith.subf %[[P]], %[[T]] : f32
// CHECK-NEXT:        %[[D2:[0-9]+]] = arith.mulf %[[D]], %[[D]] : f32
// CHECK-NEXT:        arith.addf %[[A]], %[[D2]] : f32
// CHECK:         %[[MSE:[0-9]+]] = arith.divf %[[TOTAL]], %[[COUNT]] : f32
// CHECK-NEXT:    memref.store %[[MSE]], %2[] : memref<f32>

// CHECK-LABEL: func.func private @cross_entropy_4x3_4_s(%0: memref<4x3xf32>, %1: memref<4xi64>, %2: memref<f32>) attributes {vnnc.op = "spec.cross_entropy"} {
// CHECK-DAG:     %[[CZERO:[0-9]+]] = arith.constant 0.000000e+00 : f32
// CHECK-DAG:     %[[NEGINF:[0-9]+]] = arith.constant 0xff800000 : f32
// CHECK-DAG:     %[[NAN:[0-9]+]] = arith.constant 0x7fc00000 : f32
// CHECK-DAG:     %[[C0:[0-9]+]] = arith.constant 0 : index
// CHECK-DAG:     %[[C1:[0-9]+]] = arith.constant 1 : index
// CHECK-DAG:     %[[C3:[0-9]+]] = arith.constant 3 : index
// CHECK-DAG:     %[[C4:[0-9]+]] = arith.constant 4 : index
// CHECK-DAG:     %[[N:[0-9]+]] = arith.constant 4.000000e+00 : f32
// CHECK:         %[[TOTAL:[0-9]+]] = scf.for %[[S:[0-9]+]] = %[[C0]] to %[[C4]] step %[[C1]] iter_args(%[[ACC:[0-9]+]] = %[[CZERO]]) -> (f32) {
// CHECK-NEXT:      %[[LABEL:[0-9]+]] = memref.load %1[%[[S]]] : memref<4xi64>
// CHECK-NEXT:      %[[LI:[0-9]+]] = arith.index_cast %[[LABEL]] : i64 to index
// CHECK-NEXT:      %[[M:[0-9]+]], %[[PICK:[0-9]+]] = scf.for %[[C:[0-9]+]] = %[[C0]] to %[[C3]] step %[[C1]] iter_args(%[[MA:[0-9]+]] = %[[NEGINF]], %[[PA:[0-9]+]] = %[[NAN]]) -> (f32, f32) {
// CHECK-NEXT:        %[[X:[0-9]+]] = memref.load %0[%[[S]], %[[C]]] : memref<4x3xf32>
// CHECK-NEXT:        %[[MN:[0-9]+]] = arith.maximumf %[[MA]], %[[X]] : f32
// CHECK-NEXT:        %[[IS:[0-9]+]] = arith.cmpi eq, %[[C]], %[[LI]] : index
// CHECK-NEXT:        %[[PN:[0-9]+]] = arith.select %[[IS]], %[[X]], %[[PA]] : f32
// CHECK-NEXT:        scf.yield %[[MN]], %[[PN]] : f32, f32
// CHECK-NEXT:      }
// CHECK-NEXT:      %[[SUM:[0-9]+]] = scf.for %[[C2:[0-9]+]] = %[[C0]] to %[[C3]] step %[[C1]] iter_args(%[[SA:[0-9]+]] = %[[CZERO]]) -> (f32) {
// CHECK-NEXT:        %[[X2:[0-9]+]] = memref.load %0[%[[S]], %[[C2]]] : memref<4x3xf32>
// CHECK-NEXT:        %[[D:[0-9]+]] = arith.subf %[[X2]], %[[M]] : f32
// CHECK-NEXT:        %[[E:[0-9]+]] = math.exp %[[D]] : f32
// CHECK-NEXT:        %[[SN:[0-9]+]] = arith.addf %[[SA]], %[[E]] : f32
// CHECK-NEXT:        scf.yield %[[SN]] : f32
// CHECK-NEXT:      }
// CHECK-NEXT:      %[[MP:[0-9]+]] = arith.subf %[[M]], %[[PICK]] : f32
// CHECK-NEXT:      %[[LOGS:[0-9]+]] = math.log %[[SUM]] : f32
// CHECK-NEXT:      %[[LOSS:[0-9]+]] = arith.addf %[[MP]], %[[LOGS]] : f32
// CHECK-NEXT:      %[[ACCN:[0-9]+]] = arith.addf %[[ACC]], %[[LOSS]] : f32
// CHECK-NEXT:      scf.yield %[[ACCN]] : f32
// CHECK-NEXT:    }
// CHECK-NEXT:    %[[CE:[0-9]+]] = arith.divf %[[TOTAL]], %[[N]] : f32
// CHECK-NEXT:    memref.store %[[CE]], %2[] : memref<f32>

// CHECK-LABEL: func.func public @main(%0: memref<4x3xf32> {vnnc.name = "input0"}, %1: memref<4x3xf32> {vnnc.name = "input1"}, %2: memref<4xi64> {vnnc.name = "input2"}, %3: memref<f32> {vnnc.name = "output0"}, %4: memref<f32> {vnnc.name = "output1"}) {
// CHECK-NEXT:    func.call @mse_loss_4x3_4x3_s(%0, %1, %3) : (memref<4x3xf32>, memref<4x3xf32>, memref<f32>) -> ()
// CHECK-NEXT:    func.call @cross_entropy_4x3_4_s(%0, %2, %4) : (memref<4x3xf32>, memref<4xi64>, memref<f32>) -> ()
