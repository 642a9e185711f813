"""Saving, loading and predicting with bad files: clear errors that name the file, or a reported skip (issue 11, 7)."""

import json

import keras
import numpy as np
import pytest
from PIL import Image

import transfer
from transfer.cli import main as cli_main


def _model(classes=5, input_shape=(12, 12, 1)):
    keras.utils.set_random_seed(0)
    return transfer.attach_head(transfer.load_backbone("cnn_mnist", weights=None, input_shape=input_shape), classes)


def _image(path, size=(12, 12)):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(path)
    return str(path)


def test_save_without_names_removes_stale_names(tmp_path):
    path = tmp_path / "m.keras"
    transfer.save_model(_model(), path, class_names=list("abcde"))
    transfer.save_model(_model(), path)  # a new model, saved without names
    names = transfer.load_model(path).class_names
    assert names is None and not (tmp_path / "m.classes.json").exists()


def test_names_file_that_does_not_fit_the_model_is_an_error(tmp_path):
    path = transfer.save_model(_model(), tmp_path / "m.keras")
    (tmp_path / "m.classes.json").write_text(json.dumps(["a", "b", "c"]))
    with pytest.raises(ValueError, match=r"needs 5 class names; .*m\.classes\.json has 3"):
        transfer.load_model(path)
    (tmp_path / "m.classes.json").write_text('["a", "b",\n "c"')
    with pytest.raises(ValueError, match=r"m\.classes\.json, line 2: not a JSON list"):
        transfer.load_model(path)
    image = _image(tmp_path / "x.png")
    with pytest.raises(ValueError, match="needs 5 class names; class_names has 1"):
        transfer.predict_files(_model(), [image], class_names=["a"])


def test_model_with_a_flexible_input_size(tmp_path):
    model = _model(input_shape=(None, None, 3))
    small, wide = _image(tmp_path / "small.png", (12, 12)), _image(tmp_path / "wide.png", (16, 24))
    own = transfer.predict_files(model, [small, wide], top=2)  # each image at its own size
    assert [f for f, _ in own] == [small, wide] and not own.skipped
    resized = transfer.predict_files(model, [small, wide], top=2, size=(12, 12))
    # Already 12x12: the same input, the same class order and scores (up to float rounding: oneDNN's kernels
    # differ between a batch of 1 and of 2).
    assert [c for c, _ in resized[0][1]] == [c for c, _ in own[0][1]]
    np.testing.assert_allclose([p for _, p in resized[0][1]], [p for _, p in own[0][1]], rtol=1e-5)
    with pytest.raises(ValueError, match=r"`size` can only be given for a model with a flexible input size"):
        transfer.predict_files(_model(input_shape=(12, 12, 3)), [small], size=(16, 16))


def test_truncated_image_is_skipped_and_named(tmp_path):
    good = _image(tmp_path / "a_good.png")
    data = open(_image(tmp_path / "b_cut.png", (64, 64)), "rb").read()
    (tmp_path / "b_cut.png").write_bytes(data[: len(data) // 2])
    (tmp_path / "c_text.png").write_text("not an image")
    result = transfer.predict_files(_model(classes=5, input_shape=(12, 12, 3)), [tmp_path])
    assert [f for f, _ in result] == [good]
    assert [f.rsplit("/", 1)[1] for f, _ in result.skipped] == ["b_cut.png", "c_text.png"]
    assert all(reason.startswith("not a readable image") for _, reason in result.skipped)
    with pytest.raises(ValueError, match=r"None of the 2 image files could be read: .*b_cut\.png"):
        transfer.predict_files(_model(input_shape=(12, 12, 3)), [tmp_path / "b_cut.png", tmp_path / "c_text.png"])


def test_truncated_keras_file_is_reported_as_corrupt(tmp_path, capsys):
    path = transfer.save_model(_model(), tmp_path / "m.keras")
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"m\.keras is not a complete \.keras file.*truncated or corrupt"):
        transfer.load_model(path)
    assert cli_main(["predict", str(path), _image(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("transfer: error: ") and "m.keras" in err and "File not found" not in err


def test_unsafe_keras_file_gives_one_clear_line(tmp_path, capsys):
    inp = keras.Input((12, 12, 1))
    scaled = keras.layers.Lambda(lambda t: t / 255.0)(inp)
    base = keras.Model(inp, transfer.load_backbone("cnn_mnist", weights=None, input_shape=(12, 12, 1))(scaled))
    path = transfer.save_model(transfer.attach_head(base, 2), tmp_path / "lambda.keras")
    with pytest.raises(ValueError, match=r"Refused to load .*lambda\.keras: it holds Python code") as err:
        transfer.load_model(path)
    assert "\n" not in str(err.value) and "safe_mode=False" in str(err.value)
    assert cli_main(["predict", str(path), _image(tmp_path / "x.png")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_a_model_with_several_input_layers_loads(tmp_path):
    """Add layers record a list of input shapes: the size check before loading reads each of them."""
    model = transfer.attach_head(transfer.load_backbone("resnet20", weights=None, input_shape=(16, 16, 3)), 3)
    path = transfer.save_model(model, tmp_path / "r20.keras", class_names=["a", "b", "c"])
    loaded = transfer.load_model(path)
    x = np.random.default_rng(0).uniform(0, 255, (2, 16, 16, 3)).astype("float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    import zipfile

    with zipfile.ZipFile(path) as zf:  # a damaged size inside such a list is still refused
        config = zf.read("config.json").decode().replace("[null, 8, 8, 32]", "[null, 8, 8, 3200000000]", 1)
        members = {name: zf.read(name) for name in zf.namelist()}
    assert "3200000000" in config
    with zipfile.ZipFile(tmp_path / "bad.keras", "w") as zf:
        for name, data in members.items():
            zf.writestr(name, config if name == "config.json" else data)
    with pytest.raises(ValueError, match=r"bad\.keras: its config asks for"):
        transfer.load_model(tmp_path / "bad.keras")
