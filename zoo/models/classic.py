"""LeNet-5, AlexNet and the VGG family.

VGG configurations are data (Simonyan & Zisserman 2015, table 1): a number is
a 3x3 convolution with that many filters, "M" a 2x2 max-pool. VGG16 and
VGG19 without batch normalisation reproduce keras.applications layer for
layer (``block1_conv1`` ... ``fc1``, ``fc2``, ``predictions``), so Keras's
published ImageNet files load with ``weights="imagenet"``.
"""

from keras import layers

from zoo import builder, weights as weights_lib
from zoo.registry import register_model

IMAGENET_SHAPE = (224, 224, 3)

VGG_CONFIGS = {
    "vgg11": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "vgg13": (64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "vgg16": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
    "vgg19": (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
              512, 512, 512, 512, "M", 512, 512, 512, 512, "M"),
}


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
    if config not in VGG_CONFIGS:
        raise ValueError(f"`config` must be one of {sorted(VGG_CONFIGS)}. Received: config={config!r}")
    arch = config + ("_bn" if batch_norm else "")
    builder.check_common(
        include_top=include_top, weights=weights, pooling=pooling, classes=classes,
        pretrained=weights_lib.has_pretrained(arch), default_classes=1000,
        classifier_activation=classifier_activation,
    )
    if weights == "imagenet" and include_top and input_shape not in (None, IMAGENET_SHAPE):
        raise ValueError(f"The ImageNet top needs 224x224x3 input. Received: input_shape={input_shape!r}")
    x, inputs = builder.image_input(
        input_tensor, input_shape, default=IMAGENET_SHAPE, min_size=32,
        channels=3 if weights == "imagenet" else None,
    )
    stage, conv = 1, 1
    for item in VGG_CONFIGS[config]:
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
        x = builder.classifier(x, classes, classifier_activation)
    else:
        x = builder.pool(x, pooling)
    return builder.finish(inputs, x, name=name or arch, weights=weights, arch=arch, include_top=include_top)


@register_model(default_input_shape=IMAGENET_SHAPE, min_size=32)
def vgg11(**kwargs):
    """VGG-11 (configuration A). Keyword arguments as for :func:`zoo.vgg`."""
    return vgg("vgg11", **kwargs)


@register_model(default_input_shape=IMAGENET_SHAPE, min_size=32)
def vgg13(**kwargs):
    """VGG-13 (configuration B). Keyword arguments as for :func:`zoo.vgg`."""
    return vgg("vgg13", **kwargs)


@register_model(default_input_shape=IMAGENET_SHAPE, min_size=32)
def vgg16(**kwargs):
    """VGG-16 (configuration D), 138,357,544 parameters; Keras's ImageNet weights load."""
    return vgg("vgg16", **kwargs)


@register_model(default_input_shape=IMAGENET_SHAPE, min_size=32)
def vgg19(**kwargs):
    """VGG-19 (configuration E); Keras's ImageNet weights load. Keyword arguments as for :func:`zoo.vgg`."""
    return vgg("vgg19", **kwargs)


@register_model(default_input_shape=IMAGENET_SHAPE, min_size=32)
def vgg11_bn(**kwargs):
    """VGG-11 with batch normalisation after every convolution."""
    return vgg("vgg11", batch_norm=True, **kwargs)


@register_model(default_input_shape=IMAGENET_SHAPE, min_size=32)
def vgg13_bn(**kwargs):
    """VGG-13 with batch normalisation after every convolution."""
    return vgg("vgg13", batch_norm=True, **kwargs)


@register_model(default_input_shape=IMAGENET_SHAPE, min_size=32)
def vgg16_bn(**kwargs):
    """VGG-16 with batch normalisation after every convolution."""
    return vgg("vgg16", batch_norm=True, **kwargs)


@register_model(default_input_shape=IMAGENET_SHAPE, min_size=32)
def vgg19_bn(**kwargs):
    """VGG-19 with batch normalisation after every convolution."""
    return vgg("vgg19", batch_norm=True, **kwargs)


@register_model(default_input_shape=(32, 32, 1), min_size=32)
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
    builder.check_common(
        include_top=include_top, weights=weights, pooling=pooling, classes=classes,
        pretrained=False, default_classes=10, classifier_activation=classifier_activation,
    )
    x, inputs = builder.image_input(input_tensor, input_shape, default=(32, 32, 1), min_size=32)
    x = layers.Conv2D(6, 5, activation="tanh", name="c1")(x)
    x = layers.AveragePooling2D(2, name="s2")(x)
    x = layers.Conv2D(16, 5, activation="tanh", name="c3")(x)
    x = layers.AveragePooling2D(2, name="s4")(x)
    x = layers.Conv2D(120, 5, activation="tanh", name="c5")(x)
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(84, activation="tanh", name="f6")(x)
        x = builder.classifier(x, classes, classifier_activation)
    else:
        x = builder.pool(x, pooling)
    return builder.finish(inputs, x, name=name, weights=weights)


@register_model(default_input_shape=(227, 227, 3), min_size=67)
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
    builder.check_common(
        include_top=include_top, weights=weights, pooling=pooling, classes=classes,
        pretrained=False, default_classes=1000, classifier_activation=classifier_activation,
    )
    x, inputs = builder.image_input(input_tensor, input_shape, default=(227, 227, 3), min_size=67)
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
        x = builder.classifier(x, classes, classifier_activation)
    else:
        x = builder.pool(x, pooling)
    return builder.finish(inputs, x, name=name, weights=weights)
