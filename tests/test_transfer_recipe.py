"""The fine-tuning recipe: a frozen value, the flat keywords as overrides, the resume fingerprint, the monitor's mode."""

import json

import keras
import numpy as np
import pytest

import transfer
from datasets import digits as digit_data


@pytest.fixture(scope="module")
def digits16():
    return digit_data.load_small(16, channel=True)


def _model(seed=0):
    keras.utils.set_random_seed(seed)
    base = transfer.load_backbone("cnn_mnist", weights=None, input_shape=(16, 16, 1))
    return transfer.attach_head(base, 10, hidden=(16,), pooling="flatten")


def test_recipe_is_a_checked_frozen_value():
    recipe = transfer.Recipe(epochs=3, learning_rate=(1e-3, 1e-4), lr_decay=0.5)
    assert recipe.epochs == (3, 3) and recipe.learning_rate == (1e-3, 1e-4)
    with pytest.raises(Exception):  # dataclasses.FrozenInstanceError
        recipe.epochs = (1, 1)
    assert recipe.replace(epochs=(1, 2)).epochs == (1, 2) and recipe.epochs == (3, 3)
    for bad, match in [(dict(epochs=(1, 2, 3)), r"\(phase 1, phase 2\) pair"), (dict(schedule="linear"), "schedule"),
                       (dict(learning_rate=0), "learning_rate"), (dict(lr_decay=2.0), r"lr_decay.*\(0, 1\]"),
                       (dict(mode="up"), r"`mode` must be one of \('auto', 'min', 'max'\)")]:
        with pytest.raises(ValueError, match=match):
            transfer.Recipe(**bad)
    with pytest.raises(TypeError, match="Recipe has no setting 'lr_dacay'. Did you mean: lr_decay"):
        transfer.fine_tune(_model(), (np.zeros((2, 16, 16, 1)), np.zeros(2)), lr_dacay=0.3)


def test_flat_keywords_are_overrides_of_the_recipe(digits16):
    x, y = digits16
    train, val = (x[:200], y[:200]), (x[200:300], y[200:300])
    flat = transfer.fine_tune(_model(), train, val, epochs=(2, 1), learning_rate=(3e-3, 1e-3), lr_decay=0.5,
                              patience=None, verbose=0)
    recipe = transfer.Recipe(epochs=(5, 5), learning_rate=(3e-3, 1e-3), lr_decay=0.5, patience=None)
    mixed = transfer.fine_tune(_model(), train, val, recipe, epochs=(2, 1), verbose=0)
    assert mixed.phase_epochs == flat.phase_epochs == [2, 1]
    np.testing.assert_allclose(mixed.history["val_loss"], flat.history["val_loss"], rtol=1e-5)


def test_the_checkpoint_records_the_recipe_and_resume_refuses_another(digits16, tmp_path):
    x, y = digits16
    train, val = (x[:100], y[:100]), (x[100:150], y[100:150])
    recipe = transfer.Recipe(epochs=(1, 1), patience=None, schedule="cosine")
    transfer.fine_tune(_model(), train, val, recipe, checkpoint_dir=tmp_path, verbose=0)
    run = json.loads((tmp_path / "state.json").read_text())["run"]
    assert run["schedule"] == "cosine" and run["epochs"] == [1, 1] and run["unfreeze_from"] == "block2"
    assert set(transfer.Recipe.settings()) <= set(run)
    with pytest.raises(ValueError, match=r"Differs: .*warmup: saved 0\.1, now 0\.3"):
        transfer.fine_tune(_model(), train, val, recipe.replace(warmup=0.3), checkpoint_dir=tmp_path, resume=True,
                           verbose=0)


@pytest.mark.parametrize("mode, pick", [("auto", min), ("max", max)])
def test_the_best_checkpoint_follows_early_stoppings_mode(digits16, tmp_path, mode, pick):
    """mode="max" on a loss is odd but unambiguous: the recorder must agree with EarlyStopping, not guess by name."""
    x, y = digits16
    result = transfer.fine_tune(_model(), (x[:200], y[:200]), (x[200:300], y[200:300]), epochs=(3, 0),
                                patience=5, mode=mode, verbose=0, checkpoint_dir=tmp_path)
    assert result.best == pytest.approx(pick(result.history["val_loss"]))


def test_a_run_recorded_before_a_setting_existed_resumes(digits16, tmp_path):
    """Folders written before `mode` existed hold no such key: they ran with its default, so they resume."""
    x, y = digits16
    train = (x[:64], y[:64])
    transfer.fine_tune(_model(), train, epochs=(1, 1), patience=None, checkpoint_dir=tmp_path, verbose=0)
    state = json.loads((tmp_path / "state.json").read_text())
    del state["run"]["mode"]
    (tmp_path / "state.json").write_text(json.dumps(state))
    result = transfer.fine_tune(_model(), train, epochs=(1, 1), patience=None, checkpoint_dir=tmp_path,
                                resume=True, verbose=0)
    assert result.phase_epochs == [1, 1]
    with pytest.raises(ValueError, match="Differs: mode: saved 'auto', now 'max'"):
        transfer.fine_tune(_model(), train, epochs=(1, 1), patience=None, mode="max", checkpoint_dir=tmp_path,
                           resume=True, verbose=0)
    # carry_best is on by default now; a run saved before it existed ran without it, and resumes only so.
    del state["run"]["carry_best"]
    (tmp_path / "state.json").write_text(json.dumps(state))
    with pytest.raises(ValueError, match="Differs: carry_best: saved False, now True"):
        transfer.fine_tune(_model(), train, epochs=(1, 1), patience=None, checkpoint_dir=tmp_path, resume=True,
                           verbose=0)
    result = transfer.fine_tune(_model(), train, epochs=(1, 1), patience=None, carry_best=False,
                                checkpoint_dir=tmp_path, resume=True, verbose=0)
    assert result.phase_epochs == [1, 1]


@pytest.mark.parametrize("carry_best", [False, True])
def test_carry_best_keeps_phase_one_when_phase_two_never_beats_it(digits16, carry_best):
    # Phase 2 at a rate that wrecks the network: every one of its epochs is worse than phase 1's best.
    x, y = digits16
    train, val = (x[:200], y[:200]), (x[200:300], y[200:300])
    kwargs = dict(learning_rate=(3e-3, 50.0), optimizer="sgd", patience=2, carry_best=carry_best, verbose=0)
    model = _model()
    phase1 = transfer.fine_tune(model, train, val, epochs=(4, 0), **kwargs)
    after_phase1 = [w.copy() for w in model.get_weights()]
    model = _model()
    both = transfer.fine_tune(model, train, val, epochs=(4, 3), **kwargs)
    phase2_losses = both.history["val_loss"][both.phase_boundaries[0]:]
    assert min(phase2_losses) > min(phase1.history["val_loss"]), both.history["val_loss"]
    same = all(np.array_equal(a, b) for a, b in zip(after_phase1, model.get_weights()))
    assert same == carry_best  # without it: phase 2's least bad epoch, unlike phase 1's model
    val_loss = model.evaluate(*val, verbose=0)[0]
    if carry_best:
        assert val_loss == pytest.approx(min(phase1.history["val_loss"]), rel=1e-4)
    else:
        assert val_loss > min(phase1.history["val_loss"]) * 1.5
