"""Small real image tasks that ship with scikit-image and scikit-learn, for benchmarks on ImageNet weights.

Each task returns ``(train, val, test)`` pairs of ``(images, labels)``: float32 RGB
0-255 pixels at ``size`` x ``size``, integer labels, the split drawn by ``seed``.

- ``faces``: scikit-image's ``lfw_subset`` (100 faces, 100 non-faces from LFW,
  25x25 grey), upsampled: faces vs non-faces;
- ``textures``: crops of five scikit-image photographs (brick, grass, gravel,
  moon, coins): which photograph a crop comes from. Training and validation
  crops come from each photograph's top half, test crops from its bottom half,
  so no test pixel was seen in training;
- ``digits``: scikit-learn's 8x8 handwritten digits (1797, 0-16 grey), upsampled.
"""

import numpy as np

TEXTURES = ("brick", "grass", "gravel", "moon", "coins")
# Per class: training, validation and test images (the validation images serve early stopping only).
SPLITS = {"faces": (20, 10, 70), "textures": (16, 8, 40), "digits": (10, 5, 60)}


def _rgb(images, size):
    """(N, h, w) grey in [0, 1] -> (N, size, size, 3) float32 0-255, bilinear."""
    import keras

    x = np.repeat(np.asarray(images, "float32")[..., None] * 255.0, 3, axis=-1)
    if x.shape[1:3] != (size, size):
        x = keras.ops.convert_to_numpy(keras.ops.image.resize(x, (size, size), interpolation="bilinear"))
    return np.clip(x, 0, 255).astype("float32")


def _per_class_split(y, counts, rng):
    """Indices of ``counts`` = (train, val, test) images per class, drawn without overlap."""
    parts = [[], [], []]
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        start = 0
        for part, n in zip(parts, counts):
            part.extend(idx[start:start + n])
            start += n
    return [np.array(p) for p in parts]


def _split(x, y, counts, rng):
    return tuple((x[i], y[i]) for i in _per_class_split(y, counts, rng))


def faces(seed, size):
    from skimage.data import lfw_subset

    x = lfw_subset()
    y = np.repeat([1, 0], 100)  # the first 100 are faces
    return _split(_rgb(x, size), y, SPLITS["faces"], np.random.default_rng(seed))


def _crops(image, n, size, rows, rng):
    """``n`` random ``size`` x ``size`` crops whose rows lie in ``rows`` (start, stop)."""
    top = rng.integers(rows[0], rows[1] - size + 1, n)
    left = rng.integers(0, image.shape[1] - size + 1, n)
    return np.stack([image[t:t + size, s:s + size] for t, s in zip(top, left)])


def textures(seed, size):
    import skimage.data

    rng = np.random.default_rng(seed)
    n_train, n_val, n_test = SPLITS["textures"]
    fit, test = [], []
    for label, name in enumerate(TEXTURES):
        image = getattr(skimage.data, name)().astype("float32") / 255.0
        half = image.shape[0] // 2
        crop = min(64, half)
        fit.append((_crops(image, n_train + n_val, crop, (0, half), rng), label))
        test.append((_crops(image, n_test, crop, (half, image.shape[0]), rng), label))
    x_fit = _rgb(np.concatenate([c for c, _ in fit]), size)
    y_fit = np.concatenate([np.full(len(c), label) for c, label in fit])
    train_idx, val_idx, _ = _per_class_split(y_fit, (n_train, n_val, 0), rng)
    x_test = _rgb(np.concatenate([c for c, _ in test]), size)
    y_test = np.concatenate([np.full(len(c), label) for c, label in test])
    return (x_fit[train_idx], y_fit[train_idx]), (x_fit[val_idx], y_fit[val_idx]), (x_test, y_test)


def digits(seed, size):
    from sklearn.datasets import load_digits

    data = load_digits()
    return _split(_rgb(data.images / 16.0, size), data.target, SPLITS["digits"], np.random.default_rng(seed))


TASKS = {"faces": faces, "textures": textures, "digits": digits}
