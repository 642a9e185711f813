"""Feature extraction: run the frozen base once, cache the features on disk, train a head on them.

With the base frozen, every epoch of ordinary fine-tuning recomputes the same
features; computing them once makes each epoch a small Dense network's work
(see BENCHMARKS.md, "Feature extraction"). Inside
:func:`transfer.data_parallel` each batch is split over the devices; only the
chief process writes the cache file. The cache file is keyed by a
SHA-256 of everything that decides the features: the backbone's architecture
(layer types and their configurations) and every weight, including
BatchNorm's moving statistics, the input bytes, shape and dtype, and the
pooling. Change any of them and the key changes, so a stale cache is never
read.
"""

import hashlib
import json
import os

import keras
import numpy as np

from zoo import checks
from zoo.files import atomic_path
from zoo.parts import global_pool

from transfer.training.distributed import is_chief, process_count, process_index
from transfer.model.heads import HEAD_POOLING


def _arch_signature(model):
    """Layer types and configs without names, so two builds of one architecture agree."""
    sig = []
    for layer in model.layers:
        config = {k: v for k, v in layer.get_config().items() if k != "name"}
        sig.append([type(layer).__name__, config])
    return json.dumps(sig, sort_keys=True, default=str)


def cache_key(backbone, images, pooling="avg"):
    """Hex SHA-256 of the backbone's architecture and weights, the input bytes and the pooling.

    Example:
        >>> base = transfer.load_backbone("cnn_mnist", weights=None)
        >>> images = np.zeros((4, 28, 28, 1), "float32")
        >>> cache_key(base, images) == cache_key(base, images.copy())
        True
    """
    h = hashlib.sha256()
    h.update(_arch_signature(backbone).encode())
    for w in backbone.weights:
        h.update(np.ascontiguousarray(keras.ops.convert_to_numpy(w)).tobytes())
    images = np.ascontiguousarray(images)
    h.update(f"{images.shape}|{images.dtype}|{pooling}".encode())
    h.update(images.tobytes())
    return h.hexdigest()


def cache_path(backbone, images, cache_dir, pooling="avg"):
    """The file :func:`extract_features` reads or writes for these arguments.

    Example:
        >>> os.path.basename(cache_path(base, images, "cache"))          # doctest: +SKIP
        'cnn_mnist-3f2a...e1.npy'
    """
    return os.path.join(os.fspath(cache_dir), f"{backbone.name}-{cache_key(backbone, images, pooling)[:32]}.npy")


def _compute(backbone, images, pooling, batch_size, verbose):
    inputs = keras.Input(shape=backbone.input_shape[1:])
    x = backbone(inputs, training=False)
    if len(x.shape) == 4:
        x = global_pool(x, pooling)
    return keras.Model(inputs, x).predict(images, batch_size=batch_size, verbose=verbose)


def extract_features(backbone, images, pooling="avg", batch_size=64, cache_dir=None, verbose=0):
    """The backbone's features for ``images`` (raw pixels, numpy), computed once per cache key.

    Args:
        backbone: a model from :func:`transfer.load_backbone`.
        images: numpy array (N, H, W, C) of raw pixels.
        pooling: ``"avg"``, ``"max"``, ``"flatten"`` or None (the feature map).
        batch_size: inference batch size.
        cache_dir: folder for the ``.npy`` cache; None: no cache.
        verbose: Keras's progress bar while computing.

    Returns:
        float32 array (N, features) (or (N, h, w, c) for ``pooling=None``).

    Example:
        >>> base = transfer.load_backbone("cnn_mnist", weights=None)
        >>> x_train = np.random.default_rng(0).uniform(0, 255, (16, 28, 28, 1))
        >>> feats = transfer.extract_features(base, x_train, cache_dir="cache")   # computes
        >>> feats = transfer.extract_features(base, x_train, cache_dir="cache")   # reads the file
        >>> head = transfer.head_on_features(feats.shape[1:], 5)
        >>> feats.shape, len(os.listdir("cache"))
        ((16, 32), 1)
    """
    checks.check_choice("pooling", pooling, HEAD_POOLING + (None,))
    if process_count() > 1:
        # Keras's predict cannot return arrays that span several JAX processes (measured with
        # Keras 3.15: "Fetching value for jax.Array that spans non-addressable devices").
        raise NotImplementedError(
            "extract_features runs in one process (its devices may be several: data_parallel shards each "
            f"batch over them); this is process {process_index()} of {process_count()}. Extract the features "
            "once in a single process, or in each process before keras.distribution.initialize().")
    images = np.asarray(images)
    if images.ndim != 4 or tuple(images.shape[1:]) != tuple(backbone.input_shape[1:]):
        raise ValueError(f"`images` must be (N, {', '.join(map(str, backbone.input_shape[1:]))}) for "
                         f"{backbone.name!r}. Received: images.shape={images.shape}")
    if cache_dir is None:
        return _compute(backbone, images, pooling, batch_size, verbose)
    path = cache_path(backbone, images, cache_dir, pooling)
    if os.path.exists(path):
        return np.load(path)
    features = _compute(backbone, images, pooling, batch_size, verbose)
    if is_chief():
        with atomic_path(path, ".npy") as tmp, open(tmp, "wb") as f:  # a reader never sees half a file
            np.save(f, features)
    return features
