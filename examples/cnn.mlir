// cnn: written by examples/make_examples.py (seeded); parameters in cnn.safetensors
builtin.module attributes {vnnc.params = "cnn.safetensors"} {
  func.func @main(%x: tensor<1x1x28x28xf32> {vnnc.name = "x"}) -> (tensor<1x10xf32> {vnnc.name = "logits"}) {
    %conv1_weight = spec.param "conv1.weight" {sha256 = "9d8ae9ce3c5fd4de8d33580597da8906fb88b474d5b98226fda7ddf8193144c9"} : tensor<8x1x3x3xf32>
    %conv1_bias = spec.param "conv1.bias" {sha256 = "fd70fcfb5bed04bf8a756d13d993bf886c6ece0411267793c88137959dd0ad58"} : tensor<8xf32>
    %c1 = spec.conv2d %x, %conv1_weight, %conv1_bias {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x1x28x28xf32>, tensor<8x1x3x3xf32>, tensor<8xf32>) -> tensor<1x8x28x28xf32>
    %r1 = spec.relu %c1 : (tensor<1x8x28x28xf32>) -> tensor<1x8x28x28xf32>
    %p1 = spec.maxpool2d %r1 {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>} : (tensor<1x8x28x28xf32>) -> tensor<1x8x14x14xf32>
    %conv2_weight = spec.param "conv2.weight" {sha256 = "dca4c7c87cc785910a1fc76f573ec5e4225f7e6cb5d3c946d203f0a23ef61810"} : tensor<16x8x3x3xf32>
    %conv2_bias = spec.param "conv2.bias" {sha256 = "784b5431ff2eb0199612dd0ae3e9846db3e5e7fed8bcdf0ba243609bf560db08"} : tensor<16xf32>
    %c2 = spec.conv2d %p1, %conv2_weight, %conv2_bias {pads = array<i64: 1, 1, 1, 1>} : (tensor<1x8x14x14xf32>, tensor<16x8x3x3xf32>, tensor<16xf32>) -> tensor<1x16x14x14xf32>
    %r2 = spec.relu %c2 : (tensor<1x16x14x14xf32>) -> tensor<1x16x14x14xf32>
    %p2 = spec.maxpool2d %r2 {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>} : (tensor<1x16x14x14xf32>) -> tensor<1x16x7x7xf32>
    %f = spec.flatten %p2 : (tensor<1x16x7x7xf32>) -> tensor<1x784xf32>
    %fc_weight = spec.param "fc.weight" {sha256 = "d6aa246000d640be4b2baf4d2895c69272826a3339c172b7949aada95b75c973"} : tensor<10x784xf32>
    %fc_bias = spec.param "fc.bias" {sha256 = "745b202917cc7a429e3313e0cff35fb6359cc6d137906ab88ea5fbb97a64995e"} : tensor<10xf32>
    %logits = spec.linear %f, %fc_weight, %fc_bias : (tensor<1x784xf32>, tensor<10x784xf32>, tensor<10xf32>) -> tensor<1x10xf32>
    func.return %logits : tensor<1x10xf32>
  }
}
