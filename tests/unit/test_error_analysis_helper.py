"""The split search's helper process (passes/error_analysis.py, `start_helper`, and
vnnc.parallel): the upper half of every split is evaluated in a forked process while the
search evaluates the lower half. The claims must be those of the search alone, bit for bit;
an error in the helper must reach the caller; numpy's BLAS gets its thread count back."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import vnnc
from test_roundoff import write_box, write_mlp
from vnnc.frontend_mlir import parse_module
from vnnc.parallel import openblas_threads
from vnnc.passes import error_analysis as ea

needs_helper = pytest.mark.skipif(openblas_threads() is None or not hasattr(os, "fork"),
                                  reason="no OpenBLAS whose threads can be set, or no fork: the search runs alone")


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    """An MLP in f16 over a box wide enough to be split many times: (fp stage, params, box)."""
    tmp = tmp_path_factory.mktemp("helper")
    path, params = write_mlp(tmp, sizes=(3, 16, 16, 2), seed=7, name="helper")
    lo, hi = np.full((1, 3), -2.0), np.full((1, 3), 2.0)
    bundle = vnnc.compile(path, out=tmp / "b", precision={"precision": "f16"},
                          input_box=write_box(tmp / "box.npz", lo, hi))
    text = (bundle.path / "stages" / "01-assign-precision.mlir").read_text()
    return text, params, lo, hi


@needs_helper
def test_helper_gives_the_claims_of_the_search_alone(stage, monkeypatch):
    text, params, lo, hi = stage
    started = []
    real_start = ea.start_helper

    def start(*args):
        started.append(real_start(*args))
        return started[-1]

    monkeypatch.setattr(ea, "start_helper", start)
    with_helper = ea.analyse(parse_module(text, "fp"), params, lo, hi, max_leaves=40)
    assert started and started[0] is not None
    monkeypatch.setattr(ea, "start_helper", lambda *args: None)
    alone = ea.analyse(parse_module(text, "fp"), params, lo, hi, max_leaves=40)
    assert ea.count_leaves(alone["tree"]) > 4
    assert json.dumps(with_helper, sort_keys=True) == json.dumps(alone, sort_keys=True)


@needs_helper
def test_helper_restores_the_blas_threads_and_reports_its_errors(stage, monkeypatch):
    text, params, lo, hi = stage
    get, put = openblas_threads()
    before = get()
    put(2)  # the helper's search runs BLAS on one thread, then gives back 2
    me = os.getpid()
    real = ea.evaluate

    def failing(prog, params_, lo_, hi_, parent=None, blocks=None):
        if os.getpid() != me:  # the helper (forked with this function in place) fails
            raise ea.AnalysisError("an error inside the split search")
        return real(prog, params_, lo_, hi_, parent, blocks)

    monkeypatch.setattr(ea, "evaluate", failing)
    with pytest.raises(ea.AnalysisError, match="an error inside the split search"):
        ea.analyse(parse_module(text, "fp"), params, lo, hi, max_leaves=40)
    restored = get()
    put(before)
    assert restored == 2


def test_no_helper_beside_other_threads():
    """A fork copies only the forking thread; with another Python thread running, no helper."""
    import threading

    from vnnc import parallel

    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert parallel.Helper.start(lambda: None) is None
    finally:
        stop.set()
        other.join()
    if openblas_threads() is not None and parallel.cores() >= 2:  # and one once it is gone
        helper = parallel.Helper.start(lambda x: x + 1)
        assert helper is not None
        helper.submit(41)
        assert helper.result() == 42
        helper.close()
