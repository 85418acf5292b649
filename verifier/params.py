"""The checker's own reader of the parameter file (safetensors) and its parameter hash.

An 8-byte little-endian header length n, n bytes of JSON {name: {"dtype", "shape",
"data_offsets": [begin, end]}, "__metadata__"?: {str: str}}, then the data, which the entries
must tile exactly. The hash: sha256(b"vnnc-param\\0" + DTYPE + b"\\0" + ",".join(shape) + b"\\0"
+ little-endian bytes), docs/WITNESS.md §2.
"""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
from vnnc.verifier.check import Reject, load_json

DTYPES = {"F16": "<f2", "F32": "<f4", "F64": "<f8", "I32": "<i4", "I64": "<i8"}
ENTRY_KEYS = {"dtype", "shape", "data_offsets"}


def _unique_names(pairs: list) -> dict:
    # json keeps the last of two equal names silently: an ambiguous file
    if len(dict(pairs)) != len(pairs):
        raise Reject("parameter header names an entry twice")
    return dict(pairs)


def _count(value, what: str) -> int:
    if type(value) is not int or value < 0:
        raise Reject(f"parameter header: {what} must be a non-negative integer, got {value!r}")
    return value


def read(data: bytes) -> dict[str, np.ndarray]:
    """{name: array} from the bytes of a safetensors file (native byte order)."""
    if len(data) < 8:
        raise Reject("parameter file is shorter than its 8-byte header length")
    n = int.from_bytes(data[:8], "little")
    if n > len(data) - 8:
        raise Reject(f"parameter header length {n} exceeds the file ({len(data)} bytes)")
    header = load_json(data[8:8 + n], "parameter header")  # NaN, Infinity, deep nesting
    json.loads(data[8:8 + n], object_pairs_hook=_unique_names)
    if not isinstance(header, dict):
        raise Reject("parameter header is not a JSON object")
    buffer, spans, out = bytes(data[8 + n:]), [], {}
    for name, entry in header.items():
        if name == "__metadata__":
            if not isinstance(entry, dict) or not all(isinstance(v, str) for v in entry.values()):
                raise Reject("parameter header: __metadata__ must map strings to strings")
            continue
        if not isinstance(entry, dict) or set(entry) != ENTRY_KEYS:
            raise Reject(f"parameter {name!r}: entry needs exactly the keys {sorted(ENTRY_KEYS)}")
        if entry["dtype"] not in DTYPES:
            raise Reject(f"parameter {name!r}: unknown dtype {entry['dtype']!r}")
        dtype = np.dtype(DTYPES[entry["dtype"]])
        shape, offsets = entry["shape"], entry["data_offsets"]
        if not isinstance(shape, list) or not isinstance(offsets, list) or len(offsets) != 2:
            raise Reject(f"parameter {name!r}: shape must be a list and data_offsets a pair")
        shape = tuple(_count(d, f"a dimension of {name!r}") for d in shape)
        begin, end = (_count(o, f"an offset of {name!r}") for o in offsets)
        if not begin <= end <= len(buffer):
            raise Reject(f"parameter {name!r}: data offsets [{begin}, {end}] leave the data "
                         f"({len(buffer)} bytes)")
        if end - begin != math.prod(shape) * dtype.itemsize:
            raise Reject(f"parameter {name!r}: {end - begin} bytes for shape {list(shape)} of "
                         f"{entry['dtype']}")
        spans.append((begin, end, name))
        array = np.frombuffer(buffer, dtype, math.prod(shape), begin)
        out[name] = array.reshape(shape).astype(dtype.newbyteorder("="))
    position = 0  # the entries, sorted by offset, must each begin where the last ended
    for begin, end, name in sorted(spans):
        if begin != position:
            what = "overlaps another entry" if begin < position else "leaves a hole before it"
            raise Reject(f"parameter {name!r}: data at offset {begin} {what}")
        position = end
    if position != len(buffer):
        raise Reject(f"parameter data has {len(buffer) - position} bytes no entry covers")
    return out


def param_sha256(array: np.ndarray) -> str:
    """The parameter hash (module docstring) of `array`, whose dtype names its DTYPE tag."""
    tags = [tag for tag, code in DTYPES.items() if array.dtype == np.dtype(code).newbyteorder("=")]
    if not tags:
        raise Reject(f"parameter of dtype {array.dtype} has no safetensors tag")
    head = f"vnnc-param\0{tags[0]}\0{','.join(str(d) for d in array.shape)}\0".encode()
    return hashlib.sha256(head + array.astype(DTYPES[tags[0]]).tobytes()).hexdigest()
