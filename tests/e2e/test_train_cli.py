"""`vnnc train` from the command line: CSV data, --log, a learning-rate schedule and drop_last
against PyTorch; ONNX in, ONNX out with its initializers updated (read back by onnxruntime);
bad input answered with one clear error line."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from test_train_mlp import torch_mlp, write_mlp
from vnnc import safetensors

torch = pytest.importorskip("torch", reason="training is compared against PyTorch")


def vnnc(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "vnnc", *map(str, args)], check=False, capture_output=True,
                          text=True, cwd=cwd, timeout=600)


def test_csv_log_schedule_and_drop_last_match_pytorch(tmp_path):
    model, params = write_mlp(tmp_path, sizes=(3, 8, 8, 2), seed=4)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((22, 3)).astype(np.float32)
    y = np.stack([x[:, 0] * x[:, 1], np.sin(x[:, 2])], axis=1).astype(np.float32)
    lines = ["a,t1,b,c,t2"] + [f"{r[0]!r},{t[0]!r},{r[1]!r},{r[2]!r},{t[1]!r}" for r, t in zip(x.tolist(), y.tolist())]
    (tmp_path / "data.csv").write_text("\n".join(lines) + "\n")
    out, log = tmp_path / "out" / "trained.mlir", tmp_path / "log.jsonl"
    r = vnnc("train", model, "--data", tmp_path / "data.csv", "--target-column", "t1", "--target-column", "t2",
             "--loss", "mse", "--optimizer", "momentum", "--nesterov", "--lr", "0.05", "--lr-schedule", "step:4:0.5",
             "--batch-size", "5", "--epochs", "3", "--no-shuffle", "--log", log, "-o", out)
    assert r.returncode == 0, r.stderr
    assert "dropping the last partial batch of 2 sample(s)" in r.stderr
    assert "step 12/12" in r.stderr and "steps/s" in r.stderr  # the progress bar
    assert "trained: 12 steps (3 epochs)" in r.stdout
    logged = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e["step"] for e in logged] == list(range(1, 13))

    net = torch_mlp(params, sizes=(3, 8, 8, 2))
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=4, gamma=0.5)
    losses = []
    for _ in range(3):
        for b in range(4):  # 22 samples, batches of 5: the last 2 are dropped
            xb, yb = torch.from_numpy(x[b * 5:(b + 1) * 5]), torch.from_numpy(y[b * 5:(b + 1) * 5])
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(net(xb), yb)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
    assert np.abs(np.array([e["loss"] for e in logged]) - losses).max() <= 1e-5
    trained = safetensors.read(out.with_suffix(".safetensors"))
    for k, p in enumerate(net.parameters()):
        name = f"fc{k // 2 + 1}.{'weight' if k % 2 == 0 else 'bias'}"
        assert np.abs(trained[name] - p.detach().numpy()).max() <= 1e-5, name
    # the input model and data are untouched; an existing output needs --force
    assert safetensors.read(tmp_path / "mlp.safetensors")["fc1.weight"].tobytes() == params["fc1.weight"].tobytes()
    again = vnnc("train", model, "--data", tmp_path / "data.csv", "--target-column", "t1", "--target-column", "t2",
                 "--loss", "mse", "--steps", "1", "-o", out)
    assert again.returncode == 1 and "already exists (use --force" in again.stderr


def onnx_mlp(path, rng):
    """x [N, 4] -> Gemm(transB=1) -> Relu -> Gemm(transB=0) -> [N, 3]: initializers W1 [5, 4] and W2 [5, 3]."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w1, b1 = rng.uniform(-0.5, 0.5, (5, 4)).astype(np.float32), rng.uniform(-0.5, 0.5, 5).astype(np.float32)
    w2, b2 = rng.uniform(-0.5, 0.5, (5, 3)).astype(np.float32), rng.uniform(-0.5, 0.5, 3).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "W1", "B1"], ["h"], transB=1), helper.make_node("Relu", ["h"], ["r"]),
         helper.make_node("Gemm", ["r", "W2", "B2"], ["y"])], "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
        [numpy_helper.from_array(a, n) for a, n in ((w1, "W1"), (b1, "B1"), (w2, "W2"), (b2, "B2"))])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return w1, b1, w2, b2


def test_onnx_in_onnx_out_with_trained_initializers(tmp_path):
    ort = pytest.importorskip("onnxruntime", reason="the written ONNX file is run by onnxruntime")
    rng = np.random.default_rng(2)
    w1, b1, w2, b2 = onnx_mlp(tmp_path / "mlp.onnx", rng)
    x = rng.standard_normal((16, 4)).astype(np.float32)
    labels = rng.integers(0, 3, 16)
    np.savez(tmp_path / "d.npz", x=x, y=labels)
    r = vnnc("train", tmp_path / "mlp.onnx", "--data", tmp_path / "d.npz", "--loss", "cross-entropy",
             "--optimizer", "adamw", "--lr", "0.01", "--lr-schedule", "cosine", "--batch-size", "16",
             "--steps", "30", "-o", tmp_path / "trained.onnx", "--quiet", "--bundle", tmp_path / "bundle")
    assert r.returncode == 0, r.stderr
    assert vnnc("check", tmp_path / "bundle").returncode == 0

    l1, l2 = torch.nn.Linear(4, 5), torch.nn.Linear(5, 3)
    with torch.no_grad():
        for lin, w, b in ((l1, w1, b1), (l2, w2.T, b2)):
            lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(w)))
            lin.bias.copy_(torch.from_numpy(b))
    net = torch.nn.Sequential(l1, torch.nn.ReLU(), l2)
    opt = torch.optim.AdamW(net.parameters(), lr=0.01)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=30)
    for _ in range(30):  # one batch holds every sample: the order does not matter
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(torch.from_numpy(x)), torch.from_numpy(labels)).backward()
        opt.step()
        sched.step()
    import onnx
    from onnx import numpy_helper

    inits = {i.name: numpy_helper.to_array(i) for i in onnx.load(tmp_path / "trained.onnx").graph.initializer}
    assert inits["W1"].shape == (5, 4) and inits["W2"].shape == (5, 3)  # W2 written back in its own layout
    assert np.abs(inits["W2"] - l2.weight.detach().numpy().T).max() <= 1e-4
    session = ort.InferenceSession(str(tmp_path / "trained.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {"x": x})[0]
    assert np.abs(got - net(torch.from_numpy(x)).detach().numpy()).max() <= 1e-4
    assert not math.isclose(float(np.abs(inits["W1"] - w1).max()), 0.0)  # it trained


@pytest.mark.parametrize("args,message", [
    (["--data", "missing.npz"], "missing.npz: no such data file"),
    (["--data", "{d}/bad.csv", "--target-column", "t"], "bad.csv:3: column 'a': 'x' is not a number"),
    (["--data", "{d}/bad.csv", "--target-column", "u"], "no column 'u'"),
    (["--data", "{d}/noy.npz"], "expected arrays named x and y"),
    (["--data", "{d}/ok.npz", "--optimizer", "adam", "--momentum", "0.5"], "--momentum does not apply"),
    (["--data", "{d}/ok.npz", "--batch-size", "9"], "fewer than one batch of 9"),
    (["--data", "{d}/ok.npz", "--lr-schedule", "linear"], "--lr-schedule 'linear'"),
    (["--data", "{d}/wide.npz"], "a sample of x has 5 values, the model's input [3] takes 3"),
    (["--data", "{d}/ok.npz", "-o", "{d}/mlp.mlir"], "is the input file"),
])
def test_bad_input_is_one_clear_error(tmp_path, args, message):
    model, _ = write_mlp(tmp_path, sizes=(3, 4, 2))
    (tmp_path / "bad.csv").write_text("a,b,t\n1,2,3\nx,2,3\n")
    np.savez(tmp_path / "noy.npz", x=np.zeros((4, 3), np.float32))
    np.savez(tmp_path / "ok.npz", x=np.zeros((8, 3), np.float32), y=np.zeros((8, 2), np.float32))
    np.savez(tmp_path / "wide.npz", x=np.zeros((8, 5), np.float32), y=np.zeros((8, 2), np.float32))
    args = [a.format(d=tmp_path) for a in args]
    out = [] if "-o" in args else ["-o", str(tmp_path / "t.mlir")]
    r = vnnc("train", model, "--loss", "mse", "--steps", "2", *out, *args, cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert r.stderr.startswith("vnnc: error: ") and message in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "t.mlir").exists()


def test_steps_and_epochs_exclude_each_other(tmp_path):
    r = vnnc("train", "m.mlir", "--data", "d.npz", "--loss", "mse", "--steps", "2", "--epochs", "1", "-o", "o.mlir")
    assert r.returncode == 2 and "not allowed with argument" in r.stderr
