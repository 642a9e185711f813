"""Pictures of data and results: augmentations, facial keypoints, a confusion matrix.

Example:
    >>> fig = plot_confusion_matrix([0, 1], [0, 1], ["cat", "dog"], path="cm.png")
    >>> os.path.exists("cm.png")
    True
"""

import matplotlib.pyplot as plt
import numpy as np

from viz.figures import displayable, image_grid, one_image, save_figure


def plot_augmentation_grid(augment_layer, image, n=8, path=None):
    """The original ``image`` followed by ``n`` random augmentations of it: ``n + 1`` panels.

    ``augment_layer`` is any Keras layer (or callable) taking a batch and
    ``training=True`` (e.g. ``datasets.Augment(rotation_range=40, ...)`` or
    ``keras.layers.RandomFlip()``). Pixels may be 0-1 or 0-255.

    Example:
        >>> fig = plot_augmentation_grid(keras.layers.RandomFlip(), np.random.rand(32, 32, 3), n=3)
        >>> len(fig.axes)
        4
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"`n` must be a positive integer. Received: n={n!r}")
    x = one_image(image)
    batch = np.repeat(x, n, axis=0)  # n copies: each draws its own random transform
    out = np.asarray(augment_layer(batch, training=True))
    fig, axes = image_grid(n + 1, size=1.8, cols=min(n + 1, 5), title=f"original and {n} augmentations")
    shown = [x[0]] + list(out)
    scale = 255.0 if x.max() > 1.0 else 1.0  # judge the scale from the original, not per variant
    for i, (ax, img) in enumerate(zip(axes, shown)):
        ax.imshow(displayable(np.clip(img / scale, 0, 1)), cmap="gray" if img.shape[-1] == 1 else None)
        ax.set_title("original" if i == 0 else f"#{i}", fontsize=8)
    return save_figure(fig, path)


def _pixel_xy(keypoints, width, height):
    """Scaled ``x0, y0, x1, y1, ...`` -> (x pixels, y pixels), by the data set's own convention."""
    from datasets.facial_keypoints import to_pixels  # lazily: plotting must not load the data package

    k = np.asarray(keypoints, dtype="float32").reshape(-1, 2)
    return to_pixels(k[:, 0], image_size=width), to_pixels(k[:, 1], image_size=height)


def plot_keypoints(images, true_keypoints, predicted_keypoints=None, max_images=16, path=None):
    """Faces with their keypoints: truth as green dots, predictions as red crosses.

    ``images`` (N, H, W, 1 or 3) or one image; keypoints (N, 2K) as
    ``x0, y0, x1, y1, ...`` in the ``(v - 48) / 48`` convention (for 96-pixel
    images; generally ``(v - size/2) / (size/2)``, see
    ``datasets.facial_keypoints.to_pixels``); NaN marks a missing keypoint and
    is not drawn. One panel per image, at most ``max_images``.

    Example:
        >>> fig = plot_keypoints(np.zeros((2, 96, 96, 1)), np.zeros((2, 30)), np.zeros((2, 30)))
        >>> len(fig.axes)
        2
        >>> fig.axes[0].collections[0].get_offsets()[0].tolist()   # (0, 0) is the image's centre
        [48.0, 48.0]
    """
    images = np.asarray(images, dtype="float32")
    if images.ndim == 2 or (images.ndim == 3 and images.shape[-1] in (1, 3)):
        images = images[None]  # one image
    if images.ndim == 3:
        images = images[..., None]  # (N, H, W) grey images
    truth = np.atleast_2d(np.asarray(true_keypoints, dtype="float32"))
    if images.ndim != 4 or len(truth) != len(images) or truth.shape[-1] % 2:
        raise ValueError("Expected images (N, H, W, C) and keypoints (N, 2K). "
                         f"Received: images {images.shape}, true_keypoints {truth.shape}")
    pred = None if predicted_keypoints is None else np.atleast_2d(np.asarray(predicted_keypoints, "float32"))
    if pred is not None and pred.shape != truth.shape:
        raise ValueError(f"predicted_keypoints must match true_keypoints {truth.shape}. Received: {pred.shape}")
    n = min(len(images), max_images)
    fig, axes = image_grid(n, size=2.2, cols=min(n, 4))
    h, w = images.shape[1:3]
    for i, ax in enumerate(axes):
        ax.imshow(displayable(images[i]), cmap="gray")
        ax.scatter(*_pixel_xy(truth[i], w, h), s=14, c="lime", marker="o", label="truth")
        if pred is not None:
            ax.scatter(*_pixel_xy(pred[i], w, h), s=20, c="red", marker="x", label="predicted")
    axes[0].legend(loc="lower left", fontsize=6)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_confusion_matrix(y_true, y_pred, class_names, normalize=False, path=None):
    """Confusion matrix (rows: true class, columns: predicted) with the count in every cell.

    ``y_pred`` may be labels (N,), or scores (N, classes) whose argmax is
    taken. ``normalize=True`` shows each row as fractions instead of counts.

    Example:
        >>> fig = plot_confusion_matrix([0, 1, 1], [0, 1, 0], ["cat", "dog"])
        >>> sorted(t.get_text() for t in fig.axes[0].texts)
        ['0', '1', '1', '1']
    """
    from sklearn.metrics import confusion_matrix  # scikit-learn (slow to import) only for this figure

    y_true = np.asarray(y_true).reshape(-1).astype(int)
    y_pred = np.asarray(y_pred)
    if y_pred.ndim == 2:
        y_pred = y_pred.argmax(axis=-1)
    y_pred = y_pred.reshape(-1).astype(int)
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true and y_pred differ in length. Received: {len(y_true)} and {len(y_pred)}")
    k = len(class_names)
    bad = sorted(int(v) for v in set(np.unique(np.concatenate([y_true, y_pred]))) - set(range(k)))
    if bad:
        raise ValueError(f"Labels must be in 0..{k - 1} for {k} class_names. Received labels {bad}")
    cm = confusion_matrix(y_true, y_pred, labels=list(range(k)))
    shown = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1) if normalize else cm
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * k, 0.8 + 0.5 * k))
    ax.imshow(shown, cmap="Blues")
    for i in range(k):
        for j in range(k):
            text = f"{shown[i, j]:.2f}" if normalize else str(cm[i, j])
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color="white" if shown[i, j] > shown.max() / 2 else "black")
    ax.set_xticks(range(k), class_names, rotation=45, ha="right")
    ax.set_yticks(range(k), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"accuracy {np.trace(cm) / max(cm.sum(), 1):.1%} on {cm.sum()}")
    fig.tight_layout()
    return save_figure(fig, path)
