"""Inference latency: vnnc's compiled C against numpy, ONNX Runtime and torch eager.

    .venv/bin/python benchmarks/inference.py [--repeats 200] [--models mlp,cnn,acasxu]

Models: the MLP 784-256-256-10 and the CNN of examples/ (same weights, exported to ONNX
here with a symbolic batch), and ACAS Xu 1_1 from ../shared/data (when present), each at
batch 1 and 64. Everything runs in one process on one thread; the contenders are
interleaved round-robin and the median of `--repeats` timed calls is reported, with the
ratio `other / vnnc` (> 1 means vnnc is faster). Compile time of each vnnc bundle is
reported too.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ACAS = ROOT.parent / "shared/data/vnncomp2021/acasxu/ACASXU_run2a_1_1_batch_2000.onnx"


def mlp_onnx(params):
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits, x = [], [], "x"
    for i, name in enumerate(("fc1", "fc2", "fc3")):
        inits += [numpy_helper.from_array(params[f"{name}.weight"], f"{name}.weight"),
                  numpy_helper.from_array(params[f"{name}.bias"], f"{name}.bias")]
        y = f"h{i}"
        nodes.append(helper.make_node("Gemm", [x, f"{name}.weight", f"{name}.bias"], [y], transB=1))
        x = y
        if i < 2:
            nodes.append(helper.make_node("Relu", [x], [f"r{i}"]))
            x = f"r{i}"
    graph = helper.make_graph(
        nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 784])],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["N", 10])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def cnn_onnx(params):
    from onnx import TensorProto, helper, numpy_helper

    inits = [numpy_helper.from_array(v, k) for k, v in params.items()]
    n = helper.make_node
    nodes = [
        n("Conv", ["x", "conv1.weight", "conv1.bias"], ["c1"], pads=[1, 1, 1, 1]),
        n("Relu", ["c1"], ["r1"]),
        n("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        n("Conv", ["p1", "conv2.weight", "conv2.bias"], ["c2"], pads=[1, 1, 1, 1]),
        n("Relu", ["c2"], ["r2"]),
        n("MaxPool", ["r2"], ["p2"], kernel_shape=[2, 2], strides=[2, 2]),
        n("Flatten", ["p2"], ["f"], axis=1),
        n("Gemm", ["f", "fc.weight", "fc.bias"], ["y"], transB=1),
    ]
    graph = helper.make_graph(
        nodes, "cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 28, 28])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def acas_onnx():
    import onnx

    model = onnx.load(str(ACAS))
    inits = {i.name for i in model.graph.initializer}
    real = next(i for i in model.graph.input if i.name not in inits)
    real.type.tensor_type.shape.dim[0].dim_param = "N"
    return model


def numpy_forward(kind, params):
    if kind == "mlp":
        layers = [(params[f"{n}.weight"].T.copy(), params[f"{n}.bias"]) for n in ("fc1", "fc2", "fc3")]

        def f(x):
            for i, (w, b) in enumerate(layers):
                x = x @ w + b
                if i < 2:
                    x = np.maximum(x, 0)
            return x

        return f
    return None


def torch_forward(model_onnx_kind, params):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    t = {k: torch.from_numpy(v) for k, v in params.items()}
    F = torch.nn.functional
    if model_onnx_kind == "mlp":
        def f(x):
            with torch.no_grad():
                h = F.relu(F.linear(torch.from_numpy(x), t["fc1.weight"], t["fc1.bias"]))
                h = F.relu(F.linear(h, t["fc2.weight"], t["fc2.bias"]))
                return F.linear(h, t["fc3.weight"], t["fc3.bias"]).numpy()
        return f
    if model_onnx_kind == "cnn":
        def f(x):
            with torch.no_grad():
                h = F.max_pool2d(F.relu(F.conv2d(torch.from_numpy(x), t["conv1.weight"], t["conv1.bias"], padding=1)), 2)
                h = F.max_pool2d(F.relu(F.conv2d(h, t["conv2.weight"], t["conv2.bias"], padding=1)), 2)
                return F.linear(h.flatten(1), t["fc.weight"], t["fc.bias"]).numpy()
        return f
    return None


def time_interleaved(fns: dict, x, repeats: int) -> dict[str, float]:
    for f in fns.values():
        for _ in range(5):
            f(x)
    samples = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            t0 = time.perf_counter_ns()
            f(x)
            samples[k].append(time.perf_counter_ns() - t0)
    return {k: statistics.median(v) / 1e3 for k, v in samples.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--models", default="mlp,cnn,acasxu")
    ap.add_argument("--batches", default="1,64")
    args = ap.parse_args()

    import onnx
    import onnxruntime as ort
    import vnnc
    from vnnc import safetensors

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="vnnc-bench-"))
    for kind in args.models.split(","):
        if kind == "acasxu":
            if not ACAS.exists():
                print(f"skipping acasxu: {ACAS} is absent", file=sys.stderr)
                continue
            model, params, shape = acas_onnx(), None, (1, 1, 5)
        else:
            params = safetensors.read(ROOT / "examples" / f"{kind}.safetensors")
            model = mlp_onnx(params) if kind == "mlp" else cnn_onnx(params)
            shape = (784,) if kind == "mlp" else (1, 28, 28)
        path = tmp / f"{kind}.onnx"
        onnx.save(model, str(path))
        sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        inits = {i.name for i in model.graph.initializer}
        in_name = next(i.name for i in sess.get_inputs() if i.name not in inits)
        for batch in (int(b) for b in args.batches.split(",")):
            t0 = time.perf_counter()
            bundle = vnnc.compile(path, out=tmp / f"{kind}-{batch}", batch=batch, force=True)
            compile_s = time.perf_counter() - t0
            runner = bundle.runner()
            x = np.random.default_rng(0).random((batch, *shape), dtype=np.float32)
            fns = {"vnnc": lambda x, r=runner: r.run(x)[0],
                   "onnxruntime": lambda x, s=sess, n=in_name: s.run(None, {n: x})[0]}
            npf = numpy_forward(kind, params) if params is not None else None
            if npf:
                fns["numpy"] = npf
            tf = torch_forward(kind, params) if params is not None else None
            if tf:
                fns["torch"] = tf
            ref = fns["onnxruntime"](x)
            err = float(np.abs(fns["vnnc"](x) - ref).max() / max(1.0, np.abs(ref).max()))
            med = time_interleaved(fns, x, args.repeats)
            rows.append((kind, batch, compile_s, med, err))

    print(f"\n{'model':8} {'batch':>5} {'compile s':>9} {'vnnc us':>9}  others (us, ratio other/vnnc)   max rel err vs ORT")
    for kind, batch, compile_s, med, err in rows:
        others = "  ".join(f"{k} {v:8.1f} ({v / med['vnnc']:.2f}x)" for k, v in med.items() if k != "vnnc")
        print(f"{kind:8} {batch:5d} {compile_s:9.2f} {med['vnnc']:9.1f}  {others}   {err:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
