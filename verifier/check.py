"""The checker's entry point: `check(source, target, witness)` answers Accepted or Rejected.

The witness is read strictly, its envelope checked (docs/WITNESS.md §1) and its claims
handed to the module of its kind (KINDS), which recomputes them from source and target
alone. `check` never raises: malformed input, even a checker bug, is a Rejected.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import math
from dataclasses import dataclass

MAX_WITNESS_BYTES = 64 << 20
KINDS = {"spec-wellformed": "wellformed", "precision": "precision", "loop-nests": "loops",
         "ad-wellformed": "autograd", "autograd": "autograd",
         "roundoff": "roundoff"}  # kind -> module with check()


@dataclass(frozen=True)
class Accepted:
    def __bool__(self) -> bool:
        return True


@dataclass(frozen=True)
class Rejected:
    reason: str

    def __bool__(self) -> bool:
        return False


class Reject(Exception):
    """Raised inside checks; `check` turns it into Rejected."""


def _no_constant(name: str):
    raise Reject(f"witness holds the non-number {name}")


def _finite(text: str) -> float:
    if not math.isfinite(float(text)):  # 1e400: Infinity by another spelling
        raise Reject(f"witness holds the number {text[:20]}, which overflows to infinity")
    return float(text)


def load_json(text: str | bytes, what: str = "witness"):
    """Strict JSON: NaN/Infinity (also as 1e400) and absurd size or nesting are rejections."""
    if len(text) > MAX_WITNESS_BYTES:
        raise Reject(f"{what} is larger than {MAX_WITNESS_BYTES} bytes")
    try:
        return json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise Reject(f"{what} is nested too deeply") from None
    except ValueError as e:  # UnicodeDecodeError included
        raise Reject(f"{what} is not valid JSON ({e})") from None


def sha256(data: str | bytes) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def guarded(fn, *args, prefix: str = "") -> Accepted | Rejected:
    """fn(*args) as a verdict: Accepted if it returns, Rejected if it raises; never raises."""
    try:
        fn(*args)
        return Accepted()
    except Reject as e:
        return Rejected(str(e))
    except RecursionError:
        return Rejected(f"{prefix}input nested too deeply")
    except Exception as e:  # noqa: BLE001 - a checker bug must still be a rejection, never a crash
        return Rejected(f"{prefix}checker could not process the input ({type(e).__name__}: {e})")


def check(source: str | bytes, target: str, witness, extra: dict | None = None) -> Accepted | Rejected:
    """One witness (JSON text or loaded) relating `source`, the previous stage's text (the
    parameter file's bytes for the import), to the stage `target`; `extra` holds the further
    files (name -> bytes) a kind reads, whose hashes its claims name."""
    return guarded(_check, source, target, witness, extra)


def _check(source: str | bytes, target: str, witness, extra: dict | None) -> None:
    w = load_json(witness) if isinstance(witness, (str, bytes)) else witness
    if not isinstance(w, dict):
        raise Reject("witness is not a JSON object")
    for key in ("version", "pass", "kind", "source_sha256", "target_sha256", "claims"):
        if key not in w:
            raise Reject(f"witness has no {key!r}")
    if type(w["version"]) is not int or w["version"] != 1:  # neither 1.0 nor true
        raise Reject(f"witness version {w['version']!r} is not 1")
    for key, stage in (("source", source), ("target", target)):
        if w[f"{key}_sha256"] != sha256(stage):
            raise Reject(f"{key}_sha256 does not match the {key} stage")
    if w["kind"] not in KINDS:
        raise Reject(f"unknown witness kind {w['kind']!r}")
    module = importlib.import_module(f"vnnc.verifier.{KINDS[w['kind']]}")
    module.check(source, target, w, extra) if extra is not None else module.check(source, target, w)
