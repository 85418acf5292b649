"""VNN-COMP 2021 categories with `vnnc verify`: decided, wrong, and time per instance.

    .venv/bin/python benchmarks/verify_vnncomp.py acasxu [--jobs 2] [--only 'prop_[1-4]\\.']
    .venv/bin/python benchmarks/verify_vnncomp.py mnistfc
    .venv/bin/python benchmarks/verify_vnncomp.py test

Runs `vnnc verify --instances` (resumable: results go to benchmarks/results/<category>.csv,
so a category can be run in parts) and prints the table. Every decided answer's certificate
was accepted by vnnc.verifier before it was counted; `check_seconds` is the checker's time.
The expected verdicts of the test category are its file names (test_sat, test_unsat).
"""

from __future__ import annotations

import argparse
import csv
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "vnncomp2021"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("category", choices=("acasxu", "mnistfc", "test"))
    ap.add_argument("--jobs", default="1")
    ap.add_argument("--only", help="regular expression on 'MODEL,PROPERTY' to run a subset")
    args = ap.parse_args()
    source = DATA / args.category / f"{args.category}_instances.csv"
    if not source.exists():
        print(f"{source} is absent", file=sys.stderr)
        return 1
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    rows = [line for line in source.read_text().splitlines() if line.strip()]
    if args.only:
        rows = [r for r in rows if re.search(args.only, r)]
    instances = out / f"{args.category}_instances.csv"
    lines = []
    for r in rows:
        model, prop, timeout = r.split(",")[:3]
        expected = "sat" if "test_sat" in model else "unsat" if "test_unsat" in model else ""
        lines.append(f"{DATA / args.category / model},{DATA / args.category / prop},{timeout},{expected}")
    instances.write_text("\n".join(lines) + "\n")
    results = out / f"{args.category}.csv"
    rc = subprocess.call([sys.executable, "-m", "vnnc", "verify", "--instances", str(instances),
                          "--results", str(results), "--jobs", args.jobs])
    with open(results, newline="") as f:
        done = {(Path(r["model"]).name, Path(r["property"]).name): r for r in csv.DictReader(f)}
    keys = [(Path(line.split(",")[0]).name, Path(line.split(",")[1]).name) for line in lines]
    table = [done[k] for k in keys if k in done]
    decided = [r for r in table if r["verdict"] in ("holds", "violated")]
    print(f"{'model':<36} {'property':<22} {'verdict':<9} {'seconds':>8} {'check s':>8} {'leaves':>7}")
    for r in table:
        print(f"{Path(r['model']).name:<36} {Path(r['property']).name:<22} {r['verdict']:<9} "
              f"{float(r['seconds']):8.2f} {float(r['check_seconds']):8.2f} {r['leaves']:>7}")
    print(f"{args.category}: {len(decided)}/{len(table)} decided; verify {sum(float(r['seconds']) for r in table):.1f} s, "
          f"check {sum(float(r['check_seconds']) for r in table):.1f} s in all")
    return rc


if __name__ == "__main__":
    sys.exit(main())
