"""One record per architecture: everything the toolkit knows about it, declared as data.

An :class:`ArchConfig` says what a model needs beyond its layers: the input
it is built for, the smallest input its strides allow, how its pixels are
normalised, how its layers split into groups for freezing and discriminative
learning rates, which published weight files exist (with their hashes), and
its default number of classes. The records sit beside the variant tables in
``zoo/models/`` (and, for keras.applications' own models, in
``zoo/models/keras_applications.py``); the registry, the builders, the
weights, ``transfer.load_backbone``, the layer groups and both command lines
read them. Adding a variant is one record (and, for a zoo model, its builder
function, whose name is the record's name).

Example:
    >>> import zoo
    >>> cfg = zoo.get_arch("resnet50")
    >>> cfg.input_shape, cfg.preprocessing, cfg.group_scheme, sorted(cfg.weights)
    ((224, 224, 3), 'caffe', 'resnet', ['imagenet'])
"""

import dataclasses
from types import MappingProxyType
from typing import Mapping, Optional, Tuple

from zoo.groups import GROUP_SCHEMES  # how a backbone's layers split into groups: the rules are in zoo.groups

# How raw 0-255 pixels are normalised before the first layer (see transfer.preprocessing):
# "caffe" RGB->BGR minus the ImageNet mean, "tf" to [-1, 1], "torch" [0, 1] then the ImageNet
# mean and std, "rescale" to [0, 1]; None: the network rescales inside (EfficientNet, ConvNeXt...).
PREPROCESSING = ("caffe", "tf", "torch", "rescale", None)



@dataclasses.dataclass(frozen=True)
class WeightFiles:
    """A published pair of weight files: with the classifier (top) and without it.

    ``origin`` is the folder URL; the hashes are what ``keras.utils.get_file``
    checks (Keras publishes MD5s for its application files).

    Example:
        >>> w = zoo.get_arch("vgg16").weights["imagenet"]
        >>> w.file(include_top=False)
        'vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5'
    """

    origin: str
    top: str
    top_hash: str
    notop: str
    notop_hash: str

    def file(self, include_top=True):
        return self.top if include_top else self.notop

    def hash(self, include_top=True):
        return self.top_hash if include_top else self.notop_hash

    def url(self, include_top=True):
        return self.origin + self.file(include_top)


def keras_weight_files(stem, origin, top_hash, notop_hash):
    """The pair of files Keras publishes for ``stem`` under ``origin`` (its naming scheme).

    Example:
        >>> keras_weight_files("vgg16", "https://example.org/", "aa", "bb").notop
        'vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5'
    """
    name = f"{stem}_weights_tf_dim_ordering_tf_kernels"
    return WeightFiles(origin, f"{name}.h5", top_hash, f"{name}_notop.h5", notop_hash)


@dataclasses.dataclass(frozen=True)
class ArchConfig:
    """What the toolkit knows about one architecture (see the module docstring).

    Attributes:
        name: the registered name (a zoo builder's function name, or a
            keras.applications model's name in this toolkit, e.g. ``"mobilenet_v2"``).
        input_shape: default (H, W, C).
        min_size: the smallest height and width the strides allow.
        preprocessing: one of :data:`PREPROCESSING`: what the weights expect.
        group_scheme: one of :data:`zoo.groups.GROUP_SCHEMES`: how the layers
            split into groups (the rules are in :mod:`zoo.groups`).
        family: the builder family ("resnet", "vgg", "cifar_resnet", ...);
            free text, for tables and cards.
        classes: outputs of the default classifier.
        weights: ``{"imagenet": WeightFiles}`` for published weights.
        variant: the builder's own data (blocks per stage, VGG layout...).
        keras_app: the keras.applications constructor for Keras's own
            models (``"MobileNetV2"``); None for zoo models.
        description: one line for tables and cards.
    """

    name: str
    input_shape: Tuple[int, int, int]
    min_size: int
    preprocessing: Optional[str]
    group_scheme: str
    family: str = ""
    classes: int = 1000
    weights: Mapping[str, WeightFiles] = dataclasses.field(default_factory=dict)
    variant: tuple = ()
    keras_app: Optional[str] = None
    description: str = ""

    def __post_init__(self):
        if self.preprocessing not in PREPROCESSING:
            raise ValueError(f"`preprocessing` must be one of {PREPROCESSING}. "
                             f"Received: preprocessing={self.preprocessing!r} for {self.name!r}")
        if self.group_scheme not in GROUP_SCHEMES:
            raise ValueError(f"`group_scheme` must be one of {GROUP_SCHEMES}. "
                             f"Received: group_scheme={self.group_scheme!r} "
                             f"for {self.name!r}")
        object.__setattr__(self, "input_shape", tuple(self.input_shape))
        object.__setattr__(self, "weights", MappingProxyType(dict(self.weights)))

    @property
    def groups(self):
        """Old name of :attr:`group_scheme` (kept for one release)."""
        return self.group_scheme

    @property
    def source(self):
        """Who builds it: ``"keras"`` (keras.applications), ``"hub"`` (keras-hub) or ``"zoo"``."""
        if self.keras_app:
            return "keras"
        return "hub" if self.family.startswith("keras_hub.") else "zoo"

    def has_weights(self, kind="imagenet"):
        """Whether published ``kind`` weights exist for this architecture."""
        return kind in self.weights
