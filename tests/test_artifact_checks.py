"""Exported artifacts checked before they run, and every runtime error naming the file (issue 27, finding 2).

The artifacts are the fuzz seeds (``tests/fuzz/seeds/artifact``): a small
model exported by ``transfer.export`` to ONNX and LiteRT. The hostile
variants that crashed LiteRT run in the fuzz child (``tests/fuzz/known_doors.py``),
since before the fix they killed the process.
"""

import os
import shutil

import pytest

import transfer
from transfer.cli import main as cli_main
from transfer.serving.artifact_checks import check_declared

pytest.importorskip("onnxruntime")
pytest.importorskip("ai_edge_litert")

SEED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fuzz", "seeds", "artifact")


@pytest.fixture
def seed(tmp_path):
    folder = tmp_path / "artifact"
    shutil.copytree(SEED, folder)
    return str(folder)


@pytest.mark.parametrize("name", ["model.onnx", "model.tflite"])
def test_a_runtime_error_in_predict_names_the_file(seed, name, monkeypatch, capsys):
    """LiteRT's RuntimeError and onnxruntime's Fail came out of predict_files raw, naming no file."""
    artifact = transfer.load_model(os.path.join(seed, name))

    def fail(batch):
        raise RuntimeError("tensorflow/lite/kernels/split.cc:92 NumDimensions(input) != 2")

    monkeypatch.setattr(artifact, "_run", fail)
    with pytest.raises(ValueError) as info:
        transfer.predict_files(artifact, [os.path.join(seed, "images")])
    assert os.path.join(seed, name) in str(info.value) and "RuntimeError: tensorflow/lite" in str(info.value)
    monkeypatch.setattr(type(artifact), "_run", fail)  # the command line loads its own artifact
    assert cli_main(["predict", os.path.join(seed, name), os.path.join(seed, "images")]) == 2
    assert os.path.join(seed, name) in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_a_special_file_as_the_artifact_is_refused(seed, kind):
    path = os.path.join(seed, "model.tflite")
    os.remove(path)
    os.mkfifo(path) if kind == "fifo" else os.mkdir(path)
    with pytest.raises(ValueError, match="not a regular file"):
        transfer.load_model(path)


@pytest.mark.parametrize("input_shape, output_shape, metadata, message", [
    ((None, 28, 28, 1, 1), (None, 5), None, "(N, height, width, channels)"),
    ((None, 28, 28, 2), (None, 5), None, "1 (grey) or 3 (RGB) channels"),
    ((None, 2**31 - 1, 28, 1), (None, 5), None, "at most 8192 pixels a side"),
    ((None, 28, 28, 1), (None,), None, "(N, units)"),
    ((None, 28, 28, 1), (None, 5, 1), None, "(N, units)"),
    ((None, 28, 28, 1), (None, 5), {"class_names": list("abcd")}, "5 outputs but carries 4 class names"),
    ((None, 28, 28, 1), (None, 5), {"head_kind": "binary"}, "has one sigmoid output, but the model has 5"),
    ((None, 28, 28, 1), (None, 1), {"head_kind": "multiclass"}, "one output per class"),
    ((None, 28, 28, 1), (None, 5), {"head_kind": "ordinal"}, "head kind must be one of"),
    ((None, 28, 28, 1), (None, 5), {"class_names": [1, 2, 3, 4, 5]}, "a list of strings"),
], ids=["rank 5", "2 channels", "height 2**31-1", "output rank 1", "output rank 3", "4 names for 5",
        "binary over 5", "multiclass over 1", "unknown kind", "names not strings"])
def test_declared_shapes_names_and_kind_are_checked(input_shape, output_shape, metadata, message):
    with pytest.raises(ValueError, match="^m.tflite: ") as info:
        check_declared("m.tflite", input_shape, output_shape, metadata)
    assert message in str(info.value)


def test_what_export_writes_passes():
    check_declared("m.onnx", (None, 16, 16, 1), (None, 3), {"class_names": ["a", "b", "c"], "head_kind": "multiclass",
                                                           "quantization": None})
    check_declared("m.tflite", (None, None, None, 3), (None, 1), {"class_names": ["cat", "dog"], "head_kind": "binary"})
