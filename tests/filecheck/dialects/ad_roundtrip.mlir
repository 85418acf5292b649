// Round trip of the ad dialect through the custom and the generic form.
// RUN: vnnc-opt %s | vnnc-opt | filecheck %s
// RUN: vnnc-opt %s --print-op-generic | vnnc-opt | filecheck %s
// RUN: vnnc-opt %s --print-op-generic | filecheck %s --check-prefix=GENERIC

builtin.module {
  func.func @main(%x: tensor<2x3xf32>, %w: tensor<4x3xf32>, %t: tensor<2x4xf32>, %lr: tensor<f32>, %b1: tensor<f32>, %b2: tensor<f32>, %m: tensor<4x3xf32>, %r: tensor<4x3xf32>) -> (tensor<4x3xf32>, tensor<2x3xf32>, tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x3xf32>) {
    %y = spec.linear %x, %w : (tensor<2x3xf32>, tensor<4x3xf32>) -> tensor<2x4xf32>
    %l = spec.mse_loss %y, %t : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<f32>
    %gw, %gx = ad.grad %l, %w, %x : (tensor<f32>, tensor<4x3xf32>, tensor<2x3xf32>) -> (tensor<4x3xf32>, tensor<2x3xf32>)
    %w2, %m2, %r2 = ad.train_step %l, %lr, %b1, %b2, %w, %m, %r {optimizer = "adam", beta1 = 9.000000e-01 : f64, beta2 = 9.990000e-01 : f64, eps = 1.000000e-08 : f64, weight_decay = 0.000000e+00 : f64} : (tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>, tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x3xf32>) -> (tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x3xf32>)
    func.return %gw, %gx, %w2, %m2, %r2 : tensor<4x3xf32>, tensor<2x3xf32>, tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x3xf32>
  }
}

// CHECK:      %gw, %gx = ad.grad %l, %w, %x : (tensor<f32>, tensor<4x3xf32>, tensor<2x3xf32>) -> (tensor<4x3xf32>, tensor<2x3xf32>)
// CHECK-NEXT: %w2, %m2, %r2 = ad.train_step %l, %lr, %b1, %b2, %w, %m, %r {optimizer = "adam", beta1 = 9.000000e-01 : f64, beta2 = 9.990000e-01 : f64, eps = 1.000000e-08 : f64, weight_decay = 0.000000e+00 : f64} : (tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32>, tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x3xf32>) -> (tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x3xf32>)

// GENERIC: "ad.grad"(%l, %w, %x) : (tensor<f32>, tensor<4x3xf32>, tensor<2x3xf32>) -> (tensor<4x3xf32>, tensor<2x3xf32>)
// GENERIC: "ad.train_step"(%l, %lr, %b1, %b2, %w, %m, %r) <{optimizer = "adam", {{.*}}weight_decay = 0.000000e+00 : f64}>
