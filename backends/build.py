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

BASE_FLAGS = ["-O3", "-std=c11", "-ffp-contract=off", "-fno-fast-math", "-frounding-math", "-fPIC",
              "-shared"]
"""-frounding-math: kernels that set a directed rounding mode (fesetround) must not have
their float operations folded or moved under the assumption of round-to-nearest."""


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
