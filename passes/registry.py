"""Every vnnc pass by its CLI name."""

from collections.abc import Callable

from xdsl.passes import ModulePass


def _lower_to_loops():
    from vnnc.passes.lower_to_loops import LowerToLoopsPass

    return LowerToLoopsPass


PASS_FACTORIES: dict[str, Callable[[], type[ModulePass]]] = {
    "lower-to-loops": _lower_to_loops,
}


PASSES: dict[str, Callable[[], ModulePass]] = {name: (lambda f=f: f()()) for name, f in PASS_FACTORIES.items()}
