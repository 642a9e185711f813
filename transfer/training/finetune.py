"""Two-phase fine-tuning: train the head on a frozen base, then unfreeze the top and train gently.

What defines the training is a :class:`~transfer.training.recipe.Recipe` (a frozen
value that runs share, and that a checkpoint folder records); the flat
keywords of :func:`fine_tune` override its settings. The two phases, as
:func:`fine_tune` reads: freeze the backbone, fit the head at
``learning_rate[0]``; unfreeze from ``unfreeze_from`` (default: the last
group, BatchNorm kept in inference mode unless ``train_bn=True``), fit at the
lower ``learning_rate[1]``, optionally with discriminative learning rates
(``lr_decay``: each earlier group learns ``lr_decay`` times slower). Both
phases use Keras's EarlyStopping (best weights restored), and phase 2 starts
from phase 1's best (``carry_best``): it is kept only where it beats phase 1
on the monitored quantity. Every epoch is recorded by one
:class:`~transfer.training.checkpoint.ResumableCheckpoint`, which with
``checkpoint_dir`` also writes the checkpoint files.

Resuming: call ``fine_tune`` again with the same model, recipe and arguments and
``resume=True``; it reloads the last weights, the optimizer's variables
(moments, iteration count) and EarlyStopping's state, skips what the state
says is done and continues the epoch count and the history: a run
interrupted between epochs ends where the uninterrupted run would (with the
same data order). A fresh run refuses a folder that holds another run unless
``overwrite=True``.
"""

import functools

from transfer.sources import hub
from transfer.training import checkpoint as ckpt
from transfer.training.ingredients import active_ingredients
from transfer.training.recipe import PREDATING, Recipe


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


def _fit_phase(model, plan, phase, ingredients, recorder, *, loss, validation, callbacks, jit_compile, verbose):
    """Set what trains, compile, and fit what is left of ``phase``; each ingredient acts at its hook."""
    plan.set_trainable(phase)
    optimizer = functools.reduce(lambda opt, ing: ing.optimizer(opt, plan, phase), ingredients, plan.optimizer(phase))
    data = functools.reduce(lambda data, ing: ing.data(data, plan, phase), ingredients, plan.fit_data(validation))
    for ingredient in ingredients:
        ingredient.prepare(model, plan, phase)
    state, planned = recorder.state, plan.epochs[phase - 1]
    stop = recorder.begin_phase(phase, plan.recipe.patience, plan.recipe.carry_best)
    # A phase EarlyStopping ended needs no epoch, only the end of fit (best weights restored).
    left = 0 if state.stopped_early else planned - state.epoch_in_phase
    model.compile(optimizer=optimizer, loss=loss, metrics=list(plan.metrics), jit_compile=jit_compile)
    extra = [cb for ing in ingredients for cb in ing.callbacks(plan, phase)]
    recorder.track(extra)  # callbacks with a state (the weight average) are saved and resumed with the run
    done = state.epochs_done
    # The recorder reads what counts as better from the phase's EarlyStopping, which judges first.
    model.fit(**data, initial_epoch=done, epochs=done + left, callbacks=[*callbacks, *extra, stop, recorder],
              verbose=verbose)
    recorder.end_phase(planned)


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
    plan = recipe.resolve(model, train, validation, batch_size)
    recorder = ckpt.ResumableCheckpoint.open(checkpoint_dir, model, plan.record(), monitor=plan.monitor,
                                             resume=resume, overwrite=overwrite, mode=recipe.mode,
                                             defaults={**Recipe().config(), **PREDATING})
    recorder.set_model(model)  # it also saves between phases, outside fit
    state, ingredients = recorder.state, active_ingredients(recipe)
    loss = functools.reduce(lambda loss, ing: ing.loss(loss, plan), ingredients, plan.loss)
    try:
        for phase in (1, 2):
            planned = recipe.epochs[phase - 1]
            if state.phase > phase:
                continue  # done before a resume
            if planned <= state.epoch_in_phase:
                if phase == 1:
                    recorder.end_phase(planned)  # phase 2 starts from here
                continue
            if on_phase:
                on_phase(phase, plan.describe(phase))
            _fit_phase(model, plan, phase, ingredients, recorder, loss=loss, validation=validation,
                       callbacks=callbacks, jit_compile=jit_compile, verbose=verbose)
    finally:  # an interrupted run too: no ingredient stays set on the model (e.g. the step's mixing)
        for ingredient in ingredients:
            ingredient.finish(model, plan)
    n1 = state.phase1_epochs
    return FineTuneHistory(state.history, [n1, state.epochs_done - n1], recorder.best_path(), state.best)
