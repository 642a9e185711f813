"""The one registry of model builders.

A builder registers itself with ``@register_model``; the registered name is the
function's name, so ``zoo.create_model("resnet20")`` and ``zoo.resnet20()`` are
the same door. Listing filters with shell-style wildcards, as timm does.

Example:
    >>> import zoo
    >>> zoo.list_models("resnet5*")
    ['resnet50', 'resnet50v2', 'resnet56']
"""

import difflib
import fnmatch

_BUILDERS = {}
_DEFAULT_INPUT = {}
_MIN_SIZE = {}


def register_model(fn=None, *, default_input_shape=None, min_size=None):
    """Register ``fn`` under its own name; usable bare or with arguments.

    ``default_input_shape`` is the (H, W, C) the model is built with when none
    is given; ``min_size`` the smallest height and width its strides allow.
    Both are recorded so the command line and the tests know them without
    building the model.

    Example:
        >>> @register_model(default_input_shape=(28, 28, 1), min_size=8)
        ... def my_net(*, classes=10): ...
    """

    def wrap(builder):
        name = builder.__name__
        if name in _BUILDERS and _BUILDERS[name] is not builder:
            raise ValueError(
                f"A model named {name!r} is already registered by "
                f"{_BUILDERS[name].__module__}. Choose another function name."
            )
        _BUILDERS[name] = builder
        _DEFAULT_INPUT[name] = tuple(default_input_shape or ())
        _MIN_SIZE[name] = min_size
        return builder

    return wrap(fn) if fn is not None else wrap


def list_models(pattern="*"):
    """Sorted names of the registered models that match ``pattern`` (fnmatch).

    Example:
        >>> zoo.list_models("vgg1[16]")
        ['vgg11', 'vgg16']
    """
    return sorted(n for n in _BUILDERS if fnmatch.fnmatchcase(n, pattern))


def get_builder(name):
    """The builder function registered as ``name``; ValueError with close matches if none."""
    if not isinstance(name, str):
        raise TypeError(f"A model name must be a string. Received: name={name!r}")
    try:
        return _BUILDERS[name]
    except KeyError:
        close = difflib.get_close_matches(name.lower(), list(_BUILDERS), n=5, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise ValueError(
            f"Unknown model {name!r}.{hint} Use zoo.list_models() to see all "
            f"{len(_BUILDERS)} registered names."
        ) from None


def default_input_shape(name):
    """The input shape a registered model is built with when none is given."""
    get_builder(name)
    return _DEFAULT_INPUT[name]


def min_input_size(name):
    """The smallest height/width the model ``name`` accepts (None if not recorded)."""
    get_builder(name)
    return _MIN_SIZE[name]


def create_model(name, **kwargs):
    """Build the registered model ``name`` with the builder's keyword arguments.

    Example:
        >>> model = zoo.create_model("resnet20", classes=100)
        >>> model.output_shape
        (None, 100)
    """
    return get_builder(name)(**kwargs)
