"""Looking inside a CNN: first-layer filters and feature maps (and the helpers the plots share).

These are re-exported by :mod:`zoo.visualize`; import them from there.
Every plotting function returns a matplotlib Figure and, given ``path``,
also saves it as a PNG.

Example:
    >>> from zoo.visualize import plot_filters, plot_feature_maps
    >>> fig = plot_filters(zoo.cnn_mnist())          # doctest: +SKIP
"""

import math

import keras
import matplotlib.pyplot as plt
import numpy as np

_CONV_TYPES = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D)


def _save(fig, path):
    if path is not None:
        fig.savefig(path, dpi=100, bbox_inches="tight")
    return fig


def _grid(n, size=1.4, cols=None, title=None):
    """A figure with exactly ``n`` image panels (no empty axes left over)."""
    cols = cols or min(n, 8)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows + (0.4 if title else 0)),
                             squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        fig.delaxes(ax)
    for ax in flat[:n]:
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title)
    return fig, flat[:n]


def _display(image):
    """An image as matplotlib shows it: (H, W) or (H, W, 3), floats in [0, 1]."""
    img = np.asarray(image, dtype="float32")
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    if img.max(initial=0) > 1.0:  # 0-255 pixels
        img = img / 255.0
    return np.clip(img, 0.0, 1.0)


def _batch(image):
    """One image as a batch of one: accepts (H, W, C) or (1, H, W, C)."""
    x = np.asarray(image, dtype="float32")
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(f"Expected one image (H, W, C) or a batch of one (1, H, W, C). Received: shape={x.shape}")
    return x


def _all_layers(model):
    """Every layer, nested models included, as (layer, enclosing model) pairs."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)
        else:
            yield layer, model


def _spatial_layers(model):
    return [layer.name for layer, _ in _all_layers(model) if _is_spatial(layer)]


def _is_spatial(layer):
    try:
        return len(layer.output.shape) == 4
    except (AttributeError, ValueError):  # a layer that was never called on a symbolic input
        return False


def conv_layer_names(model):
    """Names of the convolution layers of ``model`` (nested models included), input side first.

    Example:
        >>> conv_layer_names(zoo.cnn_mnist())
        ['block1_conv', 'block2_conv']
    """
    return [layer.name for layer, _ in _all_layers(model) if isinstance(layer, _CONV_TYPES)]


def _find(model, layer_name):
    """``(layer, enclosing model)`` for ``layer_name``; ValueError lists the conv layers there are."""
    for layer, owner in _all_layers(model):
        if layer.name == layer_name:
            return layer, owner
    raise ValueError(
        f"No layer named {layer_name!r} in model {model.name!r}. "
        f"Convolution layers available: {conv_layer_names(model)}. Received: layer_name={layer_name!r}"
    )


def _inputs(model):
    # one input as a tensor, not a one-element list: keras warns when the call's structure differs
    return model.inputs[0] if len(model.inputs) == 1 else model.inputs


def _output_in(graph, layer):
    """``layer``'s output tensor in ``graph``'s own graph (a shared layer has one per call)."""
    nodes = layer._inbound_nodes
    if len(nodes) == 1:
        return nodes[0].output_tensors[0]
    for node in nodes:
        try:
            keras.Model(_inputs(graph), node.output_tensors[0])
        except ValueError:  # that call belongs to another model's graph
            continue
        return node.output_tensors[0]
    raise ValueError(f"Layer {layer.name!r} is not called in {graph.name!r}'s graph.")


def _outer_call(model, owner):
    """``(front, output tensor)`` of the call of the nested model ``owner`` in ``model``'s graph.

    ``front`` maps the outer input to what ``owner`` receives (the identity when
    ``owner`` sits right after the input). Only one level of nesting is handled.
    """
    for node in owner._inbound_nodes:
        entry = node.input_tensors[0]
        if entry is model.inputs[0]:
            return (lambda x: x), node.output_tensors[0]
        try:
            front = keras.Model(_inputs(model), entry)
        except ValueError:  # a call of ``owner`` in some other model's graph
            continue
        return front, node.output_tensors[0]
    raise ValueError(f"The nested model {owner.name!r} is not called directly in {model.name!r}'s graph.")


def _activation_model(model, layer_name):
    """A model mapping the outer input to ``layer_name``'s output, even inside a nested backbone."""
    layer, owner = _find(model, layer_name)
    if not _is_spatial(layer):
        raise ValueError(
            f"Layer {layer_name!r} outputs shape {layer.output.shape}, not a 4-D feature map. "
            f"Layers with feature maps: {_spatial_layers(model)}"
        )
    if owner is model:
        return keras.Model(_inputs(model), _output_in(model, layer))
    inner = keras.Model(_inputs(owner), _output_in(owner, layer))
    front, _ = _outer_call(model, owner)
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
        convs = [lyr for lyr, _ in _all_layers(model_or_layer) if isinstance(lyr, keras.layers.Conv2D)]
        if not convs:
            raise ValueError(f"Model {model_or_layer.name!r} has no Conv2D layer to show. "
                             f"Layers: {[lyr.name for lyr, _ in _all_layers(model_or_layer)]}")
        layer = convs[0]
    if not isinstance(layer, keras.layers.Conv2D) or not layer.built:
        raise ValueError(f"Expected a keras.Model or a built Conv2D layer. Received: {type(layer).__name__} "
                         f"{getattr(layer, 'name', '')!r}")
    kernel = keras.ops.convert_to_numpy(layer.kernel)  # (kh, kw, in, out)
    n = min(kernel.shape[-1], max_filters)
    fig, axes = _grid(n, title=f"{layer.name}: {n} of {kernel.shape[-1]} filters "
                               f"{kernel.shape[0]}x{kernel.shape[1]}x{kernel.shape[2]}")
    for i, ax in enumerate(axes):
        w = kernel[..., i]
        w = w if w.shape[-1] == 3 else w.mean(axis=-1)
        w = (w - w.min()) / (np.ptp(w) + 1e-12)
        ax.imshow(w, cmap=None if w.ndim == 3 else "gray", interpolation="nearest")
    return _save(fig, path)


def plot_feature_maps(model, layer_name, image, max_maps=64, path=None):
    """The feature maps of ``layer_name`` for one ``image``, one panel per channel.

    ``image`` is (H, W, C) or (1, H, W, C), already in the scale the model
    expects. The layer may sit inside a nested model (a backbone under a head).

    Example:
        >>> fig = plot_feature_maps(zoo.cnn_mnist(), "block1_conv", np.zeros((28, 28, 1)))
        >>> len(fig.axes)
        32
    """
    maps = keras.ops.convert_to_numpy(_activation_model(model, layer_name)(_batch(image)))[0]
    n = min(maps.shape[-1], max_maps)
    fig, axes = _grid(n, title=f"{layer_name}: {n} of {maps.shape[-1]} feature maps "
                               f"{maps.shape[0]}x{maps.shape[1]}")
    for i, ax in enumerate(axes):
        ax.imshow(maps[..., i], cmap="viridis")
    return _save(fig, path)
