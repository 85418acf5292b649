# vnnc: `make demo` compiles and runs the bundled MLP; `make test` runs pytest and lit.
# Both create .venv and install vnnc (with its onnx and test extras) on first use.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[onnx,test]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/vnnc compile examples/mlp.mlir -o build/mlp --force
	$(PY) -c "import numpy as np; np.save('build/mlp-input.npy', np.random.default_rng(0).random((1, 784), dtype=np.float32))"
	$(BIN)/vnnc run build/mlp --input build/mlp-input.npy

test: $(VENV)/.installed
	$(PY) -m pytest tests
	$(BIN)/lit -q tests/filecheck

lint: $(VENV)/.installed
	$(BIN)/ruff check .

bench: $(VENV)/.installed
	$(PY) benchmarks/inference.py

clean:
	rm -rf build
