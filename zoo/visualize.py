"""Plots people would rather look at than read. Each function returns a matplotlib Figure
and, given ``path``, also saves it as a PNG. Nothing here calls ``pyplot.show()``:
in a notebook the figure shows itself, in a script call ``plt.show()`` or pass ``path``.

Training: :func:`plot_history`. Data: :func:`plot_augmentation_grid`,
:func:`plot_keypoints`. Results: :func:`plot_confusion_matrix`. Inside the
network: :func:`plot_filters`, :func:`plot_feature_maps` (from
:mod:`zoo.visualize_maps`), :func:`grad_cam`, :func:`plot_grad_cam` (from
:mod:`zoo.visualize_cam`).

Example:
    >>> fig = plot_history(model.fit(x, y, validation_split=0.2, epochs=3), path="curves.png")  # doctest: +SKIP
"""

import matplotlib.pyplot as plt
import numpy as np

from zoo.visualize_cam import grad_cam, plot_grad_cam  # noqa: F401  (re-exported)
from zoo.visualize_maps import (  # noqa: F401  (re-exported)
    _batch, _display, _grid, _save, conv_layer_names, plot_feature_maps, plot_filters,
)

__all__ = ["conv_layer_names", "grad_cam", "join_histories", "plot_augmentation_grid", "plot_confusion_matrix",
           "plot_feature_maps", "plot_filters", "plot_grad_cam", "plot_history", "plot_keypoints"]


def _history_dict(history):
    return history.history if hasattr(history, "history") else dict(history)


def join_histories(*histories):
    """Concatenate several training histories; return ``(joined dict, phase boundaries)``.

    A boundary is the number of epochs before each later phase, the value
    :func:`plot_history` takes as ``phase_boundaries``. A key missing from a
    phase is padded with NaN so every list stays aligned with the epochs.

    Example:
        >>> joined, bounds = join_histories({"loss": [3, 2]}, {"loss": [1]})
        >>> joined["loss"], bounds
        ([3, 2, 1], [2])
    """
    dicts = [_history_dict(h) for h in histories]
    keys = list(dict.fromkeys(k for d in dicts for k in d))
    joined, bounds, done = {k: [] for k in keys}, [], 0
    for i, d in enumerate(dicts):
        length = max((len(v) for v in d.values()), default=0)
        for k in keys:
            values = list(d.get(k, []))
            joined[k] += values + [float("nan")] * (length - len(values))
        if i:
            bounds.append(done)
        done += length
    return joined, bounds


def plot_history(history, metrics=None, phase_boundaries=(), title=None, path=None):
    """Training curves: each metric, training against validation, one panel per metric.

    ``history`` is a Keras History, its ``.history`` dict (lists per key,
    validation keys prefixed ``val_``), or a list of them (phases trained one
    after the other, joined here). ``phase_boundaries`` are the numbers of
    epochs before each new phase (e.g. fine-tuning after the head), drawn as
    dashed lines; they are taken from a list of histories, or from a
    ``phase_boundaries`` attribute or ``"phase_boundaries"`` entry of the
    history, when not given.

    Example:
        >>> fig = plot_history({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]}, path=None)
        >>> len(fig.axes)
        1
        >>> fig = plot_history([{"loss": [1.0, 0.5]}, {"loss": [0.4, 0.3]}])  # boundary after epoch 2
    """
    if isinstance(history, (list, tuple)):
        hist, bounds = join_histories(*history)
        phase_boundaries = phase_boundaries or bounds
    else:
        hist = dict(_history_dict(history))
        phase_boundaries = (phase_boundaries or getattr(history, "phase_boundaries", None)
                            or hist.get("phase_boundaries") or ())
    hist.pop("phase_boundaries", None)
    if not hist:
        raise ValueError("The history is empty: nothing to plot. Received: history={}")
    names = metrics or [k for k in hist if not k.startswith("val_") and k not in ("learning_rate", "lr")]
    missing = [m for m in names if m not in hist]
    if missing:
        raise ValueError(f"Metrics {missing} are not in the history. Available: {sorted(hist)}")
    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.4), squeeze=False)
    for ax, name in zip(axes[0], names):
        epochs = range(1, len(hist[name]) + 1)
        ax.plot(epochs, hist[name], "o-", ms=3, label="training")
        if f"val_{name}" in hist:
            ax.plot(range(1, len(hist[f"val_{name}"]) + 1), hist[f"val_{name}"], "s-", ms=3, label="validation")
        for b in phase_boundaries:
            ax.axvline(b + 0.5, color="grey", ls="--", lw=1)
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def plot_augmentation_grid(augment_layer, image, n=8, path=None):
    """The original ``image`` followed by ``n`` random augmentations of it: ``n + 1`` panels.

    ``augment_layer`` is any Keras layer (or callable) taking a batch and
    ``training=True`` (e.g. ``datasets.Augment(rotation_range=40, ...)`` or
    ``keras.layers.RandomFlip()``). Pixels may be 0-1 or 0-255.

    Example:
        >>> import keras
        >>> fig = plot_augmentation_grid(keras.layers.RandomFlip(), np.random.rand(32, 32, 3), n=3)
        >>> len(fig.axes)
        4
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"`n` must be a positive integer. Received: n={n!r}")
    x = _batch(image)
    batch = np.repeat(x, n, axis=0)  # n copies: each draws its own random transform
    out = np.asarray(augment_layer(batch, training=True))
    fig, axes = _grid(n + 1, size=1.8, cols=min(n + 1, 5), title=f"original and {n} augmentations")
    shown = [x[0]] + list(out)
    scale = 255.0 if x.max() > 1.0 else 1.0  # judge the scale from the original, not per variant
    for i, (ax, img) in enumerate(zip(axes, shown)):
        ax.imshow(_display(np.clip(img / scale, 0, 1)), cmap="gray" if img.shape[-1] == 1 else None)
        ax.set_title("original" if i == 0 else f"#{i}", fontsize=8)
    return _save(fig, path)


def _keypoints_to_pixels(k, width, height):
    """(v - c) / c convention (c = half the image size) to pixel coordinates; NaN stays NaN."""
    k = np.asarray(k, dtype="float32").reshape(-1, 2)
    return k[:, 0] * width / 2 + width / 2, k[:, 1] * height / 2 + height / 2


def plot_keypoints(images, true_keypoints, predicted_keypoints=None, max_images=16, path=None):
    """Faces with their keypoints: truth as green dots, predictions as red crosses.

    ``images`` (N, H, W, 1 or 3) or one image; keypoints (N, 2K) as
    ``x0, y0, x1, y1, ...`` in the ``(v - 48) / 48`` convention (for 96-pixel
    images; generally ``(v - size/2) / (size/2)``); NaN marks a missing
    keypoint and is not drawn. One panel per image, at most ``max_images``.

    Example:
        >>> fig = plot_keypoints(np.zeros((2, 96, 96, 1)), np.zeros((2, 30)), np.zeros((2, 30)))
        >>> len(fig.axes)
        2
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
    fig, axes = _grid(n, size=2.2, cols=min(n, 4))
    h, w = images.shape[1:3]
    for i, ax in enumerate(axes):
        ax.imshow(_display(images[i]), cmap="gray")
        ax.scatter(*_keypoints_to_pixels(truth[i], w, h), s=14, c="lime", marker="o", label="truth")
        if pred is not None:
            ax.scatter(*_keypoints_to_pixels(pred[i], w, h), s=20, c="red", marker="x", label="predicted")
    axes[0].legend(loc="lower left", fontsize=6)
    fig.tight_layout()
    return _save(fig, path)


def plot_confusion_matrix(y_true, y_pred, class_names, normalize=False, path=None):
    """Confusion matrix (rows: true class, columns: predicted) with the count in every cell.

    ``y_pred`` may be labels (N,), or scores (N, classes) whose argmax is
    taken. ``normalize=True`` shows each row as fractions instead of counts.

    Example:
        >>> fig = plot_confusion_matrix([0, 1, 1], [0, 1, 0], ["cat", "dog"])
        >>> sorted(t.get_text() for t in fig.axes[0].texts)
        ['0', '1', '1', '1']
    """
    from sklearn.metrics import confusion_matrix

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
    return _save(fig, path)
