"""Damaged archives: the many exceptions of ``zipfile`` / ``tarfile`` / ``gzip`` as one error naming the file.

A truncated download or a flipped byte surfaces from the standard library as
``BadZipFile`` (bad CRC or magic), ``RuntimeError`` (the encrypted flag),
``NotImplementedError`` (an unknown compression method), ``zlib.error``,
``EOFError``, ``OSError`` (a bad offset), ``IndexError`` or ``struct.error``
(a cut header), ``tarfile.ReadError``, ``gzip.BadGzipFile``... none of which
names the file. Inside :func:`archive_errors` each becomes a ``ValueError``
saying which archive (and member) is damaged and what to do.

Example:
    >>> _ = open("broken.zip", "wb").write(b"PK\\x03\\x04" + bytes(40))
    >>> import zipfile
    >>> with archive_errors("broken.zip"):
    ...     zipfile.ZipFile("broken.zip")
    Traceback (most recent call last):
    ...
    ValueError: broken.zip is a damaged or truncated archive (BadZipFile: File is not a zip file); ...
"""

import contextlib
import gzip
import lzma
import struct
import tarfile
import zipfile
import zlib

from zoo.files import open_regular

# What the standard library raises for a damaged zip, tar or gzip (never for a missing file).
ARCHIVE_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, tarfile.TarError, gzip.BadGzipFile, zlib.error,
                  lzma.LZMAError, EOFError, RuntimeError, NotImplementedError, IndexError, struct.error,
                  OverflowError)
_FILE_PROBLEMS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)
# Zips start with a local header (or, empty, with the end record); a text file that merely *ends*
# with an end-of-central-directory record is not one.
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
MAX_FILE_BYTES = 64 << 30  # a data file or archive; Kaggle's largest here are a few GB


def looks_like_zip(path):
    """Whether ``path`` starts as a zip archive does (``zipfile.is_zipfile`` only looks at its end).

    Example:
        >>> _ = open("t.csv", "w").write("a,b\\n1,2\\n")
        >>> looks_like_zip("t.csv")
        False
    """
    with open_regular(path, MAX_FILE_BYTES, "a data file") as f:  # a FIFO would block, a device never end
        return f.read(4) in ZIP_MAGIC


@contextlib.contextmanager
def archive_errors(where):
    """Turn a damaged archive's library exception into ``ValueError`` naming ``where`` (see module doc)."""
    try:
        yield
    except ARCHIVE_ERRORS as e:
        raise ValueError(f"{where} is a damaged or truncated archive ({type(e).__name__}: {e}); "
                         f"download it again.") from None
    except OSError as e:
        if isinstance(e, _FILE_PROBLEMS) and e.filename is not None:
            raise
        raise ValueError(f"{where} is a damaged or truncated archive ({type(e).__name__}: {e}); "
                         f"download it again.") from None
