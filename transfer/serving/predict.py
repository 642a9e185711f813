"""Classify image files with a model or an exported artifact: :func:`predict_files`."""

import os

import numpy as np

from transfer.model.backbone import head_kind
from transfer.model.head_kinds import get_kind
from transfer.serving.images import IMAGE_EXTENSIONS, _image_mode, image_files, read_image
from transfer.serving.safe_load import predict_by_size
from transfer.serving.saving import check_class_names, load_model
from transfer.serving.tta import TTAModel, resolve_views


class Predictions(list):
    """The list of ``(file, [(class, score), ...])`` of :func:`predict_files`, plus ``skipped``:
    ``(file, reason)`` for each file that could not be read.

    Example:
        >>> result = Predictions([("a.png", [("cat", 0.9)])], skipped=[("b.png", "not a readable image")])
        >>> len(result), result.skipped[0][0]
        (1, 'b.png')
    """

    def __init__(self, items=(), skipped=()):
        super().__init__(items)
        self.skipped = list(skipped)


def _target_size(input_shape, size):
    """The (H, W) every image is resized to; None entries: the image's own height or width."""
    h, w, c = input_shape
    if size is not None:
        size = tuple(size)
        if len(size) != 2 or not all(isinstance(s, (int, np.integer)) and s > 0 for s in size):
            raise ValueError(f"`size` must be (height, width) in pixels. Received: size={size!r}")
        if (h, w) != (None, None) and (h, w) != size:
            raise ValueError(f"The model takes {h}x{w} images; `size` can only be given for a model with a "
                             f"flexible input size. Received: size={size!r}, model input {input_shape!r}")
        return size
    return h, w


def _read_all(files, input_shape, size):
    """``(images, skipped)``: the arrays of the readable files, ``(file, reason)`` for the rest."""
    target = _target_size(input_shape, size)
    _image_mode(input_shape[2])  # a model problem, not a file's: raised, not skipped
    images, skipped = {}, []
    for f in files:
        try:
            images[f] = read_image(f, input_shape[2], target)
        # Pillow's decoders fail a broken file in many ways (OSError, SyntaxError, struct.error, zlib.error,
        # DecompressionBombError...): whatever one file does, it is skipped and named, the others still run.
        except Exception as err:  # noqa: BLE001
            skipped.append((f, f"not a readable image ({err})"))
    return images, skipped


def predict_files(model, paths, class_names=None, top=3, size=None, tta=None, crop=0.875):
    """Classify image files: a :class:`Predictions` list of ``(file, [(class, probability), ...])``, best first.

    ``model`` is a Keras model, or the path of a ``.keras`` file, a SavedModel
    folder, an ``.onnx`` or a ``.tflite`` file (read by :func:`transfer.load_model`).

    ``class_names`` default to the ones the model carries (``model.class_names``,
    set by :func:`save_model` and :func:`load_model`), else the output indices.
    A binary (sigmoid) model reports both classes; a regression model its
    first ``top`` outputs as ``("output i", value)``. Each image is resized
    to the model's input size; a model with a flexible input size
    (``(None, None, C)``) takes each image at ``size`` (H, W) if given, else
    at its own size. A file that cannot be read (truncated, not an image) is
    left out and listed in ``.skipped`` with the reason.

    ``tta``: test-time augmentation (:mod:`transfer.serving.tta`): ``"flip"``,
    ``"crops"``, ``"flip_crops"``, ``"ten_crop"`` or a sequence of views; the
    probabilities are averaged over the views of each image, one batched
    ``predict`` per view, for a Keras model and an artifact alike. ``crop``: the
    share of each side a crop view keeps.

    Example:
        >>> from PIL import Image
        >>> os.makedirs("samples")
        >>> Image.new("L", (28, 28)).save("samples/digit_0.png")
        >>> _ = open("samples/digit_1.png", "wb").write(b"not an image")
        >>> model = transfer.attach_head(transfer.load_backbone("cnn_mnist", weights=None), 5)
        >>> result = predict_files(model, ["samples/"], ["5", "6", "7", "8", "9"], top=2)
        >>> file, top = result[0]
        >>> file, len(top), top[0][1] >= top[1][1], [f for f, _ in result.skipped]
        ('samples/digit_0.png', 2, True, ['samples/digit_1.png'])
    """
    if isinstance(model, (str, os.PathLike)):  # a .keras file, a SavedModel folder, an .onnx or .tflite file
        model = load_model(model)
    files = image_files(paths)
    if not files:
        raise FileNotFoundError(f"No image files ({', '.join(IMAGE_EXTENSIONS)}) in {list(paths)!r}.")
    kind = get_kind(head_kind(model, remedy="predict with model.predict on arrays instead, or build the "
                                             "model with transfer.attach_head"))
    units = model.output_shape[-1]
    if class_names is None:  # the names the model carries (set by save_model, read by load_model)
        class_names = getattr(model, "class_names", None)
    if class_names is not None and kind.classifies:
        class_names = check_class_names(class_names, units)
    if resolve_views(tta) is not None:
        if not kind.classifies:
            raise ValueError("Test-time augmentation averages class probabilities; a regression head's outputs "
                             f"move under a flip or crop. Received: tta={tta!r} for a regression model")
        model = TTAModel(model, tta, crop)
    images, skipped = _read_all(files, model.input_shape[1:], size)
    if not images:
        raise ValueError(f"None of the {len(files)} image files could be read: "
                         + "; ".join(f"{f}: {why}" for f, why in skipped))
    probs = predict_by_size(model, images, skipped)  # one batch per image size (a flexible model may get several)
    if not probs:
        raise ValueError(f"None of the {len(files)} image files could be classified: "
                         + "; ".join(f"{f}: {why}" for f, why in skipped))
    out = [(f, kind.decode(probs[f], class_names, top)) for f in images if f in probs]
    return Predictions(out, skipped)
