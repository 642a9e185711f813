"""Files on disk, the same way everywhere: the Keras cache folder and atomic replacement.

Keras's ``save``, ``save_weights`` and ``ModelCheckpoint`` write the target
file in place: a crash or a full disk mid-write leaves a truncated file where
the last good one was. :func:`atomic_path` writes beside the target and
renames over it (``os.replace`` within one folder is atomic on POSIX and
Windows), so a reader sees the old file or the new one, never half of one.
The data is flushed to the disk (``fsync``) before the rename and the folder
after it, so a power cut cannot leave a renamed but empty file either. The
file follows the umask like any file the process creates. A killed writer
leaves its ``.tmp-*`` file behind; :func:`remove_temporaries` clears them
where one writer owns the folder (a checkpoint folder does). Every module
that writes a checkpoint, a cache or a state file uses these.

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
import secrets

TEMPORARY_PREFIX = ".tmp-"


def keras_home():
    """The Keras folder: ``$KERAS_HOME`` if set (read now, not at import), else ``~/.keras``.

    Example:
        >>> os.path.basename(keras_home()) in (".keras", os.path.basename(os.environ.get("KERAS_HOME", "")))
        True
    """
    return os.path.expanduser(os.environ.get("KERAS_HOME") or os.path.join("~", ".keras"))


def keras_cache(subdir):
    """A folder of the Keras cache, e.g. ``keras_cache("models")`` for weight files.

    Example:
        >>> os.path.basename(keras_cache("models"))
        'models'
    """
    return os.path.join(keras_home(), subdir)


def _new_temporary(folder, suffix):
    """Create an empty, uniquely named file in ``folder``; 0o666 less the umask (mkstemp would give 0600)."""
    while True:
        tmp = os.path.join(folder, f"{TEMPORARY_PREFIX}{secrets.token_hex(6)}{suffix}")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:  # 48 random bits: practically never
            continue


def _fsync(path, directory=False):
    """Flush ``path``'s data (or a folder's entries) to the disk."""
    if directory and os.name != "posix":
        return  # Windows cannot open a folder; its rename is already durable once it returns
    fd = os.open(path, os.O_RDONLY if directory else os.O_RDWR)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path, suffix=""):
    """Yield a temporary path beside ``path``; rename it over ``path`` on success, remove it on failure.

    ``suffix`` keeps the file's ending for writers that look at it (Keras
    wants ``.keras`` and ``.weights.h5``). The writer must have closed the
    file when the block ends; it is then synced, renamed, and the folder synced.

    Example:
        >>> with atomic_path("notes.txt") as part, open(part, "w") as f:
        ...     _ = f.write("complete or absent")
        >>> open("notes.txt").read()
        'complete or absent'
    """
    folder = os.path.dirname(os.path.abspath(os.fspath(path)))
    os.makedirs(folder, exist_ok=True)
    tmp = _new_temporary(folder, suffix)
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _fsync(folder, directory=True)


def remove_temporaries(folder):
    """Remove the ``.tmp-*`` files that killed writers left in ``folder``; returns their names.

    Only for a folder that one writer owns: another process's write in
    progress would lose its temporary file.

    Example:
        >>> open(".tmp-3f9a2c.keras", "w").close()
        >>> remove_temporaries(".")
        ['.tmp-3f9a2c.keras']
    """
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        return []
    stale = sorted(n for n in os.listdir(folder) if n.startswith(TEMPORARY_PREFIX))
    for name in stale:
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(folder, name))
    return stale


def atomic_write_json(obj, path):
    """Write ``obj`` as JSON to ``path`` atomically; returns ``path``.

    Example:
        >>> atomic_write_json({"phase": 2}, os.path.join(tmp, "state.json")).endswith("state.json")
        True
    """
    with atomic_path(path, ".json") as tmp, open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
    return path
