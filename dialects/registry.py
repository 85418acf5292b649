"""The dialects every vnnc tool loads."""

from vnnc.dialects.ad import Ad
from vnnc.dialects.fp import Fp
from vnnc.dialects.spec import Spec
from xdsl.context import Context
from xdsl.dialects.arith import Arith
from xdsl.dialects.builtin import AnyFloat, Builtin
from xdsl.dialects.func import Func
from xdsl.dialects.math import Math
from xdsl.dialects.memref import MemRef
from xdsl.dialects.scf import Scf
from xdsl.dialects.vector import Vector
from xdsl.parser.attribute_parser import AttrParser

DIALECTS = (Builtin, Func, Arith, Math, MemRef, Scf, Vector, Spec, Fp, Ad)


def _hex_element_as_bits():
    """In MLIR a hexadecimal element of a float `dense<[...]>` is the value's bit pattern, and
    xDSL prints non-finite elements that way (-inf as 0xff800000), but xDSL 0.74 reads such an
    element back as the integer's value (4286578688.0). vnnc reads it as MLIR (and the
    checker) does, so that a constant holding inf or NaN keeps its value through every stage."""
    element = AttrParser._TensorLiteralElement
    as_value = element.to_type

    def to_type(self, parser, elem):
        if isinstance(elem, AnyFloat) and isinstance(self.value, int) and not isinstance(self.value, bool) \
                and self.span.text[:2] in ("0x", "0X"):
            return next(elem.iter_unpack(self.value.to_bytes(elem.compile_time_size, "little")))
        return as_value(self, parser, elem)

    element.to_type = to_type


_hex_element_as_bits()


def make_context() -> Context:
    ctx = Context()
    for dialect in DIALECTS:
        ctx.load_dialect(dialect)
    return ctx
