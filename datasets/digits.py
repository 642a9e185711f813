"""Real handwritten digits that ship with scikit-learn, made harder, and a few-shot split.

scikit-learn's ``load_digits()`` holds 1,797 real handwritten digits, 8x8
pixels in 17 grey levels. :func:`load_canvases` upsamples each to
``digit`` x ``digit`` (bilinear) and pastes it at a random place on a blank
``canvas`` x ``canvas`` image, drawn once per image from ``seed`` so that every
method compared on them sees the very same canvases. Recognising a digit
wherever it lies is what a network pre-trained on many digits learns and a
network that sees a handful cannot: the transfer-learning demo
(``transfer demo``) and notebook 06 are built on that. :func:`few_shot_split`
takes ``shots`` training and validation images per class and leaves the rest
for testing.

Example:
    >>> x, y = datasets.digits.load_canvases()
    >>> x.shape, x.dtype, int(x.max()), y[:5].tolist()
    ((1797, 20, 20, 1), dtype('float32'), 255, [0, 1, 2, 3, 4])
"""

import numpy as np

from zoo import checks

CANVAS = 20  # default canvas height and width
DIGIT = 12   # default height and width of each upsampled digit


def load_small(size=DIGIT, channel=False):
    """``(images, labels)``: the 1,797 digits upsampled to (N, size, size), float32 0-255, labels int32.

    ``channel=True`` adds a last axis of 1: (N, size, size, 1), an image batch for a model.

    Example:
        >>> x, y = load_small(16)
        >>> x.shape, y.shape, y.dtype
        ((1797, 16, 16), (1797,), dtype('int32'))
        >>> load_small(16, channel=True)[0].shape
        (1797, 16, 16, 1)
    """
    import keras  # datasets' loaders import Keras only where they resize or build
    from sklearn.datasets import load_digits  # scikit-learn (slow to import) only for the digits

    checks.check_positive_int("size", size)
    data = load_digits()
    x = data.images[..., None].astype("float32") * (255.0 / 16.0)  # the digits are 0-16 grey levels
    x = keras.ops.convert_to_numpy(keras.ops.image.resize(x, (size, size), interpolation="bilinear"))
    x = np.clip(x if channel else x[..., 0], 0, 255).astype("float32")
    return x, data.target.astype("int32")


def place(images, canvas=CANVAS, seed=0):
    """Paste each (d, d) image of ``images`` at a random position of a blank (canvas, canvas, 1) image.

    The positions are drawn from ``seed``: the same seed gives the same places.

    Example:
        >>> out = place(np.ones((3, 12, 12)), 28, seed=0)
        >>> out.shape, float(out[0].sum())
        ((3, 28, 28, 1), 144.0)
    """
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1] != images.shape[2]:
        raise ValueError(f"`images` must be square images of shape (N, d, d). Received: shape={images.shape}")
    n, d = images.shape[0], images.shape[1]
    checks.check_positive_int("canvas", canvas)
    if canvas < d:
        raise ValueError(f"The canvas must be at least as large as the images ({d}). Received: canvas={canvas}")
    rng = np.random.default_rng(seed)
    rows, cols = rng.integers(0, canvas - d + 1, size=(2, n))
    out = np.zeros((n, canvas, canvas, 1), "float32")
    for i, (r, c) in enumerate(zip(rows, cols)):
        out[i, r:r + d, c:c + d, 0] = images[i]
    return out


def load_canvases(canvas=CANVAS, digit=DIGIT, seed=0):
    """``(images, labels)``: all 1,797 digits, each ``digit`` pixels tall at a random place on a blank canvas.

    Images are float32 (N, canvas, canvas, 1) with 0-255 pixels; labels int32 0-9.

    Example:
        >>> x, y = load_canvases(canvas=16, digit=8, seed=1)
        >>> x.shape, sorted(set(y.tolist())) == list(range(10))
        ((1797, 16, 16, 1), True)
    """
    small, labels = load_small(digit)
    return place(small, canvas, seed), labels


def few_shot_split(x, y, classes, shots, seed=0):
    """``shots`` training and ``shots`` validation images per class of ``classes``; the rest of them is the test set.

    Returns ``(x_train, y_train), (x_val, y_val), (x_test, y_test)``, labels
    renumbered 0..len(classes)-1 in the order of ``classes`` (digits 5-9
    become 0-4). Images of other classes are left out. ``seed`` draws which
    images go where.

    Example:
        >>> x, y = np.arange(40).reshape(40, 1), np.repeat([5, 6, 7, 8], 10)
        >>> (xtr, ytr), (xva, yva), (xte, yte) = few_shot_split(x, y, [5, 6, 7, 8], shots=2, seed=0)
        >>> len(ytr), len(yva), len(yte), sorted(set(ytr.tolist()))
        (8, 8, 24, [0, 1, 2, 3])
    """
    x, y, classes = np.asarray(x), np.asarray(y), list(classes)
    checks.check_positive_int("shots", shots)
    if len(x) != len(y):
        raise ValueError(f"`x` and `y` must have the same length. Received: len(x)={len(x)}, len(y)={len(y)}")
    rng = np.random.default_rng(seed)
    parts = ([], [], [])  # indices and new labels of the train, validation and test images
    for label, c in enumerate(classes):
        idx = rng.permutation(np.flatnonzero(y == c))
        if len(idx) <= 2 * shots:
            raise ValueError(f"Class {c} has {len(idx)} images, too few for {shots} training and {shots} "
                             f"validation images and a test set. Received: shots={shots}")
        for part, chosen in zip(parts, (idx[:shots], idx[shots:2 * shots], idx[2 * shots:])):
            part += [(i, label) for i in chosen]
    split = []
    for part in parts:
        index, labels = (np.array(v) for v in zip(*part))
        split.append((x[index], labels.astype("int32")))
    return tuple(split)
