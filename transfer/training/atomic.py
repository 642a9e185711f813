"""Saving a Keras model so that a crash never leaves a half-written file (Keras writes the target directly)."""

import os
import tempfile

from zoo.files import atomic_path

from transfer.training.distributed import is_chief


def atomic_save(model, path, weights_only=False):
    """``model.save(path)`` (or ``save_weights``) that never leaves a half-written ``path``.

    Example:
        >>> model = zoo.cnn_mnist()
        >>> atomic_save(model, "best.keras")
        'best.keras'
        >>> atomic_save(model, "last.weights.h5", weights_only=True)
        'last.weights.h5'
    """
    path = os.fspath(path)
    suffix = ".weights.h5" if path.endswith(".weights.h5") else os.path.splitext(path)[1]
    expected = ".weights.h5" if weights_only else ".keras"
    if suffix != expected:
        raise ValueError(f"{'Weights' if weights_only else 'Models'} are saved to a '{expected}' file. "
                         f"Received: path={path!r}")
    if is_chief():
        with atomic_path(path, suffix) as tmp:
            _write(model, tmp, weights_only)
    else:
        # Under several JAX processes saving gathers the arrays with collectives, so every process
        # must save in step; only the chief keeps its file.
        with tempfile.TemporaryDirectory() as scratch:
            _write(model, os.path.join(scratch, "model" + suffix), weights_only)
    return path


def _write(model, path, weights_only):
    if weights_only:
        model.save_weights(path, overwrite=True)
    else:
        model.save(path, overwrite=True)
