"""timm folders checked before keras-hub reads them (transfer.sources.folder_checks): each case of issue 27's first finding.

Each folder is a real timm checkpoint of ``mobilenetv3_small_050`` (written
from a keras-hub backbone by keras-hub's own converter table, as in
``hub_fixtures``), then damaged one way. Every case must end in one
``ValueError`` naming the file, before keras-hub assigns anything.
"""

import json
import os
import shutil
import signal

import pytest

import transfer
from transfer.sources.presets import resolve_preset

pytest.importorskip("keras_hub")
safetensors_numpy = pytest.importorskip("safetensors.numpy")

from hub_fixtures import write_timm_folder  # noqa: E402  (needs keras_hub)

ARCH = "mobilenetv3_small_050"
MEAN, STD = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    from keras_hub.src.utils.timm.preset_loader import TimmPresetLoader

    converter = TimmPresetLoader("", {"architecture": ARCH}).converter
    raw = converter.backbone_cls(**converter.convert_backbone_config({"architecture": ARCH}))
    return write_timm_folder(str(tmp_path_factory.mktemp("timm") / f"{ARCH}.test"), raw, ARCH, MEAN, STD,
                             input_size=32)


@pytest.fixture
def folder(pristine, tmp_path):
    copy = str(tmp_path / f"{ARCH}.test")
    shutil.copytree(pristine, copy)
    return copy


@pytest.fixture(autouse=True)
def no_hang():
    """A loader that blocks (a FIFO opened for reading) fails the test instead of hanging the suite."""
    def alarm(*_):
        raise TimeoutError("the loader blocked")
    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(120)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def _edit_config(folder, edit):
    path = os.path.join(folder, "config.json")
    with open(path) as f:
        config = json.load(f)
    edit(config)
    with open(path, "w") as f:
        json.dump(config, f)


def _refused(folder, *words, load=transfer.load_backbone):
    with pytest.raises(ValueError) as info:
        load(folder)
    message = str(info.value)
    assert folder in message, message
    for word in words:
        assert word in message, message
    return message


def test_the_pristine_folder_loads(folder):
    assert transfer.load_backbone(folder).name == f"{ARCH}.test"


@pytest.mark.parametrize("edit, words", [
    (lambda c: c.update(architecture=18), ["`architecture` must be", "Received: 18"]),
    (lambda c: c.update(architecture="resnet9000"), ["cannot build this `architecture`"]),
    (lambda c: c["pretrained_cfg"].update(std=[0, 0, 0]), ["std` must be positive"]),
    (lambda c: c["pretrained_cfg"].update(std=2 ** 63), ["three finite numbers"]),
    (lambda c: c["pretrained_cfg"].update(mean=[0.5, "a", 0.5]), ["three finite numbers"]),
    (lambda c: c["pretrained_cfg"].update(input_size=[3, 2 ** 31 - 1, 32]), ["input_size"]),
    (lambda c: c.update(num_classes="1000"), ["num_classes"]),
    (lambda c: c.pop("pretrained_cfg"), ["normalisation is unknown"]),
], ids=["architecture 18", "unknown architecture", "std 0", "std 2**63", "mean with a string",
        "input size 2**31-1", "num_classes a string", "no pretrained_cfg"])
def test_config_values_of_the_wrong_type_or_range(folder, edit, words):
    _edit_config(folder, edit)
    _refused(folder, "config.json", *words)


def test_missing_mean_is_an_error_not_imagenet(folder):
    """Without mean (and input_size), keras-hub made no converter and ImageNet's normalisation was used silently."""
    _edit_config(folder, lambda c: [c["pretrained_cfg"].pop(k) for k in ("mean", "input_size")])
    _refused(folder, "config.json", "lacks `mean`")


@pytest.mark.parametrize("text", [
    json.dumps({"architecture": ARCH}).encode("utf-16"),
    b'{"architecture": "x", "pretrained_cfg": {"mean": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}",
    b'{"architecture": ',
    b"[1, 2]",
], ids=["UTF-16", "nested 100,000 deep", "cut short", "a list"])
def test_unreadable_config(folder, text):
    with open(os.path.join(folder, "config.json"), "wb") as f:
        f.write(text)
    _refused(folder, "config.json")


def test_damaged_safetensors_header_names_the_file(folder):
    path = os.path.join(folder, "model.safetensors")
    with open(path, "r+b") as f:
        f.write((10 ** 12).to_bytes(8, "little"))  # a header length larger than the file
    _refused(folder, "model.safetensors is not a readable safetensors file")


def _rewrite_tensors(folder, edit):
    path = os.path.join(folder, "model.safetensors")
    tensors = safetensors_numpy.load_file(path)
    edit(tensors)
    safetensors_numpy.save_file(tensors, path)


def test_missing_tensor_is_not_replaced_by_one_whose_name_ends_alike(folder):
    """keras-hub's suffix match took blocks.0.0.bn1.running_mean for the stem's bn1.running_mean, silently."""
    _rewrite_tensors(folder, lambda t: t.pop("bn1.running_mean"))
    _refused(folder, "model.safetensors", "missing", "bn1.running_mean")


def test_tensor_of_the_wrong_shape_names_the_file(folder):
    _rewrite_tensors(folder, lambda t: t.update({"conv_stem.weight": t["conv_stem.weight"][:, :, :2]}))
    _refused(folder, "model.safetensors", "conv_stem.weight")


def _index(folder, weight_map):
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {}, "weight_map": weight_map}, f)


def test_index_naming_a_file_outside_the_folder_is_refused(folder):
    keys = list(safetensors_numpy.load_file(os.path.join(folder, "model.safetensors")))
    _index(folder, {k: "../../etc/passwd" if i == 0 else "model.safetensors" for i, k in enumerate(keys)})
    _refused(folder, "../../etc/passwd", "no path may leave the folder")


@pytest.mark.parametrize("index", [{"weight_map": 5}, {"weight_map": {"a": ["x"]}}, {}], ids=["int", "list", "none"])
def test_malformed_index(folder, index):
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f)
    _refused(folder, "model.safetensors.index.json", "weight_map")


def test_a_link_out_of_the_folder_is_refused(folder, tmp_path):
    outside = str(tmp_path / "elsewhere.safetensors")
    shutil.move(os.path.join(folder, "model.safetensors"), outside)
    os.symlink(outside, os.path.join(folder, "model.safetensors"))
    _refused(folder, "outside")


@pytest.mark.parametrize("name", ["model.safetensors", "config.json"])
def test_special_files_are_refused(folder, name):
    path = os.path.join(folder, name)
    os.remove(path)
    os.mkfifo(path)
    # load_backbone takes a folder for a preset when its config.json is a file; the preset resolver checks any
    load = transfer.load_backbone if name != "config.json" else resolve_preset
    _refused(folder, name, "a FIFO", load=load)
    os.remove(path)
    os.symlink("/dev/zero", path)
    _refused(folder, name, "outside", load=load)


def test_keras_preset_files_must_be_regular_files_of_the_folder(tmp_path):
    from transfer.sources.folder_checks import check_preset_folder

    folder = tmp_path / "keras_preset"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"module": "keras_hub.src.models.resnet.resnet_backbone",
                                                    "class_name": "ResNetBackbone", "config": {},
                                                    "registered_name": "keras_hub>ResNetBackbone"}))
    os.mkfifo(folder / "model.weights.h5")
    with pytest.raises(ValueError, match="model.weights.h5 is a FIFO"):
        check_preset_folder(str(folder))
    os.remove(folder / "model.weights.h5")
    os.symlink("/etc/hostname", folder / "model.weights.h5")
    with pytest.raises(ValueError, match="outside"):
        check_preset_folder(str(folder))
