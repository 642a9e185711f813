"""Residual blocks and the stack function: public building blocks.

Each block is a function ``block(x, filters, *, stride=1, name=...)`` that
adds layers to a functional graph and returns the output tensor; options
particular to a block are keyword arguments a caller binds with
``functools.partial``. Layer names follow keras.applications
(``conv3_block1_1_conv``), so Keras's ImageNet weights load by structure
and a stage can be frozen by its prefix.

Example, a residual block inside your own model:
    >>> import keras
    >>> from zoo import blocks
    >>> inputs = keras.Input((32, 32, 16))
    >>> x = blocks.basic_block(inputs, 32, stride=2, name="mine_block1")
    >>> keras.Model(inputs, x).output_shape
    (None, 16, 16, 32)

Shortcuts. The shortcut is the identity when the block keeps the shape. When
the block changes it, ``"projection"`` (He et al. option B) uses a strided
1x1 convolution and batch normalisation; ``"zero_pad"`` (option A, the CIFAR
ResNets) subsamples and pads the new channels with zeros, adding no
parameters. ``residual=False`` drops the shortcut: the plain twin.
"""

import keras
from keras import layers, ops

BN_EPSILON = 1.001e-5  # keras.applications' value; its weight files were trained with it.


def batch_norm(x, name):
    """BatchNormalization over channels with keras.applications' epsilon."""
    return layers.BatchNormalization(axis=-1, epsilon=BN_EPSILON, name=name)(x)


@keras.saving.register_keras_serializable(package="zoo")
class ZeroPadShortcut(layers.Layer):
    """Option A shortcut: take every ``stride``-th pixel, pad channels with zeros.

    Written as a layer rather than a Lambda so that ``.keras`` files load
    without ``safe_mode=False``.
    """

    def __init__(self, filters, stride=2, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.stride = stride

    def call(self, x):
        x = x[:, :: self.stride, :: self.stride, :]
        extra = self.filters - x.shape[-1]
        # Split the new channels evenly on both sides, as the reference code did.
        return ops.pad(x, [[0, 0], [0, 0], [0, 0], [extra // 2, extra - extra // 2]])

    def compute_output_shape(self, input_shape):
        n, h, w, _ = input_shape
        down = lambda d: None if d is None else -(-d // self.stride)  # noqa: E731
        return (n, down(h), down(w), self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "stride": self.stride}


def _shortcut(x, out_channels, stride, kind, name, use_bias=True):
    """Identity, or the projection / zero-padding shortcut when the shape changes."""
    if stride == 1 and x.shape[-1] == out_channels:
        return x
    if kind == "zero_pad":
        return ZeroPadShortcut(out_channels, stride, name=f"{name}_0_pad")(x)
    if kind == "projection":
        s = layers.Conv2D(out_channels, 1, strides=stride, use_bias=use_bias, name=f"{name}_0_conv")(x)
        return batch_norm(s, f"{name}_0_bn")
    raise ValueError(f"`shortcut` must be 'projection' or 'zero_pad'. Received: shortcut={kind!r}")


def basic_block(x, filters, *, stride=1, shortcut="projection", residual=True, use_bias=False, name="block"):
    """Two 3x3 convolutions (ResNet-18/34, the CIFAR ResNets). Output has ``filters`` channels.

    Example:
        >>> y = basic_block(keras.Input((8, 8, 16)), 16, name="b1")
        >>> tuple(y.shape)
        (None, 8, 8, 16)
    """
    y = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=use_bias, name=f"{name}_1_conv")(x)
    y = batch_norm(y, f"{name}_1_bn")
    y = layers.Activation("relu", name=f"{name}_1_relu")(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=use_bias, name=f"{name}_2_conv")(y)
    y = batch_norm(y, f"{name}_2_bn")
    if residual:
        y = layers.Add(name=f"{name}_add")([_shortcut(x, filters, stride, shortcut, name, use_bias=use_bias), y])
    return layers.Activation("relu", name=f"{name}_out")(y)


def bottleneck_block(x, filters, *, stride=1, residual=True, name="block"):
    """1x1 reduce, 3x3, 1x1 expand to ``4 * filters`` (ResNet-50/101/152, Keras v1 layout).

    As in keras.applications (and the original Caffe models) the stride sits on
    the first 1x1 convolution and every convolution has a bias.

    Example:
        >>> y = bottleneck_block(keras.Input((8, 8, 64)), 64, name="b1")
        >>> tuple(y.shape)
        (None, 8, 8, 256)
    """
    y = layers.Conv2D(filters, 1, strides=stride, name=f"{name}_1_conv")(x)
    y = batch_norm(y, f"{name}_1_bn")
    y = layers.Activation("relu", name=f"{name}_1_relu")(y)
    y = layers.Conv2D(filters, 3, padding="same", name=f"{name}_2_conv")(y)
    y = batch_norm(y, f"{name}_2_bn")
    y = layers.Activation("relu", name=f"{name}_2_relu")(y)
    y = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(y)
    y = batch_norm(y, f"{name}_3_bn")
    if residual:
        y = layers.Add(name=f"{name}_add")([_shortcut(x, 4 * filters, stride, "projection", name), y])
    return layers.Activation("relu", name=f"{name}_out")(y)


def preact_bottleneck_block(x, filters, *, stride=1, name="block"):
    """Pre-activation bottleneck (He et al. 2016b; ResNet-V2, Keras layout).

    BN and ReLU come before each convolution; the projection shortcut reads
    the pre-activated input, the identity shortcut the raw input, and a
    strided identity is a 1x1 max-pool (a subsample). The stride sits on the
    3x3 convolution.

    Example:
        >>> y = preact_bottleneck_block(keras.Input((8, 8, 64)), 64, name="b1")
        >>> tuple(y.shape)
        (None, 8, 8, 256)
    """
    preact = batch_norm(x, f"{name}_preact_bn")
    preact = layers.Activation("relu", name=f"{name}_preact_relu")(preact)
    if x.shape[-1] != 4 * filters:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(preact)
    elif stride > 1:
        shortcut = layers.MaxPooling2D(1, strides=stride, name=f"{name}_0_pool")(x)
    else:
        shortcut = x
    y = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_1_conv")(preact)
    y = batch_norm(y, f"{name}_1_bn")
    y = layers.Activation("relu", name=f"{name}_1_relu")(y)
    y = layers.ZeroPadding2D(((1, 1), (1, 1)), name=f"{name}_2_pad")(y)
    y = layers.Conv2D(filters, 3, strides=stride, use_bias=False, name=f"{name}_2_conv")(y)
    y = batch_norm(y, f"{name}_2_bn")
    y = layers.Activation("relu", name=f"{name}_2_relu")(y)
    y = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(y)
    return layers.Add(name=f"{name}_out")([shortcut, y])


def stack(x, block, filters, blocks, *, stride=2, stride_on="first", name="stack"):
    """``blocks`` blocks named ``{name}_block1..N``; one of them downsamples by ``stride``.

    ``stride_on="first"`` is the v1 convention; ``"last"`` is Keras's
    ResNet-V2 convention (the stride sits on the stage's last block).

    Example, a stage of three basic blocks halving the resolution:
        >>> import functools
        >>> y = stack(keras.Input((32, 32, 16)), functools.partial(basic_block, shortcut="zero_pad"),
        ...           32, 3, name="conv3")
        >>> tuple(y.shape)
        (None, 16, 16, 32)
    """
    if stride_on not in ("first", "last"):
        raise ValueError(f"`stride_on` must be 'first' or 'last'. Received: stride_on={stride_on!r}")
    if not isinstance(blocks, int) or blocks < 1:
        raise ValueError(f"`blocks` must be a positive integer. Received: blocks={blocks!r}")
    strided = 1 if stride_on == "first" else blocks
    for i in range(1, blocks + 1):
        x = block(x, filters, stride=stride if i == strided else 1, name=f"{name}_block{i}")
    return x
