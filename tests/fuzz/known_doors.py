"""Issue 27's findings as inputs built by code: timm folders, exported artifacts, special files, resume ranges.

Same form as ``tests.fuzz.known.KNOWN`` (which ends with these): ``(name, target,
mutated file, bytes maker, (outcome, fragment))``. Before the fixes each one was a
SIGSEGV, a hang, a silent substitution or an exception naming no file.
"""

import io
import json
import os
import zipfile

from tests.fuzz.runner import SEEDS, special

TIMM = "mobilenetv3_small_050.seed"
CONFIG, WEIGHTS, INDEX = f"{TIMM}/config.json", f"{TIMM}/model.safetensors", f"{TIMM}/model.safetensors.index.json"
CLEAR, LOADED = "clear error", "loaded"


def _seed(target, name):
    with open(os.path.join(SEEDS, target, name), "rb") as f:
        return f.read()


def _config(edit):
    config = json.loads(_seed("timm_folder", CONFIG))
    edit(config)
    return json.dumps(config).encode()


def _index(edit):
    index = json.loads(_seed("timm_folder", INDEX))
    edit(index)
    return json.dumps(index).encode()


def _tensors(edit):
    from safetensors.numpy import load, save

    tensors = load(_seed("timm_folder", WEIGHTS))
    edit(tensors)
    return save(tensors)


def _tflite(edit):
    """The seed's .tflite with its flatbuffer changed through the TFLite schema's object API (metadata kept)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    data = _seed("artifact", "model.tflite")
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))
    edit(model, schema)
    builder = flatbuffers.Builder(len(data))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output()) + data[data.find(b"PK\x03\x04"):]


def _swap_opcode(old, new):
    def edit(model, schema):
        codes = [c for c in model.operatorCodes if c.builtinCode == getattr(schema.BuiltinOperator, old)]
        assert codes, old
        codes[0].builtinCode = codes[0].deprecatedBuiltinCode = getattr(schema.BuiltinOperator, new)
    return lambda: _tflite(edit)


def _first_input_minus_one(model, schema):
    op = model.subgraphs[0].operators[0]
    op.inputs = [-1] + [int(i) for i in op.inputs[1:]]


def _pool_filter(model, schema):
    options = [op.builtinOptions for op in model.subgraphs[0].operators
               if isinstance(op.builtinOptions, schema.Pool2DOptionsT)]
    assert options
    options[0].filterHeight = -2**31


def _tflite_shape(which, dims):
    def edit(model, schema):
        graph = model.subgraphs[0]
        tensor = graph.tensors[int((graph.inputs if which == "input" else graph.outputs)[0])]
        tensor.shape = [max(d, 1) for d in dims]
        tensor.shapeSignature = list(dims)
    return lambda: _tflite(edit)


def _tflite_metadata(**changes):
    data = _seed("artifact", "model.tflite")
    at = data.find(b"PK\x03\x04")
    with zipfile.ZipFile(io.BytesIO(data[at:])) as zf:
        metadata = json.loads(zf.read("transfer.json"))
    metadata.update(changes)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("transfer.json", json.dumps(metadata))
    return data[:at] + buf.getvalue()


def _onnx_shape(which, dims):
    import onnx

    model = onnx.load_from_string(_seed("artifact", "model.onnx"))
    value = (model.graph.input if which == "input" else model.graph.output)[0]
    shape = value.type.tensor_type.shape
    while len(shape.dim):
        shape.dim.pop()
    for d in dims:
        shape.dim.add().dim_value = d
    return model.SerializeToString()


def _state(**early_stopping):
    state = json.loads(_seed("checkpoint", "run/state.json"))
    state["early_stopping"].update(early_stopping)
    return json.dumps(state).encode()


DOORS = [
    # 1. timm folders: keras-hub read them trustingly
    ("timm: architecture 18", "timm_folder", CONFIG, lambda: _config(lambda c: c.update(architecture=18)),
     (CLEAR, "`architecture` must be a timm architecture name")),
    ("timm: UTF-16 config.json", "timm_folder", CONFIG, lambda: json.dumps({"architecture": "x"}).encode("utf-16"),
     (CLEAR, "not UTF-8 text")),
    ("timm: mean nested 100,000 deep", "timm_folder", CONFIG,
     lambda: b'{"architecture": "resnet18", "pretrained_cfg": {"mean": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}",
     (CLEAR, "nested deeper than 32")),
    ("timm: std [0, 0, 0]", "timm_folder", CONFIG, lambda: _config(lambda c: c["pretrained_cfg"].update(std=[0] * 3)),
     (CLEAR, "std` must be positive")),
    ("timm: std 2**63", "timm_folder", CONFIG, lambda: _config(lambda c: c["pretrained_cfg"].update(std=2**63)),
     (CLEAR, "three finite numbers")),
    ("timm: no mean (was ImageNet's, silently)", "timm_folder", CONFIG,
     lambda: _config(lambda c: [c["pretrained_cfg"].pop(k) for k in ("mean", "input_size")]), (CLEAR, "lacks `mean`")),
    ("timm: index entry ../../etc/passwd", "timm_folder", INDEX,
     lambda: _index(lambda i: i["weight_map"].update({"bn1.weight": "../../etc/passwd"})),
     (CLEAR, "no path may leave the folder")),
    ("timm: index entry '.'", "timm_folder", INDEX, lambda: _index(lambda i: i["weight_map"].update({"bn1.bias": "."})),
     (CLEAR, "no path may leave the folder")),
    ("timm: index without weight_map", "timm_folder", INDEX, lambda: b'{"metadata": {}}', (CLEAR, "weight_map")),
    ("timm: header length beyond the file", "timm_folder", WEIGHTS,
     lambda: (10**9).to_bytes(8, "little") + _seed("timm_folder", WEIGHTS)[8:],
     (CLEAR, "is not a readable safetensors file (SafetensorError")),
    ("timm: a tensor missing (was replaced by one whose name ends alike)", "timm_folder", WEIGHTS,
     lambda: _tensors(lambda t: t.pop("bn1.running_mean")), (CLEAR, "Missing: ['bn1.running_mean']")),
    ("timm: a tensor of another shape", "timm_folder", WEIGHTS,
     lambda: _tensors(lambda t: t.update({"conv_stem.weight": t["conv_stem.weight"][:4]})),
     (CLEAR, "do not fit mobilenetv3_small_050")),
    ("timm: FIFO as model.safetensors (hung)", "timm_folder", WEIGHTS, lambda: special("fifo"), (CLEAR, "a FIFO")),
    ("timm: model.safetensors a link to /dev/zero", "timm_folder", WEIGHTS, lambda: special("dev-zero"),
     (CLEAR, "outside")),
    # 2. exported artifacts: LiteRT's SIGSEGVs, metadata trusted unchecked, runtime errors naming no file
    ("tflite: MEAN opcode swapped for SPLIT (SIGSEGV)", "artifact", "model.tflite", _swap_opcode("MEAN", "SPLIT"),
     (CLEAR, "in a separate process, failed")),
    ("tflite: FULLY_CONNECTED swapped for STRIDED_SLICE (SIGSEGV)", "artifact", "model.tflite",
     _swap_opcode("FULLY_CONNECTED", "STRIDED_SLICE"), (CLEAR, "model.tflite")),
    ("tflite: an input index of -1 (SIGSEGV)", "artifact", "model.tflite", lambda: _tflite(_first_input_minus_one),
     (CLEAR, "model.tflite")),
    ("tflite: pool filter height -2**31 (SIGSEGV)", "artifact", "model.tflite", lambda: _tflite(_pool_filter),
     (CLEAR, "model.tflite")),
    ("tflite: 4 class names for 3 outputs", "artifact", "model.tflite", lambda: _tflite_metadata(class_names=list("abcd")),
     (CLEAR, "it has 3 outputs but carries 4 class names")),
    ("tflite: head kind binary on 3 outputs (wrong labels, silently)", "artifact", "model.tflite",
     lambda: _tflite_metadata(head_kind="binary"), (CLEAR, "head kind 'binary' has one sigmoid output")),
    ("onnx: input of rank 5", "artifact", "model.onnx", lambda: _onnx_shape("input", [1, 16, 16, 1, 1]),
     (CLEAR, "its input must be a batch of images")),
    ("tflite: output of rank 3 (TypeError)", "artifact", "model.tflite", _tflite_shape("output", [-1, 3, 1]),
     (CLEAR, "its output must be (N, units)")),
    ("tflite: output of rank 0 (IndexError)", "artifact", "model.tflite", _tflite_shape("output", []),
     (CLEAR, "its output must be (N, units)")),
    ("tflite: declared height 2**31-1 (blamed on the images)", "artifact", "model.tflite",
     _tflite_shape("input", [-1, 2**31 - 1, 16, 1]), (CLEAR, "at most 8192 pixels a side")),
    ("tflite: declared input of 262,172 rows (4.9 GB)", "artifact", "model.tflite",
     _tflite_shape("input", [-1, 262_172, 16, 1]), (CLEAR, "at most 8192 pixels a side")),
    ("onnx: declared height 2**31-1", "artifact", "model.onnx", lambda: _onnx_shape("input", [1, 2**31 - 1, 16, 1]),
     (CLEAR, "model.onnx")),
    ("FIFO as the artifact (hung)", "artifact", "model.tflite", lambda: special("fifo"), (CLEAR, "a FIFO")),
    # 3. special files in the old loaders
    ("CIFAR batch a FIFO (hung)", "cifar_batch", "cifar-10-batches-py/data_batch_1", lambda: special("fifo"),
     (CLEAR, "a FIFO")),
    ("CIFAR batch a link to /dev/zero (MemoryError)", "cifar_batch", "cifar-10-batches-py/data_batch_1",
     lambda: special("dev-zero"), (CLEAR, "a character device")),
    ("state.json a FIFO (hung)", "checkpoint", "run/state.json", lambda: special("fifo"), (CLEAR, "a FIFO")),
    ("resume .npz a FIFO (hung)", "checkpoint", "run/resume-0004.npz", lambda: special("fifo"), (CLEAR, "a FIFO")),
    ("resume .npz a link to /dev/zero (MemoryError)", "checkpoint", "run/resume-0004.npz",
     lambda: special("dev-zero"), (CLEAR, "a character device")),
    ("model.keras a FIFO", "keras_file", "model.keras", lambda: special("fifo"), (CLEAR, "a FIFO")),
    ("an image a FIFO", "predict_image", "images/1.png", lambda: special("fifo"), (LOADED, "a FIFO")),
    # 4. resume: numbers outside what training gives
    ("state: early_stopping.best 2**63", "checkpoint", "run/state.json", lambda: _state(best=2**63),
     (CLEAR, "early_stopping=")),
    ("state: early_stopping.best 10**30", "checkpoint", "run/state.json", lambda: _state(best=10**30),
     (CLEAR, "early_stopping=")),
    ("state: early_stopping.best 1e30", "checkpoint", "run/state.json", lambda: _state(best=1e30),
     (CLEAR, "early_stopping=")),
    ("state: early_stopping.wait -1", "checkpoint", "run/state.json", lambda: _state(wait=-1),
     (CLEAR, "early_stopping=")),
]
