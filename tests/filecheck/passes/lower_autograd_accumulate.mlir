// A value used twice gets both contributions, added in the order the reverse sweep
// meets them (d(x*x)/dx = dy x + dy x); reduce_sum's dy is broadcast back by
// where(1, dy, q), q only giving the shape; ad.grad's results become the cotangents; a
// value the loss does not depend on gets a zero constant of its shape. Momentum with
// Nesterov: buf = m buf + g, p - lr (g + m buf).
// RUN: vnnc-opt %s -p lower-autograd --split-input-file | filecheck %s

builtin.module {
  func.func @main(%x: tensor<3xf32>, %unused: tensor<2xf32>) -> (tensor<3xf32>, tensor<2xf32>) {
    %q = spec.mul %x, %x : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
    %l = spec.reduce_sum %q {axes = array<i64: 0>} : (tensor<3xf32>) -> tensor<f32>
    %gx, %gu = ad.grad %l, %x, %unused : (tensor<f32>, tensor<3xf32>, tensor<2xf32>) -> (tensor<3xf32>, tensor<2xf32>)
    func.return %gx, %gu : tensor<3xf32>, tensor<2xf32>
  }
}

// CHECK:      %[[ONE:[0-9]+]] = spec.constant dense<1.000000e+00> : tensor<f32>
// CHECK-NEXT: %[[C:[0-9]+]] = spec.constant dense<1.000000e+00> : tensor<f32>
// CHECK-NEXT: %[[KEEP:[0-9]+]] = spec.reshape %[[ONE]] {shape = array<i64: 1>}
// CHECK-NEXT: %[[DQ:[0-9]+]] = spec.where %[[C]], %[[KEEP]], %q : (tensor<f32>, tensor<1xf32>, tensor<3xf32>) -> tensor<3xf32>
// CHECK-NEXT: %[[A:[0-9]+]] = spec.mul %[[DQ]], %x
// CHECK-NEXT: %[[B:[0-9]+]] = spec.mul %[[DQ]], %x
// CHECK-NEXT: %gx = spec.add %[[A]], %[[B]]
// CHECK-NEXT: %gu = spec.constant dense<0.000000e+00> : tensor<2xf32>
// CHECK-NEXT: func.return %gx, %gu

// -----

builtin.module {
  func.func @main(%x: tensor<2xf32>, %lr: tensor<f32>, %w: tensor<2xf32>, %buf: tensor<2xf32>) -> (tensor<2xf32>, tensor<2xf32>) {
    %p = spec.mul %x, %w : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
    %l = spec.reduce_sum %p {axes = array<i64: 0>} : (tensor<2xf32>) -> tensor<f32>
    %w2, %buf2 = ad.train_step %l, %lr, %w, %buf {optimizer = "momentum", momentum = 9.000000e-01 : f64, nesterov = true, weight_decay = 0.000000e+00 : f64} : (tensor<f32>, tensor<f32>, tensor<2xf32>, tensor<2xf32>) -> (tensor<2xf32>, tensor<2xf32>)
    func.return %w2, %buf2 : tensor<2xf32>, tensor<2xf32>
  }
}

// CHECK:      %[[G:[0-9]+]] = spec.mul %{{[0-9]+}}, %x
// CHECK-NEXT: %[[M:[0-9]+]] = spec.constant dense<9.000000e-01> : tensor<f32>
// CHECK-NEXT: %[[MB:[0-9]+]] = spec.mul %[[M]], %buf
// CHECK-NEXT: %buf2 = spec.add %[[MB]], %[[G]]
// CHECK-NEXT: %[[M2:[0-9]+]] = spec.constant dense<9.000000e-01> : tensor<f32>
// CHECK-NEXT: %[[MB2:[0-9]+]] = spec.mul %[[M2]], %buf2
// CHECK-NEXT: %[[NEST:[0-9]+]] = spec.add %[[G]], %[[MB2]]
// CHECK-NEXT: %[[STEP:[0-9]+]] = spec.mul %lr, %[[NEST]]
// CHECK-NEXT: %w2 = spec.sub %w, %[[STEP]]
// CHECK-NEXT: func.return %w2, %buf2
