"""Label smoothing with integer labels, weight decay that spares norms and biases, gradient accumulation."""

import textwrap

import keras
import numpy as np
import pytest

import transfer
from tests.test_transfer_lr_find import small_model
from transfer.training.regularisation import (SmoothedCrossentropy, no_decay_variables, smoothed_loss,
                                              with_gradient_accumulation, with_weight_decay)
from conftest import run_python



def test_smoothed_loss_with_integer_labels_is_the_hand_computed_one():
    p = np.array([[0.6, 0.3, 0.1], [0.2, 0.2, 0.6]], dtype="float32")
    labels = np.array([1, 2])
    e, k = 0.1, 3
    targets = np.full((2, 3), e / k)
    targets[np.arange(2), labels] += 1 - e  # 0.9333 on the label, 0.0333 elsewhere
    expected = np.mean(-(targets * np.log(p)).sum(axis=1))
    for shape in ((2,), (2, 1)):
        assert float(SmoothedCrossentropy(e)(labels.reshape(shape), p)) == pytest.approx(expected, rel=1e-6)
    one_hot = np.eye(3)[labels]
    assert float(SmoothedCrossentropy(e)(one_hot, p)) == pytest.approx(expected, rel=1e-6)
    logits = np.log(p)
    assert float(SmoothedCrossentropy(e, from_logits=True)(labels, logits)) == pytest.approx(expected, rel=1e-5)


def test_smoothed_loss_picks_the_heads_loss():
    assert smoothed_loss("sparse_categorical_crossentropy", 0.0) == "sparse_categorical_crossentropy"
    loss = smoothed_loss(keras.losses.SparseCategoricalCrossentropy(from_logits=True), 0.2)
    assert isinstance(loss, SmoothedCrossentropy) and loss.from_logits and loss.label_smoothing == 0.2
    binary = smoothed_loss("binary_crossentropy", 0.2)
    # Binary smoothing pulls the label 1 to 0.9: the loss at p=0.9 is then its minimum.
    at = [float(binary(np.array([[1.0]]), np.array([[q]]))) for q in (0.85, 0.9, 0.95)]
    assert at[1] < at[0] and at[1] < at[2]
    with pytest.raises(ValueError, match="mse"):
        smoothed_loss("mse", 0.1)
    with pytest.raises(ValueError, match="label_smoothing"):
        transfer.Recipe(label_smoothing=1.0)


def _decay_step(optimizer, model):
    """One step of zero gradients: only weight decay moves the variables."""
    variables = model.trainable_variables
    before = {v.path: np.array(keras.ops.convert_to_numpy(v)) for v in variables}
    optimizer.apply([keras.ops.zeros(v.shape, v.dtype) for v in variables], variables)
    return {v.path: (before[v.path], np.array(keras.ops.convert_to_numpy(v))) for v in variables}


def test_weight_decay_spares_biases_and_norm_parameters():
    model = small_model()
    assert {v.name for v in no_decay_variables(model)} == {"gamma", "beta", "bias", "moving_mean",
                                                            "moving_variance"}
    moved = _decay_step(with_weight_decay(keras.optimizers.SGD(0.1), 0.5, model), model)
    for path, (before, after) in moved.items():
        if path.endswith(("gamma", "beta", "bias")):
            np.testing.assert_array_equal(after, before, err_msg=path)
        else:  # kernels: w -= lr * wd * w
            np.testing.assert_allclose(after, before * (1 - 0.1 * 0.5), rtol=1e-6, err_msg=path)


def test_weight_decay_through_a_discriminative_optimizer():
    model = small_model()
    transfer.unfreeze(model, "low")
    opt = transfer.DiscriminativeOptimizer(keras.optimizers.SGD(0.1), {"low_*": 0.5})
    moved = _decay_step(with_weight_decay(opt, 0.5, model), model)
    low, head = moved["low_conv/kernel"], moved["predictions/kernel"]
    np.testing.assert_allclose(low[1], low[0] * (1 - 0.05 * 0.5), rtol=1e-6)  # its group's rate decays it
    np.testing.assert_allclose(head[1], head[0] * (1 - 0.1 * 0.5), rtol=1e-6)
    np.testing.assert_array_equal(moved["predictions/bias"][1], moved["predictions/bias"][0])
    with pytest.raises(ValueError, match="weight_decay"):
        with_weight_decay(keras.optimizers.SGD(0.1), -1.0, model)


def _dense_model():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, activation="relu"), keras.layers.Dense(3)])


def accumulated_equals_one_big_batch(make_optimizer, jit_compile=True):
    """Two accumulated batches of 8 against one batch of 16: the same weights (no BatchNorm)."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 6)).astype("float32"), rng.normal(size=(32, 3)).astype("float32")
    results = []
    for batch, steps in ((8, 2), (16, 1)):
        model = _dense_model()
        model.compile(with_gradient_accumulation(make_optimizer(), steps), "mse", jit_compile=jit_compile)
        model.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0)
        results.append(model.get_weights())
    for accumulated, big in zip(*results):
        np.testing.assert_allclose(accumulated, big, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_accumulated_steps_equal_one_large_batch():
    accumulated_equals_one_big_batch(lambda: keras.optimizers.SGD(0.1, momentum=0.9))  # Adam: on JAX below
    with pytest.raises(ValueError, match="accumulate"):
        with_gradient_accumulation(keras.optimizers.SGD(0.1), 0)


@pytest.mark.slow
def test_accumulation_and_weight_decay_on_jax():
    code = textwrap.dedent("""
        import keras
        from tests.test_transfer_regularisation import (accumulated_equals_one_big_batch,
                                                        test_weight_decay_spares_biases_and_norm_parameters)
        assert keras.backend.backend() == "jax"
        accumulated_equals_one_big_batch(lambda: keras.optimizers.Adam(1e-2))
        test_weight_decay_spares_biases_and_norm_parameters()
        print("ok")
    """)
    assert "ok" in run_python(code)  # a fresh interpreter under KERAS_BACKEND=jax
