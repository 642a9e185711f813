"""Learning-rate schedules for fine-tuning: warmup then cosine decay, fastai's one cycle, and a scaled schedule.

Each phase of :func:`transfer.fine_tune` compiles a fresh optimizer, so a
schedule runs over one phase: ``warmup_cosine`` ramps linearly up to the phase's
rate over the first ``warmup`` share of its steps, then follows
Keras's cosine decay to 0 (``keras.optimizers.schedules.CosineDecay`` with
``warmup_target``/``warmup_steps``). ``one_cycle`` is fastai's
``fit_one_cycle`` (:class:`OneCycle`): cosine up from ``max/div`` to the
phase's rate over ``pct_start`` of the steps, then cosine down to
``max/div_final``; :mod:`transfer.training.momentum` cycles the momentum the
other way. :class:`ScaledSchedule` multiplies any
schedule by a constant: that is how each layer group's optimizer of a
:class:`transfer.DiscriminativeOptimizer` follows the same shape at its own
rate.
"""

import math

import keras
from zoo import checks

SCHEDULES = ("constant", "cosine", "one_cycle")


def warmup_cosine(learning_rate, total_steps, warmup=0.1):
    """Linear warmup to ``learning_rate`` over ``warmup`` of ``total_steps``, then cosine decay to 0.

    With ``w`` warmup steps, step ``s < w`` uses ``(s + 1) / (w + 1)`` of the
    rate: the first step already learns (a phase of a few-shot run may have
    only a few dozen steps).

    Example:
        >>> lr = warmup_cosine(1e-3, total_steps=100, warmup=0.1)
        >>> [round(float(lr(s)), 6) for s in (0, 4, 10, 55, 100)]
        [9.1e-05, 0.000455, 0.001, 0.0005, 0.0]
    """
    total_steps = checks.check_positive_int("total_steps", total_steps)
    checks.check_range("warmup", warmup, 0, 1, high_inclusive=False)
    warmup_steps = int(math.ceil(warmup * total_steps)) if warmup else 0
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=float(learning_rate) / (warmup_steps + 1),
        decay_steps=max(total_steps - warmup_steps, 1), alpha=0.0,
        warmup_target=float(learning_rate) if warmup_steps else None, warmup_steps=warmup_steps)


def phase_learning_rate(learning_rate, schedule, total_steps, warmup=0.1):
    """What one phase's optimizer gets: the constant ``learning_rate``, a :func:`warmup_cosine` or a :class:`OneCycle`.

    ``warmup`` is the warmup share of ``"cosine"``; ``"one_cycle"`` takes
    fastai's defaults (:class:`OneCycle` built directly sets the others).

    Example:
        >>> phase_learning_rate(1e-3, "constant", 50)
        0.001
        >>> type(phase_learning_rate(1e-3, "cosine", 50)).__name__
        'CosineDecay'
        >>> phase_learning_rate(1e-3, "one_cycle", 50)
        OneCycle(max_rate=0.001, total_steps=50, pct_start=0.25, div=25.0, div_final=100000.0)
    """
    checks.check_choice("schedule", schedule, SCHEDULES)
    if schedule == "constant":
        return learning_rate
    if schedule == "one_cycle":
        return OneCycle(learning_rate, total_steps)
    return warmup_cosine(learning_rate, total_steps, warmup)


def _cosine(start, end, fraction):
    """From ``start`` to ``end`` along half a cosine, at ``fraction`` (0..1) of the way (fastai's ``SchedCos``)."""
    return end + (start - end) / 2 * (1 + keras.ops.cos(math.pi * fraction))


def cycle_shape(step, total_steps, pct_start, start, peak, end):
    """fastai's one cycle at ``step``: cosine ``start`` -> ``peak`` over ``pct_start`` of the steps, then -> ``end``.

    Written in ``keras.ops`` on a step tensor, so a compiled training step evaluates it.

    Example:
        >>> [round(float(cycle_shape(s, 100, 0.25, 0.95, 0.85, 0.95)), 4) for s in (0, 25, 100)]
        [0.95, 0.85, 0.95]
    """
    step = keras.ops.cast(step, "float32")
    warm = max(float(total_steps) * pct_start, 1.0)
    rising = _cosine(start, peak, keras.ops.minimum(step / warm, 1.0))
    falling = _cosine(peak, end, keras.ops.clip((step - warm) / max(float(total_steps) - warm, 1.0), 0.0, 1.0))
    return keras.ops.where(step < warm, rising, falling)


@keras.saving.register_keras_serializable(package="transfer")
class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """fastai's ``fit_one_cycle`` rate: ``max_rate / div`` -> ``max_rate`` -> ``max_rate / div_final``, cosine.

    The first ``pct_start`` of ``total_steps`` warm up, the rest anneal;
    steps past ``total_steps`` stay at the final rate. fastai's defaults:
    ``pct_start=0.25, div=25, div_final=1e5`` (its ``fine_tune`` runs the
    frozen phase with ``pct_start=0.99`` and the unfrozen one with ``pct_start=0.3, div=5``).

    Example:
        >>> lr = OneCycle(1e-2, total_steps=100)
        >>> [round(float(lr(s)), 7) for s in (0, 25, 100)]
        [0.0004, 0.01, 1e-07]
    """

    def __init__(self, max_rate, total_steps, pct_start=0.25, div=25.0, div_final=1e5):
        self.max_rate = float(max_rate)
        self.total_steps = checks.check_positive_int("total_steps", total_steps)
        self.pct_start = checks.check_range("pct_start", pct_start, 0, 1)
        self.div = checks.check_range("div", div, 1, math.inf)
        self.div_final = checks.check_range("div_final", div_final, 1, math.inf)

    def __call__(self, step):
        return cycle_shape(step, self.total_steps, self.pct_start, self.max_rate / self.div, self.max_rate,
                           self.max_rate / self.div_final)

    def get_config(self):
        return {"max_rate": self.max_rate, "total_steps": self.total_steps, "pct_start": self.pct_start,
                "div": self.div, "div_final": self.div_final}

    def __repr__(self):
        return f"OneCycle({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


def steps_per_epoch(train, batch_size):
    """Optimizer steps in one epoch over ``train``: ``(x, y)`` arrays at ``batch_size``, or a batched tf.data.

    Example:
        >>> steps_per_epoch((np.zeros((100, 2)), np.zeros(100)), 32)
        4
    """
    if isinstance(train, (tuple, list)):
        return int(math.ceil(len(train[0]) / batch_size))
    cardinality = getattr(train, "cardinality", None)
    steps = int(cardinality()) if cardinality else -1
    if steps <= 0:  # tf.data's INFINITE (-1) and UNKNOWN (-2), or an empty dataset
        raise ValueError(
            "A learning-rate schedule needs the number of batches per epoch, and this dataset does not "
            "know it (after filter() or from a generator). Use schedule='constant', or give the dataset "
            f"its length with dataset.apply(tf.data.experimental.assert_cardinality(n)). Received: "
            f"cardinality={steps}")
    return steps


@keras.saving.register_keras_serializable(package="transfer")
class ScaledSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """``factor`` times ``schedule``: a layer group's share of a shared schedule.

    Example:
        >>> half = ScaledSchedule(keras.optimizers.schedules.ExponentialDecay(1.0, 10, 0.5), 0.5)
        >>> float(half(10))
        0.25
    """

    def __init__(self, schedule, factor):
        self.schedule = keras.optimizers.schedules.deserialize(schedule) if isinstance(schedule, dict) \
            else schedule
        self.factor = float(factor)

    def __call__(self, step):
        return self.schedule(step) * self.factor

    def get_config(self):
        return {"schedule": keras.optimizers.schedules.serialize(self.schedule), "factor": self.factor}
