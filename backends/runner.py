"""Calling a built model library through ctypes, with pointers prepared once.

`Runner(lib_path, params, inputs, outputs)` binds the parameters (copied here into 64-byte
aligned arrays, kept alive), allocates the input and output buffers once (aligned too) and
precomputes the pointer array, so one `run` costs a copy-in, one foreign call and a copy-out.
"""

from __future__ import annotations

import ctypes

import numpy as np

DTYPES = {"float32": np.float32, "int64": np.int64}
ALIGN = 64  # bytes: a cache line, and one vector<16xf32>


def aligned(shape, dtype, value=None) -> np.ndarray:
    """A zeroed C-contiguous array (or a copy of `value`) whose data starts on a 64-byte
    boundary. The kernels load 16 floats at a time; a row that starts off a cache line makes
    every such load touch two lines (the MLP at batch 64 ran 1.45x slower from numpy's
    16-byte aligned buffers)."""
    dtype = np.dtype(dtype)
    n = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.zeros(n + ALIGN, np.uint8)
    start = -raw.ctypes.data % ALIGN
    out = raw[start:start + n].view(dtype).reshape(shape)
    if value is not None:
        out[...] = value
    return out


class RunError(Exception):
    pass


class Runner:
    def __init__(self, library: str, params: dict[str, np.ndarray], inputs: list[dict],
                 outputs: list[dict]):
        self.lib = ctypes.CDLL(str(library))
        lib = self.lib
        lib.vnnc_model_param_name.restype = ctypes.c_char_p
        lib.vnnc_model_param_size.restype = ctypes.c_long
        lib.vnnc_model_param_dtype.restype = ctypes.c_char_p
        n = lib.vnnc_model_num_params()
        self._params = []
        for i in range(n):
            name = lib.vnnc_model_param_name(i).decode()
            if name not in params:
                raise RunError(f"parameter {name!r} is missing from the parameter file")
            dtype = DTYPES.get(lib.vnnc_model_param_dtype(i).decode())
            if dtype is None or params[name].dtype != dtype:
                raise RunError(f"parameter {name!r} is {params[name].dtype}, the library expects "
                               f"{lib.vnnc_model_param_dtype(i).decode()}")
            array = aligned(params[name].shape, dtype, params[name])
            if array.size != lib.vnnc_model_param_size(i):
                raise RunError(f"parameter {name!r} has {array.size} elements, the library expects "
                               f"{lib.vnnc_model_param_size(i)}")
            self._params.append(array)
        self._param_ptrs = (ctypes.c_void_p * max(n, 1))(*[a.ctypes.data for a in self._params])
        lib.vnnc_model_bind_params(self._param_ptrs)
        self.inputs = inputs
        self.outputs = outputs
        self._in = [aligned(s["shape"], DTYPES[s["dtype"]]) for s in inputs]
        self._out = [aligned(s["shape"], DTYPES[s["dtype"]]) for s in outputs]
        bufs = self._in + self._out
        self._args = (ctypes.c_void_p * len(bufs))(*[b.ctypes.data for b in bufs])
        self._call = lib.vnnc_model_run
        self._call.argtypes = [ctypes.c_void_p]
        self._call.restype = ctypes.c_int

    def run(self, *xs: np.ndarray) -> list[np.ndarray]:
        if len(xs) != len(self._in):
            raise RunError(f"the model takes {len(self._in)} input(s), got {len(xs)}")
        for spec, buf, x in zip(self.inputs, self._in, xs):
            x = np.asarray(x)
            if tuple(x.shape) != tuple(buf.shape):
                raise RunError(f"input {spec['name']!r}: expected shape {list(buf.shape)}, "
                               f"got {list(x.shape)}")
            np.copyto(buf, x, casting="same_kind")
        if self._call(self._args) != 0:
            raise RunError("the model ran out of memory")
        return [o.copy() for o in self._out]

    def run_into(self) -> int:
        """Run on the prepared input buffers (`self._in`), leaving results in `self._out`;
        the cheapest call, for benchmarks."""
        return self._call(self._args)
