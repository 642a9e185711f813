"""Discriminative learning rates on keras.optimizers.MultiOptimizer: exact update ratios under XLA, JAX,
a schedule, mixed_float16 loss scaling and tf.distribute; saving and loading."""

import textwrap

import keras
import numpy as np
import pytest

import transfer
from transfer.training.schedules import ScaledSchedule, warmup_cosine



def _script(body):
    """Code for a subprocess (another backend, or TensorFlow with two logical CPUs) using this module's _ratios."""
    return "import sys; sys.path.insert(0, 'tests'); from test_transfer_optimizers import _ratios\n" + \
        textwrap.dedent(body)


def _one_step(opt, jit_compile, loss_scale=None):
    """One train step of a two-layer model; the change of each weight."""
    keras.utils.set_random_seed(0)
    inp = keras.Input((4,))
    out = keras.layers.Dense(1, name="top", dtype="float32")(keras.layers.Dense(3, name="bottom")(inp))
    model = keras.Model(inp, out)
    before = [np.array(w) for w in model.weights]
    model.compile(opt, "mse", jit_compile=jit_compile)
    if loss_scale is not None:  # mixed_float16: compile wrapped the optimizer; start at a scale that fits
        model.optimizer.build(model.trainable_variables)
        model.optimizer.dynamic_scale.assign(loss_scale)
    model.train_on_batch(np.random.RandomState(0).rand(16, 4), np.ones((16, 1)))
    return [np.array(w) - b for w, b in zip(model.weights, before)], model


def _ratios(make_inner, jit_compile=False, loss_scale=None, strategy=None):
    """Update of each weight with {"bottom/*": 0.25} over the plain optimizer's; and the compiled optimizer."""
    import contextlib

    scope = strategy.scope if strategy else contextlib.nullcontext
    with scope():
        plain, _ = _one_step(make_inner(), jit_compile, loss_scale)
    with scope():
        scaled, model = _one_step(transfer.DiscriminativeOptimizer(make_inner(), {"bottom/*": 0.25}),
                                  jit_compile, loss_scale)
    ratios = [float(np.abs(s).sum() / np.abs(p).sum()) for s, p in zip(scaled, plain)]
    return ratios, model.optimizer


def _check(ratios):
    np.testing.assert_allclose(ratios[:2], 0.25, rtol=1e-3)  # bottom kernel and bias
    np.testing.assert_allclose(ratios[2:], 1.0, rtol=1e-3)   # top: the default multiplier


@pytest.mark.parametrize("inner", ["sgd", "adam"])
@pytest.mark.parametrize("jit_compile", [False, True])
def test_update_ratio_is_the_multiplier(inner, jit_compile):
    ratios, opt = _ratios(lambda: keras.optimizers.get(inner), jit_compile)
    _check(ratios)
    assert isinstance(opt, keras.optimizers.MultiOptimizer) and int(opt.iterations) == 1
    assert len(opt.optimizers) == 2  # one copy per multiplier in use


def test_update_ratio_follows_a_schedule():
    schedule = warmup_cosine(1e-2, total_steps=10, warmup=0.2)
    ratios, opt = _ratios(lambda: keras.optimizers.Adam(ScaledSchedule(schedule, 1.0)), jit_compile=True)
    _check(ratios)
    rates = sorted(float(o.learning_rate) for o in opt.optimizers)  # at step 1 of 2 warmup steps: 2/3
    np.testing.assert_allclose(rates, [0.25 * 2e-2 / 3, 2e-2 / 3], rtol=1e-5)


def test_learning_rate_reads_and_sets_the_unscaled_rate():
    opt = transfer.DiscriminativeOptimizer(keras.optimizers.SGD(0.1), {"a*": 0.5})
    opt.learning_rate = 0.2
    assert float(opt.learning_rate) == pytest.approx(0.2)
    assert float(opt.by_multiplier[0.5].learning_rate) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="Received: 'a\\*': -1"):
        transfer.DiscriminativeOptimizer("sgd", {"a*": -1})


@pytest.fixture
def mixed_float16():
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    yield
    keras.mixed_precision.set_dtype_policy("float32")


def test_mixed_float16_loss_scaling_wraps_it(mixed_float16):
    ratios, opt = _ratios(keras.optimizers.Adam, jit_compile=True, loss_scale=8.0)
    _check(ratios)
    assert isinstance(opt, keras.optimizers.LossScaleOptimizer)
    assert isinstance(opt.inner_optimizer, transfer.DiscriminativeOptimizer)
    assert int(opt.inner_optimizer.iterations) == 1  # the step was applied, not skipped


def test_jax_xla_and_loss_scaling(run_jax):
    out = run_jax(_script("""
        import keras, numpy as np
        for inner in ("sgd", "adam"):
            print(*np.round(_ratios(lambda: keras.optimizers.get(inner), jit_compile=True)[0], 3))
        keras.mixed_precision.set_dtype_policy("mixed_float16")
        ratios, opt = _ratios(keras.optimizers.Adam, loss_scale=8.0)
        print(*np.round(ratios, 3), type(opt.inner_optimizer).__name__)
    """))
    lines = out.strip().splitlines()
    assert lines[:2] == ["0.25 0.25 1.0 1.0"] * 2
    assert lines[2] == "0.25 0.25 1.0 1.0 DiscriminativeOptimizer"


def test_mirrored_strategy_over_two_cpus(run_jax):
    # tf.distribute needs its logical devices before TensorFlow starts: a fresh process.
    out = run_jax(_script("""
        import keras, numpy as np, tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        for inner in ("sgd", "adam"):
            ratios, opt = _ratios(lambda: keras.optimizers.get(inner), strategy=strategy)
            print(*np.round(ratios, 3), strategy.num_replicas_in_sync, int(np.array(opt.iterations)))
    """), backend="tensorflow")
    assert out.strip().splitlines() == ["0.25 0.25 1.0 1.0 2 1"] * 2


def test_discriminative_optimizer_saves_and_loads(tmp_path):
    model = transfer.attach_head(transfer.load_backbone("cnn_mnist", weights=None, input_shape=(12, 12, 1)), 1)
    mults = transfer.group_multipliers(model, decay=0.5)
    assert mults == {"predictions/*": 1.0, "block2_conv/*": 1.0, "block1_conv/*": 0.5}
    schedule = warmup_cosine(1e-3, 20)
    model.compile(transfer.DiscriminativeOptimizer(keras.optimizers.Adam(schedule), mults), "binary_crossentropy")
    model.train_on_batch(np.ones((2, 12, 12, 1), "float32"), np.ones((2, 1)))
    path = transfer.save_model(model, tmp_path / "m.keras", class_names=["no", "yes"])
    loaded = transfer.load_model(path)
    names = loaded.class_names
    assert names == ["no", "yes"]
    assert isinstance(loaded.optimizer, transfer.DiscriminativeOptimizer)
    assert loaded.optimizer.multipliers == mults
    half = loaded.optimizer.by_multiplier[0.5].get_config()["learning_rate"]
    assert half["config"]["factor"] == 0.5  # the scaled schedule came back
    np.testing.assert_allclose(loaded.predict(np.ones((1, 12, 12, 1)), verbose=0),
                               model.predict(np.ones((1, 12, 12, 1)), verbose=0), rtol=1e-6)


def test_a_model_compiled_with_discriminative_rates_exports(tmp_path):
    """TensorFlow's SavedModel tracking refused the optimizer's dict keyed by floats."""
    import tensorflow as tf

    model = transfer.attach_head(transfer.load_backbone("cnn_mnist", weights=None, input_shape=(12, 12, 1)), 2)
    model.compile(transfer.DiscriminativeOptimizer(keras.optimizers.Adam(1e-3), {"block1_conv/*": 0.5}),
                  "sparse_categorical_crossentropy")
    model.train_on_batch(np.ones((2, 12, 12, 1), "float32"), np.array([0, 1]))
    model.export(str(tmp_path / "saved"), format="tf_saved_model", verbose=False)
    served = tf.saved_model.load(str(tmp_path / "saved"))
    x = np.random.default_rng(0).uniform(0, 255, (3, 12, 12, 1)).astype("float32")
    np.testing.assert_allclose(served.serve(x).numpy(), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    assert model.optimizer.by_multiplier[0.5].learning_rate.numpy() == pytest.approx(5e-4)
