"""Offline stand-ins for the tutorials' data sets, written in the real file formats.

The tutorials run offline, so where the real data set is missing they make a
small stand-in and read it back through the real loader, which is then exercised
exactly as with the real files. The stand-ins only show a method: they are far
easier than the real data, and their accuracies are not comparable.

* CIFAR-10 (notebook 02): :func:`tinted_digits` colours scikit-learn's real
  handwritten digits, :func:`write_cifar10_python` writes images and labels as
  the python version's ``cifar-10-batches-py/`` (``datasets.cifar10.load`` reads it).
* Facial keypoints (notebook 05): :func:`cartoon_face` draws a face and its 15
  keypoints, :func:`write_training_csv` writes Kaggle's ``training.csv``
  (``datasets.facial_keypoints.load`` reads it).
* Where is the cat? (notebook 07): :func:`patch_scenes` pastes patches of a
  photograph into crops of others, so that the right answer of Grad-CAM is known;
  :func:`resize_to_height` and :func:`random_crop` prepare the photographs.

The faces are drawn with scikit-image (the ``notebooks`` and ``test`` extras).

Example:
    >>> images, labels = tinted_digits()
    >>> folder = write_cifar10_python(tmp, images, labels, label_names=[str(d) for d in range(10)])
    >>> (x_train, y_train), (x_test, y_test) = datasets.cifar10.load(folder)
    >>> x_train.shape, x_test.shape, x_train.dtype
    ((1498, 32, 32, 3), (299, 32, 32, 3), dtype('uint8'))
"""

import os
import pickle

import numpy as np

from datasets import cifar10, digits
from datasets.facial_keypoints import IMAGE_SIZE, KEYPOINT_NAMES
from zoo import checks
from zoo.files import atomic_path


def tinted_digits(size=32, seed=0):
    """``(images, labels)``: the 1,797 digits resized to ``size`` and tinted in a random colour each.

    Images are uint8 (N, size, size, 3) with 0-255 pixels, labels uint8 0-9; the
    colour of each image is drawn from ``seed``.

    Example:
        >>> images, labels = tinted_digits(16, seed=1)
        >>> images.shape, images.dtype, labels[:4].tolist()
        ((1797, 16, 16, 3), dtype('uint8'), [0, 1, 2, 3])
    """
    grey, labels = digits.load_small(size)
    tint = np.random.default_rng(seed).uniform(0.4, 1.0, size=(len(grey), 1, 1, 3))  # a colour per image
    return np.clip(grey[..., None] * tint, 0, 255).astype("uint8"), labels.astype("uint8")


def _check_cifar_arrays(images, labels):
    images, labels = np.asarray(images), np.asarray(labels)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (32, 32, 3):
        raise ValueError("`images` must be uint8 of shape (N, 32, 32, 3), as CIFAR-10's. "
                         f"Received: dtype={images.dtype}, shape={images.shape}")
    if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer) \
            or labels.min(initial=0) < 0 or labels.max(initial=0) > 9:
        raise ValueError(f"`labels` must be {len(images)} integers 0-9, one per image. "
                         f"Received: dtype={labels.dtype}, shape={labels.shape}")
    if len(images) < 6:
        raise ValueError(f"CIFAR-10 has six batches, each needs an image. Received: {len(images)} images")
    return images, labels


def write_cifar10_python(root, images, labels, label_names=cifar10.class_names):
    """Write ``images`` and ``labels`` as CIFAR-10's python version in ``root``; return the batches' folder.

    The folder is ``root/cifar-10-batches-py`` with ``data_batch_1`` .. ``data_batch_5``,
    ``test_batch`` (the images split in six equal parts, in order, as in the
    original: 50,000 training and 10,000 test images) and ``batches.meta``. Each
    batch is a pickled dict with ``b"data"``, uint8 rows of 1024 red, then 1024
    green, then 1024 blue values, ``b"labels"``, ``b"filenames"`` and
    ``b"batch_label"``. The pickles are Python 3 ones (protocol 3); the originals
    were written by Python 2, which the loader reads too.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> images = rng.integers(0, 256, (12, 32, 32, 3), dtype=np.uint8)
        >>> folder = write_cifar10_python(tmp, images, np.arange(12) % 10)
        >>> sorted(os.listdir(folder))[:3], os.path.basename(folder)
        (['batches.meta', 'data_batch_1', 'data_batch_2'], 'cifar-10-batches-py')
        >>> (x_train, y_train), (x_test, y_test) = datasets.cifar10.load(folder)
        >>> bool((x_test == images[10:]).all()), y_train.tolist()
        (True, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    """
    images, labels = _check_cifar_arrays(images, labels)
    folder = os.path.join(os.fspath(root), "cifar-10-batches-py")
    rows = images.transpose(0, 3, 1, 2).reshape(len(images), 3072)  # 1024 R, then 1024 G, then 1024 B
    names = list(cifar10.TRAIN_BATCHES) + [cifar10.TEST_BATCH]
    parts = np.array_split(np.arange(len(images)), len(names))
    for name, idx in zip(names, parts):
        batch = {b"batch_label": name.encode(), b"labels": labels[idx].tolist(), b"data": rows[idx],
                 b"filenames": [f"image_{i}.png".encode() for i in idx]}
        _write_bytes(os.path.join(folder, name), pickle.dumps(batch, protocol=3))
    meta = {b"num_cases_per_batch": len(parts[0]), b"num_vis": 3072,
            b"label_names": [str(n).encode() for n in label_names]}
    _write_bytes(os.path.join(folder, "batches.meta"), pickle.dumps(meta, protocol=3))
    return folder


def _write_bytes(path, data):
    with atomic_path(path) as part, open(part, "wb") as f:
        f.write(data)


def cartoon_face(rng=None):
    """A drawn 96x96 face and its 15 keypoints: ``(image uint8 (96, 96), points float (30,) in pixels)``.

    A head, eyes, eyebrows, nose and mouth of random size, position and
    brightness, with noise. The points follow Kaggle's column order
    (``datasets.facial_keypoints.KEYPOINT_NAMES``: x, y of each point), left and
    right from the subject's point of view, so the subject's left eye lies on the
    image's right. ``rng``: a seed or a ``numpy.random.Generator``.

    Example:
        >>> image, points = cartoon_face(0)
        >>> image.shape, image.dtype, points.shape
        ((96, 96), dtype('uint8'), (30,))
        >>> left_eye_x, right_eye_x = points[0], points[2]
        >>> bool(left_eye_x > 48 > right_eye_x), int(image[int(points[1]), int(left_eye_x)]) < 80  # a dark eye
        (True, True)
    """
    from skimage import draw  # scikit-image: the notebooks' extra, needed by this stand-in only

    rng = np.random.default_rng(rng)
    img = rng.normal(0.25, 0.05, (IMAGE_SIZE, IMAGE_SIZE))
    cx, cy = 48 + rng.normal(0, 4), 50 + rng.normal(0, 3)
    img[draw.ellipse(cy, cx, 40 + rng.normal(0, 2), 30 + rng.normal(0, 2), shape=img.shape)] = rng.uniform(0.55, 0.8)
    gap, r, ey = rng.uniform(13, 19), rng.uniform(3, 5), cy - rng.uniform(10, 15)
    lx, rx = cx + gap, cx - gap  # subject's left eye is on the image's right
    for x in (lx, rx):
        img[draw.disk((ey, x), r, shape=img.shape)] = 0.1
    by = ey - r - rng.uniform(3, 6)
    for x0, x1 in ((lx - r, lx + 1.6 * r), (rx + r, rx - 1.6 * r)):
        img[draw.line(int(by), int(x0), int(by - 2), int(x1))] = 0.1
    ny, my, mw, mh = cy + rng.uniform(2, 6), cy + rng.uniform(14, 20), rng.uniform(8, 13), rng.uniform(2, 4)
    img[draw.disk((ny, cx), 2.5, shape=img.shape)] = 0.35
    img[draw.ellipse(my, cx, mh, mw, shape=img.shape)] = 0.15
    points = [(lx, ey), (rx, ey), (lx - r, ey), (lx + r, ey), (rx + r, ey), (rx - r, ey),
              (lx - r, by), (lx + 1.6 * r, by - 2), (rx + r, by), (rx - 1.6 * r, by - 2),
              (cx, ny), (cx + mw, my), (cx - mw, my), (cx, my - mh), (cx, my + mh)]
    img = np.clip(img + rng.normal(0, 0.04, img.shape), 0, 1)
    return (img * 255).astype("uint8"), np.array(points).ravel()


def write_training_csv(path, n, seed=0, incomplete=0.3):
    """Write ``n`` cartoon faces (:func:`cartoon_face`) as Kaggle's ``training.csv`` at ``path``; return ``path``.

    The header is the 30 keypoint columns then ``Image``; each row holds the 30
    coordinates in pixels (4 decimals) and the 9,216 grey values, space-separated,
    row-major. Like the real file (4,909 of 7,049 rows), a fraction
    ``incomplete`` of the rows lacks some keypoints: their fields are empty.

    Example:
        >>> path = write_training_csv(os.path.join(tmp, "training.csv"), 20, seed=0)
        >>> images, keypoints = datasets.facial_keypoints.load(path, complete_only=False)
        >>> images.shape, keypoints.shape, bool(np.isnan(keypoints).any())
        ((20, 96, 96, 1), (20, 30), True)
    """
    n = checks.check_positive_int("n", n)
    incomplete = checks.check_range("incomplete", incomplete, 0, 1, high_inclusive=True)
    rng = np.random.default_rng(seed)
    lines = [",".join(KEYPOINT_NAMES) + ",Image"]
    for _ in range(n):
        img, points = cartoon_face(rng)
        values = [f"{v:.4f}" for v in points]
        if rng.random() < incomplete:
            for j in rng.choice(15, size=rng.integers(1, 10), replace=False):
                values[2 * j] = values[2 * j + 1] = ""
        lines.append(",".join(values) + "," + " ".join(map(str, img.ravel())))
    with atomic_path(path, ".csv") as part, open(part, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def resize_to_height(image, height):
    """``image`` (H, W[, C]) resized to ``height`` rows, the width in proportion, antialiased; float32.

    Example:
        >>> resize_to_height(np.zeros((300, 451, 3), "uint8"), 100).shape
        (100, 150, 3)
    """
    import keras  # datasets' loaders import Keras only where they resize or build

    height = checks.check_positive_int("height", height)
    image = np.asarray(image, "float32")
    grey = image.ndim == 2
    batch = (image[..., None] if grey else image)[None]
    width = max(1, int(height * image.shape[1] / image.shape[0]))
    out = keras.ops.convert_to_numpy(keras.ops.image.resize(batch, (height, width), antialias=True))[0]
    return out[..., 0] if grey else out


def random_crop(image, size, rng=None):
    """A ``size`` x ``size`` window of ``image`` at a random place (a view, not a copy).

    Example:
        >>> random_crop(np.arange(100).reshape(10, 10), 3, rng=0).shape
        (3, 3)
    """
    rng = np.random.default_rng(rng)
    if image.shape[0] < size or image.shape[1] < size:
        raise ValueError(f"The image must be at least {size}x{size} to crop. Received: shape={image.shape}")
    top, left = rng.integers(0, image.shape[0] - size + 1), rng.integers(0, image.shape[1] - size + 1)
    return image[top:top + size, left:left + size]


def patch_scenes(n, backgrounds, target, size=64, patch=24, seed=0):
    """``n`` scenes with a pasted patch, half of it cut from ``target``: ``(images, labels, boxes)``.

    Each scene is a random ``size`` x ``size`` crop of one of ``backgrounds``
    with a ``patch`` x ``patch`` square pasted at a random place. The square is
    cut from ``target`` where the label is 1, from a random background where it
    is 0, so both classes carry a pasted patch and only its content tells them
    apart. ``boxes`` holds the square's (top, left), which is where an honest
    Grad-CAM should point. Images are float32 (n, size, size, C) in the pixel
    range of the inputs; labels int 0 or 1, drawn from ``seed`` with everything else.

    Example:
        >>> walls, cat = [np.zeros((80, 90, 3))], np.full((30, 30, 3), 255.0)
        >>> images, labels, boxes = patch_scenes(6, walls, cat, size=32, patch=8, seed=0)
        >>> images.shape, labels.tolist()
        ((6, 32, 32, 3), [1, 1, 1, 0, 0, 0])
        >>> top, left = boxes[0]
        >>> float(images[0].sum() / 255 / 3), float(images[0, top:top + 8, left:left + 8].min())
        (64.0, 255.0)
    """
    n = checks.check_positive_int("n", n)
    if not 0 < patch <= size:
        raise ValueError(f"`patch` must be a positive size no larger than size={size}. Received: patch={patch}")
    if not backgrounds:
        raise ValueError("`backgrounds` must hold at least one image. Received: an empty list")
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size=n)
    images, boxes = [], []
    for label in labels:
        img = random_crop(backgrounds[rng.integers(len(backgrounds))], size, rng).astype("float32")
        top, left = rng.integers(0, size - patch + 1, size=2)
        source = target if label else backgrounds[rng.integers(len(backgrounds))]
        img[top:top + patch, left:left + patch] = random_crop(source, patch, rng)
        images.append(img)
        boxes.append((top, left))
    return np.stack(images), labels, np.array(boxes)
