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
import hashlib
import json
import os
import secrets
import stat

TEMPORARY_PREFIX = ".tmp-"
KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
         (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _judge(path, st, max_bytes, what):
    """Raise unless ``st`` is a regular file of at most ``max_bytes``; returns its size."""
    if not stat.S_ISREG(st.st_mode):
        kind = next((name for test, name in KINDS if test(st.st_mode)), "not a regular file")
        raise ValueError(f"{path} is {kind}, not a regular file; {what} is read only from a regular file "
                         "(a pipe or a device would block or never end).")
    if st.st_size > max_bytes:
        raise ValueError(f"{path} holds {st.st_size:,} bytes; {what} is at most {max_bytes:,} bytes, "
                         "so this is not such a file (or it is damaged).")
    return st.st_size


def check_regular_file(path, max_bytes, what="this file"):
    """Refuse a directory, FIFO, device or socket (symbolic links followed), or a file over ``max_bytes``.

    For files that a library opens itself: call it first. Returns the size.
    Missing files raise ``FileNotFoundError``; the rest a ``ValueError`` naming the path.

    Example:
        >>> check_regular_file("/dev/null", 100, "a state file")
        Traceback (most recent call last):
        ...
        ValueError: /dev/null is a character device, not a regular file; a state file is read only from a regular file (a pipe or a device would block or never end).
    """
    return _judge(os.fspath(path), os.stat(path), max_bytes, what)


@contextlib.contextmanager
def open_regular(path, max_bytes, what="this file"):
    """Open ``path`` for binary reading only if it is a regular file of at most ``max_bytes``.

    The file is opened without blocking (a FIFO without a writer would block
    ``open`` forever) and judged on the open descriptor, so a file swapped
    after the check is still refused.

    Example:
        >>> _ = open("notes.bin", "wb").write(b"abc")
        >>> with open_regular("notes.bin", 10) as f:
        ...     f.read()
        b'abc'
    """
    path = os.fspath(path)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        _judge(path, os.fstat(fd), max_bytes, what)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        f = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with f:
        yield f


def read_regular(path, max_bytes, what="this file"):
    """The bytes of ``path``, read only if it is a regular file of at most ``max_bytes`` (see :func:`open_regular`).

    Example:
        >>> _ = open("notes.bin", "wb").write(b"abc")
        >>> read_regular("notes.bin", 2, "a notes file")
        Traceback (most recent call last):
        ...
        ValueError: notes.bin holds 3 bytes; a notes file is at most 2 bytes, so this is not such a file (or it is damaged).
    """
    with open_regular(path, max_bytes, what) as f:
        return f.read(max_bytes + 1)[:max_bytes]


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


def json_depth(text):
    """Bracket nesting depth of JSON text, counted outside strings (no recursion, no parsing).

    Example:
        >>> json_depth('{"a": [[1], "]]]"]}')
        3
    """
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def read_json(path, max_bytes, what, max_depth=64):
    """The JSON in ``path``: a regular UTF-8 file of at most ``max_bytes``, nested at most ``max_depth`` deep.

    Every way the file can fail (a FIFO, too large, not UTF-8, not JSON, too
    deep, a number of over 4300 digits) is one ``ValueError`` naming it.

    Example:
        >>> _ = open("c.json", "w").write('{"mean": ' + "[" * 100 + "]" * 100 + "}")
        >>> read_json("c.json", 1000, "a timm config")
        Traceback (most recent call last):
        ...
        ValueError: c.json is not a timm config (JSON nested deeper than 64 levels).
    """
    data = read_regular(path, max_bytes, what)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path} is not {what} (not UTF-8 text: {err.reason} at byte {err.start}).") from None
    if json_depth(text) > max_depth:
        raise ValueError(f"{path} is not {what} (JSON nested deeper than {max_depth} levels).")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as err:  # not JSON; an integer of more than 4300 digits
        raise ValueError(f"{path} is not {what} ({type(err).__name__}: {str(err)[:200]}).") from None


def sha256_of(path):
    """The SHA-256 of the file at ``path``, as hex, read a megabyte at a time.

    Example:
        >>> _ = open("empty.bin", "wb").close()
        >>> sha256_of("empty.bin")[:12]
        'e3b0c44298fc'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def atomic_write_json(obj, path):
    """Write ``obj`` as JSON to ``path`` atomically; returns ``path``.

    Example:
        >>> atomic_write_json({"phase": 2}, os.path.join(tmp, "state.json")).endswith("state.json")
        True
    """
    with atomic_path(path, ".json") as tmp, open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
    return path
