"""Preset and timm folders checked before keras-hub reads them: :func:`check_preset_folder`.

A preset folder is a file someone else made. keras-hub reads it trustingly:
``config.json`` values of the wrong type fail deep inside it, a damaged
``model.safetensors`` raises ``SafetensorError`` naming no file, an index may
name ``../../etc/passwd``, and a tensor missing from the file is replaced by
another whose name ends the same way (its ``get_prefixed_key`` suffix match).
Here every file is read once, bounded, and every value checked:

- ``config.json``: a regular UTF-8 file of at most 1 MiB, nested at most 32
  deep; a timm config names a supported ``architecture`` (a string keras-hub's
  converters build) and a ``pretrained_cfg`` with ``mean`` and ``std`` (three
  finite numbers each, std > 0), ``input_size`` (3 sizes in range) and
  ``interpolation``. A missing normalisation is an error: timm writes it, and
  guessing ImageNet's would feed the network wrongly scaled pixels silently.
- ``model.safetensors.index.json``: its ``weight_map`` maps tensor names to
  plain file names of this folder (no path, no link out of it; a Hugging Face
  cache snapshot's links into its own ``blobs/`` are followed).
- each safetensors file: its header read by the ``safetensors`` library
  (``safe_open``), any of its errors one ``ValueError`` naming the file.
- every tensor keras-hub's timm converter will read (found by running that
  converter with a recorder in place of its loader) is present under exactly
  its name, float, with the shape its Keras variable takes, before anything
  is assigned.

Example:
    >>> os.makedirs("bad_preset")
    >>> _ = open("bad_preset/config.json", "w").write('{"architecture": 18}')
    >>> check_preset_folder("bad_preset")
    Traceback (most recent call last):
    ...
    ValueError: bad_preset/config.json: `architecture` must be a timm architecture name (a string). Received: 18
"""

import contextlib
import functools
import io
import math
import os

import numpy as np

from zoo.files import check_regular_file, read_json

MAX_CONFIG_BYTES = 1 << 20  # timm's config.json is about 1 KB, keras-hub's a few KB
MAX_INDEX_BYTES = 64 << 20  # an index lists every tensor: a few MB for the largest models
MAX_SAFETENSORS_BYTES = 64 << 30  # one shard; the Hugging Face hub splits at 5-10 GB
MAX_DEPTH = 32
MAX_IMAGE_SIDE = 8192
MAX_CLASSES = 1 << 20
FLOAT_DTYPES = ("F16", "F32", "F64")  # what the converters' numpy hooks and Keras variables take
INDEX_FILE = "model.safetensors.index.json"
KERAS_PRESET_FILES = ("model.weights.h5", "preprocessor.json", "image_converter.json", "metadata.json", "task.json",
                      "task.weights.h5", "tokenizer.json")  # what keras-hub's KerasPresetLoader may open
WEIGHTS_FILE = "model.safetensors"


def _fail(path, message, received):
    raise ValueError(f"{path}: {message}. Received: {received!r:.200}")


def _is_number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _check_normalisation(path, cfg):
    """``pretrained_cfg``: mean, std, input_size and interpolation, each of the type and range keras-hub needs."""
    if not isinstance(cfg, dict):
        _fail(path, "a timm config needs `pretrained_cfg` (a dict with mean, std, input_size and interpolation): "
                    "without it the pixels' normalisation is unknown", cfg)
    for key in ("mean", "std", "input_size", "interpolation"):
        if key not in cfg:
            _fail(path, f"`pretrained_cfg` lacks `{key}`; timm writes mean, std, input_size and interpolation, and "
                        "the normalisation is never guessed (add them to config.json)", sorted(cfg))
    for key in ("mean", "std"):
        value = cfg[key]
        if not (isinstance(value, list) and len(value) == 3 and all(_is_number(v) for v in value)):
            _fail(path, f"`pretrained_cfg.{key}` must be three finite numbers (one per RGB channel)", value)
        if key == "std" and not all(v > 0 for v in value):
            _fail(path, "`pretrained_cfg.std` must be positive (pixels are divided by it)", value)
    size = cfg["input_size"]
    if not (isinstance(size, list) and len(size) == 3 and all(isinstance(v, int) and not isinstance(v, bool)
                                                               for v in size)
            and size[0] in (1, 3) and all(1 <= v <= MAX_IMAGE_SIDE for v in size[1:])):
        _fail(path, f"`pretrained_cfg.input_size` must be [channels (1 or 3), height, width] with sides of "
                    f"1 to {MAX_IMAGE_SIDE}", size)
    if not isinstance(cfg["interpolation"], str):
        _fail(path, "`pretrained_cfg.interpolation` must be a string (e.g. 'bicubic')", cfg["interpolation"])


def _converter(path, architecture):
    """keras-hub's converter module for ``architecture``; a ValueError naming the file if it has none."""
    from keras_hub.src.utils.timm.preset_loader import TimmPresetLoader  # keras-hub's table of timm converters

    try:
        converter = TimmPresetLoader(os.path.dirname(path), {"architecture": architecture}).converter
        converter.convert_backbone_config({"architecture": architecture})
    except ValueError as err:
        _fail(path, f"keras-hub cannot build this `architecture` ({err})", architecture)
    return converter


def check_timm_config(path, config):
    """Check a timm ``config.json`` (already parsed); return keras-hub's converter module for it.

    Example:
        >>> check_timm_config("config.json", {"architecture": "resnet18", "pretrained_cfg": {"mean": [0.5] * 3}})
        Traceback (most recent call last):
        ...
        ValueError: config.json: `pretrained_cfg` lacks `std`; timm writes mean, std, input_size and interpolation, ...
    """
    architecture = config["architecture"]
    if not isinstance(architecture, str) or not 0 < len(architecture) <= 200:
        _fail(path, "`architecture` must be a timm architecture name (a string)", architecture)
    for key in ("num_classes", "num_features"):
        value = config.get(key, 1)
        if not (isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_CLASSES):
            _fail(path, f"`{key}` must be an integer from 0 to {MAX_CLASSES}", value)
    _check_normalisation(path, config.get("pretrained_cfg"))
    return _converter(path, architecture)


def _allowed_roots(folder):
    """Where a file of ``folder`` may really live: the folder, and a Hugging Face snapshot's own ``blobs/``."""
    real = os.path.realpath(folder)
    roots = [real]
    parent = os.path.dirname(real)
    if os.path.basename(parent) == "snapshots":  # models--org--name/snapshots/<rev>/x -> ../../blobs/<hash>
        roots.append(os.path.join(os.path.dirname(parent), "blobs"))
    return roots


def _inside(folder, name, what):
    """The path of file ``name`` of ``folder``: a plain name whose real path stays in the folder."""
    if not isinstance(name, str) or name in ("", ".", "..") or "/" in name or "\\" in name or "\x00" in name:
        raise ValueError(f"{what} names {name!r:.200} as a file; only plain file names of {folder} are read "
                         "(no path may leave the folder).")
    path = os.path.join(folder, name)
    real = os.path.realpath(path)
    if not any(os.path.commonpath([real, root]) == root for root in _allowed_roots(folder)):
        raise ValueError(f"{path} is a link to {real}, outside {folder}; a preset folder's files are read only "
                         "from inside it.")
    return path


def _weight_files(folder):
    """``{file name: path}`` of the safetensors files keras-hub will open, and the weight map (None: one file)."""
    index = os.path.join(folder, INDEX_FILE)
    if not os.path.lexists(index):
        return ({WEIGHTS_FILE: _inside(folder, WEIGHTS_FILE, folder)}
                if os.path.lexists(os.path.join(folder, WEIGHTS_FILE)) else {}), None
    index = _inside(folder, INDEX_FILE, folder)
    data = read_json(index, MAX_INDEX_BYTES, "a safetensors index", MAX_DEPTH)
    weight_map = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(weight_map, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                   for k, v in weight_map.items()):
        _fail(index, "an index is a JSON object whose `weight_map` maps tensor names to file names",
              type(weight_map).__name__ if not isinstance(weight_map, dict) else list(weight_map)[:5])
    files = {name: _inside(folder, name, f"{index}, weight_map") for name in set(weight_map.values())}
    return files, weight_map


def read_headers(path):
    """``{tensor name: (dtype, shape)}`` of a safetensors file, read by the library; errors name the file.

    Example:
        >>> _ = open("bad.safetensors", "wb").write(b"\\xff" * 16)
        >>> read_headers("bad.safetensors")
        Traceback (most recent call last):
        ...
        ValueError: bad.safetensors is not a readable safetensors file (SafetensorError: ...
    """
    import safetensors  # the optional hub extra: only a preset folder with weights needs it

    check_regular_file(path, MAX_SAFETENSORS_BYTES, "a safetensors file")
    try:
        with safetensors.safe_open(path, framework="np") as f:
            headers = {}
            for key in f.keys():
                piece = f.get_slice(key)
                headers[key] = (piece.get_dtype(), tuple(piece.get_shape()))
            return headers
    except Exception as err:  # noqa: BLE001  (SafetensorError, and the library's other exceptions for a bad file)
        raise ValueError(f"{path} is not a readable safetensors file ({type(err).__name__}: "
                         f"{str(err).splitlines()[0][:200] if str(err) else ''}).") from None


@functools.lru_cache(maxsize=4)
def _blank_backbone(converter, architecture, tag):
    """keras-hub's backbone for ``architecture``, built once without weights: its variables give the shapes."""
    config = {"architecture": architecture, "pretrained_cfg": {"tag": tag}}
    return converter.backbone_cls(**converter.convert_backbone_config(config))


class _Checker:
    """Stands in for keras-hub's ``SafetensorLoader`` while its converter runs: reads no tensor, assigns nothing.

    Each tensor the converter asks for is looked up under exactly its name
    (the loader's suffix match would take another tensor whose name ends the
    same way) and its header's dtype and shape compared with the variable's.
    """

    def __init__(self, headers):
        self.headers = headers
        self.missing, self.wrong = [], []

    def get_tensor(self, key):  # the converters' probe for optional tensors; a zero-strided stand-in
        if key not in self.headers:
            raise KeyError(key)
        return np.broadcast_to(np.float32(0), self.headers[key][1])

    def port_weight(self, keras_variable, hf_weight_key, hook_fn=None):
        want = tuple(keras_variable.shape)
        if hf_weight_key not in self.headers:
            self.missing.append(hf_weight_key)
            return
        dtype, shape = self.headers[hf_weight_key]
        if dtype not in FLOAT_DTYPES or math.prod(shape) != math.prod(want):
            self.wrong.append(f"{hf_weight_key}: {dtype} {list(shape)}, the model needs {list(want)}")
            return
        got = shape
        if hook_fn is not None:  # the converter's own transpose / reshape, on a view that holds no data
            try:
                got = tuple(np.shape(hook_fn(self.get_tensor(hf_weight_key), list(want))))
            except Exception:  # noqa: BLE001  (a shape its hook cannot take, e.g. an assert on groups)
                got = None
        if got != want:
            self.wrong.append(f"{hf_weight_key}: {dtype} {list(shape)}, the model needs {list(want)}")


def _check_tensors(folder, config, converter, files, weight_map):
    """Every tensor the converter reads: present under its own name, float, of the variable's shape."""
    headers, owner = {}, {}
    for name, path in sorted(files.items()):
        for key, header in read_headers(path).items():
            if weight_map is None or weight_map.get(key) == name:
                headers[key], owner[key] = header, path
    tag = (config.get("pretrained_cfg") or {}).get("tag", "") or ""
    backbone = _blank_backbone(converter, config["architecture"], tag if isinstance(tag, str) else "")
    checker = _Checker(headers)
    with contextlib.redirect_stdout(io.StringIO()):  # some converters print a line per ported layer
        converter.convert_weights(backbone, checker, config)
    where = ", ".join(sorted(set(files.values())))
    if checker.missing:
        raise ValueError(f"{where}: {len(checker.missing)} tensors that {config['architecture']} needs are missing "
                         f"(a tensor is read only under its own name, never one whose name ends alike). "
                         f"Missing: {checker.missing[:5]}")
    if checker.wrong:
        raise ValueError(f"{where}: {len(checker.wrong)} tensors do not fit {config['architecture']}: "
                         f"{'; '.join(checker.wrong[:3])}")


def check_preset_folder(folder):
    """Check a local preset folder (Keras or timm format) before keras-hub reads it; ValueError naming the file.

    Example:
        >>> check_preset_folder(tmp)   # an empty folder: nothing to check; keras-hub says it has no config.json
    """
    folder = os.fspath(folder)
    path = os.path.join(folder, "config.json")
    if not os.path.lexists(path):
        return
    config = read_json(_inside(folder, "config.json", folder), MAX_CONFIG_BYTES, "a preset's config.json",
                       MAX_DEPTH)
    if not isinstance(config, dict):
        _fail(path, "a preset's config.json is a JSON object", type(config).__name__)
    if "architecture" not in config or "registered_name" in config:
        # A Keras preset (keras-hub's own format) or another: Keras reads its files, which must be regular files
        # of this folder (a FIFO would block h5py's open).
        for name in KERAS_PRESET_FILES:
            if os.path.lexists(os.path.join(folder, name)):
                check_regular_file(_inside(folder, name, folder), MAX_SAFETENSORS_BYTES, "a preset's file")
        return
    converter = check_timm_config(path, config)
    files, weight_map = _weight_files(folder)
    if files:  # without any, keras-hub raises FileNotFoundError naming model.safetensors if weights are asked for
        _check_tensors(folder, config, converter, files, weight_map)
