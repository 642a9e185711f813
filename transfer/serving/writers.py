"""Writing a model as an artifact of each format, with the metadata (class names, head kind) inside.

No check happens here: :func:`transfer.export` writes through :func:`write_artifact`,
then loads the artifact in its own runtime and compares it with Keras.
"""

import importlib.util
import io
import json
import os
import tempfile
import warnings
import zipfile

import keras

from transfer.serving import artifacts


def write_artifact(model, path, format, metadata, converter=None):
    """Write ``model`` to ``path`` in ``format`` with ``metadata`` (a JSON-able dict) inside; no check.

    Example:
        >>> model = transfer.attach_head(transfer.load_backbone("cnn_mnist", weights=None), 2)
        >>> write_artifact(model, "m.tflite", "litert", {"class_names": ["a", "b"]})  # doctest: +SKIP
    """
    text = json.dumps(metadata)
    spec = keras.InputSpec(shape=(None,) + tuple(model.input_shape[1:]), dtype="float32")
    if format == "tf_saved_model":
        import tensorflow as tf  # TensorFlow\'s exporters and converter: this backend only

        def serve(x):
            return model(x, training=False)

        @tf.function(input_signature=[])
        def transfer_metadata():
            return tf.constant(text)

        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint("serve", serve, input_signature=[spec])
        archive.add_endpoint(artifacts.METADATA_KEY, transfer_metadata)
        archive.write_out(path, verbose=False)
    elif format == "onnx":
        onnx = artifacts.require("onnx", "Writing an ONNX model")
        _export_onnx(model, path, spec)
        proto = onnx.load(path)
        onnx.helper.set_model_props(proto, {artifacts.METADATA_KEY: text})
        onnx.save(proto, path)
    else:
        artifacts.require("ai_edge_litert.interpreter", "Checking a LiteRT model")
        model.export(path, format="litert", verbose=False, input_signature=[spec], **(converter or {}))
        packed = io.BytesIO()  # the TFLite metadata convention: associated files in a zip after the flatbuffer
        with zipfile.ZipFile(packed, "w") as archive:
            archive.writestr(artifacts.LITERT_METADATA_FILE, text)
        with open(path, "ab") as f:
            f.write(packed.getvalue())


def _export_onnx(model, path, spec):
    backend = keras.backend.backend()
    if backend == "jax" and importlib.util.find_spec("jax2onnx") is None:
        raise ImportError("ONNX export under KERAS_BACKEND=jax goes through jax2onnx, which is not installed: "
                          "`pip install jax2onnx` (it brings flax and optax), or export under "
                          "KERAS_BACKEND=tensorflow (the same .keras file loads there, and the ONNX model is "
                          "the same). Received: backend='jax', jax2onnx missing")
    if backend == "tensorflow":
        artifacts.require("tf2onnx", "ONNX export on TensorFlow")
    with warnings.catch_warnings():  # Keras's tf2onnx patch probes `np.object`, which numpy 2 warns about
        warnings.simplefilter("ignore", FutureWarning)
        model.export(path, format="onnx", verbose=False, input_signature=[spec])


def int8_converter_options(calib):
    """The LiteRT converter options for full int8 quantization calibrated on ``calib`` images."""
    import tensorflow as tf  # TensorFlow\'s exporters and converter: this backend only

    def representative_dataset():
        for image in calib:
            yield [image[None]]

    # Every op in int8 (the converter fails rather than leaving float ops); input and output stay float32,
    # so the file takes the same raw pixels and returns the same probabilities as the float one.
    return {"optimizations": [tf.lite.Optimize.DEFAULT], "representative_dataset": representative_dataset,
            "target_spec": {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]}}


def float_litert_size(model):
    """The size in bytes of ``model`` as a float LiteRT file (to compare an int8 one with)."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "float.tflite")
        model.export(path, format="litert", verbose=False)
        return os.path.getsize(path)
