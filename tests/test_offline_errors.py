"""Offline, every download fails with one error of ours: what is missing, where to put it, what to pass instead."""

import os

import keras
import pytest
from keras.src.utils import file_utils

import transfer
import zoo
from datasets import cifar10, facial_keypoints

# What keras.utils.get_file raises on a machine without a network (its text, measured here).
OFFLINE = "URL fetch failure on {url}: None -- [Errno -2] Name or service not known"


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """No network: keras's downloader fails as it does offline; the Keras cache is an empty temporary folder."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))

    def fail(fname=None, origin=None, **kwargs):
        raise Exception(OFFLINE.format(url=origin))

    monkeypatch.setattr(keras.utils, "get_file", fail)
    monkeypatch.setattr(file_utils, "get_file", fail)  # keras.applications' own reference
    return tmp_path


def _one_error(err):
    """The error stands alone: no chained traceback above it, one line of text."""
    assert err.__cause__ is None and (err.__context__ is None or err.__suppress_context__), repr(err.__context__)
    assert "\n" not in str(err)
    return str(err)


def test_cifar10_names_url_file_folder_and_data_dir(offline):
    with pytest.raises(zoo.downloads.DownloadUnavailableError) as err:
        cifar10.load()
    message = _one_error(err.value)
    assert cifar10.ORIGIN in message and os.path.join(str(offline), "datasets") in message
    assert "data_dir='/path/to/cifar-10-python.tar.gz'" in message and "Name or service not known" in message
    assert message.count(cifar10.ORIGIN) == 1  # Keras's "URL fetch failure on <url>" is not repeated


def test_zoo_imagenet_weights_name_file_folder_and_weights_argument(offline):
    with pytest.raises(zoo.WeightsUnavailableError) as err:
        zoo.create_model("resnet50", weights="imagenet", include_top=False, input_shape=(64, 64, 3))
    message = _one_error(err.value)
    fname = "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
    assert f"Put the file at {os.path.join(str(offline), 'models', fname)} " in message
    assert f"weights='/path/to/{fname}'" in message and "https://storage.googleapis.com/" in message
    assert isinstance(err.value, OSError)


def test_keras_applications_weights_one_error(offline):
    with pytest.raises(zoo.WeightsUnavailableError) as err:
        zoo.create_model("mobilenet_v2", weights="imagenet", include_top=False, input_shape=(96, 96, 3))
    message = _one_error(err.value)
    assert os.path.join(str(offline), "models", "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_96_no_top.h5") \
        in message and "weights='/path/to/" in message


def test_facial_keypoints_say_where_the_files_come_from(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        facial_keypoints.load(tmp_path / "facial-keypoints")
    message = _one_error(err.value)
    assert "training.zip" in message and facial_keypoints.keypoints_csv.KAGGLE_PAGE in message
    assert "pass that folder's path" in message


@pytest.mark.parametrize("name", ["/data/presets/resnet18.a1_in1k", "./saved/backbone", "~/no-such-preset"])
def test_a_missing_folder_is_reported_as_one(name):
    with pytest.raises(FileNotFoundError, match=r"No folder at .*transfer backbones") as err:
        transfer.load_backbone(name)
    _one_error(err.value)
