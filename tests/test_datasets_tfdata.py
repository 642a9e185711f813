"""tfdata: arrays -> (x, y) tf.data batches for model.fit, with shuffling and augmentation on/off."""

import keras
import numpy as np
import pytest
from sklearn.datasets import load_digits

from datasets import Augment, tfdata


@pytest.fixture(scope="module")
def digits():
    d = load_digits()  # 1,797 real handwritten digits, 8x8
    return (d.images[..., None] * 16).astype("uint8"), d.target


def test_from_arrays_batches_shuffles_and_fits(digits):
    x, y = digits
    train = tfdata.from_arrays(x[:100], y[:100], batch_size=32, seed=0, rescale=1 / 255)
    shapes = [tuple(b.shape) for b, _ in train]
    assert shapes == [(32, 8, 8, 1)] * 3 + [(4, 8, 8, 1)]
    first = np.concatenate([yb.numpy() for _, yb in train])
    second = np.concatenate([yb.numpy() for _, yb in train])
    assert sorted(first) == sorted(y[:100]) and not np.array_equal(first, second)  # reshuffled per epoch
    xb, _ = next(iter(train))
    assert xb.dtype.name == "float32" and float(np.max(xb)) <= 1.0
    val = tfdata.from_arrays(x[:10], y[:10], batch_size=4, shuffle=False)
    assert np.array_equal(np.concatenate([yb.numpy() for _, yb in val]), y[:10])
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    assert np.isfinite(model.fit(train, validation_data=val, epochs=1, verbose=0).history["val_loss"][0])


def test_augment_on_training_only(digits):
    x, y = digits
    aug = Augment(horizontal_flip=True, seed=0)
    train = tfdata.from_arrays(x[:64], y[:64], batch_size=64, shuffle=False, augment=aug)
    out = next(iter(train))[0].numpy()
    src = x[:64].astype("float32")
    flipped = [np.array_equal(o, s[:, ::-1]) and not np.array_equal(s, s[:, ::-1]) for o, s in zip(out, src)]
    assert all(f or np.array_equal(o, s) for f, o, s in zip(flipped, out, src)) and any(flipped)


def test_split_arrays_and_errors(digits):
    x, y = digits
    (xt, yt), (xv, yv) = tfdata.split_arrays(x, y, 0.25, seed=1)
    assert len(xv) == round(len(x) * 0.25) and len(xt) + len(xv) == len(x)
    (xt2, _), _ = tfdata.split_arrays(x, y, 0.25, seed=1)
    np.testing.assert_array_equal(xt, xt2)
    with pytest.raises(ValueError, match="validation_split=1.5"):
        tfdata.split_arrays(x, y, 1.5)
    with pytest.raises(ValueError, match="len\\(x\\)=3, len\\(y\\)=2"):
        tfdata.from_arrays(x[:3], y[:2])
    with pytest.raises(ValueError, match="batch_size=0"):
        tfdata.from_arrays(x[:3], y[:3], batch_size=0)


def test_augment_in_tf_data_refused_on_other_backends(monkeypatch, digits):
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    with pytest.raises(ValueError, match="backend='jax'"):
        tfdata.from_arrays(digits[0][:4], digits[1][:4], augment=Augment(horizontal_flip=True))
