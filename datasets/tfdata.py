"""tf.data for model.fit and transfer.fine_tune: (x, y) batches, shuffled, cached, augmented, prefetched.

Every data set ends its pipeline with :func:`batched`, so the order below holds
everywhere. It follows the tf.data performance guide: cache the unaugmented
samples; shuffle; decode (files: after the shuffle, so the buffer holds names,
not pixels); batch; augment whole batches (one vectorised call per batch instead
of one per image); prefetch so the next batch is ready while the model trains on
this one.

Example:
    >>> from datasets import tfdata, Augment
    >>> train = tfdata.from_arrays(np.zeros((8, 32, 32, 3), "uint8"), np.arange(8), batch_size=4,
    ...                            augment=Augment(horizontal_flip=True))
    >>> [tuple(x.shape) for x, _ in train]
    [(4, 32, 32, 3), (4, 32, 32, 3)]
"""

import numpy as np

from zoo.checks import check_positive_int, check_range


def _tf():
    import tensorflow as tf

    return tf


def _on_x(fn):
    """Apply ``fn`` to the images of (x, y) samples, or of bare x samples (unlabelled test sets)."""
    def apply(x, *rest):
        x = fn(x)
        return (x, *rest) if rest else x

    return apply


def check_validation_split(validation_split):
    """The one rule for ``validation_split``: a fraction in [0, 1); 0 holds nothing out.

    Example:
        >>> check_validation_split(0.2)
        0.2
    """
    return check_range("validation_split", validation_split, 0, 1)


def check_augment_backend(augment):
    """Refuse augmentation inside tf.data on a backend other than TensorFlow (tf.data runs TF ops).

    Example:
        >>> check_augment_backend(None)   # nothing to run: fine on every backend
    """
    import keras

    if augment is not None and keras.backend.backend() != "tensorflow":
        raise ValueError(
            "Augmentation inside tf.data needs KERAS_BACKEND=tensorflow (tf.data runs TensorFlow ops). "
            f"Received: backend={keras.backend.backend()!r}. On other backends put the Augment layer "
            "at the start of the model instead; it is active only when training.")


def split_arrays(x, y, validation_split, seed=1337):
    """Split arrays into ``(x_train, y_train), (x_val, y_val)`` by a seeded permutation.

    Example:
        >>> (xt, yt), (xv, yv) = split_arrays(np.zeros((10, 2)), np.arange(10), 0.2, seed=0)
        >>> len(xt), len(xv)
        (8, 2)
    """
    fraction = check_validation_split(validation_split)
    n = len(x)
    if len(y) != n:
        raise ValueError(f"x and y must have the same length. Received: len(x)={n}, len(y)={len(y)}.")
    order = np.random.default_rng(seed).permutation(n)
    n_val = int(round(n * fraction))
    val, train = order[:n_val], order[n_val:]
    return (x[train], y[train]), (x[val], y[val])


def batched(ds, batch_size, shuffle=False, augment=None, rescale=None, cache=True, seed=None,
            buffer_size=None, drop_remainder=False, augment_fn=None, decode=None):
    """Turn a dataset of single (x, y) samples into batched, prefetched float32 batches.

    Args:
        ds: a ``tf.data.Dataset`` of (x, y) samples, or of x alone (e.g. unlabelled test images).
        batch_size: samples per batch.
        shuffle: reshuffle every epoch; ``buffer_size`` defaults to the whole data set
            up to 50,000 samples, else 10,000.
        augment: a Keras layer applied to each image batch with training=True.
        rescale: multiply pixels by this after casting to float32 (e.g. 1/255).
        cache: keep the samples (before ``decode``) in memory after the first epoch.
        seed: shuffle seed.
        drop_remainder: drop a last, smaller batch.
        augment_fn: ``(x, y) -> (x, y)`` on batches, the general form (e.g. KeypointAugment).
        decode: ``(x, y) -> (x, y)`` on single samples after shuffling, e.g. file name -> pixels.

    Example:
        >>> import tensorflow as tf
        >>> ds = tf.data.Dataset.from_tensor_slices((np.zeros((5, 4, 4, 1), "uint8"), np.arange(5)))
        >>> [int(y.shape[0]) for _, y in batched(ds, 2, rescale=1 / 255)]
        [2, 2, 1]
    """
    tf = _tf()
    check_augment_backend(augment if augment_fn is None else augment_fn)
    batch_size = check_positive_int("batch_size", batch_size)
    if cache:
        ds = ds.cache()
    if shuffle:
        if buffer_size is None:
            n = int(ds.cardinality())
            buffer_size = n if 0 < n <= 50_000 else 10_000
        ds = ds.shuffle(max(1, buffer_size), seed=seed, reshuffle_each_iteration=True)
    if decode is not None:
        ds = ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    scale = None if rescale is None else float(rescale)

    def to_float(x):
        x = tf.cast(x, tf.float32)
        return x if scale is None else x * scale

    ds = ds.map(_on_x(to_float), num_parallel_calls=tf.data.AUTOTUNE)
    if augment is not None:
        ds = ds.map(_on_x(lambda x: augment(x, training=True)), num_parallel_calls=tf.data.AUTOTUNE)
    if augment_fn is not None:
        ds = ds.map(augment_fn, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def from_arrays(x, y, batch_size=32, shuffle=True, augment=None, cache=True, rescale=None, seed=None,
                drop_remainder=False, augment_fn=None):
    """Arrays -> batched tf.data of (float32 x, y), ready for ``model.fit`` or ``transfer.fine_tune``.

    Args:
        x, y: numpy arrays with the same first dimension.
        batch_size: samples per batch.
        shuffle: reshuffle every epoch (use False for validation data).
        augment: an ``Augment`` layer (or any layer) applied to image batches, or None.
        cache: keep the samples in memory after the first epoch.
        rescale: multiply pixels by this after casting to float32 (e.g. 1/255).
        seed: shuffle seed.
        drop_remainder: drop a last, smaller batch.
        augment_fn: ``(x, y) -> (x, y)`` on batches (see :func:`batched`).

    Example:
        >>> train = from_arrays(np.zeros((8, 32, 32, 3), "uint8"), np.arange(8), batch_size=4)
        >>> [tuple(b[0].shape) for b in train]
        [(4, 32, 32, 3), (4, 32, 32, 3)]
    """
    tf = _tf()
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length. Received: len(x)={len(x)}, len(y)={len(y)}.")
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    return batched(ds, batch_size, shuffle=shuffle, augment=augment, rescale=rescale, cache=cache,
                   seed=seed, drop_remainder=drop_remainder, augment_fn=augment_fn)
