// Pooling: one accumulator per output element over the window taps.
// maxpool2d folds arith.maximumf (NaN-propagating) from -inf, padding reads -inf (never wins).
// avgpool2d sums guarded loads (padding reads 0) and divides by the counted taps: the
// kernel area when every window counts all its taps, else a second accumulator that
// counts taps inside x (count_include_pad = false) or inside the padded extent.
// global_avgpool divides one sum over (h, w) by H*W.
// RUN: vnnc-opt %s -p lower-to-loops | filecheck %s

builtin.module {
  func.func @main(%x: tensor<1x2x5x5xf32>) -> (tensor<1x2x3x3xf32>, tensor<1x2x3x3xf32>, tensor<1x2x3x3xf32>, tensor<1x2x1x1xf32>) {
    %m = spec.maxpool2d %x {kernel = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, ceil_mode = true} : (tensor<1x2x5x5xf32>) -> tensor<1x2x3x3xf32>
    %a = spec.avgpool2d %x {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, ceil_mode = true, count_include_pad = false} : (tensor<1x2x5x5xf32>) -> tensor<1x2x3x3xf32>
    %c = spec.avgpool2d %x {kernel = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, ceil_mode = false, count_include_pad = true} : (tensor<1x2x5x5xf32>) -> tensor<1x2x3x3xf32>
    %g = spec.global_avgpool %x : (tensor<1x2x5x5xf32>) -> tensor<1x2x1x1xf32>
    func.return %m, %a, %c, %g : tensor<1x2x3x3xf32>, tensor<1x2x3x3xf32>, tensor<1x2x3x3xf32>, tensor<1x2x1x1xf32>
  }
}

// CHECK-LABEL: func.func private @maxpool2d_1x2x5x5_1x2x3x3(%0: memref<1x2x5x5xf32>, %1: memref<1x2x3x3xf32>) attributes {vnnc.op = "spec.maxpool2d"} {
// CHECK-DAG:     %[[NEGINF:[0-9]+]] = arith.constant 0xff800000 : f32
// CHECK-DAG:     %[[C0:[0-9]+]] = arith.constant 0 : index
// CHECK-DAG:     %[[C1:[0-9]+]] = arith.constant 1 : index
// CHECK-DAG:     %[[C2:[0-9]+]] = arith.constant 2 : index
// CHECK-DAG:     %[[C3:[0-9]+]] = arith.constant 3 : index
// CHECK-DAG:     %[[C5:[0-9]+]] = arith.constant 5 : index
// CHECK-DAG:     %[[CM1:[0-9]+]] = arith.constant -1 : index
// CHECK:         scf.for %[[N:[0-9]+]] = %[[C0]] to %[[C1]] step %[[C1]] {
// CHECK-NEXT:      scf.for %[[C:[0-9]+]] = %[[C0]] to %[[C2]] step %[[C1]] {
// CHECK-NEXT:        scf.for %[[I:[0-9]+]] = %[[C0]] to %[[C3]] step %[[C1]] {
// CHECK-NEXT:          scf.for %[[J:[0-9]+]] = %[[C0]] to %[[C3]] step %[[C1]] {
// CHECK-NEXT:            %[[MAX:[0-9]+]] = scf.for %[[P:[0-9]+]] = %[[C0]] to %[[C3]] step %[[C1]] iter_args(%{{[0-9]+}} = %[[NEGINF]]) -> (f32) {
// CHECK-NEXT:              scf.for %[[Q:[0-9]+]] = %[[C0]] to %[[C3]] step %[[C1]] iter_args(%[[ACC:[0-9]+]] = %{{[0-9]+}}) -> (f32) {
// CHECK-NEXT:                %[[H0:[0-9]+]] = arith.muli %[[I]], %[[C2]] : index
// CHECK-NEXT:                %[[H1:[0-9]+]] = arith.addi %[[H0]], %[[P]] : index
// CHECK-NEXT:                %[[H:[0-9]+]] = arith.addi %[[H1]], %[[CM1]] : index
// CHECK:                     arith.cmpi sge, %[[H]], %[[C0]] : index
// CHECK-NEXT:                arith.cmpi slt, %[[H]], %[[C5]] : index
// CHECK:                     %[[V:[0-9]+]] = scf.if %{{[0-9]+}} -> (f32) {
// CHECK-NEXT:                  %[[LD:[0-9]+]] = memref.load %0[%[[N]], %[[C]], %[[H]], %{{[0-9]+}}] : memref<1x2x5x5xf32>
// CHECK-NEXT:                  scf.yield %[[LD]] : f32
// CHECK-NEXT:                } else {
// CHECK-NEXT:                  scf.yield %[[NEGINF]] : f32
// CHECK-NEXT:                }
// CHECK-NEXT:                %[[NEW:[0-9]+]] = arith.maximumf %[[ACC]], %[[V]] : f32
// CHECK-NEXT:                scf.yield %[[NEW]] : f32
// CHECK:                 memref.store %[[MAX]], %1[%[[N]], %[[C]], %[[I]], %[[J]]] : memref<1x2x3x3xf32>

// ceil mode without padding: the last window overhangs x, so taps are counted at run time.
// CHECK-LABEL: func.func private @avgpool2d_1x2x5x5_1x2x3x3(%0: memref<1x2x5x5xf32>, %1: memref<1x2x3x3xf32>) attributes {vnnc.op = "spec.avgpool2d"} {
// CHECK-DAG:     %[[ZERO:[0-9]+]] = arith.constant 0.000000e+00 : f32
// CHECK-DAG:     %[[ONE:[0-9]+]] = arith.constant 1.000000e+00 : f32
// CHECK:         %[[SUM:[0-9]+]], %[[CNT:[0-9]+]] = scf.for %{{[0-9]+}} = %{{[0-9]+}} to %{{[0-9]+}} step %{{[0-9]+}} iter_args(%{{[0-9]+}} = %[[ZERO]], %{{[0-9]+}} = %[[ZERO]]) -> (f32, f32) {
// CHECK-NEXT:      scf.for {{.*}} iter_args(%[[S:[0-9]+]] = %{{[0-9]+}}, %[[K:[0-9]+]] = %{{[0-9]+}}) -> (f32, f32) {
// CHECK:             %[[V2:[0-9]+]] = scf.if %[[IN2:[0-9]+]] -> (f32) {
// CHECK:             } else {
// CHECK-NEXT:          scf.yield %[[ZERO]] : f32
// CHECK-NEXT:        }
// CHECK-NEXT:        %[[S2:[0-9]+]] = arith.addf %[[S]], %[[V2]] : f32
// CHECK-NEXT:        %[[ONEIF:[0-9]+]] = arith.select %[[IN2]], %[[ONE]], %[[ZERO]] : f32
// CHECK-NEXT:        %[[K2:[0-9]+]] = arith.addf %[[K]], %[[ONEIF]] : f32
// CHECK-NEXT:        scf.yield %[[S2]], %[[K2]] : f32, f32
// CHECK:           %[[AVG:[0-9]+]] = arith.divf %[[SUM]], %[[CNT]] : f32
// CHECK-NEXT:      memref.store %[[AVG]], %1

// count_include_pad with every window inside the padded extent: divide by the area, 9.
// CHECK-LABEL: func.func private @avgpool2d_1x2x5x5_1x2x3x3_v2(
// CHECK-DAG:     %[[NINE:[0-9]+]] = arith.constant 9.000000e+00 : f32
// CHECK-NOT:     arith.select
// CHECK:         %[[SUM3:[0-9]+]] = scf.for {{.*}} -> (f32) {
// CHECK:           scf.if
// CHECK:         %[[AVG3:[0-9]+]] = arith.divf %[[SUM3]], %[[NINE]] : f32
// CHECK-NEXT:    memref.store %[[AVG3]], %1

// CHECK-LABEL: func.func private @global_avgpool_1x2x5x5_1x2x1x1(%0: memref<1x2x5x5xf32>, %1: memref<1x2x1x1xf32>)
// CHECK-DAG:     %[[AREA:[0-9]+]] = arith.constant 2.500000e+01 : f32
// CHECK-DAG:     %[[G0:[0-9]+]] = arith.constant 0 : index
// CHECK:         scf.for %[[GN:[0-9]+]] =
// CHECK-NEXT:      scf.for %[[GC:[0-9]+]] =
// CHECK-NEXT:        %[[GSUM:[0-9]+]] = scf.for %[[GH:[0-9]+]] = {{.*}} -> (f32) {
// CHECK-NEXT:          scf.for %[[GW:[0-9]+]] = {{.*}} iter_args(%[[GA:[0-9]+]] = %{{[0-9]+}}) -> (f32) {
// CHECK-NEXT:            %[[GX:[0-9]+]] = memref.load %0[%[[GN]], %[[GC]], %[[GH]], %[[GW]]] : memref<1x2x5x5xf32>
// CHECK-NEXT:            arith.addf %[[GA]], %[[GX]] : f32
// CHECK:             %[[GAVG:[0-9]+]] = arith.divf %[[GSUM]], %[[AREA]] : f32
// CHECK-NEXT:        memref.store %[[GAVG]], %1[%[[GN]], %[[GC]], %[[G0]], %[[G0]]] : memref<1x2x1x1xf32>

// CHECK-LABEL: func.func public @main(
// CHECK-NEXT:    func.call @maxpool2d_1x2x5x5_1x2x3x3(%0, %1)
// CHECK-NEXT:    func.call @avgpool2d_1x2x5x5_1x2x3x3(%0, %2)
// CHECK-NEXT:    func.call @avgpool2d_1x2x5x5_1x2x3x3_v2(%0, %3)
// CHECK-NEXT:    func.call @global_avgpool_1x2x5x5_1x2x1x1(%0, %4)
