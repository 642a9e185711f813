"""KeypointAugment: Augment's random transforms applied to images and their keypoints together.

Keypoints are (N, 2K) interleaved (x0, y0, x1, y1, ...) in scaled coordinates
``(v - W/2) / (W/2)`` for x and ``(v - H/2) / (H/2)`` for y, where v is the pixel
coordinate (pixel centres at integers) — the Kaggle facial keypoints convention
``(v - 48) / 48`` for 96x96 faces, converted by ``geometry.to_pixels`` and
``geometry.from_pixels`` only. A mirror (horizontal or vertical flip, but not
both) also swaps the left/right point pairs, because the subject's left eye of a
mirrored face is the point that was its right eye. Points moved out of the frame
become NaN; NaN points stay NaN.

Example:
    >>> aug = KeypointAugment(rotation_range=15, horizontal_flip=True, seed=0)
    >>> out = aug({"images": np.zeros((2, 96, 96, 1)), "keypoints": np.zeros((2, 30))}, training=True)
    >>> tuple(out["images"].shape), tuple(out["keypoints"].shape)
    ((2, 96, 96, 1), (2, 30))
"""

import keras
from keras import ops

from datasets import geometry
from datasets.augment import AffineAugmentation, check_idg_kwargs


@keras.saving.register_keras_serializable(package="datasets")
class KeypointAugment(AffineAugmentation):
    """Random affine augmentation of ``{"images", "keypoints"}`` with the keypoints kept on their features.

    Takes Augment's (ImageDataGenerator's) arguments plus ``flip_pairs``: the
    (left, right) point-index pairs swapped by a mirror, Kaggle's facial pairs by
    default; pass ``()`` for points without sides.

    Example:
        >>> aug = KeypointAugment(width_shift_range=0.1, horizontal_flip=True,
        ...                       flip_pairs=[(0, 1)], seed=1)
        >>> out = aug({"images": np.zeros((1, 32, 32, 3)), "keypoints": np.zeros((1, 4))}, training=True)
        >>> sorted(out)
        ['images', 'keypoints']
    """

    def __init__(self, flip_pairs=geometry.KAGGLE_FLIP_PAIRS, **kwargs):
        super().__init__(**kwargs)
        try:
            self.flip_pairs = [[int(a), int(b)] for a, b in flip_pairs]
        except (TypeError, ValueError):
            raise ValueError(f"flip_pairs must be a list of (left, right) index pairs. "
                             f"Received: flip_pairs={flip_pairs!r}.")

    @classmethod
    def from_image_data_generator(cls, kwargs=None, flip_pairs=geometry.KAGGLE_FLIP_PAIRS, **more):
        """Build from ImageDataGenerator keyword arguments plus ``flip_pairs``.

        Example:
            >>> aug = KeypointAugment.from_image_data_generator({"rotation_range": 10, "horizontal_flip": True})
        """
        return cls(flip_pairs=flip_pairs, **check_idg_kwargs({**(kwargs or {}), **more}))

    def get_config(self):
        return {**super().get_config(), "flip_pairs": self.flip_pairs}

    def _unpack(self, inputs):
        if not isinstance(inputs, dict) or set(inputs) != {"images", "keypoints"}:
            got = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
            raise ValueError(f"KeypointAugment expects a dict with keys 'images' and 'keypoints'. Received: {got}.")
        images = self._prepare(inputs["images"])
        keypoints = ops.cast(inputs["keypoints"], "float32")  # coordinates stay float32 under any policy
        if len(images.shape) != 4 or len(keypoints.shape) != 2 or keypoints.shape[-1] % 2:
            raise ValueError("KeypointAugment expects images (N, H, W, C) and keypoints (N, 2K). Received "
                             f"images {tuple(images.shape)} and keypoints {tuple(keypoints.shape)}.")
        return images, keypoints

    def call(self, inputs, training=None):
        images, keypoints = self._unpack(inputs)
        if not training:
            return {"images": self._finish(images), "keypoints": keypoints}
        n, h, w = ops.shape(images)[0], images.shape[1], images.shape[2]
        n_points = keypoints.shape[-1] // 2
        perm = geometry.flip_permutation(self.flip_pairs, n_points)  # checks the pairs against K
        matrix, shift, u = self._random_geometry(n, h, w, "float32")
        images = geometry.transform_images(images, matrix, shift, self.fill_mode, self.cval,
                                           self.interpolation_order)
        images = ops.cast(self._photometric(images, u), self.compute_dtype)

        points = ops.reshape(geometry.to_pixels(keypoints, (h, w)), (-1, n_points, 2))
        flip_h = (u[:, 4] < 0.5) if self.horizontal_flip else ops.zeros_like(u[:, 4]) > 1.0
        flip_v = (u[:, 5] < 0.5) if self.vertical_flip else ops.zeros_like(u[:, 5]) > 1.0
        mirrored = ops.reshape(ops.not_equal(flip_h, flip_v), (-1, 1, 1))
        points = ops.where(mirrored, ops.take(points, perm, axis=1), points)
        points = geometry.transform_points(points, matrix, shift, h, w)
        keypoints = geometry.from_pixels(ops.reshape(points, (-1, 2 * n_points)), (h, w))
        return {"images": self._finish(images), "keypoints": keypoints}

    def compute_output_shape(self, input_shape):
        return dict(input_shape)
