"""Freezing: trainable counts by name, index and group; BatchNorm statistics; recompiling; the report."""

import keras
import numpy as np
import pytest

import transfer


@pytest.fixture
def model():
    keras.utils.set_random_seed(0)
    return transfer.attach_head(transfer.load_backbone("resnet20", weights=None, input_shape=(8, 8, 3)), 3)


def _n(weights):
    return int(sum(np.prod(w.shape) for w in weights))


def _expected_trainable(model, start, train_bn=False):
    """Parameters that should train when the backbone is unfrozen from layer index ``start``."""
    base, head = transfer.find_backbone(model)
    total = _n(w for layer in head for w in layer.weights)
    for layer in base.layers[start:]:
        if isinstance(layer, keras.layers.BatchNormalization) and not train_bn:
            continue
        total += _n(w for w in layer.weights if w.trainable)
    return total


def _batch(n=8):
    rng = np.random.RandomState(0)
    return rng.randint(0, 256, (n, 8, 8, 3)).astype("float32"), np.arange(n) % 3


def _bn_stats(model):
    base, _ = transfer.find_backbone(model)
    return [np.array(v) for layer in base.layers if isinstance(layer, keras.layers.BatchNormalization)
            for v in (layer.moving_mean, layer.moving_variance)]


def test_freeze_leaves_only_the_head(model):
    transfer.freeze(model)
    assert _n(model.trainable_weights) == 64 * 3 + 3
    assert [w.path for w in model.trainable_weights] == ["predictions/kernel", "predictions/bias"]


@pytest.mark.parametrize("how", ["group", "name", "index", "negative index"])
def test_unfreeze_counts(model, how):
    base, _ = transfer.find_backbone(model)
    start = base.layers.index(transfer.layer_groups(model)["conv4"][0])
    from_layer = {"group": "conv4", "name": base.layers[start].name, "index": start,
                  "negative index": start - len(base.layers)}[how]
    transfer.freeze(model)
    transfer.unfreeze(model, from_layer)
    assert _n(model.trainable_weights) == _expected_trainable(model, start)
    report = transfer.trainable_report(model)
    assert report["conv3"][2] == 0 and report["conv4"][2] > 0 and report["conv4"][4] == "frozen"
    transfer.unfreeze(model, "conv4", train_bn=True)
    assert _n(model.trainable_weights) == _expected_trainable(model, start, train_bn=True)
    assert transfer.trainable_report(model)["conv4"][4] == "train"


def test_unfreeze_rejects_unknown_layer(model):
    with pytest.raises(ValueError, match="Groups: \\['stem', 'conv2', 'conv3', 'conv4'\\]"):
        transfer.unfreeze(model, "conv9")
    with pytest.raises(ValueError, match="Received: from_layer=999"):
        transfer.unfreeze(model, 999)


def test_batchnorm_statistics_frozen_unless_train_bn(model):
    x, y = _batch()
    # Eager steps: the BatchNorm logic is the same, and ResNet-20's graph takes long to trace.
    model.compile(keras.optimizers.SGD(0.05), "sparse_categorical_crossentropy", run_eagerly=True)
    transfer.freeze(model)
    before = _bn_stats(model)
    model.train_on_batch(x, y)
    assert all(np.array_equal(a, b) for a, b in zip(before, _bn_stats(model)))
    # Unfrozen convolutions train, BatchNorm stays in inference mode (train_bn=False).
    transfer.unfreeze(model)
    kernel = np.array(model.get_layer("resnet20").get_layer("conv4_block3_2_conv").kernel)
    model.train_on_batch(x, y)
    assert all(np.array_equal(a, b) for a, b in zip(before, _bn_stats(model)))
    assert not np.array_equal(kernel, model.get_layer("resnet20").get_layer("conv4_block3_2_conv").kernel)
    # train_bn=True: the moving statistics follow the batches.
    transfer.unfreeze(model, train_bn=True)
    model.train_on_batch(x, y)
    changed = [not np.array_equal(a, b) for a, b in zip(before, _bn_stats(model))]
    assert all(changed)


def test_freeze_after_compile_recompiles():
    # Graph mode on purpose: the stale compiled step is what would train frozen weights.
    keras.utils.set_random_seed(0)
    model = transfer.attach_head(transfer.load_backbone("cnn_mnist", weights=None, input_shape=(12, 12, 1)), 3)
    x, y = np.random.RandomState(0).randint(0, 256, (8, 12, 12, 1)).astype("float32"), np.arange(8) % 3
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.train_on_batch(x, y)  # the train step is traced with everything trainable
    transfer.freeze(model)
    base, _ = transfer.find_backbone(model)
    before = [np.array(w) for w in base.weights]
    model.train_on_batch(x, y)
    assert all(np.array_equal(a, np.array(b)) for a, b in zip(before, base.weights))
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01)  # same settings after the recompile


def test_trainable_report_is_a_table(model):
    transfer.freeze(model)
    report = transfer.trainable_report(model)
    text = str(report)
    assert text.splitlines()[0].split()[:4] == ["group", "layers", "trainable", "frozen"]
    assert report.trainable == 195 and report.frozen == model.count_params() - 195
    assert [row[0] for row in report.rows] == ["stem", "conv2", "conv3", "conv4", "head"]
