"""The `ad` dialect: gradients and training steps over spec programs (level 2).

Two pure ops, both expanded into spec ops by `lower-autograd`:

    %g0, %g1 = ad.grad %loss, %a, %b : (tensor<f32>, tensor<..>, tensor<..>) -> (tensor<..>, tensor<..>)

is the gradient of the scalar `loss` with respect to the values `a`, `b` (function
arguments, parameters or intermediate values), each result shaped as its value;

    %p', %s' = ad.train_step %loss, %lr, [%bias1, %bias2,] %p..., %s... {optimizer = ...}

is one optimizer step: the parameters `p` and their optimizer state `s` after one update
with the gradient of `loss`, as torch.optim computes it. Operands: the loss, the
optimizer's per-step scalars (HYPER_OPERANDS: the learning rate, and for Adam the bias
corrections 1 - beta1^t and 1 - beta2^t), the parameters, then the state tensors
(STATE_NAMES per parameter, in parameter order per kind: all momentum buffers, or all
exp_avg then all exp_avg_sq_sqrt). Results: the new parameters, then the new state, shaped
as the operands they replace. The step is a pure function; the trainer feeds results
back in as the next step's operands (see compiler/train.py), so no value is updated in
place behind the IR's back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from vnnc.dialects.spec import KIND_NAMES, _kind_ok, attr_value, shape_of, to_attr
from xdsl.dialects.builtin import TensorType, f32
from xdsl.ir import Attribute, Dialect, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    ParsePropInAttrDict,
    irdl_op_definition,
    opt_prop_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException

OPTIMIZERS = ("sgd", "momentum", "adam", "adamw")

HYPER_OPERANDS: dict[str, tuple[str, ...]] = {
    "sgd": ("lr",), "momentum": ("lr",),
    "adam": ("lr", "bias_correction1", "bias_correction2"),
    "adamw": ("lr", "bias_correction1", "bias_correction2"),
}
"""Per-step scalar operands (tensor<f32>) after the loss, by optimizer."""

STATE_NAMES: dict[str, tuple[str, ...]] = {
    "sgd": (), "momentum": ("momentum_buffer",),
    "adam": ("exp_avg", "exp_avg_sq_sqrt"), "adamw": ("exp_avg", "exp_avg_sq_sqrt"),
}
"""Optimizer state tensors per parameter, named after torch.optim's state; Adam's second
moment exp_avg_sq is carried as its square root (see passes/lower_autograd.py, `update`)."""

PROPERTIES: dict[str, dict[str, type]] = {
    "sgd": {"weight_decay": float},
    "momentum": {"momentum": float, "nesterov": bool, "weight_decay": float},
    "adam": {"beta1": float, "beta2": float, "eps": float, "weight_decay": float},
    "adamw": {"beta1": float, "beta2": float, "eps": float, "weight_decay": float},
}
"""Every property an optimizer takes; all are required (the CLI fills torch's defaults)."""


def _scalar(v: SSAValue) -> bool:
    return isinstance(v.type, TensorType) and v.type.element_type == f32 and not v.type.get_shape()


class _AdOp(IRDLOperation):
    inputs = var_operand_def(TensorType)
    outputs = var_result_def(TensorType)
    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = "$inputs attr-dict `:` functional-type($inputs, $outputs)"
    traits = traits_def(Pure())

    def attrs(self) -> dict[str, Any]:
        return {k: attr_value(v) for k, v in self.properties.items()}

    def _check_loss(self) -> None:
        if not self.inputs or not _scalar(self.inputs[0]):
            raise VerifyException(f"{self.name}: the first operand must be the loss, a tensor<f32>")

    def _check_results(self, values: Sequence[SSAValue]) -> None:
        if [v.type for v in values] != [r.type for r in self.outputs]:
            raise VerifyException(f"{self.name}: results must have the types of "
                                  f"{[str(v.type) for v in values]}")
        for v in values:
            if v.type.element_type != f32:
                raise VerifyException(f"{self.name}: only f32 values can be differentiated, got {v.type}")


@irdl_op_definition
class GradOp(_AdOp):
    """g_i = d loss / d v_i for operands (loss, v_1, ..., v_k)."""

    name = "ad.grad"

    def __init__(self, loss: SSAValue, wrt: Sequence[SSAValue]):
        super().__init__(operands=[[loss, *wrt]], result_types=[[v.type for v in wrt]])

    @property
    def loss(self) -> SSAValue:
        return self.inputs[0]

    @property
    def wrt(self) -> tuple[SSAValue, ...]:
        return tuple(self.inputs[1:])

    def verify_(self) -> None:
        self._check_loss()
        if self.properties:
            raise VerifyException(f"{self.name}: takes no properties")
        self._check_results(self.wrt)


@irdl_op_definition
class TrainStepOp(_AdOp):
    """One torch.optim step: (loss, scalars, params, state) -> (params', state')."""

    name = "ad.train_step"
    optimizer = opt_prop_def(Attribute)
    momentum = opt_prop_def(Attribute)
    nesterov = opt_prop_def(Attribute)
    weight_decay = opt_prop_def(Attribute)
    beta1 = opt_prop_def(Attribute)
    beta2 = opt_prop_def(Attribute)
    eps = opt_prop_def(Attribute)

    PROP_NAMES: ClassVar[tuple[str, ...]] = ("optimizer", "momentum", "nesterov", "weight_decay",
                                              "beta1", "beta2", "eps")

    def __init__(self, loss: SSAValue, hyper: Sequence[SSAValue], params: Sequence[SSAValue],
                 state: Sequence[SSAValue], optimizer: str, **hyperparameters: Any):
        props = {"optimizer": to_attr(optimizer), **{k: to_attr(v) for k, v in hyperparameters.items()}}
        values = [*params, *state]
        super().__init__(operands=[[loss, *hyper, *values]], result_types=[[v.type for v in values]],
                         properties=props)

    def kind(self) -> str:
        return attr_value(self.properties["optimizer"]) if "optimizer" in self.properties else ""

    def split(self) -> tuple[tuple[SSAValue, ...], tuple[SSAValue, ...], tuple[SSAValue, ...]]:
        """(hyper-parameter scalars, parameters, state) of the operands."""
        kind = self.kind()
        rest = tuple(self.inputs[1:])
        n_hyper, n_state = len(HYPER_OPERANDS[kind]), len(STATE_NAMES[kind])
        n_params = (len(rest) - n_hyper) // (1 + n_state)
        return rest[:n_hyper], rest[n_hyper:n_hyper + n_params], rest[n_hyper + n_params:]

    def verify_(self) -> None:
        self._check_loss()
        kind = self.kind()
        if kind not in OPTIMIZERS:
            raise VerifyException(f"{self.name}: optimizer must be one of {', '.join(OPTIMIZERS)}, "
                                  f"got {self.properties.get('optimizer')}")
        wanted = {"optimizer", *PROPERTIES[kind]}
        if set(self.properties) != wanted:
            raise VerifyException(f"{self.name}: optimizer {kind!r} takes exactly the properties "
                                  f"{sorted(wanted)}, got {sorted(self.properties)}")
        for prop, t in PROPERTIES[kind].items():
            if not _kind_ok(self.properties[prop], t):
                raise VerifyException(f"{self.name}: property {prop} must be {KIND_NAMES[t]}")
        rest = len(self.inputs) - 1 - len(HYPER_OPERANDS[kind])
        n_state = len(STATE_NAMES[kind])
        if rest <= 0 or rest % (1 + n_state):
            raise VerifyException(f"{self.name}: {kind} takes the loss, {len(HYPER_OPERANDS[kind])} "
                                  f"scalar(s), then k parameters and {n_state}k state tensors")
        hyper, params, state = self.split()
        if not all(_scalar(v) for v in hyper):
            raise VerifyException(f"{self.name}: the operands {', '.join(HYPER_OPERANDS[kind])} "
                                  "must be tensor<f32> scalars")
        for k, v in enumerate(state):
            if v.type != params[k % len(params)].type:
                raise VerifyException(f"{self.name}: state operand {k} must have its parameter's type "
                                      f"{params[k % len(params)].type}")
        self._check_results([*params, *state])


def ad_op_of(block) -> _AdOp | None:
    """The block's one ad op, or None."""
    found = [op for op in block.ops if isinstance(op, _AdOp)]
    return found[0] if found else None


def shapes_of(values: Sequence[SSAValue]) -> list[tuple[int, ...]]:
    return [shape_of(v) for v in values]


Ad = Dialect("ad", [GradOp, TrainStepOp], [])
