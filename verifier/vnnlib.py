"""The checker's own reader of a VNN-LIB property (the compiler's reader is not trusted).

Forms: (declare-const X_i|Y_j Real) in index order; (assert F), F := (and F..) | (or F..) |
(<= T T) | (>= T T), T := variable | decimal | (+ T..) | (- T T) | (- T) | (* T T) with one
factor constant. Decimals are exact Fractions; the asserts are multiplied out into DNF.
"""

from __future__ import annotations

import functools
import re
from fractions import Fraction

from vnnc.verifier.check import Reject

MAX_DISJUNCTS = 100_000
TOKENS = re.compile(r"\s+|;[^\n]*|(\(|\)|[^\s();]+)")
NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _tree(text: str) -> list:
    """The S-expressions of the text as nested lists of tokens."""
    stack: list[list] = [[]]
    pos = 0
    for m in TOKENS.finditer(text):
        if m.start() != pos or m.group(1) == ")" and len(stack) == 1:
            raise Reject(f"property: unexpected character or ')' at offset {m.start()}")
        pos, tok = m.end(), m.group(1)
        if tok == "(":
            stack.append([])
        elif tok == ")":
            stack[-2].append(stack.pop())
        elif tok is not None:
            stack[-1].append(tok)
    if pos != len(text) or len(stack) != 1:
        raise Reject("property: unbalanced '(' or stray text")
    return stack[0]


def _term(t, names: set) -> tuple[dict, Fraction]:
    """({variable: coefficient}, constant)."""
    if isinstance(t, str):
        if NUMBER.fullmatch(t):
            return {}, Fraction(t)
        if t not in names:
            raise Reject(f"property: undeclared variable {t!r}")
        return {t: Fraction(1)}, Fraction(0)
    if not t or not isinstance(t[0], str):
        raise Reject("property: malformed term")
    args = [_term(a, names) for a in t[1:]]
    if t[0] == "*" and len(args) == 2 and not (args[0][0] and args[1][0]):
        (_, ka), (cb, kb) = args if not args[0][0] else args[::-1]  # the first is a constant
        return {v: ka * c for v, c in cb.items()}, ka * kb
    if t[0] == "+" and args or t[0] == "-" and len(args) in (1, 2):
        signs = [1] * len(args) if t[0] == "+" else ([-1] if len(args) == 1 else [1, -1])
        coef: dict = {}
        for s, (c, _) in zip(signs, args):
            for v, x in c.items():
                coef[v] = coef.get(v, Fraction(0)) + s * x
        return coef, sum((s * k for s, (_, k) in zip(signs, args)), Fraction(0))
    raise Reject(f"property: unsupported term {t[0]!r}")


def _dnf(f, names: set) -> list[list]:
    """A list of conjunctions of atoms (coefficients, rhs) meaning sum coef*var <= rhs."""
    if not isinstance(f, list) or not f or f[0] not in ("and", "or", "<=", ">="):
        raise Reject("property: a formula must be (and ..), (or ..), (<= a b) or (>= a b)")
    if f[0] in ("<=", ">="):
        if len(f) != 3:
            raise Reject(f"property: ({f[0]}) takes two terms")
        (ca, ka), (cb, kb) = _term(f[1], names), _term(f[2], names)
        s = 1 if f[0] == "<=" else -1  # s*(a - b) <= 0
        coef = {v: s * (ca.get(v, 0) - cb.get(v, 0)) for v in set(ca) | set(cb)}
        return [[({v: c for v, c in coef.items() if c != 0}, s * (kb - ka))]]
    parts = [_dnf(g, names) for g in f[1:]]
    if not parts:
        raise Reject(f"property: empty ({f[0]})")
    if f[0] == "or":
        return [c for p in parts for c in p]
    return functools.reduce(_conjoin, parts, [[]])


def _conjoin(p: list[list], q: list[list]) -> list[list]:
    """The DNF of (and p q), p and q DNFs."""
    out = [a + b for a in p for b in q]
    if len(out) > MAX_DISJUNCTS:
        raise Reject("property: too many disjuncts")
    return out


def regions(text: str, n_in: int, n_out: int) -> list[tuple[list, list, list]]:
    """[(lo, hi, conjunctions)]: box bounds as Fractions, conjunctions as lists of
    ({j: coefficient of Y_j}, rhs) meaning sum coef * Y_j <= rhs."""
    names: set = set()
    dnf: list[list] = [[]]
    for cmd in _tree(text):
        if not isinstance(cmd, list) or not cmd:
            raise Reject("property: stray token at top level")
        if cmd[0] == "declare-const" and len(cmd) == 3 and cmd[2] == "Real":
            kind = "X" if str(cmd[1]).startswith("X_") else "Y"
            if cmd[1] != f"{kind}_{sum(n.startswith(kind) for n in names)}":
                raise Reject(f"property: declaration {cmd[1]!r} is not the next X_i or Y_j")
            names.add(cmd[1])
        elif cmd[0] == "assert" and len(cmd) == 2:
            dnf = _conjoin(dnf, _dnf(cmd[1], names))
        else:
            raise Reject(f"property: unsupported command {cmd[0]!r}")
    if sorted(names) != sorted([f"X_{i}" for i in range(n_in)] + [f"Y_{j}" for j in range(n_out)]):
        raise Reject(f"property: must declare X_0..X_{n_in - 1} and Y_0..Y_{n_out - 1}, the network's")
    out: dict[tuple, tuple] = {}
    for conj in dnf:
        lo, hi, outs, empty = [None] * n_in, [None] * n_in, [], False
        for coef, rhs in conj:
            xs = [v for v in coef if v.startswith("X_")]
            if not coef:
                empty = empty or rhs < 0  # 0 <= rhs
            elif not xs:
                outs.append(({int(v[2:]): c for v, c in coef.items()}, rhs))
            elif len(coef) != 1:
                raise Reject("property: an input constraint must bound one X_i alone")
            else:
                i, c = int(xs[0][2:]), coef[xs[0]]
                if c > 0:  # X_i <= rhs / c
                    hi[i] = rhs / c if hi[i] is None else min(hi[i], rhs / c)
                else:
                    lo[i] = rhs / c if lo[i] is None else max(lo[i], rhs / c)
        if None in lo or None in hi:
            raise Reject("property: some X_i is not bounded above and below in a disjunct")
        if not empty and all(a <= b for a, b in zip(lo, hi)):
            out.setdefault((tuple(lo), tuple(hi)), (lo, hi, []))[2].append(outs)
    return list(out.values())
