"""A fine-tuning recipe: everything that defines a two-phase run, as one frozen value.

:class:`Recipe` holds what decides the training (epochs and learning rates
per phase, where phase 2 unfreezes, whether BatchNorm trains, the rate decay
across groups, the optimizer, the schedule, early stopping, the loss and
metrics), not where it runs (data, folders, verbosity, devices). Its
:meth:`Recipe.config` is what a checkpoint folder records, so a run resumes
only with the recipe it started with. Recipes are values: share one between
runs, and derive variants with :meth:`Recipe.replace`.

Example:
    >>> recipe = Recipe(epochs=(3, 5), learning_rate=(1e-3, 1e-4), unfreeze_from="conv5", lr_decay=0.3)
    >>> recipe.replace(schedule="cosine").schedule, recipe.epochs
    ('cosine', (3, 5))
    >>> Recipe(epochs=(3, -1))
    Traceback (most recent call last):
    ...
    ValueError: `epochs` must be a positive integer. Received: epochs=-1
"""

import dataclasses
import numbers
from typing import Any, Optional, Tuple

from zoo import checks

from transfer.training.ingredients import check_all
from transfer.training.plan import Plan
from transfer.training.run_state import describe
from transfer.training.schedules import SCHEDULES

MODES = ("auto", "min", "max")
# What a run saved before a setting existed did, where that is not the setting's default now.
PREDATING = {"carry_best": False}


def _per_phase(value, name):
    """One value for both phases, or a (phase 1, phase 2) pair."""
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(pair) != 2:
        raise ValueError(f"`{name}` must be one value or a (phase 1, phase 2) pair. Received: {name}={value!r}")
    return pair


def _epoch_count(value, name):
    """A non-negative epoch count (0 skips the phase)."""
    if value == 0:
        return 0
    return checks.check_positive_int(name, value)


@dataclasses.dataclass(frozen=True)
class Recipe:
    """The two-phase fine-tuning recipe of :func:`transfer.fine_tune`.

    The defaults were chosen by measurement on real ImageNet weights
    (BENCHMARKS.md, "Fine-tuning on real ImageNet weights"): phase 1 trains
    the head until the validation loss stops improving (up to 50 epochs,
    patience 5), as long as a head on frozen features would train; phase 2
    unfreezes the last group at a tenth of the rate for up to 5 epochs and
    is kept only where it beats phase 1 on validation (``carry_best``). On
    three small real tasks this matched or beat a head on frozen features
    on every seed, and beat the Keras guide's recipe. Without validation
    data early stopping watches the training loss, which keeps falling:
    pass ``epochs`` then.

    Attributes:
        epochs: one value or a (phase 1, phase 2) pair; a phase with 0
            epochs is skipped.
        learning_rate: one value or a (phase 1, phase 2) pair.
        unfreeze_from: group, layer name or index where phase 2 unfreezes
            (see :func:`transfer.unfreeze`); None: the last group.
        train_bn: let phase 2 train the unfrozen BatchNorm layers.
        lr_decay: discriminative rates in phase 2: the last group gets
            ``learning_rate[1]``, each earlier one ``lr_decay`` times that
            (the head keeps the full rate). None: one rate.
        optimizer: a Keras optimizer name, or a function ``lr -> optimizer``.
        schedule: ``"constant"``, ``"cosine"`` (per phase: linear warmup
            over ``warmup`` of its steps, then cosine decay to 0) or
            ``"one_cycle"`` (per phase, fastai's ``fit_one_cycle``: the rate
            from ``learning_rate / div`` up to ``learning_rate`` over ``pct_start``
            of the steps, then down to ``learning_rate / div_final``, cosine
            both ways; the momentum (Adam's ``beta_1``, SGD's ``momentum``)
            from ``moms[0]`` down to ``moms[1]`` and back).
        warmup: the warmup share of each phase's steps with ``"cosine"``.
        patience: EarlyStopping's patience per phase (best weights restored);
            None: no early stopping.
        monitor: the quantity early stopping and the best checkpoint watch;
            None: ``"val_loss"`` with validation data, else ``"loss"``.
        mode: ``"auto"``, ``"min"`` or ``"max"``: EarlyStopping's own mode,
            which also decides what the best checkpoint is.
        carry_best: phase 2's early stopping starts from phase 1's best
            monitored value and weights, so a phase 2 that never beats
            phase 1 returns phase 1's model (with ``patience`` set).
        loss, metrics: None: from the head kind (cross-entropy with accuracy,
            or mse with mae for regression).
        pct_start, div: one value or a (phase 1, phase 2) pair; ``div_final``,
            ``moms``: the one-cycle schedule's shape (fastai's defaults; its
            ``fine_tune`` uses ``pct_start=(0.99, 0.3), div=(25, 5)``).
        label_smoothing: cross-entropy against ``(1 - e) * y + e / classes``
            (integer labels too).
        weight_decay: decoupled decay (``w -= lr * weight_decay * w``, AdamW's
            rule) of every weight but the biases and normalization parameters.
        accumulate: update once per ``accumulate`` batches with their mean
            gradient (BatchNorm still normalizes each batch on its own).
        mixup_alpha, cutmix_alpha, mix_prob, switch_prob: MixUp and CutMix in
            the training step (timm's ``Mixup``): a batch is mixed with
            chance ``mix_prob``, by CutMix with chance ``switch_prob`` when
            both alphas are above 0. 0 and 0: no mixing.
        mix_off_epochs: the last epochs of each phase train on clean batches.
        ema: the decay of an average of all the weights, BatchNorm statistics
            included, kept through both phases; validation, checkpoints and
            the trained model use the average
            (:class:`~transfer.training.ema.WeightAveraging`). None: off.
        ema_warmup: warm the average's decay up as timm does (``1 - (1 +
            step) ** -2/3``, capped at ``ema``).

    Example:
        >>> Recipe(epochs=4).epochs
        (4, 4)
        >>> Recipe().replace(optimzer="sgd")
        Traceback (most recent call last):
        ...
        TypeError: Recipe has no setting 'optimzer'. Did you mean: optimizer, ...? Settings: epochs, ...
    """

    epochs: Tuple[int, int] = (50, 5)
    learning_rate: Tuple[float, float] = (1e-3, 1e-4)
    unfreeze_from: Any = None
    train_bn: bool = False
    lr_decay: Optional[float] = None
    optimizer: Any = "adam"
    schedule: str = "constant"
    warmup: float = 0.1
    patience: Optional[int] = 5
    monitor: Optional[str] = None
    mode: str = "auto"
    carry_best: bool = True
    loss: Any = None
    metrics: Any = None
    # The ingredients' settings (transfer/training/ingredients.py); each default leaves the run as it was.
    pct_start: Any = 0.25
    div: Any = 25.0
    div_final: float = 1e5
    moms: Tuple[float, float] = (0.95, 0.85)
    label_smoothing: float = 0.0
    weight_decay: float = 0.0
    accumulate: int = 1
    mixup_alpha: float = 0.0
    cutmix_alpha: float = 0.0
    mix_prob: float = 1.0
    switch_prob: float = 0.5
    mix_off_epochs: int = 0
    ema: Optional[float] = None
    ema_warmup: bool = True

    def __post_init__(self):
        set_ = object.__setattr__  # frozen: normalise once, here
        set_(self, "epochs", tuple(_epoch_count(e, "epochs") for e in _per_phase(self.epochs, "epochs")))
        rates = _per_phase(self.learning_rate, "learning_rate")
        for rate in rates:  # a number > 0, or a Keras schedule
            if isinstance(rate, bool) or (isinstance(rate, numbers.Real) and not rate > 0):
                raise ValueError(f"`learning_rate` must be positive. Received: learning_rate={self.learning_rate!r}")
        set_(self, "learning_rate", rates)
        checks.check_choice("schedule", self.schedule, SCHEDULES)
        checks.check_choice("mode", self.mode, MODES)
        if self.lr_decay is not None:
            checks.check_range("lr_decay", self.lr_decay, 0, 1, low_inclusive=False, high_inclusive=True)
        if self.patience is not None:
            _epoch_count(self.patience, "patience")
        if isinstance(self.metrics, (list, tuple)):
            set_(self, "metrics", tuple(self.metrics))
        check_all(self)  # each ingredient checks the settings it owns

    @classmethod
    def settings(cls):
        """The names a recipe has (and :func:`transfer.fine_tune` takes as overrides)."""
        return tuple(f.name for f in dataclasses.fields(cls))

    def replace(self, **changes):
        """A copy with ``changes``; an unknown name is a TypeError that lists the settings."""
        for name in changes:
            if name not in self.settings():
                hint = checks.close_matches(name, self.settings()).strip()
                raise TypeError(f"Recipe has no setting {name!r}.{' ' + hint if hint else ''} "
                                f"Settings: {', '.join(self.settings())}")
        return dataclasses.replace(self, **changes)

    def resolve(self, model, train=None, validation=None, batch_size=32, has_validation=None):
        """This recipe for ``model`` and its data: a :class:`~transfer.training.plan.Plan`.

        The settings left as None take their value from the model and data: the
        loss and metrics from the head kind, the monitored quantity from whether
        there is validation data (``has_validation``, default: ``validation`` is
        not None), the unfreeze point from the last layer group.

        Example:
            >>> model = transfer.attach_head(transfer.load_backbone("cnn_mnist", weights=None), 1)
            >>> plan = Recipe().resolve(model, has_validation=True)
            >>> plan.loss, plan.metrics, plan.monitor
            ('binary_crossentropy', ('accuracy',), 'val_loss')
        """
        has_validation = validation is not None if has_validation is None else has_validation
        return Plan.resolve(self, model, train, has_validation, batch_size)

    def config(self):
        """The recipe as JSON-able data: what a checkpoint folder records to recognise its run."""
        return {name: describe(getattr(self, name)) for name in self.settings()}
