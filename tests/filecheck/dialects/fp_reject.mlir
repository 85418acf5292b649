// RUN: vnnc-opt %s --verify-diagnostics --split-input-file | filecheck %s

func.func @bad_rounding(%x: tensor<2xbf16>) -> tensor<2xbf16> {
  %y = fp.relu %x {rounding = "sideways"} : (tensor<2xbf16>) -> tensor<2xbf16>
  func.return %y : tensor<2xbf16>
}
// CHECK: fp.relu: rounding must be one of nearest, zero, up, down

// -----

func.func @narrow_acc(%x: tensor<2xbf16>) -> tensor<2xbf16> {
  %y = fp.relu %x {acc = "bf16"} : (tensor<2xbf16>) -> tensor<2xbf16>
  func.return %y : tensor<2xbf16>
}
// CHECK: fp.relu: acc must be f32 or f64

// -----

func.func @round_wrong_type(%x: tensor<2xf32>) -> tensor<2xf16> {
  %y = fp.round %x {format = "bf16"} : (tensor<2xf32>) -> tensor<2xf16>
  func.return %y : tensor<2xf16>
}
// CHECK: fp.round: result type tensor<2xf16> is not format bf16

// -----

func.func @bad_custom(%x: tensor<2xf32>) -> tensor<2xf32> {
  %y = fp.round %x {format = "e9m30"} : (tensor<2xf32>) -> tensor<2xf32>
  func.return %y : tensor<2xf32>
}
// CHECK: custom format e9m30: need 2 <= X <= 8 and 1 <= Y <= 23

// -----

func.func @shape(%x: tensor<2x4xbf16>, %w: tensor<3x5xbf16>) -> tensor<2x3xbf16> {
  %y = fp.linear %x, %w : (tensor<2x4xbf16>, tensor<3x5xbf16>) -> tensor<2x3xbf16>
  func.return %y : tensor<2x3xbf16>
}
// CHECK: fp.linear: input features 4 do not match weight [3, 5]

// -----

func.func @no_contract(%x: tensor<2xbf16>) -> tensor<2xbf16> {
  %y = fp.tanh %x : (tensor<2xbf16>) -> tensor<2xbf16>
  func.return %y : tensor<2xbf16>
}
// CHECK: fp.tanh: its kernel calls tanhf: it must carry libm = "tanhf" and ulp >= 2.1887 (the measured error contract)

// -----

func.func @contract_too_small(%x: tensor<2xbf16>) -> tensor<2xbf16> {
  %y = fp.exp %x {libm = "expf", ulp = 0.5 : f64} : (tensor<2xbf16>) -> tensor<2xbf16>
  func.return %y : tensor<2xbf16>
}
// CHECK: fp.exp: its kernel calls expf: it must carry libm = "expf" and ulp >= 0.5017

// -----

func.func @contract_of_f64(%x: tensor<2xbf16>) -> tensor<2xbf16> {
  %y = fp.exp %x {acc = "f64", libm = "expf", ulp = 0.6 : f64} : (tensor<2xbf16>) -> tensor<2xbf16>
  func.return %y : tensor<2xbf16>
}
// CHECK: fp.exp: its kernel calls exp: it must carry libm = "exp"

// -----

func.func @contract_without_libm(%x: tensor<2xbf16>) -> tensor<2xbf16> {
  %y = fp.relu %x {ulp = 1.0 : f64} : (tensor<2xbf16>) -> tensor<2xbf16>
  func.return %y : tensor<2xbf16>
}
// CHECK: fp.relu: its kernel calls no libm function: no ulp contract
