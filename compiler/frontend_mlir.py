"""Front end for spec-dialect `.mlir` files.

The module attribute `vnnc.params` names the parameter file (safetensors, a path
relative to the .mlir file); every `spec.param` must find its entry there, with the
declared shape and hash.
"""

from __future__ import annotations

from pathlib import Path

from vnnc import safetensors
from vnnc.dialects.registry import make_context
from vnnc.dialects.spec import ParamOp, shape_of
from vnnc.errors import VnncError
from vnnc.model import Model, entry_function
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.utils.exceptions import ParseError, VerifyException

PARAMS_ATTR = "vnnc.params"


def parse_module(text: str, path: str) -> ModuleOp:
    """Parse and verify MLIR text; failures become a VnncError naming the file."""
    from xdsl.parser import Parser

    try:
        module = Parser(make_context(), text, name=path).parse_module()
    except ParseError as e:
        # one line, `file:line:col: parse error: reason`, as compilers print it
        raise VnncError(f"{e.span.get_location()}: parse error: {e.msg}") from None
    except (ValueError, KeyError, TypeError, IndexError, AssertionError) as e:
        raise VnncError(f"{path}: cannot parse the module: {e}") from None
    verify_module(module, path)
    return module


def verify_module(module: ModuleOp, path: str) -> None:
    try:
        module.verify()
    except VerifyException as e:
        first = str(e).strip().splitlines()
        raise VnncError(f"{path}: invalid IR: {_headline(first)}") from None
    except (KeyError, ValueError, TypeError, IndexError, AttributeError) as e:
        # xDSL's verifiers assume some structure (e.g. a func.func with a function_type)
        raise VnncError(f"{path}: invalid IR: {type(e).__name__} {e}") from None


def _headline(lines: list[str]) -> str:
    for line in lines:
        if line and not line.startswith(("^", "-", " ")) and "spec." in line:
            return line.strip()
    return next((line.strip() for line in lines if line.strip()), "verification failed")


def load_mlir(path: str | Path) -> Model:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise VnncError(f"{path}: cannot read: {e.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise VnncError(f"{path}: not a text file (is it an .mlir file?)") from None
    module = parse_module(text, str(path))
    try:
        entry_function(module)
    except LookupError as e:
        raise VnncError(f"{path}: {e}") from None
    params_attr = module.attributes.get(PARAMS_ATTR)
    param_ops = [op for op in module.walk() if isinstance(op, ParamOp)]
    params = {}
    if param_ops:
        if not isinstance(params_attr, StringAttr):
            raise VnncError(f"{path}: spec.param ops need a module attribute {PARAMS_ATTR} = \"FILE.safetensors\"")
        params_path = path.parent / params_attr.data
        try:
            payload = safetensors.read(params_path)
        except OSError as e:
            raise VnncError(f"{params_path}: cannot read parameters: {e.strerror}") from None
        except safetensors.SafetensorsError as e:
            raise VnncError(str(e)) from None
        for op in param_ops:
            name = op.param_name.data
            if name not in payload:
                raise VnncError(f"{path}: spec.param {name!r}: no such entry in {params_path.name}")
            array = payload[name]
            if tuple(array.shape) != shape_of(op.result):
                raise VnncError(
                    f"{path}: spec.param {name!r}: {params_path.name} holds shape {list(array.shape)}, "
                    f"the IR declares {list(shape_of(op.result))}"
                )
            if safetensors.param_sha256(array) != op.sha256.data:
                raise VnncError(f"{path}: spec.param {name!r}: sha256 does not match {params_path.name}")
            params[name] = array
    return Model(module, params, path)
