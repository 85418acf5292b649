"""`vnnc verify --float32-sound`: a verdict that holds for the compiled float32 program.

The error analysis of issue 4 (passes/error_analysis.py) bounds, over an input box, how far
the float32 program's outputs y32 may lie from the real-valued network's y: |y32_j - y_j| <=
E_j, certified by a `roundoff` witness that verifier/roundoff.py recomputes. A constraint
c . y <= d of the property is then widened to c . y <= d + sum_j |c_j| E_j: a leaf that
refutes the widened constraint for the real network (c . y > d + sum |c_j| E_j) refutes the
original one for the float32 program, since c . y32 >= c . y - sum |c_j| E_j. The widened
property is written out as VNN-LIB (exact decimals) and decided as usual, so its
certificate is the ordinary robustness certificate the checker replays.

Here, before any verdict, the trusted checker's existing kinds accept the precision witness
(spec stage -> float32 stage) and each box's roundoff witness; the widening itself (the
arithmetic d + sum |c_j| E_j) is recomputed exactly in this module and recorded in the
bundle (manifest `float32_sound`, the original property, the fp stage, the witnesses and
the boxes), where `vnnc check` re-derives it (verifier/bundle.py, `_float32_sound`).
"""

from __future__ import annotations

import io
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from vnnc.errors import VnncError
from vnnc.vnnlib import Property, read_property


@dataclass
class Widening:
    prop: Property  # the widened property, read back from its text
    original: Property
    fp_text: str
    precision_witness: dict
    roundoff: list  # per box: (witness, box .npz bytes, E (n_out,))


def exact_decimal(q: Fraction) -> str:
    """q as an exact decimal when its denominator is 2^a 5^b (every float, every decimal and
    their sums are); otherwise an error (not needed here)."""
    q = Fraction(q)
    den, twos, fives = q.denominator, 0, 0
    while den % 2 == 0:
        den, twos = den // 2, twos + 1
    while den % 5 == 0:
        den, fives = den // 5, fives + 1
    if den != 1:
        raise VnncError(f"internal: {q} has no finite decimal expansion")
    k = max(twos, fives)  # q 10^k is an integer
    digits = str(abs(q.numerator) * 10**k // q.denominator).rjust(k + 1, "0")
    sign = "-" if q < 0 else ""
    return sign + (digits[:-k] + "." + digits[-k:] if k else digits)


def property_text(prop: Property, errors: list[np.ndarray]) -> str:
    """VNN-LIB of `prop` with every output constraint of box i widened by errors[i]."""
    out = ["; the property, each output constraint c . y <= d widened to d + sum |c_j| E_j, E the",
           "; certified float32 roundoff bound over its box (vnnc verify --float32-sound)"]
    out += [f"(declare-const X_{i} Real)" for i in range(prop.n_inputs)]
    out += [f"(declare-const Y_{j} Real)" for j in range(prop.n_outputs)]
    boxes = []
    for region, err in zip(prop.regions, errors):
        box = " ".join(f"(>= X_{i} {exact_decimal(a)}) (<= X_{i} {exact_decimal(b)})"
                       for i, (a, b) in enumerate(zip(region.lo, region.hi)))
        conjs = []
        for conj in region.conjunctions:
            atoms = []
            for con in conj:
                widen = sum((abs(c) * Fraction(float(err[j])) for j, c in con.coef), Fraction(0))
                lhs = "(+ " + " ".join(f"(* {exact_decimal(c)} Y_{j})" for j, c in con.coef) + ")"
                atoms.append(f"(<= {lhs} {exact_decimal(con.rhs + widen)})")
            conjs.append("(and " + " ".join(atoms) + ")" if atoms else "(and (<= 0 0))")
        boxes.append(f"  (and {box}\n    (or {' '.join(conjs)}))")
    return "\n".join(out) + "\n(assert (or\n" + "\n".join(boxes) + "\n))\n"


def widen(problem, log) -> Widening:
    """The float32 stage, its certified roundoff bound over every box of the property (each
    witness accepted by the checker), and the widened property."""
    from vnnc.driver import load_model, run_pipeline
    from vnnc.passes import error_analysis
    from vnnc.passes.assign_precision import AssignPrecisionPass
    from vnnc.verifier.check import check, sha256
    from vnnc.verify import params_bytes

    model = load_model(problem.model_path)
    stages = run_pipeline(model, [AssignPrecisionPass(precision="f32")])
    fp_text, prec = stages[1].text, dict(stages[1].witness)
    prec.update(source_sha256=sha256(stages[0].text), target_sha256=sha256(fp_text))
    verdict = check(stages[0].text, fp_text, prec)
    if not verdict:
        raise VnncError(f"internal: the checker rejected the precision witness ({verdict.reason})")
    data = params_bytes(problem.params)
    shape = problem.net.input_shape
    roundoff, errors = [], []
    for i, region in enumerate(problem.prop.regions):
        lo, hi = (v.reshape(shape) for v in region.box)
        buf = io.BytesIO()
        np.savez(buf, lo=lo, hi=hi)
        box = buf.getvalue()
        try:
            w = error_analysis.witness(fp_text, problem.params, data, lo, hi, box)
        except error_analysis.AnalysisError as e:
            raise VnncError(f"--float32-sound: {problem.model_path}: {e}") from None
        verdict = check(fp_text, fp_text, w, {"box": box, "params": data})
        if not verdict:
            raise VnncError(f"internal: the checker rejected the roundoff witness ({verdict.reason})")
        err = np.asarray(w["claims"]["abs"], np.float64).reshape(-1)
        log(f"box {i + 1}/{len(problem.prop.regions)}: float32 roundoff bound up to {err.max():.3g} "
            f"(checked), the property widened by it")
        roundoff.append((w, box, err))
        errors.append(err)
    text = property_text(problem.prop, errors)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "widened.vnnlib"
        path.write_text(text)
        widened = read_property(path, problem.prop.n_inputs, problem.prop.n_outputs)
    widened.path = Path(f"{problem.prop.path} (widened for float32)")
    return Widening(widened, problem.prop, fp_text, prec, roundoff)
