"""Backbones: preprocessing applied exactly once, layer groups, the offline weights message, JAX."""

import os

import keras
import numpy as np
import pytest

import transfer
import zoo

SIZE = 64


def _photo(photo):
    """A real photograph resized to SIZE x SIZE, raw 0-255 float32, batch of 1."""
    img = keras.ops.image.resize(photo[None].astype("float32"), (SIZE, SIZE))
    return keras.ops.convert_to_numpy(img)


# name, keras.applications constructor, its preprocess_input, whether we add a preprocessing layer
CASES = [
    ("resnet50", keras.applications.ResNet50, keras.applications.resnet50.preprocess_input, "caffe"),
    ("resnet50v2", keras.applications.ResNet50V2, keras.applications.resnet_v2.preprocess_input, "tf"),
    ("mobilenet_v2", keras.applications.MobileNetV2, keras.applications.mobilenet_v2.preprocess_input, "tf"),
    ("efficientnet_b0", keras.applications.EfficientNetB0, keras.applications.efficientnet.preprocess_input, None),
]


@pytest.mark.parametrize("name,ctor,preprocess_input,mode", CASES, ids=[c[0] for c in CASES])
def test_preprocessing_applied_exactly_once(name, ctor, preprocess_input, mode, chelsea):
    keras.utils.set_random_seed(1)
    ref = ctor(include_top=False, weights=None, input_shape=(SIZE, SIZE, 3))
    ours = transfer.load_backbone(name, weights=None, input_shape=(SIZE, SIZE, 3))
    ours.set_weights(ref.get_weights())  # identical weights, copied
    photo = _photo(chelsea)
    expected = ref.predict(preprocess_input(photo.copy()), verbose=0)
    got = ours.predict(photo, verbose=0)
    scale = np.abs(expected).max()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * scale)
    modes = [layer.mode for layer in ours.layers if isinstance(layer, transfer.ImagePreprocessing)]
    assert modes == ([mode] if mode else [])
    if mode:  # skipping the preprocessing would give another answer: the comparison has teeth
        assert not np.allclose(ref.predict(photo, verbose=0), expected, atol=1e-3 * scale)


def test_preprocessing_layer_matches_keras_modes(astronaut):
    photo = _photo(astronaut)
    imagenet = keras.applications.imagenet_utils.preprocess_input
    for mode in ("caffe", "tf", "torch"):
        got = keras.ops.convert_to_numpy(transfer.ImagePreprocessing(mode)(photo))
        np.testing.assert_allclose(got, imagenet(photo.copy(), mode=mode), rtol=1e-5, atol=1e-4)
    with pytest.raises(ValueError, match="Received: mode='bgr'"):
        transfer.ImagePreprocessing("bgr")


def test_zoo_names_take_precedence_and_spellings_agree():
    assert zoo.get_config("resnet50").source == "zoo"
    assert zoo.get_config("keras_resnet50").source == "keras"
    assert zoo.get_config("MobileNet-V2").name == "mobilenet_v2"
    assert zoo.get_config("cnn_mnist").preprocessing == "rescale"
    with pytest.raises(ValueError, match="Did you mean: .*resnet50,"):
        transfer.load_backbone("resnet5O", weights=None)


def test_layer_groups_from_names():
    groups = transfer.layer_groups(transfer.load_backbone("resnet50", weights=None, input_shape=(SIZE, SIZE, 3)))
    assert list(groups) == ["stem", "conv2", "conv3", "conv4", "conv5"]
    assert groups["stem"][1].name == "preprocess"  # weightless layers fold into the first group
    assert all(layer.name.startswith("conv5_") for layer in groups["conv5"])
    eff = transfer.layer_groups(transfer.load_backbone("efficientnet_b0", weights=None, input_shape=(32, 32, 3)))
    assert list(eff) == ["stem"] + [f"block{i}" for i in range(1, 8)] + ["top"]
    mob = transfer.layer_groups(transfer.load_backbone("mobilenet_v2", weights=None, input_shape=(SIZE, SIZE, 3)))
    assert list(mob) == [f"stage{i}" for i in range(1, 6)]  # split where the resolution halves
    cifar = transfer.layer_groups(transfer.load_backbone("resnet20", weights=None))
    assert list(cifar) == ["stem", "conv2", "conv3", "conv4"]


def test_weights_path_round_trip(tmp_path):
    base = transfer.load_backbone("cnn_mnist", weights=None)
    path = transfer.atomic_save(base, tmp_path / "b.weights.h5", weights_only=True)
    again = transfer.load_backbone("cnn_mnist", weights=path)
    for a, b in zip(base.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_offline_imagenet_error_names_path_and_remedy(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(zoo.WeightsUnavailableError) as zoo_err:
        transfer.load_backbone("resnet50", weights="imagenet", input_shape=(SIZE, SIZE, 3))
    assert os.path.join(str(tmp_path), "models", "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5") \
        in str(zoo_err.value)
    with pytest.raises(transfer.WeightsUnavailableError) as app_err:
        transfer.load_backbone("mobilenet_v2", weights="imagenet", input_shape=(SIZE, SIZE, 3))
    message = str(app_err.value)
    assert isinstance(app_err.value, OSError)
    assert os.path.join(str(tmp_path), "models", "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5") \
        in message
    assert "weights='/path/to/" in message


def test_backbone_and_preprocessing_run_on_jax(run_jax):
    out = run_jax("""
        import numpy as np, keras, transfer
        base = transfer.load_backbone("resnet20", weights=None, input_shape=(16, 16, 3))
        model = transfer.attach_head(base, 3)
        transfer.freeze(model)
        opt = transfer.DiscriminativeOptimizer(keras.optimizers.SGD(0.1), {"predictions/*": 0.5})
        model.compile(opt, "sparse_categorical_crossentropy")
        x = np.random.RandomState(0).randint(0, 256, (8, 16, 16, 3)).astype("float32")
        before = model.get_layer("predictions").get_weights()[0].copy()
        model.train_on_batch(x, np.arange(8) % 3)
        after = model.get_layer("predictions").get_weights()[0]
        print(keras.backend.backend(), float(np.abs(after - before).sum()) > 0,
              float(transfer.ImagePreprocessing("tf")(np.full((1, 1, 1, 3), 255.0))[0, 0, 0, 0]))
    """)
    assert out.split() == ["jax", "True", "1.0"]
