"""attach_head(augment=layer): augmentation in the compiled train step, inert in predict, saved with the model."""

import keras
import numpy as np
import pytest
from keras import ops

import datasets
import transfer


@keras.saving.register_keras_serializable(package="tests")
class Probe(keras.layers.Layer):
    """Wraps an augmentation layer and records how much it changed its last batch (a non-trainable variable)."""

    def __init__(self, inner, **kwargs):
        super().__init__(**kwargs)
        self.inner = inner
        self.change = self.add_weight(shape=(), initializer="zeros", trainable=False, name="change")

    def call(self, x, training=None):
        out = self.inner(x, training=training)
        self.change.assign(ops.mean(ops.abs(ops.cast(out, "float32") - ops.cast(x, "float32"))))
        return out

    def get_config(self):
        return {**super().get_config(), "inner": keras.saving.serialize_keras_object(self.inner)}

    @classmethod
    def from_config(cls, config):
        return cls(**{**config, "inner": keras.saving.deserialize_keras_object(config["inner"])})


def _augment():
    return datasets.Augment(rotation_range=30, width_shift_range=0.2, horizontal_flip=True, seed=0)


def _images(n=16):
    from datasets import digits as digit_data

    x, y = digit_data.load_small(16, channel=True)
    return np.repeat(x[:n], 3, axis=-1), y[:n] % 3


def test_predict_is_deterministic_and_ignores_the_layer():
    keras.utils.set_random_seed(0)
    base = transfer.load_backbone("resnet20", weights=None, input_shape=(16, 16, 3))
    model = transfer.attach_head(base, 3, augment=_augment())
    assert transfer.find_backbone(model)[0] is base
    plain = transfer.attach_head(base, 3)
    plain.get_layer("predictions").set_weights(model.get_layer("predictions").get_weights())
    x, _ = _images()
    first = model.predict(x, verbose=0)
    np.testing.assert_array_equal(first, model.predict(x, verbose=0))
    np.testing.assert_allclose(first, plain.predict(x, verbose=0), rtol=1e-6, atol=1e-7)
    flip = transfer.attach_head(base, 3, augment=keras.layers.RandomFlip("horizontal", seed=0))  # any Keras layer
    flip.get_layer("predictions").set_weights(model.get_layer("predictions").get_weights())
    np.testing.assert_allclose(flip.predict(x, verbose=0), first, rtol=1e-6, atol=1e-7)


def test_layer_changes_inputs_inside_the_xla_train_step(tmp_path):
    keras.utils.set_random_seed(0)
    probe = Probe(_augment())
    model = transfer.attach_head(transfer.load_backbone("resnet20", weights=None, input_shape=(16, 16, 3)), 3,
                                 augment=probe)
    model.compile("adam", "sparse_categorical_crossentropy", jit_compile=True)
    assert model.jit_compile is True  # not silently dropped (Keras drops XLA for layers that cannot compile)
    x, y = _images()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert float(probe.change) > 1.0  # pixels are 0-255: the images moved
    model.predict(x, verbose=0)
    assert float(probe.change) == 0.0  # inference: untouched
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.layers[1].inner, datasets.Augment) and loaded.layers[1].inner.rotation_range == 30
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_fine_tune_with_augmentation_and_cached_features_refused():
    x, y = _images(32)
    model = transfer.attach_head(transfer.load_backbone("cnn_mnist", weights=None, input_shape=(16, 16, 3)), 3,
                                 augment=_augment())
    result = transfer.fine_tune(model, (x, y), epochs=(1, 1), patience=None, verbose=0, jit_compile=True)
    assert result.phase_epochs == [1, 1]
    with pytest.raises(ValueError, match="cached features"):
        transfer.attach_head((32,), 3, augment=_augment())


def test_jax_compiled_step(run_jax):
    out = run_jax("""
        import sys; sys.path.insert(0, "tests")
        import keras, numpy as np, transfer
        from test_transfer_augment_in_step import Probe, _augment, _images
        keras.utils.set_random_seed(0)
        probe = Probe(_augment())
        model = transfer.attach_head(transfer.load_backbone("resnet20", weights=None, input_shape=(16, 16, 3)), 3,
                                     augment=probe)
        model.compile("adam", "sparse_categorical_crossentropy", jit_compile=True)
        x, y = _images()
        model.fit(x, y, epochs=1, batch_size=8, verbose=0)
        moved = float(probe.change) > 1.0
        same = np.array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))
        print(keras.backend.backend(), moved, same)
    """)
    assert out.split() == ["jax", "True", "True"]
