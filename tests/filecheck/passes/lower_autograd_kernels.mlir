// The loop kernels of the ops the backward pass adds. where: c > 0 ? a : b, with an
// ordered comparison (a NaN c selects b). one_hot: the i64 label cast to an index and
// compared with the class. slice_scatter: each dimension split by the residue modulo its
// step; a residue class that holds x loads it under a bounds guard, the others store 0.
// RUN: vnnc-opt %s -p lower-to-loops | filecheck %s

builtin.module {
  func.func @main(%c: tensor<2x3xf32>, %a: tensor<2x3xf32>, %labels: tensor<2xi64>, %x: tensor<2xf32>) -> (tensor<2x3xf32>, tensor<2x3xf32>, tensor<5xf32>) {
    %zero = spec.constant dense<0.000000e+00> : tensor<f32>
    %w = spec.where %c, %a, %zero : (tensor<2x3xf32>, tensor<2x3xf32>, tensor<f32>) -> tensor<2x3xf32>
    %oh = spec.one_hot %labels {classes = 3 : i64} : (tensor<2xi64>) -> tensor<2x3xf32>
    %s = spec.slice_scatter %x {shape = array<i64: 5>, starts = array<i64: 1>, steps = array<i64: 2>} : (tensor<2xf32>) -> tensor<5xf32>
    func.return %w, %oh, %s : tensor<2x3xf32>, tensor<2x3xf32>, tensor<5xf32>
  }
}

// CHECK-LABEL: func.func private @where_2x3_2x3_s_2x3
// CHECK:         %[[C:[0-9]+]] = memref.load %0[%{{[0-9]+}}, %{{[0-9]+}}] : memref<2x3xf32>
// CHECK-NEXT:    %[[A:[0-9]+]] = memref.load %1[%{{[0-9]+}}, %{{[0-9]+}}] : memref<2x3xf32>
// CHECK-NEXT:    %[[B:[0-9]+]] = memref.load %2[] : memref<f32>
// CHECK-NEXT:    %[[P:[0-9]+]] = arith.cmpf ogt, %[[C]], %{{[0-9]+}} : f32
// CHECK-NEXT:    %[[V:[0-9]+]] = arith.select %[[P]], %[[A]], %[[B]] : f32

// CHECK-LABEL: func.func private @one_hot_2_2x3
// CHECK:         %[[L:[0-9]+]] = memref.load %0[%{{[0-9]+}}] : memref<2xi64>
// CHECK-NEXT:    %[[I:[0-9]+]] = arith.index_cast %[[L]] : i64 to index
// CHECK-NEXT:    %[[EQ:[0-9]+]] = arith.cmpi eq, %[[I]], %{{[0-9]+}} : index
// CHECK-NEXT:    arith.select %[[EQ]]

// CHECK-LABEL: func.func private @slice_scatter_2_5
// CHECK-DAG:     %[[TWO:[0-9]+]] = arith.constant 2 : index
// CHECK-DAG:     %[[ZERO:[0-9]+]] = arith.constant 0.000000e+00 : f32
// CHECK:         scf.for %[[E:[0-9]+]] =
// CHECK-NEXT:      %[[EVEN:[0-9]+]] = arith.muli %[[E]], %[[TWO]] : index
// CHECK-NEXT:      memref.store %[[ZERO]], %1[%[[EVEN]]] : memref<5xf32>
// CHECK:         scf.for %[[O:[0-9]+]] =
// CHECK:           %[[ODD:[0-9]+]] = arith.addi %{{[0-9]+}}, %{{[0-9]+}} : index
// CHECK:           %[[V:[0-9]+]] = scf.if %{{[0-9]+}} -> (f32) {
// CHECK-NEXT:        memref.load %0[%[[O]]] : memref<2xf32>
// CHECK:           memref.store %[[V]], %1[%[[ODD]]] : memref<5xf32>
