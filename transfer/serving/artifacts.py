"""Running an exported model in its own runtime, with the class names and head kind read from inside it.

:func:`load_artifact` opens a SavedModel folder (TensorFlow), a ``.onnx``
file (onnxruntime) or a ``.tflite`` file (the LiteRT interpreter). Each
artifact answers like a Keras model where :func:`transfer.predict_files`
needs it to: ``predict(x, verbose=0)``, ``input_shape``, ``output_shape``,
``head_kind`` and ``class_names``.

Where :func:`transfer.export` puts the metadata (a JSON object with
``class_names``, ``head_kind``, ``quantization``), so that each runtime's own
public API reads it back:

- SavedModel: a second endpoint, ``transfer_metadata()``, returning the JSON
  string (also a signature, so a serving client can ask for the names);
- ONNX: the key ``transfer_metadata`` of the model's ``metadata_props``
  (onnxruntime: ``session.get_modelmeta().custom_metadata_map``);
- LiteRT: an associated file ``transfer.json`` in a zip archive appended to
  the ``.tflite`` flatbuffer, the convention of TFLite metadata (the
  interpreter ignores it; ``zipfile`` or ``unzip`` read it).

Example:
    >>> artifact = transfer.load_artifact("digits.onnx")           # doctest: +SKIP
    >>> artifact.class_names, artifact.predict(images).shape        # doctest: +SKIP
    (['5', '6', '7', '8', '9'], (4, 5))
"""

import importlib
import json
import os
import zipfile

import numpy as np

from transfer.serving.artifact_checks import check_declared, checked_size, trial_run

METADATA_KEY = "transfer_metadata"  # the SavedModel endpoint and the ONNX metadata key
LITERT_METADATA_FILE = "transfer.json"  # the associated file inside a .tflite
EXPORT_EXTRA = 'pip install -e ".[export]"'
MAX_METADATA_BYTES = 16 << 20  # class names of a million classes fit


def artifact_format(path):
    """``"tf_saved_model"``, ``"onnx"`` or ``"litert"`` for an exported model at ``path``, else None.

    Example:
        >>> artifact_format("model.onnx"), artifact_format("phone.tflite"), artifact_format("model.keras")
        ('onnx', 'litert', None)
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        return "tf_saved_model" if os.path.isfile(os.path.join(path, "saved_model.pb")) else None
    return {".onnx": "onnx", ".tflite": "litert"}.get(os.path.splitext(path)[1].lower())


def require(module, what):
    """Import the optional ``module`` (the ``export`` extra) or say how to install it.

    Example:
        >>> require("numpy", "reading arrays").__name__
        'numpy'
    """
    try:
        return importlib.import_module(module)  # optional runtimes load only when an artifact needs them
    except ImportError as err:
        raise ImportError(f"{what} needs the `{module}` package, from the export extra: {EXPORT_EXTRA}. "
                          f"Received: ImportError({err})") from None


class Artifact:
    """An exported model run by its own runtime; subclasses implement ``_run(batch) -> outputs``.

    ``predict`` splits ``x`` into batches of ``batch_size`` like Keras's
    ``Model.predict`` and returns float32 outputs.

    Example:
        >>> artifact = transfer.load_model("digits.tflite")                     # doctest: +SKIP
        >>> artifact.input_shape, artifact.predict(np.zeros((2, 20, 20, 1))).shape  # doctest: +SKIP
        ((None, 20, 20, 1), (2, 5))
    """

    format = None

    def __init__(self, path, metadata, input_shape, output_shape):
        self.path = os.fspath(path)
        metadata = metadata or {}
        self.metadata = metadata
        self.class_names = metadata.get("class_names")
        self.head_kind = metadata.get("head_kind")
        self.quantization = metadata.get("quantization")
        self.input_shape = tuple(input_shape)
        self.output_shape = tuple(output_shape)

    def __repr__(self):
        return (f"<{type(self).__name__} {self.path!r} input={self.input_shape} output={self.output_shape} "
                f"head_kind={self.head_kind!r}>")

    def predict(self, x, batch_size=32, verbose=0):
        """Outputs for images ``x`` (N, H, W, C) of raw 0-255 pixels, like ``keras.Model.predict``.

        ``verbose`` is accepted for Keras's signature and ignored.

        Example:
            >>> transfer.load_model("digits.onnx").predict(images, verbose=0).argmax(-1)   # doctest: +SKIP
            array([0, 3])
        """
        x = np.asarray(x, dtype="float32")
        expected = self.input_shape[1:]
        if x.ndim != len(self.input_shape) or any(e is not None and e != s for e, s in zip(expected, x.shape[1:])):
            raise ValueError(f"{self.path} takes a batch of shape (N, {', '.join(map(str, expected))}). "
                             f"Received: x.shape={x.shape}")
        if len(x) == 0:
            return np.zeros((0,) + tuple(self.output_shape[1:]), "float32")
        try:
            outs = [self._run(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
        except Exception as err:  # noqa: BLE001  (each runtime raises its own types: RuntimeError, Fail, OpError)
            message = str(err).strip().splitlines()
            raise ValueError(f"{self.path}: the {self.format} runtime failed on a batch of shape {x.shape} "
                             f"({type(err).__name__}: {message[-1][:300] if message else ''}).") from err
        out = np.concatenate(outs)
        if out.ndim != 2 or out.shape[1] != self.output_shape[1]:
            raise ValueError(f"{self.path}: declares outputs of shape {self.output_shape} but returned "
                             f"{out.shape}; the file is damaged.")
        return out.astype("float32", copy=False)

    def _run(self, batch):
        raise NotImplementedError


class SavedModelArtifact(Artifact):
    """A SavedModel folder run by TensorFlow (its ``serve`` endpoint)."""

    format = "tf_saved_model"

    def __init__(self, path):
        import tensorflow as tf  # a SavedModel runs on TensorFlow: imported when one is loaded

        # The loaded object owns the variables: keep it alive as long as `serve` is called.
        self.loaded = tf.saved_model.load(os.fspath(path))
        metadata = None
        if hasattr(self.loaded, METADATA_KEY):
            metadata = json.loads(getattr(self.loaded, METADATA_KEY)().numpy().decode("utf-8"))
        serve = self.loaded.signatures["serve"]
        spec = next(iter(serve.structured_input_signature[1].values()))
        out = next(iter(serve.structured_outputs.values()))
        super().__init__(path, metadata, spec.shape.as_list(), out.shape.as_list())
        self._tf = tf

    def _run(self, batch):
        return self.loaded.serve(self._tf.constant(batch)).numpy()


class OnnxArtifact(Artifact):
    """A ``.onnx`` file run by onnxruntime on the CPU."""

    format = "onnx"

    def __init__(self, path):
        ort = require("onnxruntime", "Running an ONNX model")
        require("onnx", "Checking an ONNX model")
        self.session = ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
        props = self.session.get_modelmeta().custom_metadata_map
        metadata = json.loads(props[METADATA_KEY]) if METADATA_KEY in props else None
        (inp,), (out,) = self.session.get_inputs(), self.session.get_outputs()
        self._input_name = inp.name
        super().__init__(path, metadata, [_dim(d) for d in inp.shape], [_dim(d) for d in out.shape])

    def _run(self, batch):
        return self.session.run(None, {self._input_name: batch})[0]


class LiteRTArtifact(Artifact):
    """A ``.tflite`` file run by the LiteRT interpreter; the batch size is resized to each batch."""

    format = "litert"

    def __init__(self, path, num_threads=None):
        interpreter = require("ai_edge_litert.interpreter", "Running a LiteRT model")
        self.interpreter = interpreter.Interpreter(model_path=os.fspath(path), num_threads=num_threads)
        self._input = self.interpreter.get_input_details()[0]
        self._output = self.interpreter.get_output_details()[0]
        self._shape = None
        shape = [None if s < 0 else int(s) for s in self._input["shape_signature"]]
        out = [None if s < 0 else int(s) for s in self._output["shape_signature"]]
        super().__init__(path, read_litert_metadata(path), shape, out)

    def _run(self, batch):
        if batch.shape != self._shape:  # the exported batch is 1 (and a flexible size, 1x1): resize, allocate
            self.interpreter.resize_tensor_input(self._input["index"], list(batch.shape))
            self.interpreter.allocate_tensors()
            self._shape = batch.shape
        self.interpreter.set_tensor(self._input["index"], batch)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self._output["index"]).copy()


def _dim(d):
    """An ONNX dimension: an int, or None for a symbolic one (``'unk__12'``, ``'batch'``)."""
    return d if isinstance(d, int) else None


def read_litert_metadata(path):
    """The metadata dict appended to a ``.tflite`` file by :func:`transfer.export`, or None.

    Example:
        >>> read_litert_metadata("phone.tflite")["class_names"]        # doctest: +SKIP
        ['cat', 'dog']
    """
    if not zipfile.is_zipfile(path):
        return None
    with zipfile.ZipFile(path) as archive:
        if LITERT_METADATA_FILE not in archive.namelist():
            return None
        size = archive.getinfo(LITERT_METADATA_FILE).file_size
        if size > MAX_METADATA_BYTES:
            raise ValueError(f"{path}: its {LITERT_METADATA_FILE} declares {size:,} bytes; metadata is far smaller.")
        return json.loads(archive.read(LITERT_METADATA_FILE).decode("utf-8"))


RUNNERS = {"tf_saved_model": SavedModelArtifact, "onnx": OnnxArtifact, "litert": LiteRTArtifact}


def load_artifact(path):
    """An exported model (SavedModel folder, ``.onnx``, ``.tflite``) ready to ``predict``, names read from inside.

    Example:
        >>> artifact = load_artifact("cats")                       # doctest: +SKIP
        >>> artifact.format, artifact.class_names                   # doctest: +SKIP
        ('tf_saved_model', ['cat', 'dog'])
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No exported model at {path!r}.")
    fmt = artifact_format(path)
    if fmt is None:
        raise ValueError(f"{path} is not an exported model: expected a SavedModel folder (with saved_model.pb), "
                         f"a .onnx or a .tflite file. Received: {path!r}")
    if fmt != "tf_saved_model":
        checked_size(path, fmt)  # a FIFO would block the runtime's open, a device never end
    try:
        artifact = _open(fmt, path)
    except (ImportError, FileNotFoundError):
        raise
    except Exception as err:  # each runtime fails a corrupt file its own way; name the file
        raise ValueError(f"Cannot load {path} as a {fmt} model ({type(err).__name__}: "
                         f"{str(err).splitlines()[0] if str(err) else ''}).") from err
    check_declared(path, artifact.input_shape, artifact.output_shape, artifact.metadata or None)
    if fmt != "tf_saved_model":  # a native runtime that a damaged graph can crash: tried where a crash is contained
        trial_run(path, fmt, artifact.input_shape)
    return artifact


def _open(fmt, path):
    """The runtime's object for ``path``; its metadata must parse (errors become the caller's ValueError)."""
    artifact = RUNNERS[fmt](path)
    if artifact.metadata is not None and not isinstance(artifact.metadata, dict):
        raise TypeError(f"metadata must be a JSON object, not {type(artifact.metadata).__name__}")
    return artifact
