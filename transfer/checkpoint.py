"""The run's record and its checkpoint folder: what each epoch leaves behind, and how a run resumes.

One callback, :class:`ResumableCheckpoint`, records every epoch of a
fine-tuning run into its :class:`RunState` (the joined history of both
phases, the phase, the epochs done in it, the best monitored value); given a
folder it also writes, atomically (:mod:`zoo.files`): ``best.keras`` (the
whole model, best so far), ``last.weights.h5`` (end of the latest epoch) and
``state.json`` (the state), the state last, so it never names weights that
are not on disk yet. :func:`transfer.fine_tune` uses it with or without a
folder; the file names and the state's schema live here only.
"""

import dataclasses
import json
import os
import tempfile

import keras
from zoo.files import atomic_path, atomic_write_json

from transfer.distributed import is_chief

BEST_MODEL = "best.keras"
LAST_WEIGHTS = "last.weights.h5"
STATE = "state.json"


def atomic_save(model, path, weights_only=False):
    """``model.save(path)`` (or ``save_weights``) that never leaves a half-written ``path``.

    Example:
        >>> model = zoo.cnn_mnist()
        >>> atomic_save(model, "best.keras")
        'best.keras'
        >>> atomic_save(model, "last.weights.h5", weights_only=True)
        'last.weights.h5'
    """
    path = os.fspath(path)
    suffix = ".weights.h5" if path.endswith(".weights.h5") else os.path.splitext(path)[1]
    expected = ".weights.h5" if weights_only else ".keras"
    if suffix != expected:
        raise ValueError(f"{'Weights' if weights_only else 'Models'} are saved to a '{expected}' file. "
                         f"Received: path={path!r}")
    if is_chief():
        with atomic_path(path, suffix) as tmp:
            _write(model, tmp, weights_only)
    else:
        # Under several JAX processes saving gathers the arrays with collectives, so every process
        # must save in step; only the chief keeps its file.
        with tempfile.TemporaryDirectory() as scratch:
            _write(model, os.path.join(scratch, "model" + suffix), weights_only)
    return path


def _write(model, path, weights_only):
    if weights_only:
        model.save_weights(path, overwrite=True)
    else:
        model.save(path, overwrite=True)


@dataclasses.dataclass
class RunState:
    """Where a two-phase run stands: ``phase`` (1 or 2), ``epoch_in_phase`` epochs done in it,
    ``history`` (metric -> one list over both phases), ``best`` monitored value, ``phase1_epochs``.

    Example:
        >>> RunState(phase=2, phase1_epochs=3).epochs_done
        0
    """

    phase: int = 1
    epoch_in_phase: int = 0
    history: dict = dataclasses.field(default_factory=dict)
    best: float = None
    phase1_epochs: int = 0

    @property
    def epochs_done(self):
        """Epochs recorded over both phases."""
        return len(next(iter(self.history.values()), []))

    def start_phase(self, phase):
        """Move to ``phase`` (2 after 1: phase 1's epochs are counted)."""
        if phase != self.phase:
            self.phase, self.epoch_in_phase, self.phase1_epochs = phase, 0, self.epochs_done

    def to_json(self):
        return dataclasses.asdict(self)


def read_state(directory):
    """The :class:`RunState` of a checkpoint folder as a dict, or None if it has none.

    Example:
        >>> read_state(tmp) is None
        True
    """
    path = os.path.join(os.fspath(directory), STATE)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def restore(model, directory):
    """Load the last weights of ``directory`` into ``model``; return its :class:`RunState` (None if none)."""
    state = read_state(directory)
    if state is None:
        return None
    model.load_weights(os.path.join(os.fspath(directory), LAST_WEIGHTS))
    return RunState(**state)


class ResumableCheckpoint(keras.callbacks.Callback):
    """Record each epoch into ``state``; with a ``directory``, also write the checkpoint files.

    Example:
        >>> ckpt = ResumableCheckpoint("runs/1", monitor="val_loss")      # doctest: +SKIP
        >>> model.fit(ds, epochs=5, callbacks=[ckpt])                       # doctest: +SKIP
    """

    def __init__(self, directory=None, monitor="val_loss", state=None):
        super().__init__()
        self.directory = None if directory is None else os.fspath(directory)
        self.monitor = monitor
        self.state = state or RunState()
        # Accuracy-like metrics improve upwards; losses and errors downwards.
        self.higher_is_better = any(k in monitor for k in ("acc", "auc", "precision", "recall"))

    def path(self, name):
        return os.path.join(self.directory, name)

    def _improved(self, value):
        best = self.state.best
        return best is None or (value > best if self.higher_is_better else value < best)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        for key, value in logs.items():
            self.state.history.setdefault(key, []).append(float(value))
        self.state.epoch_in_phase += 1
        value = logs.get(self.monitor)
        improved = value is not None and self._improved(float(value))
        if improved:
            self.state.best = float(value)
        if self.directory is not None:
            if improved:
                atomic_save(self.model, self.path(BEST_MODEL))
            self.save()

    def save(self):
        """Write the latest weights, then the state that names them."""
        if self.directory is not None:
            atomic_save(self.model, self.path(LAST_WEIGHTS), weights_only=True)
            if is_chief():
                atomic_write_json(self.state.to_json(), self.path(STATE))

    def best_path(self):
        """The best model's file, if this run wrote one."""
        if self.directory is None or self.state.best is None:
            return None
        return self.path(BEST_MODEL)

