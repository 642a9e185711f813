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
files that fail, broken links, and files not named as the layout names its
images are skipped, counted in the returned ``ScanReport`` and logged. No usable
image at all, or none of one class, is an error (never a one-class run).
Labels: 0 = cat, 1 = dog.

Example (needs the real data set, so the tests skip it):
    >>> train, val, report = load("~/data/PetImages", return_report=True)  # doctest: +SKIP
    >>> report.skipped_by_reason                                            # doctest: +SKIP
    {'not an image': 2, 'truncated or corrupt': 3, 'empty file': 1}
"""

import csv
import logging
import os
import re

import numpy as np

from datasets import decoded_cache as decoded_cache_lib
from datasets import imagefiles, tfdata
from datasets.imagefiles import ScanReport
from zoo.checks import check_positive_int

logger = logging.getLogger(__name__)
class_names = ("cat", "dog")
_KAGGLE_NAME = re.compile(r"^(cat|dog)\.\d+\.(jpe?g)$", re.IGNORECASE)
_IMAGE_EXT = (".jpg", ".jpeg", ".png", ".gif", ".bmp")


_STRAY_NAME = "not a cat/dog file name"
_STRAY_FOLDER = "not in PetImages/Cat or PetImages/Dog"


def _kaggle_files(folder):
    """-> ([(path, label)], [(path, reason)]): every entry that is not cat.N.jpg/dog.N.jpg is counted."""
    files, stray = [], []
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        match = _KAGGLE_NAME.match(name)
        if match and not os.path.isdir(path):
            files.append((path, int(match.group(1).lower() == "dog")))
        else:
            stray.append((path, _STRAY_NAME))
    return files, stray


def _petimages_files(folder):
    """-> ([(path, label)], [(path, reason)]) for PetImages/Cat, PetImages/Dog and anything beside them."""
    entries = sorted(os.listdir(folder))
    subdirs = {n.lower(): os.path.join(folder, n) for n in entries if os.path.isdir(os.path.join(folder, n))}
    files, stray = [], []
    for label, name in enumerate(class_names):
        sub = subdirs[name]
        # Every entry but a folder is a candidate (Thumbs.db and broken links included), so it is counted.
        files += [(os.path.join(sub, n), label) for n in sorted(os.listdir(sub))
                  if not os.path.isdir(os.path.join(sub, n))]
    for name in entries:
        path = os.path.join(folder, name)
        if not os.path.isdir(path):
            stray.append((path, _STRAY_FOLDER))
        elif subdirs.get(name.lower()) != path or name.lower() not in class_names:
            stray += [(os.path.join(path, n), _STRAY_FOLDER) for n in sorted(os.listdir(path))]
    return files, stray


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
    """Find and fully check the labelled images; return an ``imagefiles.ScanReport``.

    Files that do not decode, cannot be opened (broken links), or are not named as
    the layout names its images are skipped and counted with their reason.

    Example (needs the real data set, so the tests skip it):
        >>> print(scan("~/data/kagglecatsanddogs_5340.zip"))   # doctest: +SKIP
        petimages layout at ...: kept 23410 {'cat': 11741, 'dog': 11669}, skipped 1592 {...}
    """
    layout, folder = _locate(data_dir, extract_dir)
    files, stray = _kaggle_files(folder) if layout == "kaggle" else _petimages_files(folder)
    verdicts = imagefiles.check_files([p for p, _ in files], cache=cache, progress=progress)
    kept = [(p, y) for p, y in files if verdicts[os.path.abspath(p)] is None]
    bad = [(p, verdicts[os.path.abspath(p)]) for p, _ in files if verdicts[os.path.abspath(p)]]
    report = ScanReport(folder, layout, [p for p, _ in kept], [y for _, y in kept], bad + stray, class_names)
    if report.skipped:
        others = f" and {len(stray)} files that are not cat/dog images" if stray else ""
        logger.warning("Dogs-vs-Cats: skipped %d unreadable files of %d%s (%s).",
                       len(bad), len(files), others, report.skipped_by_reason)
    return report


def decode_resize(path, image_size):
    """Read one file into a float32 (H, W, 3) tensor of 0-255 values, resized bilinearly.

    Example:
        >>> from PIL import Image
        >>> Image.new("RGB", (40, 30)).save("cat.0.jpg")
        >>> tuple(decode_resize("cat.0.jpg", (150, 150)).shape)
        (150, 150, 3)
    """
    import tensorflow as tf

    image = imagefiles.decode_image(tf.io.read_file(path))  # the decoder the scan checked each file with
    image = tf.image.resize(image, image_size)  # float32, keeps the 0-255 range
    image.set_shape((*image_size, 3))
    return image


def _dataset(paths, labels, image_size, batch_size, shuffle, seed, augment=None, decoded_cache=None):
    import tensorflow as tf

    if decoded_cache is not None:  # decoded once, then read back (datasets.decoded_cache)
        return decoded_cache_lib.batched_images(paths, labels, image_size, batch_size, decoded_cache,
                                                shuffle=shuffle, seed=seed, augment=augment)

    # A typed constant: an empty list (validation_split=0) would otherwise become float32.
    ds = tf.data.Dataset.from_tensor_slices((tf.constant(list(paths), tf.string), np.asarray(labels, np.int32)))
    # Shuffle names, not pixels: cheap, and a full-size buffer (decoded_cache keeps pixels instead).
    return tfdata.batched(ds, batch_size, shuffle=shuffle, augment=augment, cache=False, seed=seed,
                          buffer_size=len(paths), decode=lambda p, y: (decode_resize(p, image_size), y))


def _check_args(image_size, batch_size, validation_split):
    if isinstance(image_size, (str, bytes)) or not hasattr(image_size, "__len__") or len(image_size) != 2:
        raise ValueError(f"`image_size` must be (height, width). Received: image_size={image_size!r}")
    image_size = tuple(check_positive_int("image_size", s) for s in image_size)
    check_positive_int("batch_size", batch_size)
    tfdata.check_validation_split(validation_split)
    return image_size


def _load_tfds(data_dir, image_size, batch_size, validation_split, seed, augment=None):
    import tensorflow as tf
    import tensorflow_datasets as tfds

    cut = int(round(100 * (1 - validation_split)))
    train, val = tfds.load("cats_vs_dogs", split=[f"train[:{cut}%]", f"train[{cut}%:]"],
                           as_supervised=True, data_dir=data_dir)

    def resize(x, y):  # TFDS images have their own sizes: resize before batching
        return tf.image.resize(x, image_size), tf.cast(y, tf.int32)

    train = tfdata.batched(train, batch_size, shuffle=True, buffer_size=1000, seed=seed, augment=augment,
                           cache=False, decode=resize)
    return train, tfdata.batched(val, batch_size, cache=False, decode=resize), None


def load(data_dir=None, image_size=(150, 150), batch_size=32, validation_split=0.2, seed=1337,
         source="files", return_report=False, extract_dir=None, cache=True, progress=True,
         augment=None, decoded_cache=None):
    """Labelled Dogs-vs-Cats as ``(train_ds, validation_ds)``: batched (float32 0-255 image, int label).

    The split is stratified per class and fixed by ``seed``; training batches are
    reshuffled every epoch. Decoding and resizing run in parallel in tf.data.
    Skipped files are counted in the report; if no image, or no image of one
    class, is usable, ValueError names the folder and the skip reasons.

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
        decoded_cache: None (decode every file every epoch), ``"memory"`` or
            a folder: keep the decoded, resized images after the first epoch
            (see ``datasets.decoded_cache``; about 1.7 GB for the 25,000
            images at 150x150).

    Example (needs the real data set, so the tests skip it):
        >>> train, val = load("~/data/dogs-vs-cats/train.zip", image_size=(160, 160))  # doctest: +SKIP
        >>> model.fit(train, validation_data=val)                                     # doctest: +SKIP
    """
    image_size = _check_args(image_size, batch_size, validation_split)
    decoded_cache = decoded_cache_lib.check_decoded_cache(decoded_cache)
    if source == "tfds":
        out = _load_tfds(data_dir, image_size, batch_size, validation_split, seed, augment)
        return out if return_report else out[:2]
    if source != "files":
        raise ValueError(f"source must be 'files' or 'tfds'. Received: source={source!r}.")
    if data_dir is None:
        raise ValueError("data_dir is required for source='files' (the Kaggle and Microsoft archives need "
                         "a sign-in to download). Received: data_dir=None. Or use source='tfds'.")
    report = scan(data_dir, extract_dir=extract_dir, cache=cache, progress=progress).check_usable()
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
    train = _dataset(paths[train_idx], labels[train_idx], image_size, batch_size, True, seed, augment, decoded_cache)
    val = _dataset(paths[val_idx], labels[val_idx], image_size, batch_size, False, seed, None, decoded_cache)
    return (train, val, report) if return_report else (train, val)


def load_test(data_dir, image_size=(150, 150), batch_size=32, cache=True, progress=True):
    """Kaggle's unlabelled ``test1`` images -> ``(dataset of image batches, ids)`` in id order.

    ``data_dir`` is the ``test1`` folder, its parent, or ``test1.zip``. Files that do
    not decode are skipped (and logged), so ``ids`` lists exactly the predicted ones.

    Example (needs the real data set, so the tests skip it):
        >>> images, ids = load_test("~/data/dogs-vs-cats/test1")      # doctest: +SKIP
        >>> write_submission("submission.csv", ids, model.predict(images))  # doctest: +SKIP
    """
    image_size = _check_args(image_size, batch_size, 0.0)
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
    report = ScanReport(path, "test", keep, [], [(f, verdicts[os.path.abspath(f)]) for f in files
                                                 if verdicts[os.path.abspath(f)]]).check_usable()
    if report.skipped:
        logger.warning("Dogs-vs-Cats test: skipped %d unreadable files (%s).", report.n_skipped,
                       report.skipped_by_reason)
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices(tf.constant(keep, tf.string))
    images = tfdata.batched(ds, batch_size, cache=False, decode=lambda p: decode_resize(p, image_size))
    return images, [int(os.path.basename(f).split(".")[0]) for f in keep]


def write_submission(path, ids, probabilities):
    """Write Kaggle's ``id,label`` CSV, label = predicted probability of dog.

    Example:
        >>> write_submission("submission.csv", [1, 2], [0.9, 0.1])
        'submission.csv'
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
