"""Backbones from keras-hub and timm, offline: built from their configs, and from timm folders written here.

Every family (ResNet-18, MobileNetV3, DenseNet, CSPNet, EfficientNet, VGG):
the groups are its stages (and agree with keras-hub's pyramid outputs); raw
0-255 pixels through the loaded backbone equal keras-hub's backbone on
mean/std-normalised input; two-phase fine-tuning with ``train_bn=False``
moves no BatchNorm statistic (inside MobileNet's composite blocks too);
the head model saves and loads in a fresh process; ``mixed_bfloat16``
works. Models are built once per module at 32 px.
"""

import functools
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import transfer
import zoo
from transfer.sources import hub
from zoo.graph import all_layers

keras_hub = pytest.importorskip("keras_hub")

from hub_fixtures import randomise_batchnorm, write_timm_folder  # noqa: E402  (needs keras_hub)

SHAPE = (32, 32, 3)
MEAN, STD = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)  # not ImageNet's: proves they are read from the folder
STAGES = {
    "hub_resnet18": ["stem", "stack0", "stack1", "stack2", "stack3"],
    "hub_mobilenetv3_small_100": ["stem", "block0", "block1", "block2", "block3", "block4", "block5"],
    "hub_densenet121": ["stem", "stack1", "stack2", "stack3", "stack4"],
    "hub_cspdarknet53": ["stem", "stage0", "stage1", "stage2", "stage3", "stage4"],
    "hub_efficientnet_b0": ["stem", *(f"block{i}" for i in range(1, 8)), "top"],
    "hub_vgg16": [f"block{i}" for i in range(1, 6)],
}
PIXELS = np.random.default_rng(0).uniform(0, 255, (4, *SHAPE)).astype("float32")
LABELS = np.arange(4) % 2


@pytest.fixture(scope="module")
def built():
    """record -> (keras-hub backbone with random BatchNorm statistics, our Backbone over its layers); lazily."""
    cache = {}

    def get(name):
        if name not in cache:
            raw = zoo.create_model(name, input_shape=SHAPE)
            randomise_batchnorm(raw)
            cache[name] = raw, transfer.load_backbone(raw, input_shape=SHAPE)
        return cache[name]

    return get


@pytest.fixture
def eager():
    """Run Keras's train step eagerly: the same Python code (BatchNorm's ``training and trainable`` test
    included) without tracing a graph, which costs 10-25 s per phase for these networks on 2 cores.
    test_fine_tune_compiled_mobilenet_moves_no_batchnorm_statistic covers the traced step."""
    import tensorflow as tf

    tf.config.run_functions_eagerly(True)
    yield
    tf.config.run_functions_eagerly(False)


def bn_layers(model):
    return [layer for layer in all_layers(model) if isinstance(layer, keras.layers.BatchNormalization)]


@pytest.mark.parametrize("name", STAGES)
def test_family_groups_preprocessing_and_mixed_bfloat16(built, name):
    raw, base = built(name)
    # The groups are the stages, and agree with keras-hub's pyramid outputs.
    assert base.arch == name and [g for g, _ in base.groups] == STAGES[name]
    assert base.groups[0][1][:2] == ("image", "preprocess")  # our first layers open the first group
    ends = {names[-1] for _, names in base.groups}
    made_by = {id(layer.output): layer.name for layer in raw.layers}
    levels = [made_by[id(t)] for t in (getattr(raw, "pyramid_outputs", None) or {}).values()]
    assert set(levels[:-1]) <= ends  # a final norm may follow the last level, in the last stage
    assert not levels or levels[-1] in dict(base.groups)[STAGES[name][-1]]
    # Structure alone (no record) gives the same stages: the scheme is guessed from keras-hub's names.
    assert [g for g, _ in transfer.as_backbone(raw).groups] == STAGES[name]

    # Raw 0-255 pixels in equal keras-hub's backbone on mean/std-normalised input (the record's "torch").
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    expected = keras.ops.convert_to_numpy(raw((PIXELS / 255.0 - mean) / std))
    got = keras.ops.convert_to_numpy(base(PIXELS))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())

    # mixed_bfloat16: computes in bfloat16, keeps float32 variables, the same groups and close outputs.
    half = transfer.load_backbone(raw, input_shape=SHAPE, dtype="mixed_bfloat16")
    convs = [layer for layer in all_layers(half) if isinstance(layer, keras.layers.Conv2D)]
    sizes = [(g, len(names)) for g, names in base.groups]
    assert half.dtype_policy.name == "mixed_bfloat16" and [(g, len(n)) for g, n in half.groups] == sizes
    assert {layer.compute_dtype for layer in convs} == {"bfloat16"}
    assert all(w.dtype == "float32" for w in half.weights)
    low = keras.ops.convert_to_numpy(keras.ops.cast(half(PIXELS), "float32"))
    assert np.all(np.isfinite(low)) and np.abs(low - got).max() < 0.1 * np.abs(got).max()


@functools.lru_cache(maxsize=None)
def small_variant(name):
    """A keras-hub backbone of ``name``'s family with one block per stage: the same layer kinds, fewer of them.

    Training cost grows with the layer count (graph tracing); BatchNorm
    safety is a property of the layer kinds, which the small variants share.
    """
    model = zoo.create_model(name, input_shape=SHAPE)
    config = model.get_config()
    if name == "hub_mobilenetv3_small_100":  # per-block lists: keep each stage's first block
        config = {k: ([1] * len(v) if k == "stackwise_num_blocks" else [stage[:1] for stage in v])
                  if k.startswith("stackwise_") else v for k, v in config.items()}
    fewer = {"hub_resnet18": {"stackwise_num_blocks": [1, 1, 1, 1]},
             "hub_densenet121": {"stackwise_num_repeats": [1, 1, 1, 1]},
             "hub_cspdarknet53": {"stackwise_depth": [1, 1, 1, 1, 1]},
             "hub_efficientnet_b0": {"stackwise_num_repeats": [1] * 7}}
    return type(model).from_config({**config, **fewer.get(name, {})})


def load_small(name):
    # A variant matches no record (their depths are the records'), so its normalisation is said explicitly.
    return transfer.load_backbone(small_variant(name), input_shape=SHAPE, preprocessing="torch")


def check_fine_tune_keeps_bn(backbone, expect_bns):
    """Phases 1 and 2 with train_bn=False: weights train, no BatchNorm statistic moves."""
    bns = bn_layers(backbone)
    assert len(bns) == expect_bns
    randomise_batchnorm(backbone, seed=1)
    stats = [keras.ops.convert_to_numpy(v).copy() for b in bns for v in (b.moving_mean, b.moving_variance)]
    weights = [keras.ops.convert_to_numpy(w).copy() for w in backbone.weights]
    model = transfer.attach_head(backbone, 2)
    transfer.fine_tune(model, (PIXELS, LABELS), epochs=(1, 1), patience=None, batch_size=4, verbose=0,
                       learning_rate=(1e-2, 1e-2))
    after = [keras.ops.convert_to_numpy(v) for b in bns for v in (b.moving_mean, b.moving_variance)]
    assert all(np.array_equal(a, b) for a, b in zip(stats, after))
    report = transfer.trainable_report(model)
    last = [g for g, _ in backbone.groups][-1]
    assert report[last][2] > 0 and report[last][4] == ("frozen" if bns else "")  # phase 2: the last stage, BN frozen
    assert all(row[2] == 0 for row in report.rows[:-2])  # and only it (then the head)
    moved = [not np.array_equal(a, keras.ops.convert_to_numpy(w)) for a, w in zip(weights, backbone.weights)]
    assert any(moved)  # something trained


@pytest.mark.parametrize("name, bns", [("hub_resnet18", 12), ("hub_densenet121", 13), ("hub_cspdarknet53", 31),
                                        ("hub_efficientnet_b0", 22), ("hub_vgg16", 0)])
def test_fine_tune_with_train_bn_false_moves_no_batchnorm_statistic(eager, name, bns):
    check_fine_tune_keeps_bn(load_small(name), bns)


@pytest.mark.slow
def test_fine_tune_compiled_mobilenet_moves_no_batchnorm_statistic():
    # Traced, as fine_tune runs it (and TensorFlow has no eager CPU gradient for MobileNet's grouped convolution);
    # 15 of its 16 BatchNorm layers live inside keras-hub's composite blocks.
    check_fine_tune_keeps_bn(load_small("hub_mobilenetv3_small_100"), 16)


def test_mobilenet_composite_blocks_show_their_batchnorm_in_the_report(built):
    _, base = built("hub_mobilenetv3_small_100")
    model = transfer.unfreeze(transfer.attach_head(base, 2), "block5", train_bn=True)
    rows = {row[0]: row for row in transfer.trainable_report(model).rows}
    assert rows["block1"][4] == "frozen" and rows["block5"][4] == "train"  # block1's BN live inside composites
    inner = [b for b in bn_layers(base.get_layer("block_1_0"))]
    assert len(inner) == 3 and not any(b.trainable for b in inner)


def test_local_folders_load_offline_with_their_normalisation(tmp_path, built):
    raw, _ = built("hub_resnet18")
    keras_folder = str(tmp_path / "my_resnet18")  # Keras format: save_to_preset, with an ImageConverter
    raw.save_to_preset(keras_folder)
    converter = keras_hub.layers.ResNetImageConverter(image_size=SHAPE[:2], scale=1 / 51.0, offset=-1.0)
    converter.save_to_preset(keras_folder)
    base = transfer.load_backbone(keras_folder)
    assert base.name == "my_resnet18" and base.input_shape == (None, *SHAPE)
    assert [g for g, _ in base.groups] == STAGES["hub_resnet18"]  # the class's scheme: ResNet has several records
    np.testing.assert_allclose(keras.ops.convert_to_numpy(base(PIXELS)),
                               keras.ops.convert_to_numpy(raw(PIXELS / 51.0 - 1.0)), rtol=1e-4, atol=1e-5)
    for name, arch in (("hub_resnet18", "resnet18"), ("hub_mobilenetv3_small_100", "mobilenetv3_small_100")):
        raw, _ = built(name)
        folder = write_timm_folder(str(tmp_path / f"{arch}.test_in1k"), raw, arch, MEAN, STD)
        base = transfer.load_backbone(folder, input_shape=SHAPE)
        assert (base.name, base.arch) == (f"{arch}.test_in1k", name)
        assert [g for g, _ in base.groups] == STAGES[name]
        expected = keras.ops.convert_to_numpy(raw((PIXELS / 255.0 - np.array(MEAN)) / np.array(STD)))
        np.testing.assert_allclose(keras.ops.convert_to_numpy(base(PIXELS)), expected, rtol=1e-4,
                                   atol=1e-5 * np.abs(expected).max())


def test_hf_handle_reads_a_filled_cache_and_fails_fast_without_one(tmp_path, monkeypatch, built):
    import huggingface_hub.constants

    raw, _ = built("hub_resnet18")
    snapshot = tmp_path / "hub" / "models--timm--resnet18.test_in1k" / "snapshots" / ("0" * 40)
    write_timm_folder(str(snapshot), raw, "resnet18", MEAN, STD)
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("0" * 40)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    base = transfer.load_backbone("hf://timm/resnet18.test_in1k", input_shape=SHAPE)
    assert base.name == "hf_timm_resnet18.test_in1k" and base.arch == "hub_resnet18"
    with pytest.raises(transfer.WeightsUnavailableError, match="HF_HUB_OFFLINE is set.*HF_HUB_CACHE"):
        transfer.load_backbone("hf://timm/resnet34.a1_in1k")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(transfer.WeightsUnavailableError, match="no network is reachable.*local folder|folder"):
        transfer.load_backbone("hf://timm/resnet34.a1_in1k")


def test_preset_name_offline_names_the_kagglehub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path))
    monkeypatch.setenv("KAGGLE_API_ENDPOINT", "http://127.0.0.1:9")
    with pytest.raises(transfer.WeightsUnavailableError) as err:
        transfer.load_backbone("resnet_18_imagenet")
    message = str(err.value)
    assert "no network is reachable" in message and str(tmp_path / "models" / "keras" / "resnetv1") in message


def test_missing_keras_hub_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "keras_hub", None)  # import keras_hub now raises ImportError
    with pytest.raises(ImportError, match=r'pip install -e "\.\[hub\]"'):
        transfer.load_backbone("hub_resnet18", weights=None)
    assert hub.is_hub_source("resnet50") is False


def test_feature_cache_is_named_after_the_preset(tmp_path, built):
    raw, _ = built("hub_vgg16")
    folders = [write_timm_folder(str(tmp_path / f"vgg16.{tag}"), raw, "vgg16", MEAN, STD) for tag in ("a", "b")]
    first, second = (transfer.load_backbone(f, input_shape=SHAPE) for f in folders)
    features = transfer.extract_features(first, PIXELS, cache_dir=tmp_path / "cache")
    transfer.extract_features(second, PIXELS, cache_dir=tmp_path / "cache")
    names = sorted(os.listdir(tmp_path / "cache"))
    assert [n.split("-")[0] for n in names] == ["vgg16.a", "vgg16.b"]
    np.testing.assert_array_equal(np.load(tmp_path / "cache" / names[0]), features)


@pytest.mark.slow
def test_head_models_save_and_load_in_a_fresh_process(tmp_path):
    expected, stages = {}, dict(STAGES)
    sources = {name: small_variant(name) for name in STAGES}  # the same layer kinds to serialise, less to load
    # and a timm folder's backbone: its mean/std ("scale_offset" preprocessing) must survive too
    sources["timm_vgg16"] = write_timm_folder(str(tmp_path / "vgg16.tv_in1k"), small_variant("hub_vgg16"), "vgg16",
                                              MEAN, STD)
    stages["timm_vgg16"] = STAGES["hub_vgg16"]
    for name, source in sources.items():
        model = transfer.attach_head(transfer.load_backbone(source, input_shape=SHAPE, preprocessing="torch"
                                                            if name != "timm_vgg16" else "auto"), 3)
        path = tmp_path / f"{name}.keras"
        model.save(path)
        expected[name] = keras.ops.convert_to_numpy(model(PIXELS)).tolist()
    np.save(tmp_path / "pixels.npy", PIXELS)
    (tmp_path / "expected.json").write_text(json.dumps(expected))
    (tmp_path / "stages.json").write_text(json.dumps(stages))
    script = (
        "import json, sys, numpy as np, keras, keras_hub, transfer\n"
        "d = sys.argv[1]; x = np.load(d + '/pixels.npy'); worst = 0.0\n"
        "stages = json.load(open(d + '/stages.json'))\n"
        "for name, want in json.load(open(d + '/expected.json')).items():\n"
        "    model = keras.saving.load_model(f'{d}/{name}.keras')\n"
        "    base = transfer.find_backbone(model)[0]\n"
        "    assert [g for g, _ in base.groups] == stages[name], (name, base.groups)\n"
        "    assert name != 'timm_vgg16' or base.get_layer('preprocess').scale[0] == 1 / (255 * 0.2)\n"
        "    worst = max(worst, float(np.abs(np.asarray(model(x)) - np.array(want)).max()))\n"
        "print(worst)\n")
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert float(done.stdout.strip().splitlines()[-1]) < 1e-5


def test_fine_tune_takes_a_keras_hub_image_classifier(eager):
    raw = small_variant("hub_resnet18")
    converter = keras_hub.layers.ResNetImageConverter(image_size=SHAPE[:2], scale=1 / 255.0)
    preprocessor = keras_hub.models.ResNetImageClassifierPreprocessor(image_converter=converter)
    classifier = keras_hub.models.ImageClassifier(backbone=raw, num_classes=2, preprocessor=preprocessor)
    before = keras.ops.convert_to_numpy(classifier.get_layer("predictions").kernel).copy()
    stats = keras.ops.convert_to_numpy(raw.get_layer("stack3_block0_2_bn").moving_mean).copy()
    result = transfer.fine_tune(classifier, (PIXELS, LABELS), epochs=(1, 1), patience=None, batch_size=4,
                                verbose=0, learning_rate=(1e-2, 1e-2))
    assert result.phase_epochs == [1, 1]
    after = keras.ops.convert_to_numpy(classifier.get_layer("predictions").kernel)
    assert not np.array_equal(before, after)  # the classifier's own layers trained
    np.testing.assert_array_equal(stats, keras.ops.convert_to_numpy(raw.get_layer("stack3_block0_2_bn").moving_mean))
    model = hub.as_transfer_model(classifier)
    assert model.head_kind == "multiclass" and model.layers[-1].name == "probabilities"
    assert transfer.find_backbone(model)[0].get_layer("preprocess").scale == 1 / 255.0  # its converter


def test_records_and_listing():
    assert set(STAGES) <= set(zoo.list_configs("hub_*"))
    assert zoo.models.keras_hub.record_for(preset="mobilenet_v3_small_100_imagenet") == "hub_mobilenetv3_small_100"
    assert hub.is_hub_source("densenet_121_imagenet") and not hub.is_hub_source("densenet121")
    with pytest.raises(ValueError, match="weights='imagenet'.*or None"):
        transfer.load_backbone("resnet_18_imagenet", weights="/some/file.h5")
    one_conv_per_block = {**small_variant("hub_vgg16").get_config(), "stackwise_num_repeats": [1] * 5}
    with pytest.raises(ValueError, match="normalisation is unknown: pass preprocessing='torch'"):
        transfer.load_backbone(keras_hub.models.VGGBackbone.from_config(one_conv_per_block))  # matches no record


def test_cli_lists_keras_hub_records_and_presets():
    from transfer.cli import main

    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["backbones", "*resnet_18*"]) == 0
    lines = out.getvalue().splitlines()
    assert [line.split()[:2] for line in lines] == [["resnet_18_imagenet", "preset"]]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["backbones", "hub_vgg1*"]) == 0
    assert [line.split()[:3] for line in out.getvalue().splitlines()] == [
        ["hub_vgg16", "hub", "preprocessing=torch"], ["hub_vgg19", "hub", "preprocessing=torch"]]
