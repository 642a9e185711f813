"""Policy augmentation as Keras layers that compile under XLA: random-resized crop, TrivialAugment, RandAugment,
random erasing, and :class:`PolicyAugment`, the three in timm's order.

The recipes of torchvision and timm train on these, beside the affine
transforms of ImageDataGenerator (:class:`datasets.Augment`). Each is a layer:
random with ``training=True`` (inside ``fit``'s compiled step, as
``transfer.attach_head(..., augment=...)`` places it), the identity at
inference. Images keep their size and their value range (``value_range``, raw
0-255 pixels by default). Everything is per image and in keras.ops (gathers,
scatter-adds, selects), so one program serves TensorFlow under XLA and JAX.

Why not Keras's layers: ``keras.layers.RandAugment`` and ``AugMix`` contain
``RandomRotation`` / ``RandomTranslation`` / ``RandomShear`` (``supports_jit =
False``: a model holding them silently drops XLA on TensorFlow, and forcing it
fails on ``ImageProjectiveTransformV3``), and RandAugment draws its operations
once per batch, not per image. ``RandomCrop`` does not resize and drops XLA too.
``keras.layers.RandomErasing`` compiles, but its ``scale`` draws each side's
share (not the erased area and an aspect ratio), and its noise fill (a normal
draw times the range's top, clipped) sets about half the erased pixels to 0.

Example:
    >>> aug = PolicyAugment(crop_scale=(0.35, 1.0), policy="trivial", erasing=0.25, horizontal_flip=True, seed=0)
    >>> images = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    >>> out = aug(images, training=True)
    >>> tuple(out.shape), bool(np.allclose(aug(images, training=False), images))
    ((4, 32, 32, 3), True)
"""

import math

import keras
from keras import ops

from datasets import geometry
from datasets.auto_augment import RandAugment, RandomImageLayer, TrivialAugment
from zoo.checks import check_choice, check_range


def _interval(value, name, low=0.0, high=math.inf):
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a (low, high) pair. Received: {name}={value!r}") from None
    if not low <= lo <= hi <= high:
        raise ValueError(f"`{name}` must satisfy {low} <= low <= high <= {high}. Received: {name}={value!r}")
    return lo, hi


def _box_sizes(u_area, u_ratio, area, ratio, height, width):
    """Box (h, w) for each of several tries: a share of the image's area and a log-uniform aspect ratio (w / h)."""
    target = (area[0] + (area[1] - area[0]) * u_area) * float(height * width)
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    aspect = ops.exp(log_lo + (log_hi - log_lo) * u_ratio)
    return ops.round(ops.sqrt(target / aspect)), ops.round(ops.sqrt(target * aspect))


def _first_fit(fits, values):
    """The value of the first try that fits, per image (tries along the last axis); the first try if none fits."""
    first = ops.argmax(ops.cast(fits, "int32"), axis=-1)
    return [ops.take_along_axis(v, ops.expand_dims(first, -1), axis=-1)[:, 0] for v in values]


@keras.saving.register_keras_serializable(package="datasets")
class RandomResizedCrop(RandomImageLayer):
    """torchvision's ``RandomResizedCrop``, resized back to the image's own size: a box of ``scale`` of the area,
    aspect ratio (w / h) log-uniform in ``ratio``, 10 tries, else the whole image at the nearest allowed ratio.

    ``horizontal_flip``: mirror half of the crops (free: the same gather).
    ``interpolation``: ``"bilinear"`` or ``"nearest"``.

    Example:
        >>> crop = RandomResizedCrop(scale=(0.25, 0.5), seed=1)
        >>> tuple(crop(np.zeros((2, 24, 24, 3)), training=True).shape)
        (2, 24, 24, 3)
    """

    TRIES = 10

    def __init__(self, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), horizontal_flip=False, interpolation="bilinear",
                 seed=None, **kwargs):
        super().__init__(seed, **kwargs)
        self.scale, self.ratio = _interval(scale, "scale", 0.0, 1.0), _interval(ratio, "ratio", 1e-6)
        if self.scale[1] == 0:
            raise ValueError(f"`scale` must allow a crop of some area. Received: scale={scale!r}")
        check_choice("interpolation", interpolation, ("bilinear", "nearest"))
        self.horizontal_flip, self.interpolation = bool(horizontal_flip), interpolation

    def _augment(self, images):
        n, height, width = ops.shape(images)[0], images.shape[1], images.shape[2]
        u = self._uniform((n, 3 * self.TRIES + 3))
        tries = self.TRIES
        h, w = _box_sizes(u[:, :tries], u[:, tries:2 * tries], self.scale, self.ratio, height, width)
        fits = (h >= 1) & (w >= 1) & (h <= height) & (w <= width)
        h, w = _first_fit(fits, [h, w])
        # torchvision's fallback: the whole image, cut to the nearest allowed aspect ratio.
        whole_h = min(height, round(width / self.ratio[0])) if width / height < self.ratio[0] else height
        whole_w = min(width, round(height * self.ratio[1])) if width / height > self.ratio[1] else width
        any_fit = ops.any(fits, axis=-1)
        h, w = ops.where(any_fit, h, float(whole_h)), ops.where(any_fit, w, float(whole_w))
        top = ops.floor(u[:, -3] * (height - h + 1))
        left = ops.floor(u[:, -2] * (width - w + 1))
        # Output pixel j samples the crop at its own centre: left + (j + 0.5) * w / W - 0.5 (half-pixel centres).
        cols = (ops.reshape(ops.arange(width, dtype="float32"), (1, 1, -1)) + 0.5) / width
        rows = (ops.reshape(ops.arange(height, dtype="float32"), (1, -1, 1)) + 0.5) / height
        if self.horizontal_flip:
            flip = ops.reshape(u[:, -1] < 0.5, (-1, 1, 1))
            cols = ops.where(flip, 1.0 - cols, cols)
        x = ops.reshape(left, (-1, 1, 1)) + cols * ops.reshape(w, (-1, 1, 1)) - 0.5
        y = ops.reshape(top, (-1, 1, 1)) + rows * ops.reshape(h, (-1, 1, 1)) - 0.5
        x, y = ops.broadcast_to(x, (n, height, width)), ops.broadcast_to(y, (n, height, width))
        return geometry.sample(images, x, y, order=1 if self.interpolation == "bilinear" else 0)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "ratio": self.ratio,
                "horizontal_flip": self.horizontal_flip, "interpolation": self.interpolation}


@keras.saving.register_keras_serializable(package="datasets")
class RandomErasing(RandomImageLayer):
    """torchvision's ``RandomErasing``: with ``probability``, one box of ``scale`` of the area and aspect ratio
    (h / w) in ``ratio`` (log-uniform, 10 tries, none if no try fits) is set to ``value``.

    ``value``: a number in the images' units, or ``"random"``: each erased value
    uniform in ``value_range`` (timm's per-pixel mode).

    Example:
        >>> erase = RandomErasing(probability=1.0, value=0.0, seed=0)
        >>> out = ops.convert_to_numpy(erase(np.full((1, 16, 16, 1), 9.0), training=True))
        >>> bool((out == 0).any() and (out == 9).any())
        True
    """

    TRIES = 10

    def __init__(self, probability=0.25, scale=(0.02, 1 / 3), ratio=(0.3, 3.3), value=0.0, value_range=(0, 255),
                 seed=None, **kwargs):
        super().__init__(seed, **kwargs)
        check_range("probability", probability, 0, 1, high_inclusive=True)
        self.probability = float(probability)
        self.scale, self.ratio = _interval(scale, "scale", 0.0, 1.0), _interval(ratio, "ratio", 1e-6)
        self.value_range = _interval(value_range, "value_range", -math.inf)
        if not (value == "random" or (isinstance(value, (int, float)) and not isinstance(value, bool))):
            raise ValueError(f"`value` must be a number or 'random'. Received: value={value!r}")
        self.value = value if value == "random" else float(value)

    def _augment(self, images):
        n, height, width = ops.shape(images)[0], images.shape[1], images.shape[2]
        tries = self.TRIES
        u = self._uniform((n, 2 * tries + 3))
        # torchvision's ratio is h / w; _box_sizes takes w / h, so h and w come back swapped.
        w, h = _box_sizes(u[:, :tries], u[:, tries:2 * tries], self.scale, self.ratio, height, width)
        fits = (h >= 1) & (w >= 1) & (h < height) & (w < width)
        h, w = _first_fit(fits, [h, w])
        apply = ops.any(fits, axis=-1) & (u[:, -3] < self.probability)
        top = ops.floor(u[:, -2] * (height - h + 1))
        left = ops.floor(u[:, -1] * (width - w + 1))
        rows = ops.reshape(ops.arange(height, dtype="float32"), (1, -1, 1, 1))
        cols = ops.reshape(ops.arange(width, dtype="float32"), (1, 1, -1, 1))

        def per_image(v):
            return ops.reshape(v, (-1, 1, 1, 1))

        inside = ((rows >= per_image(top)) & (rows < per_image(top + h)) & (cols >= per_image(left))
                  & (cols < per_image(left + w)) & per_image(apply))
        if self.value == "random":
            low, high = self.value_range
            fill = low + (high - low) * self._uniform(ops.shape(images))
        else:
            fill = ops.full_like(images, self.value)
        return ops.where(inside, fill, images)

    def get_config(self):
        return {**super().get_config(), "probability": self.probability, "scale": self.scale, "ratio": self.ratio,
                "value": self.value, "value_range": self.value_range}


POLICIES = {"trivial": TrivialAugment, "rand": RandAugment}


@keras.saving.register_keras_serializable(package="datasets")
class PolicyAugment(keras.layers.Layer):
    """timm's training augmentation in one layer: random-resized crop (and mirror), a policy, random erasing.

    Args:
        crop_scale: the crop's share of the area (torchvision's ``scale``);
            None: no crop.
        crop_ratio: the crop's aspect-ratio range (w / h).
        horizontal_flip: mirror half of the images.
        policy: ``"trivial"`` (TrivialAugmentWide), ``"rand"`` (RandAugment
            with ``num_ops`` and ``magnitude``) or None.
        erasing: random erasing's probability (0: none); ``erasing_value`` a
            number or ``"random"``.
        value_range: the images' (low, high): raw pixels (0, 255) by default.

    Example:
        >>> aug = PolicyAugment(policy="rand", num_ops=2, magnitude=9, erasing=0.5, seed=3)
        >>> [type(layer).__name__ for layer in aug.stages]
        ['RandomResizedCrop', 'RandAugment', 'RandomErasing']
    """

    def __init__(self, crop_scale=(0.08, 1.0), crop_ratio=(3 / 4, 4 / 3), horizontal_flip=True, policy="trivial",
                 num_ops=2, magnitude=9, erasing=0.25, erasing_value=0.0, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(**kwargs)
        if policy is not None:
            check_choice("policy", policy, tuple(POLICIES))
        self.crop_scale = None if crop_scale is None else tuple(crop_scale)
        self.crop_ratio, self.horizontal_flip, self.policy = tuple(crop_ratio), bool(horizontal_flip), policy
        self.num_ops, self.magnitude, self.erasing, self.erasing_value = num_ops, magnitude, erasing, erasing_value
        self.value_range, self.seed = tuple(value_range), seed
        # Each stage draws from its own seed, so that one stage's draws do not repeat another's.
        seeds = [None if seed is None else seed + i for i in range(3)]
        dtype = {"dtype": self.dtype_policy}
        self.stages = []
        if crop_scale is not None or horizontal_flip:
            self.stages.append(RandomResizedCrop(self.crop_scale or (1.0, 1.0), self.crop_ratio if crop_scale else
                                                 (1e-6, 1e6), horizontal_flip, seed=seeds[0], **dtype))
        if policy == "trivial":
            self.stages.append(TrivialAugment(value_range, seed=seeds[1], **dtype))
        elif policy == "rand":
            self.stages.append(RandAugment(num_ops, magnitude, value_range, seed=seeds[1], **dtype))
        if erasing:
            self.stages.append(RandomErasing(erasing, value=erasing_value, value_range=value_range, seed=seeds[2],
                                             **dtype))
        self.supports_jit = True

    def build(self, input_shape):
        for stage in self.stages:
            stage.build(input_shape)

    def call(self, images, training=None):
        for stage in self.stages:
            images = stage(images, training=training)
        return ops.cast(images, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "crop_scale": self.crop_scale, "crop_ratio": self.crop_ratio,
                "horizontal_flip": self.horizontal_flip, "policy": self.policy, "num_ops": self.num_ops,
                "magnitude": self.magnitude, "erasing": self.erasing, "erasing_value": self.erasing_value,
                "value_range": self.value_range, "seed": self.seed}
