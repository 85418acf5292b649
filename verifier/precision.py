"""Checks the `precision` witness of assign-precision: spec stage -> fp stage.

The fp stage must be the spec program, op for op, with its arithmetic made explicit:
every spec compute op becomes its fp twin (same operands and attributes, plus
`rounding`, `acc` and `order`), whose result type carries its storage format; values
entering from outside the computation (model inputs, parameters, constants) are read
through `fp.round` into the format of the op reading them, in that op's rounding mode;
reshape and flatten keep their operand's format; results leave through `fp.round` to
f32. The witness's list of per-op choices must be exactly what the fp stage holds.
"""

from __future__ import annotations

import re

import numpy as np
from vnnc.verifier.check import Reject
from vnnc.verifier.mlir import Op, Typed, main_function, parse

ELEMENT_FORMATS = {"f64": "f64", "f32": "f32", "f16": "f16", "bf16": "bf16",
                   "f8E4M3FN": "fp8-e4m3fn", "f8E5M2": "fp8-e5m2"}
FORMATS = {"f64": (11, 52), "f32": (8, 23), "f16": (5, 10), "bf16": (8, 7), "fp8-e5m2": (5, 2),
           "fp8-e4m3fn": (4, 3), "fp8-e4m3fn-sat": (4, 3)}
ROUNDINGS = ("nearest", "zero", "up", "down")
FP_PROPS = ("rounding", "acc", "order", "ulp", "libm")

# A tested assumption (TRUST.md), the checker's own copy of the measurement: each libm
# function's largest error in ulps of its format at the exact result, by rounding mode
# (nearest, zero, up, down); `.venv/bin/python benchmarks/ulp_contracts.py --jobs 1`,
# float32 functions on every input, double functions sampled (benchmarks/README.md).
ULPS = {"expf": (0.5017, 1.1203, 2.0001, 1.1203), "exp": (0.51, 1.25, 1.02, 1.25),
        "logf": (0.8178, 1.3171, 1.3189, 1.3171), "log": (0.52, 1.04, 1.04, 1.03),
        "tanhf": (2.1887, 3.1445, 3.0001, 2.8872), "tanh": (2.12, 3.06, 2.85, 2.82),
        "erff": (0.968, 1.432, 2.0101, 1.5131), "erf": (0.51, 1.01, 1.01, 1.01),
        "sqrtf": (0.5001, 1.0001, 1.0001, 1.0001), "sqrt": (0.51, 1.01, 1.01, 1.01)}
LIBM = {"exp": "exp", "log": "log", "sqrt": "sqrt", "tanh": "tanh", "erf": "erf", "sigmoid": "exp",
        "softmax": "exp", "log_softmax": "exp,log", "layernorm": "sqrt", "batchnorm": "sqrt",
        "cross_entropy": "exp,log"}  # the functions each op's kernel calls (double names)


def contract(op: Op) -> float:
    """The ulp contract an fp op must carry for the libm functions its kernel calls (0.0: none);
    it must name them, for its accumulation format, and promise no less than ULPS."""
    p, name = op.props, op.name.removeprefix("fp.")
    names = LIBM.get(name, "") if name != "gelu" else "tanh" if p.get("approximate") == "tanh" else "erf"
    names = [n + "f" * (p.get("acc") == "f32") for n in names.split(",") if n]
    if not names and not {"ulp", "libm"} & set(p):
        return 0.0
    ulp = p["ulp"].value if isinstance(p.get("ulp"), Typed) and p["ulp"].type.elem == "f64" else None
    if not names or p.get("libm") != ",".join(names) or type(ulp) is not float or p.get("rounding") not in \
            ROUNDINGS or not ulp >= max(ULPS[n][ROUNDINGS.index(p["rounding"])] for n in names):
        raise Reject(f"{op.name}: its error contract must name libm = {','.join(names) or 'nothing'} "
                     "and an ulp no smaller than the measured one")
    return ulp


def format_bits(name: str) -> tuple[int, int, str]:
    """(exponent bits, fraction bits, kind) of a format name; kind ieee, fn or fn-sat."""
    if name in FORMATS:
        kind = "fn-sat" if name.endswith("-sat") else "fn" if name == "fp8-e4m3fn" else "ieee"
        return (*FORMATS[name], kind)
    m = re.fullmatch(r"e(\d+)m(\d+)", name)
    if not m or not (2 <= int(m.group(1)) <= 8 and 1 <= int(m.group(2)) <= 23):
        raise Reject(f"unknown float format {name!r}")
    return int(m.group(1)), int(m.group(2)), "ieee"


def format_of(elem: str) -> str:
    """The storage format named by a tensor element type (`bf16`, `!fp.float<"e5m6">`)."""
    if elem in ELEMENT_FORMATS:
        return ELEMENT_FORMATS[elem]
    m = re.fullmatch(r'!fp\.float<"([a-z0-9-]+)">', elem)
    if not m:
        raise Reject(f"{elem} is not a float format")
    format_bits(m.group(1))
    return m.group(1)


def check(source: str, target: str, witness: dict) -> None:
    if witness["pass"] != "assign-precision":
        raise Reject(f"a precision witness must come from assign-precision, not {witness['pass']!r}")
    claims = witness["claims"]
    if not isinstance(claims, dict) or set(claims) != {"default", "ops"} or not isinstance(claims["ops"], list):
        raise Reject("claims must hold exactly the default choice and the list of per-op choices")
    default = claims["default"]
    if not isinstance(default, dict) or set(default) != {"format", "acc", "rounding"} or \
            default["acc"] not in ("f32", "f64") or default["rounding"] not in ROUNDINGS:
        raise Reject("the default choice must name a format, an accumulation type and a rounding mode")
    format_bits(default["format"])
    sblock, tblock = main_function(parse(source)).regions[0][0], main_function(parse(target)).regions[0][0]
    if [t for _, t in sblock.args] != [t for _, t in tblock.args]:
        raise Reject("@main's inputs changed")
    env = {s: t for (s, _), (t, _) in zip(sblock.args, tblock.args)}
    boundary = set(env.values())  # values read through fp.round: inputs, parameters, constants
    types = {name: t for name, t in tblock.args}
    todo = list(tblock.ops)
    rounded: dict[tuple[str, str], tuple[str, str]] = {}  # (value, format) -> (rounded value, mode)
    choices = []

    def take() -> Op:
        if not todo:
            raise Reject("the fp stage ends early")
        op = todo.pop(0)
        types.update(zip(op.results, op.result_types))
        return op

    for sop in sblock.ops[:-1]:
        if sop.name in ("spec.param", "spec.constant"):
            top = take()
            if (top.name, top.props, top.result_types) != (sop.name, sop.props, sop.result_types):
                raise Reject(f"{sop.name} changed in the fp stage")
            env[sop.results[0]] = top.results[0]
            boundary.add(top.results[0])
            continue
        twin = f"fp.{sop.name.removeprefix('spec.')}"
        while todo and todo[0].name == "fp.round":
            r = take()
            src, fmt = r.operands[0], r.props.get("format")
            if src not in boundary or format_of(r.result_types[0].elem) != fmt \
                    or r.result_types[0].shape != types[src].shape:
                raise Reject(f"fp.round before {twin} does not round an input, parameter or constant "
                             "into its declared format")
            rounded[(src, fmt)] = (r.results[0], r.props.get("rounding", "nearest"))
        top = take()
        if top.name != twin:
            raise Reject(f"{sop.name} is implemented by {top.name}, not {twin}")
        mode, acc = top.props.get("rounding"), top.props.get("acc")
        if mode not in ROUNDINGS or acc not in ("f32", "f64") or top.props.get("order") != "sequential":
            raise Reject(f"{twin}: bad rounding, accumulation or order")
        contract(top)
        if {k: v for k, v in top.props.items() if k not in FP_PROPS} != sop.props:
            raise Reject(f"{twin}: attributes differ from {sop.name}'s")
        out = top.result_types[0]
        fmt = format_of(out.elem)
        if out.shape != sop.result_types[0].shape or len(sop.operands) != len(top.operands):
            raise Reject(f"{twin}: result shape or operand count changed")
        for s, t in zip(sop.operands, top.operands):
            v = env[s]
            if v in boundary and types[v].elem == "f32" and fmt != "f32":
                v, how = rounded.get((v, fmt), (None, None))
                if how != mode:
                    raise Reject(f"{twin}: an input, parameter or constant is not read in {fmt} ({mode})")
            if t != v:
                raise Reject(f"{twin}: operands are not the spec op's")
        if sop.name in ("spec.reshape", "spec.flatten") and types[top.operands[0]].elem != out.elem:
            raise Reject(f"{twin} must keep its operand's format")
        env[sop.results[0]] = top.results[0]
        choices.append({"op": twin, "format": fmt, "acc": acc, "rounding": mode})
    outs = []
    for s in sblock.ops[-1].operands:
        v = env[s]
        if types[v].elem != "f32":
            r = take()
            if r.name != "fp.round" or r.operands != [v] or r.props.get("format") != "f32" \
                    or r.result_types[0].elem != "f32" or r.props.get("rounding") not in ROUNDINGS:
                raise Reject("results must leave through fp.round to f32")
            v = r.results[0]
        outs.append(v)
    end = take()
    if end.name != "func.return" or end.operands != outs or todo:
        raise Reject("@main does not return the spec's results")
    if choices != claims["ops"]:
        raise Reject("the witness's per-op choices differ from the fp stage")


def round_to(x, fmt: str, mode: str):
    """x (float64) rounded to format `fmt` in `mode`, IEEE 754 style: scale by the exact
    power-of-two quantum of x's binade, round to an integer, scale back; overflow to inf
    or the largest finite value by mode (NaN instead of inf for fp8-e4m3fn, the largest
    finite value for fp8-e4m3fn-sat). An infinite x stays infinite in every mode (NaN for
    fp8-e4m3fn, the largest finite value for fp8-e4m3fn-sat), as vnnc_fp.h rounds it."""
    if fmt == "f64":
        return np.asarray(x, np.float64)
    e, m, kind = format_bits(fmt)
    x = np.asarray(x, np.float64)
    bias = 2 ** (e - 1) - 1
    emax = bias if kind == "ieee" else bias + 1  # FN formats use the all-ones exponent
    biggest = (2 - 2.0 ** (-m if kind == "ieee" else 1 - m)) * 2.0**emax
    with np.errstate(all="ignore"):
        _, exp = np.frexp(x)
        quantum = np.ldexp(1.0, np.maximum(exp - 1, 1 - bias) - m)
        step = {"nearest": np.rint, "zero": np.trunc, "up": np.ceil, "down": np.floor}[mode]
        r = np.copysign(step(x / quantum) * quantum, x)
        over = np.abs(r) > biggest  # a finite x whose rounding overflows
        to_max = {"nearest": False, "zero": True, "up": x < 0, "down": x > 0}[mode] | (kind == "fn-sat")
        inf = np.nan if kind == "fn" else np.inf
        r = np.where(over, np.copysign(np.where(to_max, biggest, inf), x), r)
        # an infinite x is exact, in every mode: kept (ieee), NaN (fn), saturated (fn-sat)
        r = np.where(np.isinf(x), np.copysign(biggest, x) if kind == "fn-sat" else inf if kind == "fn" else x, r)
    return np.where(np.isnan(x), np.nan, r)
