"""Headless pretrained backbones from the zoo or keras.applications, one door.

:func:`load_backbone` returns a flat Functional model: raw 0-255 pixels in,
the last convolutional feature map out, with the network's own input
preprocessing as its first layer (``preprocess``). What it needs to know
about the architecture (like fastai's ``model_meta``: where the model comes
from, how its inputs are normalised, how its layers split into groups) is
the architecture's record, ``zoo.get_arch(name)``.
"""

import os

import keras
import zoo

from transfer.sources import hub
from transfer.model.backbone import Backbone
from transfer.model.dtypes import policy_scope, with_policy
from transfer.sources.preprocessing import MODES, ImagePreprocessing


def available_backbones(pattern="*"):
    """Sorted names :func:`load_backbone` accepts: every architecture record (zoo and keras.applications).

    Example:
        >>> "resnet50" in available_backbones() and "efficientnet_b0" in available_backbones()
        True
    """
    return zoo.list_configs(pattern)


def _looks_like_missing_folder(name):
    """A path (a separator, ``~`` or ``.`` first; not a ``scheme://`` handle) where nothing exists."""
    is_path = "://" not in name and ("/" in name or os.sep in name or name.startswith(("~", ".")))
    return is_path and not os.path.exists(os.path.expanduser(name))


def load_backbone(name, weights="imagenet", input_shape=None, preprocessing="auto", dtype=None):
    """The convolutional base of ``name`` without its top, taking raw 0-255 images.

    Args:
        name: an architecture with a record (``zoo.get_arch``): a zoo
            model or a keras.applications model (``"efficientnet_b0"``,
            ``"mobilenet_v2"``, ``"convnext_tiny"``...); spelling-insensitive.
            See :func:`available_backbones`.
        weights: ``"imagenet"`` (Keras's published file, from the Keras cache
            or downloaded), ``None`` (random) or the path of a weights file
            (Keras's ``*_notop.h5`` or a ``.weights.h5`` saved from a backbone
            this function built).
        input_shape: (H, W, C); default: the architecture's own.
        preprocessing: ``"auto"`` (the mode the weights expect), one of
            ``"caffe"``, ``"tf"``, ``"torch"``, ``"rescale"``, or ``None``
            (the model gets inputs already preprocessed).
        dtype: a Keras dtype policy for this model (``"mixed_bfloat16"``,
            ``"mixed_float16"``, ...); default: the global policy
            (``keras.mixed_precision.set_dtype_policy``). Under a mixed
            policy the variables stay float32 and BatchNormalization keeps
            float32 statistics; the preprocessing layer computes in float32.

    Returns:
        A :class:`~transfer.model.backbone.Backbone` (a Functional ``keras.Model``)
        named after the architecture, whose output is the last feature map;
        it carries its record's name (``.arch``) and its layer groups
        (``.groups``, see :func:`transfer.layer_groups`).

    Raises:
        transfer.WeightsUnavailableError: ``weights="imagenet"``, no cached
            file and no network; the message names the expected path.

    Example:
        >>> base = load_backbone("resnet50", weights=None, input_shape=(64, 64, 3))
        >>> base.output_shape
        (None, 2, 2, 2048)
        >>> load_backbone("resnet20", weights=None, dtype="mixed_bfloat16").get_layer("conv1_conv").compute_dtype
        'bfloat16'
    """
    if isinstance(name, str) and _looks_like_missing_folder(name):
        raise FileNotFoundError(f"No folder at {name!r}: a path is read as a saved keras-hub preset or timm "
                                "folder (config.json inside). Check the path, or pass an architecture name "
                                f"(`transfer backbones` lists them). Received: name={name!r}")
    if not isinstance(name, str) or hub.is_hub_source(name):  # keras-hub objects, presets, folders, hf:// handles
        return hub.load_hub_backbone(name, weights=weights, input_shape=input_shape, preprocessing=preprocessing,
                                     dtype=dtype)
    config = zoo.get_arch(name)
    mode = config.preprocessing_for(weights)  # the weight set's own normalisation
    if preprocessing != "auto":
        if preprocessing is not None and preprocessing not in MODES:
            raise ValueError("`preprocessing` must be 'auto', None, 'caffe', 'tf', 'torch' or 'rescale'. "
                             f"Received: preprocessing={preprocessing!r}")
        mode = preprocessing
    input_shape = config.input_shape_for(input_shape, weights=weights)
    with policy_scope(dtype):
        inputs = keras.Input(shape=input_shape, name="image")
        x = ImagePreprocessing(mode, name="preprocess")(inputs) if mode else inputs
        # One door for every record (zoo.create_model), built on the preprocessed tensor: one flat graph.
        features = zoo.create_model(config.name, include_top=False, weights=weights, input_tensor=x,
                                    input_shape=input_shape, pooling=None).outputs[0]
        # One flat model, preprocessing first, under the architecture's name; the record's
        # name and the groups travel with it (transfer.model.backbone.Backbone).
        return Backbone(inputs, features, name=config.name, arch=config.name)

