"""fine_tune end to end on real digits, discriminative learning rates under XLA, atomic and resumable checkpoints."""

import json
import os

import keras
import numpy as np
import pytest

import transfer
from interrupting import Interrupt, StopAt
from datasets import digits as digit_data


@pytest.fixture(scope="module")
def digits16():
    x, y = digit_data.load_small(16, channel=True)
    return x, y


def _model(seed=0):
    keras.utils.set_random_seed(seed)
    base = transfer.load_backbone("cnn_mnist", weights=None, input_shape=(16, 16, 1))
    return transfer.attach_head(base, 10, hidden=(32,), pooling="flatten")


def test_fine_tune_two_phases_on_digits(digits16, tmp_path):
    x, y = digits16
    model = _model()
    phases = []
    result = transfer.fine_tune(model, (x[:600], y[:600]), (x[600:900], y[600:900]), epochs=(3, 2),
                                learning_rate=(3e-3, 1e-3), lr_decay=0.5, patience=None, verbose=0,
                                checkpoint_dir=tmp_path, on_phase=lambda p, d: phases.append(p))
    assert phases == [1, 2]
    assert result.phase_epochs == [3, 2] and result.phase_boundaries == [3]
    assert len(result.history["val_accuracy"]) == 5
    assert result.history["val_accuracy"][-1] > 0.5  # 10 classes: chance is 0.1
    # Phase 2 ran with the discriminative optimizer and unfroze the last group only.
    assert isinstance(model.optimizer, transfer.DiscriminativeOptimizer)
    report = transfer.trainable_report(model)
    assert report["block1"][2] == 0 and report["block2"][2] > 0
    best = transfer.load_model(result.best_path)
    assert best.predict(x[:4], verbose=0).shape == (4, 10)
    assert result.best == pytest.approx(min(result.history["val_loss"]))
    fig = result.plot(tmp_path / "curves.png")
    assert os.path.getsize(tmp_path / "curves.png") > 1000 and len(fig.axes) == 2


def test_fine_tune_with_tf_data(digits16):
    import tensorflow as tf

    x, y = digits16
    train = tf.data.Dataset.from_tensor_slices((x[:256], y[:256])).batch(32)
    result = transfer.fine_tune(_model(), train, None, epochs=(1, 1), patience=None, verbose=0)
    assert sorted(result.history) == ["accuracy", "loss"] and result.phase_epochs == [1, 1]


def test_interrupted_run_resumes(digits16, tmp_path):
    x, y = digits16
    train, val = (x[:300], y[:300]), (x[300:500], y[300:500])
    kwargs = dict(epochs=(2, 2), patience=None, verbose=0, checkpoint_dir=tmp_path)
    model = _model()
    with pytest.raises(Interrupt):
        transfer.fine_tune(model, train, val, callbacks=[StopAt(3)], **kwargs)  # dies in phase 2, epoch 2
    state = transfer.read_state(tmp_path)
    assert (state["phase"], state["epoch_in_phase"], state["phase1_epochs"]) == (2, 1, 2)
    saved = [np.array(w) for w in keras.saving.load_model(tmp_path / "best.keras").weights]
    resumed_model = _model(seed=5)  # a fresh process would start from new random weights
    result = transfer.fine_tune(resumed_model, train, val, resume=True, **kwargs)
    assert result.phase_epochs == [2, 2] and len(result.history["loss"]) == 4
    assert result.history["loss"][:3] == state["history"]["loss"]  # the first three epochs were not rerun
    assert transfer.read_state(tmp_path)["epoch_in_phase"] == 2
    assert saved  # the best model file was readable throughout


def test_failed_save_leaves_previous_checkpoint(tmp_path, monkeypatch):
    model = transfer.attach_head(transfer.load_backbone("cnn_mnist", weights=None, input_shape=(12, 12, 1)), 2)
    path = tmp_path / "best.keras"
    transfer.atomic_save(model, path)
    good = open(path, "rb").read()

    def broken_save(filepath, *args, **kwargs):
        with open(filepath, "wb") as f:
            f.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(model, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        transfer.atomic_save(model, path)
    assert open(path, "rb").read() == good
    assert os.listdir(tmp_path) == ["best.keras"]  # the temporary file is gone too
    keras.saving.load_model(path)
    with pytest.raises(ValueError, match="Received: path="):
        transfer.atomic_save(model, tmp_path / "best.h5")


def test_state_file_is_json_written_last(digits16, tmp_path):
    x, y = digits16
    transfer.fine_tune(_model(), (x[:100], y[:100]), (x[100:200], y[100:200]), epochs=(1, 0), patience=None,
                       verbose=0, checkpoint_dir=tmp_path)
    state = json.load(open(tmp_path / "state.json"))
    assert state["phase"] == 2 and state["phase1_epochs"] == 1
    assert sorted(os.listdir(tmp_path)) == ["best.keras", state["resume_file"], "state.json"]
