"""The old name of :mod:`zoo.checks`, the argument checks (kept for one release).

``validation`` also names the validation data in ``fine_tune``; the checks are ``zoo.checks`` now.
"""

from zoo.checks import *  # noqa: F401,F403
from zoo.checks import __all__  # noqa: F401
