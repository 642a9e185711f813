"""MixUp and CutMix inside the compiled training step, on TensorFlow and JAX (timm's ``Mixup``, batch mode).

Why here and not in tf.data, nor with ``keras.layers.MixUp``/``CutMix``:
those layers take a dict of images and one-hot labels and return soft labels,
which then need a categorical loss and categorical metrics; validation keeps
integer labels, so the compiled metrics would see two label formats. The step
instead mixes the images and keeps the labels: cross-entropy is linear in its
target, so the loss of the mixed target ``lam * y + (1 - lam) * y'`` is
``lam * loss(y) + (1 - lam) * loss(y')``, for any cross-entropy (sparse,
binary, smoothed). :class:`transfer.TransferModel`'s ``train_step`` hands each
training batch to its ``batch_mixing`` (this module's :class:`BatchMixing`)
before Keras's own step, and its ``compute_loss`` weights the two losses;
evaluation and prediction never see it. Training metrics compare with the
first image's label.

Random draws inside a compiled step need state carried from step to step: on
JAX a ``SeedGenerator`` outside the model's variables would repeat its draw
every step, and one inside them would change the model's saved weights. The
draws are instead keyed on the optimizer's step counter (already part of the
step's state on both backends): ``(seed, step)`` is the random key. A given
step then mixes the same way on either backend's reruns, and a resumed run
mixes as the uninterrupted one. The counter also switches mixing off:
``stop_step`` is the step of the phase (micro-batches) where it ends.

:class:`Mixing` is the recipe's ingredient (``mixup_alpha``, ``cutmix_alpha``,
``mix_prob``, ``switch_prob``, ``mix_off_epochs``).
"""

import keras
from zoo import checks

from transfer.training.ingredient import Ingredient


class _KeySeed(keras.random.SeedGenerator):
    """A seed given as a tensor: ``keras.random`` accepts a SeedGenerator and asks it for ``next()``.

    No state variable is made: the key comes from the step counter.
    """

    def __init__(self, key):  # deliberately not SeedGenerator.__init__ (it creates a variable)
        self.key = key

    def next(self, ordered=True):
        return self.key


def _counter(optimizer):
    """The optimizer variable that counts batches (the one Keras's learning-rate schedules read)."""
    while isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        optimizer = optimizer.inner_optimizer
    return optimizer._iterations


def _gamma(alpha, key, tries=16):
    """One Gamma(alpha) draw by Marsaglia and Tsang's method, ``tries`` candidates at once (XLA-compilable).

    ``keras.random.beta`` (and so ``keras.layers.MixUp``) fails under XLA on
    TensorFlow: its ``StatelessRandomGammaV3`` has no XLA kernel. Normal and
    uniform draws compile everywhere; each candidate is accepted with
    probability above 0.95, so the first accepted of 16 is exact but for
    odds below 1e-20. ``alpha < 1`` draws Gamma(alpha + 1) times ``U ** (1 / alpha)``.
    """
    boost = alpha < 1
    a = alpha + 1.0 if boost else alpha
    d = a - 1.0 / 3.0
    c = 1.0 / (9.0 * d) ** 0.5
    z = keras.random.normal((tries,), seed=key(0))
    u = keras.random.uniform((tries + 1,), seed=key(1))
    v = (1.0 + c * z) ** 3
    safe_v = keras.ops.maximum(v, 1e-12)
    accepted = (v > 0) & (keras.ops.log(u[:tries]) < 0.5 * z * z + d - d * safe_v + d * keras.ops.log(safe_v))
    first = keras.ops.argmax(keras.ops.cast(accepted, "int32"))
    draw = d * keras.ops.take(safe_v, first)
    return draw * u[tries] ** (1.0 / alpha) if boost else draw


def _beta(alpha, key):
    """One Beta(alpha, alpha) draw: X / (X + Y) of two Gamma(alpha) draws."""
    x = _gamma(alpha, lambda salt: key(10 + salt))
    y = _gamma(alpha, lambda salt: key(20 + salt))
    return x / (x + y)


class BatchMixing:
    """MixUp or CutMix of each training batch with the batch reversed (timm's ``Mixup(mode="batch")``).

    Args:
        mixup_alpha: Beta(alpha, alpha) draws MixUp's ``lam``; 0 disables MixUp.
        cutmix_alpha: Beta(alpha, alpha) draws CutMix's box area; 0 disables CutMix.
        prob: the chance that a batch is mixed at all.
        switch_prob: with both on, the chance of CutMix rather than MixUp.
        stop_step: mix only batches before this step of the phase (None: all).
        seed: the random key's first half.

    Example:
        >>> mixing = BatchMixing(mixup_alpha=0.4, cutmix_alpha=0.0)
        >>> x, y = np.random.default_rng(0).uniform(size=(4, 8, 8, 3)), np.array([0, 1, 2, 3])
        >>> mixed, targets, lam = mixing.mix_batch(x, y, step=0, classes=4)
        >>> bool(np.allclose(mixed, lam * x + (1 - lam) * x[::-1], atol=1e-6)), targets.shape
        (True, (4, 4))
    """

    def __init__(self, mixup_alpha=0.8, cutmix_alpha=1.0, prob=1.0, switch_prob=0.5, stop_step=None, seed=0):
        for name, value in (("mixup_alpha", mixup_alpha), ("cutmix_alpha", cutmix_alpha)):
            checks.check_range(name, value, 0, float("inf"))
        if not (mixup_alpha or cutmix_alpha):
            raise ValueError("BatchMixing needs mixup_alpha > 0 or cutmix_alpha > 0. Received: both 0")
        self.mixup_alpha, self.cutmix_alpha = float(mixup_alpha), float(cutmix_alpha)
        self.prob = checks.check_range("mix_prob", prob, 0, 1, high_inclusive=True)
        self.switch_prob = checks.check_range("switch_prob", switch_prob, 0, 1, high_inclusive=True)
        self.stop_step = None if stop_step is None else int(stop_step)
        self.seed = int(seed)

    def _key(self, step, salt):
        key = keras.ops.stack([keras.ops.cast(self.seed * 1000 + salt, "int32"), keras.ops.cast(step, "int32")])
        return _KeySeed(keras.ops.cast(key, "uint32" if keras.backend.backend() == "jax" else "int32"))

    def draw(self, step, height, width):
        """The batch's draw at ``step``: ``(lam, use_cutmix, box)``, ``box = (y0, y1, x0, x1)``; lam is 1 when off."""
        u = keras.random.uniform((4,), seed=self._key(step, 0))
        apply = u[0] < self.prob
        if self.stop_step is not None:
            apply = keras.ops.logical_and(apply, keras.ops.cast(step, "int32") < self.stop_step)
        use_cutmix = u[1] < (self.switch_prob if self.mixup_alpha and self.cutmix_alpha else float(
            self.cutmix_alpha > 0))
        lam_mixup = _beta(self.mixup_alpha or 1.0, lambda salt: self._key(step, 100 + salt))
        lam_cutmix = _beta(self.cutmix_alpha or 1.0, lambda salt: self._key(step, 200 + salt))
        lam = keras.ops.where(apply, keras.ops.where(use_cutmix, lam_cutmix, lam_mixup), 1.0)
        # timm's rand_bbox: a box of side sqrt(1 - lam) times the image's around a uniform centre, clipped.
        ratio = keras.ops.sqrt(1.0 - lam)
        half_h = keras.ops.cast(keras.ops.floor(height * ratio), "int32") // 2
        half_w = keras.ops.cast(keras.ops.floor(width * ratio), "int32") // 2
        cy = keras.ops.cast(keras.ops.floor(u[2] * height), "int32")
        cx = keras.ops.cast(keras.ops.floor(u[3] * width), "int32")
        box = (keras.ops.clip(cy - half_h, 0, height), keras.ops.clip(cy + half_h, 0, height),
               keras.ops.clip(cx - half_w, 0, width), keras.ops.clip(cx + half_w, 0, width))
        return lam, use_cutmix, box

    def mix_images(self, images, step):
        """``(mixed images, lam)``: ``lam`` of each image is its own (CutMix's is the area left outside the box)."""
        images = keras.ops.convert_to_tensor(images)
        if not keras.backend.is_float_dtype(images.dtype):
            images = keras.ops.cast(images, "float32")
        height, width = images.shape[1], images.shape[2]
        lam, use_cutmix, (y0, y1, x0, x1) = self.draw(step, height, width)
        other = keras.ops.flip(images, axis=0)
        rows = keras.ops.arange(height)[:, None]
        cols = keras.ops.arange(width)[None, :]
        inside = (rows >= y0) & (rows < y1) & (cols >= x0) & (cols < x1)  # (H, W)
        cut = keras.ops.where(inside[None, :, :, None], other, images)
        area = keras.ops.cast((y1 - y0) * (x1 - x0), "float32") / float(height * width)
        weight = keras.ops.cast(lam, images.dtype)
        blend = weight * images + (1.0 - weight) * other
        mixed = keras.ops.where(use_cutmix, cut, blend)
        return mixed, keras.ops.where(use_cutmix, 1.0 - area, lam)

    def mix_batch(self, images, labels, step, classes):
        """``(mixed images, soft targets, lam)`` as the step at ``step`` mixes them (targets one-hot, mixed by lam)."""
        mixed, lam = self.mix_images(images, step)
        one_hot = keras.ops.one_hot(keras.ops.reshape(keras.ops.cast(labels, "int32"), (-1,)), classes)
        targets = lam * one_hot + (1.0 - lam) * keras.ops.flip(one_hot, axis=0)
        return (keras.ops.convert_to_numpy(mixed), keras.ops.convert_to_numpy(targets),
                float(keras.ops.convert_to_numpy(lam)))

    def mix_data(self, model, state, data):
        """For a model's ``train_step``: ``(mixed data, (other labels, lam))``.

        ``state`` is what the step got before ``data``: ``[]`` on TensorFlow, ``[state]`` on JAX.
        """
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        counter = _counter(model.optimizer)
        if state:  # JAX: the counter's value is in the optimizer variables of the step's state
            index = next(i for i, v in enumerate(model.optimizer.variables) if v is counter)
            step = state[0][2][index]
        else:
            step = counter.value
        x, lam = self.mix_images(x, step)
        return keras.utils.pack_x_y_sample_weight(x, y, sample_weight), (keras.ops.flip(y, axis=0), lam)

    def __repr__(self):
        return (f"BatchMixing(mixup_alpha={self.mixup_alpha:g}, cutmix_alpha={self.cutmix_alpha:g}, "
                f"prob={self.prob:g}, switch_prob={self.switch_prob:g}, stop_step={self.stop_step})")


class Mixing(Ingredient):
    """``Recipe(mixup_alpha=..., cutmix_alpha=...)``: both phases mix their training batches, but the last
    ``mix_off_epochs`` epochs of each (timm's ``mixup_off_epoch``: a few clean epochs at the end)."""

    settings = ("mixup_alpha", "cutmix_alpha", "mix_prob", "switch_prob", "mix_off_epochs")

    def check(self, recipe):
        for name in ("mixup_alpha", "cutmix_alpha"):
            checks.check_range(name, getattr(recipe, name), 0, float("inf"))
        for name in ("mix_prob", "switch_prob"):
            checks.check_range(name, getattr(recipe, name), 0, 1, high_inclusive=True)
        if recipe.mix_off_epochs != 0:
            checks.check_positive_int("mix_off_epochs", recipe.mix_off_epochs)

    def active(self, recipe):
        return bool(recipe.mixup_alpha or recipe.cutmix_alpha)

    def prepare(self, model, plan, phase):
        if not hasattr(model, "batch_mixing"):
            raise TypeError("MixUp and CutMix need a transfer.TransferModel (from transfer.attach_head). "
                            f"Received: {type(model).__name__}")
        recipe = plan.recipe
        stop = None
        if recipe.mix_off_epochs:
            stop = plan.steps_per_epoch * max(plan.epochs[phase - 1] - recipe.mix_off_epochs, 0)
        model.batch_mixing = BatchMixing(recipe.mixup_alpha, recipe.cutmix_alpha, recipe.mix_prob,
                                         recipe.switch_prob, stop_step=stop, seed=phase)

    def finish(self, model, plan):
        model.batch_mixing = None
