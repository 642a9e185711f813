"""The tutorials' shared first cell: read the run's settings, make its output folder, keep its results.

Every notebook starts with::

    from zoo.notebook import setup
    QUICK, DATA_DIR, DOWNLOAD, OUT, RESULTS = setup("02_cifar10")

and ends with ``print(RESULTS.save())``. The settings come from the
environment, so the same notebook runs interactively, in the tests and in the
documentation build:

* ``ZOO_QUICK=1``: quick mode, a few epochs on a small sample (tests and docs).
* ``DATA_DIR``: the user's copy of the real data set; unset, the notebook
  uses an offline stand-in and says so.
* ``ZOO_DOWNLOAD=1``: let the loaders download the real data and weights.
* ``ZOO_OUTPUT_DIR``: where ``<notebook name>/`` with the figures and
  ``results.json`` goes (default ``outputs``).

Example:
    >>> run = setup("01_convolution_arithmetic", output_dir=tmp)
    >>> quick, data_dir, download, out, results = run
    >>> results["answer"] = 42
    >>> print(results.save())                        # doctest: +ELLIPSIS
    {
      "answer": 42,
      "seconds": ...
    }
    >>> sorted(os.listdir(out))
    ['results.json']
"""

import json
import logging
import os
import pathlib
import time
from typing import NamedTuple, Optional

from zoo.files import atomic_write_json


class Results(dict):
    """The figures a notebook reports, saved as ``results.json`` in its output folder (the tests read it)."""

    def __init__(self, path):
        super().__init__()
        self.path = pathlib.Path(path)
        self.started = time.perf_counter()

    def save(self):
        """Add the seconds since :func:`setup`, write ``results.json`` atomically; return its text.

        Example:
            >>> results = Results(os.path.join(tmp, "results.json"))
            >>> "seconds" in results.save()
            True
        """
        self["seconds"] = round(time.perf_counter() - self.started, 1)
        atomic_write_json(json.loads(json.dumps(self, default=float)), self.path)  # NumPy numbers as floats
        return json.dumps(self, indent=2, default=float)


class NotebookSetup(NamedTuple):
    """What :func:`setup` returns; unpacks as ``QUICK, DATA_DIR, DOWNLOAD, OUT, RESULTS``."""

    quick: bool
    data_dir: Optional[str]
    download: bool
    out: pathlib.Path
    results: Results


def setup(name, output_dir=None):
    """Settings of a tutorial run from the environment, and its output folder ``<output_dir>/<name>``.

    ``output_dir`` defaults to ``$ZOO_OUTPUT_DIR``, else ``outputs`` (relative
    to the notebook). Quiets TensorFlow's Python warnings (not its errors).
    Returns a :class:`NotebookSetup`.

    Example:
        >>> setup("06_transfer_learning", output_dir=tmp).out.name
        '06_transfer_learning'
    """
    out = pathlib.Path(output_dir or os.environ.get("ZOO_OUTPUT_DIR") or "outputs") / name
    out.mkdir(parents=True, exist_ok=True)
    # TensorFlow's Python warnings (tf.function retracing notes when a lesson builds models in a loop)
    # would bury the lesson's own output; errors still show.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    return NotebookSetup(quick=os.environ.get("ZOO_QUICK") == "1", data_dir=os.environ.get("DATA_DIR") or None,
                         download=os.environ.get("ZOO_DOWNLOAD") == "1", out=out,
                         results=Results(out / "results.json"))
