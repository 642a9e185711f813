"""Headless pretrained backbones from the zoo or keras.applications, one door.

:func:`load_backbone` returns a flat Functional model: raw 0-255 pixels in,
the last convolutional feature map out, with the network's own input
preprocessing as its first layer (``preprocess``). The table below is the
per-architecture knowledge (like fastai's ``model_meta``): where the model
comes from, how its inputs are normalised, and which naming scheme its layer
groups follow (see :mod:`transfer.groups`).
"""

import os
import re

import keras
import zoo

from transfer.preprocessing import MODES, ImagePreprocessing

# canonical name -> (keras.applications constructor, preprocessing mode, group family).
# A mode of None means the network rescales inside (EfficientNet, ConvNeXt, MobileNetV3,
# EfficientNetV2): adding our own layer would preprocess twice.
KERAS_APPS = {
    "xception": ("Xception", "tf", "stages"),
    "inception_v3": ("InceptionV3", "tf", "stages"),
    "inception_resnet_v2": ("InceptionResNetV2", "tf", "stages"),
    "mobilenet": ("MobileNet", "tf", "stages"),
    "mobilenet_v2": ("MobileNetV2", "tf", "stages"),
    "mobilenet_v3_small": ("MobileNetV3Small", None, "stages"),
    "mobilenet_v3_large": ("MobileNetV3Large", None, "stages"),
    "nasnet_mobile": ("NASNetMobile", "tf", "stages"),
    "nasnet_large": ("NASNetLarge", "tf", "stages"),
    **{f"densenet{n}": (f"DenseNet{n}", "torch", "resnet") for n in (121, 169, 201)},
    **{f"efficientnet_b{i}": (f"EfficientNetB{i}", None, "efficientnet") for i in range(8)},
    **{f"efficientnet_v2_{s}": (f"EfficientNetV2{s.upper()}", None, "efficientnet")
       for s in ("b0", "b1", "b2", "b3", "s", "m", "l")},
    **{f"convnext_{s}": (f"ConvNeXt{s.capitalize()}", None, "convnext")
       for s in ("tiny", "small", "base", "large")},
    "convnext_xlarge": ("ConvNeXtXLarge", None, "convnext"),
    # Also in the zoo (which takes precedence); listed so the Keras builds stay reachable.
    **{f"keras_{n}": (c, m, "resnet") for n, c, m in (
        ("resnet50", "ResNet50", "caffe"), ("resnet101", "ResNet101", "caffe"),
        ("resnet152", "ResNet152", "caffe"), ("resnet50v2", "ResNet50V2", "tf"),
        ("resnet101v2", "ResNet101V2", "tf"), ("resnet152v2", "ResNet152V2", "tf"))},
    "keras_vgg16": ("VGG16", "caffe", "blocks"),
    "keras_vgg19": ("VGG19", "caffe", "blocks"),
}


def _key(name):
    """Spelling-insensitive lookup key: 'MobileNet_V2', 'mobilenetv2' and 'mobilenet-v2' agree."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def available_backbones():
    """Sorted names :func:`load_backbone` accepts: every zoo model and the keras.applications table.

    Example:
        >>> "resnet50" in available_backbones() and "efficientnet_b0" in available_backbones()
        True
    """
    return sorted(set(zoo.list_models()) | set(KERAS_APPS))


def spec(name):
    """``(source, canonical name, preprocessing mode, group family)`` for ``name``.

    Zoo names win over keras.applications names (the zoo's ResNet50 and VGG16
    are layer-for-layer the Keras ones, so the same weight files load).

    Example:
        >>> spec("MobileNetV2")
        ('keras', 'mobilenet_v2', 'tf', 'stages')
    """
    if not isinstance(name, str):
        raise TypeError(f"A backbone name must be a string. Received: name={name!r}")
    zoo_names = {_key(n): n for n in zoo.list_models()}
    if _key(name) in zoo_names:
        canonical = zoo_names[_key(name)]
        return ("zoo", canonical, _zoo_mode(canonical), _zoo_family(canonical))
    keras_names = {_key(n): n for n in KERAS_APPS}
    if _key(name) in keras_names:
        canonical = keras_names[_key(name)]
        _, mode, family = KERAS_APPS[canonical]
        return ("keras", canonical, mode, family)
    import difflib

    close = difflib.get_close_matches(name.lower(), available_backbones(), n=5, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise ValueError(f"Unknown backbone {name!r}.{hint} Allowed: any name in "
                     f"transfer.available_backbones() ({len(available_backbones())} names).")


def _zoo_mode(name):
    if re.fullmatch(r"resnet\d+v2", name):
        return "tf"  # Keras's ResNetV2 files were trained on [-1, 1] inputs
    if zoo.default_input_shape(name)[:2] in ((224, 224), (227, 227)):
        return "caffe"  # ImageNet-style v1 ResNets, VGG, AlexNet: Keras's caffe-mode files
    return "rescale"  # tutorial and CIFAR networks are trained on pixels / 255


def _zoo_family(name):
    if name.startswith(("resnet", "plain")):
        return "resnet"
    if name.startswith(("vgg", "cnn_")):
        return "blocks"
    return "stages"


def load_backbone(name, weights="imagenet", input_shape=None, preprocessing="auto"):
    """The convolutional base of ``name`` without its top, taking raw 0-255 images.

    Args:
        name: a zoo model (``zoo.list_models()``) or a keras.applications
            model from :data:`KERAS_APPS` (``"efficientnet_b0"``,
            ``"mobilenet_v2"``, ``"convnext_tiny"``...). See
            :func:`available_backbones`.
        weights: ``"imagenet"`` (Keras's published file, from the Keras cache
            or downloaded), ``None`` (random) or the path of a weights file
            (Keras's ``*_notop.h5`` or a ``.weights.h5`` saved from a backbone
            this function built).
        input_shape: (H, W, C); default: the architecture's own.
        preprocessing: ``"auto"`` (the mode the weights expect), one of
            ``"caffe"``, ``"tf"``, ``"torch"``, ``"rescale"``, or ``None``
            (the model gets inputs already preprocessed).

    Returns:
        A Functional ``keras.Model`` named after the architecture whose output
        is the last feature map; its layer groups come from
        :func:`transfer.layer_groups`.

    Raises:
        transfer.WeightsUnavailableError: ``weights="imagenet"``, no cached
            file and no network; the message names the expected path.

    Example:
        >>> base = load_backbone("resnet50", weights=None, input_shape=(64, 64, 3))
        >>> base.output_shape
        (None, 2, 2, 2048)
    """
    source, canonical, mode, _ = spec(name)
    if preprocessing != "auto":
        if preprocessing is not None and preprocessing not in MODES:
            raise ValueError("`preprocessing` must be 'auto', None, 'caffe', 'tf', 'torch' or 'rescale'. "
                             f"Received: preprocessing={preprocessing!r}")
        mode = preprocessing
    if input_shape is None:
        input_shape = zoo.default_input_shape(canonical) if source == "zoo" else (224, 224, 3)
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = ImagePreprocessing(mode, name="preprocess")(inputs) if mode else inputs
    if source == "zoo":
        base = _zoo_base(canonical, x, weights, input_shape)
    else:
        base = _keras_base(canonical, x, weights, input_shape)
    # Re-wrap under the canonical name: the name is how layer_groups finds the
    # architecture's table entry, and it survives saving.
    return keras.Model(inputs, base.outputs[0], name=canonical)


def _zoo_base(name, x, weights, input_shape):
    builder = zoo.get_builder(name)
    kwargs = dict(include_top=False, weights=weights, input_shape=tuple(input_shape), pooling=None)
    if name == "cnn_mnist_sequential":  # a Sequential model takes no input_tensor: chain its layers
        model = builder(**kwargs)
        for layer in model.layers:
            x = layer(x)
        return _Chain(x)
    return builder(input_tensor=x, **kwargs)


class _Chain:
    """Just enough of a model (``outputs``) for load_backbone to re-wrap a chained Sequential."""

    def __init__(self, output):
        self.outputs = [output]


def _keras_base(name, x, weights, input_shape):
    ctor = getattr(keras.applications, KERAS_APPS[name][0])
    kwargs = dict(include_top=False, input_tensor=x, input_shape=tuple(input_shape), pooling=None)
    if weights is not None and weights != "imagenet" and not os.path.exists(os.fspath(weights)):
        raise FileNotFoundError(f"No weights file at {os.fspath(weights)!r}. Received: weights={weights!r}")
    try:
        return ctor(weights=weights, **kwargs)
    except Exception as err:
        if weights != "imagenet" or "URL fetch failure" not in str(err):
            raise
        # Keras looks in the cache it resolved at import; look where the zoo looks
        # too (KERAS_HOME read now), so both kinds of backbone honour the same place.
        found = re.search(r"(https?://\S+?\.h5)", str(err))
        fname = found.group(1).rsplit("/", 1)[1] if found else f"{name}_notop.h5"
        home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
        target = os.path.join(home, "models", fname)
        if os.path.exists(target):
            return ctor(weights=target, **kwargs)
        raise zoo.WeightsUnavailableError(
            f"ImageNet weights for {name!r} (keras.applications.{KERAS_APPS[name][0]}, include_top=False) "
            f"are not in the Keras cache and could not be downloaded ({err}). Expected the file at "
            f"{target!r}. Copy {fname} there, or pass its path: "
            f"transfer.load_backbone({name!r}, weights='/path/to/{fname}')."
        ) from err
