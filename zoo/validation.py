"""Argument checks shared by every builder (one place, one wording).

Every error says what was received and what is allowed, ending with
``Received: name=value`` as keras.applications does.
"""

import os

POOLING = (None, "avg", "max")


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
        if not os.path.exists(weights):
            raise FileNotFoundError(f"No weights file at {os.fspath(weights)!r}. Received: weights={weights!r}")
        return
    raise ValueError(f"`weights` must be {allowed}. Received: weights={weights!r}")


def check_pooling(pooling):
    if pooling not in POOLING:
        raise ValueError(f"`pooling` must be one of {POOLING}. Received: pooling={pooling!r}")


def check_classes(classes):
    if not isinstance(classes, int) or isinstance(classes, bool) or classes < 1:
        raise ValueError(f"`classes` must be a positive integer. Received: classes={classes!r}")


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
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
