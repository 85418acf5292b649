"""vnnc train against PyTorch: 100 full-batch steps of an MLP with the same initial weights
must give the same losses and parameters (to 1e-4), with SGD and with Adam; and the
training bundle is checked like any other (every witness, the library sample)."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from vnnc import safetensors
from vnnc.train import TrainConfig, train
from vnnc.verifier.bundle import check_bundle

torch = pytest.importorskip("torch", reason="the training step is compared against PyTorch")

SIZES = (12, 16, 16, 5)
NAMES = ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"]


def write_mlp(tmp_path, sizes=SIZES, seed=0):
    """A spec .mlir MLP (linear, relu, linear, relu, linear) and its parameters, torch's init."""
    rng = np.random.default_rng(seed)
    params, lines, h = {}, [], "%x"
    for k, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        bound = 1 / math.sqrt(n_in)
        w = rng.uniform(-bound, bound, (n_out, n_in)).astype(np.float32)
        b = rng.uniform(-bound, bound, (n_out,)).astype(np.float32)
        params[f"fc{k + 1}.weight"], params[f"fc{k + 1}.bias"] = w, b
        lines += [(f'%w{k} = spec.param "fc{k + 1}.weight" {{sha256 = "{safetensors.param_sha256(w)}"}} : '
                  f"tensor<{n_out}x{n_in}xf32>"),
                  (f'%b{k} = spec.param "fc{k + 1}.bias" {{sha256 = "{safetensors.param_sha256(b)}"}} : '
                  f"tensor<{n_out}xf32>"),
                  (f"%l{k} = spec.linear {h}, %w{k}, %b{k} : (tensor<1x{n_in}xf32>, tensor<{n_out}x{n_in}xf32>, "
                  f"tensor<{n_out}xf32>) -> tensor<1x{n_out}xf32>")]
        h = f"%l{k}"
        if k < len(sizes) - 2:
            lines.append(f"%r{k} = spec.relu %l{k} : (tensor<1x{n_out}xf32>) -> tensor<1x{n_out}xf32>")
            h = f"%r{k}"
    text = (f'builtin.module attributes {{vnnc.params = "mlp.safetensors"}} {{\n'
            f'  func.func @main(%x: tensor<1x{sizes[0]}xf32> {{vnnc.name = "x"}}) -> tensor<1x{sizes[-1]}xf32> {{\n'
            + "".join(f"    {line}\n" for line in lines)
            + f"    func.return {h} : tensor<1x{sizes[-1]}xf32>\n  }}\n}}\n")
    (tmp_path / "mlp.mlir").write_text(text)
    safetensors.write(tmp_path / "mlp.safetensors", params)
    return tmp_path / "mlp.mlir", params


def torch_mlp(params, sizes=SIZES):
    layers = []
    for k, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        lin = torch.nn.Linear(n_in, n_out)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(params[f"fc{k + 1}.weight"]))
            lin.bias.copy_(torch.from_numpy(params[f"fc{k + 1}.bias"]))
        layers += [lin, torch.nn.ReLU()]
    return torch.nn.Sequential(*layers[:-1])


OPTIMIZERS = {
    "sgd": (0.1, lambda ps, lr: torch.optim.SGD(ps, lr=lr, foreach=False)),
    "momentum": (0.05, lambda ps, lr: torch.optim.SGD(ps, lr=lr, momentum=0.9, foreach=False)),
    "adam": (0.002, lambda ps, lr: torch.optim.Adam(ps, lr=lr, foreach=False)),
    "adamw": (0.002, lambda ps, lr: torch.optim.AdamW(ps, lr=lr, foreach=False)),
}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(3)
    x = rng.standard_normal((24, SIZES[0])).astype(np.float32)
    labels = rng.integers(0, SIZES[-1], 24)
    targets = rng.standard_normal((24, SIZES[-1])).astype(np.float32)
    np.savez(d / "labels.npz", x=x, y=labels)
    np.savez(d / "targets.npz", x=x, y=targets)
    return d, x, labels, targets


# momentum/Nesterov with mse and AdamW are compared with PyTorch in tests/e2e/test_train_cli.py
@pytest.mark.parametrize("optimizer,loss", [("sgd", "cross-entropy"), ("adam", "mse")])
def test_100_full_batch_steps_match_pytorch(tmp_path, data, optimizer, loss):
    d, x, labels, targets = data
    model, params = write_mlp(tmp_path)
    lr, make = OPTIMIZERS[optimizer]
    y = labels if loss == "cross-entropy" else targets
    cfg = TrainConfig(loss=loss, optimizer=optimizer, lr=lr, batch_size=len(x), steps=100, shuffle=False)
    out = tmp_path / "trained.mlir"
    result = train(model, d / ("labels.npz" if loss == "cross-entropy" else "targets.npz"), out, cfg,
                   bundle_dir=tmp_path / "bundle", progress=False)

    net = torch_mlp(params)
    opt = make(net.parameters(), lr)
    loss_fn = torch.nn.functional.cross_entropy if loss == "cross-entropy" else torch.nn.functional.mse_loss
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    losses = []
    for _ in range(100):
        opt.zero_grad()
        value = loss_fn(net(xt), yt)
        value.backward()
        opt.step()
        losses.append(value.item())
    assert np.abs(np.array(result["losses"]) - losses).max() <= 1e-4
    assert losses[-1] < 0.7 * losses[0]  # it trained
    trained = safetensors.read(tmp_path / "trained.safetensors")
    for name, p in zip(NAMES, net.parameters()):
        assert np.abs(trained[name] - p.detach().numpy()).max() <= 1e-4, (name, np.abs(trained[name] - p.detach().numpy()).max())
    # the trained model is a model vnnc reads again, with its new parameters bound by hash
    from vnnc.driver import load_model

    assert np.array_equal(load_model(out).params["fc1.weight"], trained["fc1.weight"])
    # the bundle is checked by the checker alone, as `vnnc check` does
    rows = check_bundle(tmp_path / "bundle", sample=False)
    assert [r["verdict"] for r in rows] == ["accepted"] * len(rows), rows
    manifest = json.loads((tmp_path / "bundle" / "manifest.json").read_text())
    assert [s["pass"] for s in manifest["stages"]] == ["import", "lower-autograd", "lower-to-loops"]
    assert manifest["training"]["optimizer"] == optimizer
