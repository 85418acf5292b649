"""vnnc passes: one file per pass, the file name is the pass name."""
