"""Writes the bundled example models: examples/mlp.mlir and examples/cnn.mlir, each with
its .safetensors parameter file, and the training set examples/digits.npz.

Weights are drawn with a fixed seed from PyTorch's default initialisation for Linear and
Conv2d (uniform in +-1/sqrt(fan_in)), so the files are reproducible:

    python examples/make_examples.py
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from vnnc import safetensors
from vnnc.dialects import spec
from vnnc.model import name_attrs
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Region

HERE = Path(__file__).parent


class ModelWriter:
    def __init__(self, name: str, input_shape: list[int], seed: int):
        self.name = name
        self.rng = np.random.default_rng(seed)
        self.block = Block(arg_types=[spec.tensor(input_shape)])
        self.block.args[0].name_hint = "x"
        self.params: dict[str, np.ndarray] = {}

    def param(self, name: str, array: np.ndarray):
        array = array.astype(np.float32)
        self.params[name] = array
        op = spec.ParamOp(name, safetensors.param_sha256(array), spec.tensor(array.shape))
        op.result.name_hint = name.replace(".", "_")
        self.block.add_op(op)
        return op.result

    def uniform(self, shape, fan_in):
        bound = 1 / math.sqrt(fan_in)
        return self.rng.uniform(-bound, bound, size=shape)

    def op(self, cls, inputs, hint=None, **attrs):
        op = cls(inputs, **attrs)
        if hint:
            op.result.name_hint = hint
        self.block.add_op(op)
        return op.result

    def linear(self, x, name, n_in, n_out, hint):
        w = self.param(f"{name}.weight", self.uniform((n_out, n_in), n_in))
        b = self.param(f"{name}.bias", self.uniform((n_out,), n_in))
        return self.op(spec.LinearOp, [x, w, b], hint)

    def conv(self, x, name, c_in, c_out, k, hint):
        fan_in = c_in * k * k
        w = self.param(f"{name}.weight", self.uniform((c_out, c_in, k, k), fan_in))
        b = self.param(f"{name}.bias", self.uniform((c_out,), fan_in))
        return self.op(spec.Conv2dOp, [x, w, b], hint, strides=(1, 1), pads=(1, 1, 1, 1),
                       dilations=(1, 1), groups=1)

    def finish(self, y) -> None:
        self.block.add_op(ReturnOp(y))
        fn = FuncOp("main", ([self.block.args[0].type], [y.type]), Region(self.block))
        fn.arg_attrs = name_attrs(["x"])
        fn.res_attrs = name_attrs(["logits"])
        params_file = f"{self.name}.safetensors"
        module = ModuleOp([fn], attributes={"vnnc.params": StringAttr(params_file)})
        module.verify()
        safetensors.write(HERE / params_file, self.params)
        header = f"// {self.name}: written by examples/make_examples.py (seeded); parameters in {params_file}\n"
        (HERE / f"{self.name}.mlir").write_text(header + str(module) + "\n")


def mlp() -> None:
    """784-256-256-10 ReLU MLP, batch 1."""
    m = ModelWriter("mlp", [1, 784], seed=784)
    h = m.op(spec.ReluOp, [m.linear(m.block.args[0], "fc1", 784, 256, "h1")], "a1")
    h = m.op(spec.ReluOp, [m.linear(h, "fc2", 256, 256, "h2")], "a2")
    m.finish(m.linear(h, "fc3", 256, 10, "logits"))


def cnn() -> None:
    """Two 3x3 convolutions with ReLU and 2x2 max-pooling, then a linear layer, on 1x28x28."""
    m = ModelWriter("cnn", [1, 1, 28, 28], seed=28)
    pool = {"kernel": (2, 2), "strides": (2, 2), "pads": (0, 0, 0, 0), "dilations": (1, 1),
            "ceil_mode": False}
    h = m.op(spec.ReluOp, [m.conv(m.block.args[0], "conv1", 1, 8, 3, "c1")], "r1")
    h = m.op(spec.Maxpool2dOp, [h], "p1", **pool)
    h = m.op(spec.ReluOp, [m.conv(h, "conv2", 8, 16, 3, "c2")], "r2")
    h = m.op(spec.Maxpool2dOp, [h], "p2", **pool)
    h = m.op(spec.FlattenOp, [h], "f", axis=1)
    m.finish(m.linear(h, "fc", 16 * 7 * 7, 10, "logits"))


DIGIT_GLYPHS = (  # 5x7 bitmaps of 0..9, one string of 7 rows each
    "01110 10001 10011 10101 11001 10001 01110", "00100 01100 00100 00100 00100 00100 01110",
    "01110 10001 00001 00010 00100 01000 11111", "11110 00001 00001 01110 00001 00001 11110",
    "00010 00110 01010 10010 11111 00010 00010", "11111 10000 11110 00001 00001 10001 01110",
    "00110 01000 10000 11110 10001 10001 01110", "11111 00001 00010 00100 01000 01000 01000",
    "01110 10001 10001 01110 10001 10001 01110", "01110 10001 10001 01111 00001 00010 01100",
)


def digits(samples: int = 1024, seed: int = 10) -> None:
    """examples/digits.npz: a small seeded training set for the MLP (and the CNN, reshaped to
    1x28x28). x: float32 [samples, 784], 28x28 images in [0, 1] row-major; y: int64 labels
    0..9. Each image is the label's 5x7 glyph drawn with 3x3-pixel cells at a random offset,
    with a random ink intensity in [0.6, 1], 10% of its ink pixels dropped, and values
    quantized to multiples of 1/255."""
    rng = np.random.default_rng(seed)
    glyphs = [np.array([[c == "1" for c in row] for row in g.split()], np.float32) for g in DIGIT_GLYPHS]
    x = np.zeros((samples, 28, 28), np.float32)
    y = rng.integers(0, 10, samples).astype(np.int64)
    for i, label in enumerate(y):
        big = np.kron(glyphs[label], np.ones((3, 3), np.float32)) * rng.uniform(0.6, 1.0)
        big *= rng.random(big.shape) >= 0.1
        top, left = rng.integers(0, 28 - 21 + 1), rng.integers(0, 28 - 15 + 1)
        x[i, top:top + 21, left:left + 15] = big
    x = np.round(x * 255) / 255
    np.savez_compressed(HERE / "digits.npz", x=x.reshape(samples, 784).astype(np.float32), y=y)


if __name__ == "__main__":
    mlp()
    cnn()
    digits()
