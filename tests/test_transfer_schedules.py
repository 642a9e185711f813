"""Warmup then cosine decay per phase of fine_tune: the rate each step used, steps from arrays or tf.data."""

import keras
import numpy as np
import pytest

import transfer
from datasets import digits as digit_data
from transfer.training.schedules import steps_per_epoch, warmup_cosine


class _Rates(keras.callbacks.Callback):
    """The unscaled learning rate of each training step."""

    def __init__(self):
        super().__init__()
        self.rates = []

    def on_train_batch_begin(self, batch, logs=None):
        self.rates.append(float(self.model.optimizer.learning_rate))


def _model():
    keras.utils.set_random_seed(0)
    base = transfer.load_backbone("cnn_mnist", weights=None, input_shape=(16, 16, 1))
    return transfer.attach_head(base, 10, hidden=(32,), pooling="flatten")


def test_each_phase_warms_up_then_decays():
    x, y = digit_data.load_small(16, channel=True)
    rates = _Rates()
    result = transfer.fine_tune(_model(), (x[:320], y[:320]), None, epochs=(2, 3), learning_rate=(1e-2, 1e-3),
                                lr_decay=0.5, schedule="cosine", warmup=0.2, batch_size=32, patience=None,
                                verbose=0, callbacks=[rates])
    phase1, phase2 = np.array(rates.rates[:20]), np.array(rates.rates[20:])
    assert len(phase2) == 30  # 10 steps per epoch
    for phase, peak, warmup_steps in ((phase1, 1e-2, 4), (phase2, 1e-3, 6)):
        assert np.all(np.diff(phase[:warmup_steps + 1]) > 0)  # warmup up to the peak...
        assert phase[warmup_steps] == pytest.approx(peak)
        assert np.all(np.diff(phase[warmup_steps:]) < 0) and phase[-1] < 0.05 * peak  # ...then cosine down
    assert result.history["accuracy"][-1] > result.history["accuracy"][0]


def test_steps_per_epoch_from_tf_data():
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices(np.zeros((100, 2))).batch(32)
    assert steps_per_epoch(ds, None) == 4
    with pytest.raises(ValueError, match="Received: cardinality=-2"):
        steps_per_epoch(ds.filter(lambda v: True), None)


def test_wrong_schedule_is_refused():
    x, y = digit_data.load_small(16, channel=True)
    with pytest.raises(ValueError, match="schedule"):
        transfer.fine_tune(_model(), (x[:32], y[:32]), epochs=1, schedule="linear", verbose=0)


def test_warmup_cosine_shape():
    lr = warmup_cosine(1.0, total_steps=10, warmup=0.3)
    values = [float(lr(s)) for s in range(11)]
    np.testing.assert_allclose(values[:4], [0.25, 0.5, 0.75, 1.0], rtol=1e-6)
    assert values[-1] == pytest.approx(0.0, abs=1e-7)
