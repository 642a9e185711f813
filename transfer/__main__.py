"""``python -m transfer``: the same command line as the ``transfer`` console script (see :mod:`transfer.cli`)."""

import sys

from transfer.cli import main

if __name__ == "__main__":
    sys.exit(main())
