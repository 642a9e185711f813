"""Files on disk, the same way everywhere: the Keras cache folder and atomic replacement.

Keras's ``save``, ``save_weights`` and ``ModelCheckpoint`` write the target
file in place: a crash or a full disk mid-write leaves a truncated file where
the last good one was. :func:`atomic_path` writes beside the target and
renames over it (``os.replace`` within one folder is atomic on POSIX and
Windows), so a reader sees the old file or the new one, never half of one.
Every module that writes a checkpoint, a cache or a state file uses it.

Example:
    >>> import numpy as np
    >>> with atomic_path(os.path.join(tmp, "features.npy"), ".npy") as part:
    ...     np.save(part, np.zeros(3))
    >>> sorted(os.listdir(tmp))
    ['features.npy']
"""

import contextlib
import json
import os
import tempfile


def keras_home():
    """The Keras folder: ``$KERAS_HOME`` if set (read now, not at import), else ``~/.keras``.

    Example:
        >>> os.path.basename(keras_home()) in (".keras", os.path.basename(os.environ.get("KERAS_HOME", "")))
        True
    """
    return os.path.expanduser(os.environ.get("KERAS_HOME") or os.path.join("~", ".keras"))


def keras_cache(subdir):
    """A folder of the Keras cache, e.g. ``keras_cache("models")`` for weight files."""
    return os.path.join(keras_home(), subdir)


@contextlib.contextmanager
def atomic_path(path, suffix=""):
    """Yield a temporary path beside ``path``; rename it over ``path`` on success, remove it on failure.

    ``suffix`` keeps the file's ending for writers that look at it (Keras
    wants ``.keras`` and ``.weights.h5``).
    """
    folder = os.path.dirname(os.path.abspath(os.fspath(path)))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=suffix)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def atomic_write_json(obj, path):
    """Write ``obj`` as JSON to ``path`` atomically; returns ``path``.

    Example:
        >>> atomic_write_json({"phase": 2}, os.path.join(tmp, "state.json")).endswith("state.json")
        True
    """
    with atomic_path(path, ".json") as tmp, open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
    return path
