"""Decoded, resized images kept after the first epoch: in memory, or in a file keyed by the images.

Decoding a JPEG and resizing it costs far more than reading the result back:
with a folder of photographs the input pipeline, not the model, can set the
pace of a small network. ``decoded_cache`` keeps each image after its first
decode as uint8 at the training size (150x150x3 is 67.5 kB, so Dogs-vs-Cats'
25,000 images take about 1.7 GB):

- ``None``: no cache, every epoch decodes every file (the default);
- ``"memory"``: tf.data's ``cache()`` in memory;
- a folder: tf.data's ``cache(filename)`` on disk, the file name holding a key
  made of every file's path, size and modification time and the image size,
  so a changed, added or removed file, or another size, makes a new cache
  instead of reading a stale one.

The cached images are the uncached pipeline's rounded to uint8 (at most half
a grey level apart). tf.data writes a disk cache only when an epoch has run to
its end; an interrupted first epoch leaves a lock file, removed here before
the next run starts writing.

Example:
    >>> from PIL import Image
    >>> Image.fromarray(np.full((40, 30, 3), 200, "uint8")).save("a.jpg")
    >>> ds = decoded_images(["a.jpg"], [1], (8, 8), decoded_cache="memory")
    >>> [(x.shape, x.dtype.name, int(y)) for x, y in ds]
    [(TensorShape([8, 8, 3]), 'uint8', 1)]
"""

import glob
import hashlib
import os

import numpy as np

from datasets import tfdata

DISK_SHUFFLE_BUFFER = 4096  # decoded images held for shuffling a disk cache (150x150: about 280 MB)


def cache_key(paths, image_size):
    """A 16-hex digest of the files (paths, sizes, modification times) and the image size.

    Example:
        >>> open("k.jpg", "wb").close()
        >>> cache_key(["k.jpg"], (8, 8)) == cache_key(["k.jpg"], (8, 8)) != cache_key(["k.jpg"], (9, 8))
        True
    """
    digest = hashlib.sha256(repr(tuple(image_size)).encode())
    for path in paths:
        path = os.fspath(path.decode() if isinstance(path, bytes) else path)
        stat = os.stat(path)
        digest.update(f"\n{os.path.abspath(path)}\t{stat.st_size}\t{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def check_decoded_cache(decoded_cache):
    """``decoded_cache`` as given, if it is None, ``"memory"`` or a folder's path; else a ValueError."""
    if decoded_cache is None or decoded_cache == "memory":
        return decoded_cache
    if isinstance(decoded_cache, (str, os.PathLike)) and not isinstance(decoded_cache, bytes):
        return os.fspath(decoded_cache)
    raise ValueError("`decoded_cache` must be None, 'memory' or a folder's path. "
                     f"Received: decoded_cache={decoded_cache!r}")


def cache_file(folder, paths, image_size):
    """The disk cache's file prefix for these files at this size (the key in its name)."""
    return os.path.join(os.path.expanduser(folder),
                        f"decoded-{image_size[0]}x{image_size[1]}-{cache_key(paths, image_size)}")


def decoded_images(paths, labels, image_size, decoded_cache="memory"):
    """A dataset of ``(uint8 image (H, W, 3), int32 label)``, one per file, decoded once and cached.

    Decoding is :func:`datasets.dogs_vs_cats.decode_resize` (the checked
    decoder, bilinear resize), rounded to uint8.
    """
    import tensorflow as tf

    from datasets.dogs_vs_cats import decode_resize  # the one decoder of the folder loaders

    decoded_cache = check_decoded_cache(decoded_cache)
    paths = [os.fspath(p) for p in paths]
    ds = tf.data.Dataset.from_tensor_slices((tf.constant(paths, tf.string), np.asarray(labels, np.int32)))

    def decode(path, label):
        image = decode_resize(path, image_size)
        return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8), label

    ds = ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if decoded_cache == "memory":
        return ds.cache()
    if decoded_cache is None:
        return ds
    prefix = cache_file(decoded_cache, paths, image_size)
    os.makedirs(os.path.dirname(prefix), exist_ok=True)
    if not os.path.exists(prefix + ".index"):  # not complete: a lock file left by an interrupted epoch goes
        for lock in glob.glob(glob.escape(prefix) + "_*.lockfile"):
            os.remove(lock)
    return ds.cache(prefix)


def batched_images(paths, labels, image_size, batch_size, decoded_cache, shuffle=False, seed=None, augment=None):
    """Batches of float32 0-255 images and int32 labels from :func:`decoded_images`, reshuffled every epoch.

    The decoded images are shuffled (a buffer of every image when they are in
    memory, of :data:`DISK_SHUFFLE_BUFFER` when they come from a disk cache).
    """
    ds = decoded_images(paths, labels, image_size, decoded_cache)
    buffer = len(paths) if decoded_cache == "memory" else min(len(paths), DISK_SHUFFLE_BUFFER)
    return tfdata.batched(ds, batch_size, shuffle=shuffle, augment=augment, cache=False, seed=seed,
                          buffer_size=buffer)
