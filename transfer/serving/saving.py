"""Saving a fine-tuned model with its class names, and loading it (a ``.keras`` file or an exported artifact).

Every failure a user can cause with a file is a ``ValueError`` or ``OSError``
naming the file (the command line prints it as one ``error:`` line).
"""

import contextlib
import json
import os
import zipfile

import keras
from zoo.files import atomic_write_json, check_regular_file, read_regular

from transfer.sources import preprocessing  # noqa: F401  (registers ImagePreprocessing for loading)
from transfer.training import optimizers  # noqa: F401  (registers DiscriminativeOptimizer and its schedule)
from transfer.serving.artifacts import artifact_format, load_artifact
from transfer.training.atomic import atomic_save
from transfer.model.backbone import TransferModel, head_kind
from transfer.serving.safe_load import check_keras_config, keras_load_error

MAX_KERAS_BYTES = 64 << 30  # VGG-16 with its optimizer is about 1.6 GB
MAX_NAMES_BYTES = 16 << 20  # the names of a million classes


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

    A :class:`~transfer.model.backbone.TransferModel` (from ``attach_head``) keeps
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
    if not os.path.lexists(path):
        raise FileNotFoundError(f"No model file at {path!r}.")
    check_regular_file(path, MAX_KERAS_BYTES, "a .keras model file")  # a FIFO would block, a device never end
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
        names = json.loads(read_regular(names_file, MAX_NAMES_BYTES, "a class names file").decode("utf-8"))
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
    :class:`~transfer.serving.artifacts.Artifact` run by its own runtime, with the
    class names and head kind read from inside it.

    The class names come from inside the file (a model saved by
    :func:`save_model`), else from a ``model.classes.json`` beside it (files
    written before names travelled inside, or models that are not
    :class:`~transfer.model.backbone.TransferModel`); None if neither has them.
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
