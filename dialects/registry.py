"""The dialects every vnnc tool loads."""

from vnnc.dialects.ad import Ad
from vnnc.dialects.fp import Fp
from vnnc.dialects.spec import Spec
from xdsl.context import Context
from xdsl.dialects.arith import Arith
from xdsl.dialects.builtin import Builtin
from xdsl.dialects.func import Func
from xdsl.dialects.math import Math
from xdsl.dialects.memref import MemRef
from xdsl.dialects.scf import Scf

DIALECTS = (Builtin, Func, Arith, Math, MemRef, Scf, Spec, Fp, Ad)


def make_context() -> Context:
    ctx = Context()
    for dialect in DIALECTS:
        ctx.load_dialect(dialect)
    return ctx
