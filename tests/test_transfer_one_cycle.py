"""fastai's one cycle: the rate's shape, and a momentum that really changes inside the compiled step (TF, JAX)."""

import math
import textwrap

import keras
import numpy as np
import pytest

from transfer.training.momentum import MomentumCycle, cycle_momentum, one_cycle_optimizer
from transfer.training.schedules import OneCycle
from conftest import run_python



def fastai_one_cycle(step, total, lr, pct_start=0.25, div=25.0, div_final=1e5):
    """fastai's combined_cos(pct_start, lr/div, lr, lr/div_final) at ``step`` (its SchedCos pieces)."""
    def cos(start, end, pos):
        return start + (1 + math.cos(math.pi * (1 - pos))) * (end - start) / 2
    pos = step / total
    if pos < pct_start:
        return cos(lr / div, lr, pos / pct_start)
    return cos(lr, lr / div_final, (pos - pct_start) / (1 - pct_start))


def test_one_cycle_rate_is_fastais():
    schedule = OneCycle(3e-3, total_steps=200, pct_start=0.3, div=5.0)
    for step in (0, 17, 59, 60, 61, 130, 199, 200):
        expected = fastai_one_cycle(step, 200, 3e-3, pct_start=0.3, div=5.0)
        assert float(schedule(step)) == pytest.approx(expected, rel=1e-5, abs=1e-9), step  # float32 near the end
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert restored.get_config() == schedule.get_config()


# One Dense layer without bias on mse: the SGD-with-momentum steps are written out in NumPy below.
X = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
Y = np.random.default_rng(1).normal(size=(8, 2)).astype("float32")
W0 = np.random.default_rng(2).normal(size=(3, 2)).astype("float32")


def sgd_reference(momenta, lr=0.1):
    w, m = W0.astype("float64"), np.zeros_like(W0, dtype="float64")
    for momentum in momenta:
        grad = 2.0 / Y.size * X.T @ (X @ w - Y)
        m = m * momentum - lr * grad
        w = w + m
    return w


def train(optimizer, steps, change=None):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, use_bias=False)])
    model.set_weights([W0])
    model.compile(optimizer, "mse", jit_compile=True)
    for step in range(steps):
        if change and step == 1:
            change(model.optimizer)
        model.train_on_batch(X, Y)
    return model.get_weights()[0]


def test_a_momentum_set_after_compile_is_ignored_by_the_compiled_step():
    def set_zero(optimizer):
        optimizer.momentum = 0.0
    trained = train(keras.optimizers.SGD(0.1, momentum=0.9), 3, change=set_zero)
    np.testing.assert_allclose(trained, sgd_reference([0.9] * 3), rtol=1e-5)
    assert not np.allclose(trained, sgd_reference([0.9, 0.0, 0.0]), rtol=1e-3)


def test_a_cycled_momentum_takes_effect_in_the_compiled_step():
    cycle = MomentumCycle(total_steps=4, pct_start=0.5, high=0.95, low=0.5)
    momenta = [float(cycle(step)) for step in range(4)]
    assert momenta[0] == pytest.approx(0.95) and momenta[2] == pytest.approx(0.5)
    trained = train(cycle_momentum(keras.optimizers.SGD(0.1, momentum=0.9), cycle), 4)
    np.testing.assert_allclose(trained, sgd_reference(momenta), rtol=1e-5)
    adam = one_cycle_optimizer(keras.optimizers.Adam(1e-3), 1e-2, total_steps=10)
    train(adam, 2)  # Adam's beta_1 is read in the step: after 2 steps it is the cycle's value at step 2
    assert float(adam.beta_1) == pytest.approx(float(MomentumCycle(10)(2)), rel=1e-6)
    assert type(adam).__name__ == "CycledAdam"
    assert keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(adam)).get_config() == \
        adam.get_config()


@pytest.mark.slow
def test_a_cycled_momentum_takes_effect_on_jax():
    code = textwrap.dedent("""
        import keras, numpy as np
        from tests.test_transfer_one_cycle import MomentumCycle, cycle_momentum, sgd_reference, train
        assert keras.backend.backend() == "jax"
        cycle = MomentumCycle(total_steps=4, pct_start=0.5, high=0.95, low=0.5)
        trained = train(cycle_momentum(keras.optimizers.SGD(0.1, momentum=0.9), cycle), 4)
        np.testing.assert_allclose(trained, sgd_reference([float(cycle(s)) for s in range(4)]), rtol=1e-5)
        print("ok")
    """)
    assert "ok" in run_python(code)  # a fresh interpreter under KERAS_BACKEND=jax
