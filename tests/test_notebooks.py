"""The tutorial notebooks run top to bottom in quick mode, in a fresh kernel, and show what they teach.

Each notebook writes its figures and a ``results.json`` under ``$ZOO_OUTPUT_DIR/<notebook name>/``
(``zoo.notebook.setup``); the checks below read that file. ``DATA_DIR`` and ``ZOO_DOWNLOAD`` are removed
from the kernel's environment so the tests always use the offline stand-ins. A notebook that passes is
written with its outputs to ``docs/_executed/``, where the documentation build renders it instead of
executing it a second time.
"""

import json
import math
import os
import pathlib

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
EXECUTED = ROOT / "docs" / "_executed"  # read by docs/_ext/zoo_pages.py


def _execute(path, out_dir):
    nb = nbformat.read(path, as_version=4)
    env = {k: v for k, v in os.environ.items() if k not in ("DATA_DIR", "ZOO_DOWNLOAD", "MPLBACKEND")}
    env.update(ZOO_QUICK="1", TF_CPP_MIN_LOG_LEVEL="3", ZOO_OUTPUT_DIR=str(out_dir), KERAS_BACKEND="tensorflow",
               PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]))
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(out_dir)}})
    client.execute(env=env)
    return nb


def _outputs(nb):
    return [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]


def _text(nb):
    parts = []
    for o in _outputs(nb):
        if o.get("output_type") == "stream":
            parts.append(o["text"])
        elif "text/plain" in o.get("data", {}):
            parts.append(o["data"]["text/plain"])
    return "\n".join(parts)


def _check_01(results, text):
    for count in ("407,050", "61,482", "129,130"):
        assert count in text
    assert (results["dense_mnist"], results["cnn_mnist_sequential"], results["cnn_mnist_skip"]) == (407050, 61482, 129130)
    assert results["vgg16_params"] == 138357544 and results["resnet50_params"] == 25636712
    assert results["vgg16_gflops"] == pytest.approx(30.9, abs=0.2)
    assert results["resnet50_gflops"] == pytest.approx(7.7, abs=0.1)


def _check_02(results, text):
    for key in ("baseline_test_accuracy", "large_test_accuracy"):
        assert 0.3 < results[key] <= 1.0  # well above chance (0.1) even in quick mode
    assert "0.57 -> 0.67" in text


def _check_03(results, text):
    assert "kept 80" in text and "skipped 0" in text  # the stand-in written in Kaggle's layout
    for key in ("cnn_val_accuracy", "cnn_augmented_val_accuracy", "vgg16_features_val_accuracy",
                "vgg16_finetuned_val_accuracy"):
        assert 0.0 <= results[key] <= 1.0


def _check_04(results, text):
    assert results["params_20"] == 271098
    assert set(results["final"]) == {"plain8", "resnet8", "plain14", "resnet14"}
    assert all(0.0 <= v["train_error"] <= 1.0 for v in results["final"].values())


def _check_05(results, text):
    assert results["flip_matches_manual_swap"] is True
    rmse = [v for k, v in results.items() if k.startswith("rmse_px_")]
    assert len(rmse) == 3 and all(math.isfinite(v) and 0 < v < 48 for v in rmse)


def _check_06(results, text):
    assert results["bn_moving_mean_change_train_bn_False"] == 0.0
    assert results["bn_moving_mean_change_train_bn_True"] > 0.0
    assert results["pretrain_val_accuracy"] > 0.5 and results["features_test_accuracy"] > 0.5


def _check_07(results, text):
    assert results["digits_test_accuracy"] > 0.5
    assert results["gradcam_hit_rate"] > 0.3  # a random point lands on the cat patch ~25% of the time


def _check_08(results, text):
    assert results["max_abs_error"] < 1e-9
    assert "largest error over all checks" in text


def _check_09(results, text):
    assert results["backbone_parameters"] > 3_000_000  # EfficientNet-Lite0's real ImageNet weights
    assert results["lr_suggestion"] is None or 1e-7 <= results["lr_suggestion"] <= 10
    for key in ("frozen_features_test_accuracy", "fine_tuned_test_accuracy", "test_accuracy_tta_flip"):
        assert 0.6 < results[key] <= 1.0, (key, results[key])  # faces against other patches: chance is 0.5
    assert "suggestion=" in text


CHECKS = {"01": _check_01, "02": _check_02, "03": _check_03, "04": _check_04,
          "05": _check_05, "06": _check_06, "07": _check_07, "08": _check_08, "09": _check_09}


def test_all_notebooks_are_covered():
    assert sorted(p.name[:2] for p in NOTEBOOKS) == sorted(CHECKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_committed_clean(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "commit notebooks with cleared outputs"
    assert not any(line.startswith("class ") for c in code for line in c.source.splitlines()), \
        "notebooks import their classes from zoo/transfer/datasets"
    assert nb.cells[0].cell_type == "markdown"
    first = code[0].source
    assert f'setup("{path.stem}")' in first and len(first.splitlines()) <= 6, \
        "the first cell only finds the packages and calls zoo.notebook.setup"
    assert "RESULTS.save()" in code[-1].source


def _keep_for_docs(nb, path):
    """Write the executed notebook where the documentation build finds it (atomically: workers run in parallel)."""
    from zoo.files import atomic_path

    with atomic_path(EXECUTED / path.name, ".ipynb") as part:
        nbformat.write(nb, part)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_in_quick_mode(path, tmp_path):
    nb = _execute(path, tmp_path)
    out = tmp_path / path.stem
    results = json.loads((out / "results.json").read_text())
    pngs = [p for p in out.glob("*.png") if p.stat().st_size > 2000]
    assert pngs, f"{path.name} saved no figures in {out}"
    assert any("image/png" in o.get("data", {}) for o in _outputs(nb)), f"{path.name} showed no figure"
    CHECKS[path.name[:2]](results, _text(nb))
    _keep_for_docs(nb, path)
