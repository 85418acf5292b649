"""vnnc dialects: spec (real-valued tensors); loops reuse xDSL func/scf/memref/arith/math."""
