// assign-precision: an op whose kernel calls libm carries the functions it calls (in its
// accumulation format) and their measured ulp contract (fp.ULP_CONTRACTS); others carry none.
// RUN: vnnc-opt %s -p 'assign-precision{precision=bf16}' | filecheck %s
// RUN: vnnc-opt %s -p 'assign-precision{precision=f64}' | filecheck %s --check-prefix=F64

func.func @main(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %t = spec.tanh %x : (tensor<1x4xf32>) -> tensor<1x4xf32>
  %s = spec.sigmoid %t : (tensor<1x4xf32>) -> tensor<1x4xf32>
  %r = spec.relu %s : (tensor<1x4xf32>) -> tensor<1x4xf32>
  %l = spec.log_softmax %r {axis = 1 : i64} : (tensor<1x4xf32>) -> tensor<1x4xf32>
  func.return %l : tensor<1x4xf32>
}

// CHECK:      fp.tanh %{{.*}} {libm = "tanhf", ulp = 2.188700e+00 : f64} : (tensor<1x4xbf16>) -> tensor<1x4xbf16>
// CHECK-NEXT: fp.sigmoid %{{.*}} {libm = "expf", ulp = 5.017000e-01 : f64} : (tensor<1x4xbf16>) -> tensor<1x4xbf16>
// CHECK-NEXT: fp.relu %{{.*}} : (tensor<1x4xbf16>) -> tensor<1x4xbf16>
// CHECK-NEXT: fp.log_softmax %{{.*}} {axis = 1 : i64, libm = "expf,logf", ulp = 8.178000e-01 : f64}

// F64:      fp.tanh %{{.*}} {acc = "f64", libm = "tanh", ulp = {{.*}} : f64} : (tensor<1x4xf64>) -> tensor<1x4xf64>
// F64-NEXT: fp.sigmoid %{{.*}} {acc = "f64", libm = "exp", ulp = {{.*}} : f64}
// F64-NEXT: fp.relu %{{.*}} {acc = "f64"} : (tensor<1x4xf64>) -> tensor<1x4xf64>
// F64-NEXT: fp.log_softmax %{{.*}} {axis = 1 : i64, acc = "f64", libm = "exp,log", ulp = {{.*}} : f64}
