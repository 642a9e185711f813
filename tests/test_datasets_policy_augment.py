"""Policy augmentation layers: shapes, ranges, inference, a property per operation, PIL's results, XLA (TF, JAX)."""

import keras
import numpy as np
import pytest
from keras import ops
from PIL import Image, ImageEnhance, ImageOps

import datasets
import transfer
from datasets import auto_augment

LAYERS = {
    "crop": lambda: datasets.RandomResizedCrop(seed=0, horizontal_flip=True),
    "trivial": lambda: datasets.TrivialAugment(seed=0),
    "rand": lambda: datasets.RandAugment(num_ops=2, magnitude=9, seed=0),
    "erasing": lambda: datasets.RandomErasing(probability=1.0, value="random", seed=0),
    "policy": lambda: datasets.PolicyAugment(policy="trivial", erasing=0.5, seed=0),
}


@pytest.fixture(scope="module")
def photo(chelsea):
    """A real photograph at 48x64, uint8."""
    return np.asarray(Image.fromarray(chelsea).resize((64, 48), Image.BILINEAR))


def _np(x):
    return ops.convert_to_numpy(x)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_shape_dtype_range_and_identity_at_inference(name, photo):
    images = np.stack([photo, photo[:, ::-1]]).astype("float32")
    layer = LAYERS[name]()
    out = _np(layer(images, training=True))
    assert out.shape == images.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 255.0
    assert np.abs(out - images).mean() > 0.5  # it did something
    np.testing.assert_array_equal(_np(layer(images, training=False)), images)
    half = LAYERS[name]()
    half_policy = keras.dtype_policies.get("mixed_float16")
    for layer in [half, *getattr(half, "stages", [])]:
        layer.dtype_policy = half_policy
    assert _np(half(images, training=True)).dtype == np.float16


def test_a_resized_crop_shows_a_box_of_the_source_image():
    h, w = 30, 40
    index = np.arange(h * w, dtype="float32").reshape(1, h, w, 1)  # each pixel's value names its position
    crop = datasets.RandomResizedCrop(scale=(0.1, 0.5), ratio=(0.5, 2.0), interpolation="nearest", seed=4)
    out = _np(crop(np.repeat(index, 16, axis=0), training=True)).astype(int)
    for image in out:
        rows, cols = np.unique(image // w), np.unique(image % w)
        # Every value is a source pixel, and they come from one contiguous box, rows and columns in order.
        assert np.array_equal(rows, np.arange(rows[0], rows[-1] + 1))
        assert np.array_equal(cols, np.arange(cols[0], cols[-1] + 1))
        assert np.all(np.diff(image[:, :, 0] // w, axis=0) >= 0) and np.all(np.diff(image[:, :, 0] % w, axis=1) >= 0)
        area = len(rows) * len(cols) / (h * w)
        assert 0.1 - 0.03 <= area <= 0.5 + 0.03 and 0.5 - 0.15 <= len(cols) / len(rows) <= 2.0 + 0.3
    whole = datasets.RandomResizedCrop(scale=(1.0, 1.0), ratio=(w / h, w / h), horizontal_flip=True, seed=0)
    out = _np(whole(np.repeat(index, 8, axis=0), training=True))
    mirrored = [np.allclose(o, index[0, :, ::-1], atol=1e-3) for o in out]  # bilinear at whole pixels, up to rounding
    assert all(m or np.allclose(o, index[0], atol=1e-3) for m, o in zip(mirrored, out)) and 0 < sum(mirrored) < 8


def test_an_erased_box_is_constant_and_the_rest_untouched(photo):
    images = np.repeat(photo[None].astype("float32"), 12, axis=0)
    erase = datasets.RandomErasing(probability=1.0, scale=(0.05, 0.2), value=7.0, seed=2)
    out = _np(erase(images, training=True))
    for o in out:
        changed = np.any(o != images[0], axis=-1)
        rows, cols = np.nonzero(changed)
        box = np.zeros(changed.shape, bool)
        box[rows.min():rows.max() + 1, cols.min():cols.max() + 1] = True
        assert np.all(o[box] == 7.0)  # a constant rectangle
        np.testing.assert_array_equal(o[~box], images[0][~box])  # nothing else moved
        assert 0.04 <= box.mean() <= 0.21
    none = datasets.RandomErasing(probability=0.0, seed=2)
    np.testing.assert_array_equal(_np(none(images, training=True)), images)


def test_the_operations_agree_with_pil(photo):
    x = ops.convert_to_tensor(photo[None].astype("float32") / 255.0)
    pil = Image.fromarray(photo)

    def ours(fn, *args):
        return np.round(_np(fn(x, *[ops.convert_to_tensor([a], "float32") for a in args]))[0] * 255.0)

    np.testing.assert_array_equal(ours(auto_augment.equalize), np.asarray(ImageOps.equalize(pil)))
    np.testing.assert_array_equal(ours(auto_augment.posterize, 5.0), np.asarray(ImageOps.posterize(pil, 3)))
    np.testing.assert_array_equal(ours(auto_augment.solarize, 128 / 255), np.asarray(ImageOps.solarize(pil, 128)))
    assert np.abs(ours(auto_augment.autocontrast) - np.asarray(ImageOps.autocontrast(pil))).max() <= 1
    for fn, enhance in ((auto_augment.brightness, ImageEnhance.Brightness), (auto_augment.color, ImageEnhance.Color),
                        (auto_augment.contrast, ImageEnhance.Contrast),
                        (auto_augment.sharpness, ImageEnhance.Sharpness)):
        for factor in (0.3, 1.7):
            diff = np.abs(ours(fn, factor) - np.asarray(enhance(pil).enhance(factor), "float32"))[1:-1, 1:-1]
            assert diff.max() <= 2, (fn.__name__, factor, diff.max())


def test_policies_draw_per_image():
    images = np.repeat(np.random.default_rng(0).uniform(0, 255, (1, 16, 16, 3)).astype("float32"), 32, axis=0)
    for layer in (datasets.TrivialAugment(seed=1), datasets.RandAugment(seed=1)):
        out = _np(layer(images, training=True)).reshape(32, -1)
        assert len(np.unique(out.round(3), axis=0)) > 8  # keras.layers.RandAugment gives one result per batch
    trivial = _np(datasets.TrivialAugment(seed=5)(images, training=True)).reshape(32, -1)
    unchanged = np.all(np.abs(trivial - images[0].reshape(1, -1)) < 1e-3, axis=1)  # up to the scaling to [0, 1]
    assert 0 < unchanged.sum() < 32  # identity (or a level-0 op) is drawn for some images, not all


@pytest.mark.slow
def test_inside_the_xla_train_step_and_saved_with_the_model(tmp_path):
    x, y = np.random.default_rng(1).uniform(0, 255, (16, 16, 16, 3)).astype("float32"), np.arange(16) % 2
    inputs = keras.Input((16, 16, 3))
    base = keras.Model(inputs, keras.layers.Conv2D(4, 3, strides=2, name="conv")(inputs), name="tiny")
    model = transfer.attach_head(transfer.as_backbone(base), 2,
                                 augment=datasets.PolicyAugment(policy="rand", erasing=0.5, seed=0))
    model.compile("adam", "sparse_categorical_crossentropy", jit_compile=True)
    assert model.jit_compile is True  # not dropped: every stage supports XLA
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_under_jax_with_mixed_precision(run_jax):
    out = run_jax("""
        import keras, numpy as np, datasets
        keras.config.set_dtype_policy("mixed_bfloat16")
        x = np.random.default_rng(0).uniform(0, 255, (8, 16, 16, 3)).astype("float32")
        for layer in (datasets.PolicyAugment(policy="rand", erasing=0.5, seed=0),):  # rand: trivial's code, twice
            inputs = keras.Input((16, 16, 3))
            logits = keras.layers.Dense(2, dtype="float32")(keras.layers.GlobalAveragePooling2D()(layer(inputs)))
            model = keras.Model(inputs, logits)
            model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
            model.fit(x, np.arange(8) % 2, batch_size=4, epochs=1, verbose=0)
            out = keras.ops.convert_to_numpy(layer(x, training=True))
            assert str(out.dtype) == "bfloat16" and out.shape == x.shape
        print("ok", keras.backend.backend())
    """)
    assert out.split()[-2:] == ["ok", "jax"]


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="scale"):
        datasets.RandomResizedCrop(scale=(0.5, 2.0))
    with pytest.raises(ValueError, match="policy"):
        datasets.PolicyAugment(policy="auto")
    with pytest.raises(ValueError, match="value"):
        datasets.RandomErasing(value="noise")
    with pytest.raises(ValueError, match="magnitude"):
        datasets.RandAugment(magnitude=31)
    with pytest.raises(ValueError, match="value_range"):
        datasets.TrivialAugment(value_range=(1, 1))
    with pytest.raises(ValueError, match="batch of images"):
        datasets.TrivialAugment()(np.zeros((8, 8, 3)), training=True)
