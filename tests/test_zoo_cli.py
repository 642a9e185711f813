"""The zoo command line: model cards, the Markdown model table, one-line errors; figures checked live."""

import os
import re
import subprocess
import sys

import keras
import pytest

import zoo
from zoo import cli
from zoo.inspection import si_units


def _card(capsys, name):
    assert cli.main(["card", name]) == 0
    out = capsys.readouterr().out
    return dict(re.findall(r"^(\w[\w -]*?)\s{2,}(.+)$", out, re.M))


def test_card_of_a_zoo_model_shows_its_measured_figures(capsys):
    card = _card(capsys, "resnet20")
    report, config = zoo.summary(zoo.create_model("resnet20")), zoo.get_config("resnet20")
    assert card["parameters"].startswith(f"{report.total_params:,} ")
    assert card["multiply-adds"].startswith(si_units(report.macs) + " ")
    assert report.activations > 0 and card["activations"].startswith(si_units(report.activations) + " ")
    assert card["default input"] == "32x32x3" and card["minimum input"] == f"{config.min_size}x{config.min_size}"
    assert card["receptive field"].startswith(f"{report.receptive_field} px")
    assert card["preprocessing"] == config.preprocessing
    assert card["weights"] == "none published"


def test_card_names_published_weights_and_keras_models(capsys):
    card = _card(capsys, "ResNet50")  # spelling-insensitive, as zoo.get_config
    assert card["weights"] == "imagenet" and card["preprocessing"] == "caffe"
    assert card["parameters"].startswith("25,636,712 ")
    card = _card(capsys, "efficientnet_b0")  # built by keras.applications, without weights
    model = keras.applications.EfficientNetB0(weights=None)
    assert card["parameters"].startswith(f"{model.count_params():,} ")
    assert card["activations"].startswith("6.75M ")  # timm's card of efficientnet_b0: 6.7 M
    assert card["preprocessing"] == "inside the model" and card["weights"].startswith("imagenet")


def test_list_markdown_is_the_registry_measured(capsys):
    assert cli.main(["list", "*mnist*", "--markdown"]) == 0
    out = capsys.readouterr().out
    rows = re.findall(r"^\| `(\w+)` \| (.*) \|$", out, re.M)
    assert [name for name, _ in rows] == zoo.list_models("*mnist*")
    for name, cells in rows:
        params, macs, activations, shape, *_ = cells.split(" | ")
        report = zoo.summary(zoo.create_model(name))
        assert (params, macs, activations) == (f"{report.total_params:,}", si_units(report.macs),
                                               si_units(report.activations)), name
        assert shape == "x".join(map(str, zoo.get_config(name).input_shape))
    assert out.splitlines()[1].startswith("| --- | ---: | ---: |")  # a Markdown table, numbers right-aligned
    assert f"{len(rows)} models." in out


def test_errors_are_one_line_with_status_2(capsys):
    assert cli.main(["card", "resnet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("zoo: error: Unknown model 'resnet'"), err
    n_zoo, n_all = len(zoo.list_models()), len(zoo.list_configs())  # the counts of the commands that list them
    assert f"`zoo list` shows the zoo's {n_zoo} models; `transfer backbones` lists all {n_all} names" in err[0]
    with pytest.raises(SystemExit) as stop:
        cli.main(["summary", "resnet20", "--input-shape", "32,32"])
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(err) == 1 and "Received: '32,32'" in err[0], err
    assert cli.main(["list", "nothing*"]) == 2
    assert "pattern='nothing*'" in capsys.readouterr().err


def test_python_dash_m_zoo_runs_the_same_main():
    proc = subprocess.run([sys.executable, "-m", "zoo", "--help"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "card" in proc.stdout and "examples:" in proc.stdout


def test_commands_print_no_tensorflow_start_up_lines():
    """TensorFlow writes absl/CUDA/CPU-feature lines while it is imported, some whatever TF_CPP_MIN_LOG_LEVEL says."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["KERAS_BACKEND"] = "tensorflow"
    proc = subprocess.run([sys.executable, "-m", "zoo", "list", "lenet*"], capture_output=True, text=True,
                          timeout=300, env=env)
    assert proc.returncode == 0 and "lenet5" in proc.stdout
    assert proc.stderr == "", proc.stderr
    plain = subprocess.run([sys.executable, "-c", "import zoo"], capture_output=True, text=True, timeout=300, env=env)
    assert plain.returncode == 0  # a script or notebook keeps TensorFlow's own lines (they matter on a GPU)
