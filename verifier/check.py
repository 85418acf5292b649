"""The checker's entry points: `check(source, target, witness)` and `check_bundle(dir)`.

`check` takes the two stage texts a witness relates and the witness (a JSON text or an
already loaded dict) and answers `Accepted` or `Rejected(reason)`. It never raises:
malformed or hostile input of any kind is a rejection. Each witness kind has one
checking function in KINDS; everything a function needs is recomputed from the stage
texts and the parameter payload, never taken from the witness on trust.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

VERSION = 1
MAX_WITNESS_BYTES = 64 << 20


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
    value = float(text)
    if not math.isfinite(value):  # 1e400: Infinity by another spelling
        raise Reject(f"witness holds the number {text[:20]}, which overflows to infinity")
    return value


def load_json(text: str | bytes, what: str = "witness"):
    """Strict JSON: NaN/Infinity (also as 1e400) and absurd nesting are rejections."""
    if len(text) > MAX_WITNESS_BYTES:
        raise Reject(f"{what} is larger than {MAX_WITNESS_BYTES} bytes")
    try:
        return json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise Reject(f"{what} is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise Reject(f"{what} is not valid JSON ({e})") from None


def sha256(data: str | bytes) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


KINDS = {"spec-wellformed": "wellformed", "loop-nests": "loops"}
"""Witness kind -> the verifier module whose `check(source, target, witness, params)`
validates it."""


def check(source: str | bytes, target: str, witness, params: dict | None = None) -> Accepted | Rejected:
    """Validate one witness. `source` is the previous stage's text (for the import
    witness: the parameter file's bytes); `params` the parameter arrays where needed."""
    try:
        w = load_json(witness) if isinstance(witness, (str, bytes)) else witness
        if not isinstance(w, dict):
            raise Reject("witness is not a JSON object")
        for key in ("version", "pass", "kind", "source_sha256", "target_sha256", "claims"):
            if key not in w:
                raise Reject(f"witness has no {key!r}")
        if w["version"] != VERSION:
            raise Reject(f"witness version {w['version']!r} is not {VERSION}")
        if w["source_sha256"] != sha256(source):
            raise Reject("source_sha256 does not match the source stage")
        if w["target_sha256"] != sha256(target):
            raise Reject("target_sha256 does not match the target stage")
        if w["kind"] not in KINDS:
            raise Reject(f"unknown witness kind {w['kind']!r}")
        module = importlib.import_module(f"vnnc.verifier.{KINDS[w['kind']]}")
        module.check(source, target, w, params)
        return Accepted()
    except Reject as e:
        return Rejected(str(e))
    except RecursionError:
        return Rejected("input nested too deeply")
    except Exception as e:  # noqa: BLE001 - a checker bug must still be a rejection, never a crash
        return Rejected(f"checker could not process the input ({type(e).__name__}: {e})")


def check_bundle(path: str | Path) -> list[dict]:
    """Re-check every witness of a bundle; one row per step, in stage order."""
    from vnnc.verifier.bundle import check_bundle as run

    return run(Path(path))
