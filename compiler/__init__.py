"""vnnc: a verified neural-network compiler.

Kept free of heavy imports: `vnnc check` must work where xDSL cannot be imported.
"""

__version__ = "0.1.0"


def compile(model, **options):
    """Compile MODEL (a path to .mlir / .onnx) into a bundle; see `vnnc.driver.compile_model`."""
    from vnnc.driver import compile_model

    return compile_model(model, **options)
