"""The parts every builder shares: the input, the top, the weights.

A builder says only its body; these three helpers do the rest the way
keras.applications does (same argument meanings, same layer names for the
top: ``avg_pool``, ``max_pool``, ``predictions``).
"""

import keras
from keras import layers

from zoo import validation
from zoo import weights as weights_lib


def image_input(input_tensor, input_shape, *, default, min_size=None, channels=None):
    """Return ``(image_tensor, model_inputs)`` for a builder.

    ``model_inputs`` are the source inputs of ``input_tensor`` when one is
    given, so a zoo model can be built on top of another graph.
    """
    if input_tensor is not None and input_shape is None:
        input_shape = tuple(input_tensor.shape[1:])
    shape = validation.check_input_shape(input_shape, default=default, min_size=min_size, channels=channels)
    if input_tensor is None:
        x = layers.Input(shape=shape, name="input")
        return x, x
    if not keras.backend.is_keras_tensor(input_tensor):
        x = layers.Input(tensor=input_tensor, shape=shape)
        return x, x
    return input_tensor, keras.src.ops.operation_utils.get_source_inputs(input_tensor)


def check_common(*, include_top, weights, pooling, classes, pretrained, default_classes, classifier_activation):
    """Validate the keras.applications-style arguments in one call."""
    validation.check_classes(classes)
    validation.check_pooling(pooling)
    validation.check_weights(
        weights,
        pretrained_available=pretrained,
        include_top=include_top,
        classes=classes,
        default_classes=default_classes,
    )
    if weights == "imagenet" and include_top and classifier_activation not in (None, "softmax"):
        raise ValueError(
            "Only None or 'softmax' may top pretrained weights. "
            f"Received: classifier_activation={classifier_activation!r}"
        )


def pool(x, pooling):
    """The headless ending: global average, global max, or the feature map."""
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name="max_pool")(x)
    return x


def classifier(x, classes, activation, *, name="predictions"):
    """The final Dense layer, named as keras.applications names it."""
    return layers.Dense(classes, activation=activation, name=name)(x)


def finish(inputs, outputs, *, name, weights, arch=None, include_top=True):
    """Make the Functional model and load ``weights`` (None, 'imagenet' or a path)."""
    model = keras.Model(inputs, outputs, name=name)
    weights_lib.load_into(model, weights, arch=arch, include_top=include_top)
    return model
