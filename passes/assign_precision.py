"""assign-precision: spec (reals) to fp (explicit formats, rounding and accumulation).

Expects: a verified spec module with `func.func @main` taking and returning f32 tensors.
Guarantees: every spec compute op becomes its fp twin with a storage format (the
result's element type), a rounding mode, an accumulation format and a summation order;
model inputs, parameters and constants are rounded (`fp.round`) into the format of the
op that reads them; results are rounded back to f32 for the model's interface. An op
whose kernel calls libm carries the functions and their ulp contract from the one table
fp.ULP_CONTRACTS (measured by benchmarks/ulp_contracts.py). No
spec compute op remains (spec.param and spec.constant stay: they name exact f32 values).

Options: `precision` (storage format of every op), `accumulate` (f32 or f64; default
f32, or f64 when the precision is f64), `rounding` (nearest, zero, up, down) and
`config`, a JSON file of per-layer overrides:

    {"layers": {"first": {"precision": "f32"}, "last": {"precision": "f32"},
                "fc2": {"precision": "bf16", "accumulate": "f64", "rounding": "down"}}}

A layer is an op reading a parameter; "first"/"last" are the first/last such op, and
any other key names the parameters' prefix ("fc2" matches fc2.weight and fc2.bias).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from vnnc.dialects import fp, spec
from vnnc.passes import witness
from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import FunctionType, ModuleOp, TensorType, f32
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import Rewriter

NAME = "assign-precision"


class PrecisionError(Exception):
    pass


@dataclass(frozen=True)
class Choice:
    fmt: fp.Format
    acc: str
    rounding: str


def _choice(name: str, precision: str, accumulate: str, rounding: str) -> Choice:
    try:
        fmt = fp.parse_format(precision)
        acc = accumulate or ("f64" if fmt.name == "f64" else "f32")
        if acc not in ("f32", "f64"):
            raise ValueError(f"accumulation format must be f32 or f64, got {acc!r}")
        if fmt.name == "f64" and acc != "f64":
            raise ValueError("f64 storage needs f64 accumulation")
        if rounding not in fp.ROUNDINGS:
            raise ValueError(f"rounding must be one of {', '.join(fp.ROUNDINGS)}, got {rounding!r}")
    except ValueError as e:
        raise PrecisionError(f"{NAME}: {name}: {e}") from None
    return Choice(fmt, acc, rounding)


def _overrides(config: str) -> dict[str, dict]:
    if not config:
        return {}
    try:
        data = json.loads(Path(config).read_text())
    except (OSError, ValueError) as e:
        raise PrecisionError(f"{NAME}: cannot read config {config}: {e}") from None
    layers = data.get("layers", {}) if isinstance(data, dict) else None
    if not isinstance(layers, dict) or not all(isinstance(v, dict) for v in layers.values()):
        raise PrecisionError(f"{NAME}: {config}: expected {{\"layers\": {{NAME: {{...}}}}}}")
    for key, v in layers.items():
        unknown = set(v) - {"precision", "accumulate", "rounding"}
        if unknown:
            raise PrecisionError(f"{NAME}: {config}: layer {key!r}: unknown settings {sorted(unknown)}")
    return layers


def _params_of(op: Operation) -> list[str]:
    return [v.owner.param_name.data for v in op.operands if isinstance(v.owner, spec.ParamOp)]


@dataclass(frozen=True)
class AssignPrecisionPass(ModulePass):
    name = NAME

    precision: str = "f32"
    accumulate: str = ""
    rounding: str = "nearest"
    config: str = ""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        main = next((f for f in op.ops if isinstance(f, func.FuncOp) and f.sym_name.data == "main"), None)
        if main is None:
            raise PrecisionError(f"{NAME}: no func.func @main")
        default = _choice("default", self.precision, self.accumulate, self.rounding)
        layers = _overrides(self.config)
        body = main.body.block
        compute = [o for o in body.ops if isinstance(o, spec.SpecOp)]
        with_params = [o for o in compute if _params_of(o)]
        choices: dict[Operation, Choice] = {}
        for o in compute:
            settings = {}
            for key, v in layers.items():
                hit = (key == "first" and with_params and o is with_params[0]) or \
                      (key == "last" and with_params and o is with_params[-1]) or \
                      any(p == key or p.startswith(key + ".") for p in _params_of(o))
                if hit:
                    settings.update(v)
            choices[o] = _choice(f"layer {key}" if settings else "default",
                                 settings.get("precision", self.precision),
                                 settings.get("accumulate", self.accumulate),
                                 settings.get("rounding", self.rounding)) if settings else default
        rounded: dict[tuple[SSAValue, str], SSAValue] = {}

        def operand_in(v: SSAValue, fmt: fp.Format, rounding: str, before: Operation) -> SSAValue:
            """Inputs, parameters and constants enter in the format of the op reading them."""
            if not isinstance(v.type, TensorType) or v.type.element_type != f32 or fmt.name == "f32" \
                    or isinstance(v.owner, fp.FpOp):
                return v
            key = (v, fmt.name)
            if key not in rounded:
                r = fp.RoundOp(v, fmt, rounding)
                Rewriter.insert_op(r, _insertion(before))
                rounded[key] = r.result
            return rounded[key]

        records = []
        for o in compute:
            c = choices[o]
            ins = [operand_in(v, c.fmt, c.rounding, o) for v in o.inputs]
            result_type = TensorType(fp.element_type(c.fmt), o.result.type.get_shape())
            if o.short_name() in ("reshape", "flatten"):
                # pure data movement: the result keeps its operand's format
                result_type = TensorType(ins[0].type.element_type, o.result.type.get_shape())
                c = Choice(fp.format_of(result_type), c.acc, c.rounding)
            props = dict(o.properties)
            props.update({"rounding": spec.to_attr(c.rounding), "acc": spec.to_attr(c.acc),
                          "order": spec.to_attr("sequential")})
            names = fp.libm_functions(o.short_name(), {**o.attrs(), "acc": c.acc})
            if names:  # the kernel's libm calls and their measured error contract (fp.ULP_CONTRACTS)
                props.update({"libm": spec.to_attr(",".join(names)),
                              "ulp": spec.to_attr(fp.ulp_contract(names, c.rounding))})
            new = fp.FP_OPS[o.short_name()].create(operands=ins, result_types=[result_type], properties=props)
            Rewriter.replace_op(o, new)
            records.append({"op": f"fp.{o.short_name()}", "format": c.fmt.name, "acc": c.acc,
                            "rounding": c.rounding})
        ret = body.last_op
        outs = []
        for v in ret.operands:
            if isinstance(v.type, TensorType) and v.type.element_type != f32:
                r = fp.RoundOp(v, fp.NAMED["f32"], default.rounding)
                Rewriter.insert_op(r, _insertion(ret))
                v = r.result
            outs.append(v)
        ret.operands = outs
        main.function_type = FunctionType.from_lists(main.function_type.inputs.data, [v.type for v in outs])
        witness.record(NAME, "precision", {"default": {"format": default.fmt.name, "acc": default.acc,
                                                       "rounding": default.rounding}, "ops": records})


def _insertion(before: Operation):
    from xdsl.rewriter import InsertPoint

    return InsertPoint.before(before)
