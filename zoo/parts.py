"""The parts every builder shares: the input, the argument checks, the pooling, the top, the weights.

A builder says only its body; these helpers do the rest the way
keras.applications does (same argument meanings, same layer names for the
top: ``avg_pool``, ``max_pool``, ``predictions``). :func:`global_pool` is
also the one place where a pooling name becomes a layer, for the zoo's
headless models, ``transfer``'s heads and its feature extraction.
"""

import keras
from keras import layers

from zoo import checks
from zoo import weights as weights_lib
from zoo.registry import get_arch

# Pooling names -> layer class and the layer name keras.applications gives it.
_POOLING_LAYERS = {
    "avg": (layers.GlobalAveragePooling2D, "avg_pool"),
    "max": (layers.GlobalMaxPooling2D, "max_pool"),
    "flatten": (layers.Flatten, "flatten"),
}


def image_input(input_tensor, input_shape, *, config, channels=None):
    """Return ``(image_tensor, model_inputs)`` for the builder of ``config``.

    ``model_inputs`` are the source inputs of ``input_tensor`` when one is
    given, so a zoo model can be built on top of another graph.
    """
    if input_shape is None:  # the record's one rule: the tensor's shape, else its default
        input_shape = config.input_shape_for(input_tensor=input_tensor)
    shape = checks.check_input_shape(input_shape, default=config.input_shape, min_size=config.min_size,
                                     channels=channels)
    if input_tensor is None:
        x = layers.Input(shape=shape, name="input")
        return x, x
    if not keras.backend.is_keras_tensor(input_tensor):
        x = layers.Input(tensor=input_tensor, shape=shape)
        return x, x
    return input_tensor, keras.utils.get_source_inputs(input_tensor)


def check_common(config, *, include_top, weights, pooling, classes, classifier_activation):
    """Validate the keras.applications-style arguments against the record ``config``; returns ``classes``."""
    classes = checks.check_classes(classes)
    checks.check_pooling(pooling)
    if include_top and pooling is not None:
        raise ValueError("`pooling` applies to the headless model only (include_top=False); the top already "
                         f"pools. Received: include_top=True, pooling={pooling!r}")
    checks.check_weights(
        weights,
        pretrained_available=config.has_weights("imagenet"),
        include_top=include_top,
        classes=classes,
        default_classes=config.classes,
    )
    if weights == "imagenet" and include_top and classifier_activation not in (None, "softmax"):
        raise ValueError(
            "Only None or 'softmax' may top pretrained weights. "
            f"Received: classifier_activation={classifier_activation!r}"
        )
    return classes


def global_pool(x, pooling, name=None):
    """Pool a feature map by name: ``"avg"``, ``"max"``, ``"flatten"``, or None (unchanged).

    Example:
        >>> x = keras.Input((4, 4, 8))
        >>> tuple(global_pool(x, "avg").shape)
        (None, 8)
    """
    if pooling is None:
        return x
    cls, default_name = _POOLING_LAYERS[checks.check_choice("pooling", pooling, tuple(_POOLING_LAYERS))]
    return cls(name=name or default_name)(x)


def classifier(x, classes, activation, *, name="predictions"):
    """The final Dense layer, named as keras.applications names it."""
    return layers.Dense(classes, activation=activation, name=name)(x)


def make_model(inputs, outputs, *, name, weights, arch, include_top=True):
    """Make the Functional model and load ``weights`` (None, 'imagenet' or a path) for record ``arch``."""
    model = keras.Model(inputs, outputs, name=name)
    weights_lib.load_into(model, weights, arch=arch, include_top=include_top)
    model.arch = arch  # the record it follows (in memory; as_backbone and load_backbone read it)
    return model


def start(name, *, include_top, weights, input_tensor, input_shape, pooling, classes, classifier_activation,
          channels=None):
    """A builder's first line: its record, the checked ``classes``, ``(x, inputs)``.

    Example:
        >>> config, classes, (x, inputs) = start("resnet20", include_top=True, weights=None, input_tensor=None,
        ...                                      input_shape=None, pooling=None, classes=10,
        ...                                      classifier_activation="softmax")
        >>> tuple(x.shape)
        (None, 32, 32, 3)
    """
    config = get_arch(name)
    classes = check_common(config, include_top=include_top, weights=weights, pooling=pooling, classes=classes,
                           classifier_activation=classifier_activation)
    if channels is None and weights == "imagenet":
        channels = config.input_shape[2]
    return config, classes, image_input(input_tensor, input_shape, config=config, channels=channels)
