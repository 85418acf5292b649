"""`python -m vnnc`: the `vnnc` command line."""

import sys

from vnnc.cli import main

sys.exit(main())
