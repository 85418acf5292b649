"""Training step: vnnc's compiled, checked step against torch eager and numpy, one thread.

    .venv/bin/python benchmarks/train.py [--repeats 200] [--optimizers sgd,adam]

The MLP 784-256-256-10 of examples/mlp.mlir (its weights), batch 64, cross-entropy on a
fixed random batch. A step is forward, loss, backward and the optimizer's update:
- vnnc: one call of the compiled step (`vnnc.train.CompiledStep`) on prepared buffers;
- torch eager: zero_grad, forward, cross_entropy, backward, optimizer.step (foreach=False);
- numpy: the same math written out in float32 (x W^T + b, relu, softmax - onehot, the
  transposed products, the same update formulas).
Everything runs in one process on one thread (OMP/OpenBLAS/MKL variables,
torch.set_num_threads(1)); the contenders are interleaved round-robin and the median of
`--repeats` steps is reported with the ratio other / vnnc (above 1: vnnc is faster), and
the time to build the checked training bundle.
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
BATCH, LR = 64, 1e-3


def vnnc_step(optimizer: str, x, y, tmp: Path):
    from vnnc import driver
    from vnnc.train import CompiledStep, TrainConfig, training_program

    cfg = TrainConfig(loss="cross-entropy", optimizer=optimizer, lr=LR, batch_size=BATCH, steps=1)
    t0 = time.perf_counter()
    model = driver.load_model(ROOT / "examples/mlp.mlir")
    program, _, _ = training_program(model, cfg)
    bundle = driver.compile_model(ROOT / "examples/mlp.mlir", tmp / optimizer, model=program)
    build = time.perf_counter() - t0
    step = CompiledStep(bundle, program.params)
    step.inputs["x"][...] = x
    step.inputs["target"][...] = y
    step.inputs["lr"][...] = LR
    for name in ("bias_correction1", "bias_correction2"):
        if name in step.inputs:
            step.inputs[name][...] = 0.5  # a mid-training value; the cost does not depend on it
    return step, build


def torch_step(optimizer: str, params, x, y):
    import torch

    torch.set_num_threads(1)
    net = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
                              torch.nn.ReLU(), torch.nn.Linear(256, 10))
    with torch.no_grad():
        for p, name in zip(net.parameters(), ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight",
                                              "fc3.bias")):
            p.copy_(torch.from_numpy(params[name]))
    opt = (torch.optim.SGD(net.parameters(), lr=LR, foreach=False) if optimizer == "sgd"
           else torch.optim.Adam(net.parameters(), lr=LR, foreach=False))
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(xt), yt)
        loss.backward()
        opt.step()
        return loss
    return step


def numpy_step(optimizer: str, params, x, y):
    ps = [params[n].copy() for n in ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias")]
    m, v = [np.zeros_like(p) for p in ps], [np.zeros_like(p) for p in ps]
    onehot = np.eye(10, dtype=np.float32)[y]
    t = [0]

    def step():
        w1, b1, w2, b2, w3, b3 = ps
        h1 = x @ w1.T + b1
        a1 = np.maximum(h1, 0)
        h2 = a1 @ w2.T + b2
        a2 = np.maximum(h2, 0)
        z = a2 @ w3.T + b3
        e = np.exp(z - z.max(axis=1, keepdims=True))
        sm = e / e.sum(axis=1, keepdims=True)
        dz = (sm - onehot) / BATCH
        da2 = (dz @ w3) * (h2 > 0)
        da1 = (da2 @ w2) * (h1 > 0)
        grads = [da1.T @ x, da1.sum(0), da2.T @ a1, da2.sum(0), dz.T @ a2, dz.sum(0)]
        t[0] += 1
        for k, (p, g) in enumerate(zip(ps, grads)):
            if optimizer == "sgd":
                p -= np.float32(LR) * g
                continue
            m[k] += np.float32(0.1) * (g - m[k])
            v[k] = v[k] * np.float32(0.999) + np.float32(0.001) * g * g
            p -= np.float32(LR / (1 - 0.9 ** t[0])) * m[k] / (np.sqrt(v[k]) / np.float32(
                (1 - 0.999 ** t[0]) ** 0.5) + np.float32(1e-8))
    return step


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--optimizers", default="sgd,adam")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from vnnc import safetensors

    params = safetensors.read(ROOT / "examples/mlp.safetensors")
    rng = np.random.default_rng(0)
    x = rng.random((BATCH, 784), dtype=np.float32)
    y = rng.integers(0, 10, BATCH).astype(np.int64)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for optimizer in args.optimizers.split(","):
            vnnc, build = vnnc_step(optimizer, x, y, Path(tmp))
            contenders = {"vnnc": vnnc, "torch": torch_step(optimizer, params, x, y),
                          "numpy": numpy_step(optimizer, params, x, y)}
            times = {k: [] for k in contenders}
            for _ in range(5):
                for f in contenders.values():
                    f()
            for _ in range(args.repeats):
                for k, f in contenders.items():
                    t0 = time.perf_counter()
                    f()
                    times[k].append(time.perf_counter() - t0)
            med = {k: statistics.median(v) * 1e6 for k, v in times.items()}
            rows.append((optimizer, build, med))
    print("| optimizer | build s | vnnc µs/step | torch eager µs/step (ratio) | numpy µs/step (ratio) |")
    print("|---|---|---|---|---|")
    for optimizer, build, med in rows:
        print(f"| {optimizer} | {build:.2f} | {med['vnnc']:.1f} | {med['torch']:.1f} ({med['torch'] / med['vnnc']:.2f}x)"
              f" | {med['numpy']:.1f} ({med['numpy'] / med['vnnc']:.2f}x) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
