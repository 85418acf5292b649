"""ONNX models compiled to C by vnnc and run, against ONNX Runtime on the same inputs.

Networks: an MLP (Gemm/Relu), a CNN with stride, padding and pooling (Conv, BatchNorm,
MaxPool, AveragePool, GlobalAveragePool, Flatten, Gemm, Softmax), and the VNN-COMP
networks from ../shared/data (ACAS Xu, MNIST-FC, the test category). Agreement is
within 1e-5 of the output's scale (float32 C against float32 ORT).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
import vnnc
from onnx import TensorProto, helper, numpy_helper

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "vnncomp2021"


def ort_run(model_or_path, feeds: dict) -> list[np.ndarray]:
    src = str(model_or_path) if isinstance(model_or_path, Path) else model_or_path.SerializeToString()
    sess = ort.InferenceSession(src, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def assert_close(got, want) -> None:
    scale = max(1.0, float(np.abs(want).max()))
    assert np.abs(np.asarray(got, np.float64) - want).max() <= 1e-5 * scale


def compile_and_compare(path: Path, tmp: Path, batch: int = 1, seed: int = 0, samples: int = 3):
    bundle = vnnc.compile(path, out=tmp / (path.name.split(".")[0] + f"-b{batch}"), batch=batch, force=True)
    rng = np.random.default_rng(seed)
    (inp,) = bundle.inputs
    for _ in range(samples):
        x = rng.uniform(-1, 1, inp["shape"]).astype(np.float32)
        model = onnx.load(str(path))
        inits = {i.name for i in model.graph.initializer}
        name = next(i.name for i in model.graph.input if i.name not in inits)
        want = ort_run(path, {name: x.reshape(_ort_shape(model, name, inp["shape"]))})[0]
        got = bundle.run(x)
        assert_close(got.reshape(want.shape), want)
    return bundle


def _ort_shape(model, name, shape):
    """The input shape ORT expects (the file's own, when it fixes every dimension)."""
    vi = next(i for i in model.graph.input if i.name == name)
    dims = [d.dim_value for d in vi.type.tensor_type.shape.dim]
    return dims if all(dims) else shape


def _save(model, tmp: Path, name: str) -> Path:
    path = tmp / name
    onnx.save(model, str(path))
    return path


def test_mlp_gemm(tmp_path):
    rng = np.random.default_rng(1)
    w1, b1 = rng.standard_normal((32, 20)).astype(np.float32), rng.standard_normal(32).astype(np.float32)
    w2, b2 = rng.standard_normal((32, 10)).astype(np.float32), rng.standard_normal(10).astype(np.float32)
    g = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], transB=1),
         helper.make_node("Relu", ["h"], ["r"]),
         helper.make_node("Gemm", ["r", "w2", "b2"], ["y"], alpha=0.5, beta=2.0)],
        "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 20])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])],
        [numpy_helper.from_array(a, n) for a, n in ((w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2"))])
    path = _save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), tmp_path, "mlp.onnx")
    for batch in (1, 5):
        compile_and_compare(path, tmp_path, batch=batch)


def test_cnn_stride_padding_pooling(tmp_path):
    rng = np.random.default_rng(2)

    def p(*shape):
        return rng.standard_normal(shape).astype(np.float32) * 0.3

    inits = {
        "c1w": p(6, 3, 3, 3), "c1b": p(6), "bn_s": p(6) + 1, "bn_b": p(6), "bn_m": p(6),
        "bn_v": np.abs(p(6)) + 0.5, "c2w": p(8, 3, 3, 3), "c2b": p(8), "fw": p(10, 8), "fb": p(10),
    }
    n = helper.make_node
    nodes = [
        n("Conv", ["x", "c1w", "c1b"], ["c1"], strides=[2, 2], pads=[1, 1, 1, 1]),
        n("BatchNormalization", ["c1", "bn_s", "bn_b", "bn_m", "bn_v"], ["bn"], epsilon=1e-3),
        n("Relu", ["bn"], ["r1"]),
        n("MaxPool", ["r1"], ["p1"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        n("Conv", ["p1", "c2w", "c2b"], ["c2"], group=2, pads=[1, 0, 1, 0], dilations=[1, 1]),
        n("AveragePool", ["c2"], ["p2"], kernel_shape=[2, 2], strides=[1, 1], pads=[0, 0, 1, 1],
          count_include_pad=0),
        n("GlobalAveragePool", ["p2"], ["g"]),
        n("Flatten", ["g"], ["f"]),
        n("Gemm", ["f", "fw", "fb"], ["logits"], transB=1),
        n("Softmax", ["logits"], ["y"], axis=1),
    ]
    g = helper.make_graph(
        nodes, "cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 17, 17])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])],
        [numpy_helper.from_array(v, k) for k, v in inits.items()])
    path = _save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), tmp_path, "cnn.onnx")
    for batch in (1, 2):
        compile_and_compare(path, tmp_path, batch=batch)


def _shared(*parts: str) -> Path:
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared benchmark data is not checked out beside the project)")
    return path


@pytest.mark.parametrize("net", ["1_1", "2_7", "3_3", "4_9", "5_5"])
def test_acasxu(tmp_path, net):
    compile_and_compare(_shared("acasxu", f"ACASXU_run2a_{net}_batch_2000.onnx"), tmp_path)


@pytest.mark.parametrize("net", ["256x2", "256x4", "256x6"])
def test_mnistfc(tmp_path, net):
    compile_and_compare(_shared("mnistfc", f"mnist-net_{net}.onnx"), tmp_path)


@pytest.mark.parametrize("net", ["test_nano", "test_tiny", "test_small", "test_sat", "test_unsat"])
def test_vnncomp_test_category(tmp_path, net):
    compile_and_compare(_shared("test", f"{net}.onnx"), tmp_path)
