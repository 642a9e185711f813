"""Dtype policies per model: build one model under mixed precision without touching the others.

Example:
    >>> with policy_scope("mixed_bfloat16"):
    ...     layer = keras.layers.Dense(2)
    >>> layer.compute_dtype
    'bfloat16'
"""

import contextlib

import keras

from transfer.model.backbone import Backbone


@contextlib.contextmanager
def policy_scope(dtype):
    """Build the layers made inside under the dtype policy ``dtype`` (None: the global policy, unchanged).

    Keras reads the global policy when a layer is made; this sets it for the
    block and restores it after, so one model can be mixed precision without
    changing the others.

    Example:
        >>> with policy_scope("mixed_bfloat16"):
        ...     layer = keras.layers.Dense(2)
        >>> layer.compute_dtype, keras.mixed_precision.dtype_policy().name
        ('bfloat16', 'float32')
    """
    if dtype is None:
        yield
        return
    previous = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy(dtype)
    try:
        yield
    finally:
        keras.mixed_precision.set_dtype_policy(previous)


def with_policy(backbone, dtype):
    """``backbone`` itself if it already computes under ``dtype``, else a copy under it with the same weights.

    Example:
        >>> base = transfer.load_backbone("cnn_mnist", weights=None)
        >>> with_policy(base, "mixed_bfloat16").get_layer("block1_conv").compute_dtype
        'bfloat16'
    """
    policy = keras.DTypePolicy(dtype) if isinstance(dtype, str) else dtype
    if dtype is None or backbone.dtype_policy.name == policy.name:
        return backbone
    with policy_scope(policy):
        copy = keras.models.clone_model(
            backbone, clone_function=lambda layer: type(layer).from_config({**layer.get_config(), "dtype": policy}))
    copy.set_weights(backbone.get_weights())  # variables stay float32 under a mixed policy
    return Backbone(copy.inputs, copy.outputs[0], name=backbone.name, arch=getattr(backbone, "arch", None),
                    groups=getattr(backbone, "groups", None))
