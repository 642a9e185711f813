"""Test-time augmentation: the average over views equals the views' outputs averaged by hand; files and artifacts."""

import keras
import numpy as np
import pytest
from PIL import Image

import transfer
from transfer.serving.tta import PRESETS, predict_tta, view


@pytest.fixture(scope="module")
def photos(chelsea, astronaut):
    """Two real photographs at 32x32, raw 0-255 float32."""
    return np.stack([np.asarray(Image.fromarray(p).resize((32, 32), Image.BILINEAR), "float32")
                     for p in (chelsea, astronaut)])


@pytest.fixture(scope="module")
def model():
    """A head model that is not flip-invariant: a dense layer over the flattened pixels."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3))
    features = keras.layers.Conv2D(4, 3, name="conv")(keras.layers.Rescaling(1 / 255)(inputs))
    return transfer.attach_head(transfer.as_backbone(keras.Model(inputs, features, name="flat")), 3,
                                pooling="flatten")


def _hand_crop(images, top, left, size):
    crop = images[:, top:top + size, left:left + size]
    return keras.ops.convert_to_numpy(keras.ops.image.resize(crop, images.shape[1:3], antialias=False))


def test_flip_changes_the_output_and_is_the_mean_of_the_two_views(model, photos):
    plain = model.predict(photos, verbose=0)
    mirrored = model.predict(photos[:, :, ::-1].copy(), verbose=0)
    assert np.abs(plain - mirrored).max() > 1e-3  # the model is not flip-invariant: TTA has something to do
    np.testing.assert_allclose(predict_tta(model, photos, "flip"), (plain + mirrored) / 2, rtol=1e-5, atol=1e-6)


def test_ten_crop_is_the_mean_of_ten_hand_made_views(model, photos):
    size = 28  # round(0.875 * 32)
    corners = {"center": (2, 2), "top_left": (0, 0), "top_right": (0, 4), "bottom_left": (4, 0),
               "bottom_right": (4, 4)}
    views = []
    for images in (photos, photos[:, :, ::-1]):
        views += [_hand_crop(images, top, left, size) for top, left in corners.values()]
    expected = np.mean([model.predict(v, verbose=0) for v in views], axis=0)
    np.testing.assert_allclose(predict_tta(model, photos, "ten_crop"), expected, rtol=1e-5, atol=1e-6)
    assert len(PRESETS["ten_crop"]) == 10 and len(PRESETS["flip_crops"]) == 12


def test_a_crop_shows_only_its_corner():
    images = np.zeros((1, 8, 8, 1), "float32")
    images[:, :4, :4] = 100.0  # the top-left quadrant is bright
    np.testing.assert_array_equal(view(images, "top_left", crop=0.5), np.full((1, 8, 8, 1), 100.0, "float32"))
    np.testing.assert_array_equal(view(images, "bottom_right", crop=0.5), np.zeros((1, 8, 8, 1), "float32"))
    np.testing.assert_array_equal(view(images, "center", crop=1.0), images)
    np.testing.assert_array_equal(view(images, "vflip")[0, 4:, :4], images[0, :4, :4])


def test_predict_files_averages_the_views(model, photos, tmp_path):
    for i, p in enumerate(photos):
        Image.fromarray(p.astype("uint8")).save(tmp_path / f"photo_{i}.png")
    result = transfer.predict_files(model, [tmp_path], ["a", "b", "c"], top=3, tta="flip")
    expected = predict_tta(model, photos, "flip")
    for (name, top), row in zip(result, expected):
        scores = dict(top)
        np.testing.assert_allclose([scores[c] for c in "abc"], row, rtol=1e-5, atol=1e-6)
    plain = transfer.predict_files(model, [tmp_path], ["a", "b", "c"], top=3)
    assert dict(plain[0][1]) != pytest.approx(dict(result[0][1]), abs=1e-4)


def test_evaluate_matches_keras_without_tta_and_uses_the_average_with_it(model, photos):
    x, y = np.concatenate([photos, photos[:, ::-1]]), np.array([0, 1, 2, 1])
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    keras_loss, keras_accuracy = model.evaluate(x, y, verbose=0)
    plain = transfer.evaluate(model, (x, y))
    assert plain["loss"] == pytest.approx(keras_loss, rel=1e-4)
    assert plain["accuracy"] == pytest.approx(keras_accuracy)
    averaged = predict_tta(model, x, "flip")
    with_tta = transfer.evaluate(model, (x, y), tta="flip")
    assert with_tta["loss"] == pytest.approx(-np.log(averaged[np.arange(4), y]).mean(), rel=1e-5)
    assert with_tta["loss"] != pytest.approx(plain["loss"], rel=1e-4)
    import tensorflow as tf

    batches = tf.data.Dataset.from_tensor_slices((x, y)).batch(3)  # a dataset of batches gives the same
    assert transfer.evaluate(model, batches, tta="flip") == pytest.approx(with_tta)


def test_an_onnx_artifact_gets_the_same_average(model, photos, tmp_path):
    transfer.export(model, tmp_path / "m.onnx", format="onnx", class_names=["a", "b", "c"], speed=False)
    artifact = transfer.load_model(tmp_path / "m.onnx")
    np.testing.assert_allclose(predict_tta(artifact, photos, "flip_crops"), predict_tta(model, photos, "flip_crops"),
                               atol=1e-5)
    assert transfer.evaluate(artifact, (photos, [0, 1]), tta="flip") == pytest.approx(
        transfer.evaluate(model, (photos, [0, 1]), tta="flip"), abs=1e-5)


def test_bad_arguments_are_clear_errors(model, photos):
    with pytest.raises(ValueError, match="tta=.mirror"):
        predict_tta(model, photos, "mirror")
    with pytest.raises(ValueError, match="crop"):
        predict_tta(model, photos, "crops", crop=0)
    regression = transfer.attach_head(transfer.load_backbone("cnn_mnist", weights=None), 2, activation=None)
    with pytest.raises(ValueError, match="regression"):
        transfer.evaluate(regression, (np.zeros((2, 28, 28, 1)), np.zeros((2, 2))), tta="flip")
    with pytest.raises(ValueError, match="head kind"):
        transfer.evaluate(keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)]), (np.zeros((1, 2)), [0]))
