"""The one head factory: binary, multi-class, regression, every pooling, features as input."""

import keras
import numpy as np
import pytest

import transfer


@pytest.fixture(scope="module")
def base():
    return transfer.load_backbone("cnn_mnist", weights=None)


@pytest.mark.parametrize("pooling", ["avg", "max", "flatten"])
@pytest.mark.parametrize("classes,activation,kind", [
    (1, "auto", "binary"), (10, "auto", "multiclass"), (30, None, "regression"), (4, "sigmoid", "multilabel")])
def test_head_shapes_and_kinds(base, pooling, classes, activation, kind):
    model = transfer.attach_head(base, classes, hidden=(16,), dropout=0.2, pooling=pooling, activation=activation)
    assert model.output_shape == (None, classes)
    assert transfer.head_kind(model) == kind
    out = model.predict(np.full((2, 28, 28, 1), 128.0, "float32"), verbose=0)
    if kind == "multiclass":
        np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)
    if kind in ("binary", "multilabel"):
        assert ((out > 0) & (out < 1)).all()
    pool = {"avg": keras.layers.GlobalAveragePooling2D, "max": keras.layers.GlobalMaxPooling2D,
            "flatten": keras.layers.Flatten}[pooling]
    assert isinstance(model.layers[2], pool)
    assert model.get_layer("head_fc1").units == 16


def test_flatten_head_has_more_inputs_than_avg(base):
    flat = transfer.attach_head(base, 10, pooling="flatten").get_layer("predictions").kernel.shape
    avg = transfer.attach_head(base, 10, pooling="avg").get_layer("predictions").kernel.shape
    assert flat == (5 * 5 * 32, 10) and avg == (32, 10)


def test_head_on_features_and_combine(base):
    x = np.random.RandomState(0).randint(0, 256, (4, 28, 28, 1)).astype("float32")
    feats = transfer.extract_features(base, x, pooling="max")
    head = transfer.head_on_features(feats.shape[1:], 3)
    full = transfer.combine(base, head, pooling="max")
    np.testing.assert_allclose(full.predict(x, verbose=0), head.predict(feats, verbose=0), rtol=1e-5, atol=1e-6)
    old_spelling = transfer.attach_head(feats.shape[1:], 3)  # a shape as the backbone: kept for one release
    assert old_spelling.input_shape == head.input_shape and old_spelling.head_kind == head.head_kind
    with pytest.raises(ValueError, match=r"`feature_shape` must be the shape of one example's features.*"
                                         r"Received: feature_shape=\(4, 0\)"):
        transfer.head_on_features((4, 0), 3)


def test_head_argument_errors(base):
    with pytest.raises(ValueError, match="Received: activation='softmax', classes=1"):
        transfer.attach_head(base, 1, activation="softmax")
    with pytest.raises(ValueError, match="Received: pooling='mean'"):
        transfer.attach_head(base, 2, pooling="mean")
    with pytest.raises(ValueError, match="Received: classes=0"):
        transfer.attach_head(base, 0)
