"""The command line: --help, the demo (quick), predict on the demo's own model and samples."""

import os
import re
import subprocess
import sys

import pytest

from transfer import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(*args, timeout=300):
    env = {**os.environ, "KERAS_BACKEND": "tensorflow",  # and TensorFlow's own log level: the command sets it
           "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return subprocess.run([sys.executable, "-m", "transfer", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_help_lists_commands():
    proc = _run("--help")
    assert proc.returncode == 0
    for word in ("demo", "predict", "backbones", "examples:"):
        assert word in proc.stdout


@pytest.mark.slow
def test_demo_quick_then_predict(tmp_path):
    out = tmp_path / "demo"
    proc = _run("demo", "--quick", "--output", str(out), timeout=900)  # a ceiling for busy machines, not a timing
    assert proc.returncode == 0, proc.stderr[-3000:]
    # one screen: no TensorFlow start-up line, no retracing warning (progress bars go to a terminal only)
    assert proc.stderr == "", proc.stderr[-3000:]
    # at a glance: one line per training run (the shipped 0-4 network, then three methods for the one seed)
    runs = re.findall(r"^(.+?)\s+seed (\d)\s+(\d+) epochs\s+(?:test|0-4) acc ([01]\.\d{3})\s+([\d.]+) s$",
                      proc.stdout, re.M)
    assert [r[0] for r in runs] == ["shipped 0-4 network", "from scratch", "frozen features + head",
                                    "fine-tuned (2 phases)"], proc.stdout
    assert all(1 <= int(r[2]) <= 30 for r in runs) and float(runs[0][3]) > 0.9, runs
    assert "Epoch " not in proc.stdout and len(proc.stdout.splitlines()) < 30, proc.stdout
    rows = {m: float(v) for m, v in re.findall(r"^(from scratch|frozen features \+ head|fine-tuned \(2 phases\))"
                                               r"\s+([01]\.\d+)", proc.stdout, re.M)}
    assert len(rows) == 3 and all(0.0 <= v <= 1.0 for v in rows.values()), proc.stdout
    # each run's line prints the figure the table uses (one seed: the same number), and no spread for one seed
    assert [f"{rows[r[0]]:.3f}" for r in runs[1:]] == [r[3] for r in runs[1:]], proc.stdout
    assert "± sd" not in proc.stdout, proc.stdout
    # digits at random places, 5 per class: the pretrained features must beat learning from scratch
    assert rows["frozen features + head"] > rows["from scratch"], proc.stdout
    assert rows["fine-tuned (2 phases)"] > max(rows["from scratch"], 0.3), proc.stdout  # chance: 0.2
    assert "20x20 canvas" in proc.stdout
    for name in ("test_accuracy_per_method.png", "pretrain_curves.png", "scratch_curves.png", "finetune_curves.png",
                 "digits5-9.keras", "resnet20_digits0-4.weights.h5"):
        assert os.path.getsize(out / name) > 0, name
    assert not os.path.exists(out / "digits5-9.classes.json")  # the class names travel inside the model
    assert str(out / "finetune_curves.png") in proc.stdout
    pred = _run("predict", str(out / "digits5-9.keras"), str(out / "samples"), "--top", "2")
    assert pred.returncode == 0, pred.stderr[-3000:]
    lines = pred.stdout.strip().splitlines()
    assert len(lines) == 5
    correct = 0
    for line in lines:
        digit = re.search(r"digit_(\d)\.png", line).group(1)
        top = re.findall(r"(\d): ([01]\.\d{3})", line)
        assert len(top) == 2 and float(top[0][1]) >= float(top[1][1])
        correct += top[0][0] == digit
    assert correct >= 2, pred.stdout  # of 5; chance: 1


def test_predict_reports_missing_file(tmp_path):
    proc = _run("predict", str(tmp_path / "none.keras"), str(tmp_path))
    assert proc.returncode == 2 and "error:" in proc.stderr
    assert _error_lines(proc) == 1, proc.stderr


def _error_lines(proc):
    """Lines of stderr that are ours (TensorFlow's C++ start-up lines are not)."""
    return sum(bool(re.match(r"(transfer( \w+)?: error:|usage:)", line)) for line in proc.stderr.splitlines())


def test_bad_arguments_are_one_line_and_status_2():
    proc = _run("demo", "--seeds", "0")
    assert proc.returncode == 2 and _error_lines(proc) == 1 and "Received: '0'" in proc.stderr, proc.stderr
    proc = _run("backbones", "no-such-net*")
    assert proc.returncode == 2 and _error_lines(proc) == 1 and "no-such-net" in proc.stderr, proc.stderr


def test_backbones_read_the_architecture_records():
    import zoo

    proc = _run("backbones", "*net*")
    assert proc.returncode == 0, proc.stderr[-2000:]
    listed = dict(re.findall(r"^(\S+)\s+(?:zoo|keras|hub)\s+preprocessing=(.+?)\s{2,}", proc.stdout, re.M))
    assert sorted(listed) == zoo.list_configs("*net*")
    for name in ("resnet50", "efficientnet_b0", "mobilenet_v2"):
        assert listed[name] == (zoo.get_config(name).preprocessing or "inside the model"), name


def test_an_unknown_backbone_points_to_the_command_that_lists_them():
    proc = _run("demo", "--backbone", "resnet2", "--quick")
    assert proc.returncode == 2 and _error_lines(proc) == 1, proc.stderr
    assert "Did you mean" in proc.stderr and "`transfer backbones` lists the" in proc.stderr, proc.stderr


def test_backbone_columns_line_up(capsys):
    assert cli.main(["backbones", "*net*"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) > 5 and len({line.index(" preprocessing=") for line in lines}) == 1, lines
    assert all("preprocessing=" in line and line.split()[-1] != "preprocessing=" for line in lines), lines


def test_help_examples_have_no_stray_spaces():
    lines = cli.EPILOG.splitlines()
    assert any(line.endswith("--quantize int8 \\") for line in lines), lines  # a shell continuation
    assert not any("   --" in line.strip() for line in lines), lines


@pytest.mark.parametrize("argv, pretrain_here", [([], None), (["--pretrain"], True)])
def test_demo_pretrains_here_only_when_asked(monkeypatch, tmp_path, argv, pretrain_here):
    asked = {}

    class Asked(Exception):
        pass

    def stop(*args, **kwargs):
        asked.update(kwargs)
        raise Asked  # no training here

    monkeypatch.setattr(cli.demo_lib, "run", stop)
    with pytest.raises(Asked):
        cli.main(["demo", "--quiet", "--output", str(tmp_path), *argv])
    assert asked["pretrain_here"] is pretrain_here, asked
