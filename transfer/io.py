"""Saving a fine-tuned model with its class names, loading it, classifying image files."""

import json
import os

import keras
import numpy as np

from transfer.checkpoint import atomic_save
from transfer.models import head_kind

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def class_names_path(model_path):
    """Where the class names of ``model_path`` live: ``model.keras`` -> ``model.classes.json``."""
    return os.path.splitext(os.fspath(model_path))[0] + ".classes.json"


def save_model(model, path, class_names=None):
    """Save ``model`` to a ``.keras`` file atomically, and its class names to a JSON beside it.

    Example:
        >>> model = transfer.attach_head(transfer.load_backbone("cnn_mnist", weights=None), 5)
        >>> transfer.save_model(model, "digits.keras", class_names=["5", "6", "7", "8", "9"])
        'digits.keras'
    """
    path = os.fspath(path)
    if class_names is not None:
        class_names = [str(c) for c in class_names]
        units = model.output_shape[-1]
        if len(class_names) != max(units, 2 if units == 1 else units):
            raise ValueError(f"The model has {units} output(s), so it needs {max(units, 2)} class names. "
                             f"Received: class_names={class_names!r}")
    atomic_save(model, path)
    if class_names is not None:
        with open(class_names_path(path), "w") as f:
            json.dump(class_names, f)
    return path


def load_model(path):
    """``(model, class_names)`` from a ``.keras`` file; class_names is None without the JSON.

    Example:
        >>> model = transfer.attach_head(transfer.load_backbone("cnn_mnist", weights=None), 2)
        >>> _ = transfer.save_model(model, "two.keras", class_names=["no", "yes"])
        >>> model, names = transfer.load_model("two.keras")
        >>> model.head_kind, names
        ('multiclass', ['no', 'yes'])
    """
    import transfer  # noqa: F401  (registers the custom layer and optimizer before loading)

    model = keras.saving.load_model(os.fspath(path))
    names_file = class_names_path(path)
    names = None
    if os.path.exists(names_file):
        with open(names_file) as f:
            names = json.load(f)
    return model, names


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


def load_images(files, input_shape):
    """Read ``files`` into a float32 batch of raw 0-255 pixels of ``input_shape`` (H, W, C)."""
    from PIL import Image

    h, w, c = input_shape
    mode = {1: "L", 3: "RGB"}.get(c)
    if mode is None:
        raise ValueError(f"Image files give 1 or 3 channels. Received: input_shape={input_shape!r}")
    batch = []
    for f in files:
        with Image.open(f) as img:
            arr = np.asarray(img.convert(mode).resize((w, h), Image.BILINEAR), dtype="float32")
        batch.append(arr.reshape(h, w, c))
    return np.stack(batch)


def predict_files(model, paths, class_names=None, top=3):
    """Classify image files: a list of ``(file, [(class, probability), ...])``, best first.

    A binary (sigmoid) model reports both classes; a regression model its
    first ``top`` outputs as ``("output i", value)``.

    Example:
        >>> from PIL import Image
        >>> os.makedirs("samples")
        >>> Image.new("L", (28, 28)).save("samples/digit_0.png")
        >>> model = transfer.attach_head(transfer.load_backbone("cnn_mnist", weights=None), 5)
        >>> file, top = predict_files(model, ["samples/"], ["5", "6", "7", "8", "9"], top=2)[0]
        >>> file, len(top), top[0][1] >= top[1][1]
        ('samples/digit_0.png', 2, True)
    """
    files = image_files(paths)
    if not files:
        raise FileNotFoundError(f"No image files ({', '.join(IMAGE_EXTENSIONS)}) in {list(paths)!r}.")
    probs = model.predict(load_images(files, model.input_shape[1:]), verbose=0)
    kind = head_kind(model)
    if kind == "binary":
        probs = np.concatenate([1.0 - probs, probs], axis=1)
    out = []
    for f, p in zip(files, probs):
        if kind == "regression":
            out.append((f, [(f"output {i}", float(v)) for i, v in enumerate(p[:top])]))
            continue
        names = class_names or [str(i) for i in range(len(p))]
        order = np.argsort(-p)[:top]
        out.append((f, [(names[i], float(p[i])) for i in order]))
    return out
