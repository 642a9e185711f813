"""Any folder of class subfolders of images (``root/<class>/*.jpg``) as training and validation batches.

The layout ``keras.utils.image_dataset_from_directory`` reads, loaded the way
Dogs-vs-Cats is: every file is checked by a full decode first
(:func:`datasets.imagefiles.check_files`), files that do not decode are
skipped and counted in the report, the split is stratified per class, and
``decoded_cache`` keeps the decoded images after the first epoch
(:mod:`datasets.decoded_cache`).

Example:
    >>> from PIL import Image
    >>> for name, value in (("dark", 40), ("light", 220)):
    ...     os.makedirs(f"shades/{name}", exist_ok=True)
    ...     for i in range(3):
    ...         Image.fromarray(np.full((20, 30, 3), value + i, "uint8")).save(f"shades/{name}/{i}.png")
    >>> train, val, report = load("shades", (16, 16), batch_size=4, validation_split=1 / 3,
    ...                           decoded_cache="memory", return_report=True, progress=False)
    >>> report.kept_by_class, [y.numpy().tolist() for _, y in val]
    ({'dark': 3, 'light': 3}, [[0, 1]])
"""

import os

import numpy as np

from datasets import decoded_cache as decoded_cache_lib
from datasets import dogs_vs_cats, imagefiles
from zoo.checks import check_positive_int

EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".bmp")


def scan(root, cache=True, progress=True):
    """Class subfolders of ``root`` (sorted names: labels 0, 1, ...) fully checked; an ``imagefiles.ScanReport``."""
    root = os.path.expanduser(os.fspath(root))
    if not os.path.isdir(root):
        raise FileNotFoundError(f"No folder at {root!r}: expected one subfolder of images per class.")
    classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    if not classes:
        raise ValueError(f"{root} has no class subfolders: expected root/<class>/<image files>.")
    files, stray = [], []
    for label, name in enumerate(classes):
        for entry in sorted(os.listdir(os.path.join(root, name))):
            path = os.path.join(root, name, entry)
            if entry.lower().endswith(EXTENSIONS):
                files.append((path, label))
            elif os.path.isfile(path):
                stray.append((path, "not an image file name (" + ", ".join(EXTENSIONS) + ")"))
    verdicts = imagefiles.check_files([p for p, _ in files], cache=cache, progress=progress)
    kept = [(p, y) for p, y in files if verdicts[os.path.abspath(p)] is None]
    bad = [(p, verdicts[os.path.abspath(p)]) for p, _ in files if verdicts[os.path.abspath(p)]]
    return imagefiles.ScanReport(root, "class folders", [p for p, _ in kept], [y for _, y in kept],
                                 bad + stray, tuple(classes))


def load(root, image_size=(150, 150), batch_size=32, validation_split=0.2, seed=1337, decoded_cache=None,
         return_report=False, cache=True, progress=True, augment=None):
    """``(train_ds, validation_ds)`` of (float32 0-255 image, int32 label) batches from class subfolders.

    Args are those of :func:`datasets.dogs_vs_cats.load`; ``decoded_cache``:
    None, ``"memory"`` or a folder (see :mod:`datasets.decoded_cache`).
    """
    image_size = dogs_vs_cats._check_args(image_size, batch_size, validation_split)
    decoded_cache = decoded_cache_lib.check_decoded_cache(decoded_cache)
    check_positive_int("batch_size", batch_size)
    report = scan(root, cache=cache, progress=progress).check_usable()
    rng = np.random.default_rng(seed)
    labels = np.asarray(report.labels)
    train_idx, val_idx = [], []
    for label in range(len(report.class_names)):
        idx = rng.permutation(np.flatnonzero(labels == label))
        n_val = int(round(len(idx) * float(validation_split)))
        val_idx += idx[:n_val].tolist()
        train_idx += idx[n_val:].tolist()
    paths = np.asarray(report.paths)
    train_idx, val_idx = sorted(train_idx), sorted(val_idx)
    train = dogs_vs_cats._dataset(paths[train_idx], labels[train_idx], image_size, batch_size, True, seed,
                                  augment, decoded_cache)
    val = dogs_vs_cats._dataset(paths[val_idx], labels[val_idx], image_size, batch_size, False, seed, None,
                                decoded_cache)
    return (train, val, report) if return_report else (train, val)

