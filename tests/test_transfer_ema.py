"""WeightAverage: an EMA of every weight (BatchNorm statistics too), compiled, across a recompile, on TF and JAX."""

import keras
import numpy as np
import pytest

from transfer.training.ema import WeightAverage, decay_at

# The hand check, shared by the TensorFlow test and the JAX subprocess: a tiny model whose BatchNorm trains,
# fit under XLA with the average; a recorder after it keeps each step's weights; the EMA is recomputed by hand.
HAND_CHECK = """
import keras, numpy as np
from transfer.training.ema import WeightAverage, decay_at

class Record(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.steps = []
    def on_train_batch_end(self, batch, logs=None):
        self.steps.append([keras.ops.convert_to_numpy(w) for w in self.model.weights])

def tiny_model():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((6,)), keras.layers.Dense(5), keras.layers.BatchNormalization(momentum=0.5),
                             keras.layers.Activation("relu"), keras.layers.Dense(3, dtype="float32")])

def hand_ema(start, steps, decay, first_step=1):
    ema = [np.array(w, np.float64) for w in start]
    for n, weights in enumerate(steps, first_step):
        d = decay_at(n, decay)
        ema = [d * e + (1 - d) * w for e, w in zip(ema, weights)]
    return ema

def check(policy="float32"):
    keras.config.set_dtype_policy(policy)
    rng = np.random.default_rng(0)
    x, y = rng.normal(3.0, 2.0, (32, 6)).astype("float32"), np.arange(32) % 3
    model = tiny_model()
    model.compile("adam", "sparse_categorical_crossentropy", jit_compile=True)
    start = [keras.ops.convert_to_numpy(w) for w in model.weights]
    ema, record = WeightAverage(decay=0.9), Record()
    model.fit(x, y, batch_size=8, epochs=2, callbacks=[ema, record], verbose=0)
    bn = model.layers[1]
    mean_at = [w is bn.moving_mean for w in model.weights].index(True)
    expected = hand_ema(start, record.steps, 0.9)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(bn.moving_mean), expected[mean_at], rtol=1e-5, atol=1e-6)
    for w, e in zip(model.weights, expected):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(w), e, rtol=1e-5, atol=1e-6)
    # The moving mean moved during training, and the average differs from the last step's value.
    assert np.abs(record.steps[-1][mean_at] - start[mean_at]).max() > 0.1
    assert np.abs(record.steps[-1][mean_at] - expected[mean_at]).max() > 1e-3
    # Phase 2: a recompile (new optimizer); it trains from the average and the average goes on.
    phase2_start = [keras.ops.convert_to_numpy(w) for w in model.weights]
    model.compile(keras.optimizers.SGD(0.05), "sparse_categorical_crossentropy", jit_compile=True)
    record2 = Record()
    model.fit(x, y, batch_size=8, epochs=1, callbacks=[ema, record2], verbose=0)
    assert ema.steps == 12
    expected2 = hand_ema(expected, record2.steps, 0.9, first_step=9)
    for w, e in zip(model.weights, expected2):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(w), e, rtol=1e-5, atol=1e-6)
    # The first phase-2 step trained the average (not the weights phase 1 swapped out).
    first = record2.steps[0][0] - phase2_start[0]
    assert np.abs(first).max() < 0.2
    return True
"""


def test_decay_warmup_is_timms():
    assert decay_at(1, 0.999) == pytest.approx(1 - 2 ** (-2 / 3))
    assert decay_at(10**9, 0.999) == 0.999
    assert decay_at(3, 0.5, warmup_power=None) == 0.5


def test_batchnorm_statistics_are_averaged_and_the_average_survives_a_recompile():
    namespace = {}
    exec(HAND_CHECK, namespace)  # noqa: S102  (the shared check, also run under JAX below)
    assert namespace["check"]()


@pytest.mark.slow
def test_same_check_on_jax_with_mixed_precision(run_jax):
    out = run_jax(HAND_CHECK + "\nprint(check('mixed_bfloat16'), keras.backend.backend())\n")
    assert out.split()[-2:] == ["True", "jax"]


def test_validation_and_the_returned_model_use_the_average():
    keras.utils.set_random_seed(1)
    rng = np.random.default_rng(1)
    x, y = rng.normal(0, 1, (48, 6)).astype("float32"), np.arange(48) % 3
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8), keras.layers.BatchNormalization(),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(keras.optimizers.SGD(0.5), "sparse_categorical_crossentropy", jit_compile=True)
    ema = WeightAverage(decay=0.99)
    history = model.fit(x, y, batch_size=8, epochs=2, validation_data=(x[:16], y[:16]), callbacks=[ema], verbose=0)
    # After fit the model holds the last epoch's average: evaluating it gives that epoch's validation loss.
    loss = model.evaluate(x[:16], y[:16], verbose=0)
    assert loss == pytest.approx(history.history["val_loss"][-1], rel=1e-5)
    np.testing.assert_allclose(np.array(model.weights[0]), np.asarray(ema.averages[0]), rtol=1e-6)


def test_state_round_trip_continues_the_trained_weights():
    rng = np.random.default_rng(2)
    x, y = rng.normal(0, 1, (16, 6)).astype("float32"), np.arange(16) % 3

    def run(epochs, ema, model):
        model.fit(x, y, batch_size=8, epochs=epochs, callbacks=[ema], verbose=0, shuffle=False)

    def fresh():
        keras.utils.set_random_seed(3)
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4), keras.layers.BatchNormalization(),
                                  keras.layers.Dense(3, activation="softmax")])
        model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
        return model

    whole, ema = fresh(), WeightAverage(0.8)
    run(2, ema, whole)
    half, ema_half = fresh(), WeightAverage(0.8)
    run(1, ema_half, half)
    state, saved_weights = ema_half.get_state(), half.get_weights()
    resumed, ema_resumed = fresh(), WeightAverage(0.8)
    resumed.set_weights(saved_weights)
    ema_resumed.set_state(state, resumed, mid_phase=True)
    run(1, ema_resumed, resumed)  # SGD without momentum: no optimizer state to carry
    for a, b in zip(whole.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="holds 2 arrays"):
        WeightAverage().set_state([np.array(3), np.zeros(2), np.zeros(2)], fresh())


def test_bad_decay_is_refused():
    with pytest.raises(ValueError, match="decay"):
        WeightAverage(decay=1.0)
    with pytest.raises(ValueError, match="warmup_power"):
        WeightAverage(warmup_power=0)


# Through fine_tune: Recipe(ema=...) as an ingredient, BatchNorm training in phase 2, resumed exactly.

def _bn_model(seed=0):
    import transfer

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Rescaling(1 / 16)(inputs)
    for name, strides in (("low", 1), ("high", 2)):
        x = keras.layers.Conv2D(8, 3, strides=strides, name=f"{name}_conv")(x)
        x = keras.layers.Activation("relu")(keras.layers.BatchNormalization(name=f"{name}_bn")(x))
    base = transfer.as_backbone(keras.Model(inputs, x, name="tiny_bn"), groups={"low": "low_conv", "high": "high_conv"})
    return transfer.attach_head(base, 5)


@pytest.fixture(scope="module")
def digits():
    import tensorflow as tf
    from datasets import digits as digit_data

    x, y = digit_data.load_small(16, channel=True)
    x, y = x[:192], y[:192] % 5

    def batches(a, b):
        return tf.data.Dataset.from_tensor_slices((a, b)).batch(32)  # one order every epoch

    return batches(x[:128], y[:128]), batches(x[128:], y[128:])


class _Steps(keras.callbacks.Callback):
    """The model's weights before the first fit and after every step, over every fit of a run."""

    def __init__(self):
        super().__init__()
        self.start, self.steps = None, []

    def on_train_begin(self, logs=None):
        if self.start is None:
            self.start = [np.array(w) for w in self.model.weights]

    def on_train_batch_end(self, batch, logs=None):
        self.steps.append([np.array(w) for w in self.model.weights])


def _hand_average(start, steps, decay):
    ema = [np.asarray(w, np.float64) for w in start]
    for n, weights in enumerate(steps, 1):
        d = decay_at(n, decay)
        ema = [d * e + (1 - d) * w for e, w in zip(ema, weights)]
    return ema


@pytest.mark.slow
def test_fine_tune_ends_on_the_average_of_both_phases_batchnorm_included(digits, tmp_path):
    import transfer

    model, steps = _bn_model(), _Steps()
    recipe = transfer.Recipe(epochs=(1, 2), learning_rate=(3e-3, 3e-3), train_bn=True, patience=None, ema=0.8)
    result = transfer.fine_tune(model, *digits, recipe, checkpoint_dir=tmp_path / "run", callbacks=[steps],
                                verbose=0)
    assert len(steps.steps) == 12  # 4 steps per epoch, 3 epochs, both phases
    expected = _hand_average(steps.start, steps.steps, 0.8)
    for w, e in zip(model.weights, expected):
        np.testing.assert_allclose(np.array(w), e, rtol=1e-5, atol=1e-6)
    moving_mean = model.get_layer("tiny_bn").get_layer("high_bn").moving_mean
    at = [w is moving_mean for w in model.weights].index(True)
    assert np.abs(steps.steps[-1][at] - steps.steps[3][at]).max() > 1e-3  # phase 2 moved the statistics
    # Validation and the best checkpoint are the average's: the saved best model scores the best val_loss.
    best = keras.saving.load_model(result.best_path)
    assert best.evaluate(digits[1], verbose=0)[0] == pytest.approx(min(result.history["val_loss"]), rel=1e-5)


@pytest.mark.slow
def test_resume_continues_the_average_and_refuses_another_decay(digits, tmp_path):
    import transfer
    from interrupting import Interrupt, StopAt

    recipe = transfer.Recipe(epochs=(1, 2), learning_rate=(3e-3, 3e-3), train_bn=True, patience=None, ema=0.8)
    whole = _bn_model()
    history = transfer.fine_tune(whole, *digits, recipe, checkpoint_dir=tmp_path / "whole", verbose=0)
    with pytest.raises(Interrupt):  # dies as phase 2's second epoch begins
        transfer.fine_tune(_bn_model(), *digits, recipe, checkpoint_dir=tmp_path / "cut", callbacks=[StopAt(2)],
                           verbose=0)
    assert transfer.read_state(tmp_path / "cut")["epoch_in_phase"] == 1
    with pytest.raises(ValueError, match="ema: saved 0.8, now 0.9"):
        transfer.fine_tune(_bn_model(), *digits, recipe.replace(ema=0.9), checkpoint_dir=tmp_path / "cut",
                           resume=True, verbose=0)
    with pytest.raises(ValueError, match="ema: saved 0.8, now None"):
        transfer.fine_tune(_bn_model(), *digits, recipe.replace(ema=None), checkpoint_dir=tmp_path / "cut",
                           resume=True, verbose=0)
    resumed = _bn_model(seed=5)
    again = transfer.fine_tune(resumed, *digits, recipe, checkpoint_dir=tmp_path / "cut", resume=True, verbose=0)
    assert again.history == history.history
    for a, b in zip(whole.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-6)


def test_recipe_checks_its_ema_settings():
    import transfer

    with pytest.raises(ValueError, match="ema"):
        transfer.Recipe(ema=1.0)
    with pytest.raises(ValueError, match="ema"):
        transfer.Recipe(ema=True)
    with pytest.raises(ValueError, match="ema_warmup"):
        transfer.Recipe(ema=0.9, ema_warmup="yes")
    assert transfer.Recipe(ema=0.999).config()["ema"] == 0.999
