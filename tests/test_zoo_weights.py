"""Keras's published weight layout loads into the zoo builders; offline errors help.

Keras's ImageNet files cannot be downloaded here, so the proof is structural:
build the keras.applications model with random weights, write its weights in
the layout of the published files (legacy HDF5, the format of
``*_weights_tf_dim_ordering_tf_kernels.h5``) and in Keras 3's own format, load
them into the zoo builder, and compare outputs on a real photograph.
"""

import dataclasses
import hashlib
import shutil

import h5py
import keras
import numpy as np
import pytest
from keras.src.legacy.saving import legacy_h5_format

import zoo
from zoo import registry, weights as weights_lib

APPLICATIONS = {
    "vgg16": "VGG16", "vgg19": "VGG19", "resnet50": "ResNet50", "resnet101": "ResNet101",
    "resnet152": "ResNet152", "resnet50v2": "ResNet50V2", "resnet101v2": "ResNet101V2",
    "resnet152v2": "ResNet152V2",
}


def photo_batch(photo, size):
    """The photograph resized to size x size, as a float batch of one in 0-255."""
    image = keras.ops.image.resize(photo.astype("float32")[None], (size, size))
    return keras.ops.convert_to_numpy(image)


def write_published_layout(model, path):
    """Write weights as Keras's published .h5 files are laid out (legacy HDF5, by layer name)."""
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)


def randomise_batch_norm(model, seed=0):
    """Give BN layers non-trivial moving statistics, so a mix-up of them would show."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.1, beta.shape),
                               rng.normal(0, 0.1, mean.shape), rng.uniform(0.5, 1.5, var.shape)])


# Loading by layer name is one code path for every architecture; that each deeper twin (ResNet-101, -152,
# VGG-19) has keras.applications' layer names and weight shapes is checked in test_zoo_models.
@pytest.mark.parametrize("arch", ["resnet50", "resnet50v2", "vgg16"])
def test_published_layout_loads_headless(arch, tmp_path, chelsea):
    reference = getattr(keras.applications, APPLICATIONS[arch])(
        weights=None, include_top=False, input_shape=(64, 64, 3))
    randomise_batch_norm(reference)
    path = tmp_path / weights_lib.file_name(arch, include_top=False)
    write_published_layout(reference, path)
    ours = zoo.create_model(arch, include_top=False, weights=str(path), input_shape=(64, 64, 3))
    x = photo_batch(chelsea, 64) / 255.0
    np.testing.assert_allclose(ours(x), reference(x), atol=1e-5)
    keras.backend.clear_session()


@pytest.mark.parametrize("arch", ["resnet50", "resnet50v2", "vgg16"])
def test_published_layout_loads_with_top_on_a_photograph(arch, tmp_path, chelsea):
    reference = getattr(keras.applications, APPLICATIONS[arch])(weights=None)
    randomise_batch_norm(reference)
    x = photo_batch(chelsea, 224) / 255.0
    expected = keras.ops.convert_to_numpy(reference(x))
    for path in (tmp_path / weights_lib.file_name(arch), tmp_path / f"{arch}.weights.h5"):
        if path.suffixes[-2:] == [".weights", ".h5"]:
            reference.save_weights(path)  # Keras 3's own format, matched by structure
        else:
            write_published_layout(reference, path)
        ours = zoo.create_model(arch, weights=str(path))
        got = keras.ops.convert_to_numpy(ours(x))
        np.testing.assert_allclose(got, expected, atol=1e-5)
        assert got.argmax() == expected.argmax()
    keras.backend.clear_session()


def test_imagenet_offline_says_where_the_file_goes(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(zoo.WeightsUnavailableError) as err:
        zoo.resnet50(weights="imagenet", include_top=False)
    message = str(err.value)
    expected = str(tmp_path / "models" / "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5")
    assert expected in message
    assert "weights='/path/to/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5'" in message


def test_imagenet_uses_a_cached_file_with_the_right_hash(tmp_path, monkeypatch, chelsea):
    """A file already in the Keras cache is checked against the table's hash and loaded offline."""
    reference = keras.applications.ResNet50(weights=None, include_top=False, input_shape=(64, 64, 3))
    cached = tmp_path / "models" / weights_lib.file_name("resnet50", include_top=False)
    cached.parent.mkdir()
    write_published_layout(reference, cached)
    md5 = hashlib.md5(cached.read_bytes()).hexdigest()
    record = zoo.get_config("resnet50")
    files = dataclasses.replace(record.weights["imagenet"].files, notop_hash=md5)
    monkeypatch.setitem(registry._CONFIGS, "resnet50", dataclasses.replace(record, weights={"imagenet": files}))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    ours = zoo.resnet50(weights="imagenet", include_top=False, input_shape=(64, 64, 3))
    x = photo_batch(chelsea, 64)
    np.testing.assert_allclose(ours(x), reference(x), atol=1e-4)


def test_a_corrupt_cached_file_is_not_used(tmp_path, monkeypatch):
    """A cached file whose hash does not match is refused (Keras tries to re-download, which fails here)."""
    cached = tmp_path / "models" / weights_lib.file_name("vgg16", include_top=False)
    cached.parent.mkdir()
    cached.write_bytes(b"not an HDF5 file")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(zoo.WeightsUnavailableError):
        zoo.vgg16(weights="imagenet", include_top=False)


@pytest.mark.filterwarnings("ignore:Skipping nested container")
def test_weights_of_another_architecture_are_refused(tmp_path):
    path = tmp_path / "resnet20.weights.h5"
    zoo.resnet20().save_weights(path)
    shutil.copy(path, tmp_path / "copy.weights.h5")
    with pytest.raises(ValueError):
        zoo.resnet32(weights=str(tmp_path / "copy.weights.h5"))
