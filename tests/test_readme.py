"""README.md runs as written: its ```python blocks, in order, in one fresh process in a temporary folder.

What cannot be downloaded here has a stand-in, set up before the first block
(:data:`STAND_INS`): ImageNet weight files in Keras's published layout with
random weights (written where ``weights="imagenet"`` looks), CIFAR-10 as a
small archive in the real format handed over by the downloader, Dogs-vs-Cats
and facial-keypoint files in their real formats under ``~/data`` (``HOME`` is
the temporary folder), and the data a reader brings: ``train_ds``/``val_ds``
(crops of scikit-image's photographs, one batch), ``images``, ``x_all``/``y_all``;
``transfer.fine_tune`` runs one epoch per phase on it. A
block whose first line is ``# not run by tests: <why>`` is skipped (for
blocks that need a network, several machines or a GPU; use it sparingly).
A failing block is named by its line in README.md in the traceback.
"""

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OPT_OUT = "# not run by tests:"

STAND_INS = r'''
import io, os, sys, tarfile
sys.path.insert(0, os.path.join(ROOT, "tests"))
import h5py, keras, numpy as np, tensorflow as tf
from keras.src.legacy.saving import legacy_h5_format
from PIL import Image
from skimage import data as _photos
import transfer, zoo, zoo.weights
from datasets_fixtures import cifar_arrays, make_tar_gz, small_photos, write_cifar_python, write_petimages
from datasets import facial_keypoints as _fk

_APPS = {"resnet50": "ResNet50", "resnet101": "ResNet101", "vgg16": "VGG16", "vgg19": "VGG19"}

def _stand_in_weights(arch, include_top=True):
    """A file in Keras's published layout (legacy HDF5, by layer name), random weights, where fetch puts it."""
    path = zoo.weights.cached_file(arch, include_top)
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        model = getattr(keras.applications, _APPS[arch])(weights=None, include_top=include_top)
        with h5py.File(path, "w") as f:
            legacy_h5_format.save_weights_to_hdf5_group(f, model)
        keras.backend.clear_session()
    return path

zoo.weights.fetch = _stand_in_weights
_cifar = make_tar_gz(write_cifar_python("cifar_src", cifar_arrays()), "cifar-10-python.tar.gz")
keras.utils.get_file = lambda *args, **kwargs: os.path.abspath(_cifar)  # the CIFAR-10 download
_cat, _dog = small_photos(_photos.chelsea(), _photos.astronaut(), size=96)
write_petimages(os.path.expanduser("~/data"), _cat, _dog, n_each=4)
os.makedirs(os.path.expanduser("~/data/facial-keypoints"), exist_ok=True)
with open(os.path.expanduser("~/data/facial-keypoints/training.csv"), "w") as _f:
    _f.write(",".join(_fk.KEYPOINT_NAMES) + ",Image\n")
    for _i in range(4):
        _f.write(",".join(str(30 + 2 * _i + j % 7) for j in range(30)) + ","
                 + " ".join(str((_i * 7 + j) % 256) for j in range(96 * 96)) + "\n")
# One batch of four photographs per epoch: the README's ResNet-50 fine-tunes stay a few seconds each.
images = np.stack([np.asarray(Image.fromarray(p).resize((160, 160))) for p in (_cat, _dog) * 2]).astype("float32")
labels = np.arange(4) % 2
train_ds = tf.data.Dataset.from_tensor_slices((images, labels)).batch(4)
val_ds = tf.data.Dataset.from_tensor_slices((images[:2], labels[:2])).batch(2)
x_all, y_all = np.random.default_rng(0).uniform(0, 255, (8, 32, 32, 3)).astype("float32"), np.arange(8) % 10
# One epoch per phase: the stand-in data is one batch, so further epochs would repeat the same step and
# checkpoint; every argument the README passes is still given and checked.
_fine_tune = transfer.fine_tune
transfer.fine_tune = lambda *args, **kwargs: _fine_tune(*args, **{**kwargs, "epochs": (1, 1)})
for _name, _value in (("photos", 0), ("val/cat", 0), ("val/dog", 1)):
    os.makedirs(_name, exist_ok=True)
    for _i in range(2):
        Image.fromarray((_cat, _dog)[(_i + _value) % 2]).save(os.path.join(_name, f"{_i}.png"))
'''


def python_blocks(text):
    """``[(line, code)]`` of the ```python blocks of ``text`` (line: where the code starts), opted-out ones left out.

    Example:
        >>> python_blocks("a\\n```python\\nx = 1\\n```\\n```python\\n# not run by tests: needs X\\ny\\n```\\n")
        [(3, 'x = 1\\n')]
    """
    blocks = []
    for match in re.finditer(r"^```python\n(.*?)^```", text, re.M | re.S):
        code = match.group(1)
        if not code.lstrip().startswith(OPT_OUT):
            blocks.append((text[:match.start()].count("\n") + 2, code))
    return blocks


def script(blocks):
    """One program: the stand-ins, then each block compiled under its README line (tracebacks name it)."""
    parts = ["import ast", f"ROOT = {ROOT!r}", STAND_INS, "_ns = dict(globals())"]
    for line, code in blocks:
        parts.append(f"print('README.md line {line}', flush=True)\n"
                     f"exec(compile(ast.increment_lineno(ast.parse({code!r}), {line - 1}), 'README.md', 'exec'), _ns)")
    return "\n".join(parts)


def test_blocks_are_found_and_opt_outs_honoured():
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    blocks = python_blocks(text)
    assert len(blocks) >= 6 and all(text.splitlines()[line - 2] == "```python" for line, _ in blocks)
    opted = text.count("```python\n" + OPT_OUT)
    assert len(re.findall(r"^```python\n", text, re.M)) == len(blocks) + opted
    assert opted <= 3, "use the opt-out sparingly"


@pytest.mark.slow
def test_readme_python_blocks_run_in_order(tmp_path):
    with open(os.path.join(ROOT, "README.md")) as f:
        program = script(python_blocks(f.read()))
    with open(tmp_path / "readme_blocks.py", "w") as f:
        f.write(program)
    env = {**os.environ, "HOME": str(tmp_path), "KERAS_HOME": str(tmp_path / "keras"), "KERAS_BACKEND": "tensorflow",
           "TF_CPP_MIN_LOG_LEVEL": "3", "MPLBACKEND": "Agg",
           "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    progress = tmp_path / "progress.txt"
    with open(progress, "w") as out:
        try:
            proc = subprocess.run([sys.executable, "readme_blocks.py"], cwd=tmp_path, env=env, stdout=out,
                                  stderr=subprocess.PIPE, text=True, timeout=1800)
        except subprocess.TimeoutExpired:
            proc = None
    ran = re.findall(r"^README.md line (\d+)$", progress.read_text(), re.M)
    where = f"README.md line {ran[-1]}" if ran else "the stand-ins"
    assert proc is not None, f"timed out in the block at {where}"
    assert proc.returncode == 0, f"failed in the block at {where}:\n{proc.stderr[-4000:]}"
