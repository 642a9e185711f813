"""CIFAR-10 from its real file formats, with the same return values as keras.datasets.

Sources, in the order ``load`` tries them:

* ``data_dir`` given: a ``cifar-10-batches-py`` folder, the ``cifar-10-python.tar.gz``
  archive, or the binary version (``cifar-10-batches-bin`` folder or its
  ``cifar-10-binary.tar.gz``), or a folder holding any of these.
* ``data_dir=None``: the python version is downloaded once into the Keras cache
  (``~/.keras/datasets``) and checked against its published sha256.
* ``source="tfds"``: TensorFlow Datasets' ``cifar10``.

Batches of the python version are Python 2 pickles, and unpickling runs code named
in the file. They are read by ``datasets.array_pickle``, which never calls numpy's
own constructors: it only accepts descriptions of plain numeric arrays and makes
each one with ``np.frombuffer`` over bytes the file holds (no object dtypes, no
memory the file does not back). Batches that Python 3 re-saved, with any pickle
protocol from 2 to 5, read the same way. Every batch is then checked: ``data``
uint8 (or integers within 0-255) shaped (N, 3072), ``labels`` N integers in 0-9.
Every error names the batch and the file.

Example (needs the real data set, so the tests skip it):
    >>> (x_train, y_train), (x_test, y_test) = cifar10.load("~/data/cifar")  # doctest: +SKIP
    >>> x_train.shape, y_train.shape, class_names[y_train[0]]               # doctest: +SKIP
    ((50000, 32, 32, 3), (50000,), 'frog')
"""

import os
import tarfile

import numpy as np

from datasets import array_pickle
from datasets.damaged import MAX_FILE_BYTES, archive_errors
from zoo import downloads
from zoo.files import check_regular_file, read_regular

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
ARCHIVE = "cifar-10-python.tar.gz"
BINARY_ARCHIVE = "cifar-10-binary.tar.gz"
class_names = ("airplane", "automobile", "bird", "cat", "deer",
               "dog", "frog", "horse", "ship", "truck")
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
_RECORD = 1 + 32 * 32 * 3  # binary version: one label byte, then the 3072 pixel bytes

_MAX_MEMBER = 256 << 20  # a real batch is ~31 MB; a bigger archive member is not one (nor a gzip bomb)


def unpickle(data, source="CIFAR-10 batch"):
    """Safely read one CIFAR python-version batch from its bytes (see ``datasets.array_pickle``).

    Returns the dict with bytes keys (``b"data"``, ``b"labels"``, ...), as the
    original Python 2 pickle holds it (str keys of a re-saved batch become bytes).
    ``source`` names the batch and file in every error.

    Example:
        >>> import pickle
        >>> batch = unpickle(pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [3, 8]}, protocol=2))
        >>> batch[b"data"].shape, batch[b"labels"]
        ((2, 3072), [3, 8])
    """
    obj = array_pickle.loads(data, source=source)
    if isinstance(obj, dict):
        obj = {k.encode("latin-1") if isinstance(k, str) else k: v for k, v in obj.items()}
    if not isinstance(obj, dict) or b"data" not in obj or b"labels" not in obj:
        got = f"a dict with keys {sorted(obj, key=repr)}" if isinstance(obj, dict) else f"a {type(obj).__name__}"
        raise ValueError(f"{source}: Not a CIFAR-10 batch: expected a dict with b'data' and b'labels'. "
                         f"Received: {got}.")
    return obj


def _check_rows(rows, source):
    """(N, 3072) integer pixel rows -> uint8, refusing anything a cast would change."""
    if not isinstance(rows, np.ndarray) or rows.ndim != 2 or rows.shape[1] != 3072:
        shape = rows.shape if isinstance(rows, np.ndarray) else type(rows).__name__
        raise ValueError(f"{source}: data must be (N, 3072) pixel rows (32x32x3). Received: shape {shape}.")
    if rows.dtype.kind not in "iu":
        raise ValueError(f"{source}: data must be uint8 pixel values 0-255; a cast would change the image. "
                         f"Received: dtype={rows.dtype}.")
    if rows.dtype != np.uint8 and rows.size:
        lo, hi = rows.min(), rows.max()
        if lo < 0 or hi > 255:
            bad = lo if lo < 0 else hi
            row = int(np.argwhere(rows == bad)[0, 0])
            raise ValueError(f"{source}: pixel values must be 0-255. Received: {bad} in row {row} "
                             f"(dtype={rows.dtype}).")
    return rows.astype(np.uint8)


def _check_labels(labels, n, source):
    try:
        y = np.asarray(labels)
    except (ValueError, TypeError, RecursionError):  # ragged or self-referencing lists
        raise ValueError(f"{source}: labels must be a list of integers 0-9. Received: a nested or ragged "
                         f"{type(labels).__name__}.") from None
    if y.ndim != 1 or y.dtype.kind not in "iu":
        kind = y.dtype.name if y.dtype.kind in "biufc" else "non-integer"
        raise ValueError(f"{source}: labels must be a list of integers 0-9. Received: {kind} values, "
                         f"shape {y.shape}.")
    if len(y) != n:
        raise ValueError(f"{source}: one label per row is needed. Received: {len(y)} labels for {n} rows.")
    bad = np.flatnonzero((y < 0) | (y > 9))
    if bad.size:
        raise ValueError(f"{source}: labels must be 0-9. Received: {y[bad[0]]} at index {bad[0]} "
                         f"({bad.size} out of range).")
    return y.astype(np.uint8)


def _rows_to_images(rows):
    """(N, 3072) uint8 rows of 1024 R, 1024 G, 1024 B values -> (N, 32, 32, 3) uint8."""
    return rows.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy()


def _from_pickles(read, where):
    """``read(name) -> bytes`` for the python version -> the keras.datasets tuples."""
    def one(name):
        source = f"CIFAR-10 batch {name} in {where}"
        batch = unpickle(read(name), source)
        rows = _check_rows(batch[b"data"], source)
        return _rows_to_images(rows), _check_labels(batch[b"labels"], len(rows), source)

    train = [one(name) for name in TRAIN_BATCHES]
    x_test, y_test = one(TEST_BATCH)
    x_train = np.concatenate([x for x, _ in train])
    y_train = np.concatenate([y for _, y in train])
    return (x_train, y_train), (x_test, y_test)


def _from_binary(read, where):
    """``read(name) -> bytes`` for the binary version -> the keras.datasets tuples."""
    def one(name):
        source = f"CIFAR-10 batch {name} in {where}"
        raw = np.frombuffer(read(name), dtype=np.uint8)
        if raw.size % _RECORD:
            raise ValueError(f"{source}: the binary version holds records of {_RECORD} bytes (1 label, 3072 "
                             f"pixels). Received: {raw.size} bytes, not a multiple of {_RECORD}.")
        records = raw.reshape(-1, _RECORD)
        bad = np.flatnonzero(records[:, 0] > 9)
        if bad.size:
            raise ValueError(f"{source}: label bytes must be 0-9. Received: {records[bad[0], 0]} in record "
                             f"{bad[0]} ({bad.size} out of range).")
        return _rows_to_images(records[:, 1:]), records[:, 0].copy()

    train = [one(f"data_batch_{i}.bin") for i in range(1, 6)]
    x_test, y_test = one("test_batch.bin")
    return ((np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train])),
            (x_test, y_test))


def _folder_reader(folder):
    def read(name):  # a regular file of at most a batch's size: never a FIFO, a device or a link to /dev/zero
        return read_regular(os.path.join(folder, name), _MAX_MEMBER, f"a CIFAR-10 batch ({name})")
    return read


def _load_archive(path):
    """Read batches straight out of the tar.gz: no extraction, so no path-traversal risk."""
    check_regular_file(path, MAX_FILE_BYTES, "a CIFAR-10 archive")
    with archive_errors(path), tarfile.open(path, "r:gz") as tar:
        members = {os.path.basename(m.name): m for m in tar.getmembers() if m.isfile()}

        def read(name):
            if name not in members:
                raise FileNotFoundError(f"{path} has no member named {name}; "
                                        f"it holds {sorted(members)}.")
            if members[name].size > _MAX_MEMBER:
                raise ValueError(f"CIFAR-10 batch {name} in {path}: a batch is about 31 MB. "
                                 f"Received: a member of {members[name].size} bytes.")
            with archive_errors(path):
                return tar.extractfile(members[name]).read()

        if TEST_BATCH in members:
            return _from_pickles(read, path)
        if "test_batch.bin" in members:
            return _from_binary(read, path)
    raise ValueError(f"{path} holds neither the python nor the binary CIFAR-10 batches. "
                     f"Members: {sorted(members)}.")


def _load_local(data_dir):
    path = os.path.abspath(os.path.expanduser(os.fspath(data_dir)))
    if os.path.isfile(path):
        return _load_archive(path)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"CIFAR-10 data_dir does not exist. Received: data_dir={data_dir!r}.")
    candidates = [path, os.path.join(path, "cifar-10-batches-py"),
                  os.path.join(path, "cifar-10-batches-bin")]
    for folder in candidates:
        if os.path.isfile(os.path.join(folder, TEST_BATCH)):
            return _from_pickles(_folder_reader(folder), folder)
        if os.path.isfile(os.path.join(folder, "test_batch.bin")):
            return _from_binary(_folder_reader(folder), folder)
    for archive in (ARCHIVE, BINARY_ARCHIVE):
        if os.path.isfile(os.path.join(path, archive)):
            return _load_archive(os.path.join(path, archive))
    raise FileNotFoundError(
        f"No CIFAR-10 files in {path}. Expected one of: cifar-10-batches-py/ (data_batch_1..5, "
        f"test_batch), cifar-10-batches-bin/ (data_batch_1..5.bin, test_batch.bin), {ARCHIVE} "
        f"or {BINARY_ARCHIVE}. Received: data_dir={data_dir!r}.")


def _load_tfds(data_dir):
    import tensorflow_datasets as tfds

    train, test = tfds.load("cifar10", split=["train", "test"], batch_size=-1,
                            as_supervised=True, data_dir=data_dir)
    to_np = tfds.as_numpy
    (x_train, y_train), (x_test, y_test) = to_np(train), to_np(test)
    return ((x_train.astype(np.uint8), y_train.astype(np.uint8)),
            (x_test.astype(np.uint8), y_test.astype(np.uint8)))


def load(data_dir=None, source="files"):
    """Load CIFAR-10 as ``(x_train, y_train), (x_test, y_test)``.

    Images are uint8 ``(N, 32, 32, 3)``; labels uint8 ``(N,)`` indexing ``class_names``
    (keras.datasets returns labels shaped ``(N, 1)``; this project uses ``(N,)``).

    Args:
        data_dir: files you already have (see the module docstring), or None to
            download the python version into the Keras cache (sha256-checked).
            With ``source="tfds"`` it is TFDS's data_dir.
        source: ``"files"`` (default) or ``"tfds"``.

    Example (needs the real data set, so the tests skip it):
        >>> (x_train, y_train), (x_test, y_test) = load()      # doctest: +SKIP
        >>> x_test.dtype, y_test[:3], class_names[y_test[0]]   # doctest: +SKIP
        (dtype('uint8'), array([3, 8, 8], dtype=uint8), 'cat')
    """
    if source == "tfds":
        return _load_tfds(data_dir)
    if source != "files":
        raise ValueError(f"source must be 'files' or 'tfds'. Received: source={source!r}.")
    if data_dir is not None:
        return _load_local(data_dir)
    path = downloads.get_file(ARCHIVE, ORIGIN, "datasets", "CIFAR-10 (the python version)",
                              f"pass data_dir='/path/to/{ARCHIVE}' (or the folder holding it or its "
                              "extracted cifar-10-batches-py/)", file_hash=SHA256)
    return _load_archive(path)


def pipelines(data_dir=None, batch_size=128, augment=None, rescale=None, validation_split=None,
              seed=1337, source="files"):
    """CIFAR-10 as ``(train_ds, validation_ds)``: batched tf.data of (float32 images, labels).

    The validation set is the official test batch (``validation_split`` None or 0),
    or with ``validation_split`` in (0, 1) a seeded slice of the training batches. ``augment`` is an ``Augment`` layer (or
    True for flips and 4-pixel shifts, the usual CIFAR recipe), applied to training
    batches only. ``rescale`` multiplies pixels (e.g. 1/255); default keeps 0-255.

    Example (needs the real data set, so the tests skip it):
        >>> train, val = pipelines("~/data/cifar", augment=True, rescale=1 / 255)  # doctest: +SKIP
        >>> model.fit(train, validation_data=val, epochs=10)                     # doctest: +SKIP
    """
    from datasets import tfdata

    if validation_split is not None:
        tfdata.check_validation_split(validation_split)
    (x_train, y_train), (x_test, y_test) = load(data_dir, source=source)
    if validation_split:  # None or 0: the official test batch
        (x_train, y_train), (x_test, y_test) = tfdata.split_arrays(x_train, y_train, validation_split, seed)
    if augment is True:
        from datasets.augment import Augment

        # IDG semantics: a list is a set of pixel shifts, each used with a random sign.
        augment = Augment(width_shift_range=[0, 1, 2, 3, 4], height_shift_range=[0, 1, 2, 3, 4],
                          horizontal_flip=True,
                          fill_mode="reflect", seed=seed)
    train = tfdata.from_arrays(x_train, y_train, batch_size, shuffle=True, augment=augment,
                               rescale=rescale, seed=seed)
    val = tfdata.from_arrays(x_test, y_test, batch_size, shuffle=False, rescale=rescale)
    return train, val
