// Shape and type errors: the verifier names the op and both shapes.
// RUN: vnnc-opt %s --verify-diagnostics --split-input-file | filecheck %s

func.func @linear_features(%x: tensor<2x4xf32>, %w: tensor<8x5xf32>) -> tensor<2x8xf32> {
  %y = spec.linear %x, %w : (tensor<2x4xf32>, tensor<8x5xf32>) -> tensor<2x8xf32>
  func.return %y : tensor<2x8xf32>
}
// CHECK: Operation does not verify: spec.linear: input features 4 do not match weight [8, 5]

// -----

func.func @linear_bias(%x: tensor<2x4xf32>, %w: tensor<8x4xf32>, %b: tensor<4xf32>) -> tensor<2x8xf32> {
  %y = spec.linear %x, %w, %b : (tensor<2x4xf32>, tensor<8x4xf32>, tensor<4xf32>) -> tensor<2x8xf32>
  func.return %y : tensor<2x8xf32>
}
// CHECK: Operation does not verify: spec.linear: bias shape [4] must be [8]

// -----

func.func @broadcast(%a: tensor<2x3xf32>, %b: tensor<4xf32>) -> tensor<2x3xf32> {
  %y = spec.add %a, %b : (tensor<2x3xf32>, tensor<4xf32>) -> tensor<2x3xf32>
  func.return %y : tensor<2x3xf32>
}
// CHECK: Operation does not verify: spec.add: shapes [2, 3] and [4] do not broadcast

// -----

func.func @matmul(%a: tensor<2x3xf32>, %b: tensor<4x5xf32>) -> tensor<2x5xf32> {
  %y = spec.matmul %a, %b : (tensor<2x3xf32>, tensor<4x5xf32>) -> tensor<2x5xf32>
  func.return %y : tensor<2x5xf32>
}
// CHECK: Operation does not verify: spec.matmul: contraction sizes differ: [2, 3] has 3, [4, 5] has 4

// -----

func.func @conv_channels(%x: tensor<1x3x8x8xf32>, %w: tensor<4x2x3x3xf32>) -> tensor<1x4x6x6xf32> {
  %y = spec.conv2d %x, %w : (tensor<1x3x8x8xf32>, tensor<4x2x3x3xf32>) -> tensor<1x4x6x6xf32>
  func.return %y : tensor<1x4x6x6xf32>
}
// CHECK: Operation does not verify: spec.conv2d: weight [4, 2, 3, 3] expects 2 input channels, input [1, 3, 8, 8] has 3

// -----

func.func @pool_window(%x: tensor<1x1x2x2xf32>) -> tensor<1x1x1x1xf32> {
  %y = spec.maxpool2d %x {kernel = array<i64: 3, 3>, strides = array<i64: 1, 1>} : (tensor<1x1x2x2xf32>) -> tensor<1x1x1x1xf32>
  func.return %y : tensor<1x1x1x1xf32>
}
// CHECK: Operation does not verify: spec.maxpool2d: window 3 is larger than the padded input 2

// -----

func.func @bad_perm(%x: tensor<2x3x4xf32>) -> tensor<4x3x2xf32> {
  %y = spec.transpose %x {perm = array<i64: 2, 1, 1>} : (tensor<2x3x4xf32>) -> tensor<4x3x2xf32>
  func.return %y : tensor<4x3x2xf32>
}
// CHECK: Operation does not verify: spec.transpose: perm [2, 1, 1] is not a permutation of rank 3

// -----

func.func @softmax_axis(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %y = spec.softmax %x {axis = 2 : i64} : (tensor<2x4xf32>) -> tensor<2x4xf32>
  func.return %y : tensor<2x4xf32>
}
// CHECK: Operation does not verify: spec.softmax: axis 2 is out of range for rank 2

// -----

func.func @reshape_count(%x: tensor<2x6xf32>) -> tensor<5x2xf32> {
  %y = spec.reshape %x {shape = array<i64: 5, 2>} : (tensor<2x6xf32>) -> tensor<5x2xf32>
  func.return %y : tensor<5x2xf32>
}
// CHECK: Operation does not verify: spec.reshape: cannot reshape [2, 6] (12 elements) to [5, 2] (10 elements)

// -----

func.func @concat(%a: tensor<2x3xf32>, %b: tensor<2x4xf32>) -> tensor<4x3xf32> {
  %y = spec.concat %a, %b {axis = 0 : i64} : (tensor<2x3xf32>, tensor<2x4xf32>) -> tensor<4x3xf32>
  func.return %y : tensor<4x3xf32>
}
// CHECK: Operation does not verify: spec.concat: shapes [[2, 3], [2, 4]] differ outside axis 0

// -----

func.func @layernorm_scale(%x: tensor<2x4xf32>, %s: tensor<2xf32>) -> tensor<2x4xf32> {
  %y = spec.layernorm %x, %s {axes = array<i64: 1>} : (tensor<2x4xf32>, tensor<2xf32>) -> tensor<2x4xf32>
  func.return %y : tensor<2x4xf32>
}
// CHECK: Operation does not verify: spec.layernorm: scale shape [2] must be [4]

// -----

func.func @labels(%x: tensor<2x3xf32>, %l: tensor<3xi64>) -> tensor<f32> {
  %y = spec.cross_entropy %x, %l : (tensor<2x3xf32>, tensor<3xi64>) -> tensor<f32>
  func.return %y : tensor<f32>
}
// CHECK: Operation does not verify: spec.cross_entropy: labels shape [3] must be [2]

// -----

func.func @wrong_result(%x: tensor<2x4xf32>) -> tensor<2x5xf32> {
  %y = spec.relu %x : (tensor<2x4xf32>) -> tensor<2x5xf32>
  func.return %y : tensor<2x5xf32>
}
// CHECK: Operation does not verify: spec.relu: result shape [2, 5] does not match the inferred shape [2, 4]

// -----

func.func @integer_operand(%x: tensor<2x4xi64>) -> tensor<2x4xf32> {
  %y = spec.exp %x : (tensor<2x4xi64>) -> tensor<2x4xf32>
  func.return %y : tensor<2x4xf32>
}
// CHECK: Operation does not verify: spec.exp: operands must be f32 tensors, got tensor<2x4xi64>

// -----

func.func @param_hash() -> tensor<2xf32> {
  %p = spec.param "w" {sha256 = "abc"} : tensor<2xf32>
  func.return %p : tensor<2xf32>
}
// CHECK: Operation does not verify: spec.param 'w': sha256 must be 64 hex digits
