"""The checker's own reader of the MLIR generic form that vnnc prints into bundle stages.

One tokenizer and one recursive descent over the subset of docs/WITNESS.md §3, sharing no
code with xDSL. It enforces SSA as MLIR does: a value is defined once in its scope (not
shadowing one of an enclosing region), used only where visible, after its definition, at
its defined type. Attributes become plain data (int, float, str, bool, list, dict) or Unit,
Sym, Opaque, Typed, DenseArray, Dense. Malformed input raises MLIRSyntaxError (a Reject).
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass

import numpy as np
from vnnc.verifier.check import Reject


class MLIRSyntaxError(Reject):
    pass


@dataclass(frozen=True)
class Type:
    kind: str  # "tensor", "memref", "vector", "scalar" or "function"
    shape: tuple = ()
    elem: str = ""  # element or scalar type: "f32", "i64", "index", ...
    inputs: tuple = ()  # of a function type
    outputs: tuple = ()

    def __str__(self) -> str:
        if self.kind == "function":
            return f"({', '.join(map(str, self.inputs))}) -> ({', '.join(map(str, self.outputs))})"
        if self.kind == "scalar":
            return self.elem
        return f"{self.kind}<{''.join(f'{d}x' for d in self.shape)}{self.elem}>"


@dataclass(frozen=True)
class Unit:  # a key without a value
    pass


@dataclass(frozen=True)
class Sym:  # @name
    name: str


@dataclass(frozen=True)
class Opaque:  # an alias such as #arith.fastmath<none>, kept as its text
    text: str


@dataclass(frozen=True)
class Typed:  # N : type
    value: int | float
    type: Type


@dataclass(frozen=True)
class DenseArray:  # array<i64: 1, 2>
    elem: str
    values: tuple


@dataclass(frozen=True)
class Dense:  # dense<...> : tensor<...>, the values shaped as the type
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
    props: dict  # <{...}>
    attrs: dict  # {...}, the discardable attributes
    regions: list[list[Block]]
    operand_types: list[Type]
    result_types: list[Type]

    def prop(self, key: str, default=None):
        return self.props.get(key, self.attrs.get(key, default))


TOKEN = re.compile(r"""
    (?P<str>"(?:[^"\\]|\\.)*")
  | (?P<hex>0x[0-9a-fA-F]+)
  | (?P<num>[-+]?[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?)
  | (?P<val>%[A-Za-z0-9_.$#-]+)
  | (?P<blk>\^[A-Za-z0-9_.$-]+)
  | (?P<sym>@(?:"(?:[^"\\]|\\.)*"|[A-Za-z0-9_.$-]+))
  | (?P<alias>\#[A-Za-z0-9_.$]+(?:<[^<>"]*>)?)
  | (?P<shaped>(?:tensor|memref|vector)<(?:[0-9]+x)*(?:[a-zA-Z][a-zA-Z0-9]*|!fp\.float<"[a-z0-9-]+">)>)
  | (?P<arrow>->)
  | (?P<id>[A-Za-z_][A-Za-z0-9_.$]*)
  | (?P<punct>[()\[\]{}<>:,=])""", re.VERBOSE)
SKIP = re.compile(r"(?:\s+|//[^\n]*)*")  # between tokens: a "//" inside a string is no comment
ESCAPE = re.compile(r'\\([\\"n]|[0-9a-fA-F]{2})')  # \\ \" \n \XX
SHAPED = re.compile(r'(tensor|memref|vector)<((?:[0-9]+x)*)([a-zA-Z][a-zA-Z0-9]*|!fp\.float<"[a-z0-9-]+">)>')
ELEMENTS = ("f32", "f64", "i1", "i32", "i64", "index")
STORAGE = ("f16", "bf16", "f8E4M3FN", "f8E5M2")  # tensor element types of the fp stage only
FLOATS = {"f32": "<f", "f64": "<d"}
MAX_DEPTH = 64


def tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], SKIP.match(text).end()
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m:
            raise MLIRSyntaxError(f"unexpected character {text[pos:pos + 10]!r} at offset {pos}")
        tokens.append((m.lastgroup, m.group()))
        pos = SKIP.match(text, m.end()).end()
    return tokens + [("eof", "")]


def unquote(token: str) -> str:
    """A quoted string's text; escapes \\\\, \\", \\n and \\XX (one byte of its UTF-8)."""
    parts = ESCAPE.split(token[1:-1])  # text, escape, text, ..., text
    data = b""
    for k, part in enumerate(parts):
        if k % 2 == 0 and "\\" in part:
            raise MLIRSyntaxError(f"unknown escape in {token[:40]}")
        if k % 2 == 0 or part in ('"', "\\"):
            data += part.encode()
        else:
            data += b"\n" if part == "n" else bytes.fromhex(part)
    return data.decode()


def number(text: str, elem: str) -> int | float:
    """A literal of type `elem`: an int, or a float rounded to f32/f64 (0x…: its bits)."""
    if elem not in FLOATS:
        return int(text, 16) if text.startswith("0x") else int(text)
    fmt = FLOATS[elem]
    if text.startswith("0x"):  # to_bytes raises OverflowError when wider than the type
        return struct.unpack(fmt, int(text, 16).to_bytes(struct.calcsize(fmt), "little"))[0]
    return struct.unpack(fmt, struct.pack(fmt, float(text)))[0]


class Parser:
    def __init__(self, text: str):
        self.tokens, self.i, self.depth = tokenize(text), 0, 0
        self.scopes: list[dict[str, Type]] = [{}]  # the values of each enclosing region

    def define(self, name: str, t: Type) -> None:
        if any(name in scope for scope in self.scopes):
            raise MLIRSyntaxError(f"{name} is defined twice")
        self.scopes[-1][name] = t

    def use(self, name: str, t: Type) -> None:
        for scope in self.scopes:
            if name in scope:
                if scope[name] != t:
                    raise MLIRSyntaxError(f"{name} is used as {t} but defined as {scope[name]}")
                return
        raise MLIRSyntaxError(f"{name} is used before it is defined, or outside its region")

    def peek(self, k: int = 0) -> tuple[str, str]:
        return self.tokens[min(self.i + k, len(self.tokens) - 1)]

    def take(self, *kinds: str) -> str:
        kind, value = self.peek()
        if kinds and kind not in kinds:
            raise MLIRSyntaxError(f"expected {' or '.join(kinds)}, got {value!r}")
        self.i += 1
        return value

    def at(self, value: str) -> bool:
        return self.peek()[1] == value and self.peek()[0] in ("punct", "arrow", "id")

    def accept(self, value: str) -> bool:
        if not self.at(value):
            return False
        self.i += 1
        return True

    def expect(self, value: str) -> None:
        if not self.accept(value):
            raise MLIRSyntaxError(f"expected {value!r}, got {self.peek()[1]!r}")

    def items(self, close: str, item) -> list:
        """`item (, item)*` then `close`, or just `close`: the one place where nesting deepens."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise MLIRSyntaxError("nesting too deep")
        out = []
        if not self.accept(close):
            out.append(item())
            while self.accept(","):
                out.append(item())
            self.expect(close)
        self.depth -= 1
        return out

    def parse_op(self) -> Op:
        results = self.items("=", lambda: self.take("val")) if self.peek()[0] == "val" else []
        name = unquote(self.take("str"))
        self.expect("(")
        operands = self.items(")", lambda: self.take("val"))
        props = {}
        if self.accept("<"):
            props = self.parse_attr_dict()
            self.expect(">")
        regions = []
        if self.at("(") and self.peek(1)[1] == "{":
            self.take()
            regions = self.items(")", self.parse_region)
        attrs = self.parse_attr_dict() if self.at("{") else {}
        self.expect(":")
        fn = self.parse_type()
        if fn.kind != "function" or len(fn.inputs) != len(operands) or len(fn.outputs) != len(results):
            raise MLIRSyntaxError(f"{name}: its type {fn} does not fit its operands and results")
        for v, t in zip(operands, fn.inputs):
            self.use(v, t)
        for v, t in zip(results, fn.outputs):  # visible after the op, not inside its regions
            self.define(v, t)
        return Op(name, results, operands, props, attrs, regions, list(fn.inputs), list(fn.outputs))

    def parse_region(self) -> list[Block]:
        self.expect("{")
        blocks, self.scopes = [], self.scopes + [{}]
        while not self.accept("}"):
            if self.peek()[0] == "blk":
                self.take()
                args = self.items(")", self.parse_block_arg) if self.accept("(") else []
                self.expect(":")
                blocks.append(Block(args, []))
                continue
            if not blocks:
                blocks.append(Block([], []))
            blocks[-1].ops.append(self.parse_op())
        self.scopes = self.scopes[:-1]
        return blocks

    def parse_block_arg(self) -> tuple[str, Type]:
        name = self.take("val")
        self.expect(":")
        t = self.parse_type()
        self.define(name, t)
        return name, t

    def parse_attr_dict(self) -> dict:
        self.expect("{")
        pairs = self.items("}", self.parse_entry)
        if len(dict(pairs)) != len(pairs):
            raise MLIRSyntaxError("an attribute is given twice")
        return dict(pairs)

    def parse_entry(self) -> tuple[str, object]:
        key = unquote(self.take()) if self.peek()[0] == "str" else self.take("id")
        return key, self.parse_attr() if self.accept("=") else Unit()

    def parse_attr(self):
        kind, v = self.peek()
        if kind in ("num", "hex"):
            self.take()
            if not self.accept(":"):
                return number(v, "i64")  # a bare integer is an i64
            t = self.parse_type()
            return Typed(number(v, t.elem), t)
        if kind == "str":
            return unquote(self.take())
        if kind == "sym":
            self.take()
            return Sym(unquote(v[1:]) if v[1:2] == '"' else v[1:])
        if kind == "alias":
            return Opaque(self.take())
        if self.accept("["):
            return self.items("]", self.parse_attr)
        if self.at("{"):
            return self.parse_attr_dict()
        if self.at("true") or self.at("false"):
            return self.take() == "true"
        if self.accept("array"):  # array<i64: 1, 2> or array<i64>
            self.expect("<")
            elem, values = self.take("id"), []
            if self.accept(":"):
                values = self.items(">", lambda: self.take("num", "hex"))
            else:
                self.expect(">")
            return DenseArray(elem, tuple(number(v, elem) for v in values))
        if self.accept("dense"):
            return self.parse_dense()
        return self.parse_type()

    def parse_dense(self) -> Dense:
        # nested [...] lists of numbers shaped as the type, or one number for every element
        self.expect("<")
        raw = self.parse_numbers()
        self.expect(">")
        self.expect(":")
        t = self.parse_type()
        if t.kind not in ("tensor", "memref", "vector") or (isinstance(raw, list) and np.shape(raw) != t.shape):
            raise MLIRSyntaxError(f"dense<...> does not fit its type {t}")
        flat = [raw] * math.prod(t.shape) if isinstance(raw, str) else np.ravel(raw).tolist()
        values = np.array([number(x, t.elem) for x in flat], np.float64 if t.elem in FLOATS else np.int64)
        return Dense(values.reshape(t.shape), t)

    def parse_numbers(self):
        return self.items("]", self.parse_numbers) if self.accept("[") else self.take("num", "hex")

    def parse_type(self) -> Type:
        if self.accept("("):
            ins = self.items(")", self.parse_type)
            self.expect("->")
            outs = self.items(")", self.parse_type) if self.accept("(") else [self.parse_type()]
            return Type("function", inputs=tuple(ins), outputs=tuple(outs))
        kind, v = self.peek()
        m = SHAPED.fullmatch(v)  # tensor<2x3xf32>: m[1] tensor, m[2] "2x3x", m[3] f32
        if kind == "shaped" and (m[3] in ELEMENTS or m[1] == "tensor" and (
                m[3] in STORAGE or m[3].startswith("!fp.float"))):
            self.take()
            return Type(m[1], tuple(int(d) for d in m[2].split("x")[:-1]), m[3])
        if kind == "id" and v in ELEMENTS:
            self.take()
            return Type("scalar", elem=v)
        raise MLIRSyntaxError(f"unsupported type {v!r}")


def parse(text: str) -> Op:
    """The builtin.module of a generic-form text; MLIRSyntaxError on anything unexpected."""
    try:
        parser = Parser(text)
        module = parser.parse_op()
    except (RecursionError, ValueError, IndexError, KeyError, TypeError, OverflowError) as e:
        raise MLIRSyntaxError(f"malformed MLIR ({type(e).__name__}: {e})") from None
    if parser.peek()[0] != "eof" or module.name != "builtin.module":
        raise MLIRSyntaxError("expected one builtin.module and nothing after it")
    return module


def main_function(module: Op) -> Op:
    """The func.func @main, with one block, of a module with one block."""
    ops = module.regions[0][0].ops if len(module.regions) == 1 and len(module.regions[0]) == 1 else []
    found = [op for op in ops if op.name == "func.func" and op.props.get("sym_name") == "main"]
    if len(found) != 1 or len(found[0].regions) != 1 or len(found[0].regions[0]) != 1:
        raise Reject("stage: expected a module with one block holding one func.func @main")
    return found[0]
