// Malformed ad ops: the verifier names the op and the reason.
// RUN: vnnc-opt %s --verify-diagnostics --split-input-file | filecheck %s

func.func @loss_not_scalar(%x: tensor<3xf32>) -> tensor<3xf32> {
  %g = ad.grad %x, %x : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  func.return %g : tensor<3xf32>
}
// CHECK: ad.grad: the first operand must be the loss, a tensor<f32>

// -----

func.func @grad_type(%l: tensor<f32>, %x: tensor<3xf32>) -> tensor<4xf32> {
  %g = ad.grad %l, %x : (tensor<f32>, tensor<3xf32>) -> tensor<4xf32>
  func.return %g : tensor<4xf32>
}
// CHECK: ad.grad: results must have the types of

// -----

func.func @unknown_optimizer(%l: tensor<f32>, %lr: tensor<f32>, %w: tensor<3xf32>) -> tensor<3xf32> {
  %w2 = ad.train_step %l, %lr, %w {optimizer = "rmsprop"} : (tensor<f32>, tensor<f32>, tensor<3xf32>) -> tensor<3xf32>
  func.return %w2 : tensor<3xf32>
}
// CHECK: ad.train_step: optimizer must be one of sgd, momentum, adam, adamw

// -----

func.func @missing_property(%l: tensor<f32>, %lr: tensor<f32>, %w: tensor<3xf32>, %m: tensor<3xf32>) -> (tensor<3xf32>, tensor<3xf32>) {
  %w2, %m2 = ad.train_step %l, %lr, %w, %m {optimizer = "momentum", momentum = 9.000000e-01 : f64, weight_decay = 0.000000e+00 : f64} : (tensor<f32>, tensor<f32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<3xf32>, tensor<3xf32>)
  func.return %w2, %m2 : tensor<3xf32>, tensor<3xf32>
}
// CHECK: ad.train_step: optimizer 'momentum' takes exactly the properties ['momentum', 'nesterov', 'optimizer', 'weight_decay']

// -----

func.func @state_type(%l: tensor<f32>, %lr: tensor<f32>, %w: tensor<3xf32>, %m: tensor<4xf32>) -> (tensor<3xf32>, tensor<4xf32>) {
  %w2, %m2 = ad.train_step %l, %lr, %w, %m {optimizer = "momentum", momentum = 9.000000e-01 : f64, nesterov = false, weight_decay = 0.000000e+00 : f64} : (tensor<f32>, tensor<f32>, tensor<3xf32>, tensor<4xf32>) -> (tensor<3xf32>, tensor<4xf32>)
  func.return %w2, %m2 : tensor<3xf32>, tensor<4xf32>
}
// CHECK: ad.train_step: state operand 0 must have its parameter's type tensor<3xf32>
