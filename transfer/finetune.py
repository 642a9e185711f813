"""Two-phase fine-tuning: train the head on a frozen base, then unfreeze the top and train gently.

Phase 1 freezes the backbone and trains the head at ``learning_rate[0]``.
Phase 2 unfreezes from ``unfreeze_from`` (default: the last group), keeps
BatchNorm in inference mode unless ``train_bn=True``, and trains at the lower
``learning_rate[1]``, optionally with discriminative learning rates
(``lr_decay``: each earlier group learns ``lr_decay`` times slower). Both
phases use Keras's EarlyStopping (best weights restored) and, given
``checkpoint_dir``, a :class:`~transfer.checkpoint.ResumableCheckpoint`.

Resuming: call ``fine_tune`` again with the same arguments and
``resume=True``; it reloads ``last.weights.h5``, skips what ``state.json``
says is done and continues the epoch count and the history. The optimizer's
moment estimates and EarlyStopping's patience counter restart.
"""

import math
import os

import keras

from transfer import checkpoint as ckpt
from transfer.freezing import freeze, unfreeze
from transfer.groups import layer_groups
from transfer.heads import head_kind
from transfer.optimizers import DiscriminativeOptimizer, group_multipliers

DEFAULTS = {  # head kind -> (loss, metrics)
    "binary": ("binary_crossentropy", ["accuracy"]),
    "multiclass": ("sparse_categorical_crossentropy", ["accuracy"]),
    "multilabel": ("binary_crossentropy", ["binary_accuracy"]),
    "regression": ("mse", ["mae"]),
}


class FineTuneHistory:
    """The joined history of both phases.

    ``history`` maps each metric to one list over all epochs (the format
    ``zoo.visualize.plot_history`` reads); ``phase_boundaries`` holds the
    epoch index where phase 2 starts; ``best_path`` the best checkpoint, if any.

    Example:
        >>> result = transfer.fine_tune(model, train_ds, val_ds)
        >>> result.plot("curves.png")
    """

    def __init__(self, history, phase_epochs, best_path=None, best=None):
        self.history = history
        self.phase_epochs = list(phase_epochs)
        self.phase_boundaries = [phase_epochs[0]] if len(phase_epochs) > 1 and phase_epochs[1] else []
        self.best_path = best_path
        self.best = best

    def plot(self, path=None, title=None, metrics=None):
        """Training curves with the phase boundary dashed (``zoo.visualize.plot_history``)."""
        from zoo.visualize import plot_history

        return plot_history(self.history, metrics=metrics, phase_boundaries=self.phase_boundaries,
                            title=title, path=path)

    def __repr__(self):
        return f"FineTuneHistory(phase_epochs={self.phase_epochs}, metrics={sorted(self.history)})"


def _join(into, logs):
    """Append one phase's Keras history to the joined one (NaN where a key is missing)."""
    n, m = _length(into), _length(logs)
    for key in set(into) | set(logs):
        into[key] = list(into.get(key, [math.nan] * n)) + list(logs.get(key, [math.nan] * m))
    return into


def _pair(value, name):
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(pair) != 2:
        raise ValueError(f"`{name}` must be one value or a (phase 1, phase 2) pair. Received: {name}={value!r}")
    return pair


def _optimizer(optimizer, lr):
    if callable(optimizer) and not isinstance(optimizer, str):
        return optimizer(lr)
    return keras.optimizers.get({"class_name": optimizer, "config": {"learning_rate": lr}})


def fine_tune(model, train, validation=None, *, epochs=(5, 5), learning_rate=(1e-3, 1e-4), unfreeze_from=None,
              train_bn=False, lr_decay=None, optimizer="adam", loss=None, metrics=None, patience=3,
              monitor=None, checkpoint_dir=None, resume=False, jit_compile="auto", batch_size=32,
              callbacks=(), verbose="auto", on_phase=None):
    """Train ``model`` (from :func:`transfer.attach_head`) in two phases; return a :class:`FineTuneHistory`.

    Args:
        model: head model around a backbone.
        train, validation: ``tf.data.Dataset`` of ``(x, y)`` batches, or
            ``(x, y)`` numpy tuples (batched with ``batch_size``).
        epochs, learning_rate: one value or a (phase 1, phase 2) pair. A
            phase with 0 epochs is skipped.
        unfreeze_from: group, layer name or index where phase 2 unfreezes
            (see :func:`transfer.unfreeze`); default: the last group.
        train_bn: let phase 2 train the unfrozen BatchNorm layers.
        lr_decay: discriminative learning rates in phase 2: the last group
            gets ``learning_rate[1]``, each earlier one ``lr_decay`` times
            that (the head keeps the full rate). None: one rate.
        optimizer: a Keras optimizer name, or ``lr -> optimizer``.
        loss, metrics: default from the head: binary/sparse categorical
            cross-entropy with accuracy, or mse with mae for regression.
        patience: EarlyStopping patience per phase (None: no early stopping).
        monitor: default ``"val_loss"`` with validation data, else ``"loss"``.
        checkpoint_dir: where ``best.keras``, ``last.weights.h5`` and
            ``state.json`` go (atomically). None: no files.
        resume: continue from ``checkpoint_dir``'s state.
        jit_compile: passed to ``compile`` (XLA).
        callbacks: more Keras callbacks for both phases.
        verbose: Keras's progress bars.
        on_phase: optional ``f(phase, description)`` called as each phase
            starts (the command line prints it).

    Example:
        >>> model = transfer.attach_head(transfer.load_backbone("resnet20", weights="r20.weights.h5"), 10)
        >>> result = transfer.fine_tune(model, train_ds, val_ds, epochs=(3, 5), lr_decay=0.3,
        ...                             checkpoint_dir="runs/r20")
        >>> result.phase_boundaries
        [3]
    """
    epochs, learning_rate = _pair(epochs, "epochs"), _pair(learning_rate, "learning_rate")
    if resume and checkpoint_dir is None:
        raise ValueError("resume=True needs the checkpoint_dir of the interrupted run. Received: checkpoint_dir=None")
    kind_loss, kind_metrics = DEFAULTS[head_kind(model)]
    loss = loss or kind_loss
    metrics = kind_metrics if metrics is None else metrics
    monitor = monitor or ("val_loss" if validation is not None else "loss")
    if unfreeze_from is None:
        unfreeze_from = [g for g in layer_groups(model) if g != "head"][-1]

    state = ckpt.read_state(checkpoint_dir) if resume else None
    history, phase, done, best, n1 = {}, 1, 0, None, 0
    if state:  # resume: the weights and the position the interrupted run reached
        model.load_weights(os.path.join(checkpoint_dir, "last.weights.h5"))
        history, phase, done = state["history"], state["phase"], state["epoch_in_phase"]
        best, n1 = state.get("best"), state.get("phase1_epochs", 0)
    fit_data = dict(x=train[0], y=train[1], batch_size=batch_size) if isinstance(train, tuple) else dict(x=train)
    val = tuple(validation) if isinstance(validation, (tuple, list)) else validation

    def run(phase, n_epochs, optimizer_obj, start):
        model.compile(optimizer=optimizer_obj, loss=loss, metrics=list(metrics), jit_compile=jit_compile)
        cbs = list(callbacks)
        if patience is not None:
            cbs.append(keras.callbacks.EarlyStopping(monitor=monitor, patience=patience, restore_best_weights=True))
        saver = None
        if checkpoint_dir is not None:
            saver = ckpt.ResumableCheckpoint(checkpoint_dir, monitor=monitor, phase=phase, state=dict(
                history={k: list(v) for k, v in history.items()}, epoch_in_phase=start, best=best,
                phase1_epochs=n1))
            cbs.append(saver)
        first = _length(history)
        h = model.fit(**fit_data, validation_data=val, initial_epoch=first,
                      epochs=first + n_epochs - start, callbacks=cbs, verbose=verbose)
        _join(history, h.history)
        return saver.state["best"] if saver else None

    if phase == 1:
        if epochs[0] > done:
            if on_phase:
                on_phase(1, f"head only, backbone frozen, learning rate {learning_rate[0]:g}")
            freeze(model)
            best = run(1, epochs[0], _optimizer(optimizer, learning_rate[0]), done)
        phase, done, n1 = 2, 0, _length(history)
        if checkpoint_dir is not None:  # phase 1 is over: its restored best weights start phase 2
            ckpt.atomic_save(model, os.path.join(checkpoint_dir, "last.weights.h5"), weights_only=True)
            ckpt.atomic_write_json(dict(history=history, phase=2, epoch_in_phase=0, best=best, phase1_epochs=n1),
                                   os.path.join(checkpoint_dir, "state.json"))
    if epochs[1] > done:
        if on_phase:
            extra = f", learning rate x{lr_decay:g} per earlier group" if lr_decay else ""
            on_phase(2, f"unfrozen from {unfreeze_from!r}, train_bn={train_bn}, "
                        f"learning rate {learning_rate[1]:g}{extra}")
        unfreeze(model, unfreeze_from, train_bn=train_bn)
        opt = _optimizer(optimizer, learning_rate[1])
        if lr_decay:
            opt = DiscriminativeOptimizer(opt, group_multipliers(model, decay=lr_decay))
        best = run(2, epochs[1], opt, done)
    best_path = os.path.join(checkpoint_dir, "best.keras") if checkpoint_dir and best is not None else None
    return FineTuneHistory(history, [n1, _length(history) - n1], best_path, best)


def _length(history):
    return len(next(iter(history.values()), []))
