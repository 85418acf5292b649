// lower-autograd: the ops before the ad op stay; the reverse sweep emits each active
// operand's vector-Jacobian product (mse_loss: (2/n)(p - t) dy; relu: x > 0 ? dy : 0;
// linear: dW = linear(dy^T, x^T), db = sum of dy over the batch; x is not active, so no
// dx), then SGD's p - lr g replaces the ad op's results. The witness lists every rule
// instance: forward op index, operand, and the target position after its ops.
// RUN: vnnc-opt %s -p lower-autograd | filecheck %s
// RUN: rm -rf %t && vnnc-opt %s -p lower-autograd --witness-dir %t > /dev/null && cat %t/01-lower-autograd.json | filecheck %s --check-prefix=WITNESS

builtin.module {
  func.func @main(%x: tensor<4x3xf32>, %y: tensor<4x2xf32>, %lr: tensor<f32>, %w: tensor<2x3xf32>, %b: tensor<2xf32>) -> (tensor<f32>, tensor<2x3xf32>, tensor<2xf32>) {
    %h = spec.linear %x, %w, %b : (tensor<4x3xf32>, tensor<2x3xf32>, tensor<2xf32>) -> tensor<4x2xf32>
    %r = spec.relu %h : (tensor<4x2xf32>) -> tensor<4x2xf32>
    %l = spec.mse_loss %r, %y : (tensor<4x2xf32>, tensor<4x2xf32>) -> tensor<f32>
    %w2, %b2 = ad.train_step %l, %lr, %w, %b {optimizer = "sgd", weight_decay = 0.0 : f64} : (tensor<f32>, tensor<f32>, tensor<2x3xf32>, tensor<2xf32>) -> (tensor<2x3xf32>, tensor<2xf32>)
    func.return %l, %w2, %b2 : tensor<f32>, tensor<2x3xf32>, tensor<2xf32>
  }
}

// CHECK:      %l = spec.mse_loss %r, %y
// CHECK-NEXT: %[[SEED:[0-9]+]] = spec.constant dense<1.000000e+00> : tensor<f32>
// CHECK-NEXT: %[[TWO_N:[0-9]+]] = spec.constant dense<2.500000e-01> : tensor<f32>
// CHECK-NEXT: %[[DIFF:[0-9]+]] = spec.sub %r, %y
// CHECK-NEXT: %[[SCALED:[0-9]+]] = spec.mul %[[TWO_N]], %[[DIFF]]
// CHECK-NEXT: %[[DR:[0-9]+]] = spec.mul %[[SCALED]], %[[SEED]]
// CHECK-NEXT: %[[ZERO:[0-9]+]] = spec.constant dense<0.000000e+00> : tensor<f32>
// CHECK-NEXT: %[[DH:[0-9]+]] = spec.where %h, %[[DR]], %[[ZERO]]
// CHECK-NEXT: %[[DHT:[0-9]+]] = spec.transpose %[[DH]] {perm = array<i64: 1, 0>} : (tensor<4x2xf32>) -> tensor<2x4xf32>
// CHECK-NEXT: %[[XT:[0-9]+]] = spec.transpose %x {perm = array<i64: 1, 0>} : (tensor<4x3xf32>) -> tensor<3x4xf32>
// CHECK-NEXT: %[[DW:[0-9]+]] = spec.linear %[[DHT]], %[[XT]] : (tensor<2x4xf32>, tensor<3x4xf32>) -> tensor<2x3xf32>
// CHECK-NEXT: %[[DB:[0-9]+]] = spec.reduce_sum %[[DH]] {axes = array<i64: 0>} : (tensor<4x2xf32>) -> tensor<2xf32>
// CHECK-NEXT: %[[STEP_W:[0-9]+]] = spec.mul %lr, %[[DW]]
// CHECK-NEXT: %w2 = spec.sub %w, %[[STEP_W]]
// CHECK-NEXT: %[[STEP_B:[0-9]+]] = spec.mul %lr, %[[DB]]
// CHECK-NEXT: %b2 = spec.sub %b, %[[STEP_B]]
// CHECK-NEXT: func.return %l, %w2, %b2
// CHECK-NOT:  ad.

// WITNESS:      "kind": "autograd"
// WITNESS:      "forward": 2,
// WITNESS-NEXT: "op": "spec.mse_loss",
// WITNESS-NEXT: "operand": 0,
// WITNESS-NEXT: "target": 8
// WITNESS:      "forward": 1,
// WITNESS-NEXT: "op": "spec.relu",
// WITNESS:      "forward": 0,
// WITNESS-NEXT: "op": "spec.linear",
// WITNESS-NEXT: "operand": 1,
// WITNESS:      "forward": 0,
// WITNESS-NEXT: "op": "spec.linear",
// WITNESS-NEXT: "operand": 2,
// WITNESS-NEXT: "target": 14
