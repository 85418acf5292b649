"""Where passes put their refinement witnesses.

A pass calls `record(pass_name, kind, claims)`; the driver (or `vnnc-opt
--witness-dir`) opens a `collecting()` scope and reads what was recorded. Outside such a
scope witnesses are dropped, so a pass also runs standalone. Hashes binding a witness to
the stage texts are added by whoever writes the stages.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

VERSION = 1

_current: ContextVar[list[dict] | None] = ContextVar("vnnc_witnesses", default=None)


def record(pass_name: str, kind: str, claims: dict) -> None:
    sink = _current.get()
    if sink is not None:
        sink.append({"version": VERSION, "pass": pass_name, "kind": kind, "claims": claims})


@contextlib.contextmanager
def collecting() -> Iterator[list[dict]]:
    sink: list[dict] = []
    token = _current.set(sink)
    try:
        yield sink
    finally:
        _current.reset(token)
