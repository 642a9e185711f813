"""The figures ``zoo list`` shows (parameters, multiply-adds, activations), computed once per model.

Measuring a model means building it, about a second each: a table of every
model took half a minute, every time. The figures only change when the
model's record, the code that builds or measures it, or Keras's minor
version change, so each is stored under a key made of exactly those
(:func:`record_key`). Two places hold them: ``zoo/model_figures.json``, shipped
with the package and rewritten by ``python -m zoo.figures`` (a test checks it
is current and matches a live measurement), and a per-user cache in the Keras
folder (``~/.keras/zoo/model_figures.json``) for models the shipped file does
not know (your own registered models, edited code). A figure whose key no
longer matches is measured again, never shown stale.

Example:
    >>> figures("lenet5")
    {'params': 61706, 'macs': 416520, 'activations': 6518}
"""

import functools
import hashlib
import inspect
import json
import os

import keras

from zoo import files, registry

SHIPPED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "model_figures.json")
# Code every zoo model is built or measured with, besides the builder's own module.
_SHARED_CODE = ("blocks.py", "parts.py", "inspection.py", "graph.py")


def user_cache_path():
    """The per-user cache file (in the Keras folder, ``$KERAS_HOME`` or ``~/.keras``)."""
    return os.path.join(files.keras_cache("zoo"), "model_figures.json")


@functools.lru_cache(maxsize=None)
def _source_digest(path):
    return files.sha256_of(path)


def record_key(name):
    """A digest of what ``name``'s figures depend on: its record, its builder's code, Keras's minor version.

    Example:
        >>> len(record_key("resnet20")), record_key("resnet20") == record_key("resnet56")
        (16, False)
    """
    config = registry.get_arch(name)
    here = os.path.dirname(os.path.abspath(__file__))
    sources = [inspect.getsourcefile(registry.get_builder(config.name))]
    sources += [os.path.join(here, f) for f in _SHARED_CODE]
    keras_minor = ".".join(keras.version().split(".")[:2])
    parts = [repr(config), keras_minor, *(_source_digest(os.path.abspath(s)) for s in sources)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def measure(name):
    """Build ``name`` at its default input and measure it: ``{"params", "macs", "activations"}``."""
    from zoo.inspection import summary  # inspection imports the model code: only when a model is measured

    report = summary(registry.create_model(name))
    keras.backend.clear_session()  # a table of 30 models must not keep 30 graphs alive
    return {"params": report.total_params, "macs": report.macs, "activations": report.activations}


def _read(path):
    try:
        with open(path) as f:
            table = json.load(f)
        return table if isinstance(table, dict) else {}
    except (OSError, ValueError):  # absent or damaged: measured again and rewritten
        return {}


def _stored(name):
    key = record_key(name)
    for table in (_read(SHIPPED), _read(user_cache_path())):
        entry = table.get(name)
        if entry and entry.get("key") == key:
            return {k: entry[k] for k in ("params", "macs", "activations")}
    return None


def is_stored(name):
    """Whether ``name``'s current figures are stored (listing it builds nothing)."""
    return _stored(registry.get_arch(name).name) is not None


def figures(name):
    """``{"params", "macs", "activations"}`` of zoo model ``name``: the stored ones if current, else measured now.

    A measured model's figures are added to the per-user cache.
    """
    name = registry.get_arch(name).name
    stored = _stored(name)
    if stored is not None:
        return stored
    key = record_key(name)
    result = measure(name)
    path = user_cache_path()
    table = _read(path)
    table[name] = {"key": key, **result}
    try:
        files.atomic_write_json(table, path)
    except OSError:  # a read-only home: the figures are still right, only not kept
        pass
    return result


def write_shipped(names=None, path=SHIPPED):
    """Measure ``names`` (default: every zoo model) and write them to the shipped file; returns its path."""
    names = registry.list_models() if names is None else names
    table = {name: {"key": record_key(name), **measure(name)} for name in names}
    return files.atomic_write_json(table, path)


if __name__ == "__main__":
    print(write_shipped())
