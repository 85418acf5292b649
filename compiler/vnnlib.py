"""The VNN-LIB reader of `vnnc verify` (untrusted: the checker reads the file itself).

A property states the *unsafe* set: inputs X_i and outputs Y_j that satisfy every
`assert`. It holds when no input of the network reaches it. The subset VNN-COMP uses is
read: `(declare-const X_i Real)`, `(declare-const Y_j Real)`, and `(assert F)` with
F := (and F...) | (or F...) | (<= T T) | (>= T T), T := a variable, a decimal, (+ T...),
(- T T) | (- T), (* c T). Each assert is put into disjunctive normal form and the asserts
are multiplied out; every disjunct is one input box (bounds on single X variables) and a
conjunction of linear constraints on the Y variables. Decimals are exact fractions; the
float64 boxes the bounds work on are rounded outward, so they contain the exact box.
Anything else is an error naming the file and the line.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
from vnnc.errors import VnncError

MAX_DISJUNCTS = 100_000
TOKEN = re.compile(r"\s+|;[^\n]*|(?P<tok>\(|\)|[^\s();]+)")
NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
VAR = re.compile(r"([XY])_(\d+)")


@dataclass(frozen=True)
class Constraint:
    """sum_j coef[j] * Y_j <= rhs, exactly."""

    coef: tuple[tuple[int, Fraction], ...]
    rhs: Fraction

    def dense(self, n_out: int) -> tuple[np.ndarray, Fraction]:
        c = np.zeros(n_out)
        for j, v in self.coef:
            c[j] = float(v)
        return c, self.rhs

    def holds(self, y: np.ndarray) -> bool:
        """Exactly, for a float64 output vector y."""
        return sum((v * Fraction(float(y[j])) for j, v in self.coef), Fraction(0)) <= self.rhs


@dataclass
class Region:
    """One input box (exact and outward-rounded) and the output conjunctions that are unsafe
    on it: the property is violated iff some input of the box meets some conjunction."""

    lo: list[Fraction]
    hi: list[Fraction]
    conjunctions: list[list[Constraint]] = field(default_factory=list)

    @property
    def box(self) -> tuple[np.ndarray, np.ndarray]:
        return (np.array([_down(v) for v in self.lo]), np.array([_up(v) for v in self.hi]))

    def contains(self, x: np.ndarray) -> bool:
        return all(lo <= Fraction(float(v)) <= hi for lo, v, hi in zip(self.lo, x, self.hi))


@dataclass
class Property:
    path: Path
    n_inputs: int
    n_outputs: int
    regions: list[Region]
    text: bytes


def _down(q: Fraction) -> float:
    f = float(q)
    return f if Fraction(f) <= q else math.nextafter(f, -math.inf)


def _up(q: Fraction) -> float:
    f = float(q)
    return f if Fraction(f) >= q else math.nextafter(f, math.inf)


class _Reader:
    def __init__(self, path: Path, text: str):
        self.path = path
        self.tokens: list[tuple[str, int]] = []
        line, pos = 1, 0
        for m in TOKEN.finditer(text):
            if m.start() != pos:
                self.fail(line, f"unexpected character {text[pos]!r}")
            pos = m.end()
            if m.group("tok"):
                self.tokens.append((m.group("tok"), line))
            line += m.group(0).count("\n")
        if pos != len(text):
            self.fail(line, f"unexpected character {text[pos]!r}")
        self.i = 0
        self.declared: dict[str, int] = {}

    def fail(self, line: int, message: str):
        raise VnncError(f"{self.path}:{line}: {message}")

    def sexpr(self):
        """A token or a list [(token, line) or list...], with its line."""
        if self.i >= len(self.tokens):
            self.fail(self.tokens[-1][1] if self.tokens else 1, "unexpected end of file (missing ')')")
        tok, line = self.tokens[self.i]
        self.i += 1
        if tok == ")":
            self.fail(line, "unexpected ')'")
        if tok != "(":
            return tok, line
        items = []
        while True:
            if self.i >= len(self.tokens):
                self.fail(line, "unclosed '(' (missing ')')")
            if self.tokens[self.i][0] == ")":
                self.i += 1
                return items, line
            items.append(self.sexpr())


def _head(expr, reader: _Reader) -> str:
    items, line = expr
    if not isinstance(items, list) or not items or isinstance(items[0][0], list):
        reader.fail(line, "expected a parenthesised expression starting with an operator")
    return items[0][0]


def _term(expr, reader: _Reader) -> tuple[dict[str, Fraction], Fraction]:
    """A linear term as ({variable: coefficient}, constant)."""
    item, line = expr
    if not isinstance(item, list):
        if NUMBER.fullmatch(item):
            return {}, Fraction(item)
        if item not in reader.declared:
            reader.fail(line, f"undeclared variable {item!r}")
        return {item: Fraction(1)}, Fraction(0)
    op, args = _head(expr, reader), [_term(a, reader) for a in item[1:]]
    if op == "+" and args:
        return _sum(args, [1] * len(args)), sum((a[1] for a in args), Fraction(0))
    if op == "-" and len(args) in (1, 2):
        signs = [-1] if len(args) == 1 else [1, -1]
        return _sum(args, signs), sum((s * a[1] for s, a in zip(signs, args)), Fraction(0))
    if op == "*" and len(args) == 2:
        (ca, ka), (cb, kb) = args
        if ca and cb:
            reader.fail(line, "a product of two variables is not linear")
        scale, (coef, const) = (ka, args[1]) if not ca else (kb, args[0])
        return {v: scale * c for v, c in coef.items()}, scale * const
    reader.fail(line, f"unsupported term operator {op!r} with {len(args)} operands "
                      "(supported: + - * over variables and decimals)")


def _sum(args, signs) -> dict[str, Fraction]:
    out: dict[str, Fraction] = {}
    for s, (coef, _) in zip(signs, args):
        for v, c in coef.items():
            out[v] = out.get(v, Fraction(0)) + s * c
    return out


def _formula(expr, reader: _Reader) -> list[list[tuple]]:
    """DNF: a list of conjunctions of atoms (coefficients, rhs, line) meaning coef.v <= rhs."""
    items, line = expr
    op = _head(expr, reader)
    if op in ("and", "or"):
        parts = [_formula(a, reader) for a in items[1:]]
        if not parts:
            reader.fail(line, f"({op}) needs at least one operand")
        if op == "or":
            return [c for p in parts for c in p]
        out: list[list[tuple]] = [[]]
        for p in parts:
            out = [a + b for a in out for b in p]
            if len(out) > MAX_DISJUNCTS:
                reader.fail(line, f"the property expands to more than {MAX_DISJUNCTS} disjuncts")
        return out
    if op in ("<=", ">=") and len(items) == 3:
        (ca, ka), (cb, kb) = _term(items[1], reader), _term(items[2], reader)
        sign = 1 if op == "<=" else -1  # a <= b  <=>  a - b <= 0
        coef = {v: sign * c for v, c in _sum([(ca, 0), (cb, 0)], [1, -1]).items() if c != 0}
        return [[(coef, sign * (kb - ka), line)]]
    reader.fail(line, f"unsupported formula {op!r} (supported: and, or, <=, >= with two terms)")


def read_property(path: str | Path, n_inputs: int | None = None, n_outputs: int | None = None) -> Property:
    """The property in `path`; its variable counts must match the network's when given."""
    path = Path(path)
    try:
        data = path.read_bytes()
        text = data.decode()
    except OSError as e:
        raise VnncError(f"{path}: cannot read the property: {e.strerror}") from None
    except UnicodeDecodeError:
        raise VnncError(f"{path}: not a text file") from None
    reader = _Reader(path, text)
    dnf: list[list[tuple]] = [[]]
    counts = {"X": 0, "Y": 0}
    while reader.i < len(reader.tokens):
        expr = reader.sexpr()
        items, line = expr
        op = _head(expr, reader)
        if op == "declare-const":
            if len(items) != 3 or items[2][0] != "Real" or not isinstance(items[1][0], str):
                reader.fail(line, "expected (declare-const NAME Real)")
            name = items[1][0]
            m = VAR.fullmatch(name)
            if not m:
                reader.fail(line, f"variable {name!r}: only X_i (inputs) and Y_j (outputs) are supported")
            if name in reader.declared:
                reader.fail(line, f"variable {name} declared twice")
            if int(m.group(2)) != counts[m.group(1)]:
                reader.fail(line, f"variable {name} declared out of order (expected "
                                  f"{m.group(1)}_{counts[m.group(1)]})")
            counts[m.group(1)] += 1
            reader.declared[name] = line
        elif op == "assert":
            if len(items) != 2:
                reader.fail(line, "expected (assert FORMULA)")
            part = _formula(items[1], reader)
            dnf = [a + b for a in dnf for b in part]
            if len(dnf) > MAX_DISJUNCTS:
                reader.fail(line, f"the property expands to more than {MAX_DISJUNCTS} disjuncts")
        else:
            reader.fail(line, f"unsupported command {op!r} (supported: declare-const, assert)")
    n_in, n_out = counts["X"], counts["Y"]
    if n_in == 0 or n_out == 0:
        raise VnncError(f"{path}: the property declares no {'X' if n_in == 0 else 'Y'} variables")
    if n_inputs is not None and n_in != n_inputs:
        raise VnncError(f"{path}: declares {n_in} inputs X_i, the network takes {n_inputs}")
    if n_outputs is not None and n_out != n_outputs:
        raise VnncError(f"{path}: declares {n_out} outputs Y_j, the network has {n_outputs}")
    regions: dict[tuple, Region] = {}
    for conj in dnf:
        lo: list[Fraction | None] = [None] * n_in
        hi: list[Fraction | None] = [None] * n_in
        outs, empty = [], False
        for coef, rhs, line in conj:
            xs = [v for v in coef if v[0] == "X"]
            if not xs:
                if not coef:  # a constant comparison: 0 <= rhs
                    empty |= rhs < 0
                    continue
                outs.append(Constraint(tuple(sorted((int(v[2:]), c) for v, c in coef.items())), rhs))
                continue
            if len(coef) != 1:
                reader.fail(line, "an input constraint must bound a single X variable "
                                  "(input sets are boxes)")
            i, c = int(xs[0][2:]), coef[xs[0]]
            bound = rhs / c
            if c > 0:
                hi[i] = bound if hi[i] is None else min(hi[i], bound)
            else:
                lo[i] = bound if lo[i] is None else max(lo[i], bound)
        missing = [i for i in range(n_in) if lo[i] is None or hi[i] is None]
        if missing:
            raise VnncError(f"{path}: input X_{missing[0]} is not bounded above and below in every "
                            "disjunct (the input set must be a box)")
        if empty or any(a > b for a, b in zip(lo, hi)):
            continue  # an empty disjunct: no input meets it
        key = (tuple(lo), tuple(hi))
        regions.setdefault(key, Region(list(lo), list(hi))).conjunctions.append(outs)
    return Property(path, n_in, n_out, list(regions.values()), data)
