"""The learning-rate range test (fastai's ``lr_find``) on the model's own compiled training step.

:func:`lr_find` trains for up to ``num_steps`` batches while the rate grows
exponentially from ``start_lr`` to ``end_lr``, records the loss of each batch
and its exponential moving average (bias-corrected, as fastai smooths),
stops once the smoothed loss passes ``diverge`` times its minimum (or is not
finite), then puts back every variable of the model (weights *and*
BatchNorm's moving statistics) and of the optimizer (moments, step count,
loss scale), so the model is as it was. Each batch runs through
``train_on_batch``: Keras's compiled step (XLA on TensorFlow with
``jit_compile=True``, always on JAX), with the rate set between steps.

The suggestion is fastai's "valley" rule: over the curve without its first
tenth and its last five points (fastai's trim), find the longest run of
steps along which the smoothed loss keeps falling (the longest decreasing
subsequence), and take the point a half of the way down it (at a third plus a
sixth of its length): a rate where the loss falls steadily, well before it
turns up. It is more robust than "steepest slope" on noisy curves and less
timid than "minimum / 10".
"""

import dataclasses
import math
from typing import List

import keras
import numpy as np

from transfer.model.backbone import head_kind
from transfer.model.head_kinds import HEAD_KINDS


@dataclasses.dataclass
class LRFinderResult:
    """The range test's curve and suggestion.

    Attributes:
        rates: the learning rate of each recorded step.
        losses: the smoothed loss at each step (what the suggestion reads).
        raw_losses: each step's own batch loss.
        suggestion: the valley rule's rate (None when the curve is too short).
        suggestion_index: its index in ``rates``.
        diverged: whether the test stopped early at divergence.
    """

    rates: List[float]
    losses: List[float]
    raw_losses: List[float]
    suggestion: float = None
    suggestion_index: int = None
    diverged: bool = False

    def plot(self, path=None, title=None):
        """The curve with the suggestion marked (:func:`viz.plot_lr_find`)."""
        from viz import plot_lr_find  # matplotlib only when a user plots

        return plot_lr_find(self, path=path, title=title)

    def __repr__(self):
        suggestion = "None" if self.suggestion is None else f"{self.suggestion:.3g}"
        return f"LRFinderResult(steps={len(self.rates)}, suggestion={suggestion}, diverged={self.diverged})"


def valley(losses, skip_start=None, skip_end=5):
    """fastai's valley rule: the index half-way down the longest decreasing run of ``losses``.

    ``skip_start`` (default a tenth) and ``skip_end`` points are left out
    first, as fastai does; the index returned counts from the start of ``losses``.

    Example:
        >>> valley([5, 4, 4.5, 3, 2, 1, 1.5, 9], skip_start=0, skip_end=0)  # the run 5, 4, 3, 2, 1
        1
    """
    n_all = len(losses)
    skip_start = n_all // 10 if skip_start is None else skip_start
    if n_all - skip_start - skip_end < 2:
        skip_start, skip_end = 0, 0
    values = list(losses[skip_start:n_all - skip_end])
    n = len(values)
    if n == 0:
        return None
    run = [1] * n  # run[i]: the longest decreasing subsequence that ends at i
    start, end = 0, 0
    for i in range(1, n):
        for j in range(i):
            if values[i] < values[j] and run[i] < run[j] + 1:
                run[i] = run[j] + 1
        if run[end] < run[i]:
            end = i
            start = end - run[end]
    third = (end - start) / 3
    return skip_start + start + int(third) + int(third / 2)


def _batches(data, batch_size, seed):
    """Endless ``(x, y)`` batches: shuffled passes over arrays, or repeated passes over a dataset/iterable."""
    if isinstance(data, (tuple, list)):
        x, y = data
        rng = np.random.default_rng(seed)
        while True:
            order = rng.permutation(len(x))
            for i in range(0, len(x) - batch_size + 1 if len(x) >= batch_size else 1, batch_size):
                index = order[i:i + batch_size]
                yield x[index], y[index]
    while True:
        source = data.as_numpy_iterator() if hasattr(data, "as_numpy_iterator") else data
        empty = True
        for batch in source:
            empty = False
            yield batch[0], batch[1]
        if empty:
            raise ValueError("lr_find received an empty dataset")


def _set_rate(optimizer, rate):
    """Set a constant rate on ``optimizer`` (through a loss-scale wrapper; every group of a discriminative one)."""
    while isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        optimizer = optimizer.inner_optimizer
    current = getattr(optimizer, "_learning_rate", None)
    if isinstance(current, keras.optimizers.schedules.LearningRateSchedule):
        raise ValueError("lr_find sets the rate at each step, and this optimizer follows a schedule. Pass "
                         f"optimizer='adam' (or an optimizer with a constant rate). Received: {current!r}")
    optimizer.learning_rate = rate


def _compile(model, optimizer, loss, jit_compile):
    """Compile ``model`` for the test, unless it is compiled and ``optimizer`` is None (its own is used)."""
    if optimizer is None and getattr(model, "optimizer", None) is not None and model.compiled:
        return
    if loss is None:
        loss = HEAD_KINDS[head_kind(model, remedy="pass loss= to lr_find")].loss
    optimizer = optimizer or "adam"
    if callable(optimizer) and not isinstance(optimizer, (str, keras.optimizers.Optimizer)):
        optimizer = optimizer(1e-7)  # an ``lr -> optimizer`` function, as a Recipe takes
    else:
        optimizer = keras.optimizers.get(optimizer)
    model.compile(optimizer=optimizer, loss=loss, jit_compile=jit_compile)


def _snapshot(variables):
    return [keras.ops.convert_to_numpy(v) for v in variables]


def lr_find(model, data, *, optimizer=None, loss=None, start_lr=1e-7, end_lr=10.0, num_steps=100, beta=0.98,
            diverge=4.0, batch_size=32, jit_compile="auto", seed=0):
    """Run the learning-rate range test on ``model`` and put it back as it was; return an :class:`LRFinderResult`.

    Args:
        model: a model (a :class:`transfer.TransferModel` in either phase:
            frozen backbone, or after :func:`transfer.unfreeze`).
        data: ``(x, y)`` arrays (shuffled batches of ``batch_size``) or a
            batched ``tf.data.Dataset`` / iterable of ``(x, y)``, repeated as needed.
        optimizer: None: the model's compiled optimizer if it has one (its state
            is restored afterwards), else Adam; or a name, optimizer instance, or
            ``lr -> optimizer`` function (then the model is compiled with it:
            compile it again before training, as :func:`transfer.fine_tune` does).
        loss: when compiling; None: the head kind's loss.
        start_lr, end_lr, num_steps: the exponential sweep (fastai: 1e-7, 10, 100).
        beta: the smoothing of the loss's moving average.
        diverge: stop when the smoothed loss exceeds this many times its minimum.
        jit_compile: passed to ``compile``.

    Example:
        >>> model = transfer.attach_head(transfer.load_backbone("cnn_mnist", weights=None), 10)
        >>> x, y = np.random.default_rng(0).uniform(0, 255, (64, 28, 28, 1)), np.arange(64) % 10
        >>> before = [w.copy() for w in model.get_weights()]
        >>> result = lr_find(model, (x, y), num_steps=30, batch_size=16)
        >>> restored = all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
        >>> len(result.rates) <= 30, result.rates[0], restored
        (True, 1e-07, True)
    """
    if not 0 < start_lr < end_lr:
        raise ValueError(f"lr_find needs 0 < start_lr < end_lr. Received: start_lr={start_lr!r}, end_lr={end_lr!r}")
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 2:
        raise ValueError(f"`num_steps` must be an integer >= 2. Received: num_steps={num_steps!r}")
    if not 0 <= beta < 1 or not diverge > 1:
        raise ValueError(f"lr_find needs 0 <= beta < 1 and diverge > 1. Received: beta={beta!r}, diverge={diverge!r}")
    _compile(model, optimizer, loss, jit_compile)
    if not model.optimizer.built:  # as fit does: then its fresh state can be put back too
        model.optimizer.build(model.trainable_variables)
    saved_model, saved_optimizer = _snapshot(model.variables), _snapshot(model.optimizer.variables)
    rates, raw, smoothed = [], [], []
    average, best, diverged = 0.0, math.inf, False
    try:
        for step, (x, y) in zip(range(num_steps), _batches(data, batch_size, seed)):
            rate = start_lr * (end_lr / start_lr) ** (step / (num_steps - 1))
            _set_rate(model.optimizer, rate)
            loss_value = float(np.asarray(model.train_on_batch(x, y, return_dict=True)["loss"]))
            average = beta * average + (1 - beta) * loss_value
            value = average / (1 - beta ** (step + 1))
            rates.append(rate), raw.append(loss_value), smoothed.append(value)
            best = min(best, value)
            if not math.isfinite(value) or value > diverge * best:
                diverged = True
                break
    finally:
        for variable, value in zip(model.variables, saved_model):
            variable.assign(value)
        for variable, value in zip(model.optimizer.variables, saved_optimizer):
            variable.assign(value)
    index = valley(smoothed)
    return LRFinderResult(rates, smoothed, raw, None if index is None else rates[index], index, diverged)
