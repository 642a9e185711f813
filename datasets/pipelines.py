"""tf.data pipelines for model.fit and transfer.fine_tune: (x, y) batches, shuffled, cached, prefetched.

The order follows the tf.data performance guide: cache the decoded, unaugmented
samples; shuffle; batch; augment whole batches (one vectorised call per batch
instead of one per image); prefetch so the next batch is ready while the model
trains on this one.

Example:
    >>> from datasets import pipelines, Augment
    >>> train = pipelines.from_arrays(x, y, batch_size=64, augment=Augment(horizontal_flip=True))  # doctest: +SKIP
    >>> model.fit(train, epochs=3)                                                                 # doctest: +SKIP
"""

import numpy as np


def _tf():
    import tensorflow as tf

    return tf


def _check_augment_backend(augment):
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
    if not 0.0 < float(validation_split) < 1.0:
        raise ValueError(f"validation_split must be in (0, 1). Received: validation_split={validation_split!r}.")
    n = len(x)
    if len(y) != n:
        raise ValueError(f"x and y must have the same length. Received: len(x)={n}, len(y)={len(y)}.")
    order = np.random.default_rng(seed).permutation(n)
    n_val = int(round(n * float(validation_split)))
    val, train = order[:n_val], order[n_val:]
    return (x[train], y[train]), (x[val], y[val])


def finish(ds, batch_size, shuffle=False, augment=None, rescale=None, cache=True, seed=None,
           buffer_size=None, drop_remainder=False, augment_fn=None):
    """Turn a dataset of single (x, y) samples into a batched, prefetched training pipeline.

    ``augment`` is a Keras layer applied to each image batch with training=True;
    ``augment_fn(x, y) -> (x, y)`` is the general form (e.g. for KeypointAugment).
    Images are cast to float32, then multiplied by ``rescale`` if given.

    Example:
        >>> ds = tf.data.Dataset.from_tensor_slices((images, labels))           # doctest: +SKIP
        >>> train = finish(ds, 32, shuffle=True, augment=Augment(rotation_range=10))  # doctest: +SKIP
    """
    tf = _tf()
    _check_augment_backend(augment if augment_fn is None else augment_fn)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int. Received: batch_size={batch_size!r}.")
    if cache:
        ds = ds.cache()
    if shuffle:
        if buffer_size is None:
            n = int(ds.cardinality())
            buffer_size = n if 0 < n <= 50_000 else 10_000
        ds = ds.shuffle(buffer_size, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    scale = None if rescale is None else float(rescale)

    def to_float(x, y):
        x = tf.cast(x, tf.float32)
        return (x if scale is None else x * scale), y

    ds = ds.map(to_float, num_parallel_calls=tf.data.AUTOTUNE)
    if augment is not None:
        ds = ds.map(lambda x, y: (augment(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
    if augment_fn is not None:
        ds = ds.map(augment_fn, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def from_arrays(x, y, batch_size=32, shuffle=True, augment=None, cache=True, rescale=None, seed=None,
                drop_remainder=False):
    """Arrays -> batched tf.data of (float32 x, y), ready for ``model.fit`` or ``transfer.fine_tune``.

    Args:
        x, y: numpy arrays with the same first dimension.
        batch_size: samples per batch.
        shuffle: reshuffle every epoch (use False for validation data).
        augment: an ``Augment`` layer (or any layer) applied to image batches, or None.
        cache: keep the samples in memory after the first epoch.
        rescale: multiply pixels by this after casting to float32 (e.g. 1/255).
        seed: shuffle seed.

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
    return finish(ds, batch_size, shuffle=shuffle, augment=augment, rescale=rescale, cache=cache,
                  seed=seed, drop_remainder=drop_remainder)
