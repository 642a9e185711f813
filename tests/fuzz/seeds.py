"""Seed inputs of every fuzz target, written in the exact real formats (small, deterministic).

``python -m tests.fuzz.seeds`` (from the repository root) rewrites ``tests/fuzz/seeds/``:

* ``cifar_batch/cifar-10-batches-py/``: six Python 2 pickles as CIFAR's own (2 rows each, cPickle
  protocol 2 with ``str`` opcodes and ``numpy.core.multiarray._reconstruct``), plus ``batches.meta``;
* ``cifar_archive/cifar-10-python.tar.gz``: the same folder as the real tar.gz;
* ``keypoints_csv/training.csv`` and ``keypoints_zip/training.zip``: Kaggle's header (30 keypoint
  columns, ``Image``), 3 rows of real digits scaled to 96x96, one row with missing keypoints;
* ``dogs_folder/PetImages/{Cat,Dog}/``: JPEG, PNG, GIF and BMP files of scikit-image's photographs;
* ``dogs_zip/train.zip``: Kaggle's ``train/cat.N.jpg`` / ``train/dog.N.jpg``;
* ``keras_file/model.keras`` (+ ``model.classes.json``): a small model saved by ``transfer.save_model``;
* ``predict_image/images/``: PNG, JPEG, GIF and BMP files for ``transfer.predict_files``;
* ``checkpoint/run/``: the folder of a ``transfer.fine_tune`` run interrupted after its second epoch
  (``state.json`` and ``resume-0004.npz``);
* ``timm_folder/mobilenetv3_small_050.seed/``: a timm checkpoint (``config.json``,
  ``model.safetensors.index.json``, ``model.safetensors`` in float16) written by keras-hub's converter table;
* ``artifact/``: the tiny model exported by ``transfer.export`` as ``model.onnx`` and ``model.tflite``, and
  ``images/0.png`` to classify with them.

``python -m tests.fuzz.seeds timm_folder artifact`` rewrites only the seeds named.
"""

import io
import os
import sys
import tarfile
import zipfile

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
SEEDS = os.path.join(HERE, "seeds")
ROOT = os.path.dirname(os.path.dirname(HERE))


def _photos(size):
    from skimage import data

    return [np.asarray(Image.fromarray(p).resize((size, size))) for p in (data.chelsea(), data.astronaut())]


def _encode(array, fmt, **kw):
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, fmt, **kw)
    return buf.getvalue()


def _write(path, raw):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(raw)


def cifar(out):
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    from datasets_fixtures import cifar_arrays, make_tar_gz, write_cifar_python

    folder = write_cifar_python(os.path.join(out, "cifar_batch"), cifar_arrays(n_per_batch=2))
    os.makedirs(os.path.join(out, "cifar_archive"), exist_ok=True)
    make_tar_gz(folder, os.path.join(out, "cifar_archive", "cifar-10-python.tar.gz"))


def keypoints(out):
    from sklearn.datasets import load_digits

    from datasets.facial_keypoints import KEYPOINT_NAMES

    digits = load_digits().images[:3]
    rows = [",".join(KEYPOINT_NAMES) + ",Image"]
    rng = np.random.default_rng(0)
    for i, digit in enumerate(digits):
        face = np.asarray(Image.fromarray((digit * 16).astype(np.uint8)).resize((96, 96)))
        points = [f"{v:.4f}" for v in rng.uniform(10, 86, 30)]
        if i == 2:
            points[4:8] = [""] * 4  # Kaggle's missing values
        rows.append(",".join(points) + "," + " ".join(str(int(v)) for v in face.ravel()))
    text = "\n".join(rows) + "\n"
    _write(os.path.join(out, "keypoints_csv", "training.csv"), text.encode())
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("training.csv", text)
    _write(os.path.join(out, "keypoints_zip", "training.zip"), buf.getvalue())


def images(out):
    cat, person = _photos(24)
    forms = [("JPEG", ".jpg", {"quality": 85}), ("PNG", ".png", {}), ("GIF", ".gif", {}), ("BMP", ".bmp", {})]
    for label, photo in (("Cat", cat), ("Dog", person)):
        for i, (fmt, ext, kw) in enumerate(forms):
            _write(os.path.join(out, "dogs_folder", "PetImages", label, f"{i}{ext}"),
                   _encode(np.roll(photo, 2 * i, axis=1), fmt, **kw))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(2):
            zf.writestr(f"train/cat.{i}.jpg", _encode(np.roll(cat, 3 * i, axis=0), "JPEG", quality=85))
            zf.writestr(f"train/dog.{i}.jpg", _encode(np.roll(person, 3 * i, axis=0), "JPEG", quality=85))
    _write(os.path.join(out, "dogs_zip", "train.zip"), buf.getvalue())
    gray = [np.asarray(Image.fromarray(p).convert("L")) for p in (cat, person)]
    for i, (fmt, ext, kw) in enumerate(forms):
        _write(os.path.join(out, "predict_image", "images", f"{i}{ext}"), _encode(gray[i % 2], fmt, **kw))


def tiny_model(flexible=False):
    """The small model every model target uses: cnn_mnist's layers on 16x16 grey images, 3 classes."""
    import keras

    import transfer

    keras.utils.set_random_seed(0)
    shape = (None, None, 1) if flexible else (16, 16, 1)
    base = transfer.load_backbone("cnn_mnist", weights=None, input_shape=shape)
    return transfer.attach_head(base, 3, hidden=(8,), pooling="avg")


def digits_data():
    from datasets import digits

    x, y = digits.load_small(16, channel=True)
    return (x[:48], y[:48] % 3), (x[48:80], y[48:80] % 3)


def fine_tune_options(folder, **kw):
    # carry_best=False: the stored seed and corpus runs were saved before the setting existed (they did not
    # carry), and a resume refuses a run saved with other settings.
    return dict(epochs=(2, 2), learning_rate=(1e-3, 1e-3), patience=2, carry_best=False, verbose=0,
                checkpoint_dir=folder, jit_compile=False, batch_size=16, **kw)


def models(out):
    import transfer

    os.makedirs(os.path.join(out, "keras_file"), exist_ok=True)
    transfer.save_model(tiny_model(), os.path.join(out, "keras_file", "model.keras"), ["a", "b", "c"])
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    from interrupting import Interrupt, StopAt

    folder = os.path.join(out, "checkpoint", "run")
    train, val = digits_data()
    try:  # dies as phase 2's first epoch begins: optimizer and EarlyStopping state are in the save
        transfer.fine_tune(tiny_model(), train, val, callbacks=[StopAt(3)], **fine_tune_options(folder))
    except Interrupt:
        pass
    os.remove(os.path.join(folder, "best.keras"))  # a resume does not read it; the seeds stay small


def timm_folder(out):
    """The smallest architecture keras-hub's timm converters build (0.28 M weights), in float16 (0.6 MB)."""
    import json

    from keras_hub.src.utils.timm.preset_loader import TimmPresetLoader  # keras-hub's converter table
    from safetensors.numpy import save_file

    sys.path.insert(0, os.path.join(ROOT, "tests"))
    from hub_fixtures import write_timm_folder

    arch = "mobilenetv3_small_050"
    converter = TimmPresetLoader("", {"architecture": arch}).converter
    raw = converter.backbone_cls(**converter.convert_backbone_config({"architecture": arch}))
    folder = write_timm_folder(os.path.join(out, "timm_folder", f"{arch}.seed"), raw, arch,
                               (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), input_size=32)
    from safetensors.numpy import load_file

    tensors = {k: v.astype(np.float16) for k, v in load_file(os.path.join(folder, "model.safetensors")).items()}
    save_file(tensors, os.path.join(folder, "model.safetensors"))
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": 2 * sum(v.size for v in tensors.values())},
                   "weight_map": {k: "model.safetensors" for k in sorted(tensors)}}, f)


def artifact(out):
    """The tiny model exported to ONNX and LiteRT by ``transfer.export``, and one image to classify."""
    import transfer

    folder = os.path.join(out, "artifact")
    os.makedirs(os.path.join(folder, "images"), exist_ok=True)
    keras_path = transfer.save_model(tiny_model(), os.path.join(folder, "tiny.keras"), ["a", "b", "c"])
    gray = np.asarray(Image.fromarray(_photos(16)[0]).convert("L"))
    _write(os.path.join(folder, "images", "0.png"), _encode(gray, "PNG"))
    for name, fmt in (("model.onnx", "onnx"), ("model.tflite", "litert")):
        transfer.export(keras_path, os.path.join(folder, name), format=fmt, speed=False)
    os.remove(keras_path)


WRITERS = {"cifar": cifar, "keypoints": keypoints, "images": images, "models": models,
           "timm_folder": timm_folder, "artifact": artifact}


def main(names=None):
    os.chdir(ROOT)
    for name in names or WRITERS:
        WRITERS[name](SEEDS)


if __name__ == "__main__":
    main(sys.argv[1:])
