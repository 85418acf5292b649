"""Building generated C into a shared library with the system C compiler.

Flags are fixed by the numerics: `-std=c11` (not GNU C) and `-ffp-contract=off` keep
gcc from fusing a*b+c into FMAs, and `-ffast-math` is never used (it changes results
and, loaded into Python, turns on flush-to-zero for the whole process).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

BASE_FLAGS = ["-O3", "-fno-tree-loop-if-convert", "-std=c11", "-ffp-contract=off", "-fno-fast-math",
              "-frounding-math", "-fPIC", "-shared"]
"""-frounding-math: kernels that set a directed rounding mode (fesetround) must not have
their float operations folded or moved under the assumption of round-to-nearest.
-fno-tree-loop-if-convert: gcc 12.2's loop vectoriser, if-converting the guarded loads of a
blocked convolution (several columns' taps under one row test), computed wrong sums
(tests/e2e/test_conv_blocked_build.py); the library check caught it."""


class BuildError(Exception):
    pass


def compiler() -> str:
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise BuildError("no C compiler found (set CC)")
    return cc


def flags(portable: bool = False) -> list[str]:
    return BASE_FLAGS + ([] if portable else ["-march=native"])


def build_shared(source: Path, output: Path, portable: bool = False) -> list[str]:
    """Compile `source` into `output` (a .so); returns the command line used."""
    cmd = [compiler(), *flags(portable), "-o", str(output), str(source), "-lm"]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(f"C compiler failed ({' '.join(cmd)}):\n{proc.stderr.strip()[:2000]}")
    return cmd


CUDA_FLAGS = ["-O3", "-fmad=false", "-prec-div=true", "-prec-sqrt=true", "-ftz=false",
              "-gencode", "arch=compute_90,code=sm_90", "-gencode", "arch=compute_90,code=compute_90",
              "-Xcompiler", "-fPIC", "-shared"]
"""nvcc for CUDA sources: no FMA contraction (-fmad=false), IEEE division and square root,
no flush to zero, never --use_fast_math; code for sm_90 (H100) and PTX for compute_90 (newer
GPUs compile it at load time). The CUDA runtime is linked statically (nvcc's default), so the
library needs only the driver (libcuda) on the GPU host."""


def nvcc() -> str:
    found = os.environ.get("NVCC") or shutil.which("nvcc")
    if not found:
        raise BuildError("no CUDA compiler found: nvcc is not on PATH (set NVCC to its path)")
    return found


def build_cuda(source: Path, output: Path) -> list[str]:
    """Compile a CUDA `source` into the shared library `output`; returns the command line."""
    cmd = [nvcc(), *CUDA_FLAGS, "-o", str(output), str(source)]
    try:
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True)
    except OSError as e:
        raise BuildError(f"cannot run nvcc ({cmd[0]}): {e.strerror}") from None
    if proc.returncode != 0:
        raise BuildError(f"nvcc failed ({' '.join(cmd)}):\n{proc.stderr.strip()[:2000]}")
    return cmd
