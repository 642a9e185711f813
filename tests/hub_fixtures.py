"""Helpers for the keras-hub tests: timm-format folders written from a keras-hub backbone, offline.

A timm checkpoint on the Hugging Face hub is a folder with ``config.json``
(``architecture``, ``num_classes``, ``pretrained_cfg`` with mean, std,
interpolation and input size) and ``model.safetensors`` holding the PyTorch
tensors under timm's names. keras-hub's own converter says which timm tensor
each Keras variable is read from; running it with a recorder instead of a
reader gives the inverse map, so the folder written here is exactly what the
converter expects, with the source model's (randomised) values.
"""

import json
import os

import keras
import numpy as np
from zoo.graph import all_layers


def randomise_batchnorm(model, seed=0):
    """Give every BatchNorm non-trivial statistics and affine weights, so a mis-ported one shows."""
    rng = np.random.default_rng(seed)
    for layer in all_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            for var, low, high in ((layer.moving_mean, -0.5, 0.5), (layer.moving_variance, 0.5, 2.0),
                                   (layer.gamma, 0.5, 1.5), (layer.beta, -0.2, 0.2)):
                if var is not None:
                    var.assign(rng.uniform(low, high, var.shape).astype("float32"))


def _axis_order(hook_fn):
    """The axes ``hook_fn`` puts where, read on a probe of distinct sizes (a depthwise kernel's second is 1)."""
    for probe in (np.zeros((2, 3, 4, 5)), np.zeros((2, 1, 4, 5))):
        try:
            shape = hook_fn(probe, None).shape
        except AssertionError:  # keras-hub's depthwise hook asserts one input channel per group
            continue
        return [probe.shape.index(d) for d in shape]
    raise ValueError("No probe fits this conversion hook.")


class _Recorder:
    """Stands in for keras-hub's SafetensorLoader: records each variable under its timm name, as PyTorch lays it out."""

    def __init__(self):
        self.tensors = {}

    def port_weight(self, keras_variable, hf_weight_key, hook_fn=None):
        value = np.asarray(keras.ops.convert_to_numpy(keras_variable), dtype="float32")
        if hook_fn is not None:  # a transpose from PyTorch's layout: find it on a probe and invert it
            value = np.transpose(value, np.argsort(_axis_order(hook_fn)))
        self.tensors[hf_weight_key] = np.ascontiguousarray(value)


def write_timm_folder(folder, backbone, architecture, mean, std, input_size=224):
    """Write ``config.json`` and ``model.safetensors`` of a timm checkpoint holding ``backbone``'s weights."""
    from keras_hub.src.utils.timm.preset_loader import TimmPresetLoader  # test only: keras-hub's converter table
    from safetensors.numpy import save_file

    config = {"architecture": architecture, "num_classes": 1000, "num_features": backbone.output_shape[-1],
              "pretrained_cfg": {"tag": "test", "input_size": [3, input_size, input_size],
                                 "interpolation": "bicubic", "mean": list(mean), "std": list(std),
                                 "num_classes": 1000}}
    recorder = _Recorder()
    TimmPresetLoader(folder, config).converter.convert_weights(backbone, recorder, config)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f)
    save_file(recorder.tensors, os.path.join(folder, "model.safetensors"))
    return folder
