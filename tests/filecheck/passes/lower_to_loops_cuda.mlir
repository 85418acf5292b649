// For the GPU (`lower-to-loops{target=cuda}`) the lanes16 linear of lower_to_loops_blocked.mlir
// is unblocked: one output per iteration of the two outer loops (4 rows, 2 columns; a
// thread each in the CUDA printer), summed exactly as there (16 lanes in one vector
// accumulator over the 2 full blocks, then the tail of 8 from the lane sum), stored once.
// An unknown target is an error.
// RUN: vnnc-opt %s -p 'lower-to-loops{target=cuda}' | filecheck %s
// RUN: not vnnc-opt %s -p 'lower-to-loops{target=gpu}' 2>&1 | filecheck %s --check-prefix=BAD

builtin.module {
  func.func @main(%x: tensor<4x40xf32>, %w: tensor<2x40xf32>, %b: tensor<2xf32>) -> tensor<4x2xf32> {
    %y = spec.linear %x, %w, %b : (tensor<4x40xf32>, tensor<2x40xf32>, tensor<2xf32>) -> tensor<4x2xf32>
    func.return %y : tensor<4x2xf32>
  }
}

// CHECK-LABEL: func.func private @linear_4x40_2x40_2_4x2(
// CHECK-DAG:     %[[ZERO:[0-9]+]] = arith.constant dense<0.000000e+00> : vector<16xf32>
// CHECK-DAG:     %[[C2:[0-9]+]] = arith.constant 2 : index
// CHECK-DAG:     %[[C4:[0-9]+]] = arith.constant 4 : index
// CHECK-DAG:     %[[C8:[0-9]+]] = arith.constant 8 : index
// CHECK:         scf.for %[[I:[0-9]+]] = %{{[0-9]+}} to %[[C4]] step
// CHECK-NEXT:      scf.for %[[J:[0-9]+]] = %{{[0-9]+}} to %[[C2]] step
// CHECK-NEXT:        scf.for %{{[0-9]+}} = %{{[0-9]+}} to %[[C2]] step %{{[0-9]+}} iter_args(%{{[0-9]+}} = %[[ZERO]]) -> (vector<16xf32>) {
// CHECK:             scf.for %{{[0-9]+}} = %{{[0-9]+}} to %[[C8]] step %{{[0-9]+}} iter_args(%{{[0-9]+}} = %{{[0-9]+}}) -> (f32) {
// CHECK:             memref.store %{{[0-9]+}}, %3[%[[I]], %[[J]]] : memref<4x2xf32>
// CHECK-NOT:         memref.store
// CHECK:           func.func public @main

// BAD: lower-to-loops: unknown target 'gpu' (c or cuda)
