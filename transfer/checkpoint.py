"""Atomic saving (temporary file in the same folder, then ``os.replace``) and a resumable checkpoint.

Keras's ``save``, ``save_weights`` and ``ModelCheckpoint`` write the target
file in place: a crash or a full disk mid-write leaves a truncated file where
the last good checkpoint was. ``os.replace`` within one directory is atomic
on POSIX and Windows, so the target is always either the old or the new file.
"""

import contextlib
import json
import os
import tempfile

import keras


@contextlib.contextmanager
def replacing(path, suffix):
    """Yield a temporary path beside ``path``; rename it over ``path`` on success, remove it on failure.

    Example:
        >>> with replacing("features.npy", ".npy") as tmp:
        ...     np.save(tmp, features)
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=suffix)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def atomic_save(model, path, weights_only=False):
    """``model.save(path)`` (or ``save_weights``) that never leaves a half-written ``path``.

    Example:
        >>> atomic_save(model, "best.keras")
        >>> atomic_save(model, "last.weights.h5", weights_only=True)
    """
    path = os.fspath(path)
    suffix = ".weights.h5" if path.endswith(".weights.h5") else os.path.splitext(path)[1]
    expected = ".weights.h5" if weights_only else ".keras"
    if suffix != expected:
        raise ValueError(f"{'Weights' if weights_only else 'Models'} are saved to a '{expected}' file. "
                         f"Received: path={path!r}")
    with replacing(path, suffix) as tmp:
        if weights_only:
            model.save_weights(tmp, overwrite=True)
        else:
            model.save(tmp, overwrite=True)
    return path


def atomic_write_json(obj, path):
    """Write ``obj`` as JSON to ``path`` atomically.

    Example:
        >>> atomic_write_json({"phase": 2, "epoch": 3}, "state.json")
    """
    with replacing(path, ".json") as tmp, open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
    return path


class ResumableCheckpoint(keras.callbacks.Callback):
    """Each epoch: the latest weights and a ``state.json``; on improvement, the best model.

    Files in ``directory``: ``best.keras`` (the whole model, best ``monitor``
    so far), ``last.weights.h5`` (end of the latest epoch) and ``state.json``
    (phase, epochs done in it, the joined history and the best value), each
    replaced atomically; ``state.json`` is written last, so it never names a
    file that is not there yet.

    Example:
        >>> ckpt = ResumableCheckpoint("runs/1", monitor="val_loss", phase=1)
        >>> model.fit(ds, epochs=5, callbacks=[ckpt])
    """

    def __init__(self, directory, monitor="val_loss", phase=1, state=None):
        super().__init__()
        self.directory = os.fspath(directory)
        self.monitor = monitor
        self.phase = phase
        self.state = dict(state or {})
        self.state.setdefault("history", {})
        self.state.setdefault("best", None)
        self.state.setdefault("epoch_in_phase", 0)
        # Accuracy-like metrics improve upwards; losses and errors downwards.
        self.higher_is_better = any(k in monitor for k in ("acc", "auc", "precision", "recall"))

    def path(self, name):
        return os.path.join(self.directory, name)

    def _improved(self, value):
        best = self.state["best"]
        return best is None or (value > best if self.higher_is_better else value < best)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        for key, value in logs.items():
            self.state["history"].setdefault(key, []).append(float(value))
        self.state.update(phase=self.phase, epoch_in_phase=self.state["epoch_in_phase"] + 1)
        value = logs.get(self.monitor)
        if value is not None and self._improved(float(value)):
            self.state["best"] = float(value)
            atomic_save(self.model, self.path("best.keras"))
        atomic_save(self.model, self.path("last.weights.h5"), weights_only=True)
        atomic_write_json(self.state, self.path("state.json"))


def read_state(directory):
    """The ``state.json`` of a checkpoint directory, or None if there is none.

    Example:
        >>> read_state("runs/1")["phase"]                 # doctest: +SKIP
        2
    """
    path = os.path.join(os.fspath(directory), "state.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)
