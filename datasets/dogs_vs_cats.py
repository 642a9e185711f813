"""Dogs vs. Cats from either real layout, with bad files skipped and counted.

Layouts:

* Kaggle ``train.zip``: ``train/cat.0.jpg`` ... ``train/dog.12499.jpg`` (label in the
  name). ``data_dir`` may be the folder holding the files, its parent, or the zip.
  ``test1/1.jpg`` ... ``test1/12500.jpg`` are unlabelled (``load_test``).
* Microsoft ``kagglecatsanddogs_*.zip``: ``PetImages/Cat/N.jpg``, ``PetImages/Dog/N.jpg``
  with a ``Thumbs.db`` in each folder and some corrupt files. ``data_dir`` may be
  ``PetImages``, its parent, or the zip.
* ``source="tfds"``: TensorFlow Datasets' ``cats_vs_dogs`` (which drops the files
  without a JFIF marker itself).

Every file is fully decoded once before training (see ``datasets.imagefiles``);
files that fail are skipped, counted in the returned ``ScanReport`` and logged.
Labels: 0 = cat, 1 = dog.

Example:
    >>> train, val, report = load("~/data/PetImages", return_report=True)  # doctest: +SKIP
    >>> report.skipped_by_reason                                            # doctest: +SKIP
    {'not an image': 2, 'truncated or corrupt': 3, 'empty file': 1}
"""

import collections
import csv
import dataclasses
import logging
import os
import re

import numpy as np

from datasets import imagefiles

logger = logging.getLogger(__name__)
class_names = ("cat", "dog")
_KAGGLE_NAME = re.compile(r"^(cat|dog)\.\d+\.(jpe?g)$", re.IGNORECASE)
_IMAGE_EXT = (".jpg", ".jpeg", ".png", ".gif", ".bmp")


@dataclasses.dataclass
class ScanReport:
    """What a scan found: kept files with labels, and skipped files with reasons.

    Example:
        >>> report = scan("~/data/train")                  # doctest: +SKIP
        >>> report.n_kept, report.n_skipped, report.layout  # doctest: +SKIP
        (25000, 0, 'kaggle')
    """

    root: str
    layout: str
    paths: list
    labels: list
    skipped: list  # (path, reason)

    @property
    def n_kept(self):
        return len(self.paths)

    @property
    def n_skipped(self):
        return len(self.skipped)

    @property
    def kept_by_class(self):
        counts = collections.Counter(self.labels)
        return {name: counts.get(i, 0) for i, name in enumerate(class_names)}

    @property
    def skipped_by_reason(self):
        return dict(collections.Counter(reason.split(":")[0] for _, reason in self.skipped))

    def __str__(self):
        return (f"{self.layout} layout at {self.root}: kept {self.n_kept} {self.kept_by_class}, "
                f"skipped {self.n_skipped} {self.skipped_by_reason}")


def _kaggle_files(folder):
    names = [n for n in os.listdir(folder) if _KAGGLE_NAME.match(n)]
    return [(os.path.join(folder, n), int(n.lower().startswith("dog"))) for n in sorted(names)]


def _petimages_files(folder):
    subdirs = {d.lower(): os.path.join(folder, d) for d in os.listdir(folder)
               if os.path.isdir(os.path.join(folder, d))}
    files = []
    for label, name in enumerate(class_names):
        sub = subdirs[name]
        # Every file is a candidate (Thumbs.db included) so that it is counted as skipped.
        files += [(os.path.join(sub, n), label) for n in sorted(os.listdir(sub))
                  if os.path.isfile(os.path.join(sub, n))]
    return files


def _is_petimages(folder):
    subs = {d.lower() for d in os.listdir(folder) if os.path.isdir(os.path.join(folder, d))}
    return {"cat", "dog"} <= subs


def _locate(data_dir, extract_dir=None):
    """-> (layout, folder) for a training set given as folder, parent or zip."""
    path = os.path.abspath(os.path.expanduser(os.fspath(data_dir)))
    if os.path.isfile(path) and path.lower().endswith(".zip"):
        path = imagefiles.extract_zip(path, extract_dir)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"Dogs-vs-Cats data_dir does not exist. Received: data_dir={data_dir!r}.")
    for folder in (path, os.path.join(path, "train"), os.path.join(path, "PetImages")):
        if not os.path.isdir(folder):
            continue
        if _is_petimages(folder):
            return "petimages", folder
        if any(_KAGGLE_NAME.match(n) for n in os.listdir(folder)):
            return "kaggle", folder
    for zipname in ("train.zip",):
        if os.path.isfile(os.path.join(path, zipname)):
            return _locate(os.path.join(path, zipname), extract_dir)
    raise FileNotFoundError(
        f"No Dogs-vs-Cats images in {path}. Expected Kaggle's cat.N.jpg/dog.N.jpg (in this folder, "
        f"in train/, or train.zip) or Microsoft's PetImages/Cat and PetImages/Dog. "
        f"Received: data_dir={data_dir!r}.")


def scan(data_dir, extract_dir=None, cache=True, progress=True):
    """Find and fully check the labelled images; return a ``ScanReport``.

    Example:
        >>> print(scan("~/data/kagglecatsanddogs_5340.zip"))   # doctest: +SKIP
        petimages layout at ...: kept 23410 {'cat': 11741, 'dog': 11669}, skipped 1592 {...}
    """
    layout, folder = _locate(data_dir, extract_dir)
    files = _kaggle_files(folder) if layout == "kaggle" else _petimages_files(folder)
    verdicts = imagefiles.check_files([p for p, _ in files], cache=cache, progress=progress)
    kept = [(p, y) for p, y in files if verdicts[os.path.abspath(p)] is None]
    skipped = [(p, verdicts[os.path.abspath(p)]) for p, _ in files if verdicts[os.path.abspath(p)]]
    report = ScanReport(folder, layout, [p for p, _ in kept], [y for _, y in kept], skipped)
    if skipped:
        logger.warning("Dogs-vs-Cats: skipped %d unreadable files of %d (%s).",
                       len(skipped), len(files), report.skipped_by_reason)
    return report


def decode_resize(path, image_size):
    """Read one file into a float32 (H, W, 3) tensor of 0-255 values, resized bilinearly.

    Example:
        >>> decode_resize(tf.constant("cat.0.jpg"), (150, 150)).shape   # doctest: +SKIP
        TensorShape([150, 150, 3])
    """
    import tensorflow as tf

    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    image = tf.image.resize(image, image_size)  # float32, keeps the 0-255 range
    image.set_shape((*image_size, 3))
    return image


def _dataset(paths, labels, image_size, batch_size, shuffle, seed, augment=None):
    import tensorflow as tf

    from datasets.pipelines import _check_augment_backend

    _check_augment_backend(augment)

    ds = tf.data.Dataset.from_tensor_slices((list(paths), np.asarray(labels, np.int32)))
    if shuffle:  # shuffle names, not pixels: cheap, and a full-size buffer
        ds = ds.shuffle(max(1, len(paths)), seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(lambda p, y: (decode_resize(p, image_size), y), num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(batch_size)
    if augment is not None:
        ds = ds.map(lambda x, y: (augment(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def _check_args(image_size, batch_size, validation_split):
    if len(tuple(image_size)) != 2 or min(image_size) < 1:
        raise ValueError(f"image_size must be (height, width). Received: image_size={image_size!r}.")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int. Received: batch_size={batch_size!r}.")
    if not 0.0 <= float(validation_split) < 1.0:
        raise ValueError(f"validation_split must be in [0, 1). Received: validation_split={validation_split!r}.")


def _load_tfds(data_dir, image_size, batch_size, validation_split, augment=None):
    import tensorflow as tf
    import tensorflow_datasets as tfds

    cut = int(round(100 * (1 - validation_split)))
    train, val = tfds.load("cats_vs_dogs", split=[f"train[:{cut}%]", f"train[{cut}%:]"],
                           as_supervised=True, data_dir=data_dir)

    def prep(ds, aug=None):
        ds = ds.map(lambda x, y: (tf.image.resize(x, image_size), tf.cast(y, tf.int32)),
                    num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size)
        if aug is not None:
            ds = ds.map(lambda x, y: (aug(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
        return ds.prefetch(tf.data.AUTOTUNE)

    return prep(train.shuffle(1000), augment), prep(val), None


def load(data_dir=None, image_size=(150, 150), batch_size=32, validation_split=0.2, seed=1337,
         source="files", return_report=False, extract_dir=None, cache=True, progress=True,
         augment=None):
    """Labelled Dogs-vs-Cats as ``(train_ds, validation_ds)``: batched (float32 0-255 image, int label).

    The split is stratified per class and fixed by ``seed``; training batches are
    reshuffled every epoch. Decoding and resizing run in parallel in tf.data.

    Args:
        data_dir: Kaggle or Microsoft layout (folder, parent or zip); TFDS's data_dir
            with ``source="tfds"``.
        image_size: (height, width) after resizing.
        batch_size: images per batch.
        validation_split: fraction of each class held out for validation.
        seed: fixes the split and the shuffling.
        source: ``"files"`` or ``"tfds"``.
        return_report: also return the ``ScanReport`` (None for TFDS).
        extract_dir: where a zip is extracted (default: next to it).
        cache, progress: see ``datasets.imagefiles.check_files``.
        augment: an ``Augment`` layer applied to training batches (TensorFlow backend).

    Example:
        >>> train, val = load("~/data/dogs-vs-cats/train.zip", image_size=(160, 160))  # doctest: +SKIP
        >>> model.fit(train, validation_data=val)                                     # doctest: +SKIP
    """
    _check_args(image_size, batch_size, validation_split)
    image_size = tuple(int(s) for s in image_size)
    if source == "tfds":
        out = _load_tfds(data_dir, image_size, batch_size, validation_split, augment)
        return out if return_report else out[:2]
    if source != "files":
        raise ValueError(f"source must be 'files' or 'tfds'. Received: source={source!r}.")
    if data_dir is None:
        raise ValueError("data_dir is required for source='files' (the Kaggle and Microsoft archives need "
                         "a sign-in to download). Received: data_dir=None. Or use source='tfds'.")
    report = scan(data_dir, extract_dir=extract_dir, cache=cache, progress=progress)
    rng = np.random.default_rng(seed)
    labels = np.asarray(report.labels)
    train_idx, val_idx = [], []
    for label in (0, 1):
        idx = rng.permutation(np.flatnonzero(labels == label))
        n_val = int(round(len(idx) * float(validation_split)))
        val_idx += idx[:n_val].tolist()
        train_idx += idx[n_val:].tolist()
    train_idx, val_idx = sorted(train_idx), sorted(val_idx)
    paths = np.asarray(report.paths)
    train = _dataset(paths[train_idx], labels[train_idx], image_size, batch_size, True, seed, augment)
    val = _dataset(paths[val_idx], labels[val_idx], image_size, batch_size, False, seed)
    return (train, val, report) if return_report else (train, val)


def load_test(data_dir, image_size=(150, 150), batch_size=32, cache=True, progress=True):
    """Kaggle's unlabelled ``test1`` images -> ``(dataset of image batches, ids)`` in id order.

    ``data_dir`` is the ``test1`` folder, its parent, or ``test1.zip``. Files that do
    not decode are skipped (and logged), so ``ids`` lists exactly the predicted ones.

    Example:
        >>> images, ids = load_test("~/data/dogs-vs-cats/test1")      # doctest: +SKIP
        >>> write_submission("submission.csv", ids, model.predict(images))  # doctest: +SKIP
    """
    path = os.path.abspath(os.path.expanduser(os.fspath(data_dir)))
    if os.path.isfile(path) and path.lower().endswith(".zip"):
        path = imagefiles.extract_zip(path)
    if os.path.isdir(os.path.join(path, "test1")):
        path = os.path.join(path, "test1")
    names = [n for n in os.listdir(path) if re.fullmatch(r"\d+\.(jpe?g)", n, re.IGNORECASE)] \
        if os.path.isdir(path) else []
    if not names:
        raise FileNotFoundError(f"No test images named N.jpg in {path}. Received: data_dir={data_dir!r}.")
    names.sort(key=lambda n: int(n.split(".")[0]))
    files = [os.path.join(path, n) for n in names]
    verdicts = imagefiles.check_files(files, cache=cache, progress=progress)
    keep = [f for f in files if verdicts[os.path.abspath(f)] is None]
    if len(keep) < len(files):
        logger.warning("Dogs-vs-Cats test: skipped %d unreadable files.", len(files) - len(keep))
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices(keep).map(
        lambda p: decode_resize(p, tuple(image_size)), num_parallel_calls=tf.data.AUTOTUNE)
    ids = [int(os.path.basename(f).split(".")[0]) for f in keep]
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE), ids


def write_submission(path, ids, probabilities):
    """Write Kaggle's ``id,label`` CSV, label = predicted probability of dog.

    Example:
        >>> write_submission("submission.csv", [1, 2], [0.9, 0.1])   # doctest: +SKIP
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim == 2 and p.shape[1] == 2:  # softmax over (cat, dog)
        p = p[:, 1]
    p = p.reshape(-1)
    if len(p) != len(ids):
        raise ValueError(f"ids and probabilities differ in length. Received: {len(ids)} ids, "
                         f"{len(p)} probabilities (shape {np.shape(probabilities)}).")
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "label"])
        for i, prob in zip(ids, p):
            writer.writerow([int(i), f"{float(np.clip(prob, 0.0, 1.0)):.6f}"])
    return path
