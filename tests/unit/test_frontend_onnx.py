"""The ONNX front end: every supported op and corner case, imported and evaluated by the
float64 spec reference, against onnxruntime."""

from __future__ import annotations

import gzip
import io
import sys
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper
from vnnc.dialects import spec
from vnnc.errors import VnncError
from vnnc.frontend_onnx import import_onnx
from vnnc.model import entry_function, signature

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from spec_reference import evaluate

VNNCOMP = Path(__file__).resolve().parents[2].parent / "shared/data/vnncomp2021"
INT_MAX = 2**63 - 1
RNG = np.random.default_rng(1234)


def w(*shape, low=-1.0, high=1.0) -> np.ndarray:
    return RNG.uniform(low, high, shape).astype(np.float32)


def node(op: str, ins: list[str], outs: list[str], **attrs):
    return helper.make_node(op, ins, outs, name=f"n_{outs[0]}", **attrs)


def make(nodes, inputs: dict, outputs: list[str], inits: dict | None = None, opset: int = 17):
    """A model with float inputs {name: shape} (str dims are symbolic) and initializers."""
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs.items()],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in outputs],
        [numpy_helper.from_array(np.asarray(v), n) for n, v in (inits or {}).items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = min(model.ir_version, 10)
    return model


def check(
    model, tmp_path: Path, batch: int = 1, low: float = -2.0, high: float = 2.0, name="m.onnx"
):
    """Import `model`, run the reference and onnxruntime on the same random inputs, compare."""
    path = tmp_path / name
    data = model.SerializeToString()
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    imported = import_onnx(path, batch=batch)
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    compare(imported, session, low, high)
    return imported


def compare(imported, session, low=-2.0, high=2.0, seed=0):
    ins, _ = signature(imported.module)
    rng = np.random.default_rng(seed)
    feeds = {i["name"]: rng.uniform(low, high, i["shape"]).astype(np.float32) for i in ins}
    want = session.run(None, feeds)
    got = evaluate(imported.module, imported.params, list(feeds.values()))
    assert len(got) == len(want)
    for g, o in zip(got, want):
        assert g.shape == o.shape
        tol = 1e-5 * max(1.0, float(np.max(np.abs(g), initial=0)))
        assert float(np.max(np.abs(g - o), initial=0)) <= tol


def ops_of(imported) -> list[str]:
    return [op.name for op in entry_function(imported.module).body.ops]


# ---------------------------------------------------------------- one case per op / corner


def _gemm(trans_a=0, trans_b=1, alpha=1.0, beta=1.0, c_shape=(4,)):
    a_shape = (5, 3) if trans_a else (3, 5)
    b_shape = (4, 5) if trans_b else (5, 4)
    inits = {"B": w(*b_shape)}
    ins = ["A", "B"]
    if c_shape is not None:
        inits["C"] = w(*c_shape)
        ins.append("C")
    return make(
        [node("Gemm", ins, ["Y"], transA=trans_a, transB=trans_b, alpha=alpha, beta=beta)],
        {"A": a_shape},
        ["Y"],
        inits,
    )


def _binary(op):
    return make(
        [node(op, ["x", "b"], ["t"]), node(op, ["t", "y"], ["z"])],
        {"x": [2, 3, 4], "y": [3, 1]},
        ["z"],
        {"b": w(4, low=0.5, high=1.5)},
    )


def _unary(op, opset=17, **attrs):
    return make([node(op, ["x"], ["y"], **attrs)], {"x": [2, 3, 5]}, ["y"], opset=opset)


def _softmax(op, opset, shape=(2, 3, 4), **attrs):
    return make([node(op, ["x"], ["y"], **attrs)], {"x": list(shape)}, ["y"], opset=opset)


def _conv(auto_pad="NOTSET", group=1, strides=(1, 1), dilations=(1, 1), pads=None, bias=True):
    attrs = {
        "auto_pad": auto_pad,
        "group": group,
        "strides": list(strides),
        "dilations": list(dilations),
    }
    if pads is not None:
        attrs["pads"] = pads
    inits = {"W": w(6, 4 // group, 3, 2)}
    ins = ["x", "W"]
    if bias:
        inits["B"] = w(6)
        ins.append("B")
    return make([node("Conv", ins, ["y"], **attrs)], {"x": [2, 4, 7, 8]}, ["y"], inits)


def _pool(op, opset=19, **attrs):
    return make([node(op, ["x"], ["y"], **attrs)], {"x": [1, 2, 7, 8]}, ["y"], opset=opset)


def _reduce(op, opset, axes, keepdims=1, **attrs):
    inits = {}
    ins = ["x"]
    axes_as_input = (op == "ReduceSum" and opset >= 13) or opset >= 18
    if axes is not None and axes_as_input:
        inits["axes"] = np.array(axes, np.int64)
        ins.append("axes")
    elif axes is not None:
        attrs["axes"] = axes
    return make(
        [node(op, ins, ["y"], keepdims=keepdims, **attrs)],
        {"x": [2, 3, 4]},
        ["y"],
        inits,
        opset=opset,
    )


def _slice9():
    return make(
        [node("Slice", ["x"], ["y"], starts=[-3, 1], ends=[INT_MAX, -1], axes=[2, 1])],
        {"x": [2, 4, 5]},
        ["y"],
        opset=9,
    )


def _slice13():
    inits = {
        "s": np.array([-1, INT_MAX, 0], np.int64),
        "e": np.array([-INT_MAX, 0, 9], np.int64),
        "a": np.array([-1, 1, 0], np.int64),
        "t": np.array([-2, -1, 1], np.int64),
    }
    return make(
        [node("Slice", ["x", "s", "e", "a", "t"], ["y"])], {"x": [2, 4, 5]}, ["y"], inits, opset=13
    )


def _squeeze(opset):
    if opset < 13:
        nodes = [
            node("Unsqueeze", ["x"], ["u"], axes=[0, 3]),
            node("Squeeze", ["u"], ["y"], axes=[0, -3]),
            node("Squeeze", ["x"], ["z"]),
        ]
        inits = {}
    else:
        nodes = [
            node("Unsqueeze", ["x", "ua"], ["u"]),
            node("Squeeze", ["u", "sa"], ["y"]),
            node("Squeeze", ["x"], ["z"]),
        ]
        inits = {"ua": np.array([0, 3], np.int64), "sa": np.array([0, -3], np.int64)}
    return make(nodes, {"x": [1, 3, 1, 2]}, ["y", "z"], inits, opset=opset)


def _layernorm(axis, with_bias):
    inner = [3, 4] if axis == 1 else [4]
    inits = {"s": w(*inner), "b": w(*inner)}
    ins = ["x", "s", "b"] if with_bias else ["x", "s"]
    return make(
        [node("LayerNormalization", ins, ["y"], axis=axis, epsilon=1e-3)],
        {"x": [2, 3, 4]},
        ["y"],
        inits,
    )


def _batchnorm():
    inits = {"s": w(3), "b": w(3), "m": w(3), "v": w(3, low=0.5, high=2.0)}
    return make(
        [node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], epsilon=1e-4)],
        {"x": [2, 3, 4, 5]},
        ["y"],
        inits,
        opset=15,
    )


def _constants():
    nodes = [
        node("Constant", [], ["cf"], value_float=2.5),
        node("Constant", [], ["cfs"], value_floats=[1.0, -2.0, 3.0]),
        node("Constant", [], ["ci"], value_ints=[3, -1]),
        node("Constant", [], ["ct"], value=numpy_helper.from_array(w(3, 2), "ct")),
        node("Mul", ["x", "cf"], ["a"]),
        node("Add", ["a", "cfs"], ["b"]),
        node("Reshape", ["b", "ci"], ["c"]),
        node("Sub", ["c", "ct"], ["y"]),
    ]
    return make(nodes, {"x": [2, 3]}, ["y"])


def _passthrough():
    nodes = [
        node("Identity", ["x"], ["a"]),
        node("Dropout", ["a"], ["b"], ratio=0.5),
        node("Cast", ["b"], ["y"], to=TensorProto.FLOAT),
    ]
    return make(nodes, {"x": [2, 3]}, ["y"], opset=11)


def _shape_chain():
    """x [N, 3, 4] -> reshape to [N, 12] computed by Shape/Gather/Unsqueeze/Concat."""
    nodes = [
        node("Shape", ["x"], ["s"]),
        node("Gather", ["s", "zero"], ["n"], axis=0),
        node("Unsqueeze", ["n", "ax0"], ["n1"]),
        node("Concat", ["n1", "minus1"], ["shape"], axis=0),
        node("Reshape", ["x", "shape"], ["r"]),
        node("Relu", ["r"], ["y"]),
    ]
    inits = {
        "zero": np.array(0, np.int64),
        "ax0": np.array([0], np.int64),
        "minus1": np.array([-1], np.int64),
    }
    return make(nodes, {"x": ["N", 3, 4]}, ["y"], inits, opset=13)


def _folding():
    """Known subgraphs fold: a transposed initializer, Range and ConstantOfShape."""
    nodes = [
        node("Transpose", ["W"], ["Wt"]),
        node("MatMul", ["x", "Wt"], ["m"]),
        node("Range", ["r0", "r1", "r2"], ["ri"]),
        node("Cast", ["ri"], ["rf"], to=TensorProto.FLOAT),
        node(
            "ConstantOfShape",
            ["cs"],
            ["ones"],
            value=numpy_helper.from_array(np.array([0.5], np.float32), "v"),
        ),
        node("Add", ["rf", "ones"], ["k"]),
        node("Mul", ["m", "k"], ["y"]),
    ]
    inits = {
        "W": w(4, 6),
        "r0": np.array(1, np.int64),
        "r1": np.array(5, np.int64),
        "r2": np.array(1, np.int64),
        "cs": np.array([4], np.int64),
    }
    return make(nodes, {"x": [2, 6]}, ["y"], inits)


def _folded_index_ops():
    """Slice (negative steps, INT_MAX), Gather (negative index), Squeeze, Unsqueeze and
    Flatten on known values fold in numpy; the result feeds a data op."""
    nodes = [
        node("Slice", ["c", "s", "e", "a", "t"], ["cs"]),  # [4, 6] -> [4, 3]
        node("Gather", ["cs", "idx"], ["g"], axis=1),  # -> [4, 2]
        node("Unsqueeze", ["g", "ax"], ["u"]),  # -> [1, 4, 2]
        node("Squeeze", ["u", "ax"], ["q"]),  # -> [4, 2]
        node("Flatten", ["q"], ["f"], axis=0),  # -> [1, 8]
        node("Add", ["x", "f"], ["y"]),
    ]
    inits = {
        "c": w(4, 6),
        "s": np.array([-1, INT_MAX], np.int64),
        "e": np.array([-INT_MAX, 0], np.int64),
        "a": np.array([0, 1], np.int64),
        "t": np.array([-1, -2], np.int64),
        "idx": np.array([-1, 0], np.int64),
        "ax": np.array([0], np.int64),
    }
    return make(nodes, {"x": [2, 8]}, ["y"], inits, opset=13)


CASES = {
    "gemm": lambda: _gemm(),
    "gemm_transA_transB0": lambda: _gemm(trans_a=1, trans_b=0),
    "gemm_alpha_beta_C1xN": lambda: _gemm(alpha=0.5, beta=2.0, c_shape=(1, 4)),
    "gemm_C_MxN": lambda: _gemm(beta=-1.0, c_shape=(3, 4)),
    "gemm_C_scalar": lambda: _gemm(c_shape=(1,)),
    "gemm_no_C": lambda: _gemm(c_shape=None),
    "gemm_dynamic_B": lambda: make(
        [node("Gemm", ["a", "b", "c"], ["y"], alpha=0.5, beta=3.0)],
        {"a": [3, 5], "b": [5, 4], "c": [4]},
        ["y"],
    ),
    "matmul_1d_left": lambda: make(
        [node("MatMul", ["x", "W"], ["y"])], {"x": [4]}, ["y"], {"W": w(4, 3)}
    ),
    "matmul_1d_right": lambda: make(
        [node("MatMul", ["W", "x"], ["y"])], {"x": [4]}, ["y"], {"W": w(3, 4)}
    ),
    "matmul_batched": lambda: make(
        [node("MatMul", ["x", "y"], ["z"])], {"x": [2, 3, 4], "y": [4, 5]}, ["z"]
    ),
    **{f"binary_{op}": (lambda op=op: _binary(op)) for op in ("Add", "Sub", "Mul", "Div")},
    **{
        f"unary_{op}": (lambda op=op: _unary(op))
        for op in ("Neg", "Relu", "Sigmoid", "Tanh", "Erf", "Exp")
    },
    "leaky_relu": lambda: _unary("LeakyRelu", alpha=0.2),
    "leaky_relu_default": lambda: _unary("LeakyRelu"),
    "gelu_opset20": lambda: _unary("Gelu", opset=20),
    "gelu_opset20_tanh": lambda: _unary("Gelu", opset=20, approximate="tanh"),
    "softmax_opset11_3d": lambda: _softmax("Softmax", 11),
    "softmax_opset11_axis0": lambda: _softmax("Softmax", 11, axis=0),
    "softmax_opset11_last": lambda: _softmax("Softmax", 11, axis=-1),
    "softmax_opset13": lambda: _softmax("Softmax", 13),
    "softmax_opset13_axis1": lambda: _softmax("Softmax", 13, axis=1),
    "log_softmax_opset11_3d": lambda: _softmax("LogSoftmax", 11),
    "log_softmax_opset13": lambda: _softmax("LogSoftmax", 13, axis=-2),
    "conv_same_upper_groups": lambda: _conv("SAME_UPPER", group=2, strides=(2, 2)),
    "conv_same_lower": lambda: _conv("SAME_LOWER", strides=(2, 3), bias=False),
    "conv_valid": lambda: _conv("VALID", group=2),
    "conv_pads_dilations": lambda: _conv(pads=[1, 2, 0, 1], dilations=(2, 2), strides=(1, 2)),
    "maxpool": lambda: _pool("MaxPool", kernel_shape=[2, 2], strides=[2, 2]),
    "maxpool_ceil_pads_dilations": lambda: _pool(
        "MaxPool",
        kernel_shape=[3, 2],
        strides=[2, 2],
        pads=[1, 0, 0, 0],
        dilations=[1, 2],
        ceil_mode=1,
    ),
    # ceil mode: a last window that would start in the right padding is dropped
    "maxpool_ceil_last_window": lambda: make(
        [
            node(
                "MaxPool",
                ["x"],
                ["y"],
                kernel_shape=[2, 2],
                strides=[3, 3],
                pads=[1] * 4,
                ceil_mode=1,
            )
        ],
        {"x": [1, 1, 4, 4]},
        ["y"],
    ),
    "avgpool_ceil_last_window": lambda: make(
        [
            node(
                "AveragePool",
                ["x"],
                ["y"],
                kernel_shape=[2, 2],
                strides=[3, 3],
                pads=[1] * 4,
                ceil_mode=1,
                count_include_pad=1,
            )
        ],
        {"x": [1, 1, 4, 4]},
        ["y"],
    ),
    "maxpool_same_upper": lambda: _pool(
        "MaxPool", kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER"
    ),
    **{
        f"avgpool_cip{cip}_ceil{ceil}": (
            lambda cip=cip, ceil=ceil: _pool(
                "AveragePool",
                kernel_shape=[3, 2],
                strides=[2, 2],
                pads=[1, 1, 0, 0],
                count_include_pad=cip,
                ceil_mode=ceil,
            )
        )
        for cip in (0, 1)
        for ceil in (0, 1)
    },
    "global_avgpool": lambda: _pool("GlobalAveragePool"),
    "batchnorm": _batchnorm,
    "layernorm_last": lambda: _layernorm(-1, True),
    "layernorm_axis1_no_bias": lambda: _layernorm(1, False),
    "flatten_axis2": lambda: make(
        [node("Flatten", ["x"], ["y"], axis=2)], {"x": [2, 3, 4, 5]}, ["y"]
    ),
    "flatten_axis0": lambda: make([node("Flatten", ["x"], ["y"], axis=0)], {"x": [2, 3]}, ["y"]),
    "reshape_zero_minus1": lambda: make(
        [node("Reshape", ["x", "s"], ["y"])],
        {"x": [2, 3, 4]},
        ["y"],
        {"s": np.array([0, -1, 2], np.int64)},
    ),
    "transpose_default": lambda: make([node("Transpose", ["x"], ["y"])], {"x": [2, 3, 4]}, ["y"]),
    "transpose_perm": lambda: make(
        [node("Transpose", ["x"], ["y"], perm=[1, 2, 0])], {"x": [2, 3, 4]}, ["y"]
    ),
    "concat": lambda: make(
        [node("Concat", ["x", "c", "x"], ["y"], axis=-2)],
        {"x": [2, 3, 4]},
        ["y"],
        {"c": w(2, 1, 4)},
    ),
    "slice_opset9": _slice9,
    "slice_opset13_negative_steps": _slice13,
    "squeeze_opset11": lambda: _squeeze(11),
    "squeeze_opset13": lambda: _squeeze(13),
    "reduce_sum_opset11": lambda: _reduce("ReduceSum", 11, [0, -1]),
    "reduce_sum_opset13": lambda: _reduce("ReduceSum", 13, [1], keepdims=0),
    "reduce_sum_opset13_all": lambda: _reduce("ReduceSum", 13, None),
    "reduce_sum_opset13_noop": lambda: _reduce("ReduceSum", 13, None, noop_with_empty_axes=1),
    "reduce_mean_opset13": lambda: _reduce("ReduceMean", 13, [1, 2], keepdims=0),
    "reduce_mean_opset18": lambda: _reduce("ReduceMean", 18, [-1]),
    "reduce_max_opset13": lambda: _reduce("ReduceMax", 13, [0]),
    "reduce_max_opset18": lambda: _reduce("ReduceMax", 18, [2], keepdims=0),
    "constants": _constants,
    "identity_dropout_cast": _passthrough,
    "folding": _folding,
    "folded_index_ops": _folded_index_ops,
}


@pytest.mark.parametrize("case", list(CASES))
def test_op_matches_onnxruntime(case, tmp_path):
    check(CASES[case](), tmp_path)


@pytest.mark.parametrize("op", ["Log", "Sqrt"])
def test_positive_domain_ops(op, tmp_path):
    check(_unary(op), tmp_path, low=0.1, high=3.0)


def test_shape_chain_folds_with_symbolic_batch(tmp_path):
    imported = check(_shape_chain(), tmp_path, batch=3)
    ins, outs = signature(imported.module)
    assert ins == [{"name": "x", "shape": [3, 3, 4], "dtype": "float32"}]
    assert outs[0]["shape"] == [3, 12]
    assert ops_of(imported) == ["spec.reshape", "spec.relu", "func.return"]


def test_initializers_listed_as_inputs_are_params(tmp_path):
    model = make(
        [node("Gemm", ["x", "W", "b"], ["y"], transB=1)],
        {"x": [1, 3]},
        ["y"],
        {"W": w(2, 3), "b": w(2)},
    )
    model.graph.input.extend(
        [
            helper.make_tensor_value_info(n, TensorProto.FLOAT, s)
            for n, s in (("W", [2, 3]), ("b", [2]))
        ]
    )
    imported = check(model, tmp_path)
    assert [i["name"] for i in signature(imported.module)[0]] == ["x"]
    assert set(imported.params) == {"W", "b"}
    assert ops_of(imported) == ["spec.param", "spec.param", "spec.linear", "func.return"]


def test_gemm_transb0_stores_the_transposed_initializer(tmp_path):
    model = _gemm(trans_b=0)
    imported = check(model, tmp_path)
    b = numpy_helper.to_array(model.graph.initializer[0])
    np.testing.assert_array_equal(imported.params["B"], b.T)
    params = [op for op in entry_function(imported.module).body.ops if isinstance(op, spec.ParamOp)]
    assert {p.param_name.data for p in params} == {"B", "C"}


def test_double_initializers_become_float32(tmp_path):
    model = make(
        [node("MatMul", ["x", "W"], ["y"])], {"x": [2, 3]}, ["y"], {"W": w(3, 2).astype(np.float64)}
    )
    model.graph.node.insert(0, node("Cast", ["x0"], ["x"], to=TensorProto.DOUBLE))
    model.graph.input[0].name = "x0"
    imported = import_onnx(_save(model, tmp_path))
    assert imported.params["W"].dtype == np.float32


def test_large_folded_constant_is_a_param_named_after_its_value(tmp_path):
    nodes = [
        node("Transpose", ["W"], ["Wt"]),
        node("MatMul", ["x", "Wt"], ["y"]),
        node("Mul", ["x", "small"], ["z"]),
    ]
    model = make(nodes, {"x": [1, 80]}, ["y", "z"], {"W": w(70, 80), "small": w(80)})
    imported = check(model, tmp_path)
    assert imported.params["Wt"].shape == (80, 70)
    assert "small" in imported.params  # initializers are params however small
    const = make(
        [
            node("Transpose", ["c"], ["ct"]),
            node("Cast", ["ct"], ["cf"], to=TensorProto.FLOAT),
            node("Add", ["x", "cf"], ["y"]),
        ],
        {"x": [3, 2]},
        ["y"],
        {"c": np.array([[1, 2, 3], [4, 5, 6]], np.int64)},
    )
    imported = check(const, tmp_path, name="c.onnx")
    assert "spec.constant" in ops_of(imported)
    assert imported.params == {}


def test_unsorted_graph_is_sorted(tmp_path):
    model = make([node("Relu", ["a"], ["y"]), node("Neg", ["x"], ["a"])], {"x": [2]}, ["y"])
    check(model, tmp_path)


def test_gzipped_file(tmp_path):
    imported = check(_gemm(), tmp_path, name="m.onnx.gz")
    assert imported.source.name == "m.onnx.gz"


# ---------------------------------------------------------------- errors


def _save(model, tmp_path, name="m.onnx") -> Path:
    path = tmp_path / name
    path.write_bytes(model.SerializeToString())
    return path


def test_unsupported_ops_are_listed_together(tmp_path):
    nodes = [
        node("Floor", ["x"], ["a"]),
        node("Abs", ["a"], ["b"]),
        node("Abs", ["b"], ["c"]),
        helper.make_node("Foo", ["c"], ["y"], name="custom", domain="com.example"),
    ]
    path = _save(make(nodes, {"x": [2]}, ["y"]), tmp_path)
    with pytest.raises(VnncError) as e:
        import_onnx(path)
    assert str(e.value) == (
        f"{path}: unsupported ONNX ops: Floor (node 'n_a'), Abs (node 'n_b', 'n_c'), "
        "com.example.Foo (node 'custom')"
    )


def test_unsupported_ops_on_known_values_fold(tmp_path):
    nodes = [node("Floor", ["c"], ["f"]), node("Add", ["x", "f"], ["y"])]
    check(make(nodes, {"x": [2]}, ["y"], {"c": np.array([1.5, -0.5], np.float32)}), tmp_path)


def test_dead_nodes_are_ignored(tmp_path):
    nodes = [node("Relu", ["x"], ["y"]), node("Floor", ["x"], ["unused"])]
    check(make(nodes, {"x": [2]}, ["y"]), tmp_path)


def test_conv3d_is_unsupported(tmp_path):
    model = make(
        [node("Conv", ["x", "W"], ["y"])], {"x": [1, 2, 3, 4, 5]}, ["y"], {"W": w(1, 2, 1, 1, 1)}
    )
    path = _save(model, tmp_path)
    with pytest.raises(VnncError, match=r"m\.onnx: node 'n_y' \(Conv\): unsupported: only 2-D"):
        import_onnx(path)


def test_shape_mismatch_names_node_and_op(tmp_path):
    model = make([node("MatMul", ["x", "W"], ["y"])], {"x": [2, 3]}, ["y"], {"W": w(4, 2)})
    with pytest.raises(
        VnncError, match=r"m\.onnx: node 'n_y' \(MatMul\): spec\.matmul: contraction"
    ):
        import_onnx(_save(model, tmp_path))


def test_reshape_to_a_computed_shape_is_unsupported(tmp_path):
    model = make(
        [node("Cast", ["s"], ["si"], to=TensorProto.INT64), node("Reshape", ["x", "si"], ["y"])],
        {"x": [2, 3], "s": [2]},
        ["y"],
    )
    with pytest.raises(VnncError, match=r"node 'n_si' \(Cast\): unsupported: cast of a computed"):
        import_onnx(_save(model, tmp_path))


def test_used_second_output_is_unsupported(tmp_path):
    model = make(
        [
            node("MaxPool", ["x"], ["y", "idx"], kernel_shape=[2, 2]),
            node("Cast", ["idx"], ["z"], to=TensorProto.FLOAT),
        ],
        {"x": [1, 1, 4, 4]},
        ["y", "z"],
    )
    with pytest.raises(VnncError, match=r"\(MaxPool\): unsupported: its output 'idx' is used"):
        import_onnx(_save(model, tmp_path))


def test_symbolic_inner_dimension_is_rejected(tmp_path):
    model = make([node("Relu", ["x"], ["y"])], {"x": ["N", "L"]}, ["y"])
    with pytest.raises(VnncError, match=r"input 'x': dimension 1 \(L\) is symbolic"):
        import_onnx(_save(model, tmp_path))


def test_training_batchnorm_is_unsupported(tmp_path):
    model = _batchnorm()
    model.graph.node[0].attribute.append(helper.make_attribute("training_mode", 1))
    with pytest.raises(VnncError, match=r"\(BatchNormalization\): unsupported: training_mode"):
        import_onnx(_save(model, tmp_path))


@pytest.mark.parametrize(
    "payload", [b"", b"\x00\x01garbage" * 50, bytes(range(256)) * 4, b"\x1f\x8bnot gzip"]
)
def test_garbage_is_not_an_onnx_model(payload, tmp_path):
    path = tmp_path / "junk.onnx"
    path.write_bytes(payload)
    with pytest.raises(VnncError, match=r"junk\.onnx: not an ONNX model: "):
        import_onnx(path)


def test_missing_file(tmp_path):
    with pytest.raises(VnncError, match="cannot read"):
        import_onnx(tmp_path / "absent.onnx")


# ---------------------------------------------------------------- VNN-COMP 2021 models


def _vnncomp_files() -> list[Path]:
    if not VNNCOMP.is_dir():
        pytest.skip(f"{VNNCOMP} is absent")
    return sorted(VNNCOMP.glob("*/*.onnx"))


def test_every_vnncomp_model_imports():
    files = _vnncomp_files()
    assert files
    for f in files:
        imported = import_onnx(f)
        assert imported.params


@pytest.mark.parametrize(
    "name",
    [
        "acasxu/ACASXU_run2a_1_1_batch_2000.onnx",
        "mnistfc/mnist-net_256x2.onnx",
        "mnistfc/mnist-net_256x4.onnx",
        "mnistfc/mnist-net_256x6.onnx",
        "test/test_nano.onnx",
        "test/test_tiny.onnx",
        "test/test_small.onnx",
        "test/test_sat.onnx",
        "test/test_unsat.onnx",
    ],
)
def test_vnncomp_sample_matches_onnxruntime(name):
    _vnncomp_files()
    path = VNNCOMP / name
    if not path.exists():
        pytest.skip(f"{path} is absent")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    imported = import_onnx(path)
    for seed in range(3):
        compare(imported, session, -1.0, 1.0, seed)


@pytest.mark.parametrize(
    "case",
    [
        "constants",
        "conv_same_upper_groups",
        "slice_opset13_negative_steps",
        "gemm_alpha_beta_C1xN",
        "layernorm_last",
        "reduce_max_opset18",
    ],
)
def test_imported_module_round_trips_through_the_parser(case, tmp_path):
    from vnnc.frontend_mlir import parse_module
    from xdsl.printer import Printer

    imported = import_onnx(_save(CASES[case](), tmp_path))
    for generic in (False, True):
        stream = io.StringIO()
        Printer(stream=stream, print_generic_format=generic).print_op(imported.module)
        again = parse_module(stream.getvalue(), "roundtrip.mlir")
        assert str(again) == str(imported.module)
