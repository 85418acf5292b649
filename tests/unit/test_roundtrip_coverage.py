"""Every spec op has a line in the dialect's round-trip FileCheck test."""

import re
from pathlib import Path

from vnnc.dialects.spec import Spec

ROUNDTRIP = Path(__file__).resolve().parents[1] / "filecheck" / "dialects" / "spec_roundtrip.mlir"


def test_roundtrip_covers_every_spec_op():
    text = ROUNDTRIP.read_text()
    checked = set(re.findall(r"^// CHECK(?:-NEXT)?: .*?= (spec\.\w+)", text, re.MULTILINE))
    missing = sorted(op.name for op in Spec.operations if op.name not in checked)
    assert not missing, f"add these ops to {ROUNDTRIP.name}: {missing}"
