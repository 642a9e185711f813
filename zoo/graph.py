"""Walking Keras models with Keras's public API only.

Example:
    >>> import keras, zoo
    >>> inner = zoo.resnet20(include_top=False)
    >>> x = keras.Input((32, 32, 3)); model = keras.Model(x, inner(x))
    >>> names = [layer.name for layer in all_layers(model)]
    >>> names[:4] == [model.name, model.layers[0].name, "resnet20", inner.layers[0].name]
    True
"""

import keras


def all_layers(layer):
    """``layer`` and, for nested models, every layer inside (depth first, pre-order)."""
    yield layer
    for sub in getattr(layer, "layers", ()) if isinstance(layer, keras.Model) else ():
        yield from all_layers(sub)
