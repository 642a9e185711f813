"""Records of keras-hub's CNN backbones, so the architecture table knows them like keras.applications'.

keras-hub (an optional extra: ``pip install -e ".[hub]"``) holds Keras's
pretrained CNNs that keras.applications lacks (ResNet-18/34, CSPNet, HGNetV2,
timm's checkpoints). Each record names the timm architecture keras-hub builds
it from, its keras-hub presets and its group scheme (:mod:`zoo.groups`). The
preprocessing is ``"torch"`` (ImageNet mean and std on [0, 1], what timm and
keras-hub's presets use); a preset's own ``ImageConverter`` overrides it at
load time (:mod:`transfer.sources.hub`).

:func:`build` makes the model offline with random weights: keras-hub's public
way from a timm architecture name to its constructor arguments is a timm
preset folder, so it writes one with only ``config.json`` and loads it with
``load_weights=False``. This module imports keras-hub only inside
:func:`build`, so ``import zoo`` works without it.

Example:
    >>> zoo.get_arch("hub_resnet18").group_scheme
    'stacks'
    >>> presets("hub_resnet18")
    ('resnet_18_imagenet',)
"""

import json
import os
import tempfile

import keras

from zoo.graph import replay
from zoo.configs import ArchConfig
from zoo.registry import get_arch, register_config

HUB_EXTRA = 'keras-hub is not installed: pip install -e ".[hub]" (keras-hub and safetensors)'

# keras-hub backbone class -> group scheme, for backbones that match no record.
CLASS_SCHEMES = {
    "ResNetBackbone": "stacks", "DenseNetBackbone": "stacks", "CSPNetBackbone": "csp",
    "HGNetV2Backbone": "hgnetv2", "MobileNetBackbone": "mobilenet_blocks", "EfficientNetBackbone": "efficientnet",
    "VGGBackbone": "blocks",
}


def _hub(name, timm_arch, cls, scheme, hub_presets=(), size=224, min_size=32):
    return ArchConfig(name, (size, size, 3), min_size, "torch", scheme, family=f"keras_hub.{cls}",
                      variant=(cls, timm_arch, *hub_presets),
                      description=f"keras_hub.models.{cls} (timm {timm_arch})")


CONFIGS = (
    _hub("hub_resnet18", "resnet18", "ResNetBackbone", "stacks", ("resnet_18_imagenet",)),
    _hub("hub_resnet34", "resnet34", "ResNetBackbone", "stacks"),
    _hub("hub_resnet50", "resnet50", "ResNetBackbone", "stacks", ("resnet_50_imagenet",)),
    _hub("hub_resnet101", "resnet101", "ResNetBackbone", "stacks", ("resnet_101_imagenet",)),
    _hub("hub_densenet121", "densenet121", "DenseNetBackbone", "stacks", ("densenet_121_imagenet",)),
    _hub("hub_densenet169", "densenet169", "DenseNetBackbone", "stacks", ("densenet_169_imagenet",)),
    _hub("hub_cspdarknet53", "cspdarknet53", "CSPNetBackbone", "csp", ("csp_darknet_53_ra_imagenet",), 256),
    _hub("hub_mobilenetv3_small_100", "mobilenetv3_small_100", "MobileNetBackbone", "mobilenet_blocks",
         ("mobilenet_v3_small_100_imagenet",)),
    _hub("hub_mobilenetv3_large_100", "mobilenetv3_large_100", "MobileNetBackbone", "mobilenet_blocks",
         ("mobilenet_v3_large_100_imagenet",)),
    _hub("hub_efficientnet_b0", "efficientnet_b0", "EfficientNetBackbone", "efficientnet",
         ("efficientnet_b0_ra_imagenet",)),
    _hub("hub_vgg16", "vgg16", "VGGBackbone", "blocks", ("vgg_16_imagenet",)),
    _hub("hub_vgg19", "vgg19", "VGGBackbone", "blocks", ("vgg_19_imagenet",)),
)


def require_keras_hub():
    """The ``keras_hub`` module, or an ImportError that names the extra to install."""
    try:
        import keras_hub  # the optional extra: imported only when a keras-hub model is built or loaded
    except ImportError as err:
        raise ImportError(HUB_EXTRA) from err
    return keras_hub


def presets(name):
    """The keras-hub preset names of the record ``name``.

    Example:
        >>> presets("hub_vgg16")
        ('vgg_16_imagenet',)
    """
    return tuple(get_arch(name).variant[2:])


def record_for(backbone_class=None, timm_arch=None, preset=None):
    """The name of the record for a keras-hub backbone: by timm architecture, preset, or its one class.

    None when no record matches (the backbone still loads; its groups then
    come from its class's scheme).

    Example:
        >>> record_for(timm_arch="resnet18"), record_for(preset="vgg_16_imagenet"), record_for("VGGBackbone")
        ('hub_resnet18', 'hub_vgg16', None)
    """
    for config in CONFIGS:
        cls, arch, *names = config.variant
        if (timm_arch and arch == timm_arch) or (preset and preset in names):
            return config.name
    same_class = [c.name for c in CONFIGS if backbone_class and c.variant[0] == backbone_class]
    return same_class[0] if len(same_class) == 1 else None


def build(config, *, include_top=False, weights=None, input_shape=None, input_tensor=None, pooling=None,
          dtype=None, **kwargs):
    """The keras-hub backbone of ``config`` with random weights, built offline (headless only).

    keras-hub backbones are headless; ``pooling`` is None (the feature map).
    Pretrained weights come from a preset: ``transfer.load_backbone`` with
    the preset's name, folder or ``hf://`` handle.

    Example:
        >>> build(zoo.get_arch("hub_vgg16"), input_shape=(32, 32, 3)).output_shape   # doctest: +SKIP
        (None, 1, 1, 512)
    """
    keras_hub = require_keras_hub()
    if include_top or pooling is not None or weights is not None or kwargs:
        raise ValueError(f"{config.name!r} is a headless keras-hub backbone built with random weights; "
                         "load pretrained weights with transfer.load_backbone(preset). Received: "
                         f"include_top={include_top!r}, pooling={pooling!r}, weights={weights!r}, {kwargs}")
    shape = tuple(input_shape or (input_tensor.shape[1:] if input_tensor is not None else config.input_shape))
    with tempfile.TemporaryDirectory() as folder:
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump({"architecture": config.variant[1], "num_classes": config.classes}, f)
        backbone = keras_hub.models.Backbone.from_preset(folder, load_weights=False, image_shape=shape, dtype=dtype)
    if input_tensor is None:
        return backbone
    # The same layers called on the given tensor: one flat graph, as keras.applications builds it
    # (keras.models.clone_model would start the graph at a new Input instead).
    return keras.Model(input_tensor, replay(backbone, [input_tensor])[0][0], name=backbone.name)


register_config(*CONFIGS, builder=build)
