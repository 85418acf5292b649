// Pointwise ops: one nest over the output shape, one load per operand (a broadcast
// dimension of size 1 reads index 0, a missing leading one is skipped), one store.
// relu is arith.maximumf (NaN propagates); leaky_relu selects on `uge` (true for NaN);
// sigmoid is 1 / (1 + exp(-x)); gelu uses erf, or tanh with approximate = "tanh".
// RUN: vnnc-opt %s -p lower-to-loops | filecheck %s

builtin.module {
  func.func @main(%a: tensor<2x3xf32>, %b: tensor<3xf32>, %c: tensor<2x1xf32>) -> tensor<2x3xf32> {
    %s = spec.add %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
    %d = spec.sub %c, %b : (tensor<2x1xf32>, tensor<3xf32>) -> tensor<2x3xf32>
    %m = spec.mul %s, %d : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
    %q = spec.div %m, %a : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
    %n = spec.neg %q : (tensor<2x3xf32>) -> tensor<2x3xf32>
    %r = spec.relu %n : (tensor<2x3xf32>) -> tensor<2x3xf32>
    %l = spec.leaky_relu %r {alpha = 0.25 : f64} : (tensor<2x3xf32>) -> tensor<2x3xf32>
    %sg = spec.sigmoid %l : (tensor<2x3xf32>) -> tensor<2x3xf32>
    %t = spec.tanh %sg : (tensor<2x3xf32>) -> tensor<2x3xf32>
    %e = spec.erf %t : (tensor<2x3xf32>) -> tensor<2x3xf32>
    %x = spec.exp %e : (tensor<2x3xf32>) -> tensor<2x3xf32>
    %lg = spec.log %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
    %sq = spec.sqrt %lg : (tensor<2x3xf32>) -> tensor<2x3xf32>
    %g = spec.gelu %sq : (tensor<2x3xf32>) -> tensor<2x3xf32>
    %gt = spec.gelu %g {approximate = "tanh"} : (tensor<2x3xf32>) -> tensor<2x3xf32>
    func.return %gt : tensor<2x3xf32>
  }
}

// CHECK-LABEL: func.func private @add_2x3_3_2x3(%0: memref<2x3xf32>, %1: memref<3xf32>, %2: memref<2x3xf32>) attributes {vnnc.op = "spec.add"} {
// CHECK-DAG:     %[[C0:[0-9]+]] = arith.constant 0 : index
// CHECK-DAG:     %[[C1:[0-9]+]] = arith.constant 1 : index
// CHECK-DAG:     %[[C2:[0-9]+]] = arith.constant 2 : index
// CHECK-DAG:     %[[C3:[0-9]+]] = arith.constant 3 : index
// CHECK:         scf.for %[[I:[0-9]+]] = %[[C0]] to %[[C2]] step %[[C1]] {
// CHECK-NEXT:      scf.for %[[J:[0-9]+]] = %[[C0]] to %[[C3]] step %[[C1]] {
// CHECK-NEXT:        %[[A:[0-9]+]] = memref.load %0[%[[I]], %[[J]]] : memref<2x3xf32>
// CHECK-NEXT:        %[[B:[0-9]+]] = memref.load %1[%[[J]]] : memref<3xf32>
// CHECK-NEXT:        %[[S:[0-9]+]] = arith.addf %[[A]], %[[B]] : f32
// CHECK-NEXT:        memref.store %[[S]], %2[%[[I]], %[[J]]] : memref<2x3xf32>

// CHECK-LABEL: func.func private @sub_2x1_3_2x3(%0: memref<2x1xf32>, %1: memref<3xf32>, %2: memref<2x3xf32>) attributes {vnnc.op = "spec.sub"} {
// CHECK-DAG:     %[[D0:[0-9]+]] = arith.constant 0 : index
// CHECK:         scf.for %[[DI:[0-9]+]] =
// CHECK-NEXT:      scf.for %[[DJ:[0-9]+]] =
// CHECK-NEXT:        %[[DA:[0-9]+]] = memref.load %0[%[[DI]], %[[D0]]] : memref<2x1xf32>
// CHECK-NEXT:        %[[DB:[0-9]+]] = memref.load %1[%[[DJ]]] : memref<3xf32>
// CHECK-NEXT:        %[[DS:[0-9]+]] = arith.subf %[[DA]], %[[DB]] : f32
// CHECK-NEXT:        memref.store %[[DS]], %2[%[[DI]], %[[DJ]]] : memref<2x3xf32>

// CHECK-LABEL: func.func private @mul_2x3_2x3_2x3(
// CHECK:         arith.mulf %{{[0-9]+}}, %{{[0-9]+}} : f32
// CHECK-LABEL: func.func private @div_2x3_2x3_2x3(
// CHECK:         arith.divf %{{[0-9]+}}, %{{[0-9]+}} : f32
// CHECK-LABEL: func.func private @neg_2x3_2x3(
// CHECK:         arith.negf %{{[0-9]+}} : f32

// CHECK-LABEL: func.func private @relu_2x3_2x3(
// CHECK-DAG:     %[[RZERO:[0-9]+]] = arith.constant 0.000000e+00 : f32
// CHECK:         %[[RX:[0-9]+]] = memref.load %0
// CHECK-NEXT:    %[[RY:[0-9]+]] = arith.maximumf %[[RX]], %[[RZERO]] : f32
// CHECK-NEXT:    memref.store %[[RY]], %1

// CHECK-LABEL: func.func private @leaky_relu_2x3_2x3(
// CHECK-DAG:     %[[LZERO:[0-9]+]] = arith.constant 0.000000e+00 : f32
// CHECK-DAG:     %[[ALPHA:[0-9]+]] = arith.constant 2.500000e-01 : f32
// CHECK:         %[[LX:[0-9]+]] = memref.load %0
// CHECK-NEXT:    %[[POS:[0-9]+]] = arith.cmpf uge, %[[LX]], %[[LZERO]] : f32
// CHECK-NEXT:    %[[LAX:[0-9]+]] = arith.mulf %[[ALPHA]], %[[LX]] : f32
// CHECK-NEXT:    %[[LY:[0-9]+]] = arith.select %[[POS]], %[[LX]], %[[LAX]] : f32
// CHECK-NEXT:    memref.store %[[LY]], %1

// CHECK-LABEL: func.func private @sigmoid_2x3_2x3(
// CHECK-DAG:     %[[ONE:[0-9]+]] = arith.constant 1.000000e+00 : f32
// CHECK:         %[[SX:[0-9]+]] = memref.load %0
// CHECK-NEXT:    %[[SN:[0-9]+]] = arith.negf %[[SX]] : f32
// CHECK-NEXT:    %[[SE:[0-9]+]] = math.exp %[[SN]] : f32
// CHECK-NEXT:    %[[SD:[0-9]+]] = arith.addf %[[ONE]], %[[SE]] : f32
// CHECK-NEXT:    %[[SY:[0-9]+]] = arith.divf %[[ONE]], %[[SD]] : f32
// CHECK-NEXT:    memref.store %[[SY]], %1

// CHECK-LABEL: func.func private @tanh_2x3_2x3(
// CHECK:         math.tanh
// CHECK-LABEL: func.func private @erf_2x3_2x3(
// CHECK:         math.erf
// CHECK-LABEL: func.func private @exp_2x3_2x3(
// CHECK:         math.exp
// CHECK-LABEL: func.func private @log_2x3_2x3(
// CHECK:         math.log
// CHECK-LABEL: func.func private @sqrt_2x3_2x3(
// CHECK:         math.sqrt

// x/2 (1 + erf(x * 1/sqrt 2)), constants rounded to float32
// CHECK-LABEL: func.func private @gelu_2x3_2x3(
// CHECK-DAG:     %[[HALF:[0-9]+]] = arith.constant 5.000000e-01 : f32
// CHECK-DAG:     %[[GONE:[0-9]+]] = arith.constant 1.000000e+00 : f32
// CHECK-DAG:     %[[RSQRT2:[0-9]+]] = arith.constant 0.7071067{{[0-9]*}} : f32
// CHECK:         %[[GX:[0-9]+]] = memref.load %0
// CHECK-NEXT:    %[[HX:[0-9]+]] = arith.mulf %[[HALF]], %[[GX]] : f32
// CHECK-NEXT:    %[[U:[0-9]+]] = arith.mulf %[[GX]], %[[RSQRT2]] : f32
// CHECK-NEXT:    %[[ERF:[0-9]+]] = math.erf %[[U]] : f32
// CHECK-NEXT:    %[[P:[0-9]+]] = arith.addf %[[GONE]], %[[ERF]] : f32
// CHECK-NEXT:    %[[GY:[0-9]+]] = arith.mulf %[[HX]], %[[P]] : f32
// CHECK-NEXT:    memref.store %[[GY]], %1

// x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
// CHECK-LABEL: func.func private @gelu_2x3_2x3_v2(
// CHECK-DAG:     %[[K:[0-9]+]] = arith.constant 0.7978845{{[0-9]*}} : f32
// CHECK-DAG:     %[[CUBIC:[0-9]+]] = arith.constant 4.471500e-02 : f32
// CHECK:         %[[TX:[0-9]+]] = memref.load %0
// CHECK-NEXT:    arith.mulf %{{[0-9]+}}, %[[TX]] : f32
// CHECK-NEXT:    %[[X2:[0-9]+]] = arith.mulf %[[TX]], %[[TX]] : f32
// CHECK-NEXT:    %[[X3:[0-9]+]] = arith.mulf %[[X2]], %[[TX]] : f32
// CHECK-NEXT:    %[[CX3:[0-9]+]] = arith.mulf %[[CUBIC]], %[[X3]] : f32
// CHECK-NEXT:    %[[IN:[0-9]+]] = arith.addf %[[TX]], %[[CX3]] : f32
// CHECK-NEXT:    %[[KIN:[0-9]+]] = arith.mulf %[[K]], %[[IN]] : f32
// CHECK-NEXT:    math.tanh %[[KIN]] : f32

// Every op's result feeds the next call; the last writes the output buffer %3.
// CHECK-LABEL: func.func public @main(
// CHECK:         func.call @add_2x3_3_2x3(%0, %1, %{{[0-9]+}})
// CHECK:         func.call @sub_2x1_3_2x3(%2, %1, %{{[0-9]+}})
// CHECK:         func.call @gelu_2x3_2x3_v2(%{{[0-9]+}}, %3)
