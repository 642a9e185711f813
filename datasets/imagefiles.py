"""Checking folders of image files before training: full decode, parallel, cached, with progress.

Real photo collections hold files that crash a training run halfway through an
epoch: empty files, truncated JPEGs, ``Thumbs.db``, formats TensorFlow cannot
decode. ``check_files`` decodes every file completely once (Pillow's ``verify``
and then ``load``), in a thread pool (Pillow releases the GIL while decoding),
shows a ``keras.utils.Progbar``, and remembers the verdicts in a small JSON cache
keyed by path, size and modification time, so the next run only re-checks files
that changed. ``ScanReport`` is what a data set's scan returns: the kept files
with their labels and every skipped file with its reason.

Example:
    >>> from PIL import Image
    >>> Image.new("RGB", (8, 8)).save("a.jpg")
    >>> open("b.jpg", "wb").close()
    >>> check_files(["a.jpg", "b.jpg"], cache=False, progress=False)
    {'.../a.jpg': None, '.../b.jpg': 'empty file'}
"""

import collections
import concurrent.futures
import dataclasses
import hashlib
import json
import logging
import os
import re
import stat
import zipfile

from datasets.damaged import archive_errors, looks_like_zip
from zoo.files import atomic_write_json, keras_cache

MAX_IMAGE_BYTES = 1 << 30

logger = logging.getLogger(__name__)

# What tf.io.decode_image decodes; Pillow reads more (TIFF, WebP, ICO...) but such a
# file would fail later inside the tf.data pipeline, so it is skipped here.
TF_DECODABLE = ("JPEG", "PNG", "GIF", "BMP")


@dataclasses.dataclass
class ScanReport:
    """What a scan found: kept files with labels, and skipped files with reasons.

    ``skipped_by_reason`` counts each reason up to its first colon
    ("truncated or corrupt: ..." counts as "truncated or corrupt").

    Example:
        >>> report = ScanReport("train", "kaggle", ["cat.0.jpg"], [0], [("x.txt", "not a cat/dog file name")],
        ...                     ("cat", "dog"))
        >>> report.kept_by_class, report.skipped_by_reason
        ({'cat': 1, 'dog': 0}, {'not a cat/dog file name': 1})
    """

    root: str
    layout: str
    paths: list
    labels: list
    skipped: list  # (path, reason)
    class_names: tuple = ()

    @property
    def n_kept(self):
        return len(self.paths)

    @property
    def n_skipped(self):
        return len(self.skipped)

    @property
    def kept_by_class(self):
        counts = collections.Counter(self.labels)
        return {name: counts.get(i, 0) for i, name in enumerate(self.class_names)}

    @property
    def skipped_by_reason(self):
        return dict(collections.Counter(reason.split(":")[0] for _, reason in self.skipped))

    def check_usable(self):
        """Raise ValueError if nothing was kept, or nothing of one class: training needs every class.

        Example:
            >>> ScanReport("train", "kaggle", ["cat.0.jpg"], [0], [("dog.0.jpg", "empty file")],
            ...            ("cat", "dog")).check_usable()
            Traceback (most recent call last):
            ...
            ValueError: train: no usable image of class 'dog'; ...
        """
        if not self.paths:
            raise ValueError(f"No usable image in {self.root}: all {self.n_skipped} files were skipped "
                             f"(by reason: {self.skipped_by_reason}).")
        empty = [name for name, count in self.kept_by_class.items() if count == 0]
        if empty:
            raise ValueError(f"{self.root}: no usable image of class {empty[0]!r}; a model trained on the "
                             f"other classes alone would learn nothing. Kept {self.kept_by_class}, skipped "
                             f"{self.n_skipped} (by reason: {self.skipped_by_reason}).")
        return self

    def __str__(self):
        kept = self.kept_by_class or self.n_kept
        return (f"{self.layout} layout at {self.root}: kept {self.n_kept} {kept}, "
                f"skipped {self.n_skipped} {self.skipped_by_reason}")


def _unreadable(path):
    """The reason ``path`` cannot be opened (dangling or looping link, no permission), or None."""
    try:
        info = os.stat(path)
    except OSError as e:
        return f"unreadable: {e.strerror or e}"
    if not stat.S_ISREG(info.st_mode):  # a FIFO would block the decoder's open, a device never end
        return "unreadable: not a regular file"
    if info.st_size > MAX_IMAGE_BYTES:
        return f"unreadable: {info.st_size:,} bytes, over {MAX_IMAGE_BYTES:,} (no photograph is that large)"
    return None


def _tf_decode_error(path):
    """The pipeline's own decoder on ``path`` (see ``decode_image``): None, or why it fails."""
    import tensorflow as tf

    try:
        decode_image(tf.io.read_file(path))
    except tf.errors.OpError as e:  # InvalidArgumentError mostly; whatever it is, the epoch would die of it
        message = re.sub(r"\{\{.*?\}\}\s*", "", e.message).strip()  # TensorFlow's op-name prefix
        return f"truncated or corrupt: TensorFlow cannot decode it ({message.splitlines()[0][:200]})"
    return None


def decode_image(raw):
    """Bytes of a JPEG, PNG, GIF or BMP -> uint8 (H, W, 3), exactly as the tf.data pipelines decode them.

    ``check_image`` runs this very function, so a file that passed the check
    never fails inside an epoch.

    Example:
        >>> from PIL import Image
        >>> Image.new("RGB", (4, 3)).save("x.png")
        >>> import tensorflow as tf
        >>> tuple(decode_image(tf.io.read_file("x.png")).shape)
        (3, 4, 3)
    """
    import tensorflow as tf

    return tf.io.decode_image(raw, channels=3, expand_animations=False)


def check_image(path):
    """Return None if ``path`` is an image TensorFlow can decode, else the reason it is not.

    Pillow says why a file is bad (empty, not an image, a format TensorFlow does
    not read, truncated); the last word is TensorFlow's own decoder, the one the
    pipeline uses, which is stricter than Pillow (a 1-bit BMP, a PNG with a bad
    CRC, a GIF with trailing data...).

    Example:
        >>> open("666.jpg", "wb").close()   # PetImages/Cat/666.jpg is such a file
        >>> check_image("666.jpg")
        'empty file'
    """
    from PIL import Image, UnidentifiedImageError

    reason = _unreadable(path)
    if reason:
        return reason
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
    except (PermissionError, IsADirectoryError) as e:
        return f"unreadable: {e.strerror}"
    # Pillow's decoders fail a damaged file in many ways (OSError, SyntaxError, IndexError from verify()
    # on a palette PNG without IDAT, struct.error, zlib.error, DecompressionBombError...): all mean the same.
    except Exception as e:  # noqa: BLE001
        return f"truncated or corrupt: {type(e).__name__}: {e}"
    return _tf_decode_error(path)


def _cache_path(cache_dir, key):
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]
    return os.path.join(cache_dir or keras_cache("datasets"), f"image_check_{digest}.json")


def _read_cache(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def check_files(paths, workers=None, cache=True, cache_dir=None, progress=True):
    """Check every file in ``paths``; return ``{path: None or reason}``.

    A path that cannot be opened (a dangling or looping symbolic link, no
    permission) gets the reason ``"unreadable: ..."``, like any other bad file.

    Args:
        paths: file paths.
        workers: threads (default: CPU count, at least 2).
        cache: reuse verdicts for files whose size and mtime have not changed.
        cache_dir: where the cache lives (default ``zoo.files.keras_cache("datasets")``).
        progress: show a keras.utils.Progbar.

    Example:
        >>> check_files([os.path.join(tmp, "missing.jpg")], cache=False, progress=False)  # doctest: +ELLIPSIS
        {'.../missing.jpg': 'unreadable: No such file or directory'}
    """
    paths = [os.path.abspath(p) for p in paths]
    verdicts = {p: _unreadable(p) for p in paths}
    readable = [p for p in paths if verdicts[p] is None]
    signature = {p: [os.stat(p).st_size, os.stat(p).st_mtime_ns] for p in readable}
    cache_file = _cache_path(cache_dir, os.path.commonpath(paths) if paths else "") if cache else None
    old = _read_cache(cache_file) if cache_file else {}
    todo = []
    for p in readable:
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
        old.update({p: signature[p] + [verdicts[p]] for p in readable})
        try:
            atomic_write_json(old, cache_file)
        except OSError as e:  # a read-only home must not stop loading the data
            logger.warning("Could not write the image-check cache %s: %s", cache_file, e)
    logger.info("Checked %d files (%d from cache).", len(paths), len(readable) - len(todo))
    return verdicts


def extract_zip(zip_path, extract_dir=None):
    """Extract ``zip_path`` once (next to it by default) and return the folder.

    ``zipfile.extractall`` drops absolute paths and ``..`` parts, so a hostile
    archive cannot write outside ``extract_dir``. A marker file records a finished
    extraction; an interrupted one is redone.

    Example:
        >>> import zipfile
        >>> with zipfile.ZipFile("train.zip", "w") as zf:
        ...     zf.writestr("train/cat.0.jpg", b"")
        >>> folder = extract_zip("train.zip")
        >>> os.path.basename(folder), os.listdir(os.path.join(folder, "train"))
        ('train_extracted', ['cat.0.jpg'])
    """
    zip_path = os.path.abspath(os.path.expanduser(os.fspath(zip_path)))
    if extract_dir is None:
        extract_dir = os.path.splitext(zip_path)[0] + "_extracted"
    marker = os.path.join(extract_dir, ".extracted")
    if not os.path.exists(marker):
        if not looks_like_zip(zip_path):
            raise ValueError(f"Not a zip archive. Received: {zip_path!r}.")
        with archive_errors(zip_path), zipfile.ZipFile(zip_path) as zf:
            zf.extractall(extract_dir)
        with open(marker, "w") as f:
            f.write(os.path.basename(zip_path))
    return extract_dir
