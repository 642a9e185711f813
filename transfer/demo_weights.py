"""The demo's pre-trained network, shipped: ResNet-20's weights after pre-training on digits 0-4.

Why ship them: pre-training is most of the demo's time (about a minute on two
cores), and its result depends on the machine's arithmetic (oneDNN on or off,
one thread or two). Every later figure is built on those features, so two
machines that pre-trained differently printed few-shot figures apart by more
than the spread of the seeds. Starting every machine from the same file takes
both away; ``transfer demo --pretrain`` trains the network here instead.

The record beside the file says how it was made (the settings of
:func:`transfer.demo.pretrain`, the library versions, the machine's oneDNN
setting), what it scored on the held-out 0-4 images, its training curves, and
the file's SHA-256, checked before the file is used. To make both again::

    python -c "from transfer import demo; demo.write_shipped_weights()"

Example:
    >>> path, record = shipped("resnet20", (20, 20, 1))
    >>> os.path.basename(path), record["backbone"], record["accuracy_0_4"] > 0.9
    ('resnet20_digits0-4.weights.h5', 'resnet20', True)
    >>> shipped("resnet32", (20, 20, 1)) is None  # other backbones pre-train on the machine
    True
"""

import json
import os

from zoo.files import atomic_write_json, sha256_of

FOLDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "demo_weights")


def paths(backbone, folder=FOLDER):
    """``(weights file, record file)`` for ``backbone`` in ``folder``."""
    return (os.path.join(folder, f"{backbone}_digits0-4.weights.h5"),
            os.path.join(folder, f"{backbone}_digits0-4.json"))


def shipped(backbone, input_shape, folder=FOLDER):
    """``(weights path, record)`` of the shipped weights for ``backbone`` at ``input_shape``, or None if none are.

    Raises:
        ValueError: the file is there but is not the one its record describes
            (changed or cut short): the demo would otherwise start from other weights.
    """
    weights, record_path = paths(backbone, folder)
    if not (os.path.exists(weights) and os.path.exists(record_path)):
        return None
    with open(record_path) as f:
        record = json.load(f)
    if tuple(record["input_shape"]) != tuple(input_shape):
        return None
    found = sha256_of(weights)
    if found != record["sha256"]:
        raise ValueError(f"{weights} is not the file its record describes (SHA-256 {found[:12]}..., the record "
                         f"{record['sha256'][:12]}...): reinstall the package, or run the demo with --pretrain")
    return weights, record


def write_record(weights, history, accuracy, seconds, **settings):
    """Write the record of freshly pre-trained ``weights`` beside them; return it.

    ``settings`` are those of the pre-training (``backbone``, ``input_shape``,
    ``epochs``, ...); the record adds what the weights scored, their curves,
    the file's SHA-256 and what made them.
    """
    import keras
    import tensorflow as tf

    record = {**settings, "accuracy_0_4": accuracy, "seconds": round(seconds, 1),
              "history": {k: [float(v) for v in vs] for k, vs in history.items()}, "sha256": sha256_of(weights),
              "made_with": {"keras": keras.__version__, "tensorflow": tf.__version__,
                            "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "unset"),
                            "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None},
              "command": 'python -c "from transfer import demo; demo.write_shipped_weights()"'}
    atomic_write_json(record, paths(settings["backbone"], os.path.dirname(os.path.abspath(weights)))[1])
    return record
