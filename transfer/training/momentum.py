"""Momentum that follows a schedule inside the compiled training step (fastai's one-cycle momentum).

Keras 3.15 schedules only the learning rate. Adam's ``beta_1`` and SGD's
``momentum`` are plain Python attributes that ``update_step`` reads while the
training step is traced: ``optimizer.beta_1 = 0.85`` after the first step
changes nothing in the compiled step (the old value is a constant in it;
``tests/test_transfer_schedules.py`` shows it), and on JAX a callback that
assigned a variable between steps would be lost too, since the step's state is
carried from step to step outside the variables. (Adam's docstring still
offers "a callable that takes no arguments"; its code casts the value with
``ops.cast``, which a callable fails.)

So the momentum must be computed *in* the step from the step counter.
:func:`cycle_momentum` returns a copy of the optimizer whose momentum
attribute is a property: ``cycle(optimizer.iterations)`` once the optimizer
is built (the float before). The step counter is an optimizer variable, so this
reads the step's own counter on TensorFlow (a variable read in the graph)
and on JAX (the value in the stateless scope of ``stateless_apply``). The
classes are registered, so a saved model with its optimizer loads back.

:func:`one_cycle_optimizer` puts an optimizer on fastai's whole cycle (the
rate and the momentum), and :class:`OneCycleIngredient` does it for each
phase of ``Recipe(schedule="one_cycle")``.
"""

import math
import numbers

import keras
from zoo import checks

from transfer.training.ingredient import Ingredient
from transfer.training.optimizers import DiscriminativeOptimizer
from transfer.training.schedules import OneCycle, cycle_shape

# The optimizers of keras.optimizers that have a momentum, and its attribute.
MOMENTUM_ATTRIBUTES = {"Adam": "beta_1", "AdamW": "beta_1", "Adamax": "beta_1", "Nadam": "beta_1",
                       "Lion": "beta_1", "SGD": "momentum"}


@keras.saving.register_keras_serializable(package="transfer")
class MomentumCycle:
    """fastai's momentum cycle: ``high`` -> ``low`` over ``pct_start`` of ``total_steps``, then back, cosine.

    Example:
        >>> cycle = MomentumCycle(total_steps=100)
        >>> [round(float(cycle(s)), 3) for s in (0, 25, 60, 100)]
        [0.95, 0.85, 0.895, 0.95]
    """

    def __init__(self, total_steps, pct_start=0.25, high=0.95, low=0.85):
        self.total_steps, self.pct_start, self.high, self.low = int(total_steps), float(pct_start), high, low

    def __call__(self, step):
        return cycle_shape(step, self.total_steps, self.pct_start, self.high, self.low, self.high)

    def get_config(self):
        return {"total_steps": self.total_steps, "pct_start": self.pct_start, "high": self.high, "low": self.low}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _sgd_update_step(self, gradient, variable, learning_rate):
    """SGD's momentum update (Keras's equations) without its ``if self.momentum != 0`` on a traced value."""
    learning_rate = keras.ops.cast(learning_rate, variable.dtype)
    gradient = keras.ops.cast(gradient, variable.dtype)
    m = self.momentums[self._get_variable_index(variable)]
    momentum = keras.ops.cast(self.momentum, variable.dtype)
    self.assign(m, keras.ops.subtract(keras.ops.multiply(m, momentum), keras.ops.multiply(gradient, learning_rate)))
    if self.nesterov:
        self.assign_add(variable, keras.ops.subtract(keras.ops.multiply(m, momentum),
                                                     keras.ops.multiply(gradient, learning_rate)))
    else:
        self.assign_add(variable, m)


def _cycled_class(base, attribute):
    """``base`` with ``attribute`` read from ``momentum_cycle(iterations)`` once built; registered for loading."""

    def get(self):
        cycle = self.__dict__.get("momentum_cycle")
        if cycle is None or not getattr(self, "built", False) or self.__dict__.get("_building"):
            # SGD's build asks whether momentum != 0: the configured float answers
            return self.__dict__.get(f"_{attribute}_value")
        # The counter the learning-rate schedule reads (Keras's ``_iterations``): with gradient accumulation,
        # ``iterations`` counts updates, and the momentum must stay in step with the rate.
        return cycle(self._iterations)

    def set(self, value):
        self.__dict__[f"_{attribute}_value"] = value

    def __init__(self, *args, momentum_cycle=None, **kwargs):
        base.__init__(self, *args, **kwargs)
        if isinstance(momentum_cycle, dict):
            momentum_cycle = keras.saving.deserialize_keras_object(momentum_cycle)
        self.__dict__["momentum_cycle"] = momentum_cycle

    def build(self, variables):
        self.__dict__["_building"] = True
        try:
            base.build(self, variables)
        finally:
            self.__dict__["_building"] = False

    def get_config(self):
        config = base.get_config(self)
        config[attribute] = self.__dict__[f"_{attribute}_value"]
        config["momentum_cycle"] = keras.saving.serialize_keras_object(self.__dict__.get("momentum_cycle"))
        return config

    name = f"Cycled{base.__name__}"
    members = {attribute: property(get, set), "__init__": __init__, "build": build, "get_config": get_config,
               "__doc__": f"{base.__name__} whose ``{attribute}`` follows ``momentum_cycle``.", "__module__": __name__}
    if base is keras.optimizers.SGD:  # only made for SGD with momentum (see momentum_attribute)
        members["update_step"] = _sgd_update_step
    cls = type(name, (base,), members)
    return keras.saving.register_keras_serializable(package="transfer", name=name)(cls)


CYCLED = {name: _cycled_class(getattr(keras.optimizers, name), attribute)
          for name, attribute in MOMENTUM_ATTRIBUTES.items()}


def momentum_attribute(optimizer):
    """The name of ``optimizer``'s momentum (``"beta_1"``, ``"momentum"``), or None if it has none to cycle.

    SGD has one only when built with ``momentum > 0``.

    Example:
        >>> momentum_attribute(keras.optimizers.Adam()), momentum_attribute(keras.optimizers.SGD())
        ('beta_1', None)
    """
    for cls in type(optimizer).__mro__:
        attribute = MOMENTUM_ATTRIBUTES.get(cls.__name__)
        if attribute and getattr(keras.optimizers, cls.__name__, None) is cls:
            value = optimizer.__dict__.get(f"_{attribute}_value", getattr(optimizer, attribute))
            return attribute if value else None
    return None


def cycle_momentum(optimizer, cycle):
    """A copy of ``optimizer`` (unbuilt) whose momentum follows ``cycle(step)``; unchanged if it has no momentum.

    ``cycle`` is a :class:`MomentumCycle` (or any serializable ``step -> value``).

    Example:
        >>> opt = cycle_momentum(keras.optimizers.Adam(1e-3), MomentumCycle(total_steps=100))
        >>> type(opt).__name__, opt.beta_1        # the configured value until built
        ('CycledAdam', 0.9)
    """
    attribute = momentum_attribute(optimizer)
    if attribute is None:
        return optimizer
    base = next(c for c in type(optimizer).__mro__ if c.__name__ in CYCLED and getattr(keras.optimizers, c.__name__)
                is c)
    config = optimizer.get_config()
    config.pop("momentum_cycle", None)
    return CYCLED[base.__name__].from_config({**config, "momentum_cycle": cycle})


def one_cycle_optimizer(optimizer, max_rate, total_steps, pct_start=0.25, div=25.0, div_final=1e5,
                        moms=(0.95, 0.85)):
    """A copy of ``optimizer`` (unbuilt) on fastai's one cycle: the :class:`OneCycle` rate, a cycled momentum.

    The momentum goes ``moms[0]`` -> ``moms[1]`` -> ``moms[0]`` (a :class:`MomentumCycle`).

    A :class:`~transfer.training.optimizers.DiscriminativeOptimizer` is rebuilt
    around its cycled inner optimizer, so each group's copy follows the cycle at its multiple.

    Example:
        >>> opt = one_cycle_optimizer(keras.optimizers.SGD(momentum=0.9), 1e-2, total_steps=100)
        >>> type(opt).__name__, opt.get_config()["learning_rate"]["class_name"]
        ('CycledSGD', 'OneCycle')
    """
    if isinstance(optimizer, DiscriminativeOptimizer):
        inner = one_cycle_optimizer(optimizer.inner_optimizer, max_rate, total_steps, pct_start, div, div_final,
                                    moms)
        return DiscriminativeOptimizer(inner, optimizer.multipliers, default=optimizer.default,
                                       loss_scale_factor=optimizer.loss_scale_factor, name=optimizer.name)
    optimizer = keras.optimizers.get(optimizer)
    rate = OneCycle(max_rate, total_steps, pct_start, div, div_final)
    config = {**optimizer.get_config(), "learning_rate": keras.saving.serialize_keras_object(rate)}
    optimizer = type(optimizer).from_config(config)
    high, low = moms
    return cycle_momentum(optimizer, MomentumCycle(total_steps, pct_start, high=high, low=low))


def _per_phase(value, phase):
    return value[phase - 1] if isinstance(value, (tuple, list)) else value


class OneCycleIngredient(Ingredient):
    """``Recipe(schedule="one_cycle")``: each phase on fastai's one cycle (rate and momentum)."""

    settings = ("pct_start", "div", "div_final", "moms")

    def check(self, recipe):
        for phase in (1, 2):
            checks.check_range("pct_start", _per_phase(recipe.pct_start, phase), 0, 1)
            checks.check_range("div", _per_phase(recipe.div, phase), 1, math.inf)
        checks.check_range("div_final", recipe.div_final, 1, math.inf)
        moms = recipe.moms
        if not (isinstance(moms, (tuple, list)) and len(moms) == 2 and all(0 <= m < 1 for m in moms)):
            raise ValueError(f"`moms` must be a (high, low) pair of momenta in [0, 1). Received: moms={moms!r}")
        if recipe.schedule == "one_cycle" and not all(isinstance(r, numbers.Real) for r in recipe.learning_rate):
            raise ValueError("schedule='one_cycle' needs numbers as learning rates (the peaks). "
                             f"Received: learning_rate={recipe.learning_rate!r}")

    def active(self, recipe):
        return recipe.schedule == "one_cycle"

    def optimizer(self, optimizer, plan, phase):
        recipe = plan.recipe
        return one_cycle_optimizer(optimizer, recipe.learning_rate[phase - 1],
                                   plan.steps_per_epoch * plan.epochs[phase - 1], _per_phase(recipe.pct_start, phase),
                                   _per_phase(recipe.div, phase), recipe.div_final, tuple(recipe.moms))
