"""Learning-rate schedules for fine-tuning: warmup then cosine decay per phase, and a scaled schedule.

Each phase of :func:`transfer.fine_tune` compiles a fresh optimizer, so a
schedule runs over one phase: ``warmup_cosine`` ramps linearly up to the phase's
rate over the first ``warmup`` share of its steps, then follows
Keras's cosine decay to 0 (``keras.optimizers.schedules.CosineDecay`` with
``warmup_target``/``warmup_steps``). :class:`ScaledSchedule` multiplies any
schedule by a constant: that is how each layer group's optimizer of a
:class:`transfer.DiscriminativeOptimizer` follows the same shape at its own
rate.
"""

import math

import keras
from zoo import checks

SCHEDULES = ("constant", "cosine")


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
    """What one phase's optimizer gets: the constant ``learning_rate``, or a :func:`warmup_cosine` over the phase.

    Example:
        >>> phase_learning_rate(1e-3, "constant", 50)
        0.001
        >>> type(phase_learning_rate(1e-3, "cosine", 50)).__name__
        'CosineDecay'
    """
    checks.check_choice("schedule", schedule, SCHEDULES)
    if schedule == "constant":
        return learning_rate
    return warmup_cosine(learning_rate, total_steps, warmup)


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
