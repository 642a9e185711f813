"""The run's record and its checkpoint folder: what each epoch leaves behind, and how a run resumes.

One callback, :class:`ResumableCheckpoint`, records every epoch of a
fine-tuning run into its :class:`RunState` (the joined history of both
phases, the phase, the epochs done in it, the best monitored value, what the
run is: its model's fingerprint and its settings); given a folder it also
writes, each atomically (:func:`zoo.files.atomic_path`: synced, then renamed):

- ``best.keras``: the whole model, best so far;
- ``resume-NNNN.npz``: everything a resume needs at the end of an epoch (the
  model's weights, the optimizer's variables with its iteration count, and
  EarlyStopping's best weights), one new file per save;
- ``state.json``: the state, naming the ``resume-NNNN.npz`` it belongs to.
  It is written after that file and the older ones are removed after it,
  so the state and the weights it names always agree, whenever the process dies.

Why not ``keras.callbacks.BackupAndRestore``: it writes ``latest.weights.h5``
in place and then its JSON in place (a kill in between leaves weights one
epoch ahead of the epoch count, a kill during either leaves a truncated
file), restores neither EarlyStopping's state nor anything across our two
``fit`` calls (each phase compiles a new optimizer), deletes its folder when
``fit`` ends, and resumes through a private attribute of the model.

:func:`transfer.fine_tune` opens the folder with :meth:`ResumableCheckpoint.open`;
the file names live here only, what the state holds in :mod:`transfer.training.run_state`.
"""

import dataclasses
import os
import sys

import keras
import numpy as np
from zoo.files import atomic_path, atomic_write_json, remove_temporaries

from transfer.training import checkpoint_files
from transfer.training.atomic import atomic_save
from transfer.training.distributed import is_chief
from transfer.training.run_state import FORMAT, RunState, describe, differences, fingerprint

BEST_MODEL = "best.keras"
STATE = "state.json"
RESUME_PREFIX = "resume-"
LEGACY_FILES = ("last.weights.h5",)


def read_state(directory):
    """The :class:`RunState` of a checkpoint folder as a dict, or None if it has none.

    Example:
        >>> read_state(tmp) is None
        True
    """
    path = os.path.join(os.fspath(directory), STATE)
    if not os.path.exists(path):
        return None
    return checkpoint_files.read_state_file(path, FORMAT, [f.name for f in dataclasses.fields(RunState)])


def _files_of_a_run(directory):
    return sorted(n for n in os.listdir(directory)
                  if n in (STATE, BEST_MODEL, *LEGACY_FILES) or (n.startswith(RESUME_PREFIX) and n.endswith(".npz")))


def _load_arrays(path):
    if not os.path.exists(path):
        raise FileNotFoundError(f"The run state names {os.path.basename(path)!r}, which is missing: {path}")
    return checkpoint_files.load_arrays(path)  # keys, dtypes and sizes checked before any array is read


def _assign(variables, arrays, what, path):
    """Assign ``arrays`` to ``variables`` after checking that they match (names what differs)."""
    checkpoint_files.check_assignable(variables, arrays, what, path)  # all of them, before the first assign
    for v, a in zip(variables, arrays):
        v.assign(a)


class PhaseEarlyStopping(keras.callbacks.EarlyStopping):
    """Keras's EarlyStopping that can start from the counters and best weights of a saved run.

    EarlyStopping resets itself when ``fit`` begins; a resumed phase must go
    on counting instead. Restoring here (after that reset, in its own
    ``on_train_begin``) makes it independent of the callbacks' order.

    Example:
        >>> stop = PhaseEarlyStopping(patience=3)
        >>> stop.resume_from({"wait": 2, "best": 0.5, "best_epoch": 1, "stopped_epoch": 0}, None)
        >>> stop.on_train_begin()
        >>> stop.wait, stop.best
        (2, 0.5)
    """

    COUNTERS = ("wait", "best", "best_epoch", "stopped_epoch")

    _resumed = None

    def resume_from(self, counters, best_weights):
        """Start from ``counters`` (``COUNTERS`` by name) and ``best_weights`` when ``fit`` begins."""
        self._resumed = (dict(counters), best_weights)

    def counters(self):
        """What a checkpoint saves to resume this phase's stopping."""
        return {name: describe(getattr(self, name)) for name in self.COUNTERS}

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self._resumed is not None:
            (counters, best_weights), self._resumed = self._resumed, None
            for name, value in counters.items():
                setattr(self, name, value)
            self.best_weights = best_weights


class ResumableCheckpoint(keras.callbacks.Callback):
    """Record each epoch into ``state``; with a ``directory``, also write the checkpoint files.

    Example:
        >>> ckpt = ResumableCheckpoint.open("runs/1", model, {"epochs": [5, 5]})   # doctest: +SKIP
        >>> model.fit(ds, epochs=5, callbacks=[ckpt])                                # doctest: +SKIP
    """

    def __init__(self, directory=None, monitor="val_loss", state=None, saved=None, mode="auto"):
        super().__init__()
        self.directory = None if directory is None else os.fspath(directory)
        self.monitor = monitor
        self.mode = mode
        self.state = state or RunState()
        self.saved = saved  # arrays of a resumed save, restored into the optimizer and EarlyStopping once
        self.early_stopping = None  # the phase's PhaseEarlyStopping, from begin_phase
        self.tracked = {}  # name -> a callback whose state the resume files keep (see track)

    @classmethod
    def open(cls, directory, model, run, monitor="val_loss", resume=False, overwrite=False, mode="auto",
             defaults=None):
        """A recorder for ``directory``: a fresh run, or (``resume=True``) the run saved there.

        A fresh run refuses a folder holding another run unless ``overwrite``; a
        resume refuses a folder without a state or whose state belongs to another
        ``run`` (model fingerprint and settings), saying what differs. Resuming
        loads the saved weights into ``model`` at once, and the optimizer's
        variables and EarlyStopping's state when training starts again.
        ``defaults``: the values of settings a saved run may predate (what a
        run recorded before a setting existed ran with).

        Example:
            >>> model = zoo.cnn_mnist()
            >>> ResumableCheckpoint.open("runs/2", model, {"epochs": [1, 1]}, resume=True)
            Traceback (most recent call last):
            ...
            ValueError: resume=True, but 'runs/2' holds no run to resume (no state.json). ...
        """
        run = {"model": fingerprint(model), **describe(dict(run))}
        if directory is None:
            return cls(None, monitor, RunState(run=run), mode=mode)
        directory = os.fspath(directory)
        remove_temporaries(directory)  # left by a killed write; this run owns the folder
        if resume:
            state = read_state(directory)
            if state is None:
                raise ValueError(f"resume=True, but {directory!r} holds no run to resume (no {STATE}). Start the "
                                 f"run with resume=False. Received: checkpoint_dir={directory!r}")
            saved_run = {**describe(dict(defaults or {})), **state["run"]}
            differs = differences(saved_run, run)
            if differs:
                raise ValueError(f"Cannot resume the run in {directory!r}: it was started with other settings. "
                                 f"Differs: {'; '.join(differs)}. Pass the same model and arguments, or "
                                 "overwrite=True (resume=False) to start again.")
            state = RunState(**state)
            saved = _load_arrays(os.path.join(directory, state.resume_file))
            _assign(model.weights, saved["model"], "model weights", os.path.join(directory, state.resume_file))
            return cls(directory, monitor, state, saved, mode=mode)
        existing = _files_of_a_run(directory) if os.path.isdir(directory) else []
        if existing and not overwrite:
            raise ValueError(f"{directory!r} holds another run ({', '.join(existing)}). Pass resume=True to continue "
                             "it, overwrite=True to replace it, or another checkpoint_dir.")
        for name in existing:
            os.remove(os.path.join(directory, name))
        return cls(directory, monitor, RunState(run=run), mode=mode)

    def track(self, callbacks):
        """Keep the state of each callback that has a ``state_key`` in the resume files, and restore it on resume.

        Such a callback has ``get_state() -> [arrays]`` and ``set_state(arrays, model,
        mid_phase)`` (e.g. :class:`~transfer.training.ema.WeightAverage`); a resumed
        run gives it the arrays it saved, once, ``mid_phase`` saying whether its
        next ``fit`` continues a phase.
        """
        for callback in callbacks:
            key = getattr(callback, "state_key", None)
            if key is None:
                continue
            self.tracked[key] = callback
            arrays = (self.saved or {}).pop(key, None)
            if arrays is not None:
                callback.set_state(arrays, self.model, self.state.epoch_in_phase > 0)

    def path(self, name):
        return os.path.join(self.directory, name)

    def begin_phase(self, phase, patience=None, carry_best=False):
        """Start (or resume) ``phase``: the state moves to it, and its EarlyStopping is made here.

        Returns the phase's :class:`PhaseEarlyStopping` (monitoring this
        recorder's quantity in its ``mode``), to go before this callback in
        ``fit``'s list. With ``patience=None`` it never stops the phase and
        restores nothing: it only judges, by its mode, what is an improvement.
        A resumed phase's stopping starts from the saved counters and best weights;
        with ``carry_best``, a fresh phase 2's starts from the best so far and
        the model's weights now (phase 1's restored best).
        """
        self.state.start_phase(phase)
        stops = patience is not None
        self.early_stopping = PhaseEarlyStopping(
            monitor=self.monitor, mode=self.mode, patience=patience if stops else sys.maxsize,
            restore_best_weights=stops)
        saved = self.saved or {}
        if self.state.early_stopping and self.state.epoch_in_phase:
            self.early_stopping.resume_from(self.state.early_stopping, saved.get("early_stopping"))
        elif carry_best and stops and phase == 2 and self.state.best is not None:
            counters = {"wait": 0, "best": self.state.best, "best_epoch": self.state.epochs_done - 1,
                        "stopped_epoch": 0}
            self.early_stopping.resume_from(counters, self.model.get_weights())
        return self.early_stopping

    def end_phase(self, planned_epochs):
        """``fit`` has returned: the phase is done (early stopping may end it before ``planned_epochs``)."""
        self.state.epoch_in_phase = planned_epochs
        if self.state.phase == 1:  # phase 2 starts from phase 1's restored best weights, also after a resume
            self.state.start_phase(2)
        self.save()

    def _improved(self, value):
        best = self.state.best
        if best is None:
            return True
        op = getattr(self.early_stopping, "monitor_op", None)  # set by EarlyStopping from its mode
        if op is None:  # used outside fine_tune, without a phase's EarlyStopping
            return value > best if self.mode == "max" else value < best
        return bool(op(value, best))

    def on_train_begin(self, logs=None):
        saved, self.saved = self.saved, None
        if not saved or self.state.epoch_in_phase == 0:
            return  # a phase that starts fresh: a new optimizer, a new EarlyStopping
        where = self.path(self.state.resume_file)
        optimizer = self.model.optimizer
        if not optimizer.built:
            optimizer.build(self.model.trainable_variables)
        _assign(optimizer.variables, saved.get("optimizer", []), "optimizer variables", where)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        for key, value in logs.items():
            self.state.history.setdefault(key, []).append(float(value))
        self.state.epoch_in_phase += 1
        value = logs.get(self.monitor)
        improved = value is not None and self._improved(float(value))
        if improved:
            self.state.best = float(value)
        if self.early_stopping is not None:
            self.state.early_stopping = self.early_stopping.counters()
        if self.directory is not None:
            if improved:
                atomic_save(self.model, self.path(BEST_MODEL))
            self.save()

    def save(self):
        """Write a new resume file, then the state that names it, then remove the older ones."""
        if self.directory is None:
            return
        state = self.state
        arrays = {f"model/{i}": np.asarray(w) for i, w in enumerate(self.model.get_weights())}
        if state.epoch_in_phase and self.model.optimizer is not None and self.model.optimizer.built:
            arrays.update({f"optimizer/{i}": np.asarray(v) for i, v in enumerate(self.model.optimizer.variables)})
            best_weights = getattr(self.early_stopping, "best_weights", None)
            arrays.update({f"early_stopping/{i}": np.asarray(w) for i, w in enumerate(best_weights or ())})
        for key, callback in self.tracked.items():
            arrays.update({f"{key}/{i}": np.asarray(a) for i, a in enumerate(callback.get_state())})
        state.saves += 1
        state.resume_file = f"{RESUME_PREFIX}{state.saves:04d}.npz"
        if not is_chief():  # every process gathers the arrays above in step; only the chief writes
            return
        with atomic_path(self.path(state.resume_file), ".npz") as tmp:
            np.savez(tmp, **arrays)
        atomic_write_json(state.to_json(), self.path(STATE))
        for name in os.listdir(self.directory):
            if name.startswith(RESUME_PREFIX) and name.endswith(".npz") and name != state.resume_file:
                os.remove(self.path(name))

    def best_path(self):
        """The best model's file, if this run wrote one."""
        if self.directory is None or self.state.best is None:
            return None
        return self.path(BEST_MODEL)
