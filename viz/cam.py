"""Grad-CAM: which places in an image the evidence for a class comes from.

Works on TensorFlow
(tf.GradientTape) and on JAX (jax.grad), for layers of the model or of one
nested model (a backbone under a head, as ``transfer.attach_head`` builds).

Example:
    >>> heat = grad_cam(model, image)                    # doctest: +SKIP
"""

import keras
import matplotlib.pyplot as plt
import numpy as np

from viz.figures import displayable, one_image, save_figure
from viz.maps import find_layer, model_inputs, outer_call, output_in, spatial_layer_names


def _default_cam_layer(model):
    spatial = spatial_layer_names(model)
    if not spatial:
        raise ValueError(f"Model {model.name!r} has no layer with a 4-D feature map for Grad-CAM.")
    return spatial[-1]


def _pieces(model, layer_name, need_cut=False):
    """``(maps_and_output, cut)`` for ``layer_name``.

    ``maps_and_output(x) -> (feature maps, class scores)``, run in one pass so a
    GradientTape sees both. With ``need_cut``, ``cut(maps) -> class scores`` where
    the layer cuts the graph (every path to the output passes through it), else None.
    """
    layer, owner = find_layer(model, layer_name)
    graph = model if owner is model else owner
    maps = output_in(graph, layer)
    if owner is model:
        both = keras.Model(model_inputs(model), [maps, model.outputs[0]])
        cut = _try_model(maps, model.outputs[0]) if need_cut else None
        return (lambda x: both(x, training=False)), cut
    front, owner_out = outer_call(model, owner)
    inner = keras.Model(model_inputs(owner), [maps, owner.outputs[0]])
    # the nested model may be the last layer: nothing comes after it
    back = (lambda t, training=False: t) if owner_out is model.outputs[0] else _try_model(owner_out, model.outputs[0])
    inner_head = _try_model(maps, owner.outputs[0]) if need_cut else None
    if back is None:
        raise ValueError(f"Grad-CAM inside the nested model {owner.name!r} needs everything after it to "
                         f"depend on its output only. Received: layer_name={layer_name!r}")

    def maps_and_output(x):
        maps, features = inner(front(x), training=False)
        return maps, back(features, training=False)

    cut = None if inner_head is None else (lambda a: back(inner_head(a, training=False), training=False))
    return maps_and_output, cut


def _try_model(inputs, outputs):
    try:
        return keras.Model(inputs, outputs)
    except ValueError:  # "graph disconnected": some path avoids ``inputs``
        return None


def _grad_tf(model, layer_name, x, class_index):
    import tensorflow as tf

    maps_and_output, _ = _pieces(model, layer_name)
    with tf.GradientTape() as tape:
        maps, preds = maps_and_output(tf.convert_to_tensor(x))
        index = int(tf.argmax(preds[0])) if class_index is None else class_index
        score = preds[:, index]
    return maps.numpy()[0], tape.gradient(score, maps).numpy()[0]


def _grad_jax(model, layer_name, x, class_index):
    """JAX differentiates functions, not tapes: differentiate the part of the model after the layer."""
    import jax

    maps_and_output, cut = _pieces(model, layer_name, need_cut=True)
    if cut is None:
        raise ValueError(f"On the JAX backend Grad-CAM needs a layer every path to the output passes "
                         f"through (e.g. the last feature map). Received: layer_name={layer_name!r}")
    maps, preds = (keras.ops.convert_to_numpy(t) for t in maps_and_output(x))
    index = int(np.argmax(preds[0])) if class_index is None else class_index
    grads = jax.grad(lambda a: cut(a)[0, index])(maps)
    return maps[0], np.asarray(grads)[0]


def grad_cam(model, image, class_index=None, layer_name=None, upsample=True):
    """Grad-CAM heatmap: where in ``image`` the evidence for ``class_index`` lies.

    The gradient of the class score with respect to a feature map, averaged
    over space, weights that map's channels; the ReLU of the weighted sum is
    the heatmap, scaled to [0, 1]. ``class_index`` defaults to the predicted
    class, ``layer_name`` to the last layer with a 4-D output. With
    ``upsample`` the heatmap is resized to the image's height and width.
    Supported on the TensorFlow backend (any layer, via tf.GradientTape) and
    on JAX (layers that cut the graph, via jax.grad); others raise. The layer
    may sit inside a nested backbone (``transfer.attach_head`` models).

    Example:
        >>> heat = grad_cam(model, image)          # doctest: +SKIP
        >>> heat.shape == image.shape[:2]          # doctest: +SKIP
        True
    """
    x = one_image(image)
    layer_name = layer_name or _default_cam_layer(model)
    n_classes = model.outputs[0].shape[-1]
    if class_index is not None and not (isinstance(class_index, (int, np.integer)) and 0 <= class_index < n_classes):
        raise ValueError(f"class_index must be an integer in [0, {n_classes}). Received: class_index={class_index!r}")
    backend = keras.backend.backend()
    if backend == "tensorflow":
        maps, grads = _grad_tf(model, layer_name, x, class_index)
    elif backend == "jax":
        maps, grads = _grad_jax(model, layer_name, x, class_index)
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
    x = one_image(image)
    preds = keras.ops.convert_to_numpy(model(x, training=False))[0]
    index = int(np.argmax(preds)) if class_index is None else class_index
    cam = grad_cam(model, image, index, layer_name)
    shown = displayable(display_image if display_image is not None else x[0])
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
    return save_figure(fig, path)
