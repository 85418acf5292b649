"""Every vnnc pass by its CLI name."""

from collections.abc import Callable

from xdsl.passes import ModulePass


def _lower_to_loops():
    from vnnc.passes.lower_to_loops import LowerToLoopsPass

    return LowerToLoopsPass


def _assign_precision():
    from vnnc.passes.assign_precision import AssignPrecisionPass

    return AssignPrecisionPass


def _lower_autograd():
    from vnnc.passes.lower_autograd import LowerAutogradPass

    return LowerAutogradPass


def _bound(module: str, cls: str):
    def factory():
        import importlib

        return getattr(importlib.import_module(f"vnnc.passes.{module}"), cls)

    return factory


PASS_FACTORIES: dict[str, Callable[[], type[ModulePass]]] = {
    "assign-precision": _assign_precision,
    "bound-alpha-crown": _bound("bound_alpha_crown", "BoundAlphaCrownPass"),
    "bound-crown": _bound("bound_crown", "BoundCROWNPass"),
    "bound-ibp": _bound("bound_ibp", "BoundIBPPass"),
    "lower-autograd": _lower_autograd,
    "lower-to-loops": _lower_to_loops,
}

