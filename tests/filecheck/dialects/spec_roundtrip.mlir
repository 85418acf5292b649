// Round trip of every spec op through the custom and the generic form.
// RUN: vnnc-opt %s | vnnc-opt | filecheck %s
// RUN: vnnc-opt %s --print-op-generic | vnnc-opt | filecheck %s
// RUN: vnnc-opt %s --print-op-generic | filecheck %s --check-prefix=GENERIC

builtin.module {
  func.func @main(%x: tensor<2x4xf32>, %y: tensor<2x4xf32>, %img: tensor<1x2x5x5xf32>, %labels: tensor<2xi64>) -> tensor<2x3xf32> {
    %w = spec.param "w" {sha256 = "0000000000000000000000000000000000000000000000000000000000000000"} : tensor<3x4xf32>
    %b = spec.param "b" {sha256 = "1111111111111111111111111111111111111111111111111111111111111111"} : tensor<3xf32>
    %c = spec.constant dense<[1.5, -2.0, 0.25]> : tensor<3xf32>
    %wt = spec.transpose %w {perm = array<i64: 1, 0>} : (tensor<3x4xf32>) -> tensor<4x3xf32>
    %mm = spec.matmul %x, %wt : (tensor<2x4xf32>, tensor<4x3xf32>) -> tensor<2x3xf32>
    %lb = spec.linear %x, %w, %b : (tensor<2x4xf32>, tensor<3x4xf32>, tensor<3xf32>) -> tensor<2x3xf32>
    %ln = spec.linear %x, %w : (tensor<2x4xf32>, tensor<3x4xf32>) -> tensor<2x3xf32>
    %add = spec.add %lb, %c : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
    %sub = spec.sub %x, %y : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
    %mul = spec.mul %x, %y : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
    %div = spec.div %x, %y : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
    %neg = spec.neg %x : (tensor<2x4xf32>) -> tensor<2x4xf32>
    %relu = spec.relu %x : (tensor<2x4xf32>) -> tensor<2x4xf32>
    %lrelu = spec.leaky_relu %x {alpha = 2.000000e-01 : f64} : (tensor<2x4xf32>) -> tensor<2x4xf32>
    %sig = spec.sigmoid %x : (tensor<2x4xf32>) -> tensor<2x4xf32>
    %tanh = spec.tanh %x : (tensor<2x4xf32>) -> tensor<2x4xf32>
    %gelu = spec.gelu %x : (tensor<2x4xf32>) -> tensor<2x4xf32>
    %gelut = spec.gelu %x {approximate = "tanh"} : (tensor<2x4xf32>) -> tensor<2x4xf32>
    %erf = spec.erf %x : (tensor<2x4xf32>) -> tensor<2x4xf32>
    %exp = spec.exp %x : (tensor<2x4xf32>) -> tensor<2x4xf32>
    %log = spec.log %x : (tensor<2x4xf32>) -> tensor<2x4xf32>
    %sqrt = spec.sqrt %x : (tensor<2x4xf32>) -> tensor<2x4xf32>
    %sm = spec.softmax %x {axis = 1 : i64} : (tensor<2x4xf32>) -> tensor<2x4xf32>
    %lsm = spec.log_softmax %x {axis = -1 : i64} : (tensor<2x4xf32>) -> tensor<2x4xf32>
    %s4 = spec.param "s4" {sha256 = "2222222222222222222222222222222222222222222222222222222222222222"} : tensor<4xf32>
    %lnorm = spec.layernorm %x {axes = array<i64: -1>} : (tensor<2x4xf32>) -> tensor<2x4xf32>
    %lnorm2 = spec.layernorm %x, %s4, %s4 {axes = array<i64: 1>, eps = 1.000000e-06 : f64} : (tensor<2x4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
    %c2 = spec.param "c2" {sha256 = "3333333333333333333333333333333333333333333333333333333333333333"} : tensor<2xf32>
    %bn = spec.batchnorm %img, %c2, %c2, %c2, %c2 {eps = 1.000000e-03 : f64} : (tensor<1x2x5x5xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x5x5xf32>
    %kw = spec.param "kw" {sha256 = "4444444444444444444444444444444444444444444444444444444444444444"} : tensor<3x2x3x3xf32>
    %kb = spec.param "kb" {sha256 = "5555555555555555555555555555555555555555555555555555555555555555"} : tensor<3xf32>
    %conv = spec.conv2d %bn, %kw, %kb {pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 2, 2>} : (tensor<1x2x5x5xf32>, tensor<3x2x3x3xf32>, tensor<3xf32>) -> tensor<1x3x3x3xf32>
    %convnb = spec.conv2d %img, %kw : (tensor<1x2x5x5xf32>, tensor<3x2x3x3xf32>) -> tensor<1x3x3x3xf32>
    %mp = spec.maxpool2d %conv {kernel = array<i64: 2, 2>, strides = array<i64: 1, 1>} : (tensor<1x3x3x3xf32>) -> tensor<1x3x2x2xf32>
    %ap = spec.avgpool2d %img {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, ceil_mode = true, count_include_pad = true} : (tensor<1x2x5x5xf32>) -> tensor<1x2x3x3xf32>
    %gap = spec.global_avgpool %img : (tensor<1x2x5x5xf32>) -> tensor<1x2x1x1xf32>
    %fl = spec.flatten %mp : (tensor<1x3x2x2xf32>) -> tensor<1x12xf32>
    %rs = spec.reshape %fl {shape = array<i64: 3, 4>} : (tensor<1x12xf32>) -> tensor<3x4xf32>
    %cat = spec.concat %x, %y, %rs {axis = 0 : i64} : (tensor<2x4xf32>, tensor<2x4xf32>, tensor<3x4xf32>) -> tensor<7x4xf32>
    %sl = spec.slice %cat {starts = array<i64: 1, 0>, ends = array<i64: 7, 4>, steps = array<i64: 3, 2>} : (tensor<7x4xf32>) -> tensor<2x2xf32>
    %rsum = spec.reduce_sum %x {axes = array<i64: 1>} : (tensor<2x4xf32>) -> tensor<2xf32>
    %rmean = spec.reduce_mean %x {axes = array<i64: 0, 1>, keepdims = true} : (tensor<2x4xf32>) -> tensor<1x1xf32>
    %rmax = spec.reduce_max %x {axes = array<i64: 0>} : (tensor<2x4xf32>) -> tensor<4xf32>
    %mse = spec.mse_loss %x, %y : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<f32>
    %ce = spec.cross_entropy %mm, %labels : (tensor<2x3xf32>, tensor<2xi64>) -> tensor<f32>
    %wh = spec.where %x, %y, %sub : (tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
    %oh = spec.one_hot %labels {classes = 3 : i64} : (tensor<2xi64>) -> tensor<2x3xf32>
    %ss = spec.slice_scatter %sl {shape = array<i64: 7, 4>, starts = array<i64: 1, 0>, steps = array<i64: 3, 2>} : (tensor<2x2xf32>) -> tensor<7x4xf32>
    func.return %add : tensor<2x3xf32>
  }
}

// CHECK: builtin.module {
// CHECK-NEXT: func.func @main(%x: tensor<2x4xf32>, %y: tensor<2x4xf32>, %img: tensor<1x2x5x5xf32>, %labels: tensor<2xi64>) -> tensor<2x3xf32> {
// CHECK-NEXT: %w = spec.param "w" {sha256 = "0000000000000000000000000000000000000000000000000000000000000000"} : tensor<3x4xf32>
// CHECK-NEXT: %b = spec.param "b" {sha256 = "1111111111111111111111111111111111111111111111111111111111111111"} : tensor<3xf32>
// CHECK-NEXT: %c = spec.constant dense<[1.500000e+00, -2.000000e+00, 2.500000e-01]> : tensor<3xf32>
// CHECK-NEXT: %wt = spec.transpose %w {perm = array<i64: 1, 0>} : (tensor<3x4xf32>) -> tensor<4x3xf32>
// CHECK-NEXT: %mm = spec.matmul %x, %wt : (tensor<2x4xf32>, tensor<4x3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT: %lb = spec.linear %x, %w, %b : (tensor<2x4xf32>, tensor<3x4xf32>, tensor<3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT: %ln = spec.linear %x, %w : (tensor<2x4xf32>, tensor<3x4xf32>) -> tensor<2x3xf32>
// CHECK-NEXT: %add = spec.add %lb, %c : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT: %sub = spec.sub %x, %y : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
// CHECK-NEXT: %mul = spec.mul %x, %y : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
// CHECK-NEXT: %div = spec.div %x, %y : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
// CHECK-NEXT: %neg = spec.neg %x : (tensor<2x4xf32>) -> tensor<2x4xf32>
// CHECK-NEXT: %relu = spec.relu %x : (tensor<2x4xf32>) -> tensor<2x4xf32>
// CHECK-NEXT: %lrelu = spec.leaky_relu %x {alpha = 2.000000e-01 : f64} : (tensor<2x4xf32>) -> tensor<2x4xf32>
// CHECK-NEXT: %sig = spec.sigmoid %x : (tensor<2x4xf32>) -> tensor<2x4xf32>
// CHECK-NEXT: %tanh = spec.tanh %x : (tensor<2x4xf32>) -> tensor<2x4xf32>
// CHECK-NEXT: %gelu = spec.gelu %x : (tensor<2x4xf32>) -> tensor<2x4xf32>
// CHECK-NEXT: %gelut = spec.gelu %x {approximate = "tanh"} : (tensor<2x4xf32>) -> tensor<2x4xf32>
// CHECK-NEXT: %erf = spec.erf %x : (tensor<2x4xf32>) -> tensor<2x4xf32>
// CHECK-NEXT: %exp = spec.exp %x : (tensor<2x4xf32>) -> tensor<2x4xf32>
// CHECK-NEXT: %log = spec.log %x : (tensor<2x4xf32>) -> tensor<2x4xf32>
// CHECK-NEXT: %sqrt = spec.sqrt %x : (tensor<2x4xf32>) -> tensor<2x4xf32>
// CHECK-NEXT: %sm = spec.softmax %x {axis = 1 : i64} : (tensor<2x4xf32>) -> tensor<2x4xf32>
// CHECK-NEXT: %lsm = spec.log_softmax %x {axis = -1 : i64} : (tensor<2x4xf32>) -> tensor<2x4xf32>
// CHECK-NEXT: %s4 = spec.param "s4" {sha256 = "2222222222222222222222222222222222222222222222222222222222222222"} : tensor<4xf32>
// CHECK-NEXT: %lnorm = spec.layernorm %x {axes = array<i64: -1>} : (tensor<2x4xf32>) -> tensor<2x4xf32>
// CHECK-NEXT: %lnorm2 = spec.layernorm %x, %s4, %s4 {axes = array<i64: 1>, eps = 1.000000e-06 : f64} : (tensor<2x4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
// CHECK-NEXT: %c2 = spec.param "c2" {sha256 = "3333333333333333333333333333333333333333333333333333333333333333"} : tensor<2xf32>
// CHECK-NEXT: %bn = spec.batchnorm %img, %c2, %c2, %c2, %c2 {eps = 1.000000e-03 : f64} : (tensor<1x2x5x5xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<1x2x5x5xf32>
// CHECK-NEXT: %kw = spec.param "kw" {sha256 = "4444444444444444444444444444444444444444444444444444444444444444"} : tensor<3x2x3x3xf32>
// CHECK-NEXT: %kb = spec.param "kb" {sha256 = "5555555555555555555555555555555555555555555555555555555555555555"} : tensor<3xf32>
// CHECK-NEXT: %conv = spec.conv2d %bn, %kw, %kb {pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 2, 2>} : (tensor<1x2x5x5xf32>, tensor<3x2x3x3xf32>, tensor<3xf32>) -> tensor<1x3x3x3xf32>
// CHECK-NEXT: %convnb = spec.conv2d %img, %kw : (tensor<1x2x5x5xf32>, tensor<3x2x3x3xf32>) -> tensor<1x3x3x3xf32>
// CHECK-NEXT: %mp = spec.maxpool2d %conv {kernel = array<i64: 2, 2>, strides = array<i64: 1, 1>} : (tensor<1x3x3x3xf32>) -> tensor<1x3x2x2xf32>
// CHECK-NEXT: %ap = spec.avgpool2d %img {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, ceil_mode = true, count_include_pad = true} : (tensor<1x2x5x5xf32>) -> tensor<1x2x3x3xf32>
// CHECK-NEXT: %gap = spec.global_avgpool %img : (tensor<1x2x5x5xf32>) -> tensor<1x2x1x1xf32>
// CHECK-NEXT: %fl = spec.flatten %mp : (tensor<1x3x2x2xf32>) -> tensor<1x12xf32>
// CHECK-NEXT: %rs = spec.reshape %fl {shape = array<i64: 3, 4>} : (tensor<1x12xf32>) -> tensor<3x4xf32>
// CHECK-NEXT: %cat = spec.concat %x, %y, %rs {axis = 0 : i64} : (tensor<2x4xf32>, tensor<2x4xf32>, tensor<3x4xf32>) -> tensor<7x4xf32>
// CHECK-NEXT: %sl = spec.slice %cat {starts = array<i64: 1, 0>, ends = array<i64: 7, 4>, steps = array<i64: 3, 2>} : (tensor<7x4xf32>) -> tensor<2x2xf32>
// CHECK-NEXT: %rsum = spec.reduce_sum %x {axes = array<i64: 1>} : (tensor<2x4xf32>) -> tensor<2xf32>
// CHECK-NEXT: %rmean = spec.reduce_mean %x {axes = array<i64: 0, 1>, keepdims = true} : (tensor<2x4xf32>) -> tensor<1x1xf32>
// CHECK-NEXT: %rmax = spec.reduce_max %x {axes = array<i64: 0>} : (tensor<2x4xf32>) -> tensor<4xf32>
// CHECK-NEXT: %mse = spec.mse_loss %x, %y : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<f32>
// CHECK-NEXT: %ce = spec.cross_entropy %mm, %labels : (tensor<2x3xf32>, tensor<2xi64>) -> tensor<f32>
// The ops of the backward pass (lower-autograd emits them).
// CHECK-NEXT: %wh = spec.where %x, %y, %sub : (tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
// CHECK-NEXT: %oh = spec.one_hot %labels {classes = 3 : i64} : (tensor<2xi64>) -> tensor<2x3xf32>
// CHECK-NEXT: %ss = spec.slice_scatter %sl {shape = array<i64: 7, 4>, starts = array<i64: 1, 0>, steps = array<i64: 3, 2>} : (tensor<2x2xf32>) -> tensor<7x4xf32>
// CHECK-NEXT: func.return %add : tensor<2x3xf32>
// CHECK-NEXT: }
// CHECK-NEXT: }

// The generic form spells out properties, defaults included.
// GENERIC: "spec.param"() <{name = "w", sha256 = "0000000000000000000000000000000000000000000000000000000000000000"}> : () -> tensor<3x4xf32>
// GENERIC: "spec.constant"() <{value = dense<[1.500000e+00, -2.000000e+00, 2.500000e-01]> : tensor<3xf32>}> : () -> tensor<3xf32>
// GENERIC: "spec.linear"(%x, %w, %b) : (tensor<2x4xf32>, tensor<3x4xf32>, tensor<3xf32>) -> tensor<2x3xf32>
// GENERIC: "spec.gelu"(%x) <{approximate = "none"}> : (tensor<2x4xf32>) -> tensor<2x4xf32>
// GENERIC: "spec.gelu"(%x) <{approximate = "tanh"}> : (tensor<2x4xf32>) -> tensor<2x4xf32>
// GENERIC: "spec.conv2d"(%bn, %kw, %kb) <{{{.*}}pads = array<i64: 1, 1, 1, 1>{{.*}}strides = array<i64: 2, 2>{{.*}}}> :
