"""What :func:`transfer.export` checks an artifact with: sample, calibration and labelled images, speed, the report.

Example:
    >>> sample_images(None, (None, 20, 20, 1)).shape
    (8, 20, 20, 1)
"""

import dataclasses
import os
import time

import numpy as np

from transfer.model.head_kinds import HEAD_KINDS, classifier_kind
from transfer.serving.images import IMAGE_EXTENSIONS, read_image


@dataclasses.dataclass
class ExportReport:
    """What :func:`transfer.export` wrote and measured; ``str()`` is the command line's summary.

    Example:
        >>> report = ExportReport(path="m.onnx", format="onnx", size_bytes=2_000_000, max_abs_diff=6e-8,
        ...                       tolerance=1e-4, images=8)
        >>> print(report)
        m.onnx: onnx, 2.00 MB
          checked by its runtime on 8 images: max |difference| from Keras 6e-08 (tolerance 0.0001)
    """

    path: str
    format: str
    size_bytes: int = None
    max_abs_diff: float = None
    tolerance: float = None
    images: int = None
    images_per_s_batch1: float = None
    images_per_s_batch32: float = None
    quantization: str = None
    float_size_bytes: int = None
    top1_agreement: float = None
    agreement_images: int = None
    accuracy: float = None
    keras_accuracy: float = None
    validation_images: int = None
    class_names: list = None
    head_kind: str = None
    converted_from: str = None

    @property
    def size_ratio(self):
        """The artifact's size over the float LiteRT file's (int8 only), else None."""
        if self.float_size_bytes and self.size_bytes:
            return self.size_bytes / self.float_size_bytes
        return None

    def __str__(self):
        kind = f"{self.format}, {self.quantization}" if self.quantization else self.format
        lines = [f"{self.path}: {kind}, {self.size_bytes / 1e6:.2f} MB"]
        limit = f"tolerance {self.tolerance:g}" if self.tolerance is not None else "no tolerance"
        lines.append(f"  checked by its runtime on {self.images} images: max |difference| from Keras "
                     f"{self.max_abs_diff:.3g} ({limit})")
        if self.converted_from:
            lines.append(f"  computes in float32 (the model's policy was {self.converted_from})")
        if self.images_per_s_batch1 is not None:
            lines.append(f"  speed: {self.images_per_s_batch1:.1f} images/s at batch 1, "
                         f"{self.images_per_s_batch32:.1f} at batch 32")
        if self.size_ratio is not None:
            lines.append(f"  size: {self.size_ratio:.2f} of the float LiteRT file ({self.float_size_bytes:,} bytes)")
        if self.top1_agreement is not None:
            lines.append(f"  top-1 agreement with the float model: {self.top1_agreement:.1%} of "
                         f"{self.agreement_images} images")
        if self.accuracy is not None:
            lines.append(f"  accuracy on {self.validation_images} validation images: {self.accuracy:.1%} "
                         f"(Keras model: {self.keras_accuracy:.1%})")
        if self.class_names is not None or self.head_kind is not None:
            lines.append(f"  inside: head kind {self.head_kind}, class names {self.class_names}")
        return "\n".join(lines)


def _size(input_shape):
    h, w, c = input_shape[1:]
    return (h or 224, w or 224), c  # a flexible model is checked at 224x224


def sample_images(folder, input_shape, count=8):
    """Raw 0-255 float32 images (N, H, W, C) for the check: the folder's images, else ``count`` generated ones.

    The generated images are smooth gradients with noise (seeded), so each
    run checks the same pixels.

    Example:
        >>> x = sample_images(None, (None, 32, 32, 3))
        >>> x.shape, float(x.min()) >= 0, float(x.max()) <= 255
        ((8, 32, 32, 3), True, True)
    """
    (h, w), c = _size(input_shape)
    if folder is not None:
        return _read_folder(folder, input_shape, "sample")
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 255, w, dtype="float32")[None, :, None] * np.ones((h, 1, c), "float32")
    images = [np.clip(ramp[:, ::(-1) ** i] * (i + 1) / count + rng.normal(0, 40, (h, w, c)), 0, 255)
              for i in range(count)]
    return np.stack(images).astype("float32")


def _image_files_under(folder):
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"No image folder at {folder!r}.")
    return sorted(os.path.join(d, f) for d, _, files in os.walk(folder) for f in files
                  if f.lower().endswith(IMAGE_EXTENSIONS))


def _read_folder(folder, input_shape, what, limit=None):
    (h, w), c = _size(input_shape)
    files = _image_files_under(os.fspath(folder))[:limit]
    if not files:
        raise ValueError(f"The {what} folder has no image files ({', '.join(IMAGE_EXTENSIONS)}). "
                         f"Received: {os.fspath(folder)!r}")
    return np.stack([read_image(f, c, (h, w)) for f in files])


def calibration_images(folder, input_shape, limit=300):
    """The int8 representative images: up to ``limit`` image files under ``folder`` (subfolders too), resized.

    Example:
        >>> calibration_images("photos/", (None, 32, 32, 3)).shape    # doctest: +SKIP
        (120, 32, 32, 3)
    """
    return _read_folder(folder, input_shape, "calibration", limit)


def labelled_images(folder, class_names, input_shape):
    """``(x, y)`` from a folder of class subfolders; a subfolder's label is its index in ``class_names``.

    Without class names (or when the subfolders are not all among them) the
    labels follow the sorted subfolder names, as Keras's
    ``image_dataset_from_directory`` does.

    Example:
        >>> x, y = labelled_images("validation/", ["cat", "dog"], (None, 32, 32, 3))   # doctest: +SKIP
        >>> x.shape, sorted(set(y))                                                   # doctest: +SKIP
        ((40, 32, 32, 3), [0, 1])
    """
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"No validation folder at {folder!r}.")
    classes = sorted(d for d in os.listdir(folder) if os.path.isdir(os.path.join(folder, d)))
    if not classes:
        raise ValueError(f"A validation folder holds one subfolder of images per class. Received: {folder!r} "
                         "with no subfolders")
    index = ({n: i for i, n in enumerate(class_names)} if class_names and set(classes) <= set(class_names)
             else {n: i for i, n in enumerate(classes)})
    xs, ys = [], []
    for name in classes:
        files = _image_files_under(os.path.join(folder, name))
        if files:
            xs.append(_read_folder(os.path.join(folder, name), input_shape, "validation"))
            ys += [index[name]] * len(files)
    if not xs:
        raise ValueError(f"The validation folder's subfolders hold no images. Received: {folder!r}")
    return np.concatenate(xs), np.asarray(ys)


def top1(outputs, head_kind):
    """The predicted class per row: argmax, or ``p > 0.5`` for a binary (one sigmoid unit) head.

    Example:
        >>> top1(np.array([[0.2, 0.8], [0.9, 0.1]]), "multiclass"), top1(np.array([[0.7], [0.2]]), "binary")
        (array([1, 0]), array([1, 0]))
    """
    outputs = np.asarray(outputs)
    kind = HEAD_KINDS.get(head_kind) or classifier_kind(outputs.shape[-1])  # an artifact may not say its kind
    return kind.top1(outputs)


def measure_speed(predict, images, batch, min_seconds=0.3, min_calls=3):
    """Images per second of ``predict`` at ``batch`` images per call (after one warm-up call).

    Example:
        >>> measure_speed(lambda x: x * 2, np.zeros((4, 8, 8, 1)), 32) > 0
        True
    """
    reps = -(-batch // len(images))
    x = np.concatenate([images] * reps)[:batch]
    predict(x)  # the first call allocates (LiteRT's resize) and traces (TensorFlow)
    calls, start = 0, time.perf_counter()
    while calls < min_calls or time.perf_counter() - start < min_seconds:
        predict(x)
        calls += 1
    return calls * batch / (time.perf_counter() - start)
