"""ImageDataGenerator's augmentation as Keras layers that compile under XLA (TF and JAX).

``Augment`` takes ImageDataGenerator's argument names and meanings and draws one
affine transform per image (rotation, shifts, shear, zoom, flips), resampled by
gathers (``datasets.geometry``; bilinear, or nearest neighbour with
``interpolation_order=0``), then channel shift, brightness and
rescale. ``KeypointAugment`` applies the same transforms to images and (x, y)
keypoints together. Random transforms run only with ``training=True``; ``rescale``
is preprocessing, not augmentation, so it applies in both modes (as an
ImageDataGenerator applies it to validation data too).

Example:
    >>> aug = Augment(rotation_range=20, width_shift_range=0.1, zoom_range=0.2, horizontal_flip=True)
    >>> model = keras.Sequential([keras.Input((32, 32, 3)), aug, keras.layers.Conv2D(8, 3)])
    >>> tuple(model(np.zeros((1, 32, 32, 3)), training=True).shape)
    (1, 30, 30, 8)
    >>> import tensorflow as tf
    >>> train_ds = tf.data.Dataset.from_tensor_slices((np.zeros((4, 32, 32, 3), "float32"), np.arange(4))).batch(2)
    >>> train_ds = train_ds.map(lambda x, y: (aug(x, training=True), y))
"""

import math
import numbers

import keras
from keras import ops

from datasets import geometry
from zoo.checks import check_range

# ImageDataGenerator arguments with no per-image affine equivalent, and their no-op values.
_UNSUPPORTED = {"featurewise_center": False, "samplewise_center": False,
                "featurewise_std_normalization": False, "samplewise_std_normalization": False,
                "zca_whitening": False, "zca_epsilon": 1e-6, "preprocessing_function": None,
                "validation_split": 0.0, "data_format": "channels_last", "dtype": None}
_SUPPORTED = ("rotation_range", "width_shift_range", "height_shift_range", "shear_range", "zoom_range",
              "horizontal_flip", "vertical_flip", "fill_mode", "cval", "brightness_range",
              "channel_shift_range", "rescale", "interpolation_order")


def _shift_spec(value, name):
    """ImageDataGenerator's shift argument -> (kind, values, fraction_of_size)."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a float, an int or a list of numbers. Received: {name}={value!r}.")
    if isinstance(value, numbers.Integral):  # integers in the open interval (-value, value)
        return "int", [int(value)], False
    if isinstance(value, numbers.Real):
        return "float", [float(value)], abs(float(value)) < 1
    try:
        values = [float(v) for v in value]
    except TypeError:
        raise ValueError(f"{name} must be a float, an int or a list of numbers. Received: {name}={value!r}.")
    if not values:
        raise ValueError(f"{name} must not be an empty list. Received: {name}={value!r}.")
    return "list", values, max(values) < 1


def _pair(value, name, around_one=False):
    if value is None:
        return None
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        v = float(value)
        return [1.0 - v, 1.0 + v] if around_one else [-v, v]
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a float or a [lower, upper] pair. Received: {name}={value!r}.")
    return [lo, hi]


def check_idg_kwargs(kwargs):
    """Split ImageDataGenerator keyword arguments into the supported ones; raise on the rest.

    Arguments that are unsupported but left at their no-op value (e.g.
    ``featurewise_center=False``) are dropped silently.

    Example:
        >>> check_idg_kwargs({"rotation_range": 10, "featurewise_center": False})
        {'rotation_range': 10}
    """
    active = {k: v for k, v in kwargs.items() if k in _UNSUPPORTED and v != _UNSUPPORTED[k]}
    if active:
        raise ValueError(
            f"These ImageDataGenerator arguments are not supported by datasets.Augment: {sorted(active)} "
            f"(received {active}). Dataset statistics (featurewise_*, zca_*) belong in a "
            "keras.layers.Normalization layer, validation_split in datasets.tfdata.split_arrays, "
            "and a preprocessing_function in a tf.data map. Supported: " + ", ".join(_SUPPORTED) + ".")
    unknown = sorted(k for k in kwargs if k not in _UNSUPPORTED and k not in _SUPPORTED)
    if unknown:
        raise ValueError(f"Unknown ImageDataGenerator arguments {unknown}. Supported: {', '.join(_SUPPORTED)}.")
    return {k: v for k, v in kwargs.items() if k in _SUPPORTED}


class AffineAugmentation(keras.layers.Layer):
    """The base of ``Augment`` and ``KeypointAugment``: argument checks, config, random draws, matrices.

    Subclasses write ``call``; the ``_``-methods here are their building blocks.

    Example:
        >>> issubclass(Augment, AffineAugmentation) and issubclass(datasets.KeypointAugment, AffineAugmentation)
        True
    """

    def __init__(self, rotation_range=0.0, width_shift_range=0.0, height_shift_range=0.0, shear_range=0.0,
                 zoom_range=0.0, horizontal_flip=False, vertical_flip=False, fill_mode="nearest", cval=0.0,
                 brightness_range=None, channel_shift_range=0.0, rescale=None, interpolation_order=1, seed=None,
                 **kwargs):
        super().__init__(**kwargs)
        for name, v in (("rotation_range", rotation_range), ("shear_range", shear_range),
                        ("channel_shift_range", channel_shift_range)):
            check_range(name, v, 0, math.inf)
        geometry.check_sampling(interpolation_order, fill_mode)
        self.rotation_range, self.shear_range = float(rotation_range), float(shear_range)
        self.width_shift_range = width_shift_range if isinstance(width_shift_range, numbers.Real) \
            else list(width_shift_range)
        self.height_shift_range = height_shift_range if isinstance(height_shift_range, numbers.Real) \
            else list(height_shift_range)
        self._wshift = _shift_spec(width_shift_range, "width_shift_range")
        self._hshift = _shift_spec(height_shift_range, "height_shift_range")
        self.zoom_range = _pair(zoom_range, "zoom_range", around_one=True)
        self.brightness_range = _pair(brightness_range, "brightness_range")
        if brightness_range is not None and isinstance(brightness_range, numbers.Real):
            raise ValueError(f"brightness_range must be a [lower, upper] pair, as in ImageDataGenerator. "
                             f"Received: brightness_range={brightness_range!r}.")
        self.horizontal_flip, self.vertical_flip = bool(horizontal_flip), bool(vertical_flip)
        self.fill_mode, self.cval = fill_mode, float(cval)
        self.channel_shift_range = float(channel_shift_range)
        self.rescale = None if rescale is None else float(rescale)
        self.interpolation_order = int(interpolation_order)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_jit = True

    @classmethod
    def from_image_data_generator(cls, kwargs=None, **more):
        """Build from an ImageDataGenerator's keyword arguments, e.g. ported code's dict.

        Example:
            >>> aug = Augment.from_image_data_generator(dict(rotation_range=40, zoom_range=0.2,
            ...                                              horizontal_flip=True, fill_mode="nearest"))
        """
        return cls(**check_idg_kwargs({**(kwargs or {}), **more}))

    def get_config(self):
        config = super().get_config()
        config.update({name: getattr(self, name) for name in _SUPPORTED})
        config["seed"] = self.seed
        return config

    def _shift(self, kind_values_frac, u_val, u_sign, size):
        kind, values, frac = kind_values_frac
        if kind == "float":
            out = (2.0 * u_val - 1.0) * values[0]
        else:
            # ImageDataGenerator: np.random.choice(values) (range(n) for an int) times a random sign
            table = list(range(values[0])) if kind == "int" else values
            if not table or max(abs(t) for t in table) == 0:
                return ops.zeros_like(u_val)
            idx = ops.minimum(ops.cast(ops.floor(u_val * len(table)), "int32"), len(table) - 1)
            out = ops.take(ops.convert_to_tensor(table, dtype=u_val.dtype), idx)
            out = out * ops.where(u_sign < 0.5, -1.0, 1.0)
        return out * size if frac else out

    def _random_geometry(self, n, height, width, dtype):
        """Draw one transform per image -> (matrix 4-tuple, shift (N, 2), u (N, 12) uniforms)."""
        # One random call for all parameters: fewer RNG ops in the compiled graph.
        u = keras.random.uniform((n, 12), dtype=dtype, seed=self.seed_generator)
        col = [u[:, i] for i in range(12)]
        theta = (2.0 * col[0] - 1.0) * math.radians(self.rotation_range)
        shear = (2.0 * col[1] - 1.0) * math.radians(self.shear_range)
        lo, hi = self.zoom_range
        if lo == 1.0 and hi == 1.0:
            zx = zy = ops.ones_like(col[2])
        else:
            zx, zy = lo + (hi - lo) * col[2], lo + (hi - lo) * col[3]
        zero = ops.zeros_like(col[4])
        flip_h = ops.cast(col[4] < 0.5, dtype) if self.horizontal_flip else zero
        flip_v = ops.cast(col[5] < 0.5, dtype) if self.vertical_flip else zero
        dx = self._shift(self._wshift, col[6], col[7], float(width))
        dy = self._shift(self._hshift, col[8], col[9], float(height))
        if self.rotation_range == 0:
            theta = zero  # exactly zero, so integer sample positions stay integers
        if self.shear_range == 0:
            shear = zero
        matrix = geometry.affine_matrix(theta, shear, zx, zy, flip_h, flip_v)
        return matrix, ops.stack([dx, dy], axis=-1), u

    @property
    def _geometric(self):
        def moves(spec):
            kind, values, _ = spec
            return values[0] > 1 if kind == "int" else any(v != 0 for v in values)

        return bool(self.rotation_range or self.shear_range or self.horizontal_flip or self.vertical_flip
                    or self.zoom_range != [1.0, 1.0] or moves(self._wshift) or moves(self._hshift))

    def _photometric(self, images, u):
        if self.channel_shift_range:
            # ImageDataGenerator: one intensity per image added to every channel, clipped to the image's range
            lo = ops.min(images, axis=(1, 2, 3), keepdims=True)
            hi = ops.max(images, axis=(1, 2, 3), keepdims=True)
            shift = ops.reshape((2.0 * u[:, 10] - 1.0) * self.channel_shift_range, (-1, 1, 1, 1))
            images = ops.clip(images + shift, lo, hi)
        if self.brightness_range is not None:
            lo, hi = self.brightness_range
            images = images * ops.reshape(lo + (hi - lo) * u[:, 11], (-1, 1, 1, 1))
        return images

    def _prepare(self, images):
        images = ops.cast(images, self.compute_dtype)
        if len(images.shape) not in (3, 4):
            raise ValueError(f"{type(self).__name__} expects images (N, H, W, C) or (H, W, C). "
                             f"Received shape {tuple(images.shape)}.")
        return images

    def _finish(self, images):
        return images if self.rescale is None else images * self.rescale


@keras.saving.register_keras_serializable(package="datasets")
class Augment(AffineAugmentation):
    """Random ImageDataGenerator-style augmentation as a layer: images in, images out.

    Arguments keep ImageDataGenerator's names and meanings: ``rotation_range``
    (degrees), ``width_shift_range`` / ``height_shift_range`` (fraction of the size
    if < 1, else pixels; an int n draws integers in (-n, n); a list draws one of its
    values with a random sign), ``shear_range`` (degrees), ``zoom_range`` (float z
    means [1 - z, 1 + z]; factors > 1 zoom out), ``horizontal_flip``,
    ``vertical_flip``, ``fill_mode`` ('nearest', 'constant', 'reflect', 'wrap'),
    ``cval``, ``brightness_range`` ([lo, hi] factor that multiplies the pixels),
    ``channel_shift_range``, ``rescale``, ``interpolation_order`` (1 bilinear, the
    default; 0 nearest neighbour: one gather per pixel, no blending). ``seed`` fixes
    the sequence of draws.

    Example:
        >>> aug = Augment(rotation_range=15, width_shift_range=0.1, horizontal_flip=True, seed=0)
        >>> tuple(aug(np.zeros((2, 32, 32, 3)), training=True).shape)
        (2, 32, 32, 3)
    """

    def call(self, images, training=None):
        images = self._prepare(images)
        single = len(images.shape) == 3
        if single:
            images = ops.expand_dims(images, 0)
        if training:
            n, h, w = ops.shape(images)[0], images.shape[1], images.shape[2]
            matrix, shift, u = self._random_geometry(n, h, w, "float32")  # geometry is float32 under any policy
            if self._geometric:
                images = geometry.transform_images(images, matrix, shift, self.fill_mode, self.cval,
                                                   self.interpolation_order)
            images = ops.cast(self._photometric(images, u), self.compute_dtype)
        images = self._finish(images)
        return images[0] if single else images

    def compute_output_shape(self, input_shape):
        return input_shape


def augment_from_idg(**kwargs):
    """Port ``ImageDataGenerator(**kwargs)`` in one line: ``augment_from_idg(**kwargs) -> Augment``.

    Example:
        >>> aug = augment_from_idg(rotation_range=40, width_shift_range=0.2, shear_range=0.2,
        ...                        zoom_range=0.2, horizontal_flip=True, rescale=1 / 255)
    """
    return Augment.from_image_data_generator(kwargs)
