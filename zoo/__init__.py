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

from zoo import blocks, files, graph  # noqa: E402
from zoo.configs import ArchConfig, HubBackbone, KerasApp, WeightFiles, WeightSet
from zoo.blocks import basic_block, bottleneck_block, preact_bottleneck_block, stack
from zoo.arithmetic import conv_output_size, conv_params  # noqa: E402
from zoo.inspection import LayerRow, Report, receptive_field, summary  # noqa: E402
from zoo.models.cifar_resnet import (
    cifar_resnet, plain20, plain32, plain44, plain56, plain110,
    resnet20, resnet32, resnet44, resnet56, resnet110,
)
from zoo.models.classic import (
    alexnet, lenet5, vgg, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn,
)
from zoo.models.resnet import (
    resnet, resnet18, resnet34, resnet50, resnet50v2, resnet101, resnet101v2, resnet152, resnet152v2,
)
from zoo.models.tutorial import (
    cnn_cifar10, cnn_cifar10_large, cnn_dogs_vs_cats, cnn_facial_keypoints,
    cnn_mnist, cnn_mnist_sequential, cnn_mnist_skip, dense_mnist,
)
from zoo.models import keras_applications  # noqa: F401  (records of keras.applications' models)
from zoo.models import keras_hub  # noqa: F401  (records of keras-hub's backbones; keras-hub itself is optional)
from zoo.registry import (
    create_model, default_input_shape, get_arch, get_builder, get_config, list_configs, list_models, min_input_size,
    register_config, register_model, unregister,
)
from zoo.weights import WeightsUnavailableError

__all__ = [name for name in dir() if not name.startswith("_")]
