"""TrivialAugment and RandAugment as Keras layers, and their image operations, per image, in keras.ops (XLA).

:class:`TrivialAugment` (torchvision's ``TrivialAugmentWide``) gives each image
one operation of :data:`OPS`, drawn uniformly, at a magnitude drawn uniformly
from 31 levels; :class:`RandAugment` gives each image ``num_ops`` operations in
turn, each drawn uniformly, at the one ``magnitude`` (of 30). Both draw per
image (``keras.layers.RandAugment`` draws its operations once per batch), and
are the identity at inference.

Photometric operations work on images scaled to [0, 1] (float32) and take one
magnitude per image, as torchvision's functional ops do on one image:
brightness, colour (saturation), contrast and sharpness blend with a degenerate
image (black, grey, the mean grey, a smoothed copy) by a factor ``1 + m``;
posterize keeps ``bits`` bits; solarize inverts the values at or above a
threshold; autocontrast stretches each channel to [0, 1]; equalize is torchvision's, per
image and channel (``keras.layers.Equalization`` takes one histogram over the
whole batch, and under JAX loops over the 256 bins). Geometric operations (shear, translation,
rotation) are one affine matrix per image, resampled by gathers
(:mod:`datasets.geometry`) about the image centre.

:data:`OPS` is torchvision's augmentation space, in its order, with each
operation's largest magnitude for TrivialAugmentWide and for RandAugment
(``num_magnitude_bins=31``).

Example:
    >>> images = ops.convert_to_tensor(np.array([[[[0.25], [0.75]]]], "float32"))   # one 1x2 grey image
    >>> ops.convert_to_numpy(solarize(images, ops.convert_to_tensor([0.5])))[0, 0, :, 0]
    array([0.25, 0.25], dtype=float32)
    >>> ops.convert_to_numpy(posterize(images, ops.convert_to_tensor([7.0])))[0, 0, :, 0]   # 1 bit kept
    array([0.       , 0.5019608], dtype=float32)
"""

import math

import keras
from keras import ops

from datasets import geometry
from zoo.checks import check_positive_int, check_range

# name: (kind, signed, wide maximum, RandAugment maximum). Translations as a share of the image's side: wide 32/224
# (torchvision's 32 pixels at ImageNet's 224, scaled to the image; at 32 px it would move a CIFAR image out of its
# frame), RandAugment 150/331 (torchvision's); posterize by bits removed (wide: down to 2 bits kept, Rand: 4).
OPS = {
    "identity": ("none", False, 0.0, 0.0),
    "shear_x": ("geometric", True, 0.99, 0.3),
    "shear_y": ("geometric", True, 0.99, 0.3),
    "translate_x": ("geometric", True, 32 / 224, 150 / 331),
    "translate_y": ("geometric", True, 32 / 224, 150 / 331),
    "rotate": ("geometric", True, 135.0, 30.0),
    "brightness": ("photometric", True, 0.99, 0.9),
    "color": ("photometric", True, 0.99, 0.9),
    "contrast": ("photometric", True, 0.99, 0.9),
    "sharpness": ("photometric", True, 0.99, 0.9),
    "posterize": ("photometric", False, 6.0, 4.0),
    "solarize": ("photometric", False, 1.0, 1.0),
    "autocontrast": ("photometric", False, 0.0, 0.0),
    "equalize": ("photometric", False, 0.0, 0.0),
}
NAMES = tuple(OPS)


def _per_image(values):
    return ops.reshape(values, (-1, 1, 1, 1))


def _grey(images):
    """ITU-R 601 luma (as PIL and torchvision), kept as one channel; a one-channel image is its own grey."""
    if images.shape[-1] == 1:
        return images
    r, g, b = images[..., 0:1], images[..., 1:2], images[..., 2:3]
    return 0.299 * r + 0.587 * g + 0.114 * b


def blend(images, degenerate, factor):
    """``degenerate + factor * (images - degenerate)`` clipped to [0, 1]: PIL's ImageEnhance, one factor per image."""
    return ops.clip(degenerate + _per_image(factor) * (images - degenerate), 0.0, 1.0)


def brightness(images, factor):
    return blend(images, ops.zeros_like(images), factor)


def color(images, factor):
    return blend(images, _grey(images), factor)


def contrast(images, factor):
    return blend(images, ops.mean(_grey(images), axis=(1, 2, 3), keepdims=True), factor)


def sharpness(images, factor):
    """Blend with PIL's SMOOTH-filtered copy (3x3 kernel, centre 5, sum 13); the border pixels keep their value.

    The filter is nine shifted slices added (XLA's CPU depthwise convolution ran 20 times slower).
    """
    h, w = images.shape[1], images.shape[2]
    total = sum(images[:, dy:dy + h - 2, dx:dx + w - 2] for dy in range(3) for dx in range(3))
    inner = (total + 4.0 * images[:, 1:-1, 1:-1]) / 13.0
    smooth = ops.concatenate([images[:, :1], ops.concatenate(
        [images[:, 1:-1, :1], inner, images[:, 1:-1, -1:]], axis=2), images[:, -1:]], axis=1)
    return blend(images, smooth, factor)


def posterize(images, bits_removed):
    """Keep the high ``8 - bits_removed`` bits of each 8-bit value (torchvision's ``posterize(img, bits)``)."""
    step = _per_image(ops.power(2.0, ops.round(bits_removed)))
    return ops.floor(ops.round(images * 255.0) / step) * step / 255.0


def solarize(images, threshold):
    """Invert the values at or above ``threshold`` (per image, in [0, 1])."""
    return ops.where(images >= _per_image(threshold), 1.0 - images, images)


def autocontrast(images):
    """Stretch each channel of each image to [0, 1]; a flat channel stays as it is."""
    low = ops.min(images, axis=(1, 2), keepdims=True)
    high = ops.max(images, axis=(1, 2), keepdims=True)
    flat = high <= low
    return ops.where(flat, images, (images - low) / ops.where(flat, 1.0, high - low))


def equalize(images):
    """Histogram equalization of each channel of each image, torchvision's ``equalize`` on the 8-bit values.

    The histograms are one scatter-add (``keras.ops.scatter`` sums repeated indices), which XLA compiles.
    """
    n, h, w, c = ops.shape(images)[0], images.shape[1], images.shape[2], images.shape[3]
    values = ops.cast(ops.clip(ops.round(images * 255.0), 0, 255), "int32")
    values = ops.reshape(ops.transpose(values, (0, 3, 1, 2)), (-1, h * w))  # one row per image and channel
    rows = ops.broadcast_to(ops.reshape(ops.arange(n * c, dtype="int32"), (-1, 1)), ops.shape(values))
    indices = ops.stack([ops.reshape(rows, (-1,)), ops.reshape(values, (-1,))], axis=-1)
    hist = ops.scatter(indices, ops.ones((n * c * h * w,), "float32"), (n * c, 256))
    # torchvision: step = (pixels - count of the last non-empty bin) // 255; lut = (cumsum + step // 2) // step.
    last_bin = 255 - ops.argmax(ops.flip(hist > 0, axis=-1), axis=-1)
    last = ops.take_along_axis(hist, ops.expand_dims(last_bin, -1), axis=-1)
    step = ops.floor((float(h * w) - last) / 255.0)
    lut = ops.floor((ops.cumsum(hist, axis=-1) + ops.floor(step / 2.0)) / ops.maximum(step, 1.0))
    lut = ops.clip(ops.concatenate([ops.zeros_like(lut[:, :1]), lut[:, :-1]], axis=-1), 0.0, 255.0)
    mapped = ops.where(step > 0, ops.take_along_axis(lut, values, axis=-1), ops.cast(values, "float32"))
    return ops.transpose(ops.reshape(mapped / 255.0, (-1, c, h, w)), (0, 2, 3, 1))


def geometric_matrix(names, index, magnitude, size):
    """The sampling matrix (4-tuple of (N,)) and shift (N, 2) of each image's geometric op; identity for the rest.

    ``index``: each image's op (position in ``names``); ``magnitude``: signed, in the op's units
    (shear factor, share of the side, degrees); ``size``: the image's (height, width) in pixels.
    """
    zero = ops.zeros_like(magnitude)

    def pick(name, value, otherwise):
        return ops.where(index == names.index(name), value, otherwise) if name in names else otherwise

    theta = pick("rotate", magnitude * (math.pi / 180.0), zero)
    cos, sin = ops.cos(theta), ops.sin(theta)
    m01 = pick("shear_x", magnitude, -sin)
    m10 = pick("shear_y", magnitude, sin)
    height, width = size
    shift = ops.stack([pick("translate_x", magnitude * width, zero), pick("translate_y", magnitude * height, zero)],
                      axis=-1)
    return (cos, m01, m10, cos), shift


class RandomImageLayer(keras.layers.Layer):
    """The shared part of the policy layers: the seed, float32 work whatever the dtype policy, identity at inference.

    Subclasses write ``_augment(images)`` for a float32 batch (N, H, W, C).

    Example:
        >>> issubclass(TrivialAugment, RandomImageLayer)
        True
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_jit = True

    def call(self, images, training=None):
        if len(images.shape) != 4:
            raise ValueError(f"{type(self).__name__} expects a batch of images (N, H, W, C). "
                             f"Received shape {tuple(images.shape)}.")
        if not training:
            return ops.cast(images, self.compute_dtype)
        return ops.cast(self._augment(ops.cast(images, "float32")), self.compute_dtype)

    def _uniform(self, shape):
        return keras.random.uniform(shape, seed=self.seed_generator)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


def _value_range(value_range):
    try:
        low, high = (float(v) for v in value_range)
    except (TypeError, ValueError):
        low = high = None
    if low is None or not low < high:
        raise ValueError(f"`value_range` must be (low, high) with low < high. Received: value_range={value_range!r}")
    return low, high


@keras.saving.register_keras_serializable(package="datasets")
class TrivialAugment(RandomImageLayer):
    """torchvision's ``TrivialAugmentWide``: one operation per image, its magnitude one of 31 levels at random.

    ``value_range``: the images' (low, high) (raw pixels: (0, 255));
    ``fill_value``: what a shear, translation or rotation uncovers, in the images' units.

    Example:
        >>> aug = TrivialAugment(seed=0)
        >>> out = aug(np.random.default_rng(0).uniform(0, 255, (8, 16, 16, 3)), training=True)
        >>> tuple(out.shape), bool(ops.min(out) >= 0 and ops.max(out) <= 255)
        ((8, 16, 16, 3), True)
    """

    LEVELS = 31  # torchvision's num_magnitude_bins
    WIDE = True

    def __init__(self, value_range=(0, 255), fill_value=0.0, seed=None, **kwargs):
        super().__init__(seed, **kwargs)
        self.value_range = _value_range(value_range)
        self.fill_value = float(fill_value)

    def _levels(self, u):
        """Each image's magnitude as a share of the op's maximum: uniform over the 31 levels."""
        return ops.floor(u * self.LEVELS) / (self.LEVELS - 1)

    def _one_op(self, images, u):
        """Images in [0, 1]; ``u`` (N, 3) uniforms -> each image under its drawn operation."""
        index = ops.minimum(ops.cast(ops.floor(u[:, 0] * len(NAMES)), "int32"), len(NAMES) - 1)
        column = 2 if self.WIDE else 3
        maxima = ops.convert_to_tensor([spec[column] for spec in OPS.values()], "float32")
        signed = ops.convert_to_tensor([float(spec[1]) for spec in OPS.values()], "float32")
        sign = ops.where((u[:, 2] < 0.5) & (ops.take(signed, index) > 0), -1.0, 1.0)
        level = self._levels(u[:, 1])
        magnitude = level * ops.take(maxima, index) * sign
        matrix, shift = geometric_matrix(NAMES, index, magnitude, images.shape[1:3])
        low, high = self.value_range
        images = geometry.transform_images(images, matrix, shift, "constant", (self.fill_value - low) / (high - low))
        candidates = {"brightness": lambda: brightness(images, 1.0 + magnitude),
                      "color": lambda: color(images, 1.0 + magnitude),
                      "contrast": lambda: contrast(images, 1.0 + magnitude),
                      "sharpness": lambda: sharpness(images, 1.0 + magnitude),
                      "posterize": lambda: posterize(images, magnitude),
                      "solarize": lambda: solarize(images, 1.0 - level),
                      "autocontrast": lambda: autocontrast(images),
                      "equalize": lambda: equalize(images)}
        out = images
        for name, make in candidates.items():
            out = ops.where(ops.reshape(index == NAMES.index(name), (-1, 1, 1, 1)), make(), out)
        return out

    def _rounds(self):
        return 1

    def _augment(self, images):
        low, high = self.value_range
        images = ops.clip((images - low) / (high - low), 0.0, 1.0)
        for _ in range(self._rounds()):
            images = self._one_op(images, self._uniform((ops.shape(images)[0], 3)))
        return low + images * (high - low)

    def get_config(self):
        return {**super().get_config(), "value_range": self.value_range, "fill_value": self.fill_value}


@keras.saving.register_keras_serializable(package="datasets")
class RandAugment(TrivialAugment):
    """torchvision's ``RandAugment``: ``num_ops`` operations per image in turn, each at ``magnitude`` of 30.

    Example:
        >>> tuple(RandAugment(num_ops=2, magnitude=9, seed=0)(np.zeros((2, 8, 8, 3)), training=True).shape)
        (2, 8, 8, 3)
    """

    WIDE = False

    def __init__(self, num_ops=2, magnitude=9, value_range=(0, 255), fill_value=0.0, seed=None, **kwargs):
        super().__init__(value_range, fill_value, seed, **kwargs)
        self.num_ops = check_positive_int("num_ops", num_ops)
        check_range("magnitude", magnitude, 0, self.LEVELS - 1, high_inclusive=True)
        self.magnitude = magnitude

    def _levels(self, u):
        return ops.full_like(u, self.magnitude / (self.LEVELS - 1))

    def _rounds(self):
        return self.num_ops

    def get_config(self):
        return {**super().get_config(), "num_ops": self.num_ops, "magnitude": self.magnitude}
