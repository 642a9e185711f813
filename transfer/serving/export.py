"""Exporting a fine-tuned model as a SavedModel, ONNX or LiteRT file that is checked by its own runtime.

:func:`export` writes the artifact with Keras's ``model.export`` (a
``keras.export.ExportArchive`` for the SavedModel, so that the metadata
endpoint can sit beside ``serve``), puts the class names and head kind
inside it (see :mod:`transfer.serving.artifacts`), runs it in its own runtime on
sample images and compares with Keras, and only then moves it into place:
a failed export or check leaves nothing behind. The artifact takes raw
0-255 pixels like the model (the preprocessing is inside), runs the
augmentation layers in inference mode (the identity), and computes in
float32 (a mixed-precision model is copied to float32 first: ONNX Runtime
and LiteRT have no bfloat16 kernels for most ops on a CPU).

Example:
    >>> report = transfer.export("digits.keras", "digits.onnx", format="onnx")   # doctest: +SKIP
    >>> report.max_abs_diff < 1e-4, report.class_names                          # doctest: +SKIP
    (True, ['5', '6', '7', '8', '9'])
"""

import contextlib
import os
import shutil

import keras
import numpy as np

from transfer.serving import artifacts
from transfer.model.dtypes import policy_scope
from transfer.serving.saving import check_class_names, load_model
from transfer.serving.writers import float_litert_size, int8_converter_options, write_artifact
from transfer.serving.export_checks import (ExportReport, calibration_images, labelled_images, measure_speed,
                                    sample_images, top1)

FORMATS = ("tf_saved_model", "onnx", "litert")
SUFFIXES = {"onnx": ".onnx", "litert": ".tflite"}
FLOAT_TOLERANCE = 1e-4


class ExportVerificationError(ValueError):
    """The exported artifact does not give the Keras model's outputs within the tolerance."""


def export(model_or_path, out, format="tf_saved_model", quantize=None, calibration=None, validation=None,
           samples=None, tolerance="auto", class_names=None, speed=True):
    """Export ``model_or_path`` (a model or a ``.keras`` file) to ``out``, check it, return an :class:`ExportReport`.

    Args:
        model_or_path: a Keras model (e.g. from :func:`transfer.fine_tune`) or
            the path of a ``.keras`` file saved by :func:`transfer.save_model`.
        out: a folder for ``"tf_saved_model"``, a ``.onnx`` file for
            ``"onnx"``, a ``.tflite`` file for ``"litert"``. An existing
            artifact there is replaced only once the new one passed its check.
        format: ``"tf_saved_model"``, ``"onnx"`` or ``"litert"``.
        quantize: None, or ``"int8"`` (LiteRT only): post-training integer
            quantization of weights and activations, calibrated on ``calibration``;
            the artifact still takes and returns float32.
        calibration: a folder of images (subfolders included) for the int8
            representative dataset; required with ``quantize="int8"``.
        validation: a folder of class subfolders (named like the class
            names) to report the int8 model's accuracy on.
        samples: a folder of images for the check; default: generated images.
        tolerance: largest allowed absolute difference between the artifact and Keras on the samples;
            ``"auto"``: 1e-4 for float32, no limit for int8 (its top-1 agreement
            is reported instead); None: never fail.
        class_names: names to store in the artifact; default: ``model.class_names``.
        speed: measure images/s at batch 1 and 32 (a second or two).

    Example:
        >>> model = transfer.attach_head(transfer.load_backbone("cnn_mnist", weights=None), 2)
        >>> report = export(model, "model.onnx", format="onnx", class_names=["no", "yes"],
        ...                 speed=False)                                       # doctest: +SKIP
        >>> report.max_abs_diff <= 1e-4, transfer.load_model("model.onnx").class_names   # doctest: +SKIP
        (True, ['no', 'yes'])
    """

    model = load_model(model_or_path) if isinstance(model_or_path, (str, os.PathLike)) else model_or_path
    if not isinstance(model, keras.Model):
        raise ValueError(f"export takes a Keras model or a .keras file (an exported artifact is already exported). "
                         f"Received: {model!r}")
    out = _check_target(os.fspath(out), format, quantize, calibration)
    names = class_names if class_names is not None else getattr(model, "class_names", None)
    if names is not None:
        names = check_class_names(list(names), model.output_shape[-1])
    float_model, converted_from = inference_model(model)
    images = sample_images(samples, float_model.input_shape)
    float_model(images[:1], training=False)  # Keras's ONNX export on JAX wants a model that has been called
    expected = float_model.predict(images, verbose=0)
    kind = getattr(model, "head_kind", None)
    metadata = {"class_names": names, "head_kind": kind, "quantization": quantize, "input": "raw 0-255 pixels"}
    if tolerance == "auto":
        tolerance = None if quantize else FLOAT_TOLERANCE
    report = ExportReport(path=out, format=format, quantization=quantize, class_names=names, head_kind=kind,
                          converted_from=converted_from, tolerance=tolerance, images=len(images))
    partial = _partial_path(out, format)
    try:
        converter = {}
        if quantize:
            calib = calibration_images(calibration, float_model.input_shape)
            report.float_size_bytes = float_litert_size(float_model)
            converter = int8_converter_options(calib)
        write_artifact(float_model, partial, format, metadata, converter)
        artifact = artifacts.load_artifact(partial)
        _check_metadata(artifact, metadata)
        got = artifact.predict(images)
        report.size_bytes = _size(partial)
        report.max_abs_diff = float(np.max(np.abs(got - expected)))
        if tolerance is not None and not report.max_abs_diff <= tolerance:
            raise ExportVerificationError(
                f"The {format} artifact does not give the model's outputs: max |difference| from Keras "
                f"{report.max_abs_diff:.3g} on {len(images)} images, above the tolerance {tolerance:g}. Nothing was "
                f"written to {out}. Received: tolerance={tolerance!r}")
        if quantize:
            _agreement(report, artifact, float_model, images if samples is not None else calib, kind)
        if validation is not None:
            _accuracy(report, artifact, float_model, labelled_images(validation, names, float_model.input_shape),
                      kind)
        if speed:
            report.images_per_s_batch1 = measure_speed(artifact.predict, images, 1)
            report.images_per_s_batch32 = measure_speed(artifact.predict, images, 32)
        del artifact
        _move_into_place(partial, out)
    except BaseException:
        _remove(partial)
        raise
    return report


def _agreement(report, artifact, float_model, images, kind):
    """How often the (quantized) artifact's top-1 agrees with the float Keras model's."""
    keras_top = top1(float_model.predict(images, verbose=0), kind)
    report.top1_agreement = float(np.mean(top1(artifact.predict(images), kind) == keras_top))
    report.agreement_images = len(images)


def _accuracy(report, artifact, float_model, labelled, kind):
    """The artifact's and Keras's accuracy on the labelled validation images."""
    x, y = labelled
    report.accuracy = float(np.mean(top1(artifact.predict(x), kind) == y))
    report.keras_accuracy = float(np.mean(top1(float_model.predict(x, verbose=0), kind) == y))
    report.validation_images = len(y)


def _check_target(out, format, quantize, calibration):
    if format not in FORMATS:
        raise ValueError(f"`format` must be one of {FORMATS}. Received: format={format!r}")
    suffix = os.path.splitext(out)[1].lower()
    wanted = SUFFIXES.get(format)
    if wanted and suffix != wanted:
        raise ValueError(f"A {format} model is a {wanted} file. Received: out={out!r}")
    if format == "tf_saved_model":
        if suffix in (".onnx", ".tflite", ".keras", ".h5"):
            raise ValueError(f"A SavedModel is a folder, not a {suffix} file. Received: out={out!r}")
        if os.path.isfile(out) or (os.path.isdir(out) and os.listdir(out)
                                   and artifacts.artifact_format(out) != "tf_saved_model"):
            raise ValueError(f"{out} exists and is not a SavedModel folder; it is left alone. Choose another "
                             f"folder. Received: out={out!r}")
    elif os.path.isdir(out):
        raise ValueError(f"{out} is a folder; a {format} model is one file. Received: out={out!r}")
    if quantize not in (None, "int8"):
        raise ValueError(f"`quantize` must be None or 'int8'. Received: quantize={quantize!r}")
    if quantize and format != "litert":
        raise ValueError(f"int8 quantization is for LiteRT (format='litert'). Received: format={format!r}, "
                         f"quantize={quantize!r}")
    if quantize and calibration is None:
        raise ValueError("int8 quantization needs calibration images: a folder of images like the ones the "
                         "model will see (about 100 to 500). Received: calibration=None")
    if format != "onnx" and keras.backend.backend() != "tensorflow":
        raise ValueError(f"Export to {format} runs on the TensorFlow backend: run it with "
                         f"KERAS_BACKEND=tensorflow (the .keras file loads there). Received: "
                         f"backend={keras.backend.backend()!r}")
    return out


def inference_model(model):
    """``(model, None)`` for a float32 model without an optimizer, else ``(a clean copy, the old policy or None)``.

    The copy has the same weights, computes in float32 and carries no
    optimizer: exporters track everything the model holds, and an optimizer
    (e.g. a :class:`~transfer.training.optimizers.DiscriminativeOptimizer` from
    ``fine_tune``) is not part of serving.

    Example:
        >>> fast = transfer.attach_head(transfer.load_backbone("cnn_mnist", weights=None), 3, dtype="mixed_float16")
        >>> copy, was = inference_model(fast)
        >>> copy.compute_dtype, was, type(copy).__name__, copy.head_kind
        ('float32', 'mixed_float16', 'TransferModel', 'multiclass')
    """
    policies = {layer.dtype_policy.name for layer in _all_layers(model)} | {model.dtype_policy.name}
    mixed = sorted(p for p in policies if p != "float32")
    if not mixed and getattr(model, "optimizer", None) is None:
        return model, None
    config = _float32_config(keras.saving.serialize_keras_object(model))
    config.pop("compile_config", None)  # an uncompiled copy: no optimizer, no loss
    with policy_scope("float32"):
        copy = keras.saving.deserialize_keras_object(config)
    copy.set_weights(model.get_weights())  # a mixed policy keeps float32 variables: nothing is lost
    return copy, (mixed[0] if mixed else None)


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)


def _float32_config(config):
    """The serialized model with every dtype policy set to float32 (layers store theirs explicitly)."""
    if isinstance(config, dict):
        if config.get("class_name") in ("DTypePolicy", "FloatDTypePolicy") and "config" in config:
            return {**config, "config": {**config["config"], "name": "float32"}}
        return {k: _float32_config(v) for k, v in config.items()}
    if isinstance(config, list):
        return [_float32_config(v) for v in config]
    return config


def _check_metadata(artifact, metadata):
    got = {k: artifact.metadata.get(k) for k in metadata}
    if got != metadata:
        raise ExportVerificationError(f"{artifact.path}: the metadata read back differs from what was written. "
                                      f"Received: {got!r}, expected {metadata!r}")


def _partial_path(out, format):
    folder, name = os.path.split(os.path.abspath(out))
    os.makedirs(folder, exist_ok=True)
    stem, suffix = os.path.splitext(name) if format != "tf_saved_model" else (name, "")
    return os.path.join(folder, f".{stem}.partial-{os.getpid()}{suffix}")  # same folder: the rename is atomic


def _move_into_place(partial, out):
    if os.path.isdir(partial):  # a folder cannot replace a folder in one step: move the old one aside first
        old = None
        if os.path.exists(out):
            old = partial + ".old"
            os.rename(out, old)
        os.rename(partial, out)
        if old:
            shutil.rmtree(old)
    else:
        os.replace(partial, out)


def _remove(path):
    with contextlib.suppress(FileNotFoundError):
        if os.path.isdir(path):
            shutil.rmtree(path)
        else:
            os.remove(path)


def _size(path):
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)
    return os.path.getsize(path)
