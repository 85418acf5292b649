// bound-alpha-crown: alpha-CROWN bounds (slopes optimised: Y_1 >= -1.25) of the outputs over the box of Inputs/box2.vnnlib,
// recorded as a robustness witness (the bounds, the property stating them and a one-leaf
// certificate of it); the IR is unchanged.
// RUN: rm -rf %t && vnnc-opt %s -p 'bound-alpha-crown{property="%S/Inputs/box2.vnnlib"}' --witness-dir %t | filecheck %s --check-prefix=IR
// RUN: cat %t/01-bound-alpha-crown.json | filecheck %s

func.func @main(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %w1 = spec.constant dense<[[1.0, 1.0], [1.0, -1.0], [0.5, 0.0]]> : tensor<3x2xf32>
  %b1 = spec.constant dense<[0.0, 0.0, 0.25]> : tensor<3xf32>
  %h = spec.linear %x, %w1, %b1 : (tensor<1x2xf32>, tensor<3x2xf32>, tensor<3xf32>) -> tensor<1x3xf32>
  %a = spec.relu %h : (tensor<1x3xf32>) -> tensor<1x3xf32>
  %w2 = spec.constant dense<[[1.0, 1.0, 0.0], [1.0, -1.0, 2.0]]> : tensor<2x3xf32>
  %b2 = spec.constant dense<[0.0, 0.0]> : tensor<2xf32>
  %y = spec.linear %a, %w2, %b2 : (tensor<1x3xf32>, tensor<2x3xf32>, tensor<2xf32>) -> tensor<1x2xf32>
  func.return %y : tensor<1x2xf32>
}

// IR: %h = spec.linear %x, %w1, %b1
// IR: %a = spec.relu %h
// IR: func.return %y

// CHECK: "pass": "bound-alpha-crown",
// CHECK: "kind": "robustness",
// CHECK: "method": "alpha-crown",
// CHECK: "lower": [
// CHECK-NEXT: -9.3{{[0-9]+}}e-10,
// CHECK-NEXT: -1.25000{{[0-9]+}}
// CHECK: "upper": [
// CHECK-NEXT: 3.0000000{{[0-9]+}},
// CHECK-NEXT: 3.5000000{{[0-9]+}}
// CHECK: "verdict": "holds",
// CHECK: "leaf",
