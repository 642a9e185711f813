"""Exported artifacts (SavedModel, ONNX, LiteRT float and int8) give the model's answers in their own runtimes (issue 18).

One small fine-tuned ResNet-20 head (with augmentation inside, which must be
inert in the artifact) is exported once per format; the sample images are
crops of scikit-image's real photographs written as PNG files.
"""

import json
import os
import sys
import zipfile

import keras
import numpy as np
import pytest
from PIL import Image

import datasets
import transfer
from transfer.serving import artifacts
from transfer.cli import main as cli_main
from transfer.serving.export_checks import labelled_images

NAMES = ["cat", "astronaut", "coffee"]
FORMATS = {"tf_saved_model": "model_sm", "onnx": "model.onnx", "litert": "model.tflite"}


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """``photos/<class>/<i>.png``: 5 crops of each of three real photographs."""
    from skimage import data

    root = tmp_path_factory.mktemp("photos")
    for name, image in zip(NAMES, (data.chelsea(), data.astronaut(), data.coffee())):
        (root / name).mkdir()
        h, w = image.shape[:2]
        for i in range(5):
            top, left = i * h // 10, (4 - i) * w // 10
            Image.fromarray(image[top:top + h // 2, left:left + w // 2]).save(root / name / f"{i}.png")
    return str(root)


@pytest.fixture(scope="module")
def trained(photos, tmp_path_factory):
    """``(model, .keras path)``: a ResNet-20 head with Augment inside whose output layer tells the photographs apart.

    The output layer is a linear probe (scikit-learn's ridge classifier) on the
    frozen random base's pooled features: learnt from the photographs in a
    second, where ``fit`` would take many epochs on 15 images.
    """
    from sklearn.linear_model import RidgeClassifier

    keras.utils.set_random_seed(0)
    model = transfer.attach_head(transfer.load_backbone("resnet20", weights=None), 3,
                                 augment=datasets.Augment(rotation_range=20, horizontal_flip=True))
    x, y = labelled_images(photos, NAMES, model.input_shape)
    features = keras.Model(model.input, model.get_layer("head_avg_pool").output).predict(x, verbose=0)
    probe = RidgeClassifier(alpha=1e-3).fit(features, y)
    model.get_layer("predictions").set_weights([2 * probe.coef_.T, 2 * probe.intercept_])  # ~0.9 for the top class
    path = transfer.save_model(model, tmp_path_factory.mktemp("keras") / "photos.keras", class_names=NAMES)
    return model, str(path)


@pytest.fixture(scope="module")
def exported(trained, photos, tmp_path_factory):
    """``{format: (path, report)}``: the .keras file exported once per format, checked on the photographs."""
    out = tmp_path_factory.mktemp("exported")
    return {fmt: (str(out / name), transfer.export(trained[1], out / name, format=fmt, samples=photos))
            for fmt, name in FORMATS.items()}


def _tiny(dtype=None, classes=2):
    keras.utils.set_random_seed(1)
    return transfer.attach_head(transfer.load_backbone("cnn_mnist", weights=None, input_shape=(12, 12, 3)),
                                classes, dtype=dtype)


def _metadata_by_the_runtime(fmt, path):
    """The metadata as each runtime's own API (or the zip convention for .tflite) reads it."""
    if fmt == "tf_saved_model":
        import tensorflow as tf

        return json.loads(tf.saved_model.load(path).transfer_metadata().numpy())
    if fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        return json.loads(session.get_modelmeta().custom_metadata_map["transfer_metadata"])
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("transfer.json"))


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_artifact_gives_the_keras_answers_in_its_runtime_with_the_names_inside(fmt, exported, trained,
                                                                                   photos):
    path, report = exported[fmt]
    # The augmentation inside the model would change the outputs if it ran: the artifact must skip it.
    assert report.max_abs_diff <= 1e-4 and report.tolerance == 1e-4 and report.images == 15
    assert report.size_bytes == (sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)
                                 if fmt == "tf_saved_model" else os.path.getsize(path))
    assert report.images_per_s_batch1 > 0 and report.images_per_s_batch32 > 0
    assert not [f for f in os.listdir(os.path.dirname(path)) if ".partial" in f or f.endswith(".json")]

    inside = _metadata_by_the_runtime(fmt, path)  # inside the artifact, read by the runtime's own API
    assert inside["class_names"] == NAMES and inside["head_kind"] == "multiclass"
    artifact = transfer.load_model(path)
    assert artifact.format == fmt and (artifact.class_names, artifact.head_kind) == (NAMES, "multiclass")
    assert artifact.input_shape == (None, 32, 32, 3) and artifact.output_shape == (None, 3)

    folders = [photos + "/cat", photos + "/coffee"]
    from_artifact, from_keras = transfer.predict_files(artifact, folders), transfer.predict_files(trained[0], folders)
    assert [f for f, _ in from_artifact] == [f for f, _ in from_keras] and len(from_keras) == 10
    by_path = transfer.predict_files(path, folders)  # the artifact's path works as well as the loaded artifact
    assert [(f, [c for c, _ in top]) for f, top in by_path] == [(f, [c for c, _ in top]) for f, top in from_artifact]
    for (_, got), (_, want) in zip(from_artifact, from_keras):
        assert [c for c, _ in got] == [c for c, _ in want]
        np.testing.assert_allclose([p for _, p in got], [p for _, p in want], atol=1e-4)
    # The model learnt the photographs: the names are not just the index order.
    assert [top[0][0] for _, top in from_keras] == ["cat"] * 5 + ["coffee"] * 5


@pytest.mark.slow
def test_command_line_export_then_predict_names_the_same_classes(trained, exported, photos, tmp_path, capsys):
    out = str(tmp_path / "cli.onnx")
    assert cli_main(["export", trained[1], out, "--format", "onnx", "--samples", photos]) == 0
    printed = capsys.readouterr().out
    assert "max |difference| from Keras" in printed and "class names ['cat', 'astronaut', 'coffee']" in printed
    answers = {}
    for model in [trained[1], out] + [path for path, _ in exported.values()]:
        assert cli_main(["predict", model, photos + "/astronaut", "--top", "1"]) == 0
        answers[model] = [line.split("  ")[1].split(":")[0] for line in capsys.readouterr().out.splitlines()]
    assert len(set(map(tuple, answers.values()))) == 1 and answers[out] == ["astronaut"] * 5


@pytest.mark.parametrize("fmt, name, runner", [("onnx", "m.onnx", artifacts.OnnxArtifact),
                                               ("tf_saved_model", "m_sm", artifacts.SavedModelArtifact)])
def test_a_failed_check_leaves_nothing_and_keeps_the_old_artifact(fmt, name, runner, tmp_path, monkeypatch):
    model, out = _tiny(), tmp_path / name
    transfer.export(model, out, format=fmt, speed=False)
    before = sorted(os.listdir(tmp_path))
    stamp = os.path.getmtime(out / "saved_model.pb" if fmt == "tf_saved_model" else out)
    real_run = runner._run
    monkeypatch.setattr(runner, "_run", lambda self, batch: real_run(self, batch) + 1e-3)  # a runtime that drifts
    with pytest.raises(transfer.ExportVerificationError, match=r"max \|difference\| from Keras 0\.001.*Nothing was"):
        transfer.export(model, out, format=fmt, speed=False)
    assert sorted(os.listdir(tmp_path)) == before  # no partial file or folder left
    assert os.path.getmtime(out / "saved_model.pb" if fmt == "tf_saved_model" else out) == stamp


@pytest.mark.slow
def test_int8_litert_is_smaller_and_agrees_with_the_float_model(trained, exported, photos, tmp_path):
    out = tmp_path / "model_int8.tflite"
    report = transfer.export(trained[1], out, format="litert", quantize="int8", calibration=photos,
                             validation=photos, speed=False)
    # The float file measured for the ratio is the same export without the metadata zip (a few hundred bytes).
    assert 0 < exported["litert"][1].size_bytes - report.float_size_bytes < 1000
    assert report.size_ratio <= 1 / 3 and report.size_bytes == os.path.getsize(out)
    assert report.top1_agreement >= 0.8 and report.agreement_images == 15 and report.tolerance is None
    artifact = transfer.load_model(out)
    assert artifact.quantization == "int8" and artifact.class_names == NAMES
    weights = [t for t in artifact.interpreter.get_tensor_details() if t["name"].endswith("kernel") or
               "conv" in t["name"].lower()]
    assert weights and any(t["dtype"] == np.int8 for t in weights)  # the convolutions really are int8
    x, y = labelled_images(photos, NAMES, (None, 32, 32, 3))
    assert report.validation_images == 15
    assert report.accuracy == pytest.approx(np.mean(np.argmax(artifact.predict(x), -1) == y))


def test_a_fine_tuned_mixed_precision_model_exports_float32_without_its_optimizer(tmp_path):
    model = _tiny(dtype="mixed_float16")
    # fine_tune's optimizer (one Adam per layer group) cannot be tracked by TensorFlow's exporters.
    model.compile(transfer.DiscriminativeOptimizer(keras.optimizers.Adam(1e-3), {"block2_*": 0.3}),
                  "sparse_categorical_crossentropy")
    model.fit(np.zeros((4, 12, 12, 3)), np.array([0, 1, 0, 1]), epochs=1, verbose=0)
    report = transfer.export(model, tmp_path / "m.onnx", format="onnx", speed=False)
    assert report.converted_from == "mixed_float16" and report.max_abs_diff <= 1e-4
    artifact = transfer.load_model(tmp_path / "m.onnx")
    assert [i.type for i in artifact.session.get_inputs() + artifact.session.get_outputs()] == ["tensor(float)"] * 2
    x = np.random.default_rng(0).uniform(0, 255, (4, 12, 12, 3)).astype("float32")
    np.testing.assert_allclose(artifact.predict(x), model.predict(x, verbose=0), atol=2e-2)  # float16's rounding


def test_a_binary_model_of_flexible_input_size_in_litert(tmp_path, photos):
    keras.utils.set_random_seed(2)
    model = transfer.attach_head(transfer.load_backbone("cnn_mnist", weights=None, input_shape=(None, None, 3)), 1)
    report = transfer.export(model, tmp_path / "m.tflite", format="litert", class_names=["no", "yes"], speed=False)
    artifact = transfer.load_model(tmp_path / "m.tflite")
    assert report.max_abs_diff <= 1e-4 and artifact.input_shape == (None, None, None, 3)
    for shape in [(2, 30, 30, 3), (2, 44, 36, 3), (1, 44, 36, 3)]:  # the interpreter is resized to each
        x = np.random.default_rng(0).uniform(0, 255, shape).astype("float32")
        np.testing.assert_allclose(artifact.predict(x), model.predict(x, verbose=0), atol=1e-4)
    got = transfer.predict_files(artifact, [photos + "/cat"], size=(40, 48))
    want = transfer.predict_files(model, [photos + "/cat"], class_names=["no", "yes"], size=(40, 48))
    assert [[c for c, _ in top] for _, top in got] == [[c for c, _ in top] for _, top in want]
    assert {c for _, top in got for c, _ in top} == {"no", "yes"}  # a binary head reports both classes


def test_bad_arguments_are_clear_errors(tmp_path, photos, exported):
    model = _tiny()
    cases = [({"out": tmp_path / "m.tflite", "format": "tflite"}, r"`format` must be one of .*Received: format='tflite'"),
             ({"out": tmp_path / "m.tflite", "format": "onnx"}, r"A onnx model is a \.onnx file. Received: out="),
             ({"out": tmp_path / "m.onnx", "format": "tf_saved_model"}, r"A SavedModel is a folder, not a \.onnx"),
             ({"out": tmp_path / "m.onnx", "format": "onnx", "quantize": "int8", "calibration": photos},
              r"int8 quantization is for LiteRT"),
             ({"out": tmp_path / "m.tflite", "format": "litert", "quantize": "int8"}, r"needs calibration images"),
             ({"out": tmp_path / "m.tflite", "format": "litert", "quantize": "int4"}, r"Received: quantize='int4'"),
             ({"out": photos, "format": "tf_saved_model"}, r"exists and is not a SavedModel folder; it is left alone")]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            transfer.export(model, **kwargs)
    with pytest.raises(ValueError, match=r"export takes a Keras model or a \.keras file.*Received: <LiteRTArtifact"):
        transfer.export(exported["litert"][0], tmp_path / "again.onnx", format="onnx")
    assert sorted(os.listdir(photos)) == sorted(NAMES) and not os.listdir(tmp_path)  # the photos were not touched
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="calibration folder has no image files"):
        transfer.export(model, tmp_path / "q.tflite", format="litert", quantize="int8", calibration=empty)
    assert os.listdir(tmp_path) == ["empty"]


def test_broken_artifacts_and_a_missing_runtime_are_named(tmp_path, exported, monkeypatch, capsys):
    for name in ("broken.onnx", "broken.tflite"):
        (tmp_path / name).write_bytes(b"not a model at all")
        with pytest.raises(ValueError, match=rf"Cannot load .*{name} as a"):
            transfer.load_model(tmp_path / name)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if the export extra were not installed
    with pytest.raises(ImportError, match=r'needs the `onnxruntime` package, from the export extra: pip install'):
        transfer.load_model(exported["onnx"][0])
    assert cli_main(["predict", exported["onnx"][0], str(tmp_path)]) == 2
    assert '.[export]' in capsys.readouterr().err


@pytest.mark.slow
def test_onnx_export_under_jax_works_or_says_what_to_do(run_jax):
    out = run_jax("""
        import json, os, tempfile
        import keras, numpy as np, transfer
        keras.utils.set_random_seed(1)
        model = transfer.attach_head(transfer.load_backbone("cnn_mnist", weights=None, input_shape=(12, 12, 3)), 2)
        folder = tempfile.mkdtemp()
        try:
            transfer.export(model, os.path.join(folder, "m.tflite"), format="litert")
        except ValueError as err:
            litert = str(err)
        try:
            report = transfer.export(model, os.path.join(folder, "m.onnx"), format="onnx", speed=False)
            result = {"diff": report.max_abs_diff}
        except ImportError as err:
            result = {"error": str(err)}
        print(json.dumps({**result, "backend": keras.backend.backend(), "litert": litert,
                          "left": os.listdir(folder)}))
    """)
    result = json.loads(out.splitlines()[-1])
    assert result["backend"] == "jax" and "KERAS_BACKEND=tensorflow" in result["litert"]
    if "diff" in result:  # jax2onnx is installed: the export works
        assert result["diff"] <= 1e-4 and result["left"] == ["m.onnx"]
    else:
        assert "pip install jax2onnx" in result["error"] and "KERAS_BACKEND=tensorflow" in result["error"]
        assert result["left"] == []


def test_the_command_line_keeps_litert_native_lines_off_stderr(trained, photos, tmp_path, capfd):
    """LiteRT's converter and XNNPACK delegate write INFO lines from C++; the commands drop them, keep ours."""
    out = str(tmp_path / "q.tflite")
    assert cli_main(["export", trained[1], out, "--format", "litert", "--quantize", "int8",
                     "--calibration", photos]) == 0
    assert cli_main(["predict", out, os.path.join(photos, "cat")]) == 0
    captured = capfd.readouterr()
    assert "XNNPACK" not in captured.err and "fully_quantize" not in captured.err, captured.err
    assert "int8" in captured.out and captured.out.count("cat: ") == 5, captured.out
