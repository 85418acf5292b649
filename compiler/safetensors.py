"""Parameters in the safetensors format: an 8-byte little-endian header length, a JSON
header `{name: {"dtype", "shape", "data_offsets": [begin, end]}}`, then raw
little-endian bytes. Read and written with numpy alone.

A parameter's hash (`param_sha256`) covers its dtype, shape and bytes:
sha256(b"vnnc-param\\0" + dtype + b"\\0" + ",".join(shape) + b"\\0" + bytes).
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import numpy as np

DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32, "F16": np.float16}
NAMES = {np.dtype(v): k for k, v in DTYPES.items()}


class SafetensorsError(ValueError):
    pass


def _contiguous(array) -> np.ndarray:
    """C-contiguous, keeping 0-d arrays 0-d (np.ascontiguousarray makes them 1-d)."""
    array = np.asarray(array)
    return array if array.flags.c_contiguous else array.copy(order="C")


def param_sha256(array: np.ndarray) -> str:
    array = _contiguous(array)
    tag = NAMES[array.dtype]
    head = b"vnnc-param\0" + tag.encode() + b"\0" + ",".join(map(str, array.shape)).encode() + b"\0"
    return hashlib.sha256(head + array.astype(array.dtype.newbyteorder("<")).tobytes()).hexdigest()


def write(path: str | Path, tensors: dict[str, np.ndarray]) -> None:
    header: dict[str, dict] = {}
    blobs: list[bytes] = []
    offset = 0
    for name, array in tensors.items():
        array = _contiguous(array)
        if array.dtype not in NAMES:
            raise SafetensorsError(f"{name}: unsupported dtype {array.dtype}")
        data = array.astype(array.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": NAMES[array.dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # keeps the data 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        f.writelines(blobs)


def read(path: str | Path) -> dict[str, np.ndarray]:
    raw = Path(path).read_bytes()
    if len(raw) < 8:
        raise SafetensorsError(f"{path}: too short to be a safetensors file")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > len(raw) - 8:
        raise SafetensorsError(f"{path}: header length {n} exceeds the file")
    try:
        header = json.loads(raw[8 : 8 + n])
    except (ValueError, RecursionError) as e:
        raise SafetensorsError(f"{path}: header is not JSON ({e})") from None
    if not isinstance(header, dict):
        raise SafetensorsError(f"{path}: header is not a JSON object")
    data = raw[8 + n :]
    out: dict[str, np.ndarray] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = np.dtype(DTYPES[entry["dtype"]]).newbyteorder("<")
            shape = tuple(int(d) for d in entry["shape"])
            begin, end = (int(o) for o in entry["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise SafetensorsError(f"{path}: malformed entry for {name!r}") from None
        if not 0 <= begin <= end <= len(data) or end - begin != dtype.itemsize * int(np.prod(shape)):
            raise SafetensorsError(f"{path}: data offsets of {name!r} do not fit its shape")
        out[name] = np.frombuffer(data[begin:end], dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))
    return out
