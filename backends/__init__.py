"""vnnc backends: the C printer, build and runner."""
