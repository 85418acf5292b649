"""The `spec` dialect: a neural network as a function of tensors over the reals.

Values are ranked tensors with static shapes. The element type `f32` of a spec tensor
denotes the real numbers (it fixes only the interchange type at the model's boundary:
inputs and outputs are float32 arrays); `i64` tensors hold integer class labels.
Every op is pure; its semantics is the exact real-valued function stated in its
docstring. All ops share one syntax:

    %y = spec.OP %a, %b {attr = ...} : (tensor<..>, tensor<..>) -> tensor<..>

and one verifier: `dialects/shapes.py` re-infers the result shape from the operands
and attributes, and a mismatch names the op and both shapes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from vnnc.dialects.shapes import ShapeError, infer_shape
from xdsl.dialects.builtin import (
    AnyAttr,
    BoolAttr,
    DenseArrayBase,
    DenseIntOrFPElementsAttr,
    FloatAttr,
    IntegerAttr,
    IntegerType,
    StringAttr,
    TensorType,
    f32,
    f64,
    i64,
)
from xdsl.ir import Attribute, Dialect, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    ParamAttrConstraint,
    ParsePropInAttrDict,
    VarConstraint,
    irdl_op_definition,
    prop_def,
    result_def,
    traits_def,
    var_operand_def,
)
from xdsl.traits import ConstantLike, Pure
from xdsl.utils.exceptions import VerifyException

# ---------------------------------------------------------------- attribute helpers


def ints(values: Sequence[int]) -> DenseArrayBase:
    return DenseArrayBase.from_list(i64, [int(v) for v in values])


def attr_value(attr: Attribute) -> Any:
    """A property as a plain Python value (int, float, bool, str or tuple of ints)."""
    if isinstance(attr, IntegerAttr):
        v = attr.value.data
        return bool(v) if isinstance(attr.type, IntegerType) and attr.type.width.data == 1 else v
    if isinstance(attr, FloatAttr):
        return float(attr.value.data)
    if isinstance(attr, StringAttr):
        return attr.data
    if isinstance(attr, DenseArrayBase):
        return tuple(attr.get_values())
    return attr


def to_attr(value: Any) -> Attribute:
    """The inverse of `attr_value` for the kinds spec properties use."""
    if isinstance(value, Attribute):
        return value
    if isinstance(value, bool):
        return BoolAttr.from_bool(value)
    if isinstance(value, int):
        return IntegerAttr(value, i64)
    if isinstance(value, float):
        return FloatAttr(value, f64)
    if isinstance(value, str):
        return StringAttr(value)
    return ints(value)


def tensor(shape: Sequence[int], element: Attribute = f32) -> TensorType:
    return TensorType(element, list(shape))


def shape_of(value: SSAValue | Attribute) -> tuple[int, ...]:
    t = value.type if isinstance(value, SSAValue) else value
    if not isinstance(t, TensorType):
        raise ShapeError(f"expected a tensor, got {t}")
    return tuple(t.get_shape())


# ---------------------------------------------------------------- ops


class SpecOp(IRDLOperation):
    """Base of every computing spec op: tensor operands, one tensor result."""

    inputs = var_operand_def(TensorType)
    result = result_def(TensorType)

    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = "$inputs attr-dict `:` functional-type($inputs, $result)"
    traits = traits_def(Pure())

    # short name, as used by shape inference and every table keyed by op
    @classmethod
    def short_name(cls) -> str:
        return cls.name.split(".", 1)[1]

    def attrs(self) -> dict[str, Any]:
        return {k: attr_value(v) for k, v in self.properties.items()}

    def __init__(self, inputs: Sequence[SSAValue], result_type: Attribute | None = None, **attrs: Any):
        props = {k: to_attr(v) for k, v in attrs.items()}
        if result_type is None:
            # Declared defaults count as given, as they do once the op exists.
            defaults = {
                k: attr_value(p.default_value)
                for k, p in self.get_irdl_definition().properties.items()
                if p.default_value is not None
            }
            shape = infer_shape(self.short_name(), [shape_of(v) for v in inputs], {
                **defaults, **{k: attr_value(v) for k, v in props.items()}
            })
            result_type = tensor(shape)
        super().__init__(operands=[list(inputs)], result_types=[result_type], properties=props)

    PROP_KINDS: ClassVar[dict[str, type]] = {}

    def verify_(self) -> None:
        for prop, kind in self.PROP_KINDS.items():
            attr = self.properties.get(prop)
            if attr is not None and not _kind_ok(attr, kind):
                raise VerifyException(f"{self.name}: property {prop} must be {KIND_NAMES[kind]}, got {attr}")
        try:
            shape = infer_shape(self.short_name(), [shape_of(v) for v in self.inputs], self.attrs())
        except ShapeError as e:
            raise VerifyException(str(e)) from None
        except (TypeError, ValueError, AttributeError) as e:
            raise VerifyException(f"{self.name}: malformed attribute ({e})") from None
        got = shape_of(self.result)
        if got != shape:
            raise VerifyException(
                f"{self.name}: result shape {list(got)} does not match the inferred shape {list(shape)}"
            )
        for v in self.inputs:
            if v.type.element_type != f32 and not self._integer_operand_ok(v):
                raise VerifyException(f"{self.name}: operands must be f32 tensors, got {v.type}")
        if self.result.type.element_type != f32:
            raise VerifyException(f"{self.name}: result must be an f32 tensor")

    def _integer_operand_ok(self, v: SSAValue) -> bool:
        return False


@irdl_op_definition
class ParamOp(IRDLOperation):
    """p = the parameter `name` from the model's parameter payload; `sha256` is the hash
    of its dtype, shape and little-endian bytes (see compiler/safetensors.py)."""

    name = "spec.param"
    param_name = prop_def(StringAttr, prop_name="name")
    sha256 = prop_def(StringAttr)
    result = result_def(TensorType)
    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = "$name attr-dict `:` type($result)"
    traits = traits_def(Pure())

    def __init__(self, name: str, sha256: str, result_type: TensorType):
        super().__init__(
            result_types=[result_type],
            properties={"name": StringAttr(name), "sha256": StringAttr(sha256)},
        )

    def verify_(self) -> None:
        digest = self.sha256.data
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise VerifyException(f"spec.param {self.param_name.data!r}: sha256 must be 64 hex digits")


@irdl_op_definition
class ConstantOp(IRDLOperation):
    """c = the literal tensor `value` (small constants only; weights are spec.param)."""

    name = "spec.constant"
    _T: ClassVar = VarConstraint("T", AnyAttr())
    value = prop_def(ParamAttrConstraint(DenseIntOrFPElementsAttr, (_T, AnyAttr())))
    result = result_def(_T)
    assembly_format = "attr-dict $value"
    traits = traits_def(Pure(), ConstantLike())

    def __init__(self, value: DenseIntOrFPElementsAttr):
        super().__init__(result_types=[value.get_type()], properties={"value": value})


KIND_NAMES = {int: "an i64 integer", float: "a float", bool: "a bool (true/false)",
              str: "a string", tuple: "an array<i64: ...>"}
"""Property kinds: a required property is declared by its kind (`{"axis": int}`), an
optional one by its default value (`{"eps": 1e-5}`). Kinds are checked by the op's
verifier, so a wrong kind is reported with the op's name rather than at parse time."""


def _kind_ok(attr: Attribute, kind: type) -> bool:
    if kind is bool:
        return isinstance(attr, IntegerAttr) and attr.type == IntegerType(1)
    if kind is int:
        return isinstance(attr, IntegerAttr) and attr.type == i64
    if kind is float:
        return isinstance(attr, FloatAttr)
    if kind is str:
        return isinstance(attr, StringAttr)
    return isinstance(attr, DenseArrayBase) and attr.elt_type == i64


def _op(name: str, doc: str, props: dict[str, Any] | None = None, base: type = SpecOp) -> type:
    """Declare a spec op: its name, its math (the docstring) and its properties."""
    fields: dict[str, Any] = {"name": f"spec.{name}", "__doc__": doc, "__module__": __name__}
    kinds = {}
    for prop, kind in (props or {}).items():
        if isinstance(kind, type):
            fields[prop] = prop_def(AnyAttr())
            kinds[prop] = kind
        else:
            fields[prop] = prop_def(AnyAttr(), default_value=to_attr(kind))
            kinds[prop] = type(kind)
    fields["PROP_KINDS"] = kinds
    fields["__annotations__"] = {"PROP_KINDS": ClassVar[dict[str, type]]}
    cls_name = "".join(part.capitalize() for part in name.split("_")) + "Op"
    return irdl_op_definition(type(cls_name, (base,), fields))


class _LabelsOp(SpecOp):
    def _integer_operand_ok(self, v: SSAValue) -> bool:
        return v is self.inputs[1] and v.type.element_type == i64


MatmulOp = _op("matmul", "y = a @ b (numpy.matmul: batch dimensions broadcast, 1-D operands promoted).")
LinearOp = _op("linear", "y = x W^T + b, with W [out, in] and optional b [out] (PyTorch's layout).")
AddOp = _op("add", "y = a + b, broadcasting as numpy.")
SubOp = _op("sub", "y = a - b, broadcasting as numpy.")
MulOp = _op("mul", "y = a * b, broadcasting as numpy.")
DivOp = _op("div", "y = a / b, broadcasting as numpy.")
NegOp = _op("neg", "y = -x.")
ReluOp = _op("relu", "y = max(x, 0); its derivative at 0 is taken as 0.")
LeakyReluOp = _op("leaky_relu", "y = x if x >= 0 else alpha * x.", {"alpha": 0.01})
SigmoidOp = _op("sigmoid", "y = 1 / (1 + exp(-x)).")
TanhOp = _op("tanh", "y = tanh(x).")
GeluOp = _op(
    "gelu",
    "y = x/2 (1 + erf(x/sqrt 2)); with approximate = \"tanh\": "
    "x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).",
    {"approximate": "none"},
)
ErfOp = _op("erf", "y = erf(x) = 2/sqrt(pi) * integral_0^x exp(-t^2) dt.")
ExpOp = _op("exp", "y = exp(x).")
LogOp = _op("log", "y = ln(x).")
SqrtOp = _op("sqrt", "y = sqrt(x).")
SoftmaxOp = _op("softmax", "y_i = exp(x_i) / sum_j exp(x_j) along `axis`.", {"axis": int})
LogSoftmaxOp = _op("log_softmax", "y_i = x_i - log sum_j exp(x_j) along `axis`.", {"axis": int})
LayernormOp = _op(
    "layernorm",
    "y = (x - mean) / sqrt(var + eps) [* scale + bias] with mean and biased var over `axes`.",
    {"axes": tuple, "eps": 1e-5},
)
BatchnormOp = _op(
    "batchnorm",
    "y = (x - mean) / sqrt(var + eps) * scale + bias per channel (axis 1); "
    "operands x, scale, bias, mean, var.",
    {"eps": 1e-5},
)
Conv2dOp = _op(
    "conv2d",
    "y[n,o,i,j] = b[o] + sum_{c,p,q} x[n, g*C/G + c, i*s0 + p*d0 - pad0, j*s1 + q*d1 - pad1] "
    "w[o,c,p,q], zero outside x; NCHW, pads [top, left, bottom, right].",
    {"strides": (1, 1), "pads": (0, 0, 0, 0), "dilations": (1, 1), "groups": 1},
)
Maxpool2dOp = _op(
    "maxpool2d",
    "y[n,c,i,j] = max over the window of x (padding never wins: it is -inf).",
    {"kernel": tuple, "strides": tuple, "pads": (0, 0, 0, 0), "dilations": (1, 1), "ceil_mode": False},
)
Avgpool2dOp = _op(
    "avgpool2d",
    "y[n,c,i,j] = mean of x over the window; the divisor counts padding only when "
    "count_include_pad (never the part of a ceil-mode window past the padding).",
    {"kernel": tuple, "strides": tuple, "pads": (0, 0, 0, 0), "ceil_mode": False,
     "count_include_pad": False},
)
GlobalAvgpoolOp = _op("global_avgpool", "y[n,c,0,0] = mean over h, w of x[n,c,h,w].")
FlattenOp = _op("flatten", "y = x reshaped to [prod(shape[:axis]), prod(shape[axis:])].", {"axis": 1})
ReshapeOp = _op("reshape", "y = x reshaped (row-major) to `shape`.", {"shape": tuple})
TransposeOp = _op("transpose", "y[i_perm[0], ...] = x[i_0, ...]: y.shape[k] = x.shape[perm[k]].",
                  {"perm": tuple})
ConcatOp = _op("concat", "y = the operands joined along `axis`.", {"axis": int})
SliceOp = _op(
    "slice",
    "y[..i..] = x[..starts[d] + i*steps[d]..] per dimension d, up to (not including) ends[d].",
    {"starts": tuple, "ends": tuple, "steps": tuple},
)
ReduceSumOp = _op("reduce_sum", "y = sum of x over `axes`.", {"axes": tuple, "keepdims": False})
ReduceMeanOp = _op("reduce_mean", "y = mean of x over `axes`.", {"axes": tuple, "keepdims": False})
ReduceMaxOp = _op("reduce_max", "y = max of x over `axes`.", {"axes": tuple, "keepdims": False})
MseLossOp = _op("mse_loss", "y = mean((pred - target)^2) over all elements.")
CrossEntropyOp = _op(
    "cross_entropy",
    "y = mean_n (log sum_c exp(logits[n,c]) - logits[n, labels[n]]); labels are i64.",
    base=_LabelsOp,
)


# ---------------------------------------------------------------- ops the backward pass needs
# (lower-autograd emits them; each is a plain function of its operands like every op above)


class _OneHotOp(SpecOp):
    def _integer_operand_ok(self, v: SSAValue) -> bool:
        return v is self.inputs[0] and v.type.element_type == i64


WhereOp = _op("where", "y = a where c > 0, else b (numpy broadcasting of c, a, b); a NaN c selects b.")
OneHotOp = _op("one_hot", "y[n, c] = 1 if labels[n] == c else 0, c < `classes`; labels are i64.",
               {"classes": int}, base=_OneHotOp)
SliceScatterOp = _op(
    "slice_scatter",
    "y = zeros of `shape` with y[..starts[d] + i*steps[d]..] = x[..i..] (the adjoint of slice).",
    {"shape": tuple, "starts": tuple, "steps": tuple},
)

COMPUTE_OPS: tuple[type[SpecOp], ...] = tuple(
    v for v in list(globals().values()) if isinstance(v, type) and issubclass(v, SpecOp)
    and v not in (SpecOp, _LabelsOp, _OneHotOp)
)
OPS_BY_NAME: dict[str, type[SpecOp]] = {cls.short_name(): cls for cls in COMPUTE_OPS}

Spec = Dialect("spec", [ParamOp, ConstantOp, *COMPUTE_OPS], [])
