"""Latency of vnnc's CUDA backend against torch CUDA eager (and vnnc's C on the CPU).

    python3 benchmarks/cuda_check.py [--repeats 200] [--out DIR]

Run by benchmarks/cuda_check.sh on a GPU host. Models, each at batch 1 and 64: the MLP
784-256-256-10 of examples/ (its weights), an ACAS Xu-shaped network (5 inputs, six hidden
ReLU layers of 50, 5 outputs; seeded weights, since the VNN-COMP files are not on the GPU
host), both written here as spec MLIR at the batch wanted, and the CNN of examples/ (two 3x3
convolutions with ReLU and 2x2 max pooling, then a linear layer; its weights).

vnnc's CUDA library is built three times: as compiled (a contraction summed in 16 lanes runs
on 16 threads per output, thread l summing lane l, the lanes exchanged by shuffles; runs after
the first replay a captured CUDA graph), with backends.cuda.GRAPH off (`no graph`: a launch per
kernel on every run), and with GRAPH off and LANES set to 1 (`1 thread, no graph`: one thread
per output holds all 16 lanes, the form before both); all must give the C library's bits.

A vnnc CUDA call (`vnnc_model_run`) copies the input to the device, launches the kernels and
copies the output back (synchronous); torch is timed the same way (`model(x.cuda()).cpu()`)
and with everything already on the device (`model(x_gpu)`, then synchronize). TF32 is off in
torch, so both compute in float32. Each contender runs `--repeats` calls after 20 warm-up
calls; the table gives the median microseconds per call. The outputs are compared: vnnc CUDA
against vnnc C (bit for bit expected: f32 + * max, no FMA, same order) and against torch.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def mlp_text(layers: list[tuple[str, int, int]], batch: int, params_file: str, hashes: dict) -> str:
    """Spec MLIR of linear layers (name, in, out) with ReLU between them."""
    lines = [f'builtin.module attributes {{vnnc.params = "{params_file}"}} {{',
             (f'  func.func @main(%x: tensor<{batch}x{layers[0][1]}xf32> {{vnnc.name = "x"}}) -> '
              f'(tensor<{batch}x{layers[-1][2]}xf32> {{vnnc.name = "y"}}) {{')]
    v = "%x"
    for k, (name, n_in, n_out) in enumerate(layers):
        w, b = f"{name}.weight", f"{name}.bias"
        lines += [f'    %w{k} = spec.param "{w}" {{sha256 = "{hashes[w]}"}} : tensor<{n_out}x{n_in}xf32>',
                  f'    %b{k} = spec.param "{b}" {{sha256 = "{hashes[b]}"}} : tensor<{n_out}xf32>',
                  (f"    %h{k} = spec.linear {v}, %w{k}, %b{k} : (tensor<{batch}x{n_in}xf32>, "
                   f"tensor<{n_out}x{n_in}xf32>, tensor<{n_out}xf32>) -> tensor<{batch}x{n_out}xf32>")]
        v = f"%h{k}"
        if k < len(layers) - 1:
            lines.append(f"    %r{k} = spec.relu {v} : (tensor<{batch}x{n_out}xf32>) -> tensor<{batch}x{n_out}xf32>")
            v = f"%r{k}"
    lines += [f"    func.return {v} : tensor<{batch}x{layers[-1][2]}xf32>", "  }", "}", ""]
    return "\n".join(lines)


def models() -> dict:
    from vnnc import safetensors

    mlp = safetensors.read(ROOT / "examples" / "mlp.safetensors")
    rng = np.random.default_rng(0)
    sizes = [5, 50, 50, 50, 50, 50, 50, 5]
    acas = {}
    layers = []
    for k in range(len(sizes) - 1):
        name = f"fc{k + 1}"
        bound = 1 / np.sqrt(sizes[k])
        acas[f"{name}.weight"] = rng.uniform(-bound, bound, (sizes[k + 1], sizes[k])).astype(np.float32)
        acas[f"{name}.bias"] = rng.uniform(-bound, bound, sizes[k + 1]).astype(np.float32)
        layers.append((name, sizes[k], sizes[k + 1]))
    return {"mlp 784-256-256-10": (mlp, [("fc1", 784, 256), ("fc2", 256, 256), ("fc3", 256, 10)]),
            "acasxu-shaped 5-50x6-5": (acas, layers),
            "cnn 1x28x28": (safetensors.read(ROOT / "examples" / "cnn.safetensors"), None)}


def cnn_text(batch: int) -> str:
    return (ROOT / "examples" / "cnn.mlir").read_text().replace("tensor<1x", f"tensor<{batch}x")


def torch_net(torch, params: dict, layers):
    """The same network in torch (float32), weights copied."""
    nn = torch.nn
    if layers is None:  # examples/cnn.mlir
        net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2),
                            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2),
                            nn.Flatten(), nn.Linear(784, 10))
        named = {"conv1": net[0], "conv2": net[3], "fc": net[7]}
    else:
        net = nn.Sequential(*[m for k, (n, i, o) in enumerate(layers) for m in
                              ([nn.Linear(i, o)] + ([nn.ReLU()] if k < len(layers) - 1 else []))])
        named = {n: net[2 * k] for k, (n, _, _) in enumerate(layers)}
    with torch.no_grad():
        for n, m in named.items():
            m.weight.copy_(torch.from_numpy(params[f"{n}.weight"]))
            m.bias.copy_(torch.from_numpy(params[f"{n}.bias"]))
    return net


def median_us(fn, repeats: int) -> float:
    for _ in range(20):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e6


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    import torch
    import vnnc
    import vnnc.backends.cuda as cuda_backend
    from vnnc import safetensors

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = torch.device("cuda")
    rows = []
    work = Path(tempfile.mkdtemp(prefix="vnnc-cuda-check-"))
    for name, (params, layers) in models().items():
        safetensors.write(work / "p.safetensors", params)
        hashes = {k: safetensors.param_sha256(v) for k, v in params.items()}
        if layers is None:
            safetensors.write(work / "cnn.safetensors", params)
        net = torch_net(torch, params, layers).to(dev).eval()
        for batch in (1, 64):
            tag = f"{name.split()[0]}-b{batch}"
            model = work / f"{tag}.mlir"
            model.write_text(cnn_text(batch) if layers is None else mlp_text(layers, batch, "p.safetensors", hashes))
            t0 = time.perf_counter()
            g = vnnc.compile(model, out=work / f"{tag}-cuda", force=True, target="cuda")
            compile_s = time.perf_counter() - t0
            variants = {}
            for label, lanes in (("no graph", cuda_backend.LANES), ("1 thread, no graph", 1)):
                saved = cuda_backend.LANES, cuda_backend.GRAPH
                cuda_backend.LANES, cuda_backend.GRAPH = lanes, False
                try:
                    variants[label] = vnnc.compile(model, out=work / f"{tag}-cuda-{lanes}", force=True,
                                                   target="cuda")
                finally:
                    cuda_backend.LANES, cuda_backend.GRAPH = saved
            c = vnnc.compile(model, out=work / f"{tag}-c", force=True)
            builds = [g, *variants.values()]
            tested = [r for b in builds for r in b.manifest["tested"] if r["what"] == "cuda-library"]
            shape = (batch, 1, 28, 28) if layers is None else (batch, layers[0][1])
            x = np.random.default_rng(1).uniform(-1, 1, shape).astype(np.float32)
            y_c = c.run(x)
            y_gs = [b.run(x) for b in builds]
            y_g = y_gs[0]
            with torch.no_grad():
                y_t = net(torch.from_numpy(x).to(dev)).cpu().numpy()
            rg, rc = g.runner(), c.runner()
            rvs = {label: b.runner() for label, b in variants.items()}
            for r in (rg, rc, *rvs.values()):
                r._in[0][...] = x
            x_cpu, x_gpu = torch.from_numpy(x), torch.from_numpy(x).to(dev)

            def torch_copies(net=net, x_cpu=x_cpu):
                with torch.no_grad():
                    return net(x_cpu.to(dev)).cpu()

            def torch_resident(net=net, x_gpu=x_gpu):
                with torch.no_grad():
                    net(x_gpu)
                torch.cuda.synchronize()

            t = {"vnnc cuda": median_us(rg.run_into, args.repeats),
                 **{f"vnnc cuda ({label})": median_us(r.run_into, args.repeats) for label, r in rvs.items()},
                 "torch cuda (copies)": median_us(torch_copies, args.repeats),
                 "torch cuda (resident)": median_us(torch_resident, args.repeats),
                 "vnnc c (cpu)": median_us(rc.run_into, args.repeats)}
            rows.append({"model": name, "batch": batch, **t, "compile_s": compile_s,
                         "bits_equal_c": all(y.tobytes() == y_c.tobytes() for y in y_gs),
                         "max_abs_vs_torch": float(np.abs(y_g - y_t).max()),
                         "sampled_test": all(r["passed"] for r in tested) and len(tested) == len(builds)})
            print(rows[-1], flush=True)

    head = ("| model | batch | vnnc cuda us | vnnc cuda, no graph us | vnnc cuda, 1 thread, no graph us | "
            "torch cuda (copies) us | torch cuda (resident) us | vnnc c (cpu) us | cuda == c bits | "
            "max abs vs torch | sampled test | nvcc compile s |")
    lines = [head, "|" + "---|" * 12]
    for r in rows:
        lines.append(f"| {r['model']} | {r['batch']} | {r['vnnc cuda']:.1f} | {r['vnnc cuda (no graph)']:.1f} | "
                     f"{r['vnnc cuda (1 thread, no graph)']:.1f} | {r['torch cuda (copies)']:.1f} | "
                     f"{r['torch cuda (resident)']:.1f} | {r['vnnc c (cpu)']:.1f} | {r['bits_equal_c']} | "
                     f"{r['max_abs_vs_torch']:.2e} | {r['sampled_test']} | {r['compile_s']:.1f} |")
    table = "\n".join(lines)
    print(table)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "cuda_timing.md").write_text(
            f"`python3 benchmarks/cuda_check.py --repeats {args.repeats}` on {torch.cuda.get_device_name(0)}, "
            f"torch {torch.__version__}\n\n{table}\n")
        for f in ("model.cu", "manifest.json"):  # the MLP's CUDA bundle at batch 64, for reading
            (args.out / f"mlp-b64_{f}").write_bytes((work / "mlp-b64-cuda" / f).read_bytes())
    return 0 if all(r["bits_equal_c"] and r["sampled_test"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
