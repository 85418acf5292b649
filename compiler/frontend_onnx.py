"""Front end for ONNX models (`.onnx`, `.onnx.gz`).

The graph is walked once in topological order. Every ONNX value becomes either a
spec SSA value (it depends on a model input) or a `_Const`: an array known at import
time. Initializers, Constant nodes and every node whose inputs are all known are
evaluated in numpy, and so is `Shape(x)` of any tensor, because shapes are static once
the batch size is fixed: Shape -> Gather -> Unsqueeze -> Concat -> Reshape chains fold
away. A known array enters the IR only where a data op uses it: an initializer as
`spec.param` under its own name, any other array as `spec.constant` (fewer than
`INLINE_LIMIT` elements) or as `spec.param` named after its ONNX value.

Rewrites made on the way in (all exact on the reals):
- Gemm becomes `spec.linear` (W [out, in]): with transB = 0 and a known B, the
  parameter keeps B's name and holds B transposed; alpha and beta scale known operands
  in numpy, otherwise they become `spec.mul` by a scalar constant.
- Softmax and LogSoftmax before opset 13 flatten to 2-D at `axis`, normalise axis 1
  and reshape back; Squeeze and Unsqueeze become `spec.reshape`.
- Conv/pool `auto_pad` becomes explicit pads [top, left, bottom, right].
Every tensor is f32: float64 initializers are rounded to float32 on load.

Only the batch dimension (axis 0) of a graph input may be symbolic; it becomes `batch`.
The import is a trust boundary: it is tested against onnxruntime, never checked.
"""

from __future__ import annotations

import gzip
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from vnnc import onnx_fold
from vnnc.dialects import spec
from vnnc.dialects.shapes import ShapeError, normalize_axis
from vnnc.errors import VnncError
from vnnc.model import ENTRY, Model, name_attrs
from vnnc.safetensors import param_sha256
from xdsl.dialects.builtin import DenseIntOrFPElementsAttr, ModuleOp
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Region, SSAValue
from xdsl.utils.exceptions import VerifyException

INLINE_LIMIT = 4096
"""Known arrays with fewer elements are inlined as spec.constant; larger ones are params."""

_FLOAT_TYPES = {1: "FLOAT", 10: "FLOAT16", 11: "DOUBLE"}  # TensorProto element types


@dataclass(eq=False)
class _Const:
    """An ONNX value known at import time."""

    array: np.ndarray
    name: str
    initializer: bool = False  # initializers always become spec.param


Value = SSAValue | _Const


class _Unsupported(Exception):
    """A node uses an attribute or form the importer cannot express."""


def import_onnx(path: str | Path, batch: int = 1) -> Model:
    """Import the ONNX model at `path` as a spec module; symbolic batch sizes become `batch`."""
    path = Path(path)
    proto = _read(path)
    importer = _Importer(proto, str(path), batch)
    module = importer.run()
    return Model(module, importer.params, path)


def _read(path: Path):
    try:
        import onnx
    except ImportError:
        raise VnncError(
            f"{path}: reading ONNX needs the onnx package (pip install 'vnnc[onnx]')"
        ) from None
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise VnncError(f"{path}: cannot read: {e.strerror}") from None
    from google.protobuf.message import DecodeError

    try:
        if raw[:2] == b"\x1f\x8b":
            model = onnx.load_model_from_string(gzip.decompress(raw))
        else:
            model = onnx.load(str(path))  # resolves external data beside the file
    except (DecodeError, OSError, EOFError, ValueError, RuntimeError, TypeError) as e:
        raise VnncError(f"{path}: not an ONNX model: {e}") from None
    if not model.HasField("graph") or not model.graph.output:
        raise VnncError(f"{path}: not an ONNX model: no graph with outputs")
    return model


def _is_row(shape: tuple[int, ...], n: int) -> bool:
    """Whether a Gemm C of `shape` is one row [n] broadcast to every row of [M, n]."""
    return len(shape) <= 2 and all(d == 1 for d in shape[:-1]) and (not shape or shape[-1] == n)


def _float32(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array, dtype=np.float32)


def _window_pads(at: dict, size: tuple[int, ...], kernel, strides, dilations) -> tuple[int, ...]:
    """Explicit 2-D pads [top, left, bottom, right] (ONNX's [x1_begin, x2_begin, x1_end,
    x2_end]) for every auto_pad mode."""
    mode = at.get("auto_pad", "NOTSET") or "NOTSET"
    if mode == "NOTSET":
        return tuple(int(p) for p in at.get("pads", (0, 0, 0, 0)))
    if mode == "VALID":
        return (0, 0, 0, 0)
    if mode not in ("SAME_UPPER", "SAME_LOWER"):
        raise _Unsupported(f"auto_pad {mode!r}")
    begin, end = [], []
    for n, k, s, d in zip(size, kernel, strides, dilations):
        out = -(-n // s)
        total = max(0, (out - 1) * s + (k - 1) * d + 1 - n)
        small, large = total // 2, total - total // 2
        begin.append(small if mode == "SAME_UPPER" else large)
        end.append(large if mode == "SAME_UPPER" else small)
    return (*begin, *end)


# ---------------------------------------------------------------- the importer


def _unary(cls: type):
    return lambda self, at, xs: [self.emit(cls, xs[:1])]


class _Importer:
    def __init__(self, model, path: str, batch: int):
        from onnx import numpy_helper

        self.path = path
        self.batch = batch
        self.graph = model.graph
        self.opset = next(
            (o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None
        )
        if self.opset is None:
            import onnx.defs

            self.opset = onnx.defs.onnx_opset_version()
        self.params: dict[str, np.ndarray] = {}
        self.block = Block()
        self.values: dict[str, Value | None] = {"": None}
        self.materialized: dict[_Const, SSAValue] = {}
        self.node: Any = None
        for init in self.graph.initializer:
            try:
                array = numpy_helper.to_array(init)
            except Exception as e:  # noqa: BLE001 - external or malformed data
                raise VnncError(f"{path}: initializer {init.name!r} cannot be read: {e}") from None
            if np.issubdtype(array.dtype, np.floating):
                array = _float32(array)
            self.values[init.name] = _Const(array, init.name, initializer=True)

    # --- the walk

    def run(self) -> ModuleOp:
        inputs = [vi for vi in self.graph.input if vi.name not in self.values]
        for vi in inputs:
            self.values[vi.name] = self.block.insert_arg(
                spec.tensor(self._input_shape(vi)), len(self.block.args)
            )
        nodes = self._live(self._sorted(list(self.graph.node)))
        self._check_supported(nodes)
        for node in nodes:
            self.node = node
            try:
                self._import_node(node)
            except ShapeError as e:
                raise VnncError(
                    f"{self.path}: node {self._name(node)!r} ({node.op_type}): {e}"
                ) from None
            except _Unsupported as e:
                raise VnncError(
                    f"{self.path}: node {self._name(node)!r} ({node.op_type}): unsupported: {e}"
                ) from None
            except KeyError as e:
                raise VnncError(
                    f"{self.path}: node {self._name(node)!r} ({node.op_type}): missing attribute {e}"
                ) from None
        self.node = None
        results = []
        for out in self.graph.output:
            if out.name not in self.values:
                raise VnncError(f"{self.path}: graph output {out.name!r} is never computed")
            results.append(self.tensor(self.values[out.name]))
        self.block.add_op(ReturnOp(*results))
        fn = FuncOp(
            ENTRY,
            ([a.type for a in self.block.args], [r.type for r in results]),
            Region(self.block),
            arg_attrs=name_attrs([vi.name for vi in inputs]),
            res_attrs=name_attrs([o.name for o in self.graph.output]),
        )
        module = ModuleOp([fn])
        try:
            module.verify()
        except VerifyException as e:
            raise VnncError(f"{self.path}: the imported module does not verify: {e}") from None
        return module

    def _input_shape(self, vi) -> tuple[int, ...]:
        t = vi.type.tensor_type
        if vi.type.WhichOneof("value") != "tensor_type" or t.elem_type not in _FLOAT_TYPES:
            raise VnncError(f"{self.path}: input {vi.name!r} is not a float tensor")
        if not t.HasField("shape"):
            raise VnncError(f"{self.path}: input {vi.name!r} has no static shape")
        shape = []
        for i, d in enumerate(t.shape.dim):
            if d.HasField("dim_value") and d.dim_value > 0:
                shape.append(d.dim_value)
            elif i == 0:
                shape.append(self.batch)
            else:
                raise VnncError(
                    f"{self.path}: input {vi.name!r}: dimension {i} ({d.dim_param or '?'}) is "
                    "symbolic; only the batch dimension (0) may be"
                )
        return tuple(shape)

    @staticmethod
    def _name(node) -> str:
        return node.name or (node.output[0] if node.output else node.op_type)

    def _sorted(self, nodes: list) -> list:
        """Nodes in dependency order (stable: a sorted graph keeps its order)."""
        done = set(self.values) | {vi.name for vi in self.graph.input}
        out: list = []
        while nodes:
            rest = []
            for n in nodes:
                if all(i in done for i in n.input):
                    out.append(n)
                    done.update(n.output)
                else:
                    rest.append(n)
            if len(rest) == len(nodes):
                n = rest[0]
                missing = next(i for i in n.input if i not in done)
                raise VnncError(
                    f"{self.path}: node {self._name(n)!r} ({n.op_type}) uses {missing!r}, "
                    "which no node computes (or the graph has a cycle)"
                )
            nodes = rest
        return out

    def _live(self, nodes: list) -> list:
        """Only the nodes the graph outputs depend on."""
        live = {o.name for o in self.graph.output}
        keep = []
        for node in reversed(nodes):
            if any(o in live for o in node.output):
                keep.append(node)
                live.update(node.input)
        self.live_values = live
        return keep[::-1]

    def _check_supported(self, nodes: list) -> None:
        """Collect every unsupported op first, so one error lists them all."""
        known = {k for k, v in self.values.items() if isinstance(v, _Const)} | {""}
        bad: dict[str, list[str]] = {}
        for node in nodes:
            op = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"
            folds = node.op_type in ("Constant", "Shape", "Size") or all(
                i in known for i in node.input
            )
            if node.domain in ("", "ai.onnx") and (folds or hasattr(self, "_op_" + node.op_type)):
                if folds:
                    known.update(node.output)
                continue
            bad.setdefault(op, []).append(self._name(node))
        if bad:
            listed = ", ".join(
                f"{op} (node {', '.join(repr(n) for n in names)})" for op, names in bad.items()
            )
            raise VnncError(f"{self.path}: unsupported ONNX ops: {listed}")

    def _import_node(self, node) -> None:
        at = onnx_fold.attributes(node)
        xs = [self.values[i] for i in node.input]
        if node.op_type == "Constant":
            outs = [_Const(self._constant_value(at), node.output[0])]
        elif node.op_type in ("Shape", "Size"):
            shape = xs[0].array.shape if isinstance(xs[0], _Const) else spec.shape_of(xs[0])
            if node.op_type == "Size":
                outs = [np.array(math.prod(shape), np.int64)]
            else:
                outs = [np.array(shape[at.get("start", 0) : at.get("end")], np.int64)]
        elif all(x is None or isinstance(x, _Const) for x in xs):
            outs = self._fold(node, at, [None if x is None else x.array for x in xs])
        else:
            outs = getattr(self, "_op_" + node.op_type)(at, xs)
        for name, value in zip(node.output, outs):
            if isinstance(value, np.ndarray):
                value = _Const(value, name)
            self.values[name] = value
        for name in node.output[len(outs) :]:
            if name in self.live_values:
                raise _Unsupported(f"its output {name!r} is used")

    def _constant_value(self, at: dict) -> np.ndarray:
        if "value" in at:
            return at["value"]
        for key, dtype in (
            ("value_float", np.float32),
            ("value_floats", np.float32),
            ("value_int", np.int64),
            ("value_ints", np.int64),
        ):
            if key in at:
                return np.array(at[key], dtype)
        raise _Unsupported(f"Constant with attribute {', '.join(at) or 'none'}")

    def _fold(self, node, at: dict, xs: list) -> list[np.ndarray]:
        try:
            return onnx_fold.fold(node, at, xs, self.opset)
        except ShapeError:
            raise
        except Exception as e:  # noqa: BLE001 - numpy/onnx errors on malformed constants
            raise _Unsupported(
                f"cannot evaluate it at import time ({type(e).__name__}: {e})"
            ) from None

    # --- building IR

    def shape(self, v: Value) -> tuple[int, ...]:
        return tuple(v.array.shape) if isinstance(v, _Const) else spec.shape_of(v)

    def tensor(self, v: Value) -> SSAValue:
        """The SSA value of `v`, materializing a known array once."""
        if isinstance(v, SSAValue):
            return v
        if v not in self.materialized:
            array = _float32(v.array)
            if v.initializer or array.size >= INLINE_LIMIT:
                op = self._param(v.name, array)
            else:
                t = spec.tensor(array.shape)
                op = spec.ConstantOp(
                    DenseIntOrFPElementsAttr.from_list(t, array.reshape(-1).tolist())
                )
            self.block.add_op(op)
            self.materialized[v] = op.results[0]
        return self.materialized[v]

    def _param(self, name: str, array: np.ndarray) -> spec.ParamOp:
        """A spec.param for `array`, named `name` unless another array holds that name."""
        digest = param_sha256(array)
        unique, k = name, 0
        while unique in self.params and param_sha256(self.params[unique]) != digest:
            k += 1
            unique = f"{name}_{k}"
        self.params[unique] = array
        return spec.ParamOp(unique, digest, spec.tensor(array.shape))

    def emit(self, cls: type, inputs: list[Value], **attrs: Any) -> SSAValue:
        op = cls([self.tensor(v) for v in inputs], **attrs)
        self.block.add_op(op)
        return op.result

    def scalar(self, value: float) -> _Const:
        return _Const(np.array(value, np.float32), f"{self.node.output[0]}_scalar")

    def transpose(self, v: Value, perm: tuple[int, ...]) -> Value:
        if isinstance(v, _Const):  # keeps the name: a transposed initializer stays a param
            return _Const(np.ascontiguousarray(v.array.transpose(perm)), v.name, v.initializer)
        return self.emit(spec.TransposeOp, [v], perm=perm)

    def constant_input(self, v: Value | None, what: str) -> np.ndarray | None:
        if v is None:
            return None
        if not isinstance(v, _Const):
            raise _Unsupported(f"its {what} must be known at import time")
        return v.array

    # --- data ops: each takes the attributes and operands and returns the outputs

    def _op_MatMul(self, at, xs):
        return [self.emit(spec.MatmulOp, xs)]

    def _op_Gemm(self, at, xs):
        a, b = xs[0], xs[1]
        c = xs[2] if len(xs) > 2 else None
        alpha, beta = float(at.get("alpha", 1.0)), float(at.get("beta", 1.0))
        if at.get("transA", 0):
            a = self.transpose(a, (1, 0))
        w = b if at.get("transB", 0) else self.transpose(b, (1, 0))  # W = op(B)^T
        if alpha != 1 and isinstance(w, _Const):
            w, alpha = _Const(_float32(w.array * alpha), w.name, w.initializer), 1.0
        if c is not None and beta == 0:
            c = None
        if c is not None and beta != 1 and isinstance(c, _Const):
            c, beta = _Const(_float32(c.array * beta), c.name, c.initializer), 1.0
        n = self.shape(w)[0]
        operands = [a, w]
        if (
            alpha == 1
            and beta == 1
            and c is not None
            and _is_row(self.shape(c), n)
            and (isinstance(c, _Const) or math.prod(self.shape(c)) == n)
        ):
            # C broadcasts along rows: it is the bias of spec.linear
            if isinstance(c, _Const):
                c = _Const(np.broadcast_to(c.array.reshape(-1), (n,)).copy(), c.name, c.initializer)
            elif self.shape(c) != (n,):
                c = self.emit(spec.ReshapeOp, [c], shape=(n,))
            operands.append(c)
            c = None
        y = self.emit(spec.LinearOp, operands)
        if alpha != 1:
            y = self.emit(spec.MulOp, [y, self.scalar(alpha)])
        if c is not None:
            if beta != 1:
                c = self.emit(spec.MulOp, [c, self.scalar(beta)])
            y = self.emit(spec.AddOp, [y, c])
        return [y]

    def _op_Add(self, at, xs):
        return [self.emit(spec.AddOp, xs)]

    def _op_Sub(self, at, xs):
        return [self.emit(spec.SubOp, xs)]

    def _op_Mul(self, at, xs):
        return [self.emit(spec.MulOp, xs)]

    def _op_Div(self, at, xs):
        return [self.emit(spec.DivOp, xs)]

    _op_Neg = _unary(spec.NegOp)
    _op_Relu = _unary(spec.ReluOp)
    _op_Sigmoid = _unary(spec.SigmoidOp)
    _op_Tanh = _unary(spec.TanhOp)
    _op_Erf = _unary(spec.ErfOp)
    _op_Exp = _unary(spec.ExpOp)
    _op_Log = _unary(spec.LogOp)
    _op_Sqrt = _unary(spec.SqrtOp)

    def _op_LeakyRelu(self, at, xs):
        return [self.emit(spec.LeakyReluOp, xs, alpha=float(at.get("alpha", 0.01)))]

    def _op_Gelu(self, at, xs):
        return [self.emit(spec.GeluOp, xs, approximate=at.get("approximate", "none"))]

    def _softmax(self, cls, at, xs):
        x = xs[0]
        shape = self.shape(x)
        if self.opset >= 13:
            return [
                self.emit(
                    cls, [x], axis=normalize_axis(cls.short_name(), at.get("axis", -1), len(shape))
                )
            ]
        # before opset 13 the input is coerced to 2-D [prod(shape[:axis]), prod(shape[axis:])]
        axis = normalize_axis(cls.short_name(), at.get("axis", 1), len(shape))
        if axis == len(shape) - 1:
            return [self.emit(cls, [x], axis=axis)]
        y = self.emit(cls, [self.emit(spec.FlattenOp, [x], axis=axis)], axis=1)
        return [self.emit(spec.ReshapeOp, [y], shape=shape)]

    def _op_Softmax(self, at, xs):
        return self._softmax(spec.SoftmaxOp, at, xs)

    def _op_LogSoftmax(self, at, xs):
        return self._softmax(spec.LogSoftmaxOp, at, xs)

    def _window(self, at, x, kernel) -> dict[str, Any]:
        shape = self.shape(x)
        if len(shape) != 4:
            raise _Unsupported(
                f"only 2-D windows (NCHW input) are supported, input has shape {list(shape)}"
            )
        kernel = tuple(int(k) for k in kernel)
        strides = tuple(int(s) for s in at.get("strides", (1, 1)))
        dilations = tuple(int(d) for d in at.get("dilations", (1, 1)))
        pads = _window_pads(at, shape[2:], kernel, strides, dilations)
        return {"strides": strides, "pads": pads, "dilations": dilations}

    def _op_Conv(self, at, xs):
        x, w = xs[0], xs[1]
        kernel = self.shape(w)[2:]
        if "kernel_shape" in at and tuple(at["kernel_shape"]) != tuple(kernel):
            raise ShapeError(
                f"kernel_shape {at['kernel_shape']} does not match weight {list(self.shape(w))}"
            )
        window = self._window(at, x, kernel)
        operands = [x, w] + ([xs[2]] if len(xs) > 2 and xs[2] is not None else [])
        return [self.emit(spec.Conv2dOp, operands, groups=int(at.get("group", 1)), **window)]

    def _op_MaxPool(self, at, xs):
        window = self._window(at, xs[0], at["kernel_shape"])
        return [
            self.emit(
                spec.Maxpool2dOp,
                xs[:1],
                kernel=tuple(at["kernel_shape"]),
                ceil_mode=bool(at.get("ceil_mode", 0)),
                **window,
            )
        ]

    def _op_AveragePool(self, at, xs):
        window = self._window(at, xs[0], at["kernel_shape"])
        if window.pop("dilations") != (1, 1):
            raise _Unsupported("AveragePool with dilations")
        return [
            self.emit(
                spec.Avgpool2dOp,
                xs[:1],
                kernel=tuple(at["kernel_shape"]),
                ceil_mode=bool(at.get("ceil_mode", 0)),
                count_include_pad=bool(at.get("count_include_pad", 0)),
                **window,
            )
        ]

    def _op_GlobalAveragePool(self, at, xs):
        if len(self.shape(xs[0])) != 4:
            raise _Unsupported(f"only NCHW input is supported, got shape {list(self.shape(xs[0]))}")
        return [self.emit(spec.GlobalAvgpoolOp, xs)]

    def _op_BatchNormalization(self, at, xs):
        if at.get("training_mode", 0):
            raise _Unsupported("training_mode = 1")
        if self.opset < 9 and not at.get("spatial", 1):
            raise _Unsupported("spatial = 0")
        return [self.emit(spec.BatchnormOp, xs[:5], eps=float(at.get("epsilon", 1e-5)))]

    def _op_LayerNormalization(self, at, xs):
        x, scale = xs[0], xs[1]
        bias = xs[2] if len(xs) > 2 else None
        shape = self.shape(x)
        axis = normalize_axis("layernorm", at.get("axis", -1), len(shape))
        inner = shape[axis:]

        def fitted(v):  # scale/bias broadcast to the normalised shape, if that is static
            if v is None or self.shape(v) == inner:
                return v
            if isinstance(v, _Const):
                return _Const(np.broadcast_to(v.array, inner).copy(), v.name, v.initializer)
            return False

        eps = float(at.get("epsilon", 1e-5))
        axes = tuple(range(axis, len(shape)))
        s, b = fitted(scale), fitted(bias)
        if s is not False and b is not False:
            return [
                self.emit(
                    spec.LayernormOp, [x, s] + ([b] if b is not None else []), axes=axes, eps=eps
                )
            ]
        y = self.emit(spec.MulOp, [self.emit(spec.LayernormOp, [x], axes=axes, eps=eps), scale])
        return [y if bias is None else self.emit(spec.AddOp, [y, bias])]

    def _op_Flatten(self, at, xs):
        rank = len(self.shape(xs[0]))
        axis = at.get("axis", 1)
        return [self.emit(spec.FlattenOp, xs, axis=axis + rank if axis < 0 else axis)]

    def _op_Reshape(self, at, xs):
        target = self.constant_input(xs[1], "target shape")
        shape = onnx_fold.reshape_target(self.shape(xs[0]), target, at.get("allowzero", 0))
        return [self.emit(spec.ReshapeOp, xs[:1], shape=shape)]

    def _op_Squeeze(self, at, xs):
        axes = (
            at.get("axes")
            if self.opset < 13
            else self.constant_input(xs[1] if len(xs) > 1 else None, "axes")
        )
        return [
            self.emit(
                spec.ReshapeOp, xs[:1], shape=onnx_fold.squeeze_target(self.shape(xs[0]), axes)
            )
        ]

    def _op_Unsqueeze(self, at, xs):
        axes = at.get("axes") if self.opset < 13 else self.constant_input(xs[1], "axes")
        return [
            self.emit(
                spec.ReshapeOp, xs[:1], shape=onnx_fold.unsqueeze_target(self.shape(xs[0]), axes)
            )
        ]

    def _op_Transpose(self, at, xs):
        perm = at.get("perm") or tuple(reversed(range(len(self.shape(xs[0])))))
        return [self.emit(spec.TransposeOp, xs, perm=tuple(perm))]

    def _op_Concat(self, at, xs):
        xs = [x for x in xs if x is not None and math.prod(self.shape(x)) > 0] or xs[:1]
        axis = normalize_axis("concat", at["axis"], len(self.shape(xs[0])))
        return [self.emit(spec.ConcatOp, xs, axis=axis)]

    def _op_Slice(self, at, xs):
        if self.opset < 10:
            args = (at["starts"], at["ends"], at.get("axes"), None)
        else:
            args = tuple(
                None if i >= len(xs) else self.constant_input(xs[i], "starts/ends/axes/steps")
                for i in range(1, 5)
            )
            args = tuple(None if a is None else np.ravel(a) for a in args)
        starts, ends, steps = onnx_fold.slice_bounds(self.shape(xs[0]), *args)
        return [self.emit(spec.SliceOp, xs[:1], starts=starts, ends=ends, steps=steps)]

    def _reduce(self, cls, at, xs, axes_input_from):
        x = xs[0]
        rank = len(self.shape(x))
        if self.opset < axes_input_from:
            axes = at.get("axes")
        else:
            axes = self.constant_input(xs[1] if len(xs) > 1 else None, "axes")
        if axes is None or len(axes) == 0:
            if at.get("noop_with_empty_axes", 0):
                return [x]
            axes = range(rank)
        axes = tuple(sorted(normalize_axis(cls.short_name(), int(a), rank) for a in np.ravel(axes)))
        return [self.emit(cls, [x], axes=axes, keepdims=bool(at.get("keepdims", 1)))]

    def _op_ReduceSum(self, at, xs):
        return self._reduce(spec.ReduceSumOp, at, xs, 13)

    def _op_ReduceMean(self, at, xs):
        return self._reduce(spec.ReduceMeanOp, at, xs, 18)

    def _op_ReduceMax(self, at, xs):
        return self._reduce(spec.ReduceMaxOp, at, xs, 18)

    def _op_Identity(self, at, xs):
        return xs[:1]

    def _op_Dropout(self, at, xs):
        training = self.constant_input(xs[2] if len(xs) > 2 else None, "training_mode")
        if training is not None and bool(training):
            raise _Unsupported("training_mode = true")
        return xs[:1]

    def _op_Cast(self, at, xs):
        if at["to"] not in (1, 11):  # FLOAT, DOUBLE: the reals either way
            raise _Unsupported(f"cast of a computed tensor to element type {at['to']}")
        return xs[:1]
