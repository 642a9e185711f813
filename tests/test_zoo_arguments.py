"""Arguments a user may well pass: NumPy integers, contradictory pooling, a wrong file as weights (issue 11, 8)."""

import numpy as np
import pytest

import transfer
import zoo


@pytest.mark.parametrize("name", ["cnn_mnist", "resnet20", "vgg11"])
def test_numpy_integer_classes_accepted_by_builders(name):
    model = getattr(zoo, name)(weights=None, classes=np.int64(7))
    assert model.output_shape[-1] == 7 and isinstance(model.output_shape[-1], int)


def test_numpy_integer_classes_accepted_by_attach_head():
    base = transfer.load_backbone("cnn_mnist", weights=None, input_shape=(12, 12, 1))
    model = transfer.attach_head(base, np.int32(4))
    assert model.output_shape == (None, 4)
    with pytest.raises(ValueError, match="`classes` must be a positive integer. Received: classes="):
        transfer.attach_head(base, np.bool_(True))  # a NumPy bool is no count


def test_pooling_with_include_top_is_refused():
    with pytest.raises(ValueError, match=r"`pooling` applies to the headless model only .* pooling='max'"):
        zoo.resnet20(weights=None, include_top=True, pooling="max")


@pytest.mark.parametrize("content", [b"these are not weights\n", b""], ids=["text", "empty"])
def test_text_file_as_weights_names_the_path(tmp_path, content):
    path = tmp_path / "resnet20.h5"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"resnet20\.h5' is not an HDF5 weights file .* Received: weights="):
        zoo.resnet20(weights=str(path))
    with pytest.raises(ValueError, match=r"resnet20\.h5' is not an HDF5 weights file"):
        zoo.weights.load_into(zoo.resnet20(weights=None), path)


def test_weights_that_do_not_fit_name_the_file(tmp_path):
    path = str(tmp_path / "mnist.weights.h5")
    zoo.cnn_mnist().save_weights(path)
    with pytest.raises(ValueError, match=r"The weights in .*mnist\.weights\.h5' do not fit 'resnet20'"):
        zoo.resnet20(weights=path)
