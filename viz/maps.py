"""Looking inside a CNN: first-layer filters and feature maps, and finding a layer in nested models.

Every plotting function returns a matplotlib Figure and, given ``path``,
also saves it as a PNG.

Example:
    >>> fig = plot_filters(zoo.cnn_mnist(), path="filters.png")
    >>> len(fig.axes)
    32
"""

import keras
import numpy as np

from viz.figures import image_grid, one_image, save_figure
from zoo.graph import all_layers

CONV_TYPES = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D)


def leaf_layers(model):
    """Every layer of ``model`` that is not itself a model, nested models included, as (layer, owner) pairs.

    Example:
        >>> [(layer.name, owner.name) for layer, owner in leaf_layers(zoo.cnn_mnist())][1]
        ('block1_conv', 'cnn_mnist')
    """
    owners = {}
    for owner in all_layers(model):
        for layer in owner.layers if isinstance(owner, keras.Model) else ():
            owners.setdefault(id(layer), owner)  # a layer shared by two models: the first one
    for layer in all_layers(model):
        if not isinstance(layer, keras.Model):
            yield layer, owners[id(layer)]


def is_spatial(layer):
    """Whether ``layer`` outputs a 4-D feature map (batch, H, W, C).

    Example:
        >>> is_spatial(zoo.cnn_mnist().get_layer("block1_conv"))
        True
    """
    try:
        return len(layer.output.shape) == 4
    except (AttributeError, ValueError):  # a layer that was never called on a symbolic input
        return False


def spatial_layer_names(model):
    """Names of the layers with 4-D outputs (nested models included), input side first.

    Example:
        >>> spatial_layer_names(zoo.cnn_mnist())[-1]
        'block2_pool'
    """
    return [layer.name for layer, _ in leaf_layers(model) if is_spatial(layer)]


def conv_layer_names(model):
    """Names of the convolution layers of ``model`` (nested models included), input side first.

    Example:
        >>> conv_layer_names(zoo.cnn_mnist())
        ['block1_conv', 'block2_conv']
    """
    return [layer.name for layer, _ in leaf_layers(model) if isinstance(layer, CONV_TYPES)]


def find_layer(model, layer_name):
    """``(layer, enclosing model)`` for ``layer_name``; ValueError lists the conv layers there are.

    Example:
        >>> layer, owner = find_layer(zoo.cnn_mnist(), "block2_conv")
        >>> type(layer).__name__, owner.name
        ('Conv2D', 'cnn_mnist')
    """
    for layer, owner in leaf_layers(model):
        if layer.name == layer_name:
            return layer, owner
    raise ValueError(
        f"No layer named {layer_name!r} in model {model.name!r}. "
        f"Convolution layers available: {conv_layer_names(model)}. Received: layer_name={layer_name!r}"
    )


def model_inputs(model):
    """The model's inputs as Keras calls it: one tensor, not a one-element list (Keras warns otherwise).

    Example:
        >>> model_inputs(zoo.cnn_mnist()).shape
        (None, 28, 28, 1)
    """
    return model.inputs[0] if len(model.inputs) == 1 else model.inputs


def output_in(graph, layer):
    """``layer``'s output tensor in ``graph``'s own graph (a shared layer has one per call)."""
    nodes = layer._inbound_nodes
    if len(nodes) == 1:
        return nodes[0].output_tensors[0]
    for node in nodes:
        try:
            keras.Model(model_inputs(graph), node.output_tensors[0])
        except ValueError:  # that call belongs to another model's graph
            continue
        return node.output_tensors[0]
    raise ValueError(f"Layer {layer.name!r} is not called in {graph.name!r}'s graph.")


def outer_call(model, owner):
    """``(front, output tensor)`` of the call of the nested model ``owner`` in ``model``'s graph.

    ``front`` maps the outer input to what ``owner`` receives (the identity when
    ``owner`` sits right after the input). Only one level of nesting is handled.
    """
    for node in owner._inbound_nodes:
        entry = node.input_tensors[0]
        if entry is model.inputs[0]:
            return (lambda x: x), node.output_tensors[0]
        try:
            front = keras.Model(model_inputs(model), entry)
        except ValueError:  # a call of ``owner`` in some other model's graph
            continue
        return front, node.output_tensors[0]
    raise ValueError(f"The nested model {owner.name!r} is not called directly in {model.name!r}'s graph.")


def _activation_model(model, layer_name):
    """A model mapping the outer input to ``layer_name``'s output, even inside a nested backbone."""
    layer, owner = find_layer(model, layer_name)
    if not is_spatial(layer):
        raise ValueError(
            f"Layer {layer_name!r} outputs shape {layer.output.shape}, not a 4-D feature map. "
            f"Layers with feature maps: {spatial_layer_names(model)}"
        )
    if owner is model:
        return keras.Model(model_inputs(model), output_in(model, layer))
    inner = keras.Model(model_inputs(owner), output_in(owner, layer))
    front, _ = outer_call(model, owner)
    return lambda x: inner(front(x))


def plot_filters(model_or_layer, max_filters=64, path=None):
    """The first convolution layer's filters as a grid, one panel per filter.

    RGB filters (3 input channels) are shown in colour; otherwise the mean over
    input channels is shown in grey. Each filter is scaled to [0, 1] on its
    own, so the pattern shows rather than the magnitude.

    Example:
        >>> fig = plot_filters(zoo.cnn_mnist())
        >>> len(fig.axes)
        32
    """
    layer = model_or_layer
    if isinstance(model_or_layer, keras.Model):
        convs = [lyr for lyr, _ in leaf_layers(model_or_layer) if isinstance(lyr, keras.layers.Conv2D)]
        if not convs:
            raise ValueError(f"Model {model_or_layer.name!r} has no Conv2D layer to show. "
                             f"Layers: {[lyr.name for lyr, _ in leaf_layers(model_or_layer)]}")
        layer = convs[0]
    if not isinstance(layer, keras.layers.Conv2D) or not layer.built:
        raise ValueError(f"Expected a keras.Model or a built Conv2D layer. Received: {type(layer).__name__} "
                         f"{getattr(layer, 'name', '')!r}")
    kernel = keras.ops.convert_to_numpy(layer.kernel)  # (kh, kw, in, out)
    n = min(kernel.shape[-1], max_filters)
    fig, axes = image_grid(n, title=f"{layer.name}: {n} of {kernel.shape[-1]} filters "
                                    f"{kernel.shape[0]}x{kernel.shape[1]}x{kernel.shape[2]}")
    for i, ax in enumerate(axes):
        w = kernel[..., i]
        w = w if w.shape[-1] == 3 else w.mean(axis=-1)
        w = (w - w.min()) / (np.ptp(w) + 1e-12)
        ax.imshow(w, cmap=None if w.ndim == 3 else "gray", interpolation="nearest")
    return save_figure(fig, path)


def plot_feature_maps(model, layer_name, image, max_maps=64, path=None):
    """The feature maps of ``layer_name`` for one ``image``, one panel per channel.

    ``image`` is (H, W, C) or (1, H, W, C), already in the scale the model
    expects. The layer may sit inside a nested model (a backbone under a head).

    Example:
        >>> fig = plot_feature_maps(zoo.cnn_mnist(), "block1_conv", np.zeros((28, 28, 1)))
        >>> len(fig.axes)
        32
    """
    maps = keras.ops.convert_to_numpy(_activation_model(model, layer_name)(one_image(image)))[0]
    n = min(maps.shape[-1], max_maps)
    fig, axes = image_grid(n, title=f"{layer_name}: {n} of {maps.shape[-1]} feature maps "
                                    f"{maps.shape[0]}x{maps.shape[1]}")
    for i, ax in enumerate(axes):
        ax.imshow(maps[..., i], cmap="viridis")
    return save_figure(fig, path)
