"""Grad-CAM: which places in an image the evidence for a class comes from.

Works on TensorFlow (tf.GradientTape) and on JAX (jax.grad), for layers of the
model or of nested models (a backbone under a head, as ``transfer.attach_head`` builds).

Example:
    >>> model = zoo.cnn_mnist()
    >>> image = np.random.default_rng(0).random((28, 28, 1), dtype="float32")
    >>> fig = plot_grad_cam(model, image, path="grad_cam.png")
    >>> os.path.exists("grad_cam.png")
    True
"""

import keras
import matplotlib.pyplot as plt
import numpy as np

from viz.figures import displayable, one_image, save_figure
from viz.maps import find_layer, spatial_layer_names
from zoo.graph import replay


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
    Both are the model's own layers called again (``zoo.graph.replay``), through nested models.
    """
    find_layer(model, layer_name)  # an unknown name fails here, naming the choices
    image_shape = model.inputs[0].shape[1:]
    # Named inputs and models: looking inside does not move Keras's counters for default names.
    x = keras.Input(image_shape, name="viz_image")
    outputs, maps = replay(model, x, tap=layer_name)
    both = keras.Model(x, [maps, outputs[0]], name="grad_cam_maps_and_output")
    cut = None
    if need_cut:
        start = keras.Input(maps.shape[1:], name="viz_maps")
        tail, _ = replay(model, keras.Input(image_shape, name="viz_image"), replace=(layer_name, start))
        after = _try_model(start, tail[0])
        cut = None if after is None else (lambda a: after(a, training=False))
    return (lambda t: both(t, training=False)), cut


def _try_model(inputs, outputs):
    try:
        return keras.Model(inputs, outputs, name="grad_cam_after_layer")
    except ValueError:  # "graph disconnected": some path avoids ``inputs``
        return None


def _grad_tf(model, layer_name, x, class_index):
    import tensorflow as tf  # this backend only: a JAX install may lack TensorFlow

    maps_and_output, _ = _pieces(model, layer_name)
    with tf.GradientTape() as tape:
        maps, preds = maps_and_output(tf.convert_to_tensor(x))
        index = int(tf.argmax(preds[0])) if class_index is None else class_index
        score = preds[:, index]
    return maps.numpy()[0], tape.gradient(score, maps).numpy()[0]


def _grad_jax(model, layer_name, x, class_index):
    """JAX differentiates functions, not tapes: differentiate the part of the model after the layer."""
    import jax  # this backend only: a TensorFlow install may lack JAX

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
        >>> model, image = zoo.cnn_mnist(), np.random.default_rng(0).random((28, 28, 1))
        >>> heat = grad_cam(model, image, class_index=3)   # default layer: the last 4-D one, block2_pool
        >>> heat.shape == image.shape[:2], bool(0.0 <= heat.min() <= heat.max() <= 1.0)
        (True, True)
        >>> grad_cam(model, image, class_index=3, layer_name="block1_conv", upsample=False).shape
        (26, 26)
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
        >>> model, image = zoo.cnn_mnist(), np.random.default_rng(0).random((28, 28, 1))
        >>> fig = plot_grad_cam(model, image, class_index=7, class_names=[str(d) for d in range(10)])
        >>> len(fig.axes), fig.axes[1].get_title().startswith("Grad-CAM: 7")
        (2, True)
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
