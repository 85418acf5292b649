"""bound-alpha-crown: bounds of the model's outputs over an input box by alpha-CROWN (slopes optimised by projected gradient).

Expects: a spec module whose @main is a chain of affine maps and ReLUs (passes/bounds.py),
its parameters (the module's `vnnc.params` file or the `params` option) and
`property=FILE.vnnlib` with one input box (its output constraints are not read).
Guarantees: the IR is unchanged; the recorded witness (kind `robustness`) claims
`lower` and `upper` per output and holds a VNN-LIB property stating them with a
one-leaf robustness certificate of it, which `vnnc.verifier.robust.check` replays against
the stage text, the parameter file and that property (docs/WITNESS.md §8).
"""

from __future__ import annotations

from dataclasses import dataclass

from vnnc.passes.bounds import bound_pass
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

NAME = "bound-alpha-crown"


@dataclass(frozen=True)
class BoundAlphaCrownPass(ModulePass):
    name = NAME

    property: str = ""
    params: str = ""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        bound_pass(op, "alpha-crown", self.property, self.params, NAME)
