"""The checker's own op semantics and parameter reader, against independent references.

- `semantics.apply` for every spec op against torch.nn.functional (float64) when torch
  imports, and against ONNX Runtime for ONNX-defined ops (Flatten, Slice) when it does;
- `semantics.infer` makes the same accept/reject decision, with the same shape, as the
  compiler's own `dialects/shapes.py` on valid and invalid cases;
- `params.read` round-trips files written by the compiler and rejects corrupted ones;
  `params.param_sha256` equals the compiler's hash.
"""

from __future__ import annotations

import json
import math
import struct

import numpy as np
import pytest
from vnnc import safetensors
from vnnc.dialects.shapes import ShapeError, infer_shape
from vnnc.verifier import params as vparams
from vnnc.verifier import semantics
from vnnc.verifier.check import Reject

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # pragma: no cover - the comparisons below skip without torch
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")
RNG = np.random.default_rng(1234)


def rand(*shape, low=-2.0, high=2.0):
    return RNG.uniform(low, high, shape)


def close(got, want, rtol=1e-12, atol=1e-12):
    want = want.detach().numpy() if torch is not None and isinstance(want, torch.Tensor) else want
    got = np.asarray(got)
    assert got.dtype == np.float64
    assert got.shape == np.shape(want), (got.shape, np.shape(want))
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


def t(x):
    return torch.from_numpy(np.asarray(x, np.float64))


# ---------------------------------------------------------------- algebra and pointwise


@needs_torch
@pytest.mark.parametrize("sa,sb", [((2, 3), (3, 4)), ((3,), (3, 4)), ((2, 3), (3,)), ((3,), (3,)),
                                   ((2, 1, 3, 4), (5, 4, 2)), ((4,), (2, 4, 3))])
def test_matmul(sa, sb):
    a, b = rand(*sa), rand(*sb)
    close(semantics.apply("matmul", [a, b], {}), torch.matmul(t(a), t(b)))


@needs_torch
@pytest.mark.parametrize("sx", [(5,), (2, 5), (2, 3, 5)])
@pytest.mark.parametrize("bias", [False, True])
def test_linear(sx, bias):
    x, w, b = rand(*sx), rand(4, 5), rand(4)
    ins = [x, w, b] if bias else [x, w]
    close(semantics.apply("linear", ins, {}), F.linear(t(x), t(w), t(b) if bias else None))


@needs_torch
@pytest.mark.parametrize("op,ref", [("add", torch.add if torch else None),
                                    ("sub", torch.sub if torch else None),
                                    ("mul", torch.mul if torch else None),
                                    ("div", torch.div if torch else None)])
@pytest.mark.parametrize("sa,sb", [((2, 3), (2, 3)), ((2, 3), (3,)), ((4, 1, 3), (2, 1)),
                                   ((), (2,))])
def test_binary_broadcast(op, ref, sa, sb):
    a, b = rand(*sa), rand(*sb, low=0.5, high=2.0)
    close(semantics.apply(op, [a, b], {}), ref(t(a), t(b)))


def _pointwise_cases():
    if torch is None:
        return []
    return [
        ("neg", {}, torch.neg, (-3, 3)),
        ("relu", {}, F.relu, (-3, 3)),
        ("leaky_relu", {}, lambda x: F.leaky_relu(x, 0.01), (-3, 3)),
        ("leaky_relu", {"alpha": 0.2}, lambda x: F.leaky_relu(x, 0.2), (-3, 3)),
        ("sigmoid", {}, torch.sigmoid, (-800, 800)),
        ("tanh", {}, torch.tanh, (-20, 20)),
        ("gelu", {}, lambda x: F.gelu(x), (-6, 6)),
        ("gelu", {"approximate": "none"}, lambda x: F.gelu(x), (-6, 6)),
        ("gelu", {"approximate": "tanh"}, lambda x: F.gelu(x, approximate="tanh"), (-6, 6)),
        ("erf", {}, torch.erf, (-4, 4)),
        ("exp", {}, torch.exp, (-30, 30)),
        ("log", {}, torch.log, (1e-3, 100)),
        ("sqrt", {}, torch.sqrt, (0, 100)),
    ]


@needs_torch
@pytest.mark.parametrize("op,attrs,ref,bounds", _pointwise_cases())
def test_pointwise(op, attrs, ref, bounds):
    x = rand(3, 7, low=bounds[0], high=bounds[1])
    close(semantics.apply(op, [x], attrs), ref(t(x)), rtol=1e-13, atol=1e-300)


@needs_torch
def test_pointwise_ieee_edges():
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-310])
    for op, ref in [("relu", F.relu), ("sigmoid", torch.sigmoid), ("tanh", torch.tanh),
                    ("exp", torch.exp), ("erf", torch.erf), ("neg", torch.neg)]:
        close(semantics.apply(op, [x], {}), ref(t(x)), atol=0)
    assert np.isnan(semantics.apply("log", [np.array([-1.0])], {}))[0]
    assert np.isnan(semantics.apply("sqrt", [np.array([-1.0])], {}))[0]


@needs_torch
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_and_log_softmax(axis):
    x = rand(3, 4, 5, low=-50, high=50)
    x[0, 0, 0] = 700.0  # exp overflows unless shifted by the max
    close(semantics.apply("softmax", [x], {"axis": axis}), F.softmax(t(x), dim=axis))
    close(semantics.apply("log_softmax", [x], {"axis": axis}), F.log_softmax(t(x), dim=axis),
          rtol=1e-12, atol=1e-10)


# ---------------------------------------------------------------- normalisation


@needs_torch
@pytest.mark.parametrize("affine", [0, 1, 2])
def test_layernorm_trailing_axes(affine):
    x, g, b = rand(2, 3, 4), rand(3, 4), rand(3, 4)
    got = semantics.apply("layernorm", [x, g, b][: 1 + affine], {"axes": (-2, -1), "eps": 1e-3})
    want = F.layer_norm(t(x), (3, 4), t(g) if affine >= 1 else None, t(b) if affine == 2 else None,
                        eps=1e-3)
    close(got, want, atol=1e-12)


@needs_torch
def test_layernorm_inner_axis_and_default_eps():
    x, g, b = rand(2, 3, 4), rand(3), rand(3)
    got = semantics.apply("layernorm", [x, g, b], {"axes": (1,)})
    want = F.layer_norm(t(x).transpose(1, 2), (3,), t(g), t(b), eps=1e-5).transpose(1, 2)
    close(got, want, atol=1e-12)


@needs_torch
@pytest.mark.parametrize("shape", [(2, 3), (2, 3, 5), (2, 3, 4, 5)])
def test_batchnorm(shape):
    x, g, b, m, v = rand(*shape), rand(3), rand(3), rand(3), rand(3, low=0.1, high=2)
    got = semantics.apply("batchnorm", [x, g, b, m, v], {"eps": 1e-3})
    close(got, F.batch_norm(t(x), t(m), t(v), t(g), t(b), training=False, eps=1e-3), atol=1e-12)


# ---------------------------------------------------------------- windows


CONV_CASES = [  # x, w, strides, pads [top, left, bottom, right], dilations, groups
    ((1, 2, 7, 6), (3, 2, 3, 3), (1, 1), (0, 0, 0, 0), (1, 1), 1),
    ((2, 4, 9, 8), (6, 2, 3, 2), (2, 1), (1, 0, 2, 1), (1, 2), 2),
    ((1, 3, 8, 8), (3, 1, 3, 3), (2, 3), (1, 1, 1, 1), (2, 1), 3),
    ((1, 1, 5, 5), (2, 1, 5, 5), (1, 1), (2, 2, 2, 2), (1, 1), 1),
]


@needs_torch
@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("bias", [False, True])
def test_conv2d(case, bias):
    sx, sw, strides, pads, dilations, groups = case
    x, w, b = rand(*sx), rand(*sw), rand(sw[0])
    attrs = {"strides": strides, "pads": pads, "dilations": dilations, "groups": groups}
    top, left, bottom, right = pads
    xp = F.pad(t(x), (left, right, top, bottom))  # torch pads the last axis first
    want = F.conv2d(xp, t(w), t(b) if bias else None, stride=strides, dilation=dilations,
                    groups=groups)
    close(semantics.apply("conv2d", [x, w, b] if bias else [x, w], attrs), want, atol=1e-12)


def test_conv2d_defaults():
    x, w = rand(1, 2, 4, 4), rand(3, 2, 1, 1)
    close(semantics.apply("conv2d", [x, w], {}), np.einsum("nchw,oc->nohw", x, w[:, :, 0, 0]))


POOL_CASES = [
    {"x": (1, 2, 6, 6), "kernel": (2, 2), "strides": (2, 2), "pad": (0, 0), "ceil_mode": False},
    {"x": (1, 2, 5, 5), "kernel": (2, 2), "strides": (2, 2), "pad": (0, 0), "ceil_mode": True},
    {"x": (2, 3, 7, 6), "kernel": (3, 2), "strides": (2, 2), "pad": (1, 1), "ceil_mode": True},
    {"x": (1, 1, 8, 7), "kernel": (3, 3), "strides": (3, 2), "pad": (1, 0), "ceil_mode": True},
    {"x": (1, 1, 9, 9), "kernel": (4, 4), "strides": (3, 3), "pad": (2, 2), "ceil_mode": False},
]


@needs_torch
@pytest.mark.parametrize("case", POOL_CASES)
@pytest.mark.parametrize("dilation", [(1, 1), (2, 1)])
def test_maxpool2d(case, dilation):
    x = rand(*case["x"])
    ph, pw = case["pad"]
    attrs = {"kernel": case["kernel"], "strides": case["strides"], "pads": (ph, pw, ph, pw),
             "dilations": dilation, "ceil_mode": case["ceil_mode"]}
    try:
        want = F.max_pool2d(t(x), case["kernel"], case["strides"], case["pad"], dilation,
                            ceil_mode=case["ceil_mode"])
    except RuntimeError:
        pytest.skip("torch rejects this window")
    close(semantics.apply("maxpool2d", [x], attrs), want, atol=0)


@needs_torch
def test_maxpool2d_nan_propagates_and_asymmetric_pads():
    x = rand(1, 1, 5, 5, low=-10, high=-1)  # all negative: a zero padding would win
    x[0, 0, 1, 1] = np.nan
    attrs = {"kernel": (2, 2), "strides": (2, 2), "pads": (1, 0, 0, 1)}
    got = semantics.apply("maxpool2d", [x], attrs)
    want = F.max_pool2d(F.pad(t(x), (0, 1, 1, 0), value=-math.inf), 2, 2)
    close(got, want, atol=0)
    assert np.isnan(got[0, 0, 1, 0]) and np.isnan(got).sum() == 1


@needs_torch
@pytest.mark.parametrize("case", POOL_CASES)
@pytest.mark.parametrize("include", [False, True])
def test_avgpool2d(case, include):
    x = rand(*case["x"])
    ph, pw = case["pad"]
    attrs = {"kernel": case["kernel"], "strides": case["strides"], "pads": (ph, pw, ph, pw),
             "ceil_mode": case["ceil_mode"], "count_include_pad": include}
    want = F.avg_pool2d(t(x), case["kernel"], case["strides"], case["pad"],
                        ceil_mode=case["ceil_mode"], count_include_pad=include)
    close(semantics.apply("avgpool2d", [x], attrs), want, atol=1e-13)


@needs_torch
def test_global_avgpool():
    x = rand(2, 3, 4, 5)
    close(semantics.apply("global_avgpool", [x], {}), F.adaptive_avg_pool2d(t(x), 1), atol=1e-13)


# ---------------------------------------------------------------- data movement


def _ort_single(op_type: str, x: np.ndarray, attrs: dict, extra: dict | None = None):
    """Run one ONNX node on x (float64) in ONNX Runtime; extra: int64 constant inputs."""
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper, numpy_helper

    extra = extra or {}
    inits = [numpy_helper.from_array(np.asarray(v, np.int64), k) for k, v in extra.items()]
    node = helper.make_node(op_type, ["x", *extra], ["y"], **attrs)
    graph = helper.make_graph([node], "g",
                              [helper.make_tensor_value_info("x", TensorProto.DOUBLE, x.shape)],
                              [helper.make_tensor_value_info("y", TensorProto.DOUBLE, [])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})[0]


@pytest.mark.parametrize("axis", [0, 1, 2, 3, -1, -3])
def test_flatten_against_onnx(axis):
    x = rand(2, 3, 4)
    want = _ort_single("Flatten", x, {"axis": axis})
    close(semantics.apply("flatten", [x], {"axis": axis}), want)


@pytest.mark.parametrize("starts,ends,steps", [
    ((1, 0), (7, 4), (3, 2)), ((6, 3), (-1, 0), (-2, -1)),
    ((0, 2), (0, 4), (1, 1)), ((5, 3), (2, -1), (-1, -3)),
])
def test_slice_against_onnx(starts, ends, steps):
    x = rand(7, 4)
    attrs = {"starts": starts, "ends": ends, "steps": steps}
    # ONNX reads a negative end as counted from the back: -1 "before index 0" is INT64_MIN there
    onnx_ends = [e if e >= 0 else -(2**63) for e in ends]
    want = _ort_single("Slice", x, {}, {"starts": starts, "ends": onnx_ends, "axes": [0, 1],
                                        "steps": steps})
    close(semantics.apply("slice", [x], attrs), want, atol=0)


@needs_torch
def test_reshape_transpose_concat():
    x = rand(2, 3, 4)
    close(semantics.apply("reshape", [x], {"shape": (4, 6)}), t(x).reshape(4, 6), atol=0)
    close(semantics.apply("reshape", [x], {"shape": (24,)}), t(x).reshape(24), atol=0)
    for perm in [(0, 1, 2), (2, 0, 1), (1, 2, 0)]:
        close(semantics.apply("transpose", [x], {"perm": perm}), t(x).permute(*perm), atol=0)
    y, z = rand(2, 5, 4), rand(2, 1, 4)
    want = torch.cat([t(x), t(y), t(z)], 1)
    close(semantics.apply("concat", [x, y, z], {"axis": 1}), want, atol=0)
    close(semantics.apply("concat", [x, x], {"axis": -1}), torch.cat([t(x), t(x)], -1), atol=0)


@needs_torch
@pytest.mark.parametrize("axes", [(0,), (1, 2), (-1,), (0, 1, 2)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions(axes, keepdims):
    x = rand(2, 3, 4)
    attrs = {"axes": axes, "keepdims": keepdims}
    close(semantics.apply("reduce_sum", [x], attrs), torch.sum(t(x), axes, keepdim=keepdims))
    close(semantics.apply("reduce_mean", [x], attrs), torch.mean(t(x), axes, keepdim=keepdims))
    want = torch.amax(t(x), axes, keepdim=keepdims)
    close(semantics.apply("reduce_max", [x], attrs), want, atol=0)


# ---------------------------------------------------------------- losses


@needs_torch
def test_losses():
    a, b = rand(3, 4), rand(3, 4)
    close(semantics.apply("mse_loss", [a, b], {}), F.mse_loss(t(a), t(b)))
    z, labels = rand(5, 7, low=-30, high=30), np.array([0, 6, 3, 3, 1], np.int64)
    close(semantics.apply("cross_entropy", [z, labels], {}),
          F.cross_entropy(t(z), torch.from_numpy(labels)), atol=1e-12)


def test_cross_entropy_rejects_bad_labels():
    z = rand(2, 3)
    for labels in (np.array([0, 3]), np.array([-1, 0]), np.array([0.5, 1.0])):
        with pytest.raises(Reject, match="cross_entropy"):
            semantics.apply("cross_entropy", [z, labels], {})


def test_every_op_has_a_shape_rule_and_a_test():
    from vnnc.dialects.spec import OPS_BY_NAME

    assert set(semantics.SHAPE_RULES) == set(OPS_BY_NAME)


# ---------------------------------------------------------------- shape rules vs the compiler

W = {"strides": (1, 1), "pads": (0, 0, 0, 0), "dilations": (1, 1)}
SHAPE_CASES = [
    ("add", [(2, 3), (3,)], {}), ("add", [(2, 3), (2,)], {}), ("mul", [(4, 1, 3), (2, 1)], {}),
    ("matmul", [(2, 3), (3, 4)], {}), ("matmul", [(3,), (3,)], {}),
    ("matmul", [(2, 3), (4, 3)], {}),
    ("matmul", [(2, 1, 3, 4), (5, 4, 2)], {}), ("matmul", [(2, 3, 4), (3, 4, 2)], {}),
    ("matmul", [(), (3,)], {}),
    ("linear", [(2, 5), (4, 5)], {}), ("linear", [(2, 5), (4, 5), (4,)], {}),
    ("linear", [(2, 5), (5, 4)], {}), ("linear", [(2, 5), (4, 5), (5,)], {}),
    ("linear", [(2, 5)], {}), ("relu", [(2, 3)], {}), ("relu", [(2, 3), (2, 3)], {}),
    ("gelu", [(4,)], {"approximate": "tanh"}),
    ("softmax", [(2, 3)], {"axis": -1}), ("softmax", [(2, 3)], {"axis": 2}),
    ("log_softmax", [(2, 3)], {"axis": -3}),
    ("layernorm", [(2, 3, 4)], {"axes": (-1,), "eps": 1e-5}),
    ("layernorm", [(2, 3, 4), (3, 4), (3, 4)], {"axes": (1, 2), "eps": 1e-5}),
    ("layernorm", [(2, 3, 4), (4, 3)], {"axes": (1, 2), "eps": 1e-5}),
    ("layernorm", [(2, 3, 4)], {"axes": (1, 1), "eps": 1e-5}),
    ("layernorm", [(2, 3, 4)], {"axes": (), "eps": 1e-5}),
    ("layernorm", [(2, 3, 4)], {"axes": (3,), "eps": 1e-5}),
    ("layernorm", [(2, 3, 4)], {"axes": (1,), "eps": -1.0}),
    ("batchnorm", [(2, 3, 4, 4), (3,), (3,), (3,), (3,)], {"eps": 1e-5}),
    ("batchnorm", [(2, 3, 4, 4), (3,), (3,), (4,), (3,)], {"eps": 1e-5}),
    ("batchnorm", [(3,), (3,), (3,), (3,), (3,)], {"eps": 1e-5}),
    ("conv2d", [(1, 2, 7, 6), (3, 2, 3, 3)], {**W, "groups": 1}),
    ("conv2d", [(1, 2, 7, 6), (3, 2, 3, 3), (3,)], {**W, "pads": (1, 0, 2, 1), "groups": 1}),
    ("conv2d", [(2, 4, 9, 8), (6, 2, 3, 2)], {"strides": (2, 1), "pads": (1, 0, 2, 1),
                                              "dilations": (1, 2), "groups": 2}),
    ("conv2d", [(2, 4, 9, 8), (6, 2, 3, 2)], {**W, "groups": 3}),
    ("conv2d", [(2, 4, 9, 8), (6, 4, 3, 2)], {**W, "groups": 2}),
    ("conv2d", [(1, 2, 2, 2), (3, 2, 3, 3)], {**W, "groups": 1}),
    ("conv2d", [(1, 2, 5, 5), (3, 2, 3, 3), (4,)], {**W, "groups": 1}),
    ("conv2d", [(2, 5, 5), (3, 2, 3, 3)], {**W, "groups": 1}),
    ("conv2d", [(1, 2, 5, 5), (3, 2, 3, 3)], {**W, "strides": (0, 1), "groups": 1}),
    ("conv2d", [(1, 2, 5, 5), (3, 2, 3, 3)], {**W, "pads": (1, 1), "groups": 1}),
    ("maxpool2d", [(1, 2, 5, 5)], {**W, "kernel": (2, 2), "strides": (2, 2), "ceil_mode": True}),
    ("maxpool2d", [(1, 2, 5, 5)], {**W, "kernel": (2, 2), "strides": (2, 2), "ceil_mode": False}),
    ("maxpool2d", [(1, 1, 8, 7)], {"kernel": (3, 3), "strides": (3, 2), "pads": (1, 0, 1, 0),
                                   "dilations": (2, 1), "ceil_mode": True}),
    ("maxpool2d", [(1, 1, 2, 2)], {**W, "kernel": (3, 3), "strides": (1, 1), "ceil_mode": False}),
    ("avgpool2d", [(1, 2, 5, 5)], {"kernel": (2, 2), "strides": (2, 2), "pads": (0, 0, 0, 0),
                                   "ceil_mode": True, "count_include_pad": True}),
    ("avgpool2d", [(1, 2, 6, 6)], {"kernel": (3, 3), "strides": (2, 2), "pads": (1, 1, 1, 1),
                                   "ceil_mode": True, "count_include_pad": False}),
    ("avgpool2d", [(1, 2, 6)], {"kernel": (3, 3), "strides": (2, 2), "pads": (1, 1, 1, 1),
                                "ceil_mode": True, "count_include_pad": False}),
    ("global_avgpool", [(2, 3, 4, 5)], {}), ("global_avgpool", [(2, 3, 4)], {}),
    ("flatten", [(2, 3, 4)], {"axis": 0}), ("flatten", [(2, 3, 4)], {"axis": 3}),
    ("flatten", [(2, 3, 4)], {"axis": -2}), ("flatten", [(2, 3, 4)], {"axis": 4}),
    ("reshape", [(2, 3, 4)], {"shape": (6, 4)}), ("reshape", [(2, 3, 4)], {"shape": (6, 5)}),
    ("reshape", [(2, 3, 4)], {"shape": (-1, 4)}),
    ("transpose", [(2, 3, 4)], {"perm": (2, 0, 1)}),
    ("transpose", [(2, 3, 4)], {"perm": (0, 0, 1)}),
    ("transpose", [(2, 3, 4)], {"perm": (0, 1)}),
    ("concat", [(2, 3), (2, 5)], {"axis": 1}), ("concat", [(2, 3), (2, 5)], {"axis": 0}),
    ("concat", [(2, 3), (2, 3, 1)], {"axis": 0}), ("concat", [(2, 3)], {"axis": -1}),
    ("slice", [(7, 4)], {"starts": (1, 0), "ends": (7, 4), "steps": (3, 2)}),
    ("slice", [(7, 4)], {"starts": (6, 3), "ends": (-1, 0), "steps": (-2, -1)}),
    ("slice", [(7, 4)], {"starts": (0, 2), "ends": (0, 4), "steps": (1, 1)}),
    ("slice", [(7, 4)], {"starts": (0, 0), "ends": (8, 4), "steps": (1, 1)}),
    ("slice", [(7, 4)], {"starts": (0, 0), "ends": (7, 4), "steps": (0, 1)}),
    ("slice", [(7, 4)], {"starts": (0,), "ends": (7,), "steps": (1,)}),
    ("slice", [(7, 4)], {"starts": (7, 0), "ends": (0, 4), "steps": (-1, 1)}),
    ("reduce_sum", [(2, 3, 4)], {"axes": (0, 2), "keepdims": False}),
    ("reduce_mean", [(2, 3, 4)], {"axes": (-1,), "keepdims": True}),
    ("reduce_max", [(2, 3, 4)], {"axes": (1, -2), "keepdims": False}),
    ("reduce_max", [(2, 3, 4)], {"axes": (3,), "keepdims": False}),
    ("mse_loss", [(2, 3), (2, 3)], {}), ("mse_loss", [(2, 3), (3, 2)], {}),
    ("cross_entropy", [(4, 10), (4,)], {}), ("cross_entropy", [(4, 10), (10,)], {}),
    ("cross_entropy", [(4, 10, 1), (4,)], {}),
]


@pytest.mark.parametrize("op,shapes,attrs", SHAPE_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(SHAPE_CASES)])
def test_shape_rules_agree_with_the_compiler(op, shapes, attrs):
    try:
        want = ("ok", tuple(infer_shape(op, shapes, attrs)))
    except ShapeError:
        want = ("reject",)
    try:
        got = ("ok", semantics.infer(op, shapes, attrs))
    except Reject as e:
        assert f"spec.{op}" in str(e)
        got = ("reject",)
    assert got == want


def test_shape_rules_check_property_kinds():
    for op, attrs in [("softmax", {}), ("softmax", {"axis": 1.0}), ("softmax", {"axis": True}),
                      ("flatten", {"axis": 1, "extra": 2}), ("leaky_relu", {"alpha": 1}),
                      ("gelu", {"approximate": "fast"}),
                      ("reduce_sum", {"axes": (0,), "keepdims": 1})]:
        with pytest.raises(Reject, match=f"spec.{op}"):
            semantics.infer(op, [(2, 3)], attrs)
    with pytest.raises(Reject, match="not a spec op"):
        semantics.infer("frobnicate", [(2,)], {})


# ---------------------------------------------------------------- the parameter file


def test_params_round_trip_and_hash(tmp_path):
    arrays = {"w": rand(3, 4).astype(np.float32), "b": rand(4).astype(np.float64),
              "labels": np.array([1, 2, 3], np.int64),
              "i": np.arange(6, dtype=np.int32).reshape(2, 3),
              "h": rand(5).astype(np.float16), "empty": np.zeros((0, 3), np.float32)}
    safetensors.write(tmp_path / "p.safetensors", arrays)
    got = vparams.read((tmp_path / "p.safetensors").read_bytes())
    assert list(got) == list(arrays)
    for name, a in arrays.items():
        assert got[name].dtype == a.dtype and got[name].shape == a.shape
        assert np.array_equal(got[name], a)
        assert vparams.param_sha256(got[name]) == safetensors.param_sha256(a)


def _file(header, data: bytes = b"", length: int | None = None) -> bytes:
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(text) if length is None else length) + text + data


GOOD = {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
        "b": {"dtype": "I64", "shape": [1], "data_offsets": [8, 16]}}
DATA = np.array([1.5, 2.5], np.float32).tobytes() + np.array([7], np.int64).tobytes()


def _with(name, **entry):
    return {**GOOD, name: {**GOOD[name], **entry}}


CORRUPT = {
    "too short": b"\x01\x00",
    "header length too big": _file(GOOD, DATA, length=10**6),
    "overlapping offsets": _file(_with("b", data_offsets=[4, 12]), DATA[:12]),
    "hole between entries": _file(_with("b", data_offsets=[12, 20]), DATA + bytes(4)),
    "bytes no entry covers": _file(GOOD, DATA + b"junk"),
    "offsets past the data": _file(_with("b", data_offsets=[8, 24]), DATA),
    "truncated data": _file(GOOD, DATA[:-1]),
    "unknown dtype": _file(_with("a", dtype="F8"), DATA),
    "wrong dtype for the bytes": _file(_with("a", dtype="F64"), DATA),
    "shape does not fit the bytes": _file(_with("a", shape=[3]), DATA),
    "negative dimension": _file(_with("a", shape=[-2]), DATA),
    "bool dimension": _file(_with("b", shape=[True]), DATA),
    "float offset": _file(_with("a", data_offsets=[0.0, 8]), DATA),
    "missing key": _file({"a": {"dtype": "F32", "shape": [2]}}, DATA[:8]),
    "extra key": _file(_with("a", extra=1), DATA),
    "header not a dict": _file([1, 2], b""),
    "header not JSON": _file(b"{nope", b""),
    "NaN in header": _file(b'{"a": {"dtype": "F32", "shape": [NaN], "data_offsets": [0, 0]}}'),
    "repeated name": _file(b'{"a": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}, '
                           b'"a": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}}'),
    "bad metadata": _file({**GOOD, "__metadata__": {"k": 1}}, DATA),
    "deep nesting": _file(b"[" * 100000 + b"]" * 100000),
}


def test_params_reader_accepts_the_good_file():
    got = vparams.read(_file(GOOD, DATA))
    assert got["a"].tolist() == [1.5, 2.5] and got["b"].tolist() == [7]


@pytest.mark.parametrize("name", list(CORRUPT))
def test_params_reader_rejects_corrupted_files(name):
    with pytest.raises(Reject) as e:
        vparams.read(CORRUPT[name])
    assert str(e.value)


def test_compiler_file_with_flipped_header_length_is_rejected(tmp_path):
    safetensors.write(tmp_path / "p.safetensors", {"w": rand(2, 2).astype(np.float32)})
    raw = bytearray((tmp_path / "p.safetensors").read_bytes())
    raw[0] += 8  # the header swallows the first data bytes
    with pytest.raises(Reject):
        vparams.read(bytes(raw))
