"""Checkpoint folders: one run per folder, a state that always names its weights, exact resume (issue 11, 5 and 6)."""

import os
import stat

import keras
import numpy as np
import pytest
import tensorflow as tf

import transfer
from interrupting import Interrupt, StopAt
from datasets import digits as digit_data
from transfer.training import checkpoint
from zoo import files

# Measured on 2 CPU cores (TensorFlow, oneDNN): the resumed run's weights equal the uninterrupted run's
# exactly (largest difference 0.0); without the optimizer's moments they differ by about 1e-2.
RESUME_ATOL = 1e-6


@pytest.fixture(scope="module")
def digits():
    x, y = digit_data.load_small(16, channel=True)
    rng = np.random.default_rng(0)
    # Validation labels at random: validation loss soon rises, so EarlyStopping acts and restores weights.
    return (x[:256], y[:256]), (x[256:384], rng.permutation(y[256:384]))


def _model(seed=0, hidden=(32,)):
    keras.utils.set_random_seed(seed)
    base = transfer.load_backbone("cnn_mnist", weights=None, input_shape=(16, 16, 1))
    return transfer.attach_head(base, 10, hidden=hidden, pooling="flatten")


def _batches(data):
    return tf.data.Dataset.from_tensor_slices(data).batch(64)  # one order every epoch, in every process


def _run(model, digits, folder, **kwargs):
    train, val = digits
    # carry_best=False: the scenarios below count phase 2's patience from its own first epoch.
    options = dict(epochs=(2, 5), learning_rate=(3e-3, 3e-3), patience=2, carry_best=False, verbose=0,
                   checkpoint_dir=folder)
    return transfer.fine_tune(model, _batches(train), _batches(val), **{**options, **kwargs})


def test_fresh_run_refuses_a_folder_holding_another_run(digits, tmp_path):
    _run(_model(), digits, tmp_path, epochs=(1, 0))
    best = (tmp_path / "best.keras").read_bytes()
    with pytest.raises(ValueError, match="holds another run .*best.keras.* resume=True .* overwrite=True"):
        _run(_model(seed=1), digits, tmp_path, epochs=(1, 0))
    assert (tmp_path / "best.keras").read_bytes() == best  # the finished run's better model is kept
    result = _run(_model(seed=1), digits, tmp_path, epochs=(1, 0), overwrite=True)
    assert result.phase_epochs == [1, 0] and transfer.read_state(tmp_path)["saves"] == 2


def test_resume_without_a_state_is_an_error(digits, tmp_path):
    with pytest.raises(ValueError, match="holds no run to resume"):
        _run(_model(), digits, tmp_path, epochs=(1, 0), resume=True)
    assert os.listdir(tmp_path) == []


def test_resume_with_other_settings_says_what_differs(digits, tmp_path):
    _run(_model(), digits, tmp_path, epochs=(1, 0))
    with pytest.raises(ValueError, match=r"Differs: epochs: saved \[1, 0\], now \[2, 0\]"):
        _run(_model(), digits, tmp_path, epochs=(2, 0), resume=True)
    with pytest.raises(ValueError, match=r"Differs: model: saved \{'weights': \d+, .*, now \{'weights': \d+"):
        _run(_model(hidden=(16,)), digits, tmp_path, epochs=(1, 0), resume=True)


def test_state_and_the_weights_it_names_always_agree(digits, tmp_path, monkeypatch):
    snapshots = []
    record = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: snapshots.append(model.get_weights()))
    writes = []
    real_write = checkpoint.atomic_write_json

    def killed_on_second_state(obj, path):
        writes.append(path)
        if len(writes) == 2:
            raise Interrupt("killed after epoch 2's weights, before its state")
        return real_write(obj, path)

    monkeypatch.setattr(checkpoint, "atomic_write_json", killed_on_second_state)
    model = _model()
    with pytest.raises(Interrupt):
        _run(model, digits, tmp_path, patience=None, callbacks=[record])
    monkeypatch.undo()
    assert transfer.read_state(tmp_path)["history"]["loss"].__len__() == 1
    resumed, seen = _model(seed=5), []
    grab = keras.callbacks.LambdaCallback(on_train_begin=lambda logs: seen.append(resumed.get_weights()))
    with pytest.raises(Interrupt):
        _run(resumed, digits, tmp_path, patience=None, resume=True, callbacks=[grab, StopAt(1)])
    for restored, after_epoch_1 in zip(seen[0], snapshots[0]):
        np.testing.assert_array_equal(restored, after_epoch_1)  # the state's epoch, not the next one


def test_stale_temporaries_are_removed(digits, tmp_path):
    _run(_model(), digits, tmp_path, epochs=(1, 0))
    (tmp_path / ".tmp-0a1b2c3d4e5f.keras").write_bytes(b"half a model from a killed write")
    _run(_model(), digits, tmp_path, epochs=(1, 0), resume=True)
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".tmp-")]


def test_files_follow_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        files.atomic_write_json({"a": 1}, tmp_path / "state.json")
        checkpoint.atomic_save(zoo_model(), tmp_path / "best.keras")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "state.json").st_mode) == 0o640
    assert stat.S_IMODE(os.stat(tmp_path / "best.keras").st_mode) == 0o640


def zoo_model():
    import zoo

    return zoo.cnn_mnist(input_shape=(12, 12, 1))


def test_data_reaches_the_disk_before_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
                        or real_fsync(fd))
    monkeypatch.setattr(os, "replace", lambda a, b: events.append(("replace", str(b))) or real_replace(a, b))
    files.atomic_write_json({"a": 1}, tmp_path / "state.json")
    kinds = [kind for kind, _ in events]
    assert kinds == ["fsync", "replace", "fsync"]  # the file's data, the rename, the folder's entry
    assert os.path.basename(events[0][1]).startswith(".tmp-") and events[2][1] == str(tmp_path)


# Phase 2 (epochs 2-6) improves at epoch 2, not at 3 nor 4: EarlyStopping stops after epoch 4 and restores
# epoch 2's weights. Cut before epoch 4, the resumed run must know its patience is half used up and which
# weights were best; cut before epoch 1, it needs Adam's moments and iteration count.
# With lr_decay, phase 2's optimizer is a DiscriminativeOptimizer wrapping Adam: its variables are restored too.
# Carrying phase 1's best (the default), phase 2 never beats it here: the resumed run must carry the same
# best value and weights, and end on phase 1's model as the uninterrupted run does.
@pytest.mark.parametrize("interrupt_at, lr_decay, carry_best", [(1, None, False), (4, None, False),
                                                                 (3, 0.5, False), (3, None, True)],
                         ids=["in_phase1", "in_phase2_after_a_worse_epoch", "in_phase2_discriminative",
                              "in_phase2_carrying_phase1s_best"])
def test_resumed_run_ends_like_the_uninterrupted_run(digits, tmp_path, interrupt_at, lr_decay, carry_best):
    whole = _model()
    history = _run(whole, digits, tmp_path / "whole", lr_decay=lr_decay, carry_best=carry_best)
    # stopped early, as the scenario needs; carrying: phase 2 stops after its patience, none of it better
    assert lr_decay or history.phase_epochs == ([2, 2] if carry_best else [2, 3])
    with pytest.raises(Interrupt):
        _run(_model(), digits, tmp_path / "cut", lr_decay=lr_decay, carry_best=carry_best,
             callbacks=[StopAt(interrupt_at)])
    state = transfer.read_state(tmp_path / "cut")
    assert state["epoch_in_phase"] > 0  # cut inside a phase: the optimizer's moments matter
    resumed = _model(seed=5)  # a fresh process would start from new random weights
    again = _run(resumed, digits, tmp_path / "cut", lr_decay=lr_decay, carry_best=carry_best, resume=True)
    assert again.history == history.history and again.phase_epochs == history.phase_epochs
    for a, b in zip(whole.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(b, a, rtol=0, atol=RESUME_ATOL)
    assert int(resumed.optimizer.iterations) == int(whole.optimizer.iterations)
    assert lr_decay is None or isinstance(resumed.optimizer, transfer.DiscriminativeOptimizer)


class _DieAtTrainEnd(keras.callbacks.Callback):
    """Dies as the ``n``-th fit ends, before EarlyStopping (later in the list) restores its best weights."""

    def __init__(self, n):
        super().__init__()
        self.n, self.ends = n, 0

    def on_train_end(self, logs=None):
        self.ends += 1
        if self.ends == self.n:
            raise Interrupt("killed as phase 2 ends")


def test_resume_after_early_stopping_ended_the_phase(digits, tmp_path):
    whole = _model()
    _run(whole, digits, tmp_path / "whole")
    with pytest.raises(Interrupt):
        _run(_model(), digits, tmp_path / "cut", callbacks=[_DieAtTrainEnd(2)])
    state = transfer.read_state(tmp_path / "cut")
    assert state["early_stopping"]["stopped_epoch"] == 4 and state["epoch_in_phase"] == 3
    resumed = _model(seed=5)
    again = _run(resumed, digits, tmp_path / "cut", resume=True)
    assert again.phase_epochs == [2, 3]  # no further epoch: the stopped phase only ends
    for a, b in zip(whole.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(b, a, rtol=0, atol=RESUME_ATOL)  # epoch 2's weights, as EarlyStopping chose
