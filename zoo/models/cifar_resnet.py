"""The CIFAR-10 ResNets of He et al. 2015 (section 4.2) and their plain twins.

6n + 2 weighted layers: a 3x3 convolution with 16 filters, three stages of
n basic blocks with 16, 32 and 64 filters on 32x32, 16x16 and 8x8 maps,
global average pooling and a 10-way classifier. Shortcuts are option A
(identity, zero-padded where the width doubles), so the residual and the
plain network have exactly the same parameters: the only difference is the
shortcut. That is the degradation experiment: past 20 layers the plain
network's *training* error rises with depth, the residual one's falls.

Parameters (10 classes): ResNet-20 0.27M, 32 0.46M, 44 0.66M, 56 0.85M,
110 1.7M.
"""

import dataclasses
import functools

from keras import layers

from zoo import blocks, parts
from zoo.configs import ArchConfig
from zoo.registry import register_config, register_model

CIFAR_SHAPE = (32, 32, 3)
DEPTHS = (20, 32, 44, 56, 110)


@dataclasses.dataclass(frozen=True)
class CifarLayout:
    """A CIFAR ResNet record's ``spec``: its depth (6n + 2) and whether its shortcuts are residual."""

    depth: int
    residual: bool


# One record per depth and shortcut; CIFAR nets are trained on pixels / 255.
CONFIGS = tuple(
    ArchConfig(f"{kind}{depth}", CIFAR_SHAPE, min_size=4, preprocessing="rescale", group_scheme="resnet",
               family="cifar_resnet", classes=10, spec=CifarLayout(depth, kind == "resnet"),
               description=f"{'ResNet' if kind == 'resnet' else 'Plain twin'}-{depth} for CIFAR (He et al. 2015)")
    for kind in ("resnet", "plain") for depth in DEPTHS
)
register_config(*CONFIGS)


def cifar_resnet(
    depth,
    *,
    residual=True,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name=None,
):
    """Build a CIFAR ResNet (``residual=True``) or its plain twin of ``depth`` = 6n + 2 layers.

    Example:
        >>> model = cifar_resnet(20)
        >>> model.count_params()
        271098
    """
    if not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ValueError(f"`depth` must be 6n + 2 with n >= 1 (20, 32, 44, 56, 110...). Received: depth={depth!r}")
    record = f"{'resnet' if residual else 'plain'}{depth if depth in DEPTHS else 20}"  # other depths share 20's
    _, classes, (x, inputs) = parts.start(
        record, include_top=include_top, weights=weights, input_tensor=input_tensor, input_shape=input_shape,
        pooling=pooling, classes=classes, classifier_activation=classifier_activation)
    n = (depth - 2) // 6
    x = layers.Conv2D(16, 3, padding="same", use_bias=False, name="conv1_conv")(x)
    x = blocks.batch_norm(x, "conv1_bn")
    x = layers.Activation("relu", name="conv1_relu")(x)
    block = functools.partial(blocks.basic_block, shortcut="zero_pad", residual=residual)
    for stage, filters in enumerate((16, 32, 64)):
        x = blocks.stack(x, block, filters, n, stride=1 if stage == 0 else 2, name=f"conv{stage + 2}")
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = parts.classifier(x, classes, classifier_activation)
    else:
        x = parts.global_pool(x, pooling)
    default_name = f"resnet{depth}" if residual else f"plain{depth}"
    return parts.make_model(inputs, x, name=name or default_name, weights=weights, arch=record)


@register_model
def resnet20(**kwargs):
    """ResNet-20 for CIFAR (n=3), 0.27M parameters. Keyword arguments as for :func:`zoo.cifar_resnet`."""
    return cifar_resnet(20, **kwargs)


@register_model
def resnet32(**kwargs):
    """ResNet-32 for CIFAR (n=5), 0.46M parameters. Keyword arguments as for :func:`zoo.cifar_resnet`."""
    return cifar_resnet(32, **kwargs)


@register_model
def resnet44(**kwargs):
    """ResNet-44 for CIFAR (n=7), 0.66M parameters. Keyword arguments as for :func:`zoo.cifar_resnet`."""
    return cifar_resnet(44, **kwargs)


@register_model
def resnet56(**kwargs):
    """ResNet-56 for CIFAR (n=9), 0.85M parameters. Keyword arguments as for :func:`zoo.cifar_resnet`."""
    return cifar_resnet(56, **kwargs)


@register_model
def resnet110(**kwargs):
    """ResNet-110 for CIFAR (n=18), 1.7M parameters. Keyword arguments as for :func:`zoo.cifar_resnet`."""
    return cifar_resnet(110, **kwargs)


@register_model
def plain20(**kwargs):
    """Plain 20-layer twin of ResNet-20 (no shortcuts). Keyword arguments as for :func:`zoo.cifar_resnet`."""
    return cifar_resnet(20, residual=False, **kwargs)


@register_model
def plain32(**kwargs):
    """Plain 32-layer twin of ResNet-32 (no shortcuts). Keyword arguments as for :func:`zoo.cifar_resnet`."""
    return cifar_resnet(32, residual=False, **kwargs)


@register_model
def plain44(**kwargs):
    """Plain 44-layer twin of ResNet-44 (no shortcuts). Keyword arguments as for :func:`zoo.cifar_resnet`."""
    return cifar_resnet(44, residual=False, **kwargs)


@register_model
def plain56(**kwargs):
    """Plain 56-layer twin of ResNet-56 (no shortcuts). Keyword arguments as for :func:`zoo.cifar_resnet`."""
    return cifar_resnet(56, residual=False, **kwargs)


@register_model
def plain110(**kwargs):
    """Plain 110-layer twin of ResNet-110 (no shortcuts). Keyword arguments as for :func:`zoo.cifar_resnet`."""
    return cifar_resnet(110, residual=False, **kwargs)
