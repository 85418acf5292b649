// layernorm over non-adjacent axes (0, 2): the outer nest runs over the kept axis 1;
// per point, pass 1 sums x for the mean, pass 2 sums (x - mean)^2 (two-pass variance),
// then y = (x - mean) / sqrt(var + eps) * scale + bias with scale, bias indexed by (0, 2).
// RUN: vnnc-opt %s -p lower-to-loops | filecheck %s

builtin.module {
  func.func @main(%x: tensor<2x3x4xf32>, %g: tensor<2x4xf32>, %b: tensor<2x4xf32>, %x2: tensor<3x8xf32>) -> (tensor<2x3x4xf32>, tensor<3x8xf32>) {
    %y = spec.layernorm %x, %g, %b {axes = array<i64: 0, 2>, eps = 1.0e-05 : f64} : (tensor<2x3x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x3x4xf32>
    %z = spec.layernorm %x2 {axes = array<i64: -1>, eps = 0.5 : f64} : (tensor<3x8xf32>) -> tensor<3x8xf32>
    func.return %y, %z : tensor<2x3x4xf32>, tensor<3x8xf32>
  }
}

// CHECK-LABEL: func.func private @layernorm_2x3x4_2x4_2x4_2x3x4(%0: memref<2x3x4xf32>, %1: memref<2x4xf32>, %2: memref<2x4xf32>, %3: memref<2x3x4xf32>) attributes {vnnc.op = "spec.layernorm"} {
// CHECK-DAG:     %[[COUNT:[0-9]+]] = arith.constant 8.000000e+00 : f32
// CHECK-DAG:     %[[EPS:[0-9]+]] = arith.constant 1.000000e-05 : f32
// CHECK-DAG:     %[[ZERO:[0-9]+]] = arith.constant 0.000000e+00 : f32
// CHECK-DAG:     %[[C0:[0-9]+]] = arith.constant 0 : index
// CHECK-DAG:     %[[C1:[0-9]+]] = arith.constant 1 : index
// CHECK-DAG:     %[[C2:[0-9]+]] = arith.constant 2 : index
// CHECK-DAG:     %[[C3:[0-9]+]] = arith.constant 3 : index
// CHECK-DAG:     %[[C4:[0-9]+]] = arith.constant 4 : index
// CHECK:         scf.for %[[J:[0-9]+]] = %[[C0]] to %[[C3]] step %[[C1]] {
// CHECK-NEXT:      %[[TOTAL:[0-9]+]] = scf.for %[[I:[0-9]+]] = %[[C0]] to %[[C2]] step %[[C1]] iter_args(%{{[0-9]+}} = %[[ZERO]]) -> (f32) {
// CHECK-NEXT:        scf.for %[[K:[0-9]+]] = %[[C0]] to %[[C4]] step %[[C1]] iter_args(%[[A:[0-9]+]] = %{{[0-9]+}}) -> (f32) {
// CHECK-NEXT:          %[[X:[0-9]+]] = memref.load %0[%[[I]], %[[J]], %[[K]]] : memref<2x3x4xf32>
// CHECK-NEXT:          arith.addf %[[A]], %[[X]] : f32
// CHECK:           %[[MEAN:[0-9]+]] = arith.divf %[[TOTAL]], %[[COUNT]] : f32
// CHECK-NEXT:      %[[SQ:[0-9]+]] = scf.for %[[I2:[0-9]+]] = %[[C0]] to %[[C2]] step %[[C1]] iter_args(%{{[0-9]+}} = %[[ZERO]]) -> (f32) {
// CHECK-NEXT:        scf.for %[[K2:[0-9]+]] = %[[C0]] to %[[C4]] step %[[C1]] iter_args(%[[A2:[0-9]+]] = %{{[0-9]+}}) -> (f32) {
// CHECK-NEXT:          %[[X2:[0-9]+]] = memref.load %0[%[[I2]], %[[J]], %[[K2]]] : memref<2x3x4xf32>
// CHECK-NEXT:          %[[DEV:[0-9]+]] = arith.subf %[[X2]], %[[MEAN]] : f32
// CHECK-NEXT:          %[[DEV2:[0-9]+]] = arith.mulf %[[DEV]], %[[DEV]] : f32
// CHECK-NEXT:          arith.addf %[[A2]], %[[DEV2]] : f32
// CHECK:           %[[VAR:[0-9]+]] = arith.divf %[[SQ]], %[[COUNT]] : f32
// CHECK-NEXT:      %[[VE:[0-9]+]] = arith.addf %[[VAR]], %[[EPS]] : f32
// CHECK-NEXT:      %[[DEN:[0-9]+]] = math.sqrt %[[VE]] : f32
// CHECK-NEXT:      scf.for %[[I3:[0-9]+]] = %[[C0]] to %[[C2]] step %[[C1]] {
// CHECK-NEXT:        scf.for %[[K3:[0-9]+]] = %[[C0]] to %[[C4]] step %[[C1]] {
// CHECK-NEXT:          %[[X3:[0-9]+]] = memref.load %0[%[[I3]], %[[J]], %[[K3]]] : memref<2x3x4xf32>
// CHECK-NEXT:          %[[C:[0-9]+]] = arith.subf %[[X3]], %[[MEAN]] : f32
// CHECK-NEXT:          %[[Z:[0-9]+]] = arith.divf %[[C]], %[[DEN]] : f32
// CHECK-NEXT:          %[[G:[0-9]+]] = memref.load %1[%[[I3]], %[[K3]]] : memref<2x4xf32>
// CHECK-NEXT:          %[[ZG:[0-9]+]] = arith.mulf %[[Z]], %[[G]] : f32
// CHECK-NEXT:          %[[B:[0-9]+]] = memref.load %2[%[[I3]], %[[K3]]] : memref<2x4xf32>
// CHECK-NEXT:          %[[Y:[0-9]+]] = arith.addf %[[ZG]], %[[B]] : f32
// CHECK-NEXT:          memref.store %[[Y]], %3[%[[I3]], %[[J]], %[[K3]]] : memref<2x3x4xf32>

// Without scale and bias the normalised value is stored as is.
// CHECK-LABEL: func.func private @layernorm_3x8_3x8(%0: memref<3x8xf32>, %1: memref<3x8xf32>)
// CHECK-DAG:     arith.constant 5.000000e-01 : f32
// CHECK:         math.sqrt
// CHECK:         %[[Z2:[0-9]+]] = arith.divf
// CHECK-NEXT:    memref.store %[[Z2]], %1[%{{[0-9]+}}, %{{[0-9]+}}] : memref<3x8xf32>
