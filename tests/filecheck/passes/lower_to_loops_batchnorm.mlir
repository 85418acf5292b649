// batchnorm (inference, channel axis 1): per (n, c) the channel's statistics are loaded
// once and sqrt(var + eps) computed once; the inner nest normalises every element.
// RUN: vnnc-opt %s -p lower-to-loops | filecheck %s

builtin.module {
  func.func @main(%x: tensor<2x3x4x4xf32>, %s: tensor<3xf32>, %b: tensor<3xf32>, %m: tensor<3xf32>, %v: tensor<3xf32>) -> tensor<2x3x4x4xf32> {
    %y = spec.batchnorm %x, %s, %b, %m, %v {eps = 1.0e-03 : f64} : (tensor<2x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<2x3x4x4xf32>
    func.return %y : tensor<2x3x4x4xf32>
  }
}

// CHECK-LABEL: func.func private @batchnorm_2x3x4x4_3_3_3_3_2x3x4x4(%0: memref<2x3x4x4xf32>, %1: memref<3xf32>, %2: memref<3xf32>, %3: memref<3xf32>, %4: memref<3xf32>, %5: memref<2x3x4x4xf32>) attributes {vnnc.op = "spec.batchnorm"} {
// CHECK-DAG:     %[[EPS:[0-9]+]] = arith.constant 1.000000e-03 : f32
// CHECK-DAG:     %[[C0:[0-9]+]] = arith.constant 0 : index
// CHECK-DAG:     %[[C1:[0-9]+]] = arith.constant 1 : index
// CHECK-DAG:     %[[C2:[0-9]+]] = arith.constant 2 : index
// CHECK-DAG:     %[[C3:[0-9]+]] = arith.constant 3 : index
// CHECK-DAG:     %[[C4:[0-9]+]] = arith.constant 4 : index
// CHECK:         scf.for %[[N:[0-9]+]] = %[[C0]] to %[[C2]] step %[[C1]] {
// CHECK-NEXT:      scf.for %[[C:[0-9]+]] = %[[C0]] to %[[C3]] step %[[C1]] {
// CHECK-NEXT:        %[[MEAN:[0-9]+]] = memref.load %3[%[[C]]] : memref<3xf32>
// CHECK-NEXT:        %[[SCALE:[0-9]+]] = memref.load %1[%[[C]]] : memref<3xf32>
// CHECK-NEXT:        %[[BIAS:[0-9]+]] = memref.load %2[%[[C]]] : memref<3xf32>
// CHECK-NEXT:        %[[VAR:[0-9]+]] = memref.load %4[%[[C]]] : memref<3xf32>
// CHECK-NEXT:        %[[VE:[0-9]+]] = arith.addf %[[VAR]], %[[EPS]] : f32
// CHECK-NEXT:        %[[DEN:[0-9]+]] = math.sqrt %[[VE]] : f32
// CHECK-NEXT:        scf.for %[[H:[0-9]+]] = %[[C0]] to %[[C4]] step %[[C1]] {
// CHECK-NEXT:          scf.for %[[W:[0-9]+]] = %[[C0]] to %[[C4]] step %[[C1]] {
// CHECK-NEXT:            %[[X:[0-9]+]] = memref.load %0[%[[N]], %[[C]], %[[H]], %[[W]]] : memref<2x3x4x4xf32>
// CHECK-NEXT:            %[[D:[0-9]+]] = arith.subf %[[X]], %[[MEAN]] : f32
// CHECK-NEXT:            %[[Z:[0-9]+]] = arith.divf %[[D]], %[[DEN]] : f32
// CHECK-NEXT:            %[[ZS:[0-9]+]] = arith.mulf %[[Z]], %[[SCALE]] : f32
// CHECK-NEXT:            %[[Y:[0-9]+]] = arith.addf %[[ZS]], %[[BIAS]] : f32
// CHECK-NEXT:            memref.store %[[Y]], %5[%[[N]], %[[C]], %[[H]], %[[W]]] : memref<2x3x4x4xf32>

// CHECK-LABEL: func.func public @main(
// CHECK-NEXT:    func.call @batchnorm_2x3x4x4_3_3_3_3_2x3x4x4(%0, %1, %2, %3, %4, %5)
