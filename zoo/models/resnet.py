"""ImageNet ResNets: v1 18/34/50/101/152 and v2 (pre-activation) 50/101/152.

He et al. 2015 "Deep Residual Learning for Image Recognition" (v1) and
He et al. 2016 "Identity Mappings in Deep Residual Networks" (v2). The
bottleneck models reproduce keras.applications layer for layer, so Keras's
published ImageNet files load with ``weights="imagenet"``. The basic-block
models (18, 34) follow the paper: no convolution biases, projection
shortcuts where the shape changes.

Variants are data: a record per variant, its :class:`ResNetLayout` the
blocks per stage and the block kind.
"""

import dataclasses
from typing import Tuple

from keras import layers

from zoo import blocks, parts
from zoo.configs import ArchConfig, WeightSet, keras_weight_files
from zoo.registry import register_config, register_model

IMAGENET_SHAPE = (224, 224, 3)
STAGE_FILTERS = (64, 128, 256, 512)
_KERAS = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"


@dataclasses.dataclass(frozen=True)
class ResNetLayout:
    """A ResNet record's ``spec``: blocks per stage, and the block kind ("basic", "bottleneck" or "preact")."""

    stage_blocks: Tuple[int, int, int, int]
    block: str


def _record(name, stage_blocks, kind, hashes=None, description=""):
    """A ResNet record: its layout; Keras's files where they exist."""
    mode = "tf" if kind == "preact" else "caffe"  # Keras's v2 files were trained on [-1, 1]
    return ArchConfig(
        name, IMAGENET_SHAPE, min_size=32, preprocessing=mode,
        group_scheme="resnet", family="resnet_v2" if kind == "preact" else "resnet",
        weights={"imagenet": WeightSet(mode, files=keras_weight_files(name, _KERAS, *hashes))} if hashes else {},
        spec=ResNetLayout(stage_blocks, kind), description=description,
    )


# The variants are data: blocks per stage, the block kind, Keras's published files (MD5s).
CONFIGS = (
    _record("resnet18", (2, 2, 2, 2), "basic", description="ResNet-18, basic blocks (He et al. 2015)"),
    _record("resnet34", (3, 4, 6, 3), "basic", description="ResNet-34, basic blocks (He et al. 2015)"),
    _record("resnet50", (3, 4, 6, 3), "bottleneck",
            ("2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"), "ResNet-50, bottlenecks"),
    _record("resnet101", (3, 4, 23, 3), "bottleneck",
            ("f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21"), "ResNet-101, bottlenecks"),
    _record("resnet152", (3, 8, 36, 3), "bottleneck",
            ("100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c"), "ResNet-152, bottlenecks"),
    _record("resnet50v2", (3, 4, 6, 3), "preact",
            ("3ef43a0b657b3be2300d5770ece849e0", "fac2f116257151a9d068a22e544a4917"),
            "ResNet-50 v2, pre-activation bottlenecks"),
    _record("resnet101v2", (3, 4, 23, 3), "preact",
            ("6343647c601c52e1368623803854d971", "c0ed64b8031c3730f411d2eb4eea35b5"),
            "ResNet-101 v2, pre-activation bottlenecks"),
    _record("resnet152v2", (3, 8, 36, 3), "preact",
            ("a49b44d1979771252814e80f8ec446f9", "ed17cf2e0169df9d443503ef94b23b33"),
            "ResNet-152 v2, pre-activation bottlenecks"),
)
register_config(*CONFIGS)
VARIANTS = {c.name: c.spec for c in CONFIGS}


def resnet(
    variant,
    *,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name=None,
):
    """Build the ImageNet ResNet ``variant`` (a key of ``VARIANTS``).

    Args:
        variant: "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
            "resnet50v2", "resnet101v2" or "resnet152v2".
        include_top: end with global average pooling and a ``classes``-way Dense.
        weights: None (random), "imagenet" (Keras's published file, fetched
            into the Keras cache; bottleneck variants only) or a file path.
        input_tensor: optional Keras tensor to build the model on.
        input_shape: (H, W, 3); default 224x224x3; at least 32x32.
        pooling: with include_top=False, None (the 4-D feature map), "avg" or "max".
        classes: number of outputs of the top.
        classifier_activation: activation of the top layer.
        name: model name; defaults to ``variant``.

    Example:
        >>> model = resnet("resnet50", include_top=False, pooling="avg")
        >>> model.output_shape
        (None, 2048)
    """
    if variant not in VARIANTS:
        raise ValueError(f"`variant` must be one of {sorted(VARIANTS)}. Received: variant={variant!r}")
    config, classes, (x, inputs) = parts.start(
        variant, include_top=include_top, weights=weights, input_tensor=input_tensor, input_shape=input_shape,
        pooling=pooling, classes=classes, classifier_activation=classifier_activation)
    stage_blocks, kind = config.spec.stage_blocks, config.spec.block

    use_bias = kind != "basic"  # Keras's v1/v2 files have a biased stem; the paper's 18/34 do not.
    x = layers.ZeroPadding2D(((3, 3), (3, 3)), name="conv1_pad")(x)
    x = layers.Conv2D(64, 7, strides=2, use_bias=use_bias, name="conv1_conv")(x)
    if kind != "preact":  # v2 normalises inside each block instead
        x = blocks.batch_norm(x, "conv1_bn")
        x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(((1, 1), (1, 1)), name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)

    block = {"basic": blocks.basic_block, "bottleneck": blocks.bottleneck_block,
             "preact": blocks.preact_bottleneck_block}[kind]
    for stage, (filters, n) in enumerate(zip(STAGE_FILTERS, stage_blocks)):
        if kind == "preact":  # Keras v2: stride on the last block, none in the last stage
            stride = 1 if stage == 3 else 2
            x = blocks.stack(x, block, filters, n, stride=stride, stride_on="last", name=f"conv{stage + 2}")
        else:
            x = blocks.stack(x, block, filters, n, stride=1 if stage == 0 else 2, name=f"conv{stage + 2}")
    if kind == "preact":
        x = blocks.batch_norm(x, "post_bn")
        x = layers.Activation("relu", name="post_relu")(x)

    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = parts.classifier(x, classes, classifier_activation)
    else:
        x = parts.global_pool(x, pooling)
    return parts.make_model(inputs, x, name=name or variant, weights=weights, arch=variant, include_top=include_top)


@register_model
def resnet18(**kwargs):
    """ResNet-18, basic blocks [2, 2, 2, 2] (He et al. 2015); 11.7M parameters.

    Keyword arguments as for :func:`zoo.resnet`, e.g. ``resnet18(include_top=False, pooling="avg")``.
    """
    return resnet("resnet18", **kwargs)


@register_model
def resnet34(**kwargs):
    """ResNet-34, basic blocks [3, 4, 6, 3] (He et al. 2015); 21.8M parameters.

    Keyword arguments as for :func:`zoo.resnet`, e.g. ``resnet34(include_top=False, pooling="avg")``.
    """
    return resnet("resnet34", **kwargs)


@register_model
def resnet50(**kwargs):
    """ResNet-50, bottleneck blocks [3, 4, 6, 3]; Keras's ImageNet weights load.

    Keyword arguments as for :func:`zoo.resnet`, e.g. ``resnet50(include_top=False, pooling="avg")``.
    """
    return resnet("resnet50", **kwargs)


@register_model
def resnet101(**kwargs):
    """ResNet-101, bottleneck blocks [3, 4, 23, 3]; Keras's ImageNet weights load.

    Keyword arguments as for :func:`zoo.resnet`, e.g. ``resnet101(include_top=False, pooling="avg")``.
    """
    return resnet("resnet101", **kwargs)


@register_model
def resnet152(**kwargs):
    """ResNet-152, bottleneck blocks [3, 8, 36, 3]; Keras's ImageNet weights load.

    Keyword arguments as for :func:`zoo.resnet`, e.g. ``resnet152(include_top=False, pooling="avg")``.
    """
    return resnet("resnet152", **kwargs)


@register_model
def resnet50v2(**kwargs):
    """ResNet-50 v2, pre-activation bottlenecks [3, 4, 6, 3]; Keras's ImageNet weights load.

    Keyword arguments as for :func:`zoo.resnet`, e.g. ``resnet50v2(include_top=False, pooling="avg")``.
    """
    return resnet("resnet50v2", **kwargs)


@register_model
def resnet101v2(**kwargs):
    """ResNet-101 v2, pre-activation bottlenecks [3, 4, 23, 3]; Keras's ImageNet weights load.

    Keyword arguments as for :func:`zoo.resnet`, e.g. ``resnet101v2(include_top=False, pooling="avg")``.
    """
    return resnet("resnet101v2", **kwargs)


@register_model
def resnet152v2(**kwargs):
    """ResNet-152 v2, pre-activation bottlenecks [3, 8, 36, 3]; Keras's ImageNet weights load.

    Keyword arguments as for :func:`zoo.resnet`, e.g. ``resnet152v2(include_top=False, pooling="avg")``.
    """
    return resnet("resnet152v2", **kwargs)
