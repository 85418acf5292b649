"""The `fp` dialect: the spec computation with its finite-precision arithmetic made explicit.

Every value's tensor element type is its storage format: `f64`, `f32`, `f16`, `bf16`,
`f8E4M3FN` (OCP fp8-e4m3fn), `f8E5M2` (fp8-e5m2) or `!fp.float<"eXmY">` (a custom
IEEE-style format: bias 2^(X-1)-1, subnormals, infinities, NaN). Each spec op `spec.OP`
has an fp twin `fp.OP` with the same operands and attributes plus

  rounding  "nearest" (ties to even) | "zero" | "up" | "down"
  acc       the accumulation format: every arithmetic operation inside the op is
            rounded to `acc` (f32 or f64) in `rounding` mode
  order     the summation order reductions follow ("sequential": increasing index)

and the op's result is then rounded once from `acc` to its storage format. An op whose
kernel calls libm functions also carries their error contract (`ULP_CONTRACTS`):

  libm      the functions its kernel calls, in `acc`: "tanhf" (f32) or "tanh" (f64),
            comma-separated when several ("expf,logf" for log_softmax)
  ulp       every call returns within `ulp` units in the last place of `acc` (at the exact
            result) of the exact function value, in the op's rounding mode

The contract is a measured (tested) assumption, not a checked one (TRUST.md). For a
format emulated in a wider `acc` (f16, bf16, fp8, eXmY) the kernel calls the `acc`
function (expf under acc f32, exp under f64) and rounds its result once into the storage
format: the contract is then the `acc` function's, in ulps of `acc`, and the storage
rounding is a separate error (u_S |y| + eta_S) that the error analysis adds, as for every
op; no double-rounding argument is needed because the two errors are bounded one after
the other, not claimed to make one correct rounding. `fp.round`
converts a tensor (or, at loop level, a scalar) to another format. Its semantics:
y = round_format(x) in `rounding` mode, with IEEE overflow (to infinity or the largest
finite value, by mode), except for `fp8-e4m3fn`, which has no infinity: overflow gives
NaN, or the largest finite value for the `fp8-e4m3fn-sat` variant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

from vnnc.dialects import spec
from xdsl.dialects.builtin import (
    AnyFloat,
    BFloat16Type,
    Float8E4M3FNType,
    Float8E5M2Type,
    Float16Type,
    StringAttr,
    TensorType,
    f32,
    f64,
    i64,
)
from xdsl.ir import Attribute, Dialect, ParametrizedAttribute, SSAValue, TypeAttribute
from xdsl.irdl import (
    AnyAttr,
    IRDLOperation,
    ParsePropInAttrDict,
    irdl_attr_definition,
    irdl_op_definition,
    operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
)
from xdsl.parser import AttrParser
from xdsl.printer import Printer
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException

ROUNDINGS = ("nearest", "zero", "up", "down")


@dataclass(frozen=True)
class Format:
    """A binary floating-point format: `ebits` exponent bits, `mbits` fraction bits;
    kind "ieee", "fn" (no infinity, overflow -> NaN) or "fn-sat" (overflow saturates)."""

    name: str
    ebits: int
    mbits: int
    kind: str = "ieee"

    @property
    def bias(self) -> int:
        return 2 ** (self.ebits - 1) - 1

    @property
    def unit_roundoff(self) -> float:
        return 2.0 ** -(self.mbits + 1)

    @property
    def native(self) -> bool:
        """Computed by the machine's own float/double arithmetic."""
        return self.name in ("f32", "f64")


NAMED = {
    "f64": Format("f64", 11, 52), "f32": Format("f32", 8, 23), "f16": Format("f16", 5, 10),
    "bf16": Format("bf16", 8, 7), "fp8-e5m2": Format("fp8-e5m2", 5, 2),
    "fp8-e4m3fn": Format("fp8-e4m3fn", 4, 3, "fn"), "fp8-e4m3fn-sat": Format("fp8-e4m3fn-sat", 4, 3, "fn-sat"),
}


def parse_format(name: str) -> Format:
    """A format by name: f64 f32 f16 bf16 fp8-e4m3fn[-sat] fp8-e5m2, or custom eXmY."""
    if name in NAMED:
        return NAMED[name]
    m = re.fullmatch(r"e(\d+)m(\d+)", name)
    if not m:
        raise ValueError(f"unknown float format {name!r} (f64, f32, f16, bf16, fp8-e4m3fn, "
                         "fp8-e4m3fn-sat, fp8-e5m2 or eXmY)")
    e, mb = int(m.group(1)), int(m.group(2))
    if not (2 <= e <= 8 and 1 <= mb <= 23):
        raise ValueError(f"custom format {name}: need 2 <= X <= 8 and 1 <= Y <= 23 "
                         "(values must be exact in float32)")
    for known in NAMED.values():
        if (known.ebits, known.mbits, known.kind) == (e, mb, "ieee"):
            return known
    return Format(name, e, mb)


@irdl_attr_definition
class CustomFloatType(ParametrizedAttribute, TypeAttribute):
    """!fp.float<"eXmY">: a custom IEEE-style binary format as a tensor element type."""

    name = "fp.float"
    spelling: StringAttr

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> list[Attribute]:
        with parser.in_angle_brackets():
            return [StringAttr(parser.parse_str_literal())]

    def print_parameters(self, printer: Printer) -> None:
        with printer.in_angle_brackets():
            printer.print_string_literal(self.spelling.data)

    def verify(self) -> None:
        try:
            parse_format(self.spelling.data)
        except ValueError as e:
            raise VerifyException(str(e)) from None


_ELEMENT = {"f64": f64, "f32": f32, "f16": Float16Type(), "bf16": BFloat16Type(),
            "fp8-e4m3fn": Float8E4M3FNType(), "fp8-e5m2": Float8E5M2Type()}


def element_type(fmt: Format) -> Attribute:
    """The tensor element type of a format (fp8-e4m3fn-sat and custom formats are
    !fp.float<"NAME">)."""
    return _ELEMENT.get(fmt.name) or CustomFloatType(StringAttr(fmt.name))


def format_of(t: Attribute) -> Format:
    """The storage format of a tensor element type (or of a tensor type)."""
    if isinstance(t, TensorType):
        t = t.element_type
    if isinstance(t, CustomFloatType):
        return parse_format(t.spelling.data)
    for name, attr in _ELEMENT.items():
        if t == attr:
            return NAMED[name]
    raise ValueError(f"{t} is not a float format")


def _check_format_name(op: str, name: str) -> Format:
    try:
        return parse_format(name)
    except ValueError as e:
        raise VerifyException(f"{op}: {e}") from None


class FpOp(spec.SpecOp):
    """Base of fp twins: a spec op's semantics, evaluated in `acc` and stored in the
    result's element format."""

    def attrs(self) -> dict[str, Any]:
        """The op's semantic attributes: its spec twin's and FP_PROPS (not the ulp contract,
        which speaks of the libm calls of its kernel: `contract()`)."""
        return {k: v for k, v in super().attrs().items() if k not in CONTRACT_PROPS}

    def contract(self) -> dict[str, Any]:
        """{"libm": NAMES, "ulp": ULPS}, or {} for an op that calls no libm function."""
        return {k: spec.attr_value(self.properties[k]) for k in CONTRACT_PROPS if k in self.properties}

    def verify_(self) -> None:
        for prop, kind in self.PROP_KINDS.items():
            attr = self.properties.get(prop)
            if attr is not None and not spec._kind_ok(attr, kind):
                raise VerifyException(f"{self.name}: property {prop} must be {spec.KIND_NAMES[kind]}")
        try:
            shape = spec.infer_shape(self.short_name(), [spec.shape_of(v) for v in self.inputs], self.attrs())
        except spec.ShapeError as e:
            raise VerifyException(str(e).replace("spec.", "fp.", 1)) from None
        if spec.shape_of(self.result) != shape:
            raise VerifyException(f"{self.name}: result shape {list(spec.shape_of(self.result))} "
                                  f"does not match the inferred shape {list(shape)}")
        a = self.attrs()
        if a["rounding"] not in ROUNDINGS:
            raise VerifyException(f"{self.name}: rounding must be one of {', '.join(ROUNDINGS)}")
        if _check_format_name(self.name, a["acc"]).name not in ("f32", "f64"):
            raise VerifyException(f"{self.name}: acc must be f32 or f64")
        if a["order"] != "sequential":
            raise VerifyException(f"{self.name}: order must be \"sequential\"")
        names, c = libm_functions(self.short_name(), a), self.contract()
        if names and (c.get("libm") != ",".join(names) or not isinstance(c.get("ulp"), float)
                      or not c["ulp"] >= ulp_contract(names, a["rounding"])):
            raise VerifyException(f"{self.name}: its kernel calls {', '.join(names)}: it must carry libm = "
                                  f"\"{','.join(names)}\" and ulp >= {ulp_contract(names, a['rounding'])} "
                                  "(the measured error contract)")
        if not names and c:
            raise VerifyException(f"{self.name}: its kernel calls no libm function: no ulp contract")
        for v in [*self.inputs, self.result]:
            if v.type.element_type == i64 and self._integer_operand_ok(v):
                continue
            try:
                format_of(v.type)
            except ValueError:
                raise VerifyException(f"{self.name}: {v.type} has no float storage format") from None


FP_PROPS = {"rounding": "nearest", "acc": "f32", "order": "sequential"}
CONTRACT_PROPS = {"ulp": float, "libm": str}

# The largest error, in ulps of the result's format at the exact result, of each libm
# function a kernel calls (float32 names for acc f32, double names for acc f64), per
# rounding mode the kernel runs in, measured by
#     .venv/bin/python benchmarks/ulp_contracts.py --jobs 1
# (glibc 2.36, gcc 12, x86-64; benchmarks/README.md): float32 functions on every finite
# input, the 4-decimal figure + 1e-4; double functions on 2^25 seeded inputs (a sample:
# a larger error may exist), the figure + 0.002 (the long double reference's resolution)
# rounded up to 0.01. On another libm they must be measured again (TRUST.md).
ULP_CONTRACTS: dict[str, dict[str, float]] = {
    #          nearest  zero     up       down
    "expf":   dict(zip(ROUNDINGS, (0.5017, 1.1203, 2.0001, 1.1203))),
    "logf":   dict(zip(ROUNDINGS, (0.8178, 1.3171, 1.3189, 1.3171))),
    "tanhf":  dict(zip(ROUNDINGS, (2.1887, 3.1445, 3.0001, 2.8872))),
    "erff":   dict(zip(ROUNDINGS, (0.968, 1.432, 2.0101, 1.5131))),
    "sqrtf":  dict(zip(ROUNDINGS, (0.5001, 1.0001, 1.0001, 1.0001))),
    "exp":    dict(zip(ROUNDINGS, (0.51, 1.25, 1.02, 1.25))),
    "log":    dict(zip(ROUNDINGS, (0.52, 1.04, 1.04, 1.03))),
    "tanh":   dict(zip(ROUNDINGS, (2.12, 3.06, 2.85, 2.82))),
    "erf":    dict(zip(ROUNDINGS, (0.51, 1.01, 1.01, 1.01))),
    "sqrt":   dict(zip(ROUNDINGS, (0.51, 1.01, 1.01, 1.01))),
}

# The libm functions (double names) each op's kernel calls (passes/kernels/).
LIBM_CALLS = {"exp": ("exp",), "log": ("log",), "sqrt": ("sqrt",), "tanh": ("tanh",), "erf": ("erf",),
              "sigmoid": ("exp",), "softmax": ("exp",), "log_softmax": ("exp", "log"),
              "layernorm": ("sqrt",), "batchnorm": ("sqrt",), "cross_entropy": ("exp", "log")}


def libm_functions(op: str, attrs: dict) -> tuple[str, ...]:
    """The C functions an fp op's kernel calls: float names for acc f32, double for f64."""
    names = LIBM_CALLS.get(op, ())
    if op == "gelu":
        names = ("tanh",) if attrs.get("approximate") == "tanh" else ("erf",)
    return tuple(n + "f" for n in names) if attrs.get("acc", "f32") == "f32" else names


def ulp_contract(names: tuple[str, ...], rounding: str) -> float:
    """The ulp contract of a kernel calling `names` in `rounding` mode: the largest."""
    return max(ULP_CONTRACTS[n][rounding] for n in names)


def _fp_twin(spec_cls: type) -> type:
    short = spec_cls.short_name()
    fields: dict[str, Any] = {
        "name": f"fp.{short}", "__module__": __name__,
        "__doc__": f"{spec_cls.__doc__} Evaluated in `acc`, rounded to the result's format.",
    }
    kinds = dict(spec_cls.PROP_KINDS)
    for prop, default in FP_PROPS.items():
        fields[prop] = prop_def(AnyAttr(), default_value=spec.to_attr(default))
        kinds[prop] = str
    for prop, kind in CONTRACT_PROPS.items():
        fields[prop] = opt_prop_def(AnyAttr())
        kinds[prop] = kind
    for prop in spec_cls.PROP_KINDS:
        default = spec_cls.get_irdl_definition().properties[prop].default_value
        fields[prop] = prop_def(AnyAttr()) if default is None else prop_def(AnyAttr(), default_value=default)
    fields["PROP_KINDS"] = kinds
    fields["__annotations__"] = {"PROP_KINDS": ClassVar[dict[str, type]]}
    bases = (FpOp, spec._LabelsOp) if issubclass(spec_cls, spec._LabelsOp) else (FpOp,)
    cls_name = "Fp" + spec_cls.__name__
    return irdl_op_definition(type(cls_name, bases, fields))


FP_OPS: dict[str, type[FpOp]] = {name: _fp_twin(cls) for name, cls in spec.OPS_BY_NAME.items()}


@irdl_op_definition
class RoundOp(IRDLOperation):
    """y = x rounded to the result's format (tensors) or to `format` (scalars at loop
    level, where x and y are f32/f64 carriers of the exact rounded value)."""

    name = "fp.round"
    input = operand_def(AnyAttr())
    result = result_def(AnyAttr())
    rounding = prop_def(StringAttr, default_value=StringAttr("nearest"))
    format = prop_def(StringAttr)
    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = "$input attr-dict `:` functional-type($input, $result)"
    traits = traits_def(Pure())

    def __init__(self, value: SSAValue, fmt: Format, rounding: str, result_type: Attribute | None = None):
        if result_type is None:
            result_type = TensorType(element_type(fmt), value.type.get_shape())
        super().__init__(operands=[value], result_types=[result_type],
                         properties={"format": StringAttr(fmt.name), "rounding": StringAttr(rounding)})

    def verify_(self) -> None:
        fmt = _check_format_name(self.name, self.format.data)
        if self.rounding.data not in ROUNDINGS:
            raise VerifyException(f"fp.round: rounding must be one of {', '.join(ROUNDINGS)}")
        src, dst = self.input.type, self.result.type
        if isinstance(src, TensorType):
            if not isinstance(dst, TensorType) or src.get_shape() != dst.get_shape():
                raise VerifyException("fp.round: a tensor rounds to a tensor of the same shape")
            if format_of(dst) != fmt:
                raise VerifyException(f"fp.round: result type {dst} is not format {fmt.name}")
            format_of(src)
        elif not (isinstance(src, AnyFloat) and src == dst and src in (f32, f64)):
            raise VerifyException("fp.round: a scalar must be f32 or f64, rounded in place")


Fp = Dialect("fp", [*FP_OPS.values(), RoundOp], [CustomFloatType])
