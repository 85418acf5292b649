"""The certified error bound against the largest error sampling can find (issue 4's targets).

    .venv/bin/python benchmarks/error_bound.py [--models acas,mlp,tanh,mnist] [--formats f32,...]
                                               [--samples 100000] [--search 2000] [--leaves 32]
                                               [--leaf-samples 2000]

For each model and format, `vnnc compile --input-box` builds a bundle whose manifest holds the
certified bound (one per output element), the analysis time and the checker's time for it
(the error-bound row). The compiled library (vnnc's own, through its C ABI) is then run on

- `--samples` float32 inputs uniform in the box, and the box's corners (all of them when
  there are at most 2^12, else 4096 random ones),
- where the analysis split the box: the `--leaves` leaves of the bundle's split tree with the
  largest certified bound (the analysis replayed per leaf), `--leaf-samples` uniform inputs
  in each and up to 64 of its corners (a stronger maximiser: the error tends to peak where the
  bound does; the inputs above are all still sampled),
- per output, where the error's continuous part peaks (`--systematic`, on by default): the
  network with its parameters and input rounded to the input's storage format, evaluated in
  float64, minus the real network, maximised by a Gaussian climb from the best of 20,000
  uniform inputs; the 8 best points each get 500 relative perturbations of 1e-3 (100 for
  inputs of more than 64 elements; the hidden roundings change from one to the next, the
  continuous part hardly),
- per output, the best inputs so far (256, or 32 above 64 input elements) moved to the worst
  point of their input's rounding cell (`--corners`, on by default): the fp program reads
  round(x), constant on the cell, while the real network moves with x, so each coordinate
  goes to the cell's edge against the sign of the error times the network's slope (central
  differences), as far as it still rounds to the same number (bisection),
- a local search per output: from the 16 best of those, `--search` Gaussian steps inside the
  box (scale 1/20 of the box, shrinking by 3 after every third of the budget), each moved to
  its cell's worst point as above (for inputs of at most 64 elements) and kept when it
  raises that output's error,

and compared with the real-valued network evaluated in float64 (numpy). The float64
reference's own error is bounded rigorously by the same analysis run on the network in f64
with no assumption on the summation order (`ref bound`): an input whose error exceeds
bound + ref bound is a soundness violation (every input evaluated above is counted). The tightness ratio of an output is its bound
over the largest error sampled for it; the table gives the largest ratio over the outputs.

Models: ACAS Xu 1_1 over property 1's input box (the 5 X bounds read from prop_1.vnnlib);
an MLP 64-64-64-10 (weights seeded, uniform in +-1/sqrt(fan_in)) over +-0.01 around a
seeded point; the same MLP with tanh instead of relu (`tanh`: its reference is numpy's
float64 tanh, taken to be within the double tanh's ulp contract for the ref bound); MNIST 256x2 over +-0.01 around the centre of prop_0_0.03.vnnlib's box;
examples/cnn.mlir (two conv2d + maxpool2d, 28x28 input) over +-0.01 around examples/digits.npz's
first digit, clipped to [0, 1].
BLAS runs one thread (OPENBLAS_NUM_THREADS=1 unless set).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # before numpy loads:
    os.environ.setdefault(_var, "1")  # the analysis' matrices are small; BLAS threads only contend

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "vnncomp2021"
FORMATS = ("f32", "f16", "bf16", "fp8-e4m3fn", "fp8-e5m2")


def vnnlib_box(path: Path, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The bounds (assert (<= X_i c)) and (assert (>= X_i c)) of X_0 .. X_{n-1}."""
    lo, hi = np.full(n, -np.inf), np.full(n, np.inf)
    for op, i, c in re.findall(r"\(assert \((<=|>=) X_(\d+) ([-+0-9.eE]+)\)\)", path.read_text()):
        (hi if op == "<=" else lo)[int(i)] = float(c)
    assert np.all(np.isfinite(lo)) and np.all(np.isfinite(hi)), f"{path}: not a box over X_0..X_{n - 1}"
    return lo, hi


def write_mlp(d: Path, sizes=(64, 64, 64, 10), seed: int = 64, act: str = "relu", name: str = "mlp64") -> Path:
    from vnnc import safetensors

    rng = np.random.default_rng(seed)
    params, lines, prev = {}, [], "%x"
    for k in range(len(sizes) - 1):
        n_in, n_out = sizes[k], sizes[k + 1]
        b = 1 / np.sqrt(n_in)
        params[f"fc{k}.weight"] = rng.uniform(-b, b, (n_out, n_in)).astype(np.float32)
        params[f"fc{k}.bias"] = rng.uniform(-b, b, (n_out,)).astype(np.float32)
        for part in ("weight", "bias"):
            a = params[f"fc{k}.{part}"]
            lines.append(f'    %fc{k}_{part} = spec.param "fc{k}.{part}" {{sha256 = "{safetensors.param_sha256(a)}"}}'
                         f' : tensor<{"x".join(map(str, a.shape))}xf32>')
        lines.append(f"    %h{k} = spec.linear {prev}, %fc{k}_weight, %fc{k}_bias : (tensor<1x{n_in}xf32>, "
                     f"tensor<{n_out}x{n_in}xf32>, tensor<{n_out}xf32>) -> tensor<1x{n_out}xf32>")
        prev = f"%h{k}"
        if k < len(sizes) - 2:
            lines.append(f"    %a{k} = spec.{act} {prev} : (tensor<1x{n_out}xf32>) -> tensor<1x{n_out}xf32>")
            prev = f"%a{k}"
    (d / f"{name}.mlir").write_text(
        f'builtin.module attributes {{vnnc.params = "{name}.safetensors"}} {{\n'
        f'  func.func @main(%x: tensor<1x{sizes[0]}xf32> {{vnnc.name = "x"}}) -> '
        f'(tensor<1x{sizes[-1]}xf32> {{vnnc.name = "y"}}) {{\n' + "\n".join(lines)
        + f"\n    func.return {prev} : tensor<1x{sizes[-1]}xf32>\n  }}\n}}\n")
    safetensors.write(d / f"{name}.safetensors", params)
    return d / f"{name}.mlir"


def models(work: Path) -> dict:
    """name -> (model file, box lo, box hi), boxes shaped as the model's input."""
    out = {}
    acas = DATA / "acasxu" / "ACASXU_run2a_1_1_batch_2000.onnx"
    if acas.exists():
        lo, hi = vnnlib_box(DATA / "acasxu" / "prop_1.vnnlib", 5)
        out["acas"] = (acas, lo.reshape(1, 1, 1, 5), hi.reshape(1, 1, 1, 5))
    x0 = np.random.default_rng(1).uniform(-1, 1, (1, 64))
    out["mlp"] = (write_mlp(work), x0 - 0.01, x0 + 0.01)
    out["tanh"] = (write_mlp(work, act="tanh", name="tanh64"), x0 - 0.01, x0 + 0.01)
    mnist = DATA / "mnistfc" / "mnist-net_256x2.onnx"
    if mnist.exists():
        lo, hi = vnnlib_box(DATA / "mnistfc" / "prop_0_0.03.vnnlib", 784)
        c = (lo / 2 + hi / 2).reshape(1, 784, 1)
        out["mnist"] = (mnist, c - 0.01, c + 0.01)
    with np.load(ROOT / "examples" / "digits.npz") as z:
        x = z["x"][:1].reshape(1, 1, 28, 28).astype(np.float64)
    out["cnn"] = (ROOT / "examples" / "cnn.mlir", np.clip(x - 0.01, 0, 1), np.clip(x + 0.01, 0, 1))
    return out


def reference(spec_text: str, params: dict, xs: np.ndarray) -> np.ndarray:
    """The spec stage in float64 on a batch of inputs (the batch replaces the leading 1)."""
    return evaluate(spec_block(spec_text), params, xs)


_BLOCKS: dict = {}


def spec_block(spec_text: str):
    """The spec stage's @main, parsed once per text."""
    from vnnc.verifier.mlir import parse
    from vnnc.verifier.semantics import main_function

    if spec_text not in _BLOCKS:
        _BLOCKS[spec_text] = main_function(parse(spec_text)).regions[0][0]
    return _BLOCKS[spec_text]


def evaluate(block, params: dict, xs: np.ndarray) -> np.ndarray:
    env = {block.args[0][0]: xs.astype(np.float64)}
    for op in block.ops:
        v = [env[o] for o in op.operands]
        name = op.name.removeprefix("spec.")
        if name == "func.return":
            return v[0].reshape(len(xs), -1)
        if name == "param":
            y = params[op.props["name"]].astype(np.float64)
        elif name in ("flatten", "reshape"):
            y = v[0].reshape(len(xs), *op.result_types[0].shape[1:])
        elif name == "linear":
            y = v[0] @ v[1].T + (v[2] if len(v) == 3 else 0)
        elif name == "matmul":
            y = v[0] @ v[1]
        elif name in ("add", "sub"):
            y = v[0] + v[1] if name == "add" else v[0] - v[1]
        elif name == "relu":
            y = np.maximum(v[0], 0)
        elif name == "tanh":
            y = np.tanh(v[0])
        elif name in ("conv2d", "maxpool2d"):
            y = window_op(name, v, op)
        else:
            raise SystemExit(f"reference: no rule for {op.name}")
        env[op.results[0]] = y
    raise SystemExit("reference: no return")


def window_op(name: str, v: list, op) -> np.ndarray:
    """conv2d (groups 1, dilation 1) and maxpool2d in float64, by sliding windows."""
    from vnnc.verifier.semantics import plain_attrs

    a = plain_attrs(op)
    kernel = v[1].shape[2:] if name == "conv2d" else a["kernel"]
    (s0, s1), (t, left, b, r) = a.get("strides", (1, 1)), a.get("pads", (0, 0, 0, 0))
    if a.get("groups", 1) != 1 or a.get("dilations", (1, 1)) != (1, 1):
        raise SystemExit(f"reference: {op.name} with groups or dilations")
    x = np.pad(v[0].reshape(-1, *op.operand_types[0].shape[1:]), ((0, 0), (0, 0), (t, b), (left, r)), constant_values=0.0 if name == "conv2d" else -np.inf)
    win = np.lib.stride_tricks.sliding_window_view(x, kernel, axis=(2, 3))[:, :, ::s0, ::s1]
    if name == "maxpool2d":
        return win.max(axis=(4, 5))
    return np.einsum("nchwpq,ocpq->nohw", win, v[1]) + (v[2].reshape(1, -1, 1, 1) if len(v) == 3 else 0)


def reference_bound(bundle_dir: Path, params: dict, lo, hi) -> np.ndarray:
    """A rigorous bound on the float64 reference's own error: the analysis of the network in
    f64, summation order free (numpy's BLAS picks its own), at the bundle's split tree."""
    import vnnc
    from vnnc.frontend_mlir import parse_module
    from vnnc.passes import error_analysis as ea

    m = json.loads((bundle_dir / "manifest.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        box = Path(tmp) / "box.npz"
        np.savez(box, lo=lo, hi=hi)
        model = m["model"]["file"]
        b64 = vnnc.compile(model, out=Path(tmp) / "b64", precision={"precision": "f64"})
        prog = ea.program(parse_module((b64.path / "stages" / "01-assign-precision.mlir").read_text(), "f64"))
    for _, _, _, attrs in prog.steps:
        if "order" in attrs:
            attrs["order"] = "any"
    w = json.loads((bundle_dir / "witnesses" / "error-bound.json").read_text())
    worst = 0.0
    todo = [(w["claims"]["tree"], np.asarray(lo, np.float64), np.asarray(hi, np.float64))]
    while todo:  # the f64 error of the value before its final rounding to f32, leaf by leaf
        node, a, b = todo.pop()
        if "relu" in node:
            env, _, _ = ea.run_leaf(prog, params, a, b)
            last = max(i for i, v in env.items() if i >= 0 and not v.known and v.fmt == "f64")
            elo, ehi = env[last].err.bounds()
            worst = np.maximum(worst, np.maximum(np.abs(elo), np.abs(ehi)))
            continue
        below, above = b.copy(), a.copy()
        below.reshape(-1)[node["dim"]] = above.reshape(-1)[node["dim"]] = node["at"]
        todo += [(node["below"], a, below), (node["above"], above, b)]
    return worst


def worst_leaves(bundle_dir: Path, params: dict, lo, hi, count: int) -> list[tuple]:
    """The `count` leaves of the bundle's split tree with the largest certified bound (the
    analysis replayed leaf by leaf, domains within the parent's as the checker computes them):
    [(bound per output, leaf lo, leaf hi)], largest first."""
    from vnnc.frontend_mlir import parse_module
    from vnnc.passes import error_analysis as ea

    prog = ea.program(parse_module((bundle_dir / "stages" / "01-assign-precision.mlir").read_text(), "fp"))
    blocks = ea.chain(prog, params)
    w = json.loads((bundle_dir / "witnesses" / "error-bound.json").read_text())
    out, todo = [], [(w["claims"]["tree"], np.asarray(lo, np.float64), np.asarray(hi, np.float64), None)]
    while todo:
        node, a, b, parent = todo.pop()
        dom = ea.domains(blocks, a, b, parent)
        if "relu" in node:
            _, y, _ = ea.run_leaf(prog, params, a, b, node["relu"], dom)
            out.append((np.maximum(*np.abs(y.err.bounds())), a, b))
            continue
        below, above = b.copy(), a.copy()
        below.reshape(-1)[node["dim"]] = above.reshape(-1)[node["dim"]] = node["at"]
        todo += [(node["below"], a, below, dom), (node["above"], above, b, dom)]
    return sorted(out, key=lambda t: -float(t[0].max()))[:count]


def input_rounding(bundle_dir: Path) -> tuple[str, str] | None:
    """(format, mode) the fp stage rounds the model's input to, or None (stored as given)."""
    from vnnc.verifier.mlir import parse
    from vnnc.verifier.precision import format_of
    from vnnc.verifier.semantics import main_function

    block = main_function(parse((bundle_dir / "stages" / "01-assign-precision.mlir").read_text())).regions[0][0]
    for op in block.ops:
        if op.name == "fp.round" and op.operands[0] == block.args[0][0]:
            return format_of(op.result_types[0].elem), op.props["rounding"]
    return None


def cell_edge(xs: np.ndarray, d: np.ndarray, rounding, lo, hi) -> np.ndarray:
    """Each float32 x moved in direction d (-1, 0, +1 per element) as far as it can go while
    it still rounds to the same number in the input's format and stays in the box [lo, hi]:
    the fp program's value is the same there, the real network's changes (bisection)."""
    from vnnc.verifier.precision import format_bits, round_to

    if rounding is None:
        return xs
    fmt, mode = rounding
    _, m, _ = format_bits(fmt)
    x = xs.astype(np.float64)
    r = round_to(x, fmt, mode)
    t_lo, t_hi = np.zeros_like(x), np.ldexp(1.0, np.frexp(np.abs(r) + 2.0**-140)[1] - m + 1)  # 4 ulps
    for _ in range(40):
        t = (t_lo + t_hi) / 2
        cand = (x + d * t).astype(np.float32).astype(np.float64)
        ok = (round_to(cand, fmt, mode) == r) & (cand >= lo) & (cand <= hi)
        t_lo, t_hi = np.where(ok, t, t_lo), np.where(ok, t_hi, t)
    return (x + d * t_lo).astype(np.float32)


def gradient_sign(block, params: dict, xs: np.ndarray, j: int, scale: np.ndarray) -> np.ndarray:
    """sign of d output_j / d x at each x (central differences of the float64 network)."""
    k, dim = len(xs), xs[0].size
    h = (scale.reshape(-1) * 1e-6).reshape(1, 1, dim)
    x = xs.reshape(k, 1, dim).astype(np.float64)
    eye = np.eye(dim).reshape(1, dim, dim) * h
    up_, down_ = (evaluate(block, params, (x + s * eye).reshape(k * dim, *xs.shape[1:]))[:, j] for s in (1, -1))
    return np.sign(up_ - down_).reshape(xs.shape)


def into_box(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    x = np.clip(x, lo, hi).astype(np.float32)
    x = np.where(x < lo, np.nextafter(x, np.float32(np.inf)), x)
    return np.where(x > hi, np.nextafter(x, np.float32(-np.inf)), x).astype(np.float32)


def measure(name: str, model: Path, lo, hi, fmt: str, work: Path, args) -> dict:
    import vnnc
    from vnnc import safetensors
    from vnnc.verifier.precision import round_to

    box = work / f"{name}.npz"
    np.savez(box, lo=lo, hi=hi)
    t0 = time.perf_counter()
    bundle = vnnc.compile(model, out=work / f"{name}-{fmt}", force=True,
                          precision={"precision": fmt}, input_box=box)
    compile_s = time.perf_counter() - t0
    m = bundle.manifest
    cert = m["certified_error_bound"]
    check_s = next(r["seconds"] for r in m["checks"] if r["stage"] == "error-bound")
    bound = np.array(cert["abs"])
    params = safetensors.read(bundle.path / "params.safetensors")
    spec = (bundle.path / "stages" / "00-import.mlir").read_text()
    ref_bound = reference_bound(bundle.path, params, lo, hi)

    runner = bundle.runner()
    x_buf, y_buf = runner._in[0], runner._out[0]

    block = spec_block(spec)
    rounding = input_rounding(bundle.path)

    def signed(xs: np.ndarray) -> np.ndarray:  # the compiled program's output minus the real one
        out = np.empty((len(xs), bound.size))
        for i, x in enumerate(xs):
            x_buf[...] = x
            runner.run_into()
            out[i] = y_buf.reshape(-1)
        return out - evaluate(block, params, xs)

    violations = [0, 0]  # inputs whose error exceeds bound + ref bound, inputs evaluated

    def run(xs: np.ndarray) -> np.ndarray:
        e = np.abs(signed(xs))
        violations[0] += int(np.sum(np.any(e > bound + ref_bound, axis=1)))
        violations[1] += len(xs)
        return e

    rounded = {k: round_to(np.asarray(v, np.float64), *rounding) for k, v in params.items()} if rounding else None

    def systematic(xs: np.ndarray) -> np.ndarray:
        """The network with its parameters and input rounded to the input's format, evaluated in
        float64, minus the real network: the part of the error that is continuous in x."""
        return evaluate(block, rounded, round_to(xs.astype(np.float64), *rounding)) - evaluate(block, params, xs)

    def systematic_peaks(j: int) -> np.ndarray:
        """Inputs near the largest |systematic| error of output j (Gaussian climb from the best
        of 20,000 uniform inputs): the 8 best, each with 500 relative perturbations of 1e-3 around
        it (100 above 64 input elements): the hidden roundings change from one to the next,
        the continuous part hardly."""
        xs0 = into_box(rng.uniform(lo, hi, (20_000, *shape)), lo, hi)
        g = np.abs(systematic(xs0)[:, j])
        top = np.argsort(-g)[:32]
        cur, cur_g, step = xs0[top], g[top], (hi - lo) / 50
        for r in range(600):
            cand = into_box(cur + rng.normal(size=cur.shape) * step, lo, hi)
            v = np.abs(systematic(cand)[:, j])
            better = v > cur_g
            cur[better], cur_g[better] = cand[better], v[better]
            if r % 200 == 199:
                step = step / 4
        peaks, k = cur[np.argsort(-cur_g)[:8]], 500 if lo.size <= 64 else 100
        return into_box(np.repeat(peaks, k, 0) * (1 + rng.normal(size=(8 * k, *shape)) * 1e-3), lo, hi)

    def worst_corner(xs: np.ndarray, j: int) -> np.ndarray:
        """xs moved, within the rounding cell of their stored input, to where output j's error
        is largest (the fp value is constant on the cell, the real network's is not)."""
        if rounding is None:
            return xs
        d = -np.sign(signed(xs)[:, j]).reshape(-1, *[1] * (xs.ndim - 1)) * gradient_sign(block, params, xs, j, hi - lo)
        return cell_edge(xs, d, rounding, lo, hi)

    rng = np.random.default_rng(0)
    shape = lo.shape
    dim = lo.size
    if dim <= 12:
        bits = (np.arange(2**dim)[:, None] >> np.arange(dim)) & 1
    else:
        bits = rng.integers(0, 2, (4096, dim))
    corners = np.where(bits.astype(bool), hi.reshape(-1), lo.reshape(-1)).reshape(-1, *shape)
    xs = [into_box(rng.uniform(lo, hi, (args.samples, *shape[0:])).reshape(-1, *shape), lo, hi),
          into_box(corners, lo, hi)]
    leaves = worst_leaves(bundle.path, params, lo, hi, args.leaves) if args.leaves and cert["leaves"] > 1 else []
    for _, a, b in leaves:  # where the bound is largest: uniform inside the leaf, and its corners
        a, b = a.reshape(shape), b.reshape(shape)
        xs.append(into_box(rng.uniform(a, b, (args.leaf_samples, *shape)).reshape(-1, *shape), lo, hi))
        xs.append(into_box(np.where(bits[:64].astype(bool), b.reshape(-1), a.reshape(-1)).reshape(-1, *shape), lo, hi))
    xs = np.concatenate(xs)
    t0 = time.perf_counter()
    errs = np.concatenate([run(xs[i:i + 4096]) for i in range(0, len(xs), 4096)])
    best = errs.max(axis=0)
    scale = (hi - lo) / 20
    for j in range(bound.size):  # local search on output j
        top = np.argsort(-errs[:, j])[:256 if lo.size <= 64 else 32]
        pool, pool_err = xs[top], errs[top, j]
        if args.systematic and rounded is not None:
            cand = systematic_peaks(j)
            pool, pool_err = np.concatenate([pool, cand]), np.concatenate([pool_err, run(cand)[:, j]])
            top = np.argsort(-pool_err)[:256 if lo.size <= 64 else 32]
            pool, pool_err = pool[top], pool_err[top]
        if args.corners:  # the best sampled inputs moved to their cells' worst points join them
            cand = worst_corner(pool, j)
            pool, pool_err = np.concatenate([pool, cand]), np.concatenate([pool_err, run(cand)[:, j]])
        keep = np.argsort(-pool_err)[:16]
        cur, cur_err = pool[keep].copy(), pool_err[keep].copy()
        best[j] = max(best[j], cur_err.max())
        step = scale.copy()
        rounds = max(1, args.search // 16)
        for r in range(rounds):
            cand = into_box(cur + rng.normal(size=cur.shape) * step, lo, hi)
            if args.corners and lo.size <= 64:  # (the slopes of a wider input cost 2n runs a point)
                cand = worst_corner(cand, j)
            e = run(cand)[:, j]
            better = e > cur_err
            cur[better], cur_err[better] = cand[better], e[better]
            if (r + 1) % max(1, rounds // 3) == 0:
                step = step / 3
        best[j] = max(best[j], cur_err.max())
    sample_s = time.perf_counter() - t0
    with np.errstate(divide="ignore"):
        ratios = np.where(best > 0, bound / best, np.inf)
    return {"model": name, "format": fmt, "bound_max": float(bound.max()), "err_max": float(best.max()),
            "ratio_max": float(ratios.max()), "ratio_median": float(np.median(ratios)),
            "worst_output": int(np.argmax(ratios)), "ratios": [float(r) for r in ratios],
            "bounds": [float(b) for b in bound], "errors": [float(e) for e in best],
            "ref_bound_max": float(np.max(ref_bound)), "violations": violations[0],
            "evaluations": violations[1],
            "sampled_leaves": len(leaves), "leaves": cert["leaves"], "analysis_s": cert["analysis_seconds"], "check_s": check_s,
            "compile_s": round(compile_s, 2), "sample_s": round(sample_s, 1)}


TARGET = {"f32": 300, "f16": 300, "bf16": 50, "fp8-e4m3fn": 50, "fp8-e5m2": 50}
TARGET_MNIST = {"f32": 1000, "f16": 1000, "bf16": 150, "fp8-e4m3fn": 150, "fp8-e5m2": 150}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="acas,mlp,tanh,mnist,cnn")
    p.add_argument("--formats", default=",".join(FORMATS))
    p.add_argument("--samples", type=int, default=100_000)
    p.add_argument("--search", type=int, default=2000)
    p.add_argument("--leaves", type=int, default=32, help="sample the N leaves of the split tree with the "
                   "largest bound as well (0: none)")
    p.add_argument("--leaf-samples", type=int, default=2000, help="uniform samples per such leaf")
    p.add_argument("--corners", type=int, default=1, help="move every input of the local search to the "
                   "worst point of its input rounding cell (1, the default) or not (0)")
    p.add_argument("--systematic", type=int, default=1, help="also search where the error's continuous "
                   "part (rounded parameters and input, in float64) peaks (1, the default) or not (0)")
    p.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "error_bound.json")
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        available = models(work)
        for name in args.models.split(","):
            if name not in available:
                print(f"{name}: data not found under {DATA}, skipped", file=sys.stderr)
                continue
            for fmt in args.formats.split(","):
                try:
                    row = measure(name, *available[name], fmt, work, args)
                except Exception as e:  # noqa: BLE001 - a row saying why, not a crash
                    row = {"model": name, "format": fmt, "error": str(e).splitlines()[0]}
                rows.append(row)
                print(json.dumps(row), flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(rows, indent=1))
    print("\n| model | format | bound (max) | largest sampled error | ratio max (median) | target | "
          "violations | leaves | analysis s | check s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if "error" in r:
            print(f"| {r['model']} | {r['format']} | no bound: {r['error']} | | | | | | | |")
            continue
        target = (TARGET_MNIST if r["model"] == "mnist" else TARGET)[r["format"]]
        met = "met" if r["ratio_max"] <= target else "not met"
        print(f"| {r['model']} | {r['format']} | {r['bound_max']:.3g} | {r['err_max']:.3g} | "
              f"{r['ratio_max']:.3g} ({r['ratio_median']:.3g}) | <= {target}: {met} | {r['violations']} | "
              f"{r['leaves']} | {r['analysis_s']:.2f} | {r['check_s']:.2f} |")


if __name__ == "__main__":
    main()
