"""Exported models checked before they run: what the file declares, and a first run where a crash cannot hurt.

An ``.onnx`` or ``.tflite`` file is a program for a native runtime, and a
file someone else made may declare anything: an input of rank 5, a height of
2**31-1, four class names for five outputs, a ``"binary"`` head over five
units. :func:`check_declared` refuses those at :func:`transfer.load_model`,
naming the file.

A graph can also be well formed and still crash its runtime: LiteRT dies
with SIGSEGV on a model whose MEAN opcode was swapped for SPLIT, or whose
pooling filter is -2**31, and these are valid flatbuffers, so no schema
verifier (``onnx.checker``, the TFLite schema) can tell. Only running the
graph shows it, and only another process survives it. So
:func:`trial_run` loads the file in a child process (``onnx.checker`` first
for ONNX), runs it on zeros at the declared size with batches of 1 and 2
(the batch sizes ``predict`` resizes to), under a memory and a time limit,
and turns a signal, a timeout or an exception there into one ``ValueError``
naming the file. This costs about a second per load and is done for every
ONNX and LiteRT file, whoever wrote it: a file's metadata can be copied, so
it cannot prove where the file came from. (A flexible-size model is tried at
32x32; other sizes are run in process.)

Example:
    >>> check_declared("m.onnx", (None, 28, 28, 1), (None, 5), {"class_names": ["a", "b"]})
    Traceback (most recent call last):
    ...
    ValueError: m.onnx: it has 5 outputs but carries 2 class names. Received: ['a', 'b']
"""

import json
import os
import resource
import subprocess
import sys

from transfer.model.head_kinds import HEAD_KINDS

MAX_SIDE = 8192  # pixels per side of a declared input
MAX_VALUES = 1 << 24  # values in one input image (4096 x 4096 x 1; a float32 image of 64 MiB)
MAX_UNITS = 1 << 20  # outputs
MAX_NAME = 1000  # characters of one class name
TRIAL_SIDE = 32  # the size a flexible-size model is tried at
TRIAL_SECONDS = 60
TRIAL_MEMORY = 4 << 30  # bytes of address space the trial may add to a bare interpreter


def _fail(path, message, received):
    raise ValueError(f"{path}: {message}. Received: {received!r:.200}")


def _size(d):
    return d is None or (isinstance(d, int) and not isinstance(d, bool) and d > 0)


def _check_shapes(path, input_shape, output_shape):
    if len(input_shape) != 4 or not all(_size(d) for d in input_shape):
        _fail(path, "its input must be a batch of images (N, height, width, channels) of positive sizes",
              input_shape)
    _, h, w, c = input_shape
    if c not in (1, 3):
        _fail(path, "its input must have 1 (grey) or 3 (RGB) channels", input_shape)
    if any(d is not None and d > MAX_SIDE for d in (h, w)) or (h or 1) * (w or 1) * c > MAX_VALUES:
        _fail(path, f"its input may be at most {MAX_SIDE} pixels a side and {MAX_VALUES:,} values an image "
                    "(the file is damaged, or not an image model)", input_shape)
    if len(output_shape) != 2 or not _size(output_shape[1]) or output_shape[1] is None \
            or output_shape[1] > MAX_UNITS:
        _fail(path, f"its output must be (N, units) with 1 to {MAX_UNITS:,} units", output_shape)


def check_declared(path, input_shape, output_shape, metadata):
    """Refuse an artifact whose shapes, class names or head kind cannot be what ``predict_files`` needs.

    ``metadata`` is the dict ``transfer.export`` stores (None: none stored).

    Example:
        >>> check_declared("m.tflite", (None, 28, 28, 1), (None, 5), {"head_kind": "binary"})
        Traceback (most recent call last):
        ...
        ValueError: m.tflite: its head kind 'binary' has one sigmoid output, but the model has 5. Received: 'binary'
    """
    _check_shapes(path, tuple(input_shape), tuple(output_shape))
    if metadata is None:
        return
    if not isinstance(metadata, dict):
        _fail(path, "its metadata must be a JSON object", type(metadata).__name__)
    units = output_shape[1]
    kind = metadata.get("head_kind")
    if kind is not None:
        if kind not in HEAD_KINDS:
            _fail(path, f"its head kind must be one of {', '.join(HEAD_KINDS)}", kind)
        if not HEAD_KINDS[kind].fits(units):
            _fail(path, f"its head kind {kind!r} has {HEAD_KINDS[kind].units_rule}, but the model has {units}", kind)
    names = metadata.get("class_names")
    if names is not None:
        if not (isinstance(names, list) and all(isinstance(n, str) and len(n) <= MAX_NAME for n in names)):
            _fail(path, "its class names must be a list of strings", names)
        expected = 2 if units == 1 else units  # a one-unit binary head: both classes named
        if (kind is None or HEAD_KINDS[kind].classifies) and len(names) != expected:
            _fail(path, f"it has {units} outputs but carries {len(names)} class names", names)
    quantization = metadata.get("quantization")
    if quantization is not None and not isinstance(quantization, str):
        _fail(path, "its quantization must be a string", quantization)


# The child: load the file with its runtime and run zeros through it. Reads a JSON request on argv.
_CHILD = r"""
import json, sys
import numpy as np
request = json.loads(sys.argv[1])
path, fmt, shape = request["path"], request["format"], request["shape"]
if fmt == "onnx":
    import onnx, onnx.checker, onnxruntime as ort
    onnx.checker.check_model(onnx.load(path, load_external_data=False))
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    for n in (1, 2):
        session.run(None, {name: np.zeros([n] + shape, "float32")})
else:
    from ai_edge_litert.interpreter import Interpreter
    interpreter = Interpreter(model_path=path, num_threads=1)
    index = interpreter.get_input_details()[0]["index"]
    out = interpreter.get_output_details()[0]["index"]
    for n in (1, 2):
        interpreter.resize_tensor_input(index, [n] + shape)
        interpreter.allocate_tensors()
        interpreter.set_tensor(index, np.zeros([n] + shape, "float32"))
        interpreter.invoke()
        interpreter.get_tensor(out)
print("ok")
"""


def _limit_memory():  # in the child, before it runs anything
    resource.setrlimit(resource.RLIMIT_AS, (TRIAL_MEMORY, TRIAL_MEMORY))


def trial_run(path, fmt, input_shape):
    """Run the artifact once on zeros in a child process; a crash, hang or error there is a ValueError here.

    Example:
        >>> trial_run("digits.tflite", "litert", (None, 20, 20, 1))        # doctest: +SKIP
    """
    shape = [d or TRIAL_SIDE for d in input_shape[1:]]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    request = json.dumps({"path": os.path.abspath(path), "format": fmt, "shape": shape})
    try:
        done = subprocess.run([sys.executable, "-c", _CHILD, request], capture_output=True, text=True, env=env,
                              timeout=TRIAL_SECONDS, preexec_fn=_limit_memory if os.name == "posix" else None)
    except subprocess.TimeoutExpired:
        raise ValueError(f"{path}: a first run on a {'x'.join(map(str, shape))} input of zeros did not end "
                         f"within {TRIAL_SECONDS} s in a separate process; the file is damaged or hostile.") from None
    if done.returncode == 0 and done.stdout.strip().endswith("ok"):
        return
    if done.returncode < 0:
        import signal

        why = f"the runtime was killed by {signal.Signals(-done.returncode).name}"
    else:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        why = lines[-1][:300] if lines else f"exit status {done.returncode}"
    raise ValueError(f"{path}: a first run on a {'x'.join(map(str, shape))} input of zeros, in a separate "
                     f"process, failed ({why}); the file is damaged or not a model this toolkit can run.")


def checked_size(path, fmt):
    """The artifact file's size, refusing a FIFO, a device, a directory or a file over 2 GiB (ONNX's own limit)."""
    from zoo.files import check_regular_file

    return check_regular_file(path, (2 << 30) - 1, f"a {fmt} model file")
