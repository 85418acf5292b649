"""The model function keeps its temporaries between calls, one workspace per thread.

backends/c.py allocates the model function's temporaries on a thread's first call and
reuses them; threads calling the same library at once must not share them. Two threads
run one model on different inputs concurrently (ctypes releases the GIL during the
call) and every result must equal the one computed alone.
"""

from __future__ import annotations

import threading

import numpy as np
import vnnc
from vnnc import safetensors
from vnnc.backends.runner import Runner

# long enough calls (several temporaries of 256k floats) that the two threads overlap
MODEL = """\
builtin.module {
  func.func @main(%x: tensor<1x262144xf32> {vnnc.name = "x"}) -> (tensor<1x262144xf32> {vnnc.name = "y"}) {
    %a = spec.neg %x : (tensor<1x262144xf32>) -> tensor<1x262144xf32>
    %b = spec.exp %a : (tensor<1x262144xf32>) -> tensor<1x262144xf32>
    %c = spec.mul %b, %x : (tensor<1x262144xf32>, tensor<1x262144xf32>) -> tensor<1x262144xf32>
    %d = spec.tanh %c : (tensor<1x262144xf32>) -> tensor<1x262144xf32>
    %y = spec.add %d, %a : (tensor<1x262144xf32>, tensor<1x262144xf32>) -> tensor<1x262144xf32>
    func.return %y : tensor<1x262144xf32>
  }
}
"""


def test_concurrent_calls_do_not_share_temporaries(tmp_path):
    (tmp_path / "m.mlir").write_text(MODEL)
    bundle = vnnc.compile(tmp_path / "m.mlir", out=tmp_path / "b", force=True)
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((1, 262144)).astype(np.float32) for _ in range(2)]
    alone = [bundle.run(x) for x in xs]
    params = safetensors.read(bundle.path / bundle.manifest["params"]["file"])
    library = bundle.path / bundle.manifest["artifacts"]["library"]
    runners = [Runner(library, params, bundle.inputs, bundle.outputs) for _ in xs]  # own buffers each
    bad = []

    def work(k: int) -> None:
        for _ in range(100):
            y = runners[k].run(xs[k])[0]
            if not np.array_equal(y, alone[k]):
                bad.append(k)
                return

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert bad == []
    # and a second sequential call on the same thread reuses the workspace correctly
    assert np.array_equal(bundle.run(xs[1]), alone[1]) and np.array_equal(bundle.run(xs[0]), alone[0])
