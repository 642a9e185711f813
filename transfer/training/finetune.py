"""Two-phase fine-tuning: train the head on a frozen base, then unfreeze the top and train gently.

What defines the training is a :class:`~transfer.training.recipe.Recipe` (a frozen
value that runs share, and that a checkpoint folder records); the flat
keywords of :func:`fine_tune` override its settings. The two phases, as
:func:`fine_tune` reads: freeze the backbone, fit the head at
``learning_rate[0]``; unfreeze from ``unfreeze_from`` (default: the last
group, BatchNorm kept in inference mode unless ``train_bn=True``), fit at the
lower ``learning_rate[1]``, optionally with discriminative learning rates
(``lr_decay``: each earlier group learns ``lr_decay`` times slower). Both
phases use Keras's EarlyStopping (best weights restored); every epoch is
recorded by one :class:`~transfer.training.checkpoint.ResumableCheckpoint`, which with
``checkpoint_dir`` also writes the checkpoint files.

Resuming: call ``fine_tune`` again with the same model, recipe and arguments and
``resume=True``; it reloads the last weights, the optimizer's variables
(moments, iteration count) and EarlyStopping's state, skips what the state
says is done and continues the epoch count and the history: a run
interrupted between epochs ends where the uninterrupted run would (with the
same data order). A fresh run refuses a folder that holds another run unless
``overwrite=True``.
"""

import keras

from transfer.training import checkpoint as ckpt
from transfer.sources import hub
from transfer.model.freezing import freeze, unfreeze
from transfer.model.groups import layer_groups
from transfer.model.backbone import head_kind
from transfer.model.head_kinds import HEAD_KINDS
from transfer.training.optimizers import DiscriminativeOptimizer, group_multipliers
from transfer.training.recipe import Recipe
from transfer.training.run_state import describe
from transfer.training.schedules import phase_learning_rate, steps_per_epoch


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
        from viz import plot_history  # matplotlib only when a user plots

        return plot_history(self.history, metrics=metrics, phase_boundaries=self.phase_boundaries,
                            title=title, path=path)

    def __repr__(self):
        return f"FineTuneHistory(phase_epochs={self.phase_epochs}, metrics={sorted(self.history)})"


def _make_optimizer(optimizer, lr, schedule="constant", steps=None, warmup=0.1):
    """The phase's optimizer at ``lr``: constant, or warmup then cosine decay over the phase's ``steps``."""
    lr = phase_learning_rate(lr, schedule, steps, warmup)
    if callable(optimizer) and not isinstance(optimizer, str):
        return optimizer(lr)
    return keras.optimizers.get({"class_name": optimizer, "config": {"learning_rate": lr}})


def fine_tune(model, train, validation=None, recipe=None, *, checkpoint_dir=None, resume=False, overwrite=False,
              batch_size=32, jit_compile="auto", callbacks=(), verbose="auto", on_phase=None, **overrides):
    """Train ``model`` (from :func:`transfer.attach_head`) in two phases; return a :class:`FineTuneHistory`.

    Args:
        model: head model around a backbone.
        train, validation: ``tf.data.Dataset`` of ``(x, y)`` batches, or
            ``(x, y)`` numpy tuples (batched with ``batch_size``).
        recipe: a :class:`transfer.Recipe` (epochs, learning rates, unfreeze
            point, BatchNorm, rate decay, optimizer, schedule, early stopping,
            loss and metrics); None: the default recipe.
        **overrides: any recipe setting by name (``epochs=(3, 5)``,
            ``lr_decay=0.3``, ``unfreeze_from="conv5"``, ...), applied on top
            of ``recipe``; see :class:`transfer.Recipe` for each one.
        checkpoint_dir: where ``best.keras``, ``resume-NNNN.npz`` and
            ``state.json`` go (atomically). None: no files.
        resume: continue the run saved in ``checkpoint_dir`` (an error if
            there is none, or if it was started with another recipe).
        overwrite: start afresh in a ``checkpoint_dir`` that holds another
            run, deleting its files (without it, that is an error).
        batch_size: for numpy data.
        jit_compile: passed to ``compile`` (XLA).
        callbacks: more Keras callbacks for both phases.
        verbose: Keras's progress bars.
        on_phase: optional ``f(phase, description)`` called as each phase
            starts (the command line prints it).

    Example:
        >>> model = transfer.attach_head(transfer.load_backbone("resnet20", weights=None), 10)
        >>> x, y = np.random.default_rng(0).uniform(0, 255, (16, 32, 32, 3)), np.arange(16) % 10
        >>> recipe = transfer.Recipe(epochs=(2, 1), lr_decay=0.3, patience=None)
        >>> result = transfer.fine_tune(model, (x, y), (x, y), recipe, checkpoint_dir="runs/r20", verbose=0)
        >>> result.phase_boundaries, sorted(os.listdir("runs/r20"))
        ([2], ['best.keras', 'resume-0005.npz', 'state.json'])
        >>> result = transfer.fine_tune(model, (x, y), (x, y), recipe, epochs=(1, 0), verbose=0)  # an override
        >>> result.phase_epochs
        [1, 0]
    """
    recipe = (recipe or Recipe()).replace(**overrides)
    model = hub.as_transfer_model(model)  # a keras-hub ImageClassifier: its own layers, as a TransferModel
    if resume and checkpoint_dir is None:
        raise ValueError("resume=True needs the checkpoint_dir of the interrupted run. Received: checkpoint_dir=None")
    loss, metrics = recipe.loss, recipe.metrics
    if loss is None or metrics is None:
        kind = HEAD_KINDS[head_kind(model)]
        kind_loss, kind_metrics = kind.loss, list(kind.metrics)
        loss, metrics = loss or kind_loss, kind_metrics if metrics is None else metrics
    monitor = recipe.monitor or ("val_loss" if validation is not None else "loss")
    groups = [g for g in layer_groups(model) if g != "head"]
    unfreeze_from = groups[-1] if recipe.unfreeze_from is None else recipe.unfreeze_from
    # What the run is, for resuming: the recipe as it resolves for this model and data.
    run = {**recipe.config(), **describe(dict(unfreeze_from=unfreeze_from, loss=loss, metrics=metrics,
                                              monitor=monitor)),
           "batch_size": batch_size if isinstance(train, tuple) else None}
    recorder = ckpt.ResumableCheckpoint.open(checkpoint_dir, model, run, monitor=monitor, resume=resume,
                                             overwrite=overwrite, mode=recipe.mode, defaults=Recipe().config())
    recorder.set_model(model)  # it also saves between phases, outside fit
    state = recorder.state
    data = dict(x=train[0], y=train[1], batch_size=batch_size) if isinstance(train, tuple) else dict(x=train)
    data["validation_data"] = tuple(validation) if isinstance(validation, (tuple, list)) else validation
    steps = steps_per_epoch(train, batch_size) if recipe.schedule != "constant" else None

    def optimizer(phase):
        epochs = recipe.epochs[phase - 1]
        return _make_optimizer(recipe.optimizer, recipe.learning_rate[phase - 1], recipe.schedule,
                               steps and steps * epochs, recipe.warmup)

    def fit(phase, optimizer_obj):
        """Compile and train for what is left of ``phase``; the phase then counts as done."""
        stop = recorder.begin_phase(phase, recipe.patience)
        # A phase EarlyStopping ended needs no epoch, only the end of fit (best weights restored).
        left = 0 if state.stopped_early else recipe.epochs[phase - 1] - state.epoch_in_phase
        model.compile(optimizer=optimizer_obj, loss=loss, metrics=list(metrics), jit_compile=jit_compile)
        done = state.epochs_done
        # The recorder reads what counts as better from the phase's EarlyStopping, which judges first.
        model.fit(**data, initial_epoch=done, epochs=done + left, callbacks=[*callbacks, stop, recorder],
                  verbose=verbose)
        recorder.end_phase(recipe.epochs[phase - 1])

    if state.phase == 1:
        if recipe.epochs[0] > state.epoch_in_phase:
            if on_phase:
                on_phase(1, f"head only, backbone frozen, learning rate {recipe.learning_rate[0]:g}")
            freeze(model)
            fit(1, optimizer(1))
        else:
            recorder.end_phase(recipe.epochs[0])
    if recipe.epochs[1] > state.epoch_in_phase:
        if on_phase:
            extra = f", learning rate x{recipe.lr_decay:g} per earlier group" if recipe.lr_decay else ""
            on_phase(2, f"unfrozen from {unfreeze_from!r}, train_bn={recipe.train_bn}, "
                        f"learning rate {recipe.learning_rate[1]:g}{extra}")
        unfreeze(model, unfreeze_from, train_bn=recipe.train_bn)
        opt = optimizer(2)
        if recipe.lr_decay:
            opt = DiscriminativeOptimizer(opt, group_multipliers(model, decay=recipe.lr_decay))
        fit(2, opt)
    n1 = state.phase1_epochs
    return FineTuneHistory(state.history, [n1, state.epochs_done - n1], recorder.best_path(), state.best)
