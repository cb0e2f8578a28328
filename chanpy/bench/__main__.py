"""``python -m chanpy.bench``: see ``chanpy.bench.cli``."""

import sys

from chanpy.bench.cli import main

sys.exit(main(prog="python -m chanpy.bench"))
