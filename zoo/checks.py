"""Argument checks shared by every builder and loader (one place, one wording).

Every error says what was received and what is allowed, ending with
``Received: name=value`` as keras.applications does. (``zoo.validation`` is
this module's old name, kept for one release.)
"""

import difflib
import numbers
import os
import zipfile

import h5py

__all__ = ["BUILDER_POOLING", "check_weights", "check_weights_file", "check_choice", "check_pooling", "check_classes",
           "check_input_shape", "check_positive_int", "check_range", "close_matches"]

# What a zoo builder's ``pooling`` accepts with include_top=False (keras.applications' values).
BUILDER_POOLING = (None, "avg", "max")


def check_weights(weights, *, pretrained_available, include_top, classes, default_classes):
    """Validate ``weights`` against what the architecture offers."""
    allowed = "None, 'imagenet' or the path to a weights file" if pretrained_available \
        else "None or the path to a weights file (no published pretrained weights exist for this model)"
    if weights is None:
        return
    if weights == "imagenet":
        if not pretrained_available:
            raise ValueError(f"`weights` must be {allowed}. Received: weights={weights!r}")
        if include_top and classes != default_classes:
            raise ValueError(
                f"With weights='imagenet' and include_top=True the classifier has "
                f"{default_classes} outputs; pass include_top=False to attach your own head. "
                f"Received: classes={classes}"
            )
        return
    if isinstance(weights, (str, os.PathLike)):
        check_weights_file(weights)
        return
    raise ValueError(f"`weights` must be {allowed}. Received: weights={weights!r}")


def check_weights_file(path):
    """``path`` if it is a file Keras's ``load_weights`` can read: HDF5 (``.h5``, ``.weights.h5``) or ``.keras``.

    Checked by content, not by name, so a text or truncated file is named
    here rather than failing deep inside HDF5 ("file signature not found").

    Example:
        >>> _ = open("notes.h5", "w").write("not weights")
        >>> check_weights_file("notes.h5")
        Traceback (most recent call last):
        ...
        ValueError: 'notes.h5' is not an HDF5 weights file (.h5 or .weights.h5): it does not start with HDF5's signature. Received: weights='notes.h5'
    """
    name = os.fspath(path)
    if not os.path.isfile(name):
        raise FileNotFoundError(f"No weights file at {name!r}. Received: weights={path!r}")
    if name.endswith(".keras"):
        if not zipfile.is_zipfile(name):
            raise ValueError(f"{name!r} is not a complete .keras file (a zip archive): it is truncated or corrupt. "
                             f"Received: weights={path!r}")
    elif not h5py.is_hdf5(name):
        raise ValueError(f"{name!r} is not an HDF5 weights file (.h5 or .weights.h5): it does not start with "
                         f"HDF5's signature. Received: weights={path!r}")
    return path


def check_choice(name, value, allowed):
    """``value`` if it is one of ``allowed``, else ValueError naming both.

    Example:
        >>> check_choice("pooling", "avg", ("avg", "max"))
        'avg'
    """
    if value not in allowed:
        raise ValueError(f"`{name}` must be one of {tuple(allowed)}. Received: {name}={value!r}")
    return value


def check_pooling(pooling):
    check_choice("pooling", pooling, BUILDER_POOLING)


def check_classes(classes):
    return check_positive_int("classes", classes)


def check_input_shape(input_shape, *, default, min_size=None, channels=None):
    """Return a full (H, W, C) shape, filling in ``default`` where needed.

    ``min_size`` is the smallest height/width the architecture's strides
    allow; ``channels`` the channel count pretrained weights require.
    """
    if input_shape is None:
        return tuple(default)
    shape = tuple(input_shape)
    if len(shape) != 3 or any(d is not None and (not isinstance(d, int) or d < 1) for d in shape):
        raise ValueError(
            "`input_shape` must be (height, width, channels) with positive integers "
            f"(height and width may be None). Received: input_shape={input_shape!r}"
        )
    if min_size is not None:
        for d in shape[:2]:
            if d is not None and d < min_size:
                raise ValueError(
                    f"Height and width must be at least {min_size} for this architecture. "
                    f"Received: input_shape={input_shape!r}"
                )
    if channels is not None and shape[2] != channels:
        raise ValueError(
            f"This configuration needs {channels} input channels. Received: input_shape={input_shape!r}"
        )
    return shape


def check_positive_int(name, value):
    """``int(value)`` if it is a positive integer (NumPy integers too), else ValueError.

    Example:
        >>> import numpy as np
        >>> check_positive_int("classes", np.int64(10))
        10
    """
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    return int(value)


def check_range(name, value, low, high, *, low_inclusive=True, high_inclusive=False):
    """``float(value)`` if it lies in the interval, else ValueError that writes the interval.

    Example:
        >>> check_range("validation_split", 0.2, 0, 1, low_inclusive=False)
        0.2
        >>> check_range("dropout", 1.0, 0, 1)
        Traceback (most recent call last):
        ...
        ValueError: `dropout` must be in [0, 1). Received: dropout=1.0
    """
    interval = f"{'[' if low_inclusive else '('}{low:g}, {high:g}{']' if high_inclusive else ')'}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"`{name}` must be a number in {interval}. Received: {name}={value!r}")
    v = float(value)
    above = v >= low if low_inclusive else v > low
    below = v <= high if high_inclusive else v < high
    if not (above and below):
        raise ValueError(f"`{name}` must be in {interval}. Received: {name}={value!r}")
    return v


def close_matches(name, candidates):
    """A sentence suggesting the names in ``candidates`` closest to ``name`` ('' if none is close).

    Example:
        >>> close_matches("resnet5", ["resnet50", "resnet56", "vgg16"])
        ' Did you mean: resnet56, resnet50?'
    """
    close = difflib.get_close_matches(str(name).lower(), list(candidates), n=5, cutoff=0.5)
    return f" Did you mean: {', '.join(close)}?" if close else ""
