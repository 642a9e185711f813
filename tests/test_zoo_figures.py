"""The stored figures of `zoo list`: current for every model, equal to a live measurement, re-measured when stale."""

import json

import keras
import pytest

import zoo
from zoo import figures, registry

REGENERATE = "the shipped figures are stale: run `python -m zoo.figures` and commit zoo/model_figures.json"


def test_shipped_figures_cover_every_zoo_model_with_its_current_key():
    with open(figures.SHIPPED) as f:
        shipped = json.load(f)
    stale = [name for name in zoo.list_models() if shipped.get(name, {}).get("key") != figures.record_key(name)]
    assert not stale, f"{stale}: {REGENERATE}"


@pytest.mark.parametrize("name", ["lenet5", "resnet20", "cnn_cifar10"])
def test_shipped_figures_equal_a_live_measurement(name):
    with open(figures.SHIPPED) as f:
        entry = json.load(f)[name]
    report = zoo.summary(zoo.create_model(name))
    assert (entry["params"], entry["macs"], entry["activations"]) == (
        report.total_params, report.macs, report.activations), REGENERATE


@pytest.fixture
def own_model(tmp_path, monkeypatch):
    """A model registered by the user (absent from the shipped file), with the user cache in a temporary folder."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))

    @registry.register_model(default_input_shape=(12, 12, 1), min_size=4)
    def tiny_net_for_figures(*, classes=3, input_shape=None):
        inputs = keras.Input(input_shape or (12, 12, 1))
        x = keras.layers.Conv2D(4, 3)(inputs)
        return keras.Model(inputs, keras.layers.Dense(classes)(keras.layers.Flatten()(x)))

    yield "tiny_net_for_figures"
    registry.unregister("tiny_net_for_figures")


def test_a_model_is_measured_once_then_read_from_the_user_cache(own_model, monkeypatch):
    assert not figures.is_stored(own_model)
    first = figures.figures(own_model)
    conv, dense = 3 * 3 * 4 + 4, 10 * 10 * 4 * 3 + 3
    assert first == {"params": conv + dense, "macs": 10 * 10 * 4 * 9 + 400 * 3, "activations": 400 + 3}
    assert figures.is_stored(own_model)
    monkeypatch.setattr(figures, "measure", lambda name: pytest.fail(f"{name} was built again"))
    assert figures.figures(own_model) == first


def test_a_stale_or_damaged_entry_is_measured_again(own_model):
    path = figures.user_cache_path()
    figures.figures(own_model)
    with open(path) as f:
        table = json.load(f)
    table[own_model].update(key="0" * 16, params=-1)  # written by other code or another Keras
    with open(path, "w") as f:
        json.dump(table, f)
    assert not figures.is_stored(own_model) and figures.figures(own_model)["params"] > 0
    with open(path, "w") as f:
        f.write("{not json")
    assert figures.figures(own_model)["params"] > 0
