"""LeNet-5, AlexNet and the VGG family.

VGG configurations are data (Simonyan & Zisserman 2015, table 1): a number is
a 3x3 convolution with that many filters, "M" a 2x2 max-pool. VGG16 and
VGG19 without batch normalisation reproduce keras.applications layer for
layer (``block1_conv1`` ... ``fc1``, ``fc2``, ``predictions``), so Keras's
published ImageNet files load with ``weights="imagenet"``.
"""

import dataclasses

from keras import layers

from zoo import parts
from zoo.configs import ArchConfig, WeightSet, keras_weight_files
from zoo.registry import register_config, register_model

IMAGENET_SHAPE = (224, 224, 3)
_KERAS = "https://storage.googleapis.com/tensorflow/keras-applications/{arch}/"

VGG_LAYOUTS = {
    "vgg11": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "vgg13": (64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "vgg16": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
    "vgg19": (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
              512, 512, 512, 512, "M", 512, 512, 512, 512, "M"),
}
# Keras's published VGG files (MD5s of the file with the top, without it).
_VGG_HASHES = {
    "vgg16": ("64373286793e3c8b2b4e3219cbf3544b", "6d6bbae143d832006294945121d1f1fc"),
    "vgg19": ("cbe5617147190e668d6c5d5026f83318", "253f8cb515780f3b799900260a226db6"),
}


@dataclasses.dataclass(frozen=True)
class VGGLayout:
    """A VGG record's ``spec``: its layout (a key of ``VGG_LAYOUTS``) and whether it has batch normalisation."""

    layout: str
    batch_norm: bool


def _vgg_record(layout, batch_norm):
    name = layout + ("_bn" if batch_norm else "")
    hashes = None if batch_norm else _VGG_HASHES.get(layout)
    files = keras_weight_files(layout, _KERAS.format(arch=layout), *hashes) if hashes else None
    return ArchConfig(
        name, IMAGENET_SHAPE, 32, "caffe", "blocks", family="vgg", spec=VGGLayout(layout, batch_norm),
        weights={"imagenet": WeightSet("caffe", files=files)} if files else {},
        description=f"VGG-{layout[3:]}{' with batch normalisation' if batch_norm else ''}")


CONFIGS = tuple(_vgg_record(layout, bn) for bn in (False, True) for layout in VGG_LAYOUTS) + (
    ArchConfig("lenet5", (32, 32, 1), 32, "rescale", "stages", family="lenet", classes=10,
               description="LeNet-5 (LeCun et al. 1998)"),
    # No published weights; caffe mode is what ImageNet-style networks of its time were trained with.
    ArchConfig("alexnet", (227, 227, 3), 67, "caffe", "stages", family="alexnet",
               description="AlexNet (Krizhevsky et al. 2012), one tower"),
)
register_config(*CONFIGS)


def vgg(
    config,
    *,
    batch_norm=False,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name=None,
):
    """Build VGG ``config`` ("vgg11", "vgg13", "vgg16", "vgg19"), optionally with batch normalisation.

    The top is Flatten, two 4096-unit Dense layers and the classifier; at
    input sizes other than 224 the first Dense layer takes the flattened map
    of that size.

    Example:
        >>> vgg("vgg16").count_params()
        138357544
    """
    if config not in VGG_LAYOUTS:
        raise ValueError(f"`config` must be one of {sorted(VGG_LAYOUTS)}. Received: config={config!r}")
    arch = config + ("_bn" if batch_norm else "")
    if weights == "imagenet" and include_top and input_shape not in (None, IMAGENET_SHAPE):
        raise ValueError(f"The ImageNet top needs 224x224x3 input. Received: input_shape={input_shape!r}")
    _, classes, (x, inputs) = parts.start(
        arch, include_top=include_top, weights=weights, input_tensor=input_tensor, input_shape=input_shape,
        pooling=pooling, classes=classes, classifier_activation=classifier_activation)
    stage, conv = 1, 1
    for item in VGG_LAYOUTS[config]:
        if item == "M":
            x = layers.MaxPooling2D(2, strides=2, name=f"block{stage}_pool")(x)
            stage, conv = stage + 1, 1
            continue
        if batch_norm:
            x = layers.Conv2D(item, 3, padding="same", use_bias=False, name=f"block{stage}_conv{conv}")(x)
            x = layers.BatchNormalization(name=f"block{stage}_bn{conv}")(x)
            x = layers.Activation("relu", name=f"block{stage}_relu{conv}")(x)
        else:
            x = layers.Conv2D(item, 3, padding="same", activation="relu", name=f"block{stage}_conv{conv}")(x)
        conv += 1
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(4096, activation="relu", name="fc1")(x)
        x = layers.Dense(4096, activation="relu", name="fc2")(x)
        x = parts.classifier(x, classes, classifier_activation)
    else:
        x = parts.global_pool(x, pooling)
    return parts.make_model(inputs, x, name=name or arch, weights=weights, arch=arch, include_top=include_top)


@register_model
def vgg11(**kwargs):
    """VGG-11 (configuration A). Keyword arguments as for :func:`zoo.vgg`."""
    return vgg("vgg11", **kwargs)


@register_model
def vgg13(**kwargs):
    """VGG-13 (configuration B). Keyword arguments as for :func:`zoo.vgg`."""
    return vgg("vgg13", **kwargs)


@register_model
def vgg16(**kwargs):
    """VGG-16 (configuration D), 138,357,544 parameters; Keras's ImageNet weights load."""
    return vgg("vgg16", **kwargs)


@register_model
def vgg19(**kwargs):
    """VGG-19 (configuration E); Keras's ImageNet weights load. Keyword arguments as for :func:`zoo.vgg`."""
    return vgg("vgg19", **kwargs)


@register_model
def vgg11_bn(**kwargs):
    """VGG-11 with batch normalisation after every convolution."""
    return vgg("vgg11", batch_norm=True, **kwargs)


@register_model
def vgg13_bn(**kwargs):
    """VGG-13 with batch normalisation after every convolution."""
    return vgg("vgg13", batch_norm=True, **kwargs)


@register_model
def vgg16_bn(**kwargs):
    """VGG-16 with batch normalisation after every convolution."""
    return vgg("vgg16", batch_norm=True, **kwargs)


@register_model
def vgg19_bn(**kwargs):
    """VGG-19 with batch normalisation after every convolution."""
    return vgg("vgg19", batch_norm=True, **kwargs)


@register_model
def lenet5(
    *,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name="lenet5",
):
    """LeNet-5 (LeCun et al. 1998): C1 6@5x5, S2, C3 16@5x5, S4, C5 120, F6 84; 61,706 parameters.

    Tanh units and average pooling as in the paper; C3 is fully connected to
    S2 (the paper's sparse connection table is a detail modern versions drop).
    Without the top, the output is C5's 120 feature maps.

    Example:
        >>> lenet5().count_params()
        61706
    """
    _, classes, (x, inputs) = parts.start(
        "lenet5", include_top=include_top, weights=weights, input_tensor=input_tensor, input_shape=input_shape,
        pooling=pooling, classes=classes, classifier_activation=classifier_activation)
    x = layers.Conv2D(6, 5, activation="tanh", name="c1")(x)
    x = layers.AveragePooling2D(2, name="s2")(x)
    x = layers.Conv2D(16, 5, activation="tanh", name="c3")(x)
    x = layers.AveragePooling2D(2, name="s4")(x)
    x = layers.Conv2D(120, 5, activation="tanh", name="c5")(x)
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(84, activation="tanh", name="f6")(x)
        x = parts.classifier(x, classes, classifier_activation)
    else:
        x = parts.global_pool(x, pooling)
    return parts.make_model(inputs, x, name=name, weights=weights, arch=None)


@register_model
def alexnet(
    *,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    dropout=0.5,
    name="alexnet",
):
    """AlexNet (Krizhevsky et al. 2012) as one tower: 5 convolutions, 3 Dense layers.

    227x227 input makes the paper's arithmetic exact ((227 - 11) / 4 + 1 = 55).
    Local response normalisation is left out, as in most modern versions: it
    adds no parameters and little accuracy.

    Example:
        >>> alexnet().output_shape
        (None, 1000)
    """
    _, classes, (x, inputs) = parts.start(
        "alexnet", include_top=include_top, weights=weights, input_tensor=input_tensor, input_shape=input_shape,
        pooling=pooling, classes=classes, classifier_activation=classifier_activation)
    x = layers.Conv2D(96, 11, strides=4, activation="relu", name="conv1")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    x = layers.Conv2D(256, 5, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool2")(x)
    x = layers.Conv2D(384, 3, padding="same", activation="relu", name="conv3")(x)
    x = layers.Conv2D(384, 3, padding="same", activation="relu", name="conv4")(x)
    x = layers.Conv2D(256, 3, padding="same", activation="relu", name="conv5")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool5")(x)
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dropout(dropout, name="drop6")(x)
        x = layers.Dense(4096, activation="relu", name="fc6")(x)
        x = layers.Dropout(dropout, name="drop7")(x)
        x = layers.Dense(4096, activation="relu", name="fc7")(x)
        x = parts.classifier(x, classes, classifier_activation)
    else:
        x = parts.global_pool(x, pooling)
    return parts.make_model(inputs, x, name=name, weights=weights, arch=None)
