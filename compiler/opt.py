"""vnnc-opt: xdsl-opt over vnnc's dialects, passes and targets (`mlir`, `c`).

Everything xdsl-opt does keeps working (`-p a,b{opt=v}`, `--verify-diagnostics`,
`--split-input-file`, `--print-op-generic`, ...). Added:

- `--print-ir-after-all`: the IR after every pass, the last one included, on stdout
  before the normal output, each preceded by `// -----// IR after PASS //----- //`.
- `--witness-dir DIR`: the passes run inside a witness collector and every recorded
  witness is written to `DIR/NN-<pass>.json` (NN counts the pipeline from 01, as the
  stages of a bundle do), with `source_sha256` / `target_sha256` of the generic-form
  texts before and after the pass. With `--split-input-file`, chunk K > 0 writes
  `cK-NN-<pass>.json`.

Errors are for people: a parse or verification error prints xDSL's diagnostic (the op,
its location and the message), any other failure one `vnnc-opt: error:` line; both exit 1
without a Python traceback (set VNNC_DEBUG=1 to see it). The output file (`-o`) is
written only once everything succeeded and is never the input file itself.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import IO

from vnnc import __version__
from vnnc.errors import VnncError
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass, PassPipeline
from xdsl.utils.exceptions import DiagnosticException, ParseError
from xdsl.utils.target import Target
from xdsl.xdsl_opt_main import xDSLOptMain

PROG = "vnnc-opt"


@dataclass(frozen=True)
class CSourceTarget(Target):
    """`-t c`: the C printer's source for a loop-level module, ABI wrappers included."""

    name = "c"

    def emit(self, ctx: Context, module: ModuleOp, output: IO[str]) -> None:
        from vnnc.backends.c import CPrintError, abi_source, emit_c

        try:
            src, params = emit_c(module)
            abi, _header = abi_source(module, params)
        except CPrintError as e:
            raise VnncError(f"-t c: {e}") from None
        except StopIteration:
            raise VnncError("-t c: the module has no func.func @main") from None
        output.write(src + abi)


def _mlir_target():
    from xdsl.targets.mlir import MLIRTarget

    return MLIRTarget


class _HeldOutput(StringIO):
    """The `-o` text, kept in memory so that a failure leaves the output file untouched."""

    def close(self) -> None:  # the base driver closes its output stream on every exit
        pass


class VnncOptMain(xDSLOptMain):
    version_format = f"vnnc-opt {__version__} (xdsl {{xdsl_version}})"

    def __init__(self, args: Sequence[str] | None = None):
        self._held: _HeldOutput | None = None
        self._sink: list[dict] | None = None
        self._chunk = 0
        self._chunks_seen = 0
        super().__init__(description="vnnc's modular optimizer driver (in the manner of xdsl-opt)",
                         args=args)

    # ---------------------------------------------------------------- registries

    def register_all_dialects(self) -> None:
        from vnnc.dialects.registry import DIALECTS

        for dialect in DIALECTS:
            self.ctx.load_dialect(dialect)

    def register_all_passes(self) -> None:
        from vnnc.passes.registry import PASS_FACTORIES

        for name, factory in PASS_FACTORIES.items():
            self.register_pass(name, factory)

    def register_all_targets(self) -> None:
        self.available_targets["mlir"] = _mlir_target
        self.available_targets["c"] = lambda: CSourceTarget

    def register_all_arguments(self, arg_parser) -> None:
        super().register_all_arguments(arg_parser)
        arg_parser.prog = PROG
        arg_parser.add_argument(
            "--print-ir-after-all", action="store_true", default=False,
            help="print the IR after every pass (the last included) to stdout, each after a "
                 "'// -----// IR after PASS //----- //' line, before the normal output",
        )
        arg_parser.add_argument(
            "--witness-dir", metavar="DIR", default=None,
            help="write every witness the passes record to DIR/NN-<pass>.json (DIR is created)",
        )

    # ---------------------------------------------------------------- the pipeline

    def setup_pipeline(self) -> None:
        super().setup_pipeline()
        base = self.pipeline.callback
        state: dict = {}

        def callback(prev: ModulePass | None, module: ModuleOp, nxt: ModulePass | None) -> None:
            if base is not None:
                base(prev, module, nxt)  # verifies, times, --print-between-passes
            if prev is None:
                state["index"] = 0
                state["text"] = _generic_text(module) if self.args.witness_dir else None
                state["seen"] = len(self._sink) if self._sink is not None else 0
                return
            state["index"] += 1
            if self.args.witness_dir:
                after = _generic_text(module)
                fresh = self._sink[state["seen"]:]
                state["seen"] = len(self._sink)
                self._write_witnesses(state["index"], prev.name, fresh, state["text"], after)
                state["text"] = after
            if self.args.print_ir_after_all:
                print(f"// -----// IR after {prev.name} //----- //")
                print(module)

        self.pipeline = PassPipeline(self.pipeline.passes, callback)

    def apply_passes(self, prog: ModuleOp) -> None:
        from vnnc.passes import witness

        try:
            with witness.collecting() as sink:
                self._sink = sink
                super().apply_passes(prog)
        finally:
            self._sink = None

    def parse_chunk(self, chunk: IO[bytes], file_extension: str, start_offset: int = 0):
        self._chunk = self._chunks_seen  # witnesses of chunk K > 0 are named cK-...
        self._chunks_seen += 1
        return super().parse_chunk(chunk, file_extension, start_offset)

    def _write_witnesses(self, index: int, pass_name: str, records: list[dict],
                         source: str | None, target: str) -> None:
        import hashlib

        out = Path(self.args.witness_dir)
        prefix = f"c{self._chunk}-" if self._chunk else ""
        for k, record in enumerate(records):
            suffix = f".{k}" if len(records) > 1 else ""
            name = f"{prefix}{index:02d}-{record.get('pass', pass_name)}{suffix}.json"
            body = dict(record,
                        source_sha256=hashlib.sha256((source or "").encode()).hexdigest(),
                        target_sha256=hashlib.sha256(target.encode()).hexdigest())
            (out / name).write_text(json.dumps(body, indent=1) + "\n")

    # ---------------------------------------------------------------- input and output

    def prepare_output(self) -> IO[str]:
        if self.args.output_file is None:
            return sys.stdout
        self._held = _HeldOutput()
        return self._held

    def run(self) -> None:
        out = self.args.output_file
        src = self.args.input_file
        if out is not None and src is not None and _same_file(out, src):
            raise VnncError(f"{out}: -o names the input file; refusing to overwrite it")
        if self.args.witness_dir:
            Path(self.args.witness_dir).mkdir(parents=True, exist_ok=True)
        super().run()
        if self._held is not None:
            Path(out).write_text(self._held.getvalue())


def _generic_text(module: ModuleOp) -> str:
    from vnnc.driver import generic_text

    return generic_text(module)


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    debug = os.environ.get("VNNC_DEBUG") == "1"
    try:
        VnncOptMain(args=argv).run()
    except SystemExit as e:  # argparse (2), --version and --shrink
        code = e.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except ParseError as e:
        print(str(e).rstrip("\n"), file=sys.stderr)
        return 1
    except DiagnosticException as e:
        print(str(e).rstrip("\n"), file=sys.stderr)
        for note in getattr(e, "__notes__", ()):
            print(note, file=sys.stderr)
        return 1
    except VnncError as e:
        return _fail(str(e))
    except BrokenPipeError:  # `vnnc-opt ... | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as e:
        where = f"{e.filename}: " if e.filename else ""
        return _fail(f"{where}{e.strerror or e}")
    except UnicodeDecodeError:
        return _fail("the input is not UTF-8 text (is it an .mlir file?)")
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # noqa: BLE001 -- the last resort: a report, not a traceback
        if debug:
            traceback.print_exc()
        lines = str(e).strip().splitlines()
        message = lines[0] if lines else type(e).__name__
        if isinstance(e, ValueError) or type(e).__module__.startswith("vnnc."):
            return _fail(message)  # a refused pipeline, a failing vnnc pass or printer
        return _fail(f"internal error: {type(e).__name__}: {message} (please report)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
