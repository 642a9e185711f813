"""A recipe resolved against one model and its data: what each phase of :func:`transfer.fine_tune` does.

:meth:`transfer.Recipe.resolve` makes a :class:`Plan`. The recipe leaves some
settings to the model and data (the loss and metrics follow the head kind,
the monitored quantity follows whether there is validation data, phase 2
unfreezes the last layer group); the plan decides them once, and is the one
place the run's record (what a checkpoint folder's ``state.json`` keeps to
recognise its run) is built.

Example:
    >>> model = transfer.attach_head(transfer.load_backbone("resnet20", weights=None), 10)
    >>> plan = transfer.Recipe(epochs=(2, 1)).resolve(model, has_validation=False)
    >>> plan.loss, plan.monitor, plan.unfreeze_from
    ('sparse_categorical_crossentropy', 'loss', 'conv4')
    >>> plan.record()["epochs"], plan.describe(1)
    ([2, 1], 'head only, backbone frozen, learning rate 0.001')
"""

import dataclasses
import functools
from typing import Any

import keras

from transfer.model.backbone import head_kind
from transfer.model.freezing import freeze, unfreeze
from transfer.model.groups import layer_groups
from transfer.model.head_kinds import HEAD_KINDS
from transfer.training.optimizers import DiscriminativeOptimizer, group_multipliers
from transfer.training.run_state import describe
from transfer.training.schedules import phase_learning_rate, steps_per_epoch


def make_optimizer(optimizer, learning_rate):
    """A Keras optimizer at ``learning_rate`` (a number or a schedule): by name, or ``optimizer(lr)``."""
    if callable(optimizer) and not isinstance(optimizer, str):
        return optimizer(learning_rate)
    return keras.optimizers.get({"class_name": optimizer, "config": {"learning_rate": learning_rate}})


@dataclasses.dataclass(frozen=True)
class Plan:
    """The run :func:`transfer.fine_tune` carries out: a recipe, the model, and what they decide together.

    Attributes:
        recipe: the :class:`~transfer.Recipe`.
        model: the model being trained.
        loss, metrics: the recipe's, else the head kind's.
        monitor: the recipe's, else ``"val_loss"`` with validation data, ``"loss"`` without.
        unfreeze_from: where phase 2 unfreezes (the recipe's, else the last group).
        train: the training data (numpy ``(x, y)`` or a batched dataset), for the steps per epoch.
        batch_size: the batch size of numpy data (None for a dataset, which is batched already).
    """

    recipe: Any
    model: Any
    loss: Any
    metrics: tuple
    monitor: str
    unfreeze_from: Any
    train: Any = None
    batch_size: Any = None

    @classmethod
    def resolve(cls, recipe, model, train=None, has_validation=True, batch_size=32):
        """What ``recipe`` means for ``model`` and its data (see :meth:`transfer.Recipe.resolve`)."""
        loss, metrics = recipe.loss, recipe.metrics
        if loss is None or metrics is None:
            kind = HEAD_KINDS[head_kind(model)]
            loss, metrics = loss or kind.loss, kind.metrics if metrics is None else metrics
        monitor = recipe.monitor or ("val_loss" if has_validation else "loss")
        unfreeze_from = recipe.unfreeze_from
        if unfreeze_from is None:
            unfreeze_from = [g for g in layer_groups(model) if g != "head"][-1]
        numpy_data = train is None or isinstance(train, (tuple, list))
        plan = cls(recipe, model, loss, tuple(metrics), monitor, unfreeze_from, train,
                   batch_size if numpy_data else None)
        if recipe.schedule != "constant" and train is not None:
            plan.steps_per_epoch  # noqa: B018  (a dataset of unknown length fails here, before anything runs)
        return plan

    def fit_data(self, validation):
        """``fit``'s data arguments: numpy ``(x, y)`` batched at :attr:`batch_size`, or the dataset itself."""
        train = self.train
        data = dict(x=train[0], y=train[1], batch_size=self.batch_size) if isinstance(train, tuple) else dict(x=train)
        data["validation_data"] = tuple(validation) if isinstance(validation, (tuple, list)) else validation
        return data

    @property
    def epochs(self):
        """The planned epochs of phase 1 and phase 2."""
        return self.recipe.epochs

    @functools.cached_property
    def steps_per_epoch(self):
        """Optimizer steps per epoch (a clear error for a dataset that does not know its length)."""
        return steps_per_epoch(self.train, self.batch_size)

    def record(self):
        """What the run is, as a checkpoint folder records it: the recipe as it resolves for this model and data."""
        resolved = describe(dict(unfreeze_from=self.unfreeze_from, loss=self.loss, metrics=list(self.metrics),
                                 monitor=self.monitor))
        return {**self.recipe.config(), **resolved, "batch_size": self.batch_size}

    def describe(self, phase):
        """One line saying what ``phase`` trains and how fast (the command line prints it)."""
        rate = self.recipe.learning_rate[phase - 1]
        if phase == 1:
            return f"head only, backbone frozen, learning rate {rate:g}"
        extra = f", learning rate x{self.recipe.lr_decay:g} per earlier group" if self.recipe.lr_decay else ""
        return f"unfrozen from {self.unfreeze_from!r}, train_bn={self.recipe.train_bn}, learning rate {rate:g}{extra}"

    def set_trainable(self, phase):
        """Phase 1 trains the head on a frozen backbone; phase 2 unfreezes from :attr:`unfreeze_from`."""
        if phase == 1:
            freeze(self.model)
        else:
            unfreeze(self.model, self.unfreeze_from, train_bn=self.recipe.train_bn)

    def optimizer(self, phase):
        """A fresh optimizer for ``phase``: its rate and schedule, and in phase 2 the rate decay across groups."""
        recipe = self.recipe
        steps = None if recipe.schedule == "constant" else self.steps_per_epoch * recipe.epochs[phase - 1]
        rate = phase_learning_rate(recipe.learning_rate[phase - 1], recipe.schedule, steps, recipe.warmup)
        optimizer = make_optimizer(recipe.optimizer, rate)
        if phase == 2 and recipe.lr_decay:  # after set_trainable: the groups that learn are known
            optimizer = DiscriminativeOptimizer(optimizer, group_multipliers(self.model, decay=recipe.lr_decay))
        return optimizer
