"""What a fine-tuning run is and where it stands: the record a checkpoint folder's ``state.json`` holds.

A run is identified by its model's :func:`fingerprint` and its settings (the
recipe, as :func:`describe` turns it into data); :class:`RunState` is where it
stands (phase, epochs, history, best value, EarlyStopping's counters).
:mod:`transfer.training.checkpoint` writes and reads it, with the files it names.

Example:
    >>> state = RunState(run={"model": fingerprint(zoo.cnn_mnist())})
    >>> state.phase, state.epochs_done, state.format == FORMAT
    (1, 0, True)
"""

import dataclasses
import hashlib
import json

import keras
import numpy as np

FORMAT = 2  # the state's schema; 1 had no run record and a fixed last.weights.h5


def fingerprint(model):
    """What identifies a model's architecture: its weights' paths, shapes and dtypes, hashed.

    Example:
        >>> fingerprint(zoo.cnn_mnist())["weights"]
        8
    """
    layout = [(w.path, list(w.shape), str(w.dtype)) for w in model.weights]
    digest = hashlib.sha256(json.dumps(layout).encode()).hexdigest()[:16]
    return {"weights": len(layout), "parameters": int(model.count_params()), "digest": digest}


def describe(value):
    """``value`` as JSON can hold it, to compare settings: Keras objects by config, functions by name.

    Example:
        >>> describe((1e-3, keras.optimizers.schedules.ExponentialDecay(1e-3, 100, 0.9)))[1]["class_name"]
        'ExponentialDecay'
    """
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [describe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): describe(v) for k, v in value.items()}
    if hasattr(value, "get_config"):
        return json.loads(json.dumps(keras.saving.serialize_keras_object(value), default=repr))
    return getattr(value, "__name__", type(value).__name__)


@dataclasses.dataclass
class RunState:
    """Where a two-phase run stands: ``phase`` (1 or 2), ``epoch_in_phase`` epochs done in it,
    ``history`` (metric -> one list over both phases), ``best`` monitored value, ``phase1_epochs``;
    ``run`` (what it belongs to), ``saves`` and ``resume_file`` (the file of the latest save) and
    ``early_stopping`` (EarlyStopping's counters in this phase).

    Example:
        >>> RunState(phase=2, phase1_epochs=3).epochs_done
        0
    """

    phase: int = 1
    epoch_in_phase: int = 0
    history: dict = dataclasses.field(default_factory=dict)
    best: float = None
    phase1_epochs: int = 0
    run: dict = None
    saves: int = 0
    resume_file: str = None
    early_stopping: dict = None
    format: int = FORMAT

    @property
    def epochs_done(self):
        """Epochs recorded over both phases."""
        return len(next(iter(self.history.values()), []))

    @property
    def stopped_early(self):
        """Whether EarlyStopping ended this phase (the phase needs no more epochs)."""
        return bool(self.early_stopping and self.early_stopping.get("stopped_epoch"))

    def start_phase(self, phase):
        """Move to ``phase`` (2 after 1: phase 1's epochs are counted)."""
        if phase != self.phase:
            self.phase, self.epoch_in_phase, self.phase1_epochs = phase, 0, self.epochs_done
            self.early_stopping = None

    def to_json(self):
        return dataclasses.asdict(self)


def differences(saved, now):
    """``'key: saved X, now Y'`` for every key on which two run records differ.

    Example:
        >>> differences({"epochs": [1, 1]}, {"epochs": [2, 1]})
        ['epochs: saved [1, 1], now [2, 1]']
    """
    keys = sorted(set(saved) | set(now))
    return [f"{k}: saved {saved.get(k)!r}, now {now.get(k)!r}" for k in keys if saved.get(k) != now.get(k)]
