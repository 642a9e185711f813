"""Augment on real pixels: exact flips, shifts and identity; rotation, zoom, fill modes; XLA, tf.data, JAX."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops
from PIL import Image

from datasets import Augment, augment_from_idg, geometry


@pytest.fixture(scope="module")
def photo(astronaut):
    return np.asarray(Image.fromarray(astronaut).resize((64, 64))).astype("float32")  # (64, 64, 3)


def batch(photo, n=16):
    return np.repeat(photo[None], n, axis=0)


def test_identity_when_nothing_to_do_or_not_training(photo):
    x = batch(photo, 4)
    np.testing.assert_array_equal(np.asarray(Augment(seed=0)(x, training=True)), x)
    busy = Augment(rotation_range=40, zoom_range=0.3, width_shift_range=0.2, horizontal_flip=True, seed=0)
    np.testing.assert_array_equal(np.asarray(busy(x, training=False)), x)
    np.testing.assert_allclose(np.asarray(Augment(rescale=1 / 255)(x)), x / 255, rtol=1e-6)
    # Zoom factor exactly 1 and zero-degree rotation: integer sample positions, exact output.
    np.testing.assert_array_equal(np.asarray(Augment(zoom_range=[1, 1], rotation_range=0, seed=0)(x, training=True)), x)


@pytest.mark.parametrize("axis, kw", [(1, {"horizontal_flip": True}), (0, {"vertical_flip": True})])
def test_flip_is_exact_and_random(photo, axis, kw):
    out = np.asarray(Augment(seed=1, **kw)(batch(photo), training=True))
    flipped = [np.array_equal(o, np.flip(photo, axis)) for o in out]
    same = [np.array_equal(o, photo) for o in out]
    assert all(f or s for f, s in zip(flipped, same)) and any(flipped) and any(same)


@pytest.mark.parametrize("mode, pad", [("nearest", "edge"), ("reflect", "symmetric"), ("wrap", "wrap")])
def test_shift_moves_content_by_exact_pixels_with_fill_mode(photo, mode, pad):
    # IDG semantics: a list draws one of its values with a random sign: here +-5 columns.
    out = np.asarray(Augment(width_shift_range=[5], fill_mode=mode, seed=2)(batch(photo), training=True))
    padded = np.pad(photo, ((0, 0), (5, 5), (0, 0)), mode=pad)
    right, left = padded[:, :64], padded[:, 10:]  # content moved right / left by 5 pixels
    moved_right = [np.array_equal(o, right) for o in out]
    moved_left = [np.array_equal(o, left) for o in out]
    assert all(r or l for r, l in zip(moved_right, moved_left)) and any(moved_right) and any(moved_left)


def test_height_shift_fraction_and_constant_fill(photo):
    out = np.asarray(Augment(height_shift_range=[0.125], fill_mode="constant", cval=7.0, seed=3)(
        batch(photo, 8), training=True))
    for o in out:  # 0.125 * 64 = 8 rows
        down = np.array_equal(o[8:], photo[:-8]) and np.all(o[:8] == 7.0)
        up = np.array_equal(o[:-8], photo[8:]) and np.all(o[-8:] == 7.0)
        assert down or up


def test_rotation_by_90_degrees_matches_rot90(photo):
    x = ops.convert_to_tensor(batch(photo, 2))
    quarter = ops.convert_to_tensor([np.pi / 2, -np.pi / 2], "float32")
    zero, one = ops.zeros(2), ops.ones(2)
    m = geometry.affine_matrix(quarter, zero, one, one, zero, zero)
    out = np.asarray(geometry.transform_images(x, m, ops.zeros((2, 2))))
    rotations = {np.abs(o - np.rot90(photo, k)).max() < 1e-2 for o in out for k in (1, 3)}
    assert True in rotations
    assert np.abs(out[0] - out[1]).max() > 50  # the two directions differ


def test_zoom_factor_above_one_zooms_out_like_idg():
    rng = np.random.default_rng(0)
    img = rng.uniform(0, 255, (1, 65, 65, 1)).astype("float32")  # odd size: integer centre 32
    out = np.asarray(Augment(zoom_range=[2.0, 2.0], seed=0)(img, training=True))
    k = np.arange(-16, 17)
    # Output pixel 32 + k samples input 32 + 2k: the whole image shrunk to the middle half.
    np.testing.assert_allclose(out[0, 32 + k][:, 32 + k], img[0, 32 + 2 * k][:, 32 + 2 * k], atol=1e-3)


def test_photometric_ranges(photo):
    x = batch(photo, 8)
    out = np.asarray(Augment(brightness_range=[0.5, 0.5], seed=0)(x, training=True))
    np.testing.assert_allclose(out, x * 0.5, rtol=1e-6)
    out = np.asarray(Augment(channel_shift_range=30, seed=0)(x, training=True))
    delta = out - x
    inside = (out > x.min()) & (out < x.max())  # away from the clip limits the shift is one constant
    per_image = [np.unique(np.round(d[m], 3)) for d, m in zip(delta, inside)]
    assert all(len(v) == 1 and abs(v[0]) <= 30 for v in per_image) and len({float(v[0]) for v in per_image}) > 1
    assert out.min() >= x.min() and out.max() <= x.max()


def test_seed_makes_draws_repeatable(photo):
    kw = dict(rotation_range=30, zoom_range=0.2, horizontal_flip=True)
    a = np.asarray(Augment(seed=7, **kw)(batch(photo, 4), training=True))
    b = np.asarray(Augment(seed=7, **kw)(batch(photo, 4), training=True))
    np.testing.assert_array_equal(a, b)
    assert np.abs(a[0] - photo).max() > 10


def test_idg_port_and_errors():
    aug = augment_from_idg(rotation_range=40, width_shift_range=0.2, zoom_range=0.2, horizontal_flip=True,
                           fill_mode="nearest", featurewise_center=False)
    assert aug.zoom_range == [0.8, 1.2] and aug.rotation_range == 40.0
    with pytest.raises(ValueError, match=r"\['featurewise_center', 'zca_whitening'\]"):
        Augment.from_image_data_generator({"featurewise_center": True, "zca_whitening": True})
    with pytest.raises(ValueError, match="rotaton_range"):
        augment_from_idg(rotaton_range=10)
    with pytest.raises(ValueError, match="fill_mode='mirror'"):
        Augment(fill_mode="mirror")
    with pytest.raises(ValueError, match="rotation_range=-5"):
        Augment(rotation_range=-5)


def test_config_round_trip_and_model_save(tmp_path, photo):
    aug = Augment(rotation_range=10, width_shift_range=[1, 2], zoom_range=[0.9, 1.3], brightness_range=[0.8, 1.2],
                  fill_mode="reflect", seed=3)
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(aug))
    assert type(clone) is Augment and clone.get_config() == aug.get_config()
    model = keras.Sequential([keras.Input((64, 64, 3)), aug, keras.layers.GlobalAveragePooling2D()])
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.layers[0].get_config()["width_shift_range"] == [1, 2]
    np.testing.assert_allclose(loaded.predict(batch(photo, 2), verbose=0), model.predict(batch(photo, 2), verbose=0))


def test_train_step_with_jit_compile_on_tensorflow(photo):
    model = keras.Sequential([keras.Input((64, 64, 3)),
                              Augment(rotation_range=20, width_shift_range=0.1, height_shift_range=0.1, shear_range=5,
                                      zoom_range=0.2, horizontal_flip=True, rescale=1 / 255, seed=0),
                              keras.layers.Conv2D(4, 3, strides=2), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(2)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=True)
    history = model.fit(batch(photo, 8), np.arange(8) % 2, batch_size=4, epochs=1, verbose=0)
    assert model.jit_compile is True and np.isfinite(history.history["loss"][0])
    aug = model.layers[0]
    step = tf.function(lambda x: aug(x, training=True), jit_compile=True)
    first, second = np.asarray(step(batch(photo, 4))), np.asarray(step(batch(photo, 4)))
    assert first.shape == (4, 64, 64, 3) and np.abs(first - second).max() > 0.05  # fresh draws each call


def test_inside_tf_data_map(photo):
    aug = Augment(horizontal_flip=True, seed=4)
    ds = tf.data.Dataset.from_tensor_slices((batch(photo, 10), np.arange(10))).batch(4)  # last batch has 2
    ds = ds.map(lambda x, y: (aug(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
    images = np.concatenate([x.numpy() for x, _ in ds])
    flips = [np.array_equal(o, photo[:, ::-1]) for o in images]
    assert images.shape == (10, 64, 64, 3)
    assert all(f or np.array_equal(o, photo) for f, o in zip(flips, images)) and 0 < sum(flips) < 10
    one = np.asarray(aug(photo, training=True))  # a single unbatched image works too
    assert one.shape == (64, 64, 3)


@pytest.mark.parametrize("mode, scipy_mode", [("nearest", "nearest"), ("reflect", "reflect"),
                                              ("wrap", "grid-wrap"), ("constant", "grid-constant")])
def test_bilinear_sampling_matches_scipy_at_random_positions(photo, mode, scipy_mode):
    from scipy import ndimage

    rng = np.random.default_rng(0)
    img = photo[:20, :24, 0]
    xs = rng.uniform(-30, 54, (1, 40, 40)).astype("float32")
    ys = rng.uniform(-30, 50, (1, 40, 40)).astype("float32")
    xs[0, 0, :4], ys[0, 0, :4] = [24.0, -1.0, 23.5, 3.0], [3.0, 19.0, -0.5, 20.0]  # edge cases
    ours = np.asarray(geometry.sample_bilinear(img[None, :, :, None], xs, ys, mode, cval=9.0))[0, :, :, 0]
    ref = ndimage.map_coordinates(img.astype("float64"), [ys[0], xs[0]], order=1, mode=scipy_mode, cval=9.0)
    np.testing.assert_allclose(ours, ref, atol=1e-2)


# Nearest neighbour (interpolation_order=0): one gather per pixel, exact at integer positions, never blends.

def pixel_codes(images):
    """Each RGB pixel of uint8-valued images as one integer, for set membership."""
    p = np.asarray(images).reshape(-1, 3).astype("int64")
    return p[:, 0] * 65536 + p[:, 1] * 256 + p[:, 2]


@pytest.mark.parametrize("mode, pad", [("nearest", "edge"), ("reflect", "symmetric"), ("wrap", "wrap")])
def test_nearest_is_exact_for_integer_shifts_and_flips(photo, mode, pad):
    aug = Augment(width_shift_range=[5], horizontal_flip=True, fill_mode=mode, interpolation_order=0, seed=5)
    out = np.asarray(aug(batch(photo), training=True))
    candidates = {}  # (flipped, content moved right / left by 5 columns) -> expected image
    for flip in (False, True):
        padded = np.pad(photo[:, ::-1] if flip else photo, ((0, 0), (5, 5), (0, 0)), mode=pad)
        candidates[flip, "right"], candidates[flip, "left"] = padded[:, :64], padded[:, 10:]
    matches = [[key for key, expected in candidates.items() if np.array_equal(o, expected)] for o in out]
    assert all(len(m) == 1 for m in matches)  # every output is exactly one flip-and-shift of the photo
    assert len({m[0] for m in matches}) >= 3  # and the draws vary


def test_nearest_rotation_by_90_degrees_is_rot90_of_a_real_photo(chelsea):
    square = chelsea[:, 75:375].astype("float32")  # (300, 300, 3): the cat, cropped square
    x = ops.convert_to_tensor(np.stack([square, square]))
    quarter = ops.convert_to_tensor([np.pi / 2, -np.pi / 2], "float32")
    zero, one = ops.zeros(2), ops.ones(2)
    m = geometry.affine_matrix(quarter, zero, one, one, zero, zero)
    out = np.asarray(geometry.transform_images(x, m, ops.zeros((2, 2)), order=0))
    ks = [[k for k in (1, 3) if np.array_equal(o, np.rot90(square, k))] for o in out]
    assert sorted(sum(ks, [])) == [1, 3]  # each direction exactly one of the two rot90s


def test_nearest_never_blends_and_compiles_in_a_jit_train_step(photo):
    kw = dict(rotation_range=40, shear_range=10, zoom_range=0.3, width_shift_range=0.1, horizontal_flip=True,
              fill_mode="reflect", seed=0)
    model = keras.Sequential([keras.Input((64, 64, 3)), Augment(interpolation_order=0, **kw),
                              keras.layers.Conv2D(4, 3, strides=2), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(2)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=True)
    history = model.fit(batch(photo, 8), np.arange(8) % 2, batch_size=4, epochs=1, verbose=0)
    assert model.jit_compile is True and np.isfinite(history.history["loss"][0])
    step = tf.function(lambda x: model.layers[0](x, training=True), jit_compile=True)
    out = np.asarray(step(batch(photo, 8)))
    assert np.abs(out - photo).max() > 50  # really transformed
    assert np.isin(pixel_codes(out), pixel_codes(photo)).all()  # every output pixel is an input pixel
    blended = np.asarray(Augment(**kw)(batch(photo, 8), training=True))  # bilinear does blend
    assert not np.isin(pixel_codes(np.round(blended)), pixel_codes(photo)).all()


@pytest.mark.parametrize("mode, scipy_mode", [("nearest", "nearest"), ("reflect", "reflect"),
                                              ("wrap", "grid-wrap"), ("constant", "grid-constant")])
def test_nearest_sampling_matches_scipy_order_0(photo, mode, scipy_mode):
    from scipy import ndimage

    rng = np.random.default_rng(1)
    img = photo[:20, :24, 0]
    xs = rng.uniform(-30, 54, (1, 40, 40)).astype("float32")
    ys = rng.uniform(-30, 50, (1, 40, 40)).astype("float32")
    xs[0, 0, :4], ys[0, 0, :4] = [24.4, -0.6, 23.3, 3.0], [3.0, 19.0, -0.4, 19.6]  # just inside / outside edges
    ties = (np.abs(xs % 1 - 0.5) < 0.01) | (np.abs(ys % 1 - 0.5) < 0.01)  # keep away from exact .5 ties
    ours = np.asarray(geometry.sample(img[None, :, :, None], xs, ys, 0, mode, cval=9.0))[0, :, :, 0]
    ref = ndimage.map_coordinates(img.astype("float64"), [ys[0], xs[0]], order=0, mode=scipy_mode, cval=9.0)
    np.testing.assert_array_equal(ours[~ties[0]], ref[~ties[0]])


def test_interpolation_order_passes_through_and_bad_values_raise():
    from datasets import KeypointAugment

    aug = augment_from_idg(rotation_range=10, interpolation_order=0)
    assert aug.interpolation_order == 0 and aug.get_config()["interpolation_order"] == 0
    assert Augment.from_image_data_generator({"interpolation_order": 0}).interpolation_order == 0
    assert Augment().get_config()["interpolation_order"] == 1
    clone = Augment.from_config(aug.get_config())
    assert clone.interpolation_order == 0
    kp = KeypointAugment.from_image_data_generator({"interpolation_order": 0}, flip_pairs=())
    assert kp.get_config()["interpolation_order"] == 0
    for bad in (2, 3, -1, 0.5, True, "nearest"):
        with pytest.raises(ValueError, match=r"interpolation_order must be 0 \(nearest neighbour\) or 1 \(bilinear\)"
                                             rf"\. Received: interpolation_order={bad!r}"):
            Augment(interpolation_order=bad)
    with pytest.raises(ValueError, match="interpolation_order=2"):
        augment_from_idg(interpolation_order=2)
    with pytest.raises(ValueError, match="interpolation_order=5"):
        KeypointAugment(interpolation_order=5)
    with pytest.raises(ValueError, match="interpolation_order=3"):
        geometry.sample(np.zeros((1, 4, 4, 1), "float32"), np.zeros((1, 4, 4)), np.zeros((1, 4, 4)), order=3)
