"""Checking folders of image files before training: full decode, parallel, cached, with progress.

Real photo collections hold files that crash a training run halfway through an
epoch: empty files, truncated JPEGs, ``Thumbs.db``, formats TensorFlow cannot
decode. ``check_files`` decodes every file completely once (Pillow's ``verify``
and then ``load``), in a thread pool (Pillow releases the GIL while decoding),
shows a ``keras.utils.Progbar``, and remembers the verdicts in a small JSON cache
keyed by path, size and modification time, so the next run only re-checks files
that changed.

Example:
    >>> verdicts = check_files(["a.jpg", "b.jpg"])   # doctest: +SKIP
    >>> verdicts                                      # doctest: +SKIP
    {'a.jpg': None, 'b.jpg': 'truncated or corrupt: image file is truncated'}
"""

import concurrent.futures
import hashlib
import json
import logging
import os
import tempfile
import zipfile

logger = logging.getLogger(__name__)

# What tf.io.decode_image decodes; Pillow reads more (TIFF, WebP, ICO...) but such a
# file would fail later inside the tf.data pipeline, so it is skipped here.
TF_DECODABLE = ("JPEG", "PNG", "GIF", "BMP")


def check_image(path):
    """Return None if ``path`` is an image TensorFlow can decode, else the reason it is not.

    Example:
        >>> check_image("PetImages/Cat/666.jpg")   # doctest: +SKIP
        'empty file'
    """
    from PIL import Image, UnidentifiedImageError

    try:
        if os.path.getsize(path) == 0:
            return "empty file"
        with Image.open(path) as im:
            fmt = im.format
            im.verify()  # structure and checksums, without decoding pixels
        if fmt not in TF_DECODABLE:
            return f"format {fmt} (not one of {', '.join(TF_DECODABLE)})"
        with Image.open(path) as im:
            im.load()  # decode every pixel: verify() alone misses truncated JPEG data
    except UnidentifiedImageError:
        return "not an image"
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        return f"truncated or corrupt: {e}"
    return None


def _cache_path(cache_dir, key):
    base = cache_dir or os.path.join(os.path.expanduser(os.environ.get("KERAS_HOME", "~/.keras")), "datasets")
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]
    return os.path.join(base, f"image_check_{digest}.json")


def _read_cache(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def _write_cache(path, data):
    """Write atomically (temporary file + os.replace) so an interrupted run leaves no half file."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(data, f)
        os.replace(tmp, path)
    except OSError as e:  # a read-only home must not stop loading the data
        logger.warning("Could not write the image-check cache %s: %s", path, e)


def check_files(paths, workers=None, cache=True, cache_dir=None, progress=True):
    """Check every file in ``paths``; return ``{path: None or reason}``.

    Args:
        paths: file paths.
        workers: threads (default: CPU count, at least 2).
        cache: reuse verdicts for files whose size and mtime have not changed.
        cache_dir: where the cache lives (default ``~/.keras/datasets``).
        progress: show a keras.utils.Progbar.

    Example:
        >>> bad = {p: r for p, r in check_files(paths).items() if r}   # doctest: +SKIP
    """
    paths = [os.path.abspath(p) for p in paths]
    stats = {p: os.stat(p) for p in paths}
    signature = {p: [stats[p].st_size, stats[p].st_mtime_ns] for p in paths}
    cache_file = _cache_path(cache_dir, os.path.commonpath(paths) if paths else "") if cache else None
    old = _read_cache(cache_file) if cache_file else {}
    verdicts, todo = {}, []
    for p in paths:
        hit = old.get(p)
        if hit is not None and hit[:2] == signature[p]:
            verdicts[p] = hit[2]
        else:
            todo.append(p)
    if todo:
        import keras

        bar = keras.utils.Progbar(len(todo), unit_name="file") if progress else None
        workers = workers or max(2, os.cpu_count() or 1)
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            for i, (p, reason) in enumerate(zip(todo, pool.map(check_image, todo)), 1):
                verdicts[p] = reason
                if bar is not None and (i % 256 == 0 or i == len(todo)):
                    bar.update(i)
    if cache_file and todo:
        old.update({p: signature[p] + [verdicts[p]] for p in paths})
        _write_cache(cache_file, old)
    logger.info("Checked %d files (%d from cache).", len(paths), len(paths) - len(todo))
    return verdicts


def extract_zip(zip_path, extract_dir=None):
    """Extract ``zip_path`` once (next to it by default) and return the folder.

    ``zipfile.extractall`` drops absolute paths and ``..`` parts, so a hostile
    archive cannot write outside ``extract_dir``. A marker file records a finished
    extraction; an interrupted one is redone.

    Example:
        >>> folder = extract_zip("~/Downloads/train.zip")   # doctest: +SKIP
    """
    zip_path = os.path.abspath(os.path.expanduser(os.fspath(zip_path)))
    if extract_dir is None:
        extract_dir = os.path.splitext(zip_path)[0] + "_extracted"
    marker = os.path.join(extract_dir, ".extracted")
    if not os.path.exists(marker):
        if not zipfile.is_zipfile(zip_path):
            raise ValueError(f"Not a zip archive. Received: {zip_path!r}.")
        with zipfile.ZipFile(zip_path) as zf:
            zf.extractall(extract_dir)
        with open(marker, "w") as f:
            f.write(os.path.basename(zip_path))
    return extract_dir
