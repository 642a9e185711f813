"""Label smoothing for integer labels, decoupled weight decay without norms and biases, gradient accumulation.

Each is Keras's own part, made to fit a fine-tuning run:

- Keras's ``SparseCategoricalCrossentropy`` has no ``label_smoothing``;
  :class:`SmoothedCrossentropy` one-hot encodes integer labels inside the loss
  and hands them to ``keras.losses.categorical_crossentropy``, which smooths
  (``y * (1 - e) + e / classes``). :func:`smoothed_loss` picks the smoothing
  loss for a head's loss (binary and categorical cross-entropy have their own).
- Keras optimizers decay decoupled from the gradient (``w -= lr * wd * w`` beside
  the update, AdamW's rule) with ``weight_decay``, and skip the variables given
  to ``exclude_from_weight_decay``. :func:`with_weight_decay` sets both; the
  excluded variables are timm's choice: every variable of one dimension or
  less, which in a CNN is exactly the biases and the normalization layers'
  scales and offsets (BatchNorm, LayerNorm, GroupNorm).
- ``gradient_accumulation_steps=N`` (:func:`with_gradient_accumulation`) adds
  the gradients of N micro-batches and updates once with their mean. The
  forward passes stay per micro-batch: BatchNorm normalizes each micro-batch
  with its own statistics and updates its moving averages N times per update,
  so a BatchNorm model is *not* the same as training at N times the batch;
  a model without BatchNorm (or with it frozen) is, up to float rounding.
  The optimizer's ``iterations`` then counts updates; learning-rate schedules
  still count micro-batches.

:class:`LabelSmoothing`, :class:`WeightDecay` and :class:`GradientAccumulation`
are the recipe's ingredients (``label_smoothing``, ``weight_decay``, ``accumulate``).
Both optimizer functions set an unbuilt optimizer in place; a
:class:`~transfer.training.optimizers.DiscriminativeOptimizer` is set in every
group's copy (Keras's ``MultiOptimizer`` lets each copy apply its own
updates, so each decays and accumulates).
"""

import math

import keras
from zoo import checks

from transfer.training.ingredient import Ingredient
from transfer.training.optimizers import DiscriminativeOptimizer

SMOOTHABLE = ("sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy")


@keras.saving.register_keras_serializable(package="transfer")
class SmoothedCrossentropy(keras.losses.Loss):
    """Categorical cross-entropy with label smoothing that takes integer labels (or one-hot/soft targets).

    Integer labels ``(batch,)`` or ``(batch, 1)`` are one-hot encoded to the
    prediction's width; targets already as wide as the prediction pass as they are.

    Example:
        >>> loss = SmoothedCrossentropy(label_smoothing=0.1)
        >>> p = np.array([[0.7, 0.2, 0.1]])
        >>> expected = -(0.9 + 0.1 / 3) * np.log(0.7) - 0.1 / 3 * np.log(0.2) - 0.1 / 3 * np.log(0.1)
        >>> bool(abs(float(loss(np.array([0]), p)) - expected) < 1e-6)
        True
    """

    def __init__(self, label_smoothing=0.0, from_logits=False, reduction="sum_over_batch_size",
                 name="smoothed_crossentropy", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if isinstance(label_smoothing, bool) or not 0 <= label_smoothing < 1:
            raise ValueError(f"`label_smoothing` must be in [0, 1). Received: label_smoothing={label_smoothing!r}")
        self.label_smoothing = float(label_smoothing)
        self.from_logits = bool(from_logits)

    def call(self, y_true, y_pred):
        y_pred = keras.ops.convert_to_tensor(y_pred)
        y_true = keras.ops.convert_to_tensor(y_true)
        classes = y_pred.shape[-1]
        soft = len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == classes and classes != 1
        if not soft:
            labels = keras.ops.reshape(keras.ops.cast(y_true, "int32"), (-1,))
            y_true = keras.ops.one_hot(labels, classes, dtype=y_pred.dtype)
        return keras.losses.categorical_crossentropy(keras.ops.cast(y_true, y_pred.dtype), y_pred,
                                                     from_logits=self.from_logits,
                                                     label_smoothing=self.label_smoothing)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing, "from_logits": self.from_logits}


def _loss_name(loss):
    """The snake-case name of a Keras cross-entropy given as a string, class instance or function."""
    if isinstance(loss, str):
        return loss
    if isinstance(loss, keras.losses.Loss):
        return {"SparseCategoricalCrossentropy": "sparse_categorical_crossentropy",
                "CategoricalCrossentropy": "categorical_crossentropy",
                "BinaryCrossentropy": "binary_crossentropy"}.get(type(loss).__name__)
    return getattr(loss, "__name__", None)


def smoothed_loss(loss, label_smoothing):
    """``loss`` (a head's cross-entropy) with ``label_smoothing``; ``loss`` itself when the smoothing is 0.

    Sparse categorical becomes :class:`SmoothedCrossentropy`; categorical and
    binary cross-entropy take Keras's own ``label_smoothing`` (binary
    smooths towards 0.5). ``from_logits`` is kept. Any other loss is a ValueError.

    Example:
        >>> smoothed_loss("sparse_categorical_crossentropy", 0.1).get_config()["label_smoothing"]
        0.1
        >>> type(smoothed_loss("binary_crossentropy", 0.1)).__name__
        'BinaryCrossentropy'
    """
    if not label_smoothing:
        return loss
    name = _loss_name(loss)
    if name not in SMOOTHABLE:
        raise ValueError(f"Label smoothing needs a cross-entropy loss ({', '.join(SMOOTHABLE)}). "
                         f"Received: loss={loss!r}")
    from_logits = bool(loss.get_config().get("from_logits", False)) if isinstance(loss, keras.losses.Loss) \
        else False
    if name == "sparse_categorical_crossentropy":
        return SmoothedCrossentropy(label_smoothing, from_logits=from_logits)
    cls = keras.losses.CategoricalCrossentropy if name == "categorical_crossentropy" \
        else keras.losses.BinaryCrossentropy
    return cls(label_smoothing=label_smoothing, from_logits=from_logits)


def _unbuilt_parts(optimizer, setting):
    """The optimizers that update variables (each group's copy of a DiscriminativeOptimizer), all unbuilt."""
    optimizer = keras.optimizers.get(optimizer)
    parts = list(optimizer.copies) if isinstance(optimizer, DiscriminativeOptimizer) else [optimizer]
    if any(part.built for part in [optimizer, *parts]):
        raise ValueError(f"`{setting}` must be set before the optimizer is built (before its first step). "
                         f"Received: a built {type(optimizer).__name__}")
    return optimizer, parts


def no_decay_variables(model):
    """The variables weight decay leaves alone: one dimension or less (biases, norm scales and offsets).

    Example:
        >>> model = transfer.attach_head(transfer.load_backbone("resnet20", weights=None), 10)
        >>> sorted({v.name for v in no_decay_variables(model)})
        ['beta', 'bias', 'gamma', 'moving_mean', 'moving_variance']
    """
    return [v for v in model.weights if len(v.shape) <= 1]


def with_weight_decay(optimizer, weight_decay, model):
    """``optimizer`` (unbuilt; set in place, returned) with decoupled ``weight_decay``; norms and biases spared.

    Args:
        optimizer: a Keras optimizer (name or instance) or a DiscriminativeOptimizer.
        weight_decay: the decay per step, times the learning rate (Keras's and
            AdamW's convention: ``w -= lr * weight_decay * w``).
        model: the model whose variables the optimizer will update.

    Example:
        >>> model = transfer.attach_head(transfer.load_backbone("cnn_mnist", weights=None), 10)
        >>> opt = with_weight_decay(keras.optimizers.Adam(1e-3), 0.05, model)
        >>> opt.weight_decay, opt._use_weight_decay(model.get_layer("predictions").bias)
        (0.05, False)
    """
    if isinstance(weight_decay, bool) or not isinstance(weight_decay, (int, float)) or weight_decay < 0:
        raise ValueError(f"`weight_decay` must be a number >= 0. Received: weight_decay={weight_decay!r}")
    if not weight_decay:
        return optimizer
    optimizer, parts = _unbuilt_parts(optimizer, "weight_decay")
    excluded = no_decay_variables(model)
    for part in parts:
        part.weight_decay = float(weight_decay)  # read at each step: setting it before the build is enough
        part.exclude_from_weight_decay(var_list=excluded)
    return optimizer


def with_gradient_accumulation(optimizer, steps):
    """``optimizer`` (unbuilt; set in place, returned) updating once per ``steps`` batches, with their mean gradient.

    ``steps`` of 1 returns ``optimizer`` unchanged. See the module's note on BatchNorm.

    Example:
        >>> with_gradient_accumulation(keras.optimizers.SGD(0.1), 4).gradient_accumulation_steps
        4
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"`accumulate` must be a positive integer. Received: accumulate={steps!r}")
    if steps == 1:
        return optimizer
    optimizer, parts = _unbuilt_parts(optimizer, "accumulate")
    for part in parts:
        part.gradient_accumulation_steps = steps  # read when it builds (the accumulators) and at each step
    return optimizer


class LabelSmoothing(Ingredient):
    """``Recipe(label_smoothing=e)``: both phases' cross-entropy smooths its targets by ``e``."""

    settings = ("label_smoothing",)

    def check(self, recipe):
        checks.check_range("label_smoothing", recipe.label_smoothing, 0, 1)

    def active(self, recipe):
        return recipe.label_smoothing > 0

    def loss(self, loss, plan):
        return smoothed_loss(loss, plan.recipe.label_smoothing)


class WeightDecay(Ingredient):
    """``Recipe(weight_decay=w)``: decoupled decay of every weight but biases and norm parameters, both phases."""

    settings = ("weight_decay",)

    def check(self, recipe):
        checks.check_range("weight_decay", recipe.weight_decay, 0, math.inf)

    def active(self, recipe):
        return recipe.weight_decay > 0

    def optimizer(self, optimizer, plan, phase):
        return with_weight_decay(optimizer, plan.recipe.weight_decay, plan.model)


class GradientAccumulation(Ingredient):
    """``Recipe(accumulate=n)``: one update per ``n`` batches, with their mean gradient (BatchNorm: see above)."""

    settings = ("accumulate",)

    def check(self, recipe):
        checks.check_positive_int("accumulate", recipe.accumulate)

    def active(self, recipe):
        return recipe.accumulate > 1

    def optimizer(self, optimizer, plan, phase):
        return with_gradient_accumulation(optimizer, plan.recipe.accumulate)
