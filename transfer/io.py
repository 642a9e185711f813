"""Saving a fine-tuned model with its class names, loading it, classifying image files.

Every failure a user can cause with a file is a ``ValueError`` or ``OSError``
naming the file (the command line prints it as one ``error:`` line); an
unreadable image among good ones is skipped and reported, not fatal.
"""

import contextlib
import json
import os
import zipfile

import keras
import numpy as np
from zoo.files import atomic_write_json

from transfer.artifacts import artifact_format, load_artifact
from transfer.checkpoint import atomic_save
from transfer.models import TransferModel, head_kind
from transfer.safe_load import check_keras_config, keras_load_error, predict_by_size

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def class_names_path(model_path):
    """Where the class names of ``model_path`` live: ``model.keras`` -> ``model.classes.json``.

    Example:
        >>> class_names_path("runs/digits.keras")
        'runs/digits.classes.json'
    """
    return os.path.splitext(os.fspath(model_path))[0] + ".classes.json"


def check_class_names(names, units, source="class_names"):
    """``names`` as strings if they fit a model with ``units`` outputs (a 1-unit binary head: 2 names).

    Example:
        >>> check_class_names(["cat", "dog"], 1)
        ['cat', 'dog']
        >>> check_class_names(["5", "6"], 5)
        Traceback (most recent call last):
        ...
        ValueError: The model has 5 outputs, so it needs 5 class names; class_names has 2. Received: ['5', '6']
    """
    needed = 2 if units == 1 else units
    if not isinstance(names, (list, tuple)) or len(names) != needed:
        count = len(names) if isinstance(names, (list, tuple)) else "none (not a list)"
        raise ValueError(f"The model has {units} output{'s' if units != 1 else ''}, so it needs {needed} class "
                         f"names; {source} has {count}. Received: {names!r}")
    return [str(n) for n in names]


def save_model(model, path, class_names=None):
    """Save ``model`` to a ``.keras`` file atomically, with its class names inside it.

    A :class:`~transfer.models.TransferModel` (from ``attach_head``) keeps
    ``class_names`` in its config, so they travel inside the file (None keeps
    the names it already has). Any other model gets them in a JSON file beside
    it (``model.classes.json``). A names file left by an earlier save to the
    same path is removed, so old names never label a new model.

    Example:
        >>> model = transfer.attach_head(transfer.load_backbone("cnn_mnist", weights=None), 5)
        >>> transfer.save_model(model, "digits.keras", class_names=["5", "6", "7", "8", "9"])
        'digits.keras'
        >>> transfer.load_model("digits.keras").class_names
        ['5', '6', '7', '8', '9']
        >>> os.path.exists("digits.classes.json")
        False
    """
    path = os.fspath(path)
    if class_names is not None:
        class_names = check_class_names(class_names, model.output_shape[-1])
    names_file = class_names_path(path)
    # The old names go first: a crash in between leaves a model without names, never with wrong ones.
    with contextlib.suppress(FileNotFoundError):
        os.remove(names_file)
    inside = isinstance(model, TransferModel)
    if inside and class_names is not None:
        model.class_names = list(class_names)
    atomic_save(model, path)
    if class_names is not None and not inside:
        atomic_write_json(class_names, names_file)
    return path


def _load_keras_file(path):
    """``keras.saving.load_model`` with its failures as one-line errors that name ``path``."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No model file at {path!r}.")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a complete .keras file: a .keras file is a zip archive, and this one "
                         f"({os.path.getsize(path)} bytes) is truncated or corrupt. Save the model again.")
    try:
        check_keras_config(path)  # depth and sizes, before Keras builds anything
        return keras.saving.load_model(path)
    except ValueError as err:
        # Keras refuses a Lambda's code with a plain ValueError: its text is the only sign of that case
        # (tests/test_transfer_io.py::test_unsafe_keras_file_gives_one_clear_line pins it).
        if "safe_mode" in str(err):
            raise ValueError(f"Refused to load {path}: it holds Python code (e.g. a Lambda layer's function) that "
                             "loading would run. If you trust its source, load it with "
                             "keras.saving.load_model(path, safe_mode=False).") from None
        if str(err).startswith(path):
            raise
        raise ValueError(f"Cannot load the model in {path}: {str(err)[:300].splitlines()[0]}") from err
    except MemoryError:
        raise
    # Loading runs the constructor of every layer the file names, with the file's arguments, and h5py on its
    # weights: a damaged file fails in any of them (TypeError, KeyError, AttributeError, RecursionError,
    # h5py's RuntimeError and OverflowError, zipfile's errors, TensorFlow's...). All mean "damaged file".
    except Exception as err:  # noqa: BLE001
        raise keras_load_error(path, err) from err


def _read_class_names(names_file, units):
    try:
        with open(names_file, encoding="utf-8") as f:
            names = json.load(f)
    except json.JSONDecodeError as err:
        raise ValueError(f"{names_file}, line {err.lineno}: not a JSON list of class names ({err.msg}).") from err
    except UnicodeDecodeError as err:
        raise ValueError(f"{names_file}: not a UTF-8 JSON list of class names ({err.reason}).") from err
    except RecursionError:  # json's decoder recurses once per nesting level
        raise ValueError(f"{names_file}: not a JSON list of class names (nested too deep).") from None
    except ValueError as err:  # e.g. an integer of more than 4300 digits
        raise ValueError(f"{names_file}: not a JSON list of class names ({str(err)[:200]}).") from None
    return check_class_names(names, units, source=names_file)


def load_model(path):
    """The model in a ``.keras`` file, like ``keras.saving.load_model``, with ``model.class_names`` set.

    An exported model (a SavedModel folder, a ``.onnx`` or a ``.tflite`` file
    from :func:`transfer.export`) comes back as a
    :class:`~transfer.artifacts.Artifact` run by its own runtime, with the
    class names and head kind read from inside it.

    The class names come from inside the file (a model saved by
    :func:`save_model`), else from a ``model.classes.json`` beside it (files
    written before names travelled inside, or models that are not
    :class:`~transfer.models.TransferModel`); None if neither has them.
    Errors name the file: missing (FileNotFoundError), truncated or corrupt,
    refused because it holds code (safe mode), or a names file that does not
    fit the model (ValueError).

    Example:
        >>> model = transfer.attach_head(transfer.load_backbone("cnn_mnist", weights=None), 2)
        >>> _ = transfer.save_model(model, "two.keras", class_names=["no", "yes"])
        >>> model = transfer.load_model("two.keras")
        >>> model.head_kind, model.class_names
        ('multiclass', ['no', 'yes'])
    """
    import transfer  # noqa: F401  (registers the custom layer and optimizer before loading)

    path = os.fspath(path)
    if artifact_format(path) is not None:  # an exported model, run by its own runtime
        return load_artifact(path)
    model = _load_keras_file(path)
    names_file = class_names_path(path)
    if getattr(model, "class_names", None) is None:
        names = _read_class_names(names_file, model.output_shape[-1]) if os.path.exists(names_file) else None
        model.class_names = names
    else:
        check_class_names(list(model.class_names), model.output_shape[-1], source=path)
    return model


def image_files(paths):
    """Image files among ``paths``; a folder contributes its image files, sorted.

    Example:
        >>> image_files(["samples/"])                        # doctest: +SKIP
        ['samples/digit_0.png', 'samples/digit_1.png']
    """
    files = []
    for p in map(os.fspath, paths):
        if os.path.isdir(p):
            files += sorted(os.path.join(p, f) for f in os.listdir(p) if f.lower().endswith(IMAGE_EXTENSIONS))
        elif os.path.isfile(p):
            files.append(p)
        else:
            raise FileNotFoundError(f"No image file or folder at {p!r}.")
    return files


def read_image(file, channels, size=None):
    """One image file as float32 raw 0-255 pixels (H, W, channels), resized to ``size`` (H, W) if given.

    A None in ``size`` keeps the image's own height or width.

    Example:
        >>> from PIL import Image
        >>> Image.new("RGB", (40, 30)).save("wide.png")
        >>> read_image("wide.png", 1).shape, read_image("wide.png", 3, size=(32, None)).shape
        ((30, 40, 1), (32, 40, 3))
    """
    from PIL import Image

    mode = _image_mode(channels)
    with Image.open(file) as img:
        img = img.convert(mode)
        h, w = size if size is not None else (None, None)
        h, w = h or img.height, w or img.width
        if (h, w) != (img.height, img.width):
            img = img.resize((w, h), Image.BILINEAR)
        arr = np.asarray(img, dtype="float32")
    return arr.reshape(arr.shape[0], arr.shape[1], channels)


def _image_mode(channels):
    mode = {1: "L", 3: "RGB"}.get(channels)
    if mode is None:
        raise ValueError(f"Image files give 1 or 3 channels. Received: channels={channels!r}")
    return mode


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


def predict_files(model, paths, class_names=None, top=3, size=None):
    """Classify image files: a :class:`Predictions` list of ``(file, [(class, probability), ...])``, best first.

    ``class_names`` default to the ones the model carries (``model.class_names``,
    set by :func:`save_model` and :func:`load_model`), else the output indices.
    A binary (sigmoid) model reports both classes; a regression model its
    first ``top`` outputs as ``("output i", value)``. Each image is resized
    to the model's input size; a model with a flexible input size
    (``(None, None, C)``) takes each image at ``size`` (H, W) if given, else
    at its own size. A file that cannot be read (truncated, not an image) is
    left out and listed in ``.skipped`` with the reason.

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
    files = image_files(paths)
    if not files:
        raise FileNotFoundError(f"No image files ({', '.join(IMAGE_EXTENSIONS)}) in {list(paths)!r}.")
    kind = head_kind(model)
    units = model.output_shape[-1]
    if class_names is None:  # the names the model carries (set by save_model, read by load_model)
        class_names = getattr(model, "class_names", None)
    if class_names is not None and kind != "regression":
        class_names = check_class_names(class_names, units)
    images, skipped = _read_all(files, model.input_shape[1:], size)
    if not images:
        raise ValueError(f"None of the {len(files)} image files could be read: "
                         + "; ".join(f"{f}: {why}" for f, why in skipped))
    probs = predict_by_size(model, images, skipped)  # one batch per image size (a flexible model may get several)
    if not probs:
        raise ValueError(f"None of the {len(files)} image files could be classified: "
                         + "; ".join(f"{f}: {why}" for f, why in skipped))
    out = []
    for f in (f for f in images if f in probs):
        p = probs[f]
        if kind == "regression":
            out.append((f, [(f"output {i}", float(v)) for i, v in enumerate(p[:top])]))
            continue
        if kind == "binary":
            p = np.concatenate([1.0 - p, p])
        names = class_names or [str(i) for i in range(len(p))]
        order = np.argsort(-p)[:top]
        out.append((f, [(names[i], float(p[i])) for i in order]))
    return Predictions(out, skipped)
