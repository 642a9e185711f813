"""zoo: CNN architectures for Keras 3, a registry, and inspection.

Example:
    >>> import zoo
    >>> len(zoo.list_models()) >= 30
    True
    >>> model = zoo.create_model("resnet20")
    >>> zoo.summary(model).total_params
    271098
"""

from zoo import startup

startup.quiet_start()  # only when running as the zoo or transfer command: no TensorFlow start-up lines

import importlib  # noqa: E402

# What ``zoo.X`` is, by the module that defines it. Nothing below is imported until it is asked for: a package
# that needs only the plain utilities (``zoo.checks``, ``zoo.files``, ``zoo.graph``, as ``datasets`` and ``viz``
# do) loads no builder and registers no record. Asking for any public name loads the models, which register
# their records and builders as they are imported.
_NAMES = {
    "zoo.arithmetic": ("conv_output_size", "conv_params"),
    "zoo.blocks": ("basic_block", "bottleneck_block", "preact_bottleneck_block", "stack"),
    "zoo.configs": ("ArchConfig", "HubBackbone", "KerasApp", "WeightFiles", "WeightSet"),
    "zoo.inspection": ("LayerRow", "Report", "receptive_field", "summary"),
    "zoo.models.cifar_resnet": ("cifar_resnet", "plain110", "plain20", "plain32", "plain44", "plain56",
        "resnet110", "resnet20", "resnet32", "resnet44", "resnet56"),
    "zoo.models.classic": ("alexnet", "lenet5", "vgg", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16",
        "vgg16_bn", "vgg19", "vgg19_bn"),
    "zoo.models.resnet": ("resnet", "resnet101", "resnet101v2", "resnet152", "resnet152v2", "resnet18",
        "resnet34", "resnet50", "resnet50v2"),
    "zoo.models.tutorial": ("cnn_cifar10", "cnn_cifar10_large", "cnn_dogs_vs_cats", "cnn_facial_keypoints",
        "cnn_mnist", "cnn_mnist_sequential", "cnn_mnist_skip", "dense_mnist"),
    "zoo.registry": ("create_model", "default_input_shape", "get_arch", "get_builder", "get_config",
        "list_configs", "list_models", "min_input_size", "register_config", "register_model", "unregister"),
    "zoo.weights": ("WeightsUnavailableError",),
}
_EXPORTS = {name: module for module, names in _NAMES.items() for name in names}
# Submodules by their short name (the records of keras.applications and keras-hub live under zoo.models).
_SUBMODULES = {"keras_applications": "zoo.models.keras_applications", "keras_hub": "zoo.models.keras_hub",
               **{name: f"zoo.{name}" for name in ("arithmetic", "blocks", "checks", "configs", "files", "graph",
                                                   "groups", "inspection", "models", "parts", "registry", "startup",
                                                   "weights")}}
__all__ = sorted([*_EXPORTS, *_SUBMODULES, "load_models"])


def load_models():
    """Import every architecture module once: each registers its builders and records as it is imported.

    Example:
        >>> load_models()
        >>> "resnet50" in zoo.list_models() and "mobilenet_v2" in zoo.list_configs()
        True
    """
    importlib.import_module("zoo.models")
    importlib.import_module("zoo.models.keras_hub")


def __getattr__(name):
    if name in _SUBMODULES:  # a module alone (``from zoo import checks`` must not load the models)
        return importlib.import_module(_SUBMODULES[name])
    if name not in _EXPORTS:
        raise AttributeError(f"module 'zoo' has no attribute {name!r}")
    load_models()
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # asked once
    return value


def __dir__():
    return sorted({*globals(), *__all__})
