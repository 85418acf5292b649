#!/usr/bin/env bash
# The CUDA backend on a GPU host, run once from the repository root:
#     bash benchmarks/cuda_check.sh
# The host has python3 with numpy, onnx, onnxruntime, pytest, hypothesis, mpmath and torch, but
# not xdsl: its wheels (and lit, filecheck, immutabledict, ordered-set) are in .whl/. This
# installs them and vnnc into /tmp/site without the network, runs tests/e2e/test_cuda.py (its
# GPU tests included), the latency table of benchmarks/cuda_check.py, and compute-sanitizer's
# memcheck and synccheck over one run of a lane-split library. Logs go to $OUT when
# set (else to /tmp/vnnc-cuda-check): cuda_check.log, pytest.log (in full), cuda_timing.md and the
# MLP's CUDA bundle at batch 64 (model.cu, manifest.json). Meant to take under 6 minutes.
set -u
LOG_DIR="${OUT:-/tmp/vnnc-cuda-check}"
mkdir -p "$LOG_DIR"
START=$(date +%s)
step() { echo; echo "=== $* ($(( $(date +%s) - START )) s)"; }

main() {

step "host"
nvidia-smi -L || echo "nvidia-smi -L failed: no GPU tests will run"
command -v nvcc >/dev/null || export PATH="$PATH:/usr/local/cuda/bin"
nvcc --version | tail -2 || echo "nvcc not found"
python3 --version

step "install xdsl and friends from .whl/, then vnnc, into /tmp/site"
python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
if ! python3 -m pip install -q --no-index --no-deps --no-build-isolation --target /tmp/site .; then
  # no setuptools for the build: lay the packages out as pyproject.toml maps them
  echo "pip could not build vnnc; copying its packages into /tmp/site/vnnc"
  mkdir -p /tmp/site && rm -rf /tmp/site/vnnc && cp -r compiler /tmp/site/vnnc
  for p in dialects passes backends verifier; do cp -r "$p" "/tmp/site/vnnc/$p"; done
fi
export PYTHONPATH=/tmp/site
python3 -c "import xdsl, vnnc, vnnc.backends.cuda as c; print('vnnc', vnnc.__version__, 'gpu:', c.gpu_present())" \
  || { echo "vnnc does not import"; return 1; }

step "pytest tests/e2e/test_cuda.py"
python3 -m pytest -q -p no:cacheprovider -rs tests/e2e/test_cuda.py > "$LOG_DIR/pytest.log" 2>&1
TESTS=$?
tail -60 "$LOG_DIR/pytest.log"

step "latency: vnnc CUDA vs torch CUDA eager"
timeout 150 python3 benchmarks/cuda_check.py --repeats 200 --out "$LOG_DIR"
BENCH=$?

step "compute-sanitizer memcheck and synccheck: the MLP's lane-split CUDA library at batch 4, one run"
SAN=0
export PATH="$PATH:/usr/local/cuda/bin"
if command -v compute-sanitizer >/dev/null; then
  mkdir -p /tmp/vnnc-san && cp examples/mlp.safetensors /tmp/vnnc-san/
  sed 's/tensor<1x/tensor<4x/g' examples/mlp.mlir > /tmp/vnnc-san/mlp4.mlir
  python3 -c "import vnnc; vnnc.compile('/tmp/vnnc-san/mlp4.mlir', out='/tmp/vnnc-san/g', force=True, target='cuda')" \
    || SAN=1
  for tool in memcheck synccheck; do
    timeout 120 compute-sanitizer --tool $tool --error-exitcode 9 python3 -c \
      "import numpy as np; from vnnc.driver import Bundle; b = Bundle('/tmp/vnnc-san/g'); print(b.run(np.ones((4, 784), np.float32))[0, :3])" \
      || SAN=1
  done
else
  echo "compute-sanitizer not found: skipped"
fi

step "done: pytest exit $TESTS, benchmark exit $BENCH, sanitizer exit $SAN"
[ "$TESTS" -eq 0 ] && [ "$BENCH" -eq 0 ] && [ "$SAN" -eq 0 ]
}

main 2>&1 | tee "$LOG_DIR/cuda_check.log"
exit "${PIPESTATUS[0]}"
