"""Records of keras.applications' own models, so ``transfer.load_backbone`` reads them like the zoo's.

These architectures are built by keras.applications (no zoo builder); their
records say what the toolkit needs: the constructor, the input size Keras
documents, the preprocessing its weights expect (None where the network
rescales inside: EfficientNet, EfficientNetV2, ConvNeXt, MobileNetV3), and
the layer-group scheme. Keras's own ResNets and VGGs are here as
``keras_resnet50`` ... (the zoo's builders of the same names take precedence).
Their weight files are fetched by keras.applications itself; :func:`build`
is the records' builder, so ``zoo.create_model("mobilenet_v2")`` builds them.

Example:
    >>> zoo.get_arch("efficientnet_b3").input_shape
    (300, 300, 3)
"""

import os
import re

import keras

from zoo import checks, files
from zoo.configs import ArchConfig, KerasApp, WeightSet
from zoo.registry import register_config
from zoo.weights import WeightsUnavailableError


def build(config, *, weights=None, input_shape=None, **kwargs):
    """``keras.applications.<constructor>`` with its own arguments, at the record's input size by default.

    ``weights``: None (random, the default here, so nothing is downloaded
    unasked), ``"imagenet"`` (the Keras cache, then the network) or a file's path.

    Example:
        >>> build(zoo.get_arch("mobilenet_v2"), include_top=False, input_shape=(96, 96, 3)).output_shape
        (None, 3, 3, 1280)
    """
    ctor = getattr(keras.applications, config.spec.constructor)
    input_shape = config.input_shape_for(input_shape, kwargs.get("input_tensor"))
    if weights is not None and weights != "imagenet":
        checks.check_weights_file(weights)  # missing, text or truncated files named, as for zoo models
    try:
        return ctor(weights=weights, input_shape=input_shape, **kwargs)
    except Exception as err:  # keras.utils.get_file raises a bare Exception when the download fails
        if weights != "imagenet" or "URL fetch failure" not in str(err):
            raise
        return _from_cache(config, ctor, err, input_shape=input_shape, **kwargs)


def _from_cache(config, ctor, err, **kwargs):
    """Retry with the file from the Keras cache of *now* (KERAS_HOME read again), or say where to put it.

    keras.applications resolves its cache when Keras is imported, and names
    the file only in the text of its error: the one place the file name can be
    read (tests/test_transfer_backbones.py::test_offline_imagenet_error_names_path_and_remedy
    pins that text).
    """
    found = re.search(r"(https?://\S+?\.h5)", str(err))
    fname = found.group(1).rsplit("/", 1)[1] if found else f"{config.name}_notop.h5"
    target = os.path.join(files.keras_cache("models"), fname)
    if os.path.exists(target):
        return ctor(weights=target, **kwargs)
    top = kwargs.get("include_top", True)
    reason = " ".join(str(err).split())  # Keras's message spans lines
    raise WeightsUnavailableError(
        f"ImageNet weights for {config.name!r} (keras.applications.{config.spec.constructor}, include_top={top}) "
        f"are not in the Keras cache and could not be downloaded ({reason}). Expected the file at "
        f"{target!r}. Copy {fname} there, or pass its path: weights='/path/to/{fname}'."
    ) from None  # one clear error: the network failure is summarised in it


def _app(name, ctor, preprocessing, groups, size=224, min_size=32, family=None):
    # Keras's ImageNet weights, fetched by keras.applications itself (no files in the record).
    return ArchConfig(name, (size, size, 3), min_size, preprocessing, groups, family=family or groups,
                      weights={"imagenet": WeightSet(preprocessing)}, source="keras", spec=KerasApp(ctor),
                      description=f"keras.applications.{ctor}")


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
register_config(*CONFIGS, builder=build)
