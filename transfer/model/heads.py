"""The one head factory: pooling, optional hidden layers, dropout, the output layer.

One function covers binary (1 sigmoid unit), multi-class (softmax) and
regression (linear outputs, e.g. 30 facial-keypoint coordinates) heads, on a
backbone or on cached features.
"""

import keras
from keras import layers
from zoo import checks
from zoo.parts import global_pool

from transfer.model.dtypes import policy_scope, with_policy
from transfer.model.backbone import TransferModel, as_backbone
from transfer.model.head_kinds import kind_of

HEAD_POOLING = ("avg", "max", "flatten")  # a head's pooling of a 4-D feature map


def _check(classes, hidden, dropout, pooling, activation):
    """Validate the head's arguments; return ``(classes, hidden, output activation, head kind)``."""
    classes = checks.check_positive_int("classes", classes)
    checks.check_choice("pooling", pooling, HEAD_POOLING)
    hidden = tuple(checks.check_positive_int("hidden", h) for h in hidden)
    checks.check_range("dropout", dropout, 0, 1)
    if activation == "auto":
        activation = "sigmoid" if classes == 1 else "softmax"
    if activation == "softmax" and classes == 1:
        raise ValueError("A softmax over one unit is always 1.0: use classes=1 with activation='sigmoid' "
                         "(or 'auto') for a binary head. Received: activation='softmax', classes=1")
    activation = None if activation == "linear" else activation
    return classes, hidden, activation, kind_of(activation, classes).name


def attach_head(backbone, classes, hidden=(), dropout=0.0, pooling="avg", activation="auto", name=None,
                augment=None, dtype=None):
    """A trainable head on ``backbone``: [augment], backbone, pool, [Dropout, Dense(relu)] per ``hidden``, output.

    Args:
        backbone: a model from :func:`transfer.load_backbone`, or any
            functional feature extractor (wrapped with :func:`transfer.as_backbone`,
            its groups derived from its layer names). For a head on cached
            features use :func:`head_on_features` (a shape here still works,
            as the old spelling of that call).
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
        augment: a Keras layer applied to the images before the backbone,
            e.g. ``datasets.Augment(rotation_range=15, horizontal_flip=True)``
            or a ``keras.layers.RandomFlip``: it runs only in training,
            inside the compiled train step (on the accelerator, under XLA),
            is saved with the model, and is the identity in ``predict``.
        dtype: a Keras dtype policy for this model, e.g. ``"mixed_bfloat16"``;
            a backbone built under another policy is copied under this one
            (same weights). Default: the backbone's policy. The output layer
            always computes in float32.

    Returns:
        A :class:`~transfer.model.backbone.TransferModel`.

    Example:
        >>> base = transfer.load_backbone("cnn_mnist", weights=None)
        >>> transfer.attach_head(base, 1).output_shape                       # binary
        (None, 1)
        >>> transfer.attach_head(base, 30, activation=None, pooling="flatten").head_kind  # keypoints
        'regression'
        >>> fast = transfer.attach_head(base, 10, augment=datasets.Augment(rotation_range=10), dtype="mixed_bfloat16")
        >>> [type(layer).__name__ for layer in fast.layers[:3]], fast.compute_dtype, fast.output.dtype
        (['InputLayer', 'Augment', 'Backbone'], 'bfloat16', 'float32')
    """
    classes, hidden, out_activation, kind = _check(classes, tuple(hidden), dropout, pooling, activation)
    if isinstance(backbone, keras.Model):
        backbone = as_backbone(backbone)
        dtype = dtype or backbone.dtype_policy
        backbone = with_policy(backbone, dtype)
    with policy_scope(dtype):
        return _build(backbone, classes, hidden, dropout, pooling, out_activation, kind, name, augment)


def head_on_features(feature_shape, classes, hidden=(), dropout=0.0, pooling="avg", activation="auto", name=None,
                     dtype=None):
    """The same head as :func:`attach_head`, on cached features of ``feature_shape`` instead of a backbone.

    For a head trained on :func:`transfer.extract_features` output; join it to
    its backbone for prediction with :func:`combine`. The arguments are
    :func:`attach_head`'s.

    Example:
        >>> base = transfer.load_backbone("cnn_mnist", weights=None)
        >>> features = transfer.extract_features(base, np.zeros((4, 28, 28, 1)), pooling="avg")
        >>> head = head_on_features(features.shape[1:], 5, hidden=(16,))
        >>> head.input_shape, head.head_kind
        ((None, 32), 'multiclass')
    """
    shape = tuple(feature_shape) if isinstance(feature_shape, (tuple, list)) else None
    if not shape or not all(isinstance(d, int) and d > 0 for d in shape):
        raise ValueError("`feature_shape` must be the shape of one example's features, e.g. features.shape[1:]. "
                         f"Received: feature_shape={feature_shape!r}")
    classes, hidden, out_activation, kind = _check(classes, tuple(hidden), dropout, pooling, activation)
    with policy_scope(dtype):
        return _build(shape, classes, hidden, dropout, pooling, out_activation, kind, name, None)


def _build(backbone, classes, hidden, dropout, pooling, out_activation, kind, name, augment):
    """The head model's graph (under the caller's dtype policy)."""
    if isinstance(backbone, keras.Model):
        inputs = keras.Input(shape=backbone.input_shape[1:], name="image")
        x = inputs
        if augment is not None:
            if not isinstance(augment, keras.layers.Layer):
                raise TypeError(f"`augment` must be a Keras layer (e.g. datasets.Augment(...)). "
                                f"Received: augment={augment!r}")
            x = augment(x)  # Keras passes fit()'s training=True to it, predict()'s False
        # Keras's guide calls the base with training=False. In Keras 3 fit()'s
        # training=True still reaches the base's layers (keras-team/keras#20285),
        # so what keeps BatchNorm in inference mode is its trainable=False, which
        # transfer.freeze/unfreeze manage.
        x = backbone(x, training=False)
        default_name = f"{backbone.name}_transfer"
    else:
        if augment is not None:
            raise ValueError("A head on cached features cannot augment images. Received: augment=<layer>")
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
    # float32 output whatever the policy: a softmax or a loss in bfloat16 loses precision.
    outputs = layers.Dense(classes, activation=out_activation, name="predictions", dtype="float32")(x)
    return TransferModel(inputs, outputs, name=name or default_name, head_kind=kind)


def combine(backbone, head, pooling="avg", name=None):
    """One model for prediction: ``backbone``, pooling, then a head trained on cached features.

    ``pooling`` must be what :func:`transfer.extract_features` used; the head
    kind is the head's.

    Example:
        >>> base = transfer.load_backbone("cnn_mnist", weights=None)
        >>> head = transfer.head_on_features((32,), 5)     # cnn_mnist has 32 channels
        >>> transfer.combine(base, head).output_shape
        (None, 5)
    """
    checks.check_choice("pooling", pooling, HEAD_POOLING + (None,))
    backbone = as_backbone(backbone)
    inputs = keras.Input(shape=backbone.input_shape[1:], name="image")
    x = backbone(inputs, training=False)
    if len(x.shape) == 4:
        x = global_pool(x, pooling, name="features_pool")
    kind = getattr(head, "head_kind", None)
    return TransferModel(inputs, head(x), name=name or f"{backbone.name}_transfer", head_kind=kind)
