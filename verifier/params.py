"""The checker's own reader of the parameter payload and its parameter hash.

A safetensors file is an 8-byte little-endian header length n, n bytes of JSON
`{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__"?: {str: str}}`,
then the data buffer. Following the format's rules strictly, the buffer is indexed
entirely, without holes or overlaps, and each entry's byte count is its shape's.
Anything else is a rejection.

param_sha256(a) = sha256(b"vnnc-param\\0" + DTYPE + b"\\0" + ",".join(shape) + b"\\0" + LE bytes)
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
from vnnc.verifier.check import Reject, load_json

DTYPES = {"F16": "<f2", "F32": "<f4", "F64": "<f8", "I32": "<i4", "I64": "<i8"}
"""The dtypes vnnc writes, as little-endian numpy dtypes."""

ENTRY_KEYS = {"dtype", "shape", "data_offsets"}


def _no_repeated_names(pairs: list) -> dict:
    names = [name for name, _ in pairs]
    for name in names:
        if names.count(name) > 1:
            raise Reject(f"parameter header names {name!r} twice")
    return dict(pairs)


def _int(value, what: str) -> int:
    if type(value) is not int or value < 0:
        raise Reject(f"parameter header: {what} must be a non-negative integer, got {value!r}")
    return value


def read(data: bytes) -> dict[str, np.ndarray]:
    """{name: array} from the bytes of a safetensors file (native byte order)."""
    if not isinstance(data, (bytes, bytearray)):
        raise Reject("parameter payload must be bytes")
    if len(data) < 8:
        raise Reject("parameter file is shorter than its 8-byte header length")
    n = int.from_bytes(data[:8], "little")
    if n > len(data) - 8:
        raise Reject(f"parameter header length {n} exceeds the file ({len(data)} bytes)")
    raw_header = bytes(data[8 : 8 + n])
    header = load_json(raw_header, "parameter header")  # NaN, Infinity and deep nesting
    try:
        # JSON keeps the last of two equal names silently: an ambiguous payload
        json.loads(raw_header, object_pairs_hook=_no_repeated_names)
    except ValueError as e:
        raise Reject(f"parameter header is not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise Reject("parameter header is not a JSON object")
    buffer = bytes(data[8 + n :])
    spans, out = [], {}
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
        shape = tuple(_int(d, f"a dimension of {name!r}") for d in shape)
        begin, end = (_int(o, f"an offset of {name!r}") for o in offsets)
        count = 1
        for d in shape:
            count *= d
        if not begin <= end <= len(buffer):
            raise Reject(f"parameter {name!r}: data offsets [{begin}, {end}] leave the data "
                         f"({len(buffer)} bytes)")
        if end - begin != count * dtype.itemsize:
            raise Reject(f"parameter {name!r}: {end - begin} bytes for shape {list(shape)} of "
                         f"{entry['dtype']}")
        spans.append((begin, end, name))
        array = np.frombuffer(buffer, dtype=dtype, count=count, offset=begin)
        out[name] = array.reshape(shape).astype(dtype.newbyteorder("="))
    # the entries must tile the buffer: sorted by offset, each begins where the last ended
    position = 0
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
    array = np.asarray(array)
    tag = None
    for name, code in DTYPES.items():
        if array.dtype == np.dtype(code).newbyteorder("="):
            tag = name
    if tag is None:
        raise Reject(f"parameter of dtype {array.dtype} has no safetensors tag")
    shape = ",".join(str(d) for d in array.shape)
    head = b"vnnc-param\0" + tag.encode() + b"\0" + shape.encode() + b"\0"
    return hashlib.sha256(head + array.astype(np.dtype(DTYPES[tag])).tobytes()).hexdigest()
