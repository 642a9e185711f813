"""MixUp and CutMix in the compiled training step: the mixed batch is the convex combination its lambda says."""

import textwrap

import keras
import numpy as np
import pytest

from tests.test_transfer_lr_find import digits, small_model
from transfer.training.mixing import BatchMixing
from conftest import run_python



def test_mixup_images_and_targets_are_the_convex_combination():
    x, y = digits(16)
    mixed, targets, lam = BatchMixing(mixup_alpha=0.4, cutmix_alpha=0.0).mix_batch(x, y, step=3, classes=10)
    assert 0 < lam < 1
    np.testing.assert_allclose(mixed, lam * x + (1 - lam) * x[::-1], rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(targets, lam * np.eye(10)[y] + (1 - lam) * np.eye(10)[y[::-1]], atol=1e-6)


def test_cutmix_pastes_a_box_and_lambda_is_the_area_left():
    x, y = digits(16)
    mixing = BatchMixing(mixup_alpha=0.0, cutmix_alpha=1.0)
    areas = []
    for step in range(6):
        mixed, targets, lam = mixing.mix_batch(x, y, step=step, classes=10)
        _, use_cutmix, box = mixing.draw(step, 16, 16)
        y0, y1, x0, x1 = (int(keras.ops.convert_to_numpy(v)) for v in box)
        inside = np.zeros((16, 16), bool)
        inside[y0:y1, x0:x1] = True
        assert bool(keras.ops.convert_to_numpy(use_cutmix))
        np.testing.assert_array_equal(mixed[:, inside], x[::-1][:, inside])
        np.testing.assert_array_equal(mixed[:, ~inside], x[:, ~inside])
        assert lam == pytest.approx(1 - inside.mean(), abs=1e-6)
        np.testing.assert_allclose(targets, lam * np.eye(10)[y] + (1 - lam) * np.eye(10)[y[::-1]], atol=1e-6)
        areas.append(inside.mean())
    assert 0 < max(areas) < 1  # some box was pasted


def test_off_with_prob_zero_and_after_stop_step():
    x, y = digits(8)
    for mixing, step in ((BatchMixing(prob=0.0), 0), (BatchMixing(stop_step=4), 4)):
        mixed, targets, lam = mixing.mix_batch(x, y, step=step, classes=10)
        assert lam == 1.0
        np.testing.assert_array_equal(mixed, x)
    assert BatchMixing(stop_step=4).mix_batch(x, y, step=3, classes=10)[2] < 1.0
    with pytest.raises(ValueError, match="mixup_alpha > 0 or cutmix_alpha"):
        BatchMixing(mixup_alpha=0, cutmix_alpha=0)


def step_loss_is_the_mixed_targets_loss(jit_compile, policy="float32", steps=3):
    """The loss the compiled step reports is the cross-entropy of the mixed images against the mixed targets."""
    x, y = digits(16)
    x = x / 255.0
    model = small_model(policy=policy)
    model.batch_mixing = BatchMixing(mixup_alpha=0.4, cutmix_alpha=1.0, seed=7)
    model.compile(keras.optimizers.SGD(0.0), "sparse_categorical_crossentropy", jit_compile=jit_compile)
    mix = model.batch_mixing.mix_images
    if jit_compile and keras.backend.backend() == "tensorflow":
        import tensorflow as tf  # XLA draws TF's stateless random numbers with its own algorithm: draw them there too
        mix = tf.function(mix, jit_compile=True)
    for step in range(steps):
        loss = model.train_on_batch(x, y, return_dict=True)["loss"]
        mixed, lam = (keras.ops.convert_to_numpy(t) for t in mix(x, step))
        targets = lam * np.eye(10)[y] + (1 - lam) * np.eye(10)[y[::-1]]
        p = np.clip(keras.ops.convert_to_numpy(model(mixed, training=True)).astype("float64"), 1e-7, 1)
        tolerance = 1e-5 if policy == "float32" else 2e-2
        assert loss == pytest.approx(-(targets * np.log(p)).sum(1).mean(), rel=tolerance), step
    evaluated = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]  # evaluation is not mixed
    p = np.clip(keras.ops.convert_to_numpy(model(x)).astype("float64"), 1e-7, 1)
    assert evaluated == pytest.approx(-np.log(p[np.arange(16), y]).mean(), rel=1e-2 if policy != "float32" else 1e-5)


def test_compiled_step_mixes_on_tensorflow():
    step_loss_is_the_mixed_targets_loss(jit_compile=False)


@pytest.mark.slow
def test_compiled_step_mixes_under_xla_with_mixed_float16():
    step_loss_is_the_mixed_targets_loss(jit_compile=True, policy="mixed_float16", steps=2)


@pytest.mark.slow
def test_compiled_step_mixes_on_jax_with_mixed_bfloat16():
    code = textwrap.dedent("""
        import keras
        from tests.test_transfer_mixing import step_loss_is_the_mixed_targets_loss
        assert keras.backend.backend() == "jax"
        step_loss_is_the_mixed_targets_loss(jit_compile=True, policy="mixed_bfloat16", steps=2)
        print("ok")
    """)
    assert "ok" in run_python(code)  # a fresh interpreter under KERAS_BACKEND=jax
