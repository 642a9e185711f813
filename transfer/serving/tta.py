"""Test-time augmentation: a model's outputs averaged over flipped and cropped views of each image.

As fastai's ``learn.tta`` averages the predictions of the original and of
augmented copies (fastbook's Imagenette: +1.1 points), and torchvision's
``TenCrop`` classifies the four corner crops, the centre crop and their mirror
images, :func:`predict_tta` runs the model once per view, each a whole batch,
and averages the probabilities. The views are fixed (not random), so the
result is reproducible; a crop keeps ``crop`` of each side and is resized back
to the image's size (bilinear), so the model sees its own input size.

Presets (``tta=``): ``"flip"`` (the original and its mirror), ``"crops"`` (the
original, the centre and four corner crops), ``"flip_crops"`` (those six and
their mirrors), ``"ten_crop"`` (torchvision's: the five crops and their mirrors,
without the original); or a sequence of view names from :data:`VIEWS`.

A Keras model and an exported artifact (``transfer.load_model`` of a SavedModel,
``.onnx`` or ``.tflite``) are treated alike: the views are computed here, in
numpy, and each goes through the model's ``predict``.

Example:
    >>> model = transfer.attach_head(transfer.load_backbone("cnn_mnist", weights=None), 5)
    >>> images = np.random.default_rng(0).uniform(0, 255, (4, 28, 28, 1)).astype("float32")
    >>> predict_tta(model, images, "flip").shape
    (4, 5)
    >>> evaluate(model, (images, np.arange(4)), tta="crops")["accuracy"] <= 1.0
    True
"""

import numpy as np

from transfer.model.backbone import head_kind
from transfer.model.head_kinds import get_kind

_CROPS = ("center", "top_left", "top_right", "bottom_left", "bottom_right")
VIEWS = ("original", "hflip", "vflip", *_CROPS, *(f"hflip_{c}" for c in _CROPS))
PRESETS = {
    "flip": ("original", "hflip"),
    "crops": ("original", *_CROPS),
    "flip_crops": ("original", *_CROPS, "hflip", *(f"hflip_{c}" for c in _CROPS)),
    "ten_crop": (*_CROPS, *(f"hflip_{c}" for c in _CROPS)),
}


def resolve_views(tta):
    """The view names a ``tta`` argument stands for (a preset or a sequence of names); None/False: no TTA.

    Example:
        >>> resolve_views("flip")
        ('original', 'hflip')
        >>> resolve_views(["original", "vflip"])
        ('original', 'vflip')
        >>> resolve_views("mirror")
        Traceback (most recent call last):
        ...
        ValueError: `tta` must be a preset (flip, crops, flip_crops, ten_crop) or a sequence of views ...
    """
    if tta is None or tta is False:
        return None
    if isinstance(tta, str):
        views = PRESETS.get(tta)
    elif isinstance(tta, (list, tuple)) and tta and all(isinstance(v, str) and v in VIEWS for v in tta):
        views = tuple(tta)
    else:
        views = None
    if views is None:
        raise ValueError(f"`tta` must be a preset ({', '.join(PRESETS)}) or a sequence of views from "
                         f"{', '.join(VIEWS)}. Received: tta={tta!r}")
    return views


def view(images, name, crop=0.875):
    """One view of a batch ``images`` (N, H, W, C): ``name`` from :data:`VIEWS`; crops resized back to (H, W).

    Example:
        >>> images = np.arange(8, dtype="float32").reshape(1, 2, 4, 1)
        >>> view(images, "hflip")[0, :, :, 0]
        array([[3., 2., 1., 0.],
               [7., 6., 5., 4.]], dtype=float32)
        >>> view(images, "top_left", crop=0.5).shape
        (1, 2, 4, 1)
    """
    images = np.asarray(images)
    if name not in VIEWS:
        raise ValueError(f"Unknown view {name!r}; views are {', '.join(VIEWS)}.")
    if name.startswith("hflip"):
        images, name = images[:, :, ::-1], name[len("hflip_"):] or "original"
    elif name == "vflip":
        images, name = images[:, ::-1], "original"
    if name == "original":
        return np.ascontiguousarray(images)
    h, w = images.shape[1:3]
    ch, cw = max(1, round(crop * h)), max(1, round(crop * w))
    vertical, _, horizontal = name.partition("_")
    top = {"top": 0, "bottom": h - ch, "center": (h - ch) // 2}[vertical]
    left = {"left": 0, "right": w - cw, "": (w - cw) // 2}[horizontal]
    from keras import ops  # Keras's resize, imported when a crop is asked for (the flips need numpy only)

    cropped = images[:, top:top + ch, left:left + cw].astype("float32")
    resized = ops.image.resize(cropped, (h, w), interpolation="bilinear", antialias=False)
    return ops.convert_to_numpy(resized).astype(images.dtype, copy=False)


def predict_tta(model, images, tta="flip", crop=0.875, batch_size=32):
    """``model``'s outputs for ``images`` averaged over the views of ``tta``: one batched ``predict`` per view.

    ``model``: a Keras model or an exported artifact (anything with Keras's
    ``predict(x, batch_size=, verbose=)``). ``tta=None`` is one plain ``predict``.

    Example:
        >>> model = transfer.attach_head(transfer.load_backbone("cnn_mnist", weights=None), 3)
        >>> x = np.random.default_rng(1).uniform(0, 255, (2, 28, 28, 1)).astype("float32")
        >>> by_hand = (model.predict(x, verbose=0) + model.predict(x[:, :, ::-1], verbose=0)) / 2
        >>> bool(np.allclose(predict_tta(model, x, "flip"), by_hand, atol=1e-6))
        True
    """
    views = resolve_views(tta) or ("original",)
    if not 0 < crop <= 1:
        raise ValueError(f"`crop` is the share of each side a crop keeps, in (0, 1]. Received: crop={crop!r}")
    total = None
    for name in views:
        out = np.asarray(model.predict(view(images, name, crop), batch_size=batch_size, verbose=0), "float64")
        total = out if total is None else total + out
    return (total / len(views)).astype("float32")


class TTAModel:
    """A model whose ``predict`` is :func:`predict_tta` (for code that calls ``predict``, e.g. ``predict_files``).

    Example:
        >>> model = transfer.attach_head(transfer.load_backbone("cnn_mnist", weights=None), 3)
        >>> TTAModel(model, "flip").predict(np.zeros((2, 28, 28, 1)), verbose=0).shape
        (2, 3)
    """

    def __init__(self, model, tta="flip", crop=0.875):
        self.model, self.views, self.crop = model, resolve_views(tta), crop

    def predict(self, x, batch_size=32, verbose=0):
        return predict_tta(self.model, x, self.views, self.crop, batch_size)

    def __getattr__(self, name):  # input_shape, output_shape, head_kind, class_names: the model's
        return getattr(self.model, name)


def _batches(data):
    """(x, y) arrays from ``(x, y)`` or an iterable of ``(x, y)`` batches (e.g. a tf.data.Dataset)."""
    if isinstance(data, (tuple, list)) and len(data) == 2 and not isinstance(data[0], (tuple, list)):
        return np.asarray(data[0]), np.asarray(data[1])
    xs, ys = [], []
    for batch in data:
        if not (isinstance(batch, (tuple, list)) and len(batch) >= 2):
            raise ValueError(f"evaluate needs (x, y) or batches of (x, y). Received a batch of type "
                             f"{type(batch).__name__}")
        xs.append(np.asarray(batch[0]))
        ys.append(np.asarray(batch[1]))
    if not xs:
        raise ValueError("evaluate received no data (an empty dataset).")
    return np.concatenate(xs), np.concatenate(ys)


def evaluate(model, data, tta=None, crop=0.875, batch_size=32):
    """Loss and metric of a classifier on ``data``, its probabilities averaged over ``tta``'s views.

    ``data``: ``(x, y)`` arrays, or a ``tf.data.Dataset`` of ``(x, y)`` batches,
    integer labels (multiclass), 0/1 labels (binary, multilabel). ``model``: from
    :func:`transfer.attach_head`, a ``.keras`` file's model or an artifact (its
    head kind says which loss and accuracy apply). Returns ``{"loss": ...,
    "accuracy": ...}`` (``"binary_accuracy"`` for a multilabel head).

    Example:
        >>> model = transfer.attach_head(transfer.load_backbone("cnn_mnist", weights=None), 1)
        >>> x = np.random.default_rng(2).uniform(0, 255, (6, 28, 28, 1))
        >>> sorted(evaluate(model, (x, np.arange(6) % 2), tta="flip"))
        ['accuracy', 'loss']
    """
    kind = get_kind(head_kind(model, remedy="evaluate a model built by transfer.attach_head, or its saved file"))
    if not kind.classifies:
        raise ValueError("evaluate averages class probabilities; a regression head's outputs (e.g. keypoints) "
                         f"move under a flip or crop. Received: a model with head_kind={kind.name!r}")
    x, y = _batches(data)
    probs = predict_tta(model, x, tta, crop, batch_size)
    units = probs.shape[-1]
    if kind.loss.startswith("sparse_"):  # one class index per image (one-hot rows are read as their index)
        y = np.argmax(y, -1) if y.ndim == 2 and y.shape[-1] == units else y.reshape(-1).astype(int)
        if y.min() < 0 or y.max() >= units:
            raise ValueError(f"Labels must be class indices in [0, {units}). Received: labels from {y.min()} to "
                             f"{y.max()}")
    else:
        y = y.reshape(probs.shape).astype("float32")
    from keras import losses, ops  # Keras's own loss functions, by the head kind's loss name

    loss = float(np.mean(ops.convert_to_numpy(losses.get(kind.loss)(y, probs))))
    metric = kind.metrics[0]
    if metric == "accuracy":  # one label per image: the top class against it
        score = np.mean(kind.top1(probs) == y.reshape(-1))
    else:  # binary_accuracy: every output against its 0/1 label
        score = np.mean((probs > 0.5) == (y > 0.5))
    return {"loss": loss, metric: float(score)}
