"""Loop-nest kernels, one function per spec op, grouped by shape of computation.

Every kernel writer has the signature `write(kb, k)`: `kb` is a `KernelBuilder` whose
arguments are the op's input buffers followed by its output buffer, and `k` is the
`KernelSpec` (shapes and attributes). A writer must store every output element
exactly once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vnnc.passes.kernels.builder import KernelBuilder


@dataclass(frozen=True)
class KernelSpec:
    op: str
    """Short spec op name, e.g. "linear"."""
    in_shapes: tuple[tuple[int, ...], ...]
    out_shape: tuple[int, ...]
    attrs: tuple[tuple[str, Any], ...]
    in_dtypes: tuple[str, ...] = ()
    """Element type of each input buffer: f32, f64 or i64 (class labels)."""
    out_dtype: str = "f32"
    fmt: str = "f32"
    """Storage format of the result (values stored are exact in `out_dtype`)."""
    acc: str = "f32"
    """Type every float operation is computed in: f32 or f64."""
    rounding: str = "nearest"
    dialect: str = "spec"
    order: str = "sequential"
    """Summation order of a contraction (passes/kernels/contraction.py)."""
    block: tuple[int, int] = (1, 1)
    """Rows and columns of a linear's or matmul's output (contraction.py), or channels and
    columns of a conv2d's (window.py), computed per loop iteration."""

    @property
    def a(self) -> dict[str, Any]:
        return dict(self.attrs)


Writer = Callable[[KernelBuilder, KernelSpec], None]


def writers() -> dict[str, Writer]:
    from vnnc.passes.kernels import contraction, data, elementwise, normalize, window

    table: dict[str, Writer] = {}
    for module in (elementwise, contraction, normalize, window, data):
        table.update(module.WRITERS)
    return table
