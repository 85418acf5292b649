// Malformed files and unknown ops: xDSL's diagnostic with the location; exit 1 and no
// traceback without --parsing-diagnostics.
// RUN: vnnc-opt %s --parsing-diagnostics --verify-diagnostics --split-input-file | filecheck %s
// RUN: not vnnc-opt %s 2>&1 | filecheck %s --check-prefix=EXIT

func.func @unknown(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %y = spec.frobnicate %x : (tensor<2x4xf32>) -> tensor<2x4xf32>
  func.return %y : tensor<2x4xf32>
}
// CHECK: spec_reject_syntax.mlir:7:{{[0-9]+}}
// CHECK: Operation spec.frobnicate is not registered
// EXIT: spec_reject_syntax.mlir:7:{{[0-9]+}}
// EXIT-NEXT: %y = spec.frobnicate
// EXIT: Operation spec.frobnicate is not registered
// EXIT-NOT: Traceback

// -----

func.func @unclosed(%x: tensor<2x4xf32> -> tensor<2x4xf32> {
  func.return %x : tensor<2x4xf32>
}
// CHECK: spec_reject_syntax.mlir:19:{{[0-9]+}}
// CHECK: ')' expected

// -----

func.func @missing_type(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %y = spec.relu %x
  func.return %y : tensor<2x4xf32>
}
// CHECK: spec_reject_syntax.mlir:{{[0-9]+}}:{{[0-9]+}}
// CHECK: Expected ':'

// -----

func.func @bad_property(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %y = spec.softmax %x {axis = "last"} : (tensor<2x4xf32>) -> tensor<2x4xf32>
  func.return %y : tensor<2x4xf32>
}
// CHECK: Operation does not verify: spec.softmax: property axis must be an i64 integer, got "last"
