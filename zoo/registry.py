"""The one registry: architecture records, and the builders of the zoo's own models.

Every architecture the toolkit knows has an :class:`~zoo.configs.ArchConfig`
record (``register_config``); a zoo model also has a builder, registered with
``@register_model`` under its function's name, which must be a record's
name, so ``zoo.create_model("resnet20")`` and ``zoo.resnet20()`` are the same
door. Records of models built elsewhere (keras.applications) are registered
with the function that builds them, so :func:`create_model` builds every
record, and ``zoo.summary``, ``zoo card`` and ``transfer.load_backbone`` share
that one path. Listing filters with shell-style wildcards, as timm does.

Example:
    >>> import zoo
    >>> zoo.list_models("resnet5*")
    ['resnet50', 'resnet50v2', 'resnet56']
    >>> zoo.get_arch("MobileNet-V2").name          # spelling-insensitive lookup
    'mobilenet_v2'
    >>> zoo.create_model("mobilenet_v2", input_shape=(96, 96, 3)).arch   # keras.applications builds it
    'mobilenet_v2'
"""

import fnmatch
import functools
import re

from zoo import checks
from zoo.configs import ArchConfig

_CONFIGS = {}  # name -> ArchConfig: every record (zoo, keras.applications, keras-hub)
_BUILDERS = {}  # name -> build(**kwargs) -> keras.Model: the one builder signature, every record that has one


def _load_records():
    """Import the architecture modules (once): each registers its records and builders as it is imported.

    ``zoo`` imports them only when asked for (so that ``import datasets`` stays light); every lookup here
    calls this first, so the registry is complete whichever way it is reached.
    """
    import zoo.models  # noqa: F401  (a no-op once imported; inside a function: these modules import this one)
    import zoo.models.keras_hub  # noqa: F401


def register_config(*configs, builder=None):
    """Add architecture records; a name may be registered once.

    ``builder(config, **kwargs)``, if given, builds the records' models (for
    models the zoo has no builder function of its own, e.g. keras.applications');
    it is bound to each record here, so the registry holds one kind of
    builder, ``build(**kwargs)``, and :func:`create_model` builds them too.

    Example:
        >>> register_config(ArchConfig("my_record", (28, 28, 1), 8, "rescale", "stages"))
        >>> get_arch("my_record").min_size
        8
        >>> unregister("my_record")
    """
    for config in configs:
        if not isinstance(config, ArchConfig):
            raise TypeError(f"Expected an ArchConfig. Received: {type(config).__name__}")
        known = _CONFIGS.get(config.name)
        if known is not None and known != config:
            raise ValueError(f"An architecture named {config.name!r} is already registered. "
                             "Choose another name.")
        _CONFIGS[config.name] = config
        if builder is not None:
            _BUILDERS[config.name] = functools.partial(builder, config)


def register_model(fn=None, *, default_input_shape=None, min_size=None, preprocessing="rescale",
                   group_scheme="stages", groups=None):
    """Register the builder ``fn`` under its own name; usable bare or with arguments.

    The builder's record is the registered :class:`~zoo.configs.ArchConfig`
    of the same name. A builder without one (your own model) gets a record
    from the arguments: its default input shape, the smallest height/width
    its strides allow, its preprocessing and group scheme.

    Example:
        >>> @register_model(default_input_shape=(28, 28, 1), min_size=8)
        ... def my_net(*, classes=10): ...
        >>> "my_net" in list_models()
        True
        >>> unregister("my_net")
    """

    def wrap(builder):
        name = builder.__name__
        known = _BUILDERS.get(name)
        if known is not None and known is not builder:
            owner = getattr(known, "func", known).__module__  # a record builder is bound with functools.partial
            raise ValueError(f"A model named {name!r} is already registered by {owner}. "
                             "Choose another function name.")
        if name not in _CONFIGS:
            if default_input_shape is None:
                raise ValueError(f"{name!r} has no architecture record: register one with "
                                 "register_config, or pass default_input_shape=(H, W, C).")
            register_config(ArchConfig(name, tuple(default_input_shape), min_size or 1, preprocessing,
                                       groups or group_scheme))
        _BUILDERS[name] = builder
        return builder

    return wrap(fn) if fn is not None else wrap


def unregister(name):
    """Remove ``name``'s builder and record (e.g. after trying out your own model in a notebook).

    Example:
        >>> unregister("no_such_model")
        Traceback (most recent call last):
        ...
        ValueError: Nothing is registered as 'no_such_model'.
    """
    if name not in _CONFIGS and name not in _BUILDERS:
        raise ValueError(f"Nothing is registered as {name!r}.")
    _BUILDERS.pop(name, None)
    _CONFIGS.pop(name, None)


def list_models(pattern="*"):
    """Sorted names of the registered zoo models that match ``pattern`` (fnmatch).

    Example:
        >>> zoo.list_models("vgg1[16]")
        ['vgg11', 'vgg16']
    """
    _load_records()
    return sorted(n for n in _BUILDERS if _CONFIGS[n].source == "zoo" and fnmatch.fnmatchcase(n, pattern))


def list_configs(pattern="*", source=None):
    """Sorted names of every architecture record (zoo and keras.applications) matching ``pattern``.

    ``source``: None for all, ``"zoo"``, ``"keras"`` (keras.applications) or ``"hub"`` (keras-hub).

    Example:
        >>> "efficientnet_b0" in zoo.list_configs("efficientnet*", source="keras")
        True
    """
    _load_records()
    return sorted(n for n, c in _CONFIGS.items()
                  if fnmatch.fnmatchcase(n, pattern) and source in (None, c.source))


def _key(name):
    """Spelling-insensitive key: 'MobileNet_V2', 'mobilenetv2' and 'mobilenet-v2' agree."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def get_arch(name):
    """The architecture record (:class:`~zoo.configs.ArchConfig`) of ``name``, looked up spelling-insensitively.

    Zoo models win over keras.applications models of the same spelling (Keras's
    own ResNet50 is ``keras_resnet50``). Unknown names raise ValueError with
    close matches. (``zoo.get_config`` is its old name, kept for one release:
    Keras's ``get_config()`` means a layer's config dict, not a record.)

    Example:
        >>> zoo.get_arch("ResNet50").source, zoo.get_arch("keras_resnet50").source
        ('zoo', 'keras')
    """
    _load_records()
    if not isinstance(name, str):
        raise TypeError(f"An architecture name must be a string. Received: name={name!r}")
    if name in _CONFIGS:
        return _CONFIGS[name]
    matches = sorted((c.source != "zoo", n) for n, c in _CONFIGS.items() if _key(n) == _key(name))
    if matches:
        return _CONFIGS[matches[0][1]]
    raise ValueError(f"Unknown architecture {name!r}.{checks.close_matches(name, _CONFIGS)} "
                     f"Use zoo.list_configs() to see all {len(_CONFIGS)} names (zoo.list_models() for the "
                     "zoo's own builders).")


get_config = get_arch  # the old name (kept for one release)


def get_builder(name):
    """The zoo builder function registered as ``name``; ValueError with close matches if none."""
    _load_records()
    if not isinstance(name, str):
        raise TypeError(f"A model name must be a string. Received: name={name!r}")
    zoo_builders = list_models()
    if name not in zoo_builders:
        raise ValueError(
            f"Unknown model {name!r}.{checks.close_matches(name, zoo_builders)} Use zoo.list_models() "
            f"to see all {len(zoo_builders)} registered names."
        )
    return _BUILDERS[name]


def default_input_shape(name):
    """The input shape a registered model is built with when none is given."""
    return get_arch(name).input_shape


def min_input_size(name):
    """The smallest height/width the model ``name`` accepts."""
    return get_arch(name).min_size


def create_model(name, **kwargs):
    """Build the architecture ``name``, a zoo model or any other record, with keras.applications' arguments.

    The one door: a zoo model through its builder function, a keras.applications
    model through keras.applications (``weights="imagenet"`` from the Keras
    cache or downloaded). The name is looked up spelling-insensitively; an
    unknown one raises ValueError with close matches. The model carries its
    record's name as ``model.arch``.

    Example:
        >>> model = zoo.create_model("resnet20", classes=100)
        >>> model.output_shape, model.arch
        ((None, 100), 'resnet20')
        >>> zoo.create_model("EfficientNet-B0", include_top=False, input_shape=(64, 64, 3)).output_shape
        (None, 2, 2, 1280)
    """
    config = get_arch(name) if name not in _BUILDERS else _CONFIGS[name]
    if config.name not in _BUILDERS:
        raise ValueError(f"The record {config.name!r} has no builder: register one with "
                         f"zoo.register_model or register_config(..., builder=...). Received: name={name!r}")
    model = _BUILDERS[config.name](**kwargs)
    model.arch = config.name  # in memory only: a saved .keras file loads as a plain Functional model
    return model
