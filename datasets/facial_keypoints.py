"""Kaggle's facial keypoints data: 96x96 faces and 15 (x, y) points, in Nouri's conventions.

``to_pixels`` / ``from_pixels`` (from ``datasets.geometry``, the one home of the
scale) convert between the scaled values and pixel coordinates.

``training.csv``: 30 keypoint columns (``KEYPOINT_NAMES``) then ``Image`` (9,216
space-separated 0-255 ints, row-major); missing keypoints are empty fields.
Images come back as float32 (N, 96, 96, 1) in [0, 1], keypoints as float32
(N, 30) in ``(v - 48) / 48`` with NaN where missing. Left and right are from the
subject's point of view. The masked loss and metric ignore NaN targets and are
written with keras.ops, so they run on TensorFlow and JAX, jit-compiled or not.

Example (needs the real data set, so the tests skip it):
    >>> images, keypoints = load("~/data/facial-keypoints")       # doctest: +SKIP
    >>> images.shape, keypoints.shape                              # doctest: +SKIP
    ((2140, 96, 96, 1), (2140, 30))
    >>> model.compile("adam", loss=masked_mse, metrics=[MaskedRMSE()])  # doctest: +SKIP
"""

import csv

import keras
import numpy as np
from keras import ops

from datasets import keypoints_csv
from datasets.geometry import KAGGLE_FLIP_PAIRS, KAGGLE_IMAGE_SIZE, from_pixels, to_pixels
from datasets.keypoint_augment import KeypointAugment

_POINTS = ("left_eye_center", "right_eye_center", "left_eye_inner_corner", "left_eye_outer_corner",
           "right_eye_inner_corner", "right_eye_outer_corner", "left_eyebrow_inner_end",
           "left_eyebrow_outer_end", "right_eyebrow_inner_end", "right_eyebrow_outer_end",
           "nose_tip", "mouth_left_corner", "mouth_right_corner", "mouth_center_top_lip",
           "mouth_center_bottom_lip")
KEYPOINT_NAMES = tuple(f"{p}_{axis}" for p in _POINTS for axis in ("x", "y"))
POINT_NAMES = _POINTS
# Left/right pairs over the 15 points (column pairs (0,2),(1,3),(4,8)... halved).
FLIP_PAIRS = KAGGLE_FLIP_PAIRS
IMAGE_SIZE = KAGGLE_IMAGE_SIZE
PIXELS_PER_UNIT = IMAGE_SIZE / 2.0  # one scaled unit is 48 pixels: RMSE in pixels = sqrt(mse) * 48


def load(path, complete_only=True):
    """Read ``training.csv`` -> ``(images, keypoints)``.

    Args:
        path: the CSV file, Kaggle's ``training.zip``, or the folder holding either.
        complete_only: keep only rows with all 30 values (2,140 of 7,049 in the
            real file); False keeps every row with NaN for missing values.

    A damaged file is an error naming file, line and column (see
    ``datasets.keypoints_csv``): a row cut short or without its Image, pixels
    outside 0-255, a coordinate that is not a finite number within +-960.

    Example:
        >>> with open("training.csv", "w") as f:   # one face: every point at the centre, black pixels
        ...     _ = f.write(",".join(KEYPOINT_NAMES) + ",Image\\n" + "48," * 30 + " ".join(["0"] * 9216) + "\\n")
        >>> images, keypoints = load("training.csv")
        >>> images.shape, keypoints.shape, float(keypoints.max())
        ((1, 96, 96, 1), (1, 30), 0.0)
    """
    where, header, rows = keypoints_csv.read_rows(path, "training.csv")
    cols = keypoints_csv.require_columns(where, header, KEYPOINT_NAMES)
    (image_col,) = keypoints_csv.require_columns(where, header, ["Image"])
    keypoints = keypoints_csv.parse_coordinates(rows, cols, header, where)
    keep = ~np.isnan(keypoints).any(axis=1) if complete_only else np.ones(len(rows), bool)
    images = keypoints_csv.parse_images([r for r, k in zip(rows, keep) if k], image_col, where)
    return images, from_pixels(keypoints[keep])


def load_test(path):
    """Read ``test.csv`` (``ImageId,Image``; or ``test.zip``, or their folder) -> ``(image_ids, images)``.

    Example (needs the real data set, so the tests skip it):
        >>> ids, images = load_test("~/data/facial-keypoints")   # doctest: +SKIP
        >>> images.shape                                          # doctest: +SKIP
        (1783, 96, 96, 1)
    """
    where, header, rows = keypoints_csv.read_rows(path, "test.csv")
    id_col, image_col = keypoints_csv.require_columns(where, header, ["ImageId", "Image"])
    try:
        ids = np.array([int(r[id_col]) for _, r in rows], dtype=np.int64)
    except ValueError:
        line, r = next((line, r) for line, r in rows if not r[id_col].strip().lstrip("-").isdigit())
        raise ValueError(f"{where} line {line}, column ImageId: an integer is needed. "
                         f"Received: {r[id_col][:40]}") from None
    return ids, keypoints_csv.parse_images(rows, image_col, where)


def write_submission(path, image_ids, predictions, lookup_csv):
    """Write Kaggle's ``RowId,Location`` file from scaled predictions and ``IdLookupTable.csv``.

    ``predictions[i]`` holds the 30 scaled values for ``image_ids[i]``; locations are
    converted to pixels and clipped to [0, 96].

    Example (needs the real data set, so the tests skip it):
        >>> ids, images = load_test("data")                                      # doctest: +SKIP
        >>> write_submission("submission.csv", ids, model.predict(images), "data/IdLookupTable.csv")  # doctest: +SKIP
    """
    predictions = np.asarray(predictions, dtype=np.float64)
    if predictions.ndim != 2 or predictions.shape[1] != len(KEYPOINT_NAMES) or len(predictions) != len(image_ids):
        raise ValueError(f"predictions must be ({len(image_ids)}, {len(KEYPOINT_NAMES)}) for "
                         f"{len(image_ids)} image ids. Received shape {predictions.shape}.")
    pixels = np.clip(to_pixels(predictions), 0.0, float(IMAGE_SIZE))
    row_of = {int(i): n for n, i in enumerate(image_ids)}
    column_of = {name: n for n, name in enumerate(KEYPOINT_NAMES)}
    lookup, header, rows = keypoints_csv.read_rows(lookup_csv, "IdLookupTable.csv")
    r_col, i_col, f_col = keypoints_csv.require_columns(lookup, header, ["RowId", "ImageId", "FeatureName"])
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["RowId", "Location"])
        for line, r in rows:
            image_id, feature = int(r[i_col]), r[f_col].strip()
            if image_id not in row_of or feature not in column_of:
                raise ValueError(f"{lookup} line {line} (RowId {r[r_col]}) asks for ImageId={image_id}, "
                                 f"FeatureName={feature!r}, which the predictions do not cover.")
            writer.writerow([int(r[r_col]), f"{pixels[row_of[image_id], column_of[feature]]:.4f}"])
    return path


def _masked(y_true, y_pred):
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.cast(y_true, y_pred.dtype)
    mask = ops.logical_not(ops.isnan(y_true))
    # Replace NaN before subtracting: a NaN that a where() discards still poisons gradients.
    diff = ops.where(mask, y_pred - ops.where(mask, y_true, 0.0), 0.0)
    return ops.square(diff), ops.cast(mask, y_pred.dtype)


@keras.saving.register_keras_serializable(package="datasets")
def masked_mse(y_true, y_pred):
    """Mean squared error over the present (non-NaN) targets of each sample -> shape (N,).

    Example:
        >>> float(masked_mse(np.array([[0.0, np.nan]]), np.array([[0.5, 9.0]]))[0])
        0.25
    """
    sq, mask = _masked(y_true, y_pred)
    return ops.sum(sq, axis=-1) / ops.maximum(ops.sum(mask, axis=-1), 1.0)


@keras.saving.register_keras_serializable(package="datasets")
class MaskedRMSE(keras.metrics.Metric):
    """RMSE in pixels over all present targets seen so far: sqrt(sum sq / count) * 48.

    Kaggle's score is one RMSE over every submitted value, so the metric keeps the
    sum and the count rather than averaging per-batch values.

    Example:
        >>> m = MaskedRMSE()
        >>> m.update_state(np.array([[0.0, np.nan]]), np.array([[0.5, 9.0]]))
        >>> round(float(m.result()), 3)
        24.0
    """

    def __init__(self, name="rmse_px", scale=PIXELS_PER_UNIT, **kwargs):
        super().__init__(name=name, **kwargs)
        self.scale = float(scale)
        self.sq_sum = self.add_variable(shape=(), initializer="zeros", name="sq_sum")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        sq, mask = _masked(y_true, y_pred)
        self.sq_sum.assign_add(ops.cast(ops.sum(sq), self.dtype))
        self.count.assign_add(ops.cast(ops.sum(mask), self.dtype))

    def result(self):
        return ops.sqrt(self.sq_sum / ops.maximum(self.count, 1.0)) * self.scale

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def masked_rmse_pixels(y_true, y_pred):
    """One batch's RMSE in pixels over present targets: sqrt(masked mse) * 48.

    Example:
        >>> float(masked_rmse_pixels(np.array([[0.0, np.nan]]), np.array([[0.5, 9.0]])))
        24.0
    """
    sq, mask = _masked(y_true, y_pred)
    return ops.sqrt(ops.sum(sq) / ops.maximum(ops.sum(mask), 1.0)) * PIXELS_PER_UNIT


def pipelines(path, batch_size=32, validation_split=0.2, augment=None, complete_only=True, seed=1337):
    """Keypoint data as ``(train_ds, validation_ds)`` of (images, keypoints) batches.

    ``augment`` is a ``KeypointAugment`` (or True for a mild default: flips with
    Kaggle's pairs, 10 degree rotations, 10% shifts and zooms), applied to training
    batches only; keypoints pushed out of the frame become NaN, which the masked
    loss ignores.

    Example (needs the real data set, so the tests skip it):
        >>> train, val = pipelines("~/data/facial-keypoints", augment=True)          # doctest: +SKIP
        >>> model.compile("adam", loss=masked_mse, metrics=[MaskedRMSE()])            # doctest: +SKIP
        >>> model.fit(train, validation_data=val, epochs=50)                          # doctest: +SKIP
    """
    from datasets import tfdata

    images, keypoints = load(path, complete_only=complete_only)
    (x_train, y_train), (x_val, y_val) = tfdata.split_arrays(images, keypoints, validation_split, seed)
    if augment is True:
        augment = KeypointAugment(rotation_range=10, width_shift_range=0.1, height_shift_range=0.1,
                                  zoom_range=0.1, horizontal_flip=True, fill_mode="nearest", seed=seed)
    augment_fn = None
    if augment is not None:
        def augment_fn(x, y):
            out = augment({"images": x, "keypoints": y}, training=True)
            return out["images"], out["keypoints"]

    train = tfdata.from_arrays(x_train, y_train, batch_size, shuffle=True, seed=seed, augment_fn=augment_fn)
    return train, tfdata.from_arrays(x_val, y_val, batch_size, shuffle=False)
