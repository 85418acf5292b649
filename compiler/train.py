"""`vnnc train`: a model trained by one compiled, checked training step per batch.

MODEL (`.mlir` or `.onnx`) computes predictions from one input; its float parameters are
the initial weights (batchnorm's running mean and variance stay frozen, as in eval mode).
`training_program` wraps it into an ad program: its input's batch dimension becomes
`--batch-size`; the trainable parameters and the optimizer's state become arguments; the
loss (`mse_loss` or `cross_entropy` against a `target` argument) feeds one
`ad.train_step`; the function returns the loss, the new parameters and the new state,
each named as the argument it replaces. That program is compiled like any model
(compiler/driver.py: stage 00 `ad-wellformed`, `lower-autograd`, `lower-to-loops`, every
witness checked) into one C function.

`CompiledStep` calls that function once per batch through ctypes with pointers prepared
once. Parameters and state live in two buffer sets used in turn: step k reads set k mod 2
and writes set (k+1) mod 2, so the C ABI's rule that outputs never overlap inputs (which
the kernels' `restrict` relies on) always holds, and nothing is updated behind the
checked IR's back. The learning rate (with its schedule) and Adam's bias corrections
1 - beta^t are computed here in float64 per step and passed as float32 scalars, as
torch.optim passes Python floats.

Data: an `.npz` with arrays `x` and `y`, or a numeric CSV with a header whose
`--target-column`s are `y` and whose other columns are `x`. Batches follow a seeded
permutation per epoch (or the file's order with --no-shuffle); a partial last batch is
dropped (torch's drop_last=True).
"""

from __future__ import annotations

import ctypes
import json
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from vnnc import safetensors
from vnnc.backends.runner import aligned
from vnnc.errors import VnncError

LOSSES = ("mse", "cross-entropy")
OPTIMIZER_DEFAULTS = {  # torch.optim's defaults; `momentum` is SGD with momentum 0.9
    "sgd": {"weight_decay": 0.0},
    "momentum": {"momentum": 0.9, "nesterov": False, "weight_decay": 0.0},
    "adam": {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0},
    "adamw": {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01},
}
TARGET = "target"


@dataclass
class TrainConfig:
    loss: str = "mse"
    optimizer: str = "sgd"
    lr: float = 1e-3
    batch_size: int = 1
    steps: int | None = None
    epochs: int | None = None
    seed: int = 0
    shuffle: bool = True
    momentum: float | None = None
    nesterov: bool = False
    weight_decay: float | None = None
    betas: tuple[float, float] | None = None
    eps: float | None = None
    schedule: str | None = None  # "step:SIZE:GAMMA" or "cosine[:T_MAX[:ETA_MIN]]"

    def properties(self) -> dict:
        """The ad.train_step properties: what was given, else torch's defaults."""
        if self.loss not in LOSSES:
            raise VnncError(f"unknown loss {self.loss!r} (choose from {', '.join(LOSSES)})")
        if self.optimizer not in OPTIMIZER_DEFAULTS:
            raise VnncError(f"unknown optimizer {self.optimizer!r} (choose from {', '.join(OPTIMIZER_DEFAULTS)})")
        props = dict(OPTIMIZER_DEFAULTS[self.optimizer])
        given = {"momentum": self.momentum, "weight_decay": self.weight_decay, "eps": self.eps,
                 "beta1": self.betas[0] if self.betas else None, "beta2": self.betas[1] if self.betas else None}
        for key, value in given.items():
            if value is None:
                continue
            if key not in props:
                raise VnncError(f"--{key.replace('_', '-').rstrip('12')} does not apply to --optimizer {self.optimizer}")
            props[key] = float(value)
        if self.nesterov:
            if self.optimizer != "momentum":
                raise VnncError("--nesterov applies to --optimizer momentum only")
            props["nesterov"] = True
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise VnncError(f"--lr must be a positive number, got {self.lr}")
        for key, value in props.items():
            if isinstance(value, float) and not (math.isfinite(value) and value >= 0):
                raise VnncError(f"{key} must be a finite number >= 0, got {value}")
        if props.get("momentum") == 0.0 or props.get("beta1", 0) >= 1 or props.get("beta2", 0) >= 1:
            raise VnncError("momentum must be > 0 (use --optimizer sgd for none), betas < 1")
        return props

    def lr_at(self, step: int, total: int) -> float:
        """The learning rate of 0-based step `step` (torch's closed forms, stepped per batch)."""
        if not self.schedule:
            return self.lr
        kind, *args = self.schedule.split(":")
        try:
            if kind == "step" and len(args) == 2:
                return self.lr * float(args[1]) ** (step // int(args[0]))
            if kind == "cosine" and len(args) <= 2:
                t_max = int(args[0]) if args else total
                eta_min = float(args[1]) if len(args) > 1 else 0.0
                return eta_min + (self.lr - eta_min) * (1 + math.cos(math.pi * step / t_max)) / 2
        except (ValueError, ZeroDivisionError):
            pass
        raise VnncError(f"--lr-schedule {self.schedule!r}: expected step:SIZE:GAMMA or cosine[:T_MAX[:ETA_MIN]]")


# ---------------------------------------------------------------- the training program


def trainable(module) -> list:
    """The spec.params the step updates: every f32 parameter but batchnorm's statistics."""
    from vnnc.dialects.spec import BatchnormOp, ParamOp

    frozen = {op.operands[k] for op in module.walk() if isinstance(op, BatchnormOp) for k in (3, 4)}
    return [op for op in module.walk() if isinstance(op, ParamOp) and op.result not in frozen
            and str(op.result.type.element_type) == "f32"]


def training_program(model, cfg: TrainConfig):
    """The ad program of one training step of `model` (a vnnc Model), as a new Model, and the
    names of its (state) arguments."""
    from vnnc.dialects import ad, spec
    from vnnc.dialects.shapes import ShapeError
    from vnnc.model import Model, entry_function, name_attrs, signature
    from xdsl.dialects.builtin import ModuleOp, i64
    from xdsl.dialects.func import FuncOp, ReturnOp
    from xdsl.ir import Block, Region
    from xdsl.utils.exceptions import VerifyException

    props = cfg.properties()
    fn = entry_function(model.module)
    inputs, outputs = signature(model.module)
    if len(inputs) != 1 or len(outputs) != 1 or inputs[0]["dtype"] != "float32" or not inputs[0]["shape"]:
        raise VnncError(f"{model.source}: vnnc train needs a model with one float input (batch first) "
                        f"and one output, got inputs {[i['name'] for i in inputs]} and outputs "
                        f"{[o['name'] for o in outputs]}")
    params = trainable(model.module)
    if not params:
        raise VnncError(f"{model.source}: the model has no float parameters to train")
    names = [op.param_name.data for op in params]
    batch, old_batch = cfg.batch_size, inputs[0]["shape"][0]
    x_type = spec.tensor([batch, *inputs[0]["shape"][1:]])
    hyper = ad.HYPER_OPERANDS[cfg.optimizer]
    state = [f"{n}.{s}" for s in ad.STATE_NAMES[cfg.optimizer] for n in names]
    p_types = [op.result.type for op in params]
    s_types = [p_types[k % len(params)] for k in range(len(state))]

    ret = fn.body.block.last_op
    pred_shape = None
    block = Block(arg_types=[x_type])
    env = {fn.body.block.args[0]: block.args[0]}
    try:
        for op in fn.body.block.ops:
            if op is ret:
                break
            if op in params:
                continue
            if isinstance(op, spec.SpecOp):
                attrs = op.attrs()
                if isinstance(op, spec.ReshapeOp) and attrs["shape"][:1] == (old_batch,) and \
                        spec.shape_of(op.inputs[0])[:1] == (old_batch,):
                    attrs["shape"] = (batch, *attrs["shape"][1:])  # the batch axis follows the input's
                operands = [env.get(v, v) for v in op.operands]
                new = type(op)(operands, **attrs)
            else:
                new = op.clone()
            block.add_op(new)
            env[op.results[0]] = new.results[0]
        pred_shape = spec.shape_of(env[ret.operands[0]])
    except (ShapeError, VerifyException, KeyError) as e:
        raise VnncError(f"{model.source}: cannot set the batch size to {batch}: {e}") from None
    if cfg.loss == "cross-entropy" and len(pred_shape) != 2:
        raise VnncError(f"{model.source}: cross-entropy needs predictions [N, classes], the model gives "
                        f"{list(pred_shape)}")
    y_type = spec.tensor([batch], i64) if cfg.loss == "cross-entropy" else spec.tensor(pred_shape)
    for t in [y_type, *[spec.tensor([])] * len(hyper), *p_types, *s_types]:
        block.insert_arg(t, len(block.args))
    y_arg, rest = block.args[1], list(block.args[2:])
    hyper_args, p_args, s_args = rest[:len(hyper)], rest[len(hyper):len(hyper) + len(params)], \
        rest[len(hyper) + len(params):]
    # trainable parameters are arguments now: rewire their uses
    for op in block.ops:
        for k, v in enumerate(op.operands):
            for p, a in zip(params, p_args):
                if v is p.result:
                    op.operands[k] = a
    pred = env[ret.operands[0]]
    if pred in [p.result for p in params]:
        raise VnncError(f"{model.source}: the model returns a parameter")
    loss_op = (spec.CrossEntropyOp if cfg.loss == "cross-entropy" else spec.MseLossOp)([pred, y_arg])
    step = ad.TrainStepOp(loss_op.result, hyper_args, p_args, s_args, cfg.optimizer, **props)
    block.add_ops([loss_op, step, ReturnOp(loss_op.result, *step.results)])
    arg_names = [inputs[0]["name"], TARGET, *hyper, *names, *state]
    res_names = ["loss", *names, *state]
    if len(set(arg_names)) != len(arg_names):
        raise VnncError(f"{model.source}: parameter names clash with the step's own inputs {arg_names}")
    new_fn = FuncOp("main", ([a.type for a in block.args], [loss_op.result.type, *[r.type for r in step.results]]),
                    Region(block), "public")
    new_fn.arg_attrs, new_fn.res_attrs = name_attrs(arg_names), name_attrs(res_names)
    module = ModuleOp([new_fn])
    try:
        module.verify()
    except VerifyException as e:
        raise VnncError(f"{model.source}: the training program is invalid: {str(e).splitlines()[0]}") from None
    return Model(module, dict(model.params), model.source, list(model.tested)), names, state


# ---------------------------------------------------------------- the compiled step


class CompiledStep:
    """The bundle's step function with two buffer sets for parameters and state (see above)."""

    def __init__(self, bundle, initial: dict[str, np.ndarray]):
        m = bundle.manifest
        # loaded from a private copy: dlopen hands back an already loaded library for a path it
        # has seen, even after a newer bundle replaced the file
        with tempfile.NamedTemporaryFile(suffix=".so") as copy:
            copy.write((bundle.path / m["artifacts"]["library"]).read_bytes())
            copy.flush()
            self.lib = ctypes.CDLL(copy.name)
        lib = self.lib
        lib.vnnc_model_param_name.restype = ctypes.c_char_p
        payload = safetensors.read(bundle.path / m["params"]["file"])
        self._frozen = [aligned(p.shape, p.dtype, p) for p in (
            payload[lib.vnnc_model_param_name(i).decode()] for i in range(lib.vnnc_model_num_params()))]
        lib.vnnc_model_bind_params((ctypes.c_void_p * max(len(self._frozen), 1))(
            *[a.ctypes.data for a in self._frozen]))
        dtypes = {"float32": np.float32, "int64": np.int64}
        self.carried = [o["name"] for o in m["outputs"][1:]]
        self.sets = [{}, {}]
        self.inputs = {}
        for spec in m["inputs"]:
            if spec["name"] in self.carried:
                for buffers in self.sets:
                    buffers[spec["name"]] = aligned(spec["shape"], dtypes[spec["dtype"]])
                self.sets[0][spec["name"]][...] = initial.get(spec["name"], 0.0)
            else:
                self.inputs[spec["name"]] = aligned(spec["shape"], dtypes[spec["dtype"]])
        self.loss = np.zeros((), np.float32)
        self.args = []
        for k in range(2):
            ins = [self.sets[k].get(s["name"], self.inputs.get(s["name"])) for s in m["inputs"]]
            outs = [self.loss, *[self.sets[1 - k][n] for n in self.carried]]
            self.args.append((ctypes.c_void_p * (len(ins) + len(outs)))(*[a.ctypes.data for a in ins + outs]))
        self._run = lib.vnnc_model_run
        self._run.argtypes = [ctypes.c_void_p]
        self._run.restype = ctypes.c_int
        self.parity = 0

    def __call__(self) -> float:
        """One step on the prepared inputs; the loss of the batch before the update."""
        if self._run(self.args[self.parity]) != 0:
            raise VnncError("the training step ran out of memory")
        self.parity ^= 1
        return float(self.loss)

    def current(self, name: str) -> np.ndarray:
        return self.sets[self.parity][name]


# ---------------------------------------------------------------- data


def load_data(path: str | Path, target_columns: list[str] | None) -> tuple[np.ndarray, np.ndarray]:
    path = Path(path)
    if not path.is_file():
        raise VnncError(f"{path}: no such data file")
    if path.suffix.lower() == ".npz":
        if target_columns:
            raise VnncError(f"{path}: --target-column applies to CSV data; an .npz holds arrays x and y")
        try:
            with np.load(path, allow_pickle=False) as data:
                if "x" not in data or "y" not in data:
                    raise VnncError(f"{path}: expected arrays named x and y, found {sorted(data.files)}")
                x, y = data["x"], data["y"]
        except (OSError, ValueError, EOFError) as e:
            raise VnncError(f"{path}: not a readable .npz file ({e})") from None
    elif path.suffix.lower() == ".csv":
        x, y = _load_csv(path, target_columns or [])
    else:
        raise VnncError(f"{path}: unknown data format (expected .npz with x and y, or .csv)")
    if x.dtype.kind not in "fiub" or y.dtype.kind not in "fiub":
        raise VnncError(f"{path}: x and y must be numeric arrays, got {x.dtype} and {y.dtype}")
    if x.ndim < 1 or y.ndim < 1 or len(x) != len(y) or not len(x):
        raise VnncError(f"{path}: x {list(x.shape)} and y {list(y.shape)} need the same number of samples (> 0)")
    return x, y


def _load_csv(path: Path, targets: list[str]) -> tuple[np.ndarray, np.ndarray]:
    import csv

    if not targets:
        raise VnncError(f"{path}: CSV data needs --target-column NAME (repeatable) for y")
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if len(rows) < 2:
        raise VnncError(f"{path}: expected a header row and at least one data row")
    header = [h.strip() for h in rows[0]]
    missing = [t for t in targets if t not in header]
    if missing:
        raise VnncError(f"{path}: no column {missing[0]!r} (columns: {', '.join(header)})")
    values = np.empty((len(rows) - 1, len(header)), np.float64)
    for i, row in enumerate(rows[1:]):
        if len(row) != len(header):
            raise VnncError(f"{path}:{i + 2}: {len(row)} fields, the header has {len(header)}")
        for j, cell in enumerate(row):
            try:
                values[i, j] = float(cell)
            except ValueError:
                raise VnncError(f"{path}:{i + 2}: column {header[j]!r}: {cell!r} is not a number") from None
    ycols = [header.index(t) for t in targets]
    xcols = [j for j in range(len(header)) if j not in ycols]
    if not xcols:
        raise VnncError(f"{path}: every column is a target; no inputs left")
    return values[:, xcols], values[:, ycols]


def fit_data(x: np.ndarray, y: np.ndarray, x_shape: list[int], y_shape: list[int], loss: str,
             where: str) -> tuple[np.ndarray, np.ndarray]:
    """x and y as the step's sample shapes and dtypes (float32; int64 class labels)."""
    if x[0].size != math.prod(x_shape[1:]):
        raise VnncError(f"{where}: a sample of x has {x[0].size} values, the model's input "
                        f"{x_shape[1:]} takes {math.prod(x_shape[1:])}")
    x = np.ascontiguousarray(x.reshape(len(x), *x_shape[1:]), np.float32)
    if loss == "cross-entropy":
        y = y.reshape(len(y), -1) if y.ndim > 1 else y
        if y.ndim != 1 and y.shape[1] != 1:
            raise VnncError(f"{where}: cross-entropy needs one integer class label per sample, y is {list(y.shape)}")
        y = y.reshape(-1)
        if y.dtype.kind == "f" and not np.all(np.isfinite(y) & (y == np.round(y))):
            raise VnncError(f"{where}: class labels must be integers")
        y = y.astype(np.int64)
        classes = y_shape and y_shape[-1]
        if y.min() < 0 or (classes and y.max() >= classes):
            raise VnncError(f"{where}: class labels must lie in [0, {classes}), found {y.min()}..{y.max()}")
        return x, y
    if y[0].size != math.prod(y_shape[1:]):
        raise VnncError(f"{where}: a sample of y has {y[0].size} values, the model's output "
                        f"{y_shape[1:]} has {math.prod(y_shape[1:])}")
    return x, np.ascontiguousarray(y.reshape(len(y), *y_shape[1:]), np.float32)


def batches(n: int, batch: int, steps: int, seed: int, shuffle: bool):
    """Index arrays of `steps` full batches: a seeded permutation per epoch, the last partial
    batch of each epoch dropped."""
    per_epoch = n // batch
    rng = np.random.default_rng(seed)
    done = 0
    while done < steps:
        order = rng.permutation(n) if shuffle else np.arange(n)
        for b in range(min(per_epoch, steps - done)):
            yield order[b * batch:(b + 1) * batch]
        done += per_epoch


# ---------------------------------------------------------------- progress


class Progress:
    """A one-line progress bar on stderr (a line per tenth when stderr is not a terminal)."""

    def __init__(self, total: int, enabled: bool = True):
        self.total, self.enabled = total, enabled
        self.tty = sys.stderr.isatty()
        self.start = self.last = time.perf_counter()
        self.shown = -1

    def update(self, step: int, loss: float) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        tenth = step * 10 // self.total
        if step != self.total and (now - self.last < 0.1 if self.tty else tenth == self.shown):
            return
        self.last, self.shown = now, tenth
        rate = step / max(now - self.start, 1e-9)
        filled = step * 24 // self.total
        line = (f"step {step}/{self.total} [{'=' * filled}{' ' * (24 - filled)}] loss {loss:.6g}  "
                f"{rate:.1f} steps/s")
        sys.stderr.write(("\r" + line + ("\n" if step == self.total else "")) if self.tty else line + "\n")
        sys.stderr.flush()


# ---------------------------------------------------------------- the command


def train(model_path: str | Path, data_path: str | Path, out: str | Path, cfg: TrainConfig, *,
          target_columns: list[str] | None = None, log: str | Path | None = None,
          bundle_dir: str | Path | None = None, force: bool = False, progress: bool = True,
          portable: bool = False) -> dict:
    """Train, write the trained model to `out`; returns a summary."""
    from vnnc import driver

    model_path, data_path, out = Path(model_path), Path(data_path), Path(out)
    _check_output(out, model_path, data_path, log, force)
    fmt = _format(model_path)
    if _format(out) != fmt:
        raise VnncError(f"{out}: the trained model is written in the input's format ({fmt})")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise VnncError(f"{out}: cannot create its directory: {e.strerror}") from None
    x, y = load_data(data_path, target_columns)
    if cfg.batch_size > len(x):
        raise VnncError(f"{data_path}: {len(x)} samples, fewer than one batch of {cfg.batch_size}")
    per_epoch = len(x) // cfg.batch_size
    if (cfg.steps is None) == (cfg.epochs is None):
        raise VnncError("give exactly one of --steps N and --epochs N")
    total = cfg.steps if cfg.steps is not None else cfg.epochs * per_epoch
    if total < 1:
        raise VnncError("--steps and --epochs must be positive")
    cfg.lr_at(0, total)  # a malformed schedule is an error before compiling

    model = driver.load_model(model_path, cfg.batch_size)
    program, names, _ = training_program(model, cfg)
    from vnnc.model import signature

    ins, _ = signature(program.module)
    x, y = fit_data(x, y, ins[0]["shape"], ins[1]["shape"] if cfg.loss == "mse" else
                    [cfg.batch_size, _classes(program)], cfg.loss, str(data_path))
    record = {"loss": cfg.loss, "optimizer": cfg.optimizer, "properties": cfg.properties(), "lr": cfg.lr,
              "lr_schedule": cfg.schedule, "batch_size": cfg.batch_size, "steps": total, "seed": cfg.seed,
              "shuffle": cfg.shuffle, "data": {"file": str(data_path), "samples": len(x)}}
    tmp = None
    if bundle_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="vnnc-train-")
        bundle_dir = Path(tmp.name) / "bundle"
    try:
        bundle = driver.compile_model(model_path, bundle_dir, force=force, batch=cfg.batch_size, portable=portable,
                                      model=program, manifest_extra={"training": record})
        step = CompiledStep(bundle, program.params)
        result = _loop(step, x, y, cfg, total, per_epoch, log, progress, len(x) % cfg.batch_size)
        trained = {n: step.current(n).copy() for n in names}
    finally:
        if tmp is not None:
            tmp.cleanup()
    if fmt == "onnx":
        _write_onnx(model_path, out, trained, model.params)
    else:
        _write_mlir(model, out, trained)
    return {**result, "bundle": None if tmp else str(bundle_dir), "out": str(out), "steps": total}


def _classes(program) -> int:
    from vnnc.dialects.spec import CrossEntropyOp

    ce = next(op for op in program.module.walk() if isinstance(op, CrossEntropyOp))
    return ce.inputs[0].type.get_shape()[1]


def _loop(step: CompiledStep, x, y, cfg: TrainConfig, total: int, per_epoch: int, log, show: bool,
          dropped: int) -> dict:
    if dropped and show:
        print(f"vnnc: dropping the last partial batch of {dropped} sample(s) in every epoch "
              f"({len(x)} samples, batch size {cfg.batch_size}: drop_last)", file=sys.stderr)
    xb, yb = step.inputs[next(iter(step.inputs))], step.inputs[TARGET]
    scalars = {k: v for k, v in step.inputs.items() if v.shape == () and k not in (TARGET,)}
    b1, b2 = cfg.betas or (0.9, 0.999)
    bar = Progress(total, show)
    logf = open(log, "w") if log else None  # noqa: SIM115 - closed below
    losses = []
    t0 = time.perf_counter()
    try:
        for k, idx in enumerate(batches(len(x), cfg.batch_size, total, cfg.seed, cfg.shuffle)):
            np.take(x, idx, axis=0, out=xb)
            np.take(y, idx, axis=0, out=yb)
            lr = cfg.lr_at(k, total)
            scalars["lr"][...] = lr
            if "bias_correction1" in scalars:
                scalars["bias_correction1"][...] = 1 - b1 ** (k + 1)
                scalars["bias_correction2"][...] = 1 - b2 ** (k + 1)
            loss = step()
            losses.append(loss)
            if logf:
                logf.write(json.dumps({"step": k + 1, "loss": loss}) + "\n")
            bar.update(k + 1, loss)
    finally:
        if logf:
            logf.close()
    seconds = time.perf_counter() - t0
    return {"losses": losses, "seconds": seconds, "steps_per_second": total / max(seconds, 1e-9),
            "epochs": total / per_epoch}


# ---------------------------------------------------------------- writing the trained model


def _format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith((".onnx", ".onnx.gz")):
        return "onnx"
    if name.endswith(".mlir"):
        return "mlir"
    raise VnncError(f"{path}: unknown model format (expected .mlir or .onnx)")


def _check_output(out: Path, model: Path, data: Path, log, force: bool) -> None:
    given = [model, data] + ([Path(log)] if log else [])
    for p in given[:2]:
        if out.resolve() == p.resolve() or (log and Path(log).resolve() == p.resolve()):
            raise VnncError(f"{out if out.resolve() == p.resolve() else log}: is the input file {p}; "
                            "refusing to overwrite it")
    if out.is_dir():
        raise VnncError(f"{out}: is a directory")
    if out.exists() and not force:
        raise VnncError(f"{out}: already exists (use --force to replace it)")
    if _format(out) == "mlir":
        weights = out.with_suffix(".safetensors")
        if weights.resolve() in (model.resolve(), data.resolve()):
            raise VnncError(f"{weights}: is an input file; refusing to overwrite it")
        if weights.exists() and not force:
            raise VnncError(f"{weights}: already exists (use --force to replace it)")


def _atomic(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_mlir(model, out: Path, trained: dict[str, np.ndarray]) -> None:
    """The input module with the trained parameters: new hashes, a new parameter file."""
    from vnnc.dialects.spec import ParamOp
    from vnnc.driver import custom_text
    from xdsl.dialects.builtin import StringAttr

    params = {**model.params, **trained}
    for op in model.module.walk():
        if isinstance(op, ParamOp):
            op.properties["sha256"] = StringAttr(safetensors.param_sha256(params[op.param_name.data]))
    weights = out.with_suffix(".safetensors")
    model.module.attributes["vnnc.params"] = StringAttr(weights.name)
    _atomic(weights, lambda p: safetensors.write(p, params))
    _atomic(out, lambda p: p.write_text(f"// trained by vnnc train; parameters in {weights.name}\n"
                                        + custom_text(model.module)))


def _write_onnx(model_path: Path, out: Path, trained: dict[str, np.ndarray], imported: dict) -> None:
    """The input ONNX file with its initializers replaced by the trained values. An imported
    parameter is its initializer as is or transposed (Gemm with transB = 0); which one is
    read off the initial values, and anything else is refused rather than guessed."""
    import gzip

    import onnx
    from onnx import numpy_helper

    raw = model_path.read_bytes()
    proto = onnx.load_model_from_string(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)
    inits = {init.name: init for init in proto.graph.initializer}
    for name, value in trained.items():
        if name not in inits:
            raise VnncError(f"{model_path}: parameter {name!r} is not an initializer of the ONNX file "
                            "(it was derived on import); cannot write it back")
        original = numpy_helper.to_array(inits[name])
        start = imported[name]
        if original.shape == start.shape and np.array_equal(original.astype(np.float32), start):
            new = value
        elif original.ndim == 2 and original.T.shape == start.shape and np.array_equal(
                original.T.astype(np.float32), start):
            new = value.T
        else:
            raise VnncError(f"{model_path}: initializer {name!r} was rewritten on import (scaled or "
                            "reshaped); cannot write the trained value back")
        inits[name].CopyFrom(numpy_helper.from_array(np.ascontiguousarray(new).astype(original.dtype), name))
    data = proto.SerializeToString()
    _atomic(out, lambda p: p.write_bytes(gzip.compress(data) if out.name.lower().endswith(".gz") else data))


def run(args) -> int:
    """`vnnc train`: the command line's arguments to `train`, and a summary on stdout."""
    cfg = TrainConfig(loss=args.loss, optimizer=args.optimizer, lr=args.lr, batch_size=args.batch_size,
                      steps=args.steps, epochs=args.epochs, seed=args.seed, shuffle=not args.no_shuffle,
                      momentum=args.momentum, nesterov=args.nesterov, weight_decay=args.weight_decay,
                      betas=tuple(args.betas) if args.betas else None, eps=args.eps, schedule=args.lr_schedule)
    result = train(args.model, args.data, args.output, cfg, target_columns=args.target_column, log=args.log,
                   bundle_dir=args.bundle, force=args.force, progress=not args.quiet, portable=args.portable)
    losses = result["losses"]
    print(f"trained: {result['steps']} steps ({result['epochs']:.3g} epochs) in {result['seconds']:.2f} s "
          f"({result['steps_per_second']:.1f} steps/s), loss {losses[0]:.6g} -> {losses[-1]:.6g}")
    print("checked: the training step's import, lower-autograd and lower-to-loops witnesses and its library "
          "sample were accepted" + (f" (bundle {result['bundle']})" if result["bundle"] else ""))
    written = [args.output] + ([str(Path(args.output).with_suffix(".safetensors"))]
                               if _format(Path(args.output)) == "mlir" else [])
    print(f"wrote: {', '.join(written)}")
    return 0
