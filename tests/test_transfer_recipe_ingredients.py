"""The ingredients through fine_tune: a smoothed target, a mixed batch, the one cycle with decay and accumulation
in both phases (TF/XLA with mixed_float16, JAX with mixed_bfloat16), a resume refused on a changed ingredient."""

import textwrap

import keras
import numpy as np
import pytest

import transfer
from tests.test_transfer_lr_find import digits, small_model
from transfer.training.mixing import BatchMixing
from transfer.training.regularisation import SmoothedCrossentropy
from conftest import run_python

STILL = dict(optimizer="sgd", learning_rate=1e-12, patience=None)  # weights that do not move: losses by hand


def _probabilities(model, x):
    return np.clip(keras.ops.convert_to_numpy(model(x)).astype("float64"), 1e-7, 1)


def test_label_smoothing_through_fine_tune():
    x, y = digits(32)
    model = small_model()
    result = transfer.fine_tune(model, (x / 255, y), None, epochs=(1, 0), label_smoothing=0.1, batch_size=16,
                                verbose=0, **STILL)
    assert isinstance(model.loss, SmoothedCrossentropy) and model.loss.label_smoothing == 0.1
    targets = np.eye(10)[y] * 0.9 + 0.1 / 10
    expected = -(targets * np.log(_probabilities(model, x / 255))).sum(1).mean()
    assert result.history["loss"][0] == pytest.approx(expected, rel=1e-5)


def test_mixed_batch_through_fine_tune_and_clean_last_epoch():
    x, y = digits(16)
    x = x / 255
    model = small_model()
    recipe = transfer.Recipe(epochs=(2, 0), mixup_alpha=0.4, cutmix_alpha=1.0, mix_off_epochs=1, **STILL)
    import tensorflow as tf  # a dataset keeps the batch's order (fit shuffles arrays), so its pairs are known
    batches = tf.data.Dataset.from_tensor_slices((x.astype("float32"), y)).batch(16)
    result = transfer.fine_tune(model, batches, None, recipe, jit_compile=False, verbose=0)
    mixed, targets, lam = BatchMixing(0.4, 1.0, seed=1).mix_batch(x, y, step=0, classes=10)  # phase 1's seed
    assert lam < 1
    mixed_loss = -(targets * np.log(_probabilities(model, mixed))).sum(1).mean()
    clean_loss = -np.log(_probabilities(model, x)[np.arange(16), y]).mean()
    assert result.history["loss"] == pytest.approx([mixed_loss, clean_loss], rel=1e-5)
    assert model.batch_mixing is None  # finished: the model trains unmixed again


def test_resume_is_refused_when_an_ingredient_changed(tmp_path):
    x, y = digits(16)
    model = small_model()
    recipe = transfer.Recipe(epochs=(1, 1), label_smoothing=0.1, weight_decay=1e-4, **STILL)
    transfer.fine_tune(model, (x / 255, y), None, recipe, checkpoint_dir=str(tmp_path), verbose=0)
    for change in (dict(label_smoothing=0.2), dict(weight_decay=0.0), dict(mixup_alpha=0.2)):
        with pytest.raises(ValueError, match="other settings"):
            transfer.fine_tune(model, (x / 255, y), None, recipe.replace(**change), checkpoint_dir=str(tmp_path),
                               resume=True, verbose=0)


def every_ingredient_in_both_phases(policy, jit_compile=True):
    """One cycle, smoothing, decay, accumulation and mixing in both phases; phase 2 discriminative."""
    x, y = digits(64)
    model = small_model(policy=policy)
    recipe = transfer.Recipe(epochs=(1, 1), learning_rate=(1e-2, 1e-3), schedule="one_cycle", lr_decay=0.5,
                             label_smoothing=0.1, weight_decay=1e-2, accumulate=2, mixup_alpha=0.2,
                             cutmix_alpha=1.0, patience=None, unfreeze_from="low")
    result = transfer.fine_tune(model, (x / 255, y), (x / 255, y), recipe, batch_size=16, jit_compile=jit_compile,
                                verbose=0)
    assert len(result.history["loss"]) == 2 and np.all(np.isfinite(result.history["loss"]))
    optimizer = model.optimizer
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        optimizer = optimizer.inner_optimizer
    assert isinstance(optimizer, transfer.DiscriminativeOptimizer)
    for part in optimizer.copies:
        assert type(part).__name__ == "CycledAdam" and part.weight_decay == 1e-2
        assert part.gradient_accumulation_steps == 2
    rate = optimizer.inner_optimizer.get_config()["learning_rate"]["config"]
    assert rate["max_rate"] == 1e-3 and rate["total_steps"] == 4  # 64 / 16 batches, one epoch
    assert int(keras.ops.convert_to_numpy(optimizer.inner_optimizer.iterations)) == 2  # 4 batches, 2 updates
    return result


@pytest.mark.slow
def test_every_ingredient_under_xla_with_mixed_float16():
    every_ingredient_in_both_phases("mixed_float16")


@pytest.mark.slow
def test_every_ingredient_on_jax_with_mixed_bfloat16():
    code = textwrap.dedent("""
        import keras
        from tests.test_transfer_recipe_ingredients import every_ingredient_in_both_phases
        assert keras.backend.backend() == "jax"
        every_ingredient_in_both_phases("mixed_bfloat16")
        print("ok")
    """)
    assert "ok" in run_python(code)  # a fresh interpreter under KERAS_BACKEND=jax
