"""Guards for model files and images from outside: checked before Keras or TensorFlow sees them.

A damaged ``.keras`` file used to fail inside Keras in ways that name no file:
``RecursionError`` for deeply nested JSON, ``AttributeError`` for a wrong type in
the config, h5py's ``RuntimeError`` / ``OverflowError`` for a damaged weights
file, and, for an input dimension of 32e9 in the config, ten seconds of
allocating before a ``ResourceExhaustedError``. :func:`check_keras_config`
reads the archive's ``config.json`` first (bounded in size and depth, without
recursion) and refuses sizes no image model has; :func:`keras_load_error`
turns whatever Keras raises for a damaged file into one ``ValueError`` naming it.

Example:
    >>> import zipfile
    >>> with zipfile.ZipFile("deep.keras", "w") as zf:
    ...     zf.writestr("config.json", "[" * 100000 + "]" * 100000)
    >>> check_keras_config("deep.keras")
    Traceback (most recent call last):
    ...
    ValueError: deep.keras: its config.json nests deeper than 200 levels; not a model saved by Keras.
"""

import json
import math
import zipfile

import numpy as np
from zoo.files import json_depth

_MAX_CONFIG = 64 << 20  # bytes of config.json; a real one is a few hundred kB
_MAX_DEPTH = 200
_MAX_DIM = 1 << 16  # pixels per side, channels, units, filters: far above any real model, far below 32e9
_MAX_INPUT = 1 << 28  # values in one input sample
# Config keys whose integers are sizes that become allocations when the model is built.
_SIZE_KEYS = {"batch_shape", "batch_input_shape", "shape", "units", "filters", "kernel_size", "pool_size",
              "strides", "dilation_rate", "target_shape", "size", "depth_multiplier", "input_dim", "output_dim",
              "num_heads", "key_dim", "value_dim", "cropping", "padding", "groups", "input_shape"}
_INPUT_KEYS = ("batch_shape", "batch_input_shape", "input_shape")


def _sizes(config):
    """``(key, value)`` for every int under a size key, anywhere in ``config`` (walked without recursion)."""
    todo = [(None, config)]
    while todo:
        key, item = todo.pop()
        if isinstance(item, dict):
            todo += list(item.items())
        elif isinstance(item, list):
            todo += [(key, v) for v in item]
        elif key in _SIZE_KEYS and isinstance(item, int) and not isinstance(item, bool):
            yield key, item


def _input_shapes(config):
    todo = [config]
    while todo:
        item = todo.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key in _INPUT_KEYS and isinstance(value, list):
                    yield from _shapes_in(value)
                else:
                    todo.append(value)
        elif isinstance(item, list):
            todo += item


def _shapes_in(value):
    """The shapes in one input-shape entry: a shape, or a list of shapes (a layer with several inputs, e.g. Add)."""
    todo = [value]
    while todo:
        item = todo.pop()
        nested = [d for d in item if isinstance(d, (list, dict))]
        if not nested:
            yield item
        for d in nested:
            todo += [d] if isinstance(d, list) else [v for v in d.values() if isinstance(v, list)]


def check_keras_config(path):
    """Refuse a ``.keras`` archive whose ``config.json`` is unreadable, too deep, or asks for absurd sizes.

    Example:
        >>> import zipfile
        >>> with zipfile.ZipFile("huge.keras", "w") as zf:
        ...     zf.writestr("config.json", '{"config": {"batch_shape": [null, 32000000000, 3, 3]}}')
        >>> check_keras_config("huge.keras")
        Traceback (most recent call last):
        ...
        ValueError: huge.keras: its config asks for batch_shape 32000000000; ...
    """
    with zipfile.ZipFile(path) as zf:
        if "config.json" not in zf.namelist():
            raise ValueError(f"{path} holds no config.json, so it is not a .keras model file. "
                             f"Received members: {zf.namelist()[:10]}")
        info = zf.getinfo("config.json")
        if info.file_size > _MAX_CONFIG:
            raise ValueError(f"{path}: its config.json declares {info.file_size} bytes; a model's is far smaller.")
        text = zf.read(info).decode("utf-8")
    if json_depth(text) > _MAX_DEPTH:
        raise ValueError(f"{path}: its config.json nests deeper than {_MAX_DEPTH} levels; "
                         "not a model saved by Keras.")
    config = json.loads(text)
    for key, value in _sizes(config):
        if not -1 <= value <= _MAX_DIM:
            raise ValueError(f"{path}: its config asks for {key} {value}; sizes of at most {_MAX_DIM} are "
                             "loaded (the file is damaged, or not a model for this toolkit).")
    for shape in _input_shapes(config):
        dims = [d for d in shape if d is not None]
        if not all(isinstance(d, int) and d >= 0 for d in dims) or math.prod(dims) > _MAX_INPUT:
            raise ValueError(f"{path}: its config asks for an input of shape {shape!r:.100}; inputs of at most "
                             f"{_MAX_INPUT} values are loaded.")


def keras_load_error(path, err):
    """The ``ValueError`` (naming ``path``) for what loading a damaged ``.keras`` raised.

    Example:
        >>> keras_load_error("m.keras", RecursionError("maximum recursion depth exceeded"))
        ValueError('m.keras is corrupt or not a Keras model file (RecursionError: maximum recursion depth exceeded).')
    """
    message = str(err).splitlines()[0][:300] if str(err) else ""
    return ValueError(f"{path} is corrupt or not a Keras model file ({type(err).__name__}: {message}).")


def predict_by_size(model, images, skipped):
    """``{file: outputs}`` for ``images`` ({file: array}), one batch per image size.

    A model with a flexible input size cannot take every size (a 1x1 image into
    strided convolutions and pooling): the files of a size it refuses are added to
    ``skipped`` with the reason, the other sizes still run.

    Example:
        >>> model = transfer.attach_head(transfer.load_backbone("cnn_mnist", weights=None), 5)
        >>> skipped = []
        >>> out = predict_by_size(model, {"a.png": np.zeros((28, 28, 1), "float32")}, skipped)
        >>> out["a.png"].shape, skipped
        ((5,), [])
    """
    import tensorflow as tf

    by_shape = {}
    for f, arr in images.items():
        by_shape.setdefault(arr.shape, []).append(f)
    probs = {}
    for shape, group in by_shape.items():
        try:
            probs.update(zip(group, model.predict(np.stack([images[f] for f in group]), verbose=0)))
        except (tf.errors.OpError, ValueError) as err:  # e.g. AbortedError: a negative size after pooling
            lines = [line.strip() for line in str(getattr(err, "message", err)).splitlines()]
            # TensorFlow's message opens with "Graph execution error:" and node traces; the cause comes last.
            lines = [line for line in lines if line and not line.startswith(("[[", "Detected at", "File", "Graph"))]
            reason = (lines[-1] if lines else type(err).__name__)[:200]
            skipped += [(f, f"the model cannot take a {shape[0]}x{shape[1]} image ({type(err).__name__}: "
                            f"{reason})") for f in group]
    return probs
