"""Records of keras.applications' own models, so ``transfer.load_backbone`` reads them like the zoo's.

These architectures are built by keras.applications (no zoo builder); their
records say what the toolkit needs: the constructor, the input size Keras
documents, the preprocessing its weights expect (None where the network
rescales inside: EfficientNet, EfficientNetV2, ConvNeXt, MobileNetV3), and
the layer-group scheme. Keras's own ResNets and VGGs are here as
``keras_resnet50`` ... (the zoo's builders of the same names take precedence).
Their weight files are fetched by keras.applications itself.

Example:
    >>> zoo.get_config("efficientnet_b3").input_shape
    (300, 300, 3)
"""

from zoo.configs import ArchConfig
from zoo.registry import register_config


def _app(name, ctor, preprocessing, groups, size=224, min_size=32, family=None):
    return ArchConfig(name, (size, size, 3), min_size, preprocessing, groups, family=family or groups,
                      keras_app=ctor, description=f"keras.applications.{ctor}")


CONFIGS = (
    _app("xception", "Xception", "tf", "stages", 299, 71, "xception"),
    _app("inception_v3", "InceptionV3", "tf", "stages", 299, 75, "inception"),
    _app("inception_resnet_v2", "InceptionResNetV2", "tf", "stages", 299, 75, "inception"),
    _app("mobilenet", "MobileNet", "tf", "stages", family="mobilenet"),
    _app("mobilenet_v2", "MobileNetV2", "tf", "stages", family="mobilenet"),
    _app("mobilenet_v3_small", "MobileNetV3Small", None, "stages", family="mobilenet"),
    _app("mobilenet_v3_large", "MobileNetV3Large", None, "stages", family="mobilenet"),
    _app("nasnet_mobile", "NASNetMobile", "tf", "stages", family="nasnet"),
    _app("nasnet_large", "NASNetLarge", "tf", "stages", 331, family="nasnet"),
    *(_app(f"densenet{n}", f"DenseNet{n}", "torch", "resnet", family="densenet") for n in (121, 169, 201)),
    *(_app(f"efficientnet_b{i}", f"EfficientNetB{i}", None, "efficientnet", size)
      for i, size in enumerate((224, 240, 260, 300, 380, 456, 528, 600))),
    *(_app(f"efficientnet_v2_{s}", f"EfficientNetV2{s.upper()}", None, "efficientnet", size)
      for s, size in (("b0", 224), ("b1", 240), ("b2", 260), ("b3", 300), ("s", 384), ("m", 480), ("l", 480))),
    *(_app(f"convnext_{s}", f"ConvNeXt{s.capitalize()}", None, "convnext")
      for s in ("tiny", "small", "base", "large", "xlarge")),
    *(_app(f"keras_{n}", c, m, "resnet", family="resnet") for n, c, m in (
        ("resnet50", "ResNet50", "caffe"), ("resnet101", "ResNet101", "caffe"),
        ("resnet152", "ResNet152", "caffe"), ("resnet50v2", "ResNet50V2", "tf"),
        ("resnet101v2", "ResNet101V2", "tf"), ("resnet152v2", "ResNet152V2", "tf"))),
    _app("keras_vgg16", "VGG16", "caffe", "blocks", family="vgg"),
    _app("keras_vgg19", "VGG19", "caffe", "blocks", family="vgg"),
)
register_config(*CONFIGS)
