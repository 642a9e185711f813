"""An exponential moving average of all a model's weights, BatchNorm statistics included, across fits.

Keras's own EMA (``optimizer.use_ema`` with ``keras.callbacks.SwapEMAWeights``)
averages only the variables the optimizer trains: BatchNorm's moving mean and
variance are not among them, so the averaged weights are evaluated with the
statistics of the last step's weights. And each ``compile`` builds a new
optimizer, so a two-phase run's average starts again in phase 2.

:class:`WeightAverage` is a callback that averages every float weight of the
model (what timm's ``ModelEmaV3`` averages: parameters and buffers) after each
training step, in one XLA-compiled update, and keeps its average from one
``fit`` to the next. At the end of each epoch the model holds the average: the
validation metrics, the checkpoints written in ``on_epoch_end`` and
EarlyStopping's best weights are the average's; the next epoch trains the
weights it swapped out. After ``fit`` the model keeps the average (or
EarlyStopping's best average). A later ``fit`` with the same callback (phase 2,
after a recompile) trains from the weights the model then holds, while the
average goes on from where it was.

The decay can warm up as timm's: ``1 - (1 + step) ** -warmup_power``, capped at
``decay``, so the average follows the weights closely in a short run and settles
to ``decay`` in a long one.

Example:
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.BatchNormalization(),
    ...                           keras.layers.Dense(2)])
    >>> model.compile("sgd", "mse")
    >>> ema = WeightAverage(decay=0.9)
    >>> x, y = np.ones((8, 4)), np.zeros((8, 2))
    >>> _ = model.fit(x, y, batch_size=4, epochs=2, callbacks=[ema], verbose=0)
    >>> ema.steps
    4
    >>> model.compile("adam", "mse")   # a recompile: the average goes on
    >>> _ = model.fit(x, y, batch_size=4, epochs=1, callbacks=[ema], verbose=0)
    >>> ema.steps
    6
"""

import weakref

import keras
import numpy as np
from keras import ops

from zoo import checks

from transfer.training.ingredient import Ingredient


def decay_at(step, decay, warmup_power=2 / 3):
    """The decay of update number ``step`` (from 1): timm's warmup ``1 - (1 + step) ** -power``, capped at ``decay``.

    ``warmup_power=None``: ``decay`` from the first step.

    Example:
        >>> [round(decay_at(s, 0.999), 3) for s in (1, 10, 1000, 10**6)]
        [0.37, 0.798, 0.99, 0.999]
        >>> decay_at(1, 0.999, warmup_power=None)
        0.999
    """
    if warmup_power is None:
        return decay
    return min(decay, 1.0 - (1.0 + step) ** -warmup_power)


def _blend(averages, values, decay):
    """``decay * average + (1 - decay) * value`` for each pair (compiled once per model layout)."""
    return [a * decay + ops.cast(v, a.dtype) * (1.0 - decay) for a, v in zip(averages, values)]


def _compiled(fn):
    """``fn`` compiled by XLA on the running backend: one program per update instead of one op per weight."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax  # the backend's own compiler, imported only on that backend

        return jax.jit(fn)
    if backend == "tensorflow":
        import tensorflow as tf  # the backend's own compiler, imported only on that backend

        return tf.function(fn, jit_compile=True)
    return fn


class WeightAverage(keras.callbacks.Callback):
    """Average all float weights of the model after each step; the model holds the average at each epoch's end.

    Put it before EarlyStopping and checkpoint callbacks in ``fit``'s list, so
    that they see the average. Pass the same instance to every ``fit`` of a run.

    Args:
        decay: the average's decay per step, in [0, 1).
        warmup_power: timm's decay warmup power (2/3; 3/4 for long runs);
            None: ``decay`` from the first step.

    Example:
        >>> WeightAverage(decay=1.5)
        Traceback (most recent call last):
        ...
        ValueError: `decay` must be in [0, 1). Received: decay=1.5
    """

    state_key = "ema"  # the resume files keep get_state() under this name

    def __init__(self, decay=0.999, warmup_power=2 / 3):
        super().__init__()
        checks.check_range("decay", decay, 0, 1, high_inclusive=False)
        if warmup_power is not None:
            checks.check_range("warmup_power", warmup_power, 0, 1, low_inclusive=False)
        self.decay, self.warmup_power = float(decay), warmup_power
        self.steps = 0  # updates so far, over every fit
        self.averages = None  # one backend tensor per tracked weight
        self._weights = None  # the model's float weights, in model.weights order
        self._trained = None  # numpy copies of the weights being trained, while the model holds the average
        self._resumed_trained = None  # the trained weights of a resumed run, for its next fit
        self._update = _compiled(_blend)

    # What the model holds -------------------------------------------------------------------------------

    def _track(self, model):
        weights = [w for w in model.weights if "float" in str(w.dtype)]
        if self._weights is not None and [tuple(w.shape) for w in weights] != [tuple(w.shape) for w in self._weights]:
            raise ValueError("WeightAverage follows one model; this one has other weights. Use a new WeightAverage "
                             f"per model. Received: {len(weights)} weights, tracking {len(self._weights)}")
        self._weights = weights
        # Under JAX, fit keeps the weights outside the variables between epochs: their place in its state.
        place = {id(v): ("trainable_variables", i) for i, v in enumerate(model.trainable_variables)}
        place.update({id(v): ("non_trainable_variables", i) for i, v in enumerate(model.non_trainable_variables)})
        self._places = [place[id(w)] for w in weights]

    def _values(self):
        model = self._model  # not self.model: under JAX that would copy fit's state back every step
        state = getattr(model, "_jax_state", None)
        if state and not getattr(model, "_jax_state_synced", True):
            return [state[group][i] for group, i in self._places]
        return [w.value for w in self._weights]

    def _swap_in(self):
        """The model takes the average; the trained weights wait for the next epoch."""
        if self._trained is None and self.averages is not None:
            self._trained = [ops.convert_to_numpy(w) for w in self._weights]
            for w, a in zip(self._weights, self.averages):
                w.assign(ops.convert_to_numpy(a))  # a copy: under JAX, fit donates the variables' buffers

    def _swap_out(self):
        if self._trained is not None:
            for w, t in zip(self._weights, self._trained):
                w.assign(t)
            self._trained = None

    # Callback -------------------------------------------------------------------------------------------

    def on_train_begin(self, logs=None):
        self._track(self._model)
        if self.averages is None:
            self.averages = [ops.convert_to_tensor(ops.convert_to_numpy(w)) for w in self._weights]
        # A new fit trains the weights the model holds now (the average, or EarlyStopping's best average);
        # a fit that resumes a phase trains the weights its interrupted run was training.
        self._trained, resumed, self._resumed_trained = None, self._resumed_trained, None
        for w, t in zip(self._weights, resumed or ()):
            w.assign(t)

    def on_epoch_begin(self, epoch, logs=None):
        self._swap_out()

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        decay = decay_at(self.steps, self.decay, self.warmup_power)
        self.averages = list(self._update(self.averages, self._values(), ops.convert_to_tensor(decay, "float32")))

    def on_test_begin(self, logs=None):
        if self._weights is not None:  # inside fit: validate the average
            self._swap_in()

    def on_epoch_end(self, epoch, logs=None):
        self._swap_in()

    # Resuming -------------------------------------------------------------------------------------------

    def get_state(self):
        """The arrays a resume needs: the step count, the averages, and the weights being trained (if swapped out).

        Example:
            >>> WeightAverage().get_state()
            [array(0)]
        """
        state = [np.array(self.steps)]
        if self.averages is not None:
            state += [np.asarray(a) for a in self.averages]
            state += self._trained or [ops.convert_to_numpy(w) for w in self._weights]
        return state

    def set_state(self, arrays, model, mid_phase=True):
        """Continue from :meth:`get_state`'s ``arrays`` for ``model``.

        ``mid_phase``: the next ``fit`` continues a phase, so it trains the
        saved trained weights (as the uninterrupted run would); otherwise it
        trains what the model holds, as a new phase does.
        """
        arrays = list(arrays)
        self.steps = int(arrays[0])
        if len(arrays) == 1:
            return
        self._track(model)
        n = len(self._weights)
        if len(arrays) != 1 + 2 * n:
            raise ValueError(f"The saved weight average holds {len(arrays) - 1} arrays; this model needs {2 * n}.")
        from transfer.training.checkpoint_files import check_assignable  # the shape and dtype checks of resume

        check_assignable(self._weights, arrays[1:1 + n], "weight averages", "the resume file")
        self.averages = [ops.convert_to_tensor(a) for a in arrays[1:1 + n]]
        self._resumed_trained = arrays[1 + n:] if mid_phase else None


class WeightAveraging(Ingredient):
    """``Recipe(ema=0.999)``: both phases train under one :class:`WeightAverage`; the run ends on the average.

    ``ema`` is the decay (None: off), ``ema_warmup`` timm's decay warmup
    (power 2/3). The average is evaluated each epoch, is what the best
    checkpoint and EarlyStopping keep, goes on through phase 2's recompile, and
    is saved in the resume files.

    Example:
        >>> WeightAveraging().active(transfer.Recipe(ema=0.999)), WeightAveraging().active(transfer.Recipe())
        (True, False)
    """

    settings = ("ema", "ema_warmup")

    def __init__(self):
        self._runs = {}  # id(plan) -> its WeightAverage, for as long as the plan lives

    def check(self, recipe):
        if recipe.ema is not None:
            if isinstance(recipe.ema, bool):
                raise ValueError(f"`ema` is the average's decay, a number in [0, 1), or None. Received: "
                                 f"ema={recipe.ema!r}")
            checks.check_range("ema", recipe.ema, 0, 1, high_inclusive=False)
        if not isinstance(recipe.ema_warmup, bool):
            raise ValueError(f"`ema_warmup` must be True or False. Received: ema_warmup={recipe.ema_warmup!r}")

    def active(self, recipe):
        return recipe.ema is not None

    def average(self, plan):
        """The run's :class:`WeightAverage` (one per plan: both phases share it)."""
        key = id(plan)
        if key not in self._runs:
            self._runs[key] = WeightAverage(plan.recipe.ema, 2 / 3 if plan.recipe.ema_warmup else None)
            weakref.finalize(plan, self._runs.pop, key, None)  # an interrupted run leaves nothing behind
        return self._runs[key]

    def callbacks(self, plan, phase):
        return [self.average(plan)]

    def finish(self, model, plan):
        self._runs.pop(id(plan), None)
