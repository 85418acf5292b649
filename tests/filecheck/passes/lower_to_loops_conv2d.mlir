// conv2d unblocked (the GPU form, one output per iteration; the CPU form computes a block of
// outputs per iteration, each summed in this same order: lower_to_loops_conv2d_blocked.mlir):
// one accumulator per output element over (c, p, q), bias added once, one store.
// With groups the nest runs over (n, g, o') and both channels stay affine: output
// channel g*Og + o', input channel g*Cg + c. Input index h = i*stride + p*dilation - pad_top;
// a load is guarded (scf.if, 0 outside) only where some window leaves the input.
// RUN: vnnc-opt %s -p 'lower-to-loops{target=cuda}' | filecheck %s

builtin.module {
  func.func @main(%x: tensor<1x4x5x5xf32>, %w: tensor<6x2x3x3xf32>, %b: tensor<6xf32>, %x2: tensor<1x2x4x4xf32>, %w2: tensor<3x2x2x2xf32>) -> (tensor<1x6x3x2xf32>, tensor<1x3x3x3xf32>) {
    %y = spec.conv2d %x, %w, %b {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 0>, groups = 2 : i64} : (tensor<1x4x5x5xf32>, tensor<6x2x3x3xf32>, tensor<6xf32>) -> tensor<1x6x3x2xf32>
    %z = spec.conv2d %x2, %w2 : (tensor<1x2x4x4xf32>, tensor<3x2x2x2xf32>) -> tensor<1x3x3x3xf32>
    func.return %y, %z : tensor<1x6x3x2xf32>, tensor<1x3x3x3xf32>
  }
}

// CHECK-LABEL: func.func private @conv2d_1x4x5x5_6x2x3x3_6_1x6x3x2(%0: memref<1x4x5x5xf32>, %1: memref<6x2x3x3xf32>, %2: memref<6xf32>, %3: memref<1x6x3x2xf32>) attributes {vnnc.op = "spec.conv2d"} {
// CHECK-DAG:     %[[ZERO:[0-9]+]] = arith.constant 0.000000e+00 : f32
// CHECK-DAG:     %[[C0:[0-9]+]] = arith.constant 0 : index
// CHECK-DAG:     %[[C1:[0-9]+]] = arith.constant 1 : index
// CHECK-DAG:     %[[C2:[0-9]+]] = arith.constant 2 : index
// CHECK-DAG:     %[[C3:[0-9]+]] = arith.constant 3 : index
// CHECK-DAG:     %[[C5:[0-9]+]] = arith.constant 5 : index
// CHECK-DAG:     %[[CM1:[0-9]+]] = arith.constant -1 : index
// CHECK:         scf.for %[[N:[0-9]+]] = %[[C0]] to %[[C1]] step %[[C1]] {
// CHECK-NEXT:      scf.for %[[G:[0-9]+]] = %[[C0]] to %[[C2]] step %[[C1]] {
// CHECK-NEXT:        scf.for %[[OG:[0-9]+]] = %[[C0]] to %[[C3]] step %[[C1]] {
// CHECK-NEXT:          scf.for %[[I:[0-9]+]] = %[[C0]] to %[[C3]] step %[[C1]] {
// CHECK-NEXT:            scf.for %[[J:[0-9]+]] = %[[C0]] to %[[C2]] step %[[C1]] {
// CHECK-NEXT:              %[[GO:[0-9]+]] = arith.muli %[[G]], %[[C3]] : index
// CHECK-NEXT:              %[[O:[0-9]+]] = arith.addi %[[GO]], %[[OG]] : index
// CHECK-NEXT:              %[[ACC:[0-9]+]] = scf.for %[[C:[0-9]+]] = %[[C0]] to %[[C2]] step %[[C1]] iter_args(%{{[0-9]+}} = %[[ZERO]]) -> (f32) {
// CHECK-NEXT:                scf.for %[[P:[0-9]+]] = %[[C0]] to %[[C3]] step %[[C1]] iter_args
// CHECK-NEXT:                  scf.for %[[Q:[0-9]+]] = %[[C0]] to %[[C3]] step %[[C1]] iter_args(%[[A:[0-9]+]] = %{{[0-9]+}}) -> (f32) {
// CHECK-NEXT:                    %[[H0:[0-9]+]] = arith.muli %[[I]], %[[C2]] : index
// CHECK-NEXT:                    %[[H1:[0-9]+]] = arith.addi %[[H0]], %[[P]] : index
// CHECK-NEXT:                    %[[H:[0-9]+]] = arith.addi %[[H1]], %[[CM1]] : index
// CHECK-NEXT:                    %[[W0:[0-9]+]] = arith.muli %[[J]], %[[C2]] : index
// CHECK-NEXT:                    %[[W1:[0-9]+]] = arith.addi %[[W0]], %[[Q]] : index
// CHECK-NEXT:                    %[[W:[0-9]+]] = arith.addi %[[W1]], %[[CM1]] : index
// CHECK-NEXT:                    %[[GC:[0-9]+]] = arith.muli %[[G]], %[[C2]] : index
// CHECK-NEXT:                    %[[CH:[0-9]+]] = arith.addi %[[GC]], %[[C]] : index
// CHECK-NEXT:                    %[[HLO:[0-9]+]] = arith.cmpi sge, %[[H]], %[[C0]] : index
// CHECK-NEXT:                    %[[HHI:[0-9]+]] = arith.cmpi slt, %[[H]], %[[C5]] : index
// CHECK-NEXT:                    %[[HIN:[0-9]+]] = arith.andi %[[HLO]], %[[HHI]] : i1
// CHECK-NEXT:                    %[[WLO:[0-9]+]] = arith.cmpi sge, %[[W]], %[[C0]] : index
// CHECK-NEXT:                    %[[WHI:[0-9]+]] = arith.cmpi slt, %[[W]], %[[C5]] : index
// CHECK-NEXT:                    %[[WIN:[0-9]+]] = arith.andi %[[WLO]], %[[WHI]] : i1
// CHECK-NEXT:                    %[[IN:[0-9]+]] = arith.andi %[[HIN]], %[[WIN]] : i1
// CHECK-NEXT:                    %[[XV:[0-9]+]] = scf.if %[[IN]] -> (f32) {
// CHECK-NEXT:                      %[[LD:[0-9]+]] = memref.load %0[%[[N]], %[[CH]], %[[H]], %[[W]]] : memref<1x4x5x5xf32>
// CHECK-NEXT:                      scf.yield %[[LD]] : f32
// CHECK-NEXT:                    } else {
// CHECK-NEXT:                      scf.yield %[[ZERO]] : f32
// CHECK-NEXT:                    }
// CHECK-NEXT:                    %[[WV:[0-9]+]] = memref.load %1[%[[O]], %[[C]], %[[P]], %[[Q]]] : memref<6x2x3x3xf32>
// CHECK-NEXT:                    %[[PROD:[0-9]+]] = arith.mulf %[[XV]], %[[WV]] : f32
// CHECK-NEXT:                    %[[SUM:[0-9]+]] = arith.addf %[[A]], %[[PROD]] : f32
// CHECK-NEXT:                    scf.yield %[[SUM]] : f32
// CHECK:                     %[[B:[0-9]+]] = memref.load %2[%[[O]]] : memref<6xf32>
// CHECK-NEXT:                %[[Y:[0-9]+]] = arith.addf %[[ACC]], %[[B]] : f32
// CHECK-NEXT:                memref.store %[[Y]], %3[%[[N]], %[[O]], %[[I]], %[[J]]] : memref<1x6x3x2xf32>

// Without padding no window leaves the input: no guard, no group loop, no bias.
// CHECK-LABEL: func.func private @conv2d_1x2x4x4_3x2x2x2_1x3x3x3(%0: memref<1x2x4x4xf32>, %1: memref<3x2x2x2xf32>, %2: memref<1x3x3x3xf32>)
// CHECK-NOT:     scf.if
// CHECK:         scf.for %[[N2:[0-9]+]] =
// CHECK-NEXT:      scf.for %[[O2:[0-9]+]] =
// CHECK-NEXT:        scf.for %[[I2:[0-9]+]] =
// CHECK-NEXT:          scf.for %[[J2:[0-9]+]] =
// CHECK-NEXT:            %[[ACC2:[0-9]+]] = scf.for %[[C2_:[0-9]+]] =
// CHECK-NOT:     scf.if
// CHECK:                     %[[H2:[0-9]+]] = arith.addi %[[I2]], %[[P2:[0-9]+]] : index
// CHECK-NEXT:                %[[W2:[0-9]+]] = arith.addi %[[J2]], %[[Q2:[0-9]+]] : index
// CHECK-NEXT:                memref.load %0[%[[N2]], %[[C2_]], %[[H2]], %[[W2]]] : memref<1x2x4x4xf32>
// CHECK-NEXT:                memref.load %1[%[[O2]], %[[C2_]], %[[P2]], %[[Q2]]] : memref<3x2x2x2xf32>
// CHECK-NOT:     scf.if
// CHECK:         memref.store %[[ACC2]], %2[%[[N2]], %[[O2]], %[[I2]], %[[J2]]] : memref<1x3x3x3xf32>

// CHECK-LABEL: func.func public @main(
// CHECK:         func.call @conv2d_1x4x5x5_6x2x3x3_6_1x6x3x2(%0, %1, %2, %5) : (memref<1x4x5x5xf32>, memref<6x2x3x3xf32>, memref<6xf32>, memref<1x6x3x2xf32>) -> ()
// CHECK-NEXT:    func.call @conv2d_1x2x4x4_3x2x2x2_1x3x3x3(%3, %4, %6) : (memref<1x2x4x4xf32>, memref<3x2x2x2xf32>, memref<1x3x3x3xf32>) -> ()
