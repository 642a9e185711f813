"""Two-phase fine-tuning: train the head on a frozen base, then unfreeze the top and train gently.

The recipe, as :func:`fine_tune` reads: freeze the backbone, fit the head at
``learning_rate[0]``; unfreeze from ``unfreeze_from`` (default: the last
group, BatchNorm kept in inference mode unless ``train_bn=True``), fit at the
lower ``learning_rate[1]``, optionally with discriminative learning rates
(``lr_decay``: each earlier group learns ``lr_decay`` times slower). Both
phases use Keras's EarlyStopping (best weights restored); every epoch is
recorded by one :class:`~transfer.checkpoint.ResumableCheckpoint`, which with
``checkpoint_dir`` also writes the checkpoint files.

Resuming: call ``fine_tune`` again with the same model and arguments and
``resume=True``; it reloads the last weights, the optimizer's variables
(moments, iteration count) and EarlyStopping's state, skips what the state
says is done and continues the epoch count and the history: a run
interrupted between epochs ends where the uninterrupted run would (with the
same data order). A fresh run refuses a folder that holds another run unless
``overwrite=True``.
"""

import keras
from zoo import validation
from zoo.validation import check_choice

from transfer import checkpoint as ckpt
from transfer import hub
from transfer.freezing import freeze, unfreeze
from transfer.groups import layer_groups
from transfer.models import head_kind
from transfer.optimizers import DiscriminativeOptimizer, group_multipliers
from transfer.schedules import SCHEDULES, phase_learning_rate, steps_per_epoch

DEFAULTS = {  # head kind -> (loss, metrics)
    "binary": ("binary_crossentropy", ["accuracy"]),
    "multiclass": ("sparse_categorical_crossentropy", ["accuracy"]),
    "multilabel": ("binary_crossentropy", ["binary_accuracy"]),
    "regression": ("mse", ["mae"]),
}


class FineTuneHistory:
    """The joined history of both phases.

    ``history`` maps each metric to one list over all epochs (the format
    ``viz.plot_history`` reads); ``phase_boundaries`` holds the epoch index
    where phase 2 starts; ``best_path`` the best checkpoint, if any.

    Example:
        >>> result = FineTuneHistory({"loss": [3.0, 2.0, 1.5]}, [2, 1])
        >>> result.phase_boundaries
        [2]
    """

    def __init__(self, history, phase_epochs, best_path=None, best=None):
        self.history = history
        self.phase_epochs = list(phase_epochs)
        self.phase_boundaries = [phase_epochs[0]] if len(phase_epochs) > 1 and phase_epochs[1] else []
        self.best_path = best_path
        self.best = best

    def plot(self, path=None, title=None, metrics=None):
        """Training curves with the phase boundary dashed (``viz.plot_history``)."""
        from viz import plot_history

        return plot_history(self.history, metrics=metrics, phase_boundaries=self.phase_boundaries,
                            title=title, path=path)

    def __repr__(self):
        return f"FineTuneHistory(phase_epochs={self.phase_epochs}, metrics={sorted(self.history)})"


def _per_phase(value, name):
    """One value for both phases, or a (phase 1, phase 2) pair."""
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(pair) != 2:
        raise ValueError(f"`{name}` must be one value or a (phase 1, phase 2) pair. Received: {name}={value!r}")
    return pair


def _make_optimizer(optimizer, lr, schedule="constant", steps=None, warmup=0.1):
    """The phase's optimizer at ``lr``: constant, or warmup then cosine decay over the phase's ``steps``."""
    lr = phase_learning_rate(lr, schedule, steps, warmup)
    if callable(optimizer) and not isinstance(optimizer, str):
        return optimizer(lr)
    return keras.optimizers.get({"class_name": optimizer, "config": {"learning_rate": lr}})


def fine_tune(model, train, validation=None, *, epochs=(5, 5), learning_rate=(1e-3, 1e-4), unfreeze_from=None,
              train_bn=False, lr_decay=None, optimizer="adam", loss=None, metrics=None, patience=3,
              monitor=None, checkpoint_dir=None, resume=False, overwrite=False, jit_compile="auto", batch_size=32,
              callbacks=(), verbose="auto", on_phase=None, schedule="constant", warmup=0.1):
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
        checkpoint_dir: where ``best.keras``, ``resume-NNNN.npz`` and
            ``state.json`` go (atomically). None: no files.
        resume: continue the run saved in ``checkpoint_dir`` (an error if
            there is none, or if it was started with other arguments).
        overwrite: start afresh in a ``checkpoint_dir`` that holds another
            run, deleting its files (without it, that is an error).
        jit_compile: passed to ``compile`` (XLA).
        callbacks: more Keras callbacks for both phases.
        verbose: Keras's progress bars.
        on_phase: optional ``f(phase, description)`` called as each phase
            starts (the command line prints it).
        schedule: ``"constant"`` (each phase at its ``learning_rate``) or
            ``"cosine"``: per phase, linear warmup over ``warmup`` of its
            steps, then cosine decay to 0
            (:func:`transfer.schedules.warmup_cosine`). The steps per epoch
            come from the arrays' length or the dataset's cardinality.

    Example:
        >>> model = transfer.attach_head(transfer.load_backbone("resnet20", weights=None), 10)
        >>> x, y = np.random.default_rng(0).uniform(0, 255, (16, 32, 32, 3)), np.arange(16) % 10
        >>> result = transfer.fine_tune(model, (x, y), (x, y), epochs=(2, 1), lr_decay=0.3,
        ...                             checkpoint_dir="runs/r20", patience=None, verbose=0)
        >>> result.phase_boundaries, sorted(os.listdir("runs/r20"))
        ([2], ['best.keras', 'resume-0005.npz', 'state.json'])
    """
    model = hub.as_transfer_model(model)  # a keras-hub ImageClassifier: its own layers, as a TransferModel
    epochs = tuple(_epoch_count(e, "epochs") for e in _per_phase(epochs, "epochs"))
    learning_rate = _per_phase(learning_rate, "learning_rate")
    check_choice("schedule", schedule, SCHEDULES)  # (`validation` is the data here)
    steps = steps_per_epoch(train, batch_size) if schedule != "constant" else None
    if resume and checkpoint_dir is None:
        raise ValueError("resume=True needs the checkpoint_dir of the interrupted run. Received: checkpoint_dir=None")
    if loss is None or metrics is None:
        kind_loss, kind_metrics = DEFAULTS[head_kind(model)]
        loss, metrics = loss or kind_loss, kind_metrics if metrics is None else metrics
    monitor = monitor or ("val_loss" if validation is not None else "loss")
    if unfreeze_from is None:
        unfreeze_from = [g for g in layer_groups(model) if g != "head"][-1]
    run = dict(epochs=epochs, learning_rate=learning_rate, unfreeze_from=unfreeze_from, train_bn=train_bn,
               lr_decay=lr_decay, optimizer=optimizer, loss=loss, metrics=metrics, patience=patience,
               monitor=monitor, batch_size=batch_size if isinstance(train, tuple) else None,
               schedule=schedule, warmup=warmup)
    recorder = ckpt.ResumableCheckpoint.open(checkpoint_dir, model, run, monitor=monitor, resume=resume,
                                             overwrite=overwrite)
    recorder.set_model(model)  # it also saves between phases, outside fit
    state = recorder.state
    data = dict(x=train[0], y=train[1], batch_size=batch_size) if isinstance(train, tuple) else dict(x=train)
    data["validation_data"] = tuple(validation) if isinstance(validation, (tuple, list)) else validation

    def fit(phase, optimizer_obj):
        """Compile and train for what is left of ``phase``; the phase then counts as done."""
        # A phase EarlyStopping ended needs no epoch, only the end of fit (best weights restored).
        left = 0 if state.stopped_early else epochs[phase - 1] - state.epoch_in_phase
        model.compile(optimizer=optimizer_obj, loss=loss, metrics=list(metrics), jit_compile=jit_compile)
        stop = [] if patience is None else [
            keras.callbacks.EarlyStopping(monitor=monitor, patience=patience, restore_best_weights=True)]
        recorder.early_stopping = stop[0] if stop else None  # saved and restored with the run
        done = state.epochs_done
        model.fit(**data, initial_epoch=done, epochs=done + left, callbacks=[*callbacks, *stop, recorder],
                  verbose=verbose)
        state.epoch_in_phase = epochs[phase - 1]  # early stopping ends a phase early: it is still done

    if state.phase == 1:
        if epochs[0] > state.epoch_in_phase:
            if on_phase:
                on_phase(1, f"head only, backbone frozen, learning rate {learning_rate[0]:g}")
            freeze(model)
            fit(1, _make_optimizer(optimizer, learning_rate[0], schedule, steps and steps * epochs[0], warmup))
        state.start_phase(2)
        recorder.save()  # phase 1's restored best weights start phase 2, also after a resume
    if epochs[1] > state.epoch_in_phase:
        if on_phase:
            extra = f", learning rate x{lr_decay:g} per earlier group" if lr_decay else ""
            on_phase(2, f"unfrozen from {unfreeze_from!r}, train_bn={train_bn}, "
                        f"learning rate {learning_rate[1]:g}{extra}")
        unfreeze(model, unfreeze_from, train_bn=train_bn)
        opt = _make_optimizer(optimizer, learning_rate[1], schedule, steps and steps * epochs[1], warmup)
        if lr_decay:
            opt = DiscriminativeOptimizer(opt, group_multipliers(model, decay=lr_decay))
        fit(2, opt)
        recorder.save()
    n1 = state.phase1_epochs
    return FineTuneHistory(state.history, [n1, state.epochs_done - n1], recorder.best_path(), state.best)


def _epoch_count(value, name):
    """A non-negative epoch count."""
    if value == 0:
        return 0
    return validation.check_positive_int(name, value)
