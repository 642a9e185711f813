"""``python -m transfer``: see ``python -m transfer --help``."""

import sys

from transfer.cli import main

sys.exit(main())
