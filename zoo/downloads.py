"""Downloads into the Keras cache that fail, offline, with one line saying what to do.

``keras.utils.get_file`` ends a failed download in a bare ``Exception``
("URL fetch failure ... Name or service not known") under several chained
tracebacks, with no advice. :func:`get_file` calls it and, on failure, raises
:class:`DownloadUnavailableError` naming the URL, the file, the folder to put
it in and the argument to pass instead, without the chain (the network error
is summarised in the message).

Example:
    >>> import keras
    >>> def offline(*args, **kwargs):
    ...     raise Exception("URL fetch failure on https://example.org/a.h5: None -- no network")
    >>> keras.utils.get_file, real = offline, keras.utils.get_file
    >>> try:
    ...     get_file("a.h5", "https://example.org/a.h5", "models", "The file", "pass weights='/path/to/a.h5'")
    ... except DownloadUnavailableError as err:
    ...     print(err)
    The file is not in the Keras cache and could not be downloaded from https://example.org/a.h5 (no network). Put the file at .../models/a.h5 (it is used from there without a network), or pass weights='/path/to/a.h5'.
    >>> keras.utils.get_file = real
"""

import os
import re

from zoo import files


class DownloadUnavailableError(OSError):
    """A file is neither in the local cache nor downloadable (offline, or the download failed)."""


def _reason(err):
    text = " ".join(str(err).split()) or type(err).__name__  # Keras's message spans lines
    text = re.sub(r"^URL fetch failure on \S+: (None -- )?", "", text)  # the URL is in our message already
    return text if len(text) <= 200 else text[:200] + "..."


def get_file(fname, origin, cache_subdir, what, instead, file_hash=None, error=DownloadUnavailableError):
    """``keras.utils.get_file`` into ``$KERAS_HOME/<cache_subdir>``; on failure one ``error`` that says what to do.

    Args:
        fname, origin, file_hash: as for ``keras.utils.get_file`` (sha256 or md5, told apart by length).
        cache_subdir: the folder of the Keras cache (``models``, ``datasets``).
        what: the subject of the message, e.g. ``"CIFAR-10 (python version)"``.
        instead: the other way, e.g. ``"pass data_dir='/path/to/cifar-10-python.tar.gz'"``.
        error: the exception class raised (a subclass of OSError).
    """
    import keras  # the Keras cache and downloader, only when a file is fetched

    folder = files.keras_cache(cache_subdir)
    try:
        return keras.utils.get_file(fname=fname, origin=origin, cache_subdir=cache_subdir, cache_dir=files.keras_home(),
                                    file_hash=file_hash)
    except Exception as err:  # get_file raises a bare Exception on network failures
        reason = _reason(err)
    raise error(f"{what} is not in the Keras cache and could not be downloaded from {origin} ({reason}). "
                f"Put the file at {os.path.join(folder, fname)} (it is used from there without a network), "
                f"or {instead}.")
