// mlp: written by examples/make_examples.py (seeded); parameters in mlp.safetensors
builtin.module attributes {vnnc.params = "mlp.safetensors"} {
  func.func @main(%x: tensor<1x784xf32> {vnnc.name = "x"}) -> (tensor<1x10xf32> {vnnc.name = "logits"}) {
    %fc1_weight = spec.param "fc1.weight" {sha256 = "db4ba04b440452dfdfb71727a5b83739876009bd54767b5b4f44476d1b4585dc"} : tensor<256x784xf32>
    %fc1_bias = spec.param "fc1.bias" {sha256 = "73d09831de5d733027e7c172d8d94ab612e5b7fd7ac7075f6f2cdf8ea0c33796"} : tensor<256xf32>
    %h1 = spec.linear %x, %fc1_weight, %fc1_bias : (tensor<1x784xf32>, tensor<256x784xf32>, tensor<256xf32>) -> tensor<1x256xf32>
    %a1 = spec.relu %h1 : (tensor<1x256xf32>) -> tensor<1x256xf32>
    %fc2_weight = spec.param "fc2.weight" {sha256 = "27270b105684965f241f52cfbb05291ee875832e6f334e9e5ea45f9ba2d410bc"} : tensor<256x256xf32>
    %fc2_bias = spec.param "fc2.bias" {sha256 = "72eb8f1c0cf0b44603103641843508dcc129f02060a0eb9dea20462512d6bc7a"} : tensor<256xf32>
    %h2 = spec.linear %a1, %fc2_weight, %fc2_bias : (tensor<1x256xf32>, tensor<256x256xf32>, tensor<256xf32>) -> tensor<1x256xf32>
    %a2 = spec.relu %h2 : (tensor<1x256xf32>) -> tensor<1x256xf32>
    %fc3_weight = spec.param "fc3.weight" {sha256 = "bf5360267e50f593a7436a215fc6b861c2d9e8c55e934240341d53ce2f190a01"} : tensor<10x256xf32>
    %fc3_bias = spec.param "fc3.bias" {sha256 = "4d3f57a3b00c55d78779f4bcd284e96315b4a5238db26aa9d39c82bc53bb9ae9"} : tensor<10xf32>
    %logits = spec.linear %a2, %fc3_weight, %fc3_bias : (tensor<1x256xf32>, tensor<10x256xf32>, tensor<10xf32>) -> tensor<1x10xf32>
    func.return %logits : tensor<1x10xf32>
  }
}
