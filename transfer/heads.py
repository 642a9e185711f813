"""The one head factory: pooling, optional hidden layers, dropout, the output layer.

One function covers binary (1 sigmoid unit), multi-class (softmax) and
regression (linear outputs, e.g. 30 facial-keypoint coordinates) heads, on a
backbone or on cached features.
"""

import keras
from keras import layers

POOLING = ("avg", "max", "flatten")


def _check(classes, hidden, dropout, pooling, activation):
    if not isinstance(classes, int) or isinstance(classes, bool) or classes < 1:
        raise ValueError(f"`classes` must be a positive integer (1 for binary). Received: classes={classes!r}")
    if pooling not in POOLING:
        raise ValueError(f"`pooling` must be one of {POOLING}. Received: pooling={pooling!r}")
    if not all(isinstance(h, int) and h > 0 for h in hidden):
        raise ValueError(f"`hidden` must be a sequence of positive integers. Received: hidden={hidden!r}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout!r}")
    if activation == "auto":
        return "sigmoid" if classes == 1 else "softmax"
    if activation == "softmax" and classes == 1:
        raise ValueError("A softmax over one unit is always 1.0: use classes=1 with activation='sigmoid' "
                         "(or 'auto') for a binary head. Received: activation='softmax', classes=1")
    return None if activation == "linear" else activation


def attach_head(backbone, classes, hidden=(), dropout=0.0, pooling="avg", activation="auto", name=None):
    """A trainable head on ``backbone``: pool, [Dropout, Dense(relu)] per ``hidden``, Dropout, output.

    Args:
        backbone: a model from :func:`transfer.load_backbone` (called with
            ``training=False``, as Keras's fine-tuning guide does), or the
            shape of cached features (e.g. ``features.shape[1:]``) for a head
            trained on :func:`transfer.extract_features` output.
        classes: output units: 1 for binary, N for N-way classification, or
            the number of regression targets.
        hidden: sizes of hidden Dense layers (relu) between pooling and output.
        dropout: rate applied before each Dense layer (0 for none).
        pooling: ``"avg"``, ``"max"`` or ``"flatten"`` for a 4-D feature map;
            ignored when the features are already vectors.
        activation: ``"auto"`` (sigmoid for ``classes=1``, else softmax),
            ``"softmax"``, ``"sigmoid"`` (multi-label), or ``None``/``"linear"``
            for regression.
        name: model name; default ``<backbone>_transfer`` or ``feature_head``.

    Example:
        >>> base = transfer.load_backbone("cnn_mnist", weights=None)
        >>> transfer.attach_head(base, 1).output_shape                       # binary
        (None, 1)
        >>> transfer.attach_head(base, 30, activation=None, pooling="flatten").output_shape  # keypoints
        (None, 30)
    """
    hidden = tuple(hidden)
    out_activation = _check(classes, hidden, dropout, pooling, activation)
    if isinstance(backbone, keras.Model):
        inputs = keras.Input(shape=backbone.input_shape[1:], name="image")
        # Keras's guide calls the base with training=False. In Keras 3 fit()'s
        # training=True still reaches the base's layers (keras-team/keras#20285),
        # so what keeps BatchNorm in inference mode is its trainable=False, which
        # transfer.freeze/unfreeze manage.
        x = backbone(inputs, training=False)
        default_name = f"{backbone.name}_transfer"
    else:
        inputs = keras.Input(shape=tuple(backbone), name="features")
        x, default_name = inputs, "feature_head"
    if len(x.shape) == 4:
        x = {"avg": layers.GlobalAveragePooling2D, "max": layers.GlobalMaxPooling2D,
             "flatten": layers.Flatten}[pooling](name=f"head_{pooling}_pool" if pooling != "flatten" else "head_flatten")(x)
    elif len(x.shape) > 2:
        x = layers.Flatten(name="head_flatten")(x)
    for i, units in enumerate(hidden, start=1):
        if dropout:
            x = layers.Dropout(dropout, name=f"head_drop{i}")(x)
        x = layers.Dense(units, activation="relu", name=f"head_fc{i}")(x)
    if dropout:
        x = layers.Dropout(dropout, name="head_drop")(x)
    outputs = layers.Dense(classes, activation=out_activation, name="predictions")(x)
    return keras.Model(inputs, outputs, name=name or default_name)


def combine(backbone, head, pooling="avg", name=None):
    """One model for prediction: ``backbone``, pooling, then a head trained on cached features.

    ``pooling`` must be what :func:`transfer.extract_features` used.

    Example:
        >>> feats = transfer.extract_features(base, images)
        >>> head = transfer.attach_head(feats.shape[1:], 5)
        >>> model = transfer.combine(base, head)
    """
    if pooling not in POOLING + (None,):
        raise ValueError(f"`pooling` must be one of {POOLING + (None,)}. Received: pooling={pooling!r}")
    inputs = keras.Input(shape=backbone.input_shape[1:], name="image")
    x = backbone(inputs, training=False)
    if pooling is not None and len(x.shape) == 4:
        x = {"avg": layers.GlobalAveragePooling2D, "max": layers.GlobalMaxPooling2D,
             "flatten": layers.Flatten}[pooling](name="features_pool")(x)
    return keras.Model(inputs, head(x), name=name or f"{backbone.name}_transfer")


def head_kind(model):
    """``"binary"``, ``"multiclass"``, ``"multilabel"`` or ``"regression"``, from the output layer.

    Example:
        >>> head_kind(transfer.attach_head(base, 30, activation=None))
        'regression'
    """
    last = model.layers[-1]
    while isinstance(last, keras.Model):  # a head nested by combine()
        last = last.layers[-1]
    act = getattr(getattr(last, "activation", None), "__name__", "linear")
    units = model.output_shape[-1]
    if act == "softmax":
        return "multiclass"
    if act == "sigmoid":
        return "binary" if units == 1 else "multilabel"
    return "regression"
