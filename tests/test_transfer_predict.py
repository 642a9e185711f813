"""predict_files takes a model or a saved file's path, and its errors speak of prediction."""

import numpy as np
import pytest
from PIL import Image

import transfer
import zoo


@pytest.fixture()
def digits_folder(tmp_path):
    from sklearn.datasets import load_digits

    folder = tmp_path / "digits"
    folder.mkdir()
    for i, image in enumerate(load_digits().images[:4]):
        Image.fromarray((image * 255 / 16).astype(np.uint8)).resize((28, 28)).save(folder / f"{i}.png")
    return folder


def test_a_keras_file_path_predicts_like_the_model(digits_folder, tmp_path):
    model = transfer.attach_head(transfer.load_backbone("cnn_mnist", weights=None), 3)
    path = transfer.save_model(model, tmp_path / "m.keras", class_names=["a", "b", "c"])
    by_path, by_model = transfer.predict_files(path, [digits_folder]), transfer.predict_files(model, [digits_folder])
    assert [f for f, _ in by_path] == [f for f, _ in by_model] and len(by_path) == 4
    for (_, got), (_, want) in zip(by_path, by_model):
        assert [c for c, _ in got] == [c for c, _ in want]
        np.testing.assert_allclose([p for _, p in got], [p for _, p in want], rtol=1e-5)


def test_a_model_without_a_head_kind_is_a_prediction_error(digits_folder):
    with pytest.raises(ValueError, match="model.predict") as info:
        transfer.predict_files(zoo.cnn_mnist(), [digits_folder])
    assert "fine_tune" not in str(info.value)
