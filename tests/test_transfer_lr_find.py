"""transfer.lr_find: the range test on the compiled step puts the model and its optimizer back; valley; the plot."""

import textwrap

import keras
import numpy as np
import pytest
from sklearn.datasets import load_digits

import transfer
import viz
from transfer.training.lr_find import LRFinderResult, valley
from conftest import run_python



def digits(n=128):
    """Real handwritten digits, 8x8 grown to 16x16 RGB in 0..255."""
    d = load_digits()
    x = np.repeat(np.kron(d.images[:n], np.ones((2, 2)))[..., None], 3, -1) * 16.0
    return x.astype("float32"), d.target[:n].astype("int32")


def small_model(classes=10, policy=None):
    """A head on a two-group backbone with BatchNorm, small enough to compile in seconds."""
    with transfer.policy_scope(policy or keras.mixed_precision.global_policy().name):
        inputs = keras.Input((16, 16, 3))
        h = inputs
        for name, filters in (("low", 8), ("high", 16)):
            h = keras.layers.Conv2D(filters, 3, strides=2, padding="same", use_bias=False, name=f"{name}_conv")(h)
            h = keras.layers.BatchNormalization(name=f"{name}_bn")(h)
            h = keras.layers.Activation("relu", name=f"{name}_relu")(h)
        base = transfer.as_backbone(keras.Model(inputs, h), groups={"low": "low_conv", "high": "high_conv"})
        return transfer.attach_head(base, classes)


def _values(variables):
    return [np.array(keras.ops.convert_to_numpy(v)) for v in variables]


@pytest.mark.slow
def test_weights_batchnorm_statistics_and_optimizer_state_are_restored():
    x, y = digits()
    model = small_model()
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", jit_compile=True)
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)  # the optimizer has moments and a step count
    weights, slots = _values(model.variables), _values(model.optimizer.variables)
    result = transfer.lr_find(model, (x, y), num_steps=20, batch_size=32)  # its own optimizer, BN in training
    assert len(result.rates) == 20 and not result.diverged
    moving = [v for v in model.variables if "moving_mean" in v.path]
    assert moving, "the test needs BatchNorm statistics"
    for before, after in zip(weights + slots, _values(model.variables) + _values(model.optimizer.variables)):
        np.testing.assert_array_equal(before, after)
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 4


def test_sweep_is_exponential_and_stops_at_divergence():
    x, y = digits()
    model = transfer.attach_head(transfer.load_backbone("cnn_mnist", weights=None, input_shape=(16, 16, 3)), 10)
    result = transfer.lr_find(model, (x, y), optimizer="sgd", start_lr=1e-4, end_lr=1e4, num_steps=50,
                              batch_size=32)
    ratios = np.diff(np.log(result.rates))
    np.testing.assert_allclose(ratios, np.log(1e8) / 49, rtol=1e-9)
    assert result.diverged and len(result.rates) < 50
    assert result.losses[-1] > 4 * min(result.losses) or not np.isfinite(result.losses[-1])
    assert result.rates[0] <= result.suggestion < result.rates[-1]


@pytest.mark.slow
def test_phase_one_frozen_and_phase_two_discriminative_mixed_float16():
    x, y = digits()
    model = small_model(policy="mixed_float16")
    transfer.freeze(model)
    first = transfer.lr_find(model, (x, y), num_steps=15, batch_size=32, jit_compile=True)
    transfer.unfreeze(model, "low")
    weights = _values(model.variables)
    opt = transfer.DiscriminativeOptimizer(keras.optimizers.Adam(), transfer.group_multipliers(model, 0.3))
    second = transfer.lr_find(model, (x, y), optimizer=opt, num_steps=15, batch_size=32, jit_compile=True)
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert len(first.rates) == len(second.rates) == 15
    for before, after in zip(weights, _values(model.variables)):
        np.testing.assert_array_equal(before, after)


def test_valley_takes_half_way_down_the_longest_fall():
    losses = [3.0, 2.9, 3.5, 2.5, 2.0, 1.6, 1.2, 0.9, 1.4, 5.0]
    # The longest decreasing run: 3.0, 2.9, 2.5, 2.0, 1.6, 1.2, 0.9 (indices 0..7): start 0, end 7.
    assert valley(losses, skip_start=0, skip_end=0) == int(7 / 3) + int(7 / 3 / 2)
    # fastai counts the start one before a run that opens the trimmed curve: 2.5..0.9 is 5 long, ends at 4.
    assert valley(losses, skip_start=3, skip_end=2) == 3 + (4 - 5) + int(5 / 3) + int(5 / 3 / 2)


def test_bad_arguments_are_named():
    x, y = digits(32)
    model = transfer.attach_head(transfer.load_backbone("cnn_mnist", weights=None, input_shape=(16, 16, 3)), 10)
    with pytest.raises(ValueError, match="start_lr"):
        transfer.lr_find(model, (x, y), start_lr=1.0, end_lr=0.1)
    with pytest.raises(ValueError, match="schedule"):
        schedule = keras.optimizers.schedules.ExponentialDecay(1e-3, 10, 0.5)
        transfer.lr_find(model, (x, y), optimizer=keras.optimizers.Adam(schedule), num_steps=3)


def test_plot_marks_the_suggestion(tmp_path):
    rates = list(np.geomspace(1e-6, 1, 40))
    losses = list(np.linspace(2.3, 0.5, 30)) + list(np.linspace(0.6, 8, 10))
    result = LRFinderResult(rates, losses, losses, suggestion=rates[12], suggestion_index=12)
    fig = viz.plot_lr_find(result, path=str(tmp_path / "lr.png"))
    ax = fig.axes[0]
    marker = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert ax.get_xscale() == "log" and (tmp_path / "lr.png").exists()
    assert marker and marker[0].get_xdata()[0] == rates[12]


@pytest.mark.slow
def test_jax_restores_and_sweeps_with_mixed_bfloat16():
    code = textwrap.dedent("""
        import keras, numpy as np, transfer
        from tests.test_transfer_lr_find import digits, small_model
        x, y = digits()
        model = small_model(policy="mixed_bfloat16")
        transfer.freeze(model)
        before = [np.array(v) for v in model.variables]
        result = transfer.lr_find(model, (x, y), num_steps=12, batch_size=32)
        transfer.unfreeze(model, "low", train_bn=True)
        result2 = transfer.lr_find(model, (x, y), num_steps=12, batch_size=32)
        assert keras.backend.backend() == "jax"
        assert len(result.rates) == len(result2.rates) == 12, (result, result2)
        assert all(np.array_equal(a, np.array(b)) for a, b in zip(before, model.variables))
        print("ok")
    """)
    assert "ok" in run_python(code)  # a fresh interpreter under KERAS_BACKEND=jax
