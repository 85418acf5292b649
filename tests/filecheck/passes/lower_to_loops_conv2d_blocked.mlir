// conv2d on the CPU: an iteration computes 2 output channels by a row of output columns (here
// all 3), six accumulators carried through one reduction over (c, p, q) in the unblocked
// order, so each output gets the same bits as one output per iteration. A tap's x value is
// loaded once per column (guarded where the window leaves the input) and its weight once per
// channel; every index is computed once; the bias is loaded once per channel after the sums.
// RUN: vnnc-opt %s -p lower-to-loops | filecheck %s

builtin.module {
  func.func @main(%x: tensor<1x2x4x3xf32>, %w: tensor<4x2x2x2xf32>, %b: tensor<4xf32>) -> tensor<1x4x4x3xf32> {
    %y = spec.conv2d %x, %w, %b {pads = array<i64: 1, 1, 0, 0>} : (tensor<1x2x4x3xf32>, tensor<4x2x2x2xf32>, tensor<4xf32>) -> tensor<1x4x4x3xf32>
    func.return %y : tensor<1x4x4x3xf32>
  }
}

// CHECK-LABEL: func.func private @conv2d_1x2x4x3_4x2x2x2_4_1x4x4x3(
// CHECK-DAG:     %[[C0:[0-9]+]] = arith.constant 0 : index
// CHECK-DAG:     %[[C1:[0-9]+]] = arith.constant 1 : index
// CHECK-DAG:     %[[C2:[0-9]+]] = arith.constant 2 : index
// CHECK-DAG:     %[[C3:[0-9]+]] = arith.constant 3 : index
// CHECK-DAG:     %[[C4:[0-9]+]] = arith.constant 4 : index
// CHECK-DAG:     %[[ZERO:[0-9]+]] = arith.constant 0.000000e+00 : f32
// the nest: n, channel pairs (4 / 2), rows, column blocks (3 / 3)
// CHECK:         scf.for %[[N:[0-9]+]] = %[[C0]] to %[[C1]] step %[[C1]] {
// CHECK-NEXT:      scf.for %[[O0:[0-9]+]] = %[[C0]] to %[[C2]] step %[[C1]] {
// CHECK-NEXT:        scf.for %[[I:[0-9]+]] = %[[C0]] to %[[C4]] step %[[C1]] {
// CHECK-NEXT:          scf.for %[[J0:[0-9]+]] = %[[C0]] to %[[C1]] step %[[C1]] {
// CHECK-NEXT:            %[[OA:[0-9]+]] = arith.muli %[[O0]], %[[C2]] : index
// CHECK-NEXT:            %[[OB:[0-9]+]] = arith.addi %[[OA]], %[[C1]] : index
// CHECK-NEXT:            %[[JA:[0-9]+]] = arith.muli %[[J0]], %[[C3]] : index
// CHECK-NEXT:            %[[JB:[0-9]+]] = arith.addi %[[JA]], %[[C1]] : index
// CHECK-NEXT:            %[[JC:[0-9]+]] = arith.addi %[[JA]], %[[C2]] : index
// CHECK-NEXT:            %[[R0:[0-9]+]], %[[R1:[0-9]+]], %[[R2:[0-9]+]], %[[R3:[0-9]+]], %{{[0-9]+}}, %{{[0-9]+}} = scf.for %[[C:[0-9]+]] = %[[C0]] to %[[C2]] step %[[C1]] iter_args({{.*}}) -> (f32, f32, f32, f32, f32, f32) {
// CHECK-NEXT:              scf.for %[[P:[0-9]+]] = %[[C0]] to %[[C2]] step %[[C1]] iter_args
// CHECK-NEXT:                scf.for %[[Q:[0-9]+]] = %[[C0]] to %[[C2]] step %[[C1]] iter_args(%[[A0:[0-9]+]] = %{{[0-9]+}}, %[[A1:[0-9]+]] = %{{[0-9]+}}, %[[A2:[0-9]+]] = %{{[0-9]+}}, %[[A3:[0-9]+]] = %{{[0-9]+}}, %[[A4:[0-9]+]] = %{{[0-9]+}}, %[[A5:[0-9]+]] = %{{[0-9]+}}) -> (f32, f32, f32, f32, f32, f32) {
// one guarded x load per column, all in row h
// CHECK:                       %[[X0:[0-9]+]] = scf.if
// CHECK-NEXT:                    memref.load %0[%[[N]], %[[C]], %{{[0-9]+}}, %{{[0-9]+}}]
// CHECK:                       %[[X1:[0-9]+]] = scf.if
// CHECK:                       %[[X2:[0-9]+]] = scf.if
// CHECK-NOT:                   scf.if
// one weight load per channel
// CHECK:                       %[[WA:[0-9]+]] = memref.load %1[%[[OA]], %[[C]], %[[P]], %[[Q]]] : memref<4x2x2x2xf32>
// CHECK-NEXT:                  %[[WB:[0-9]+]] = memref.load %1[%[[OB]], %[[C]], %[[P]], %[[Q]]] : memref<4x2x2x2xf32>
// each accumulator: its own column's x times its own channel's weight
// CHECK-NEXT:                  %[[M0:[0-9]+]] = arith.mulf %[[X0]], %[[WA]] : f32
// CHECK-NEXT:                  %[[S0:[0-9]+]] = arith.addf %[[A0]], %[[M0]] : f32
// CHECK-NEXT:                  %[[M1:[0-9]+]] = arith.mulf %[[X1]], %[[WA]] : f32
// CHECK-NEXT:                  %[[S1:[0-9]+]] = arith.addf %[[A1]], %[[M1]] : f32
// CHECK-NEXT:                  %[[M2:[0-9]+]] = arith.mulf %[[X2]], %[[WA]] : f32
// CHECK-NEXT:                  %[[S2:[0-9]+]] = arith.addf %[[A2]], %[[M2]] : f32
// CHECK-NEXT:                  %[[M3:[0-9]+]] = arith.mulf %[[X0]], %[[WB]] : f32
// CHECK-NEXT:                  %[[S3:[0-9]+]] = arith.addf %[[A3]], %[[M3]] : f32
// CHECK-NEXT:                  %[[M4:[0-9]+]] = arith.mulf %[[X1]], %[[WB]] : f32
// CHECK-NEXT:                  %[[S4:[0-9]+]] = arith.addf %[[A4]], %[[M4]] : f32
// CHECK-NEXT:                  %[[M5:[0-9]+]] = arith.mulf %[[X2]], %[[WB]] : f32
// CHECK-NEXT:                  %[[S5:[0-9]+]] = arith.addf %[[A5]], %[[M5]] : f32
// CHECK-NEXT:                  scf.yield %[[S0]], %[[S1]], %[[S2]], %[[S3]], %[[S4]], %[[S5]] : f32, f32, f32, f32, f32, f32
// the bias once per channel, then one store per output
// CHECK:                 %[[BA:[0-9]+]] = memref.load %2[%[[OA]]] : memref<4xf32>
// CHECK-NEXT:            %[[Y0:[0-9]+]] = arith.addf %[[R0]], %[[BA]] : f32
// CHECK-NEXT:            memref.store %[[Y0]], %3[%[[N]], %[[OA]], %[[I]], %[[JA]]] : memref<1x4x4x3xf32>
// CHECK-NEXT:            %[[Y1:[0-9]+]] = arith.addf %[[R1]], %[[BA]] : f32
// CHECK-NEXT:            memref.store %[[Y1]], %3[%[[N]], %[[OA]], %[[I]], %[[JB]]] : memref<1x4x4x3xf32>
// CHECK-NEXT:            %[[Y2:[0-9]+]] = arith.addf %[[R2]], %[[BA]] : f32
// CHECK-NEXT:            memref.store %[[Y2]], %3[%[[N]], %[[OA]], %[[I]], %[[JC]]] : memref<1x4x4x3xf32>
// CHECK-NEXT:            %[[BB:[0-9]+]] = memref.load %2[%[[OB]]] : memref<4xf32>
// CHECK-NEXT:            %[[Y3:[0-9]+]] = arith.addf %[[R3]], %[[BB]] : f32
// CHECK-NEXT:            memref.store %[[Y3]], %3[%[[N]], %[[OB]], %[[I]], %[[JA]]] : memref<1x4x4x3xf32>
// CHECK:                 memref.store %{{[0-9]+}}, %3[%[[N]], %[[OB]], %[[I]], %[[JC]]] : memref<1x4x4x3xf32>
// CHECK-NOT:             memref.store
// CHECK:         func.return
