"""A reader for the MLIR generic form that vnnc writes into bundle stages.

Written for a reader who must trust it: one tokenizer, one recursive-descent parser, no
dependency on xDSL. It reads exactly the subset vnnc prints:

    op      := (results `=`)? STRING `(` operands `)` successors? props? regions? attrdict? `:` fntype
    regions := `(` region (`,` region)* `)`          region := `{` block* `}`
    block   := (`^` ID (`(` (%v `:` type),* `)`)? `:`)? op*

Values are plain Python data:
  types       Type(kind, shape, elem): kind in tensor/memref/scalar/function/other
  attributes  int, float, str, bool, list, dict, Unit, Sym(name), Dense(values, type),
              DenseArray(elem, values), Typed(value, type), Opaque(text)
Any malformed input raises `MLIRSyntaxError` (never another exception type: callers
turn it into a rejection).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field

import numpy as np


class MLIRSyntaxError(ValueError):
    pass


@dataclass(frozen=True)
class Type:
    kind: str  # "tensor", "memref", "scalar", "function", "none"
    shape: tuple = ()
    elem: str = ""  # element / scalar type name ("f32", "index", "i64", "i1")
    inputs: tuple = ()
    outputs: tuple = ()

    def __str__(self) -> str:
        if self.kind in ("tensor", "memref"):
            return f"{self.kind}<{''.join(f'{d}x' for d in self.shape)}{self.elem}>"
        if self.kind == "function":
            return f"({', '.join(map(str, self.inputs))}) -> ({', '.join(map(str, self.outputs))})"
        return self.elem


@dataclass(frozen=True)
class Sym:
    name: str


@dataclass(frozen=True)
class Unit:
    pass


@dataclass(frozen=True)
class Opaque:
    text: str


@dataclass(frozen=True)
class Typed:
    value: object
    type: Type


@dataclass(frozen=True)
class DenseArray:
    elem: str
    values: tuple


@dataclass(frozen=True)
class Dense:
    values: np.ndarray
    type: Type


@dataclass
class Block:
    args: list[tuple[str, Type]]
    ops: list[Op]


@dataclass
class Op:
    name: str
    results: list[str]
    operands: list[str]
    props: dict
    attrs: dict
    regions: list[list[Block]]
    operand_types: list[Type] = field(default_factory=list)
    result_types: list[Type] = field(default_factory=list)

    def prop(self, key: str, default=None):
        return self.props.get(key, self.attrs.get(key, default))


TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>"(?:[^"\\]|\\.)*")
    | (?P<hex>0x[0-9a-fA-F]+)
    | (?P<num>[-+]?[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?)
    | (?P<val>%[A-Za-z0-9_.$#-]+)
    | (?P<blk>\^[A-Za-z0-9_.$-]+)
    | (?P<sym>@(?:"(?:[^"\\]|\\.)*"|[A-Za-z0-9_.$-]+))
    | (?P<attr>\#[A-Za-z0-9_.$]+)
    | (?P<arrow>->)
    | (?P<id>[A-Za-z_][A-Za-z0-9_.$]*)
    | (?P<punct>[()\[\]{}<>:,=?*])
    )""",
    re.VERBOSE,
)

FLOAT_TYPES = {"f16": ("<e", np.float16), "f32": ("<f", np.float32), "f64": ("<d", np.float64)}
INT_TYPES = {"i1": np.bool_, "i8": np.int8, "i32": np.int32, "i64": np.int64, "index": np.int64}
MAX_DEPTH = 64


SKIP = re.compile(r"(?:\s+|//[^\n]*)*")
"""Whitespace and comments between tokens (a "//" inside a string is not a comment)."""


def tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    while True:
        pos = SKIP.match(text, pos).end()
        if pos == len(text):
            break
        m = TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise MLIRSyntaxError(f"unexpected character {text[pos:pos + 10].strip()!r} at offset {pos}")
        kind = m.lastgroup
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    tokens.append(("eof", ""))
    return tokens


def _unquote(s: str) -> str:
    body = s[1:-1]
    if "\\" not in body:
        return body
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            n = body[i + 1]
            if n in '"\\':
                out.append(n)
                i += 2
                continue
            if n == "n":
                out.append("\n")
                i += 2
                continue
            hx = body[i + 1 : i + 3]
            if re.fullmatch(r"[0-9a-fA-F]{2}", hx):
                out.append(chr(int(hx, 16)))
                i += 3
                continue
        out.append(c)
        i += 1
    return "".join(out)


class Parser:
    def __init__(self, text: str):
        self.toks = tokenize(text)
        self.i = 0
        self.depth = 0

    # ------------------------------------------------------------ tokens

    def peek(self, k: int = 0) -> tuple[str, str]:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def next(self) -> tuple[str, str]:
        tok = self.peek()
        self.i += 1
        return tok

    def at(self, value: str) -> bool:
        return self.peek()[1] == value and self.peek()[0] in ("punct", "arrow", "id")

    def expect(self, value: str) -> None:
        _, v = self.next()
        if v != value:
            raise MLIRSyntaxError(f"expected {value!r}, got {v!r}")

    def accept(self, value: str) -> bool:
        if self.at(value):
            self.i += 1
            return True
        return False

    def deeper(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise MLIRSyntaxError("nesting too deep")

    # ------------------------------------------------------------ structure

    def parse_module(self) -> Op:
        op = self.parse_op()
        if self.peek()[0] != "eof":
            raise MLIRSyntaxError(f"trailing text after the module: {self.peek()[1]!r}")
        if op.name != "builtin.module":
            raise MLIRSyntaxError(f"expected builtin.module, got {op.name}")
        return op

    def parse_op(self) -> Op:
        results: list[str] = []
        if self.peek()[0] == "val":
            while True:
                kind, v = self.next()
                if kind != "val":
                    raise MLIRSyntaxError(f"expected a result name, got {v!r}")
                results.append(v)
                if not self.accept(","):
                    break
            self.expect("=")
        kind, name = self.next()
        if kind != "str":
            raise MLIRSyntaxError(f"expected an op name in quotes, got {name!r}")
        name = _unquote(name)
        self.expect("(")
        operands: list[str] = []
        if not self.at(")"):
            while True:
                kind, v = self.next()
                if kind != "val":
                    raise MLIRSyntaxError(f"{name}: expected an operand, got {v!r}")
                operands.append(v)
                if not self.accept(","):
                    break
        self.expect(")")
        props: dict = {}
        if self.at("<") and self.peek(1)[1] == "{":
            self.next()
            props = self.parse_attr_dict()
            self.expect(">")
        regions: list[list[Block]] = []
        if self.at("(") and self.peek(1)[1] == "{":
            self.next()
            self.deeper()
            while True:
                regions.append(self.parse_region())
                if not self.accept(","):
                    break
            self.depth -= 1
            self.expect(")")
        attrs: dict = {}
        if self.at("{"):
            attrs = self.parse_attr_dict()
        self.expect(":")
        fn = self.parse_type()
        if fn.kind != "function":
            raise MLIRSyntaxError(f"{name}: expected a function type, got {fn}")
        if len(fn.inputs) != len(operands) or len(fn.outputs) != len(results):
            raise MLIRSyntaxError(f"{name}: operand or result count does not match its type")
        return Op(name, results, operands, props, attrs, regions, list(fn.inputs), list(fn.outputs))

    def parse_region(self) -> list[Block]:
        self.expect("{")
        blocks: list[Block] = []
        current: Block | None = None
        while not self.at("}"):
            if self.peek()[0] == "eof":
                raise MLIRSyntaxError("unterminated region")
            if self.peek()[0] == "blk":
                self.next()
                args: list[tuple[str, Type]] = []
                if self.accept("("):
                    while not self.at(")"):
                        kind, v = self.next()
                        if kind != "val":
                            raise MLIRSyntaxError(f"expected a block argument, got {v!r}")
                        self.expect(":")
                        args.append((v, self.parse_type()))
                        if not self.accept(","):
                            break
                    self.expect(")")
                self.expect(":")
                current = Block(args, [])
                blocks.append(current)
                continue
            if current is None:
                current = Block([], [])
                blocks.append(current)
            current.ops.append(self.parse_op())
        self.expect("}")
        return blocks

    # ------------------------------------------------------------ attributes

    def parse_attr_dict(self) -> dict:
        self.expect("{")
        self.deeper()
        out: dict = {}
        while not self.at("}"):
            kind, key = self.next()
            if kind == "str":
                key = _unquote(key)
            elif kind != "id":
                raise MLIRSyntaxError(f"expected an attribute name, got {key!r}")
            if key in out:
                raise MLIRSyntaxError(f"attribute {key!r} given twice")
            out[key] = self.parse_attr() if self.accept("=") else Unit()
            if not self.accept(","):
                break
        self.expect("}")
        self.depth -= 1
        return out

    def parse_attr(self):
        kind, v = self.peek()
        if kind == "str":
            self.next()
            return _unquote(v)
        if kind in ("num", "hex"):
            self.next()
            value = v
            if self.accept(":"):
                t = self.parse_type()
                return Typed(self.number(value, t.elem), t)
            return self.number(value, "i64")
        if kind == "sym":
            self.next()
            return Sym(_unquote(v[1:]) if v[1:2] == '"' else v[1:])
        if kind == "attr":
            self.next()
            text = v
            if self.at("<"):
                text += self.skip_angle()
            return Opaque(text)
        if self.at("["):
            self.next()
            self.deeper()
            items = []
            while not self.at("]"):
                items.append(self.parse_attr())
                if not self.accept(","):
                    break
            self.expect("]")
            self.depth -= 1
            return items
        if self.at("{"):
            return self.parse_attr_dict()
        if kind == "id":
            if v in ("true", "false"):
                self.next()
                return v == "true"
            if v == "unit":
                self.next()
                return Unit()
            if v == "array":
                return self.parse_dense_array()
            if v == "dense":
                return self.parse_dense()
        if kind in ("id", "punct") and (v == "(" or kind == "id"):
            return self.parse_type()
        raise MLIRSyntaxError(f"unexpected {v!r} in an attribute")

    def skip_angle(self) -> str:
        self.expect("<")
        depth, parts = 1, ["<"]
        while depth:
            kind, v = self.next()
            if kind == "eof":
                raise MLIRSyntaxError("unterminated <...>")
            depth += (v == "<") - (v == ">")
            parts.append(v)
        return "".join(parts)

    def number(self, text: str, elem: str):
        if elem in FLOAT_TYPES:
            if text.startswith("0x"):
                fmt, _ = FLOAT_TYPES[elem]
                size = struct.calcsize(fmt)
                bits = int(text, 16)
                if bits >= 1 << (8 * size):
                    raise MLIRSyntaxError(f"hex float {text} too wide for {elem}")
                return float(struct.unpack(fmt, bits.to_bytes(size, "little"))[0])
            try:
                return float(FLOAT_TYPES[elem][1](float(text)))
            except (ValueError, OverflowError):
                raise MLIRSyntaxError(f"bad float literal {text}") from None
        try:
            return int(text, 16) if text.startswith("0x") else int(text)
        except ValueError:
            # a float literal where an integer was expected
            raise MLIRSyntaxError(f"bad integer literal {text}") from None

    def parse_dense_array(self) -> DenseArray:
        self.expect("array")
        self.expect("<")
        kind, elem = self.next()
        if kind != "id":
            raise MLIRSyntaxError(f"bad element type in array<...>: {elem!r}")
        values = []
        if self.accept(":"):
            while True:
                kind, v = self.next()
                if kind not in ("num", "hex"):
                    raise MLIRSyntaxError(f"bad value in array<...>: {v!r}")
                values.append(self.number(v, elem))
                if not self.accept(","):
                    break
        self.expect(">")
        return DenseArray(elem, tuple(values))

    def parse_dense(self) -> Dense:
        self.expect("dense")
        self.expect("<")
        kind, v = self.peek()
        raw: list | str
        if kind == "str":
            self.next()
            raw = _unquote(v)
        else:
            raw = self.parse_nested_numbers()
        self.expect(">")
        self.expect(":")
        t = self.parse_type()
        if t.kind not in ("tensor", "memref"):
            raise MLIRSyntaxError(f"dense<...> needs a shaped type, got {t}")
        n = 1
        for d in t.shape:
            n *= d
        if isinstance(raw, str):
            if not raw.startswith("0x") or not re.fullmatch(r"0x[0-9a-fA-F]*", raw):
                raise MLIRSyntaxError("dense hex blob must be 0x followed by hex digits")
            data = bytes.fromhex(raw[2:]) if len(raw) % 2 == 0 else b""
            if t.elem in FLOAT_TYPES:
                dtype = np.dtype(FLOAT_TYPES[t.elem][0])
            elif t.elem in INT_TYPES and t.elem != "i1":
                dtype = np.dtype(INT_TYPES[t.elem]).newbyteorder("<")
            else:
                raise MLIRSyntaxError(f"dense blob of {t.elem} is not supported")
            if len(data) not in (dtype.itemsize, n * dtype.itemsize):
                raise MLIRSyntaxError(f"dense blob has {len(data)} bytes for {n} elements of {t.elem}")
            values = np.frombuffer(data, dtype=dtype).astype(dtype.newbyteorder("="))
        else:
            flat = list(_flatten(raw))
            values = np.array([self.number(x, t.elem) for x in flat],
                              dtype=np.float64 if t.elem in FLOAT_TYPES else np.int64)
        if values.size == 1 and n != 1:
            values = np.full(n, values[0], dtype=values.dtype)
        if values.size != n:
            raise MLIRSyntaxError(f"dense<...> has {values.size} values for {n} elements")
        return Dense(values.reshape(t.shape), t)

    def parse_nested_numbers(self):
        if self.accept("["):
            self.deeper()
            items = []
            while not self.at("]"):
                items.append(self.parse_nested_numbers())
                if not self.accept(","):
                    break
            self.expect("]")
            self.depth -= 1
            return items
        kind, v = self.next()
        if kind in ("num", "hex"):
            return v
        if kind == "id" and v in ("true", "false"):
            return "1" if v == "true" else "0"
        raise MLIRSyntaxError(f"bad value in dense<...>: {v!r}")

    # ------------------------------------------------------------ types

    def parse_type(self) -> Type:
        if self.accept("("):
            self.deeper()
            ins = []
            while not self.at(")"):
                ins.append(self.parse_type())
                if not self.accept(","):
                    break
            self.expect(")")
            self.expect("->")
            if self.accept("("):
                outs = []
                while not self.at(")"):
                    outs.append(self.parse_type())
                    if not self.accept(","):
                        break
                self.expect(")")
            else:
                outs = [self.parse_type()]
            self.depth -= 1
            return Type("function", inputs=tuple(ins), outputs=tuple(outs))
        kind, v = self.next()
        if kind != "id":
            raise MLIRSyntaxError(f"expected a type, got {v!r}")
        if v in ("tensor", "memref"):
            return self.parse_shaped(v)
        if v in FLOAT_TYPES or v in INT_TYPES or re.fullmatch(r"i[0-9]+", v):
            return Type("scalar", elem=v)
        if v == "none":
            return Type("none", elem="none")
        raise MLIRSyntaxError(f"unsupported type {v!r}")

    def parse_shaped(self, kind: str) -> Type:
        # the tokenizer reads "2x3xf32" as num "2", id "x3xf32": re-split the dimension list
        self.expect("<")
        text = ""
        while not self.at(">"):
            k, v = self.next()
            if k == "eof" or v in ("<", ",", "(", "{") or text[-1:].isdigit() and v[:1].isdigit():
                raise MLIRSyntaxError(f"unsupported {kind} type")  # "2 4xf32" is not 24xf32
            text += v
        self.expect(">")
        parts = text.split("x")
        elem = parts[-1]
        if not all(re.fullmatch(r"[0-9]+", p) for p in parts[:-1]) or not (
            elem in FLOAT_TYPES or elem in INT_TYPES
        ):
            raise MLIRSyntaxError(f"unsupported {kind} type {kind}<{text}>")
        return Type(kind, tuple(int(p) for p in parts[:-1]), elem)


def _flatten(x):
    if isinstance(x, list):
        for y in x:
            yield from _flatten(y)
    else:
        yield x


def parse(text: str) -> Op:
    """Parse a generic-form module; raises MLIRSyntaxError on anything unexpected."""
    try:
        return Parser(text).parse_module()
    except MLIRSyntaxError:
        raise
    except (RecursionError, ValueError, IndexError, KeyError, TypeError, OverflowError) as e:
        raise MLIRSyntaxError(f"malformed MLIR ({type(e).__name__}: {e})") from None
