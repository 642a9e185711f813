"""Looking inside a CNN: first-layer filters, feature maps, Grad-CAM.

These are re-exported by :mod:`zoo.visualize`; import them from there.
Every plotting function returns a matplotlib Figure and, given ``path``,
also saves it as a PNG.

Example:
    >>> from zoo.visualize import plot_filters, plot_feature_maps, grad_cam
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


def _activation_model(model, layer_name):
    """A model mapping the outer input to ``layer_name``'s output, even inside a nested backbone."""
    layer, owner = _find(model, layer_name)
    if not _is_spatial(layer):
        raise ValueError(
            f"Layer {layer_name!r} outputs shape {layer.output.shape}, not a 4-D feature map. "
            f"Layers with feature maps: {_spatial_layers(model)}"
        )
    if owner is model:
        return keras.Model(_inputs(model), layer.output)
    inner = keras.Model(_inputs(owner), layer.output)
    # the nested model is called once in the outer graph; run the outer layers up to it, then the inner ones
    outer_in = owner._inbound_nodes[-1].input_tensors[0]
    front = keras.Model(_inputs(model), outer_in) if outer_in is not model.inputs[0] else None
    return lambda x: inner(front(x) if front is not None else x)


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


def _default_cam_layer(model):
    spatial = _spatial_layers(model)
    if not spatial:
        raise ValueError(f"Model {model.name!r} has no layer with a 4-D feature map for Grad-CAM.")
    return spatial[-1]


def _grad_tf(model, layer_name, x, class_index):
    import tensorflow as tf

    layer, owner = _find(model, layer_name)
    if owner is not model:
        raise ValueError(f"Grad-CAM on a layer inside the nested model {owner.name!r} is not supported; "
                         f"pick a layer of {model.name!r}: {_spatial_layers_top(model)}")
    grad_model = keras.Model(_inputs(model), [layer.output, model.outputs[0]])
    with tf.GradientTape() as tape:
        maps, preds = grad_model(tf.convert_to_tensor(x), training=False)
        index = int(tf.argmax(preds[0])) if class_index is None else class_index
        score = preds[:, index]
    return maps.numpy()[0], tape.gradient(score, maps).numpy()[0], index


def _grad_split(model, layer_name, x, class_index):
    """Other backends: split the graph at the layer and differentiate the head (JAX)."""
    import jax

    layer, _ = _find(model, layer_name)
    try:
        head = keras.Model(layer.output, model.outputs[0])
    except ValueError as err:
        raise ValueError(f"On the JAX backend Grad-CAM needs a layer every path to the output passes "
                         f"through (e.g. the last feature map). Received: layer_name={layer_name!r}") from err
    maps = keras.ops.convert_to_numpy(keras.Model(_inputs(model), layer.output)(x))
    preds = keras.ops.convert_to_numpy(head(maps))
    index = int(np.argmax(preds[0])) if class_index is None else class_index
    grads = jax.grad(lambda a: head(a, training=False)[0, index])(maps)
    return maps[0], np.asarray(grads)[0], index


def _spatial_layers_top(model):
    return [layer.name for layer in model.layers if _is_spatial(layer)]


def grad_cam(model, image, class_index=None, layer_name=None, upsample=True):
    """Grad-CAM heatmap: where in ``image`` the evidence for ``class_index`` lies.

    The gradient of the class score with respect to a feature map, averaged
    over space, weights that map's channels; the ReLU of the weighted sum is
    the heatmap, scaled to [0, 1]. ``class_index`` defaults to the predicted
    class, ``layer_name`` to the last layer with a 4-D output. With
    ``upsample`` the heatmap is resized to the image's height and width.
    Supported on the TensorFlow backend (any layer, via tf.GradientTape) and
    on JAX (layers that cut the graph, via jax.grad); others raise.

    Example:
        >>> heat = grad_cam(model, image)          # doctest: +SKIP
        >>> heat.shape == image.shape[:2]          # doctest: +SKIP
        True
    """
    x = _batch(image)
    layer_name = layer_name or _default_cam_layer(model)
    n_classes = model.outputs[0].shape[-1]
    if class_index is not None and not (isinstance(class_index, (int, np.integer)) and 0 <= class_index < n_classes):
        raise ValueError(f"class_index must be an integer in [0, {n_classes}). Received: class_index={class_index!r}")
    backend = keras.backend.backend()
    if backend == "tensorflow":
        maps, grads, _ = _grad_tf(model, layer_name, x, class_index)
    elif backend == "jax":
        maps, grads, _ = _grad_split(model, layer_name, x, class_index)
    else:
        raise NotImplementedError(f"grad_cam supports the tensorflow and jax backends. Received: backend={backend!r}")
    weights = grads.mean(axis=(0, 1))  # one weight per channel
    cam = np.maximum((maps * weights).sum(axis=-1), 0.0)
    cam = cam / cam.max() if cam.max() > 0 else cam
    if upsample:
        resized = keras.ops.image.resize(cam[None, ..., None].astype("float32"), x.shape[1:3], interpolation="bilinear")
        cam = np.clip(keras.ops.convert_to_numpy(resized)[0, ..., 0], 0.0, 1.0)
    return cam


def plot_grad_cam(model, image, class_index=None, layer_name=None, class_names=None, alpha=0.45,
                  display_image=None, path=None):
    """Two panels: the image, and the Grad-CAM heatmap laid over it.

    ``display_image`` is what to draw under the heatmap when ``image`` is
    preprocessed beyond recognition (defaults to ``image`` itself).

    Example:
        >>> fig = plot_grad_cam(model, image, class_names=["cat", "dog"])   # doctest: +SKIP
        >>> len(fig.axes)                                                   # doctest: +SKIP
        2
    """
    x = _batch(image)
    preds = keras.ops.convert_to_numpy(model(x, training=False))[0]
    index = int(np.argmax(preds)) if class_index is None else class_index
    cam = grad_cam(model, image, index, layer_name)
    shown = _display(display_image if display_image is not None else x[0])
    label = class_names[index] if class_names is not None else f"class {index}"
    fig, axes = plt.subplots(1, 2, figsize=(7, 3.6))
    axes[0].imshow(shown, cmap="gray" if shown.ndim == 2 else None)
    axes[0].set_title("image")
    axes[1].imshow(shown, cmap="gray" if shown.ndim == 2 else None)
    axes[1].imshow(cam, cmap="jet", alpha=alpha, extent=(-0.5, shown.shape[1] - 0.5, shown.shape[0] - 0.5, -0.5))
    axes[1].set_title(f"Grad-CAM: {label} (p={preds[index]:.2f})")
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    return _save(fig, path)
