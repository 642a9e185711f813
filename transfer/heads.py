"""The one head factory: pooling, optional hidden layers, dropout, the output layer.

One function covers binary (1 sigmoid unit), multi-class (softmax) and
regression (linear outputs, e.g. 30 facial-keypoint coordinates) heads, on a
backbone or on cached features.
"""

import keras
from keras import layers
from zoo import validation
from zoo.parts import global_pool

from transfer.models import TransferModel, as_backbone

HEAD_POOLING = ("avg", "max", "flatten")  # a head's pooling of a 4-D feature map


def _check(classes, hidden, dropout, pooling, activation):
    """Validate the head's arguments; return ``(classes, output activation, head kind)``."""
    classes = validation.check_positive_int("classes", classes)
    validation.check_choice("pooling", pooling, HEAD_POOLING)
    if not all(isinstance(h, int) and h > 0 for h in hidden):
        raise ValueError(f"`hidden` must be a sequence of positive integers. Received: hidden={hidden!r}")
    validation.check_range("dropout", dropout, 0, 1)
    if activation == "auto":
        activation = "sigmoid" if classes == 1 else "softmax"
    if activation == "softmax" and classes == 1:
        raise ValueError("A softmax over one unit is always 1.0: use classes=1 with activation='sigmoid' "
                         "(or 'auto') for a binary head. Received: activation='softmax', classes=1")
    activation = None if activation == "linear" else activation
    if activation == "softmax":
        kind = "multiclass"
    elif activation == "sigmoid":
        kind = "binary" if classes == 1 else "multilabel"
    else:
        kind = "regression"
    return classes, activation, kind


def attach_head(backbone, classes, hidden=(), dropout=0.0, pooling="avg", activation="auto", name=None):
    """A trainable head on ``backbone``: pool, [Dropout, Dense(relu)] per ``hidden``, Dropout, output.

    Args:
        backbone: a model from :func:`transfer.load_backbone`, any functional
            feature extractor (wrapped with :func:`transfer.as_backbone`, its
            groups derived from its layer names), or the shape of cached
            features (e.g. ``features.shape[1:]``) for a head trained on
            :func:`transfer.extract_features` output.
        classes: output units: 1 for binary, N for N-way classification, or
            the number of regression targets.
        hidden: sizes of hidden Dense layers (relu) between pooling and output.
        dropout: rate applied before each Dense layer (0 for none).
        pooling: ``"avg"``, ``"max"`` or ``"flatten"`` for a 4-D feature map;
            ignored when the features are already vectors.
        activation: ``"auto"`` (sigmoid for ``classes=1``, else softmax),
            ``"softmax"``, ``"sigmoid"`` (multi-label), or ``None``/``"linear"``
            for regression. The head kind this implies is recorded on the
            model (``model.head_kind``).
        name: model name; default ``<backbone>_transfer`` or ``feature_head``.

    Returns:
        A :class:`~transfer.models.TransferModel`.

    Example:
        >>> base = transfer.load_backbone("cnn_mnist", weights=None)
        >>> transfer.attach_head(base, 1).output_shape                       # binary
        (None, 1)
        >>> transfer.attach_head(base, 30, activation=None, pooling="flatten").head_kind  # keypoints
        'regression'
    """
    hidden = tuple(hidden)
    classes, out_activation, kind = _check(classes, hidden, dropout, pooling, activation)
    if isinstance(backbone, keras.Model):
        backbone = as_backbone(backbone)
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
        x = global_pool(x, pooling, name="head_flatten" if pooling == "flatten" else f"head_{pooling}_pool")
    elif len(x.shape) > 2:
        x = layers.Flatten(name="head_flatten")(x)
    for i, units in enumerate(hidden, start=1):
        if dropout:
            x = layers.Dropout(dropout, name=f"head_drop{i}")(x)
        x = layers.Dense(units, activation="relu", name=f"head_fc{i}")(x)
    if dropout:
        x = layers.Dropout(dropout, name="head_drop")(x)
    outputs = layers.Dense(classes, activation=out_activation, name="predictions")(x)
    return TransferModel(inputs, outputs, name=name or default_name, head_kind=kind)


def combine(backbone, head, pooling="avg", name=None):
    """One model for prediction: ``backbone``, pooling, then a head trained on cached features.

    ``pooling`` must be what :func:`transfer.extract_features` used; the head
    kind is the head's.

    Example:
        >>> base = transfer.load_backbone("cnn_mnist", weights=None)
        >>> head = transfer.attach_head((32,), 5)          # cnn_mnist has 32 channels
        >>> transfer.combine(base, head).output_shape
        (None, 5)
    """
    validation.check_choice("pooling", pooling, HEAD_POOLING + (None,))
    backbone = as_backbone(backbone)
    inputs = keras.Input(shape=backbone.input_shape[1:], name="image")
    x = backbone(inputs, training=False)
    if len(x.shape) == 4:
        x = global_pool(x, pooling, name="features_pool")
    kind = getattr(head, "head_kind", None)
    return TransferModel(inputs, head(x), name=name or f"{backbone.name}_transfer", head_kind=kind)
