"""The trusted checker stays small enough to be read: its line count is watched.

DESIGN.md caps the checker at 3,000 lines for every witness kind together. The cap is on
code: the non-blank lines of verifier/*.py that are neither comments nor docstrings. The
explanations are not counted because they make the code faster to read (each check cites
the algorithm it implements and states its math); counting them would reward deleting
them. Both numbers are printed (`pytest -s` shows them), per file. What the checker may
import (the standard library, numpy, mpmath and itself) is checked by
tests/unit/test_verifier_wellformed.py,
`test_verifier_imports_only_stdlib_numpy_mpmath_and_itself`.
"""

from __future__ import annotations

import ast
from pathlib import Path

VERIFIER = Path(__file__).resolve().parents[2] / "verifier"
BUDGET = 3000  # DESIGN.md: every witness kind together stays readable in a day


def explanation_lines(source: str) -> set[int]:
    """Line numbers (1-based) of docstrings and of comment-only lines."""
    lines = {i for i, line in enumerate(source.splitlines(), 1) if line.strip().startswith("#")}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) \
                and ast.get_docstring(node, clean=False) is not None:
            lines.update(range(node.body[0].lineno, node.body[0].end_lineno + 1))
    return lines


def counts(source: str) -> tuple[int, int]:
    """(code lines, non-blank lines)."""
    explained = explanation_lines(source)
    nonblank = [i for i, line in enumerate(source.splitlines(), 1) if line.strip()]
    return sum(1 for i in nonblank if i not in explained), len(nonblank)


def test_counting_separates_code_from_explanations():
    source = '"""Module.\n\nMore."""\n\n# why\nx = 1  # trailing comment counts as code\n\n\ndef f():\n' \
             '    """Doc."""\n    return x\n'
    assert counts(source) == (3, 7)


def test_checker_line_count_is_within_budget():
    per_file = {p.name: counts(p.read_text()) for p in sorted(VERIFIER.glob("*.py"))}
    assert per_file, "no verifier/*.py found"
    code = sum(c for c, _ in per_file.values())
    nonblank = sum(n for _, n in per_file.values())
    print(f"verifier/: {code} lines of code, {nonblank} non-blank lines with docstrings and comments")
    for name, (c, n) in per_file.items():
        print(f"  {name:16} {c:5} {n:5}")
    assert code <= BUDGET, f"verifier/ has {code} lines of code, over its budget of {BUDGET}: {per_file}"
