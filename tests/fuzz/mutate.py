"""Mutations: byte-level ones for any file, and ones that know the format (pickle, text/JSON, zip, tar.gz, npz).

A mutation loop of our own rather than atheris: each input must run in a child
process under a memory limit (one atheris process would die with its first
SIGSEGV or blow-up), the seeds are whole folders in real formats, and the inputs
that matter most are structures no byte flip reaches in a short run (a tuple
nested 200,000 deep, a memo index of 300,000,000, a ``.npy`` header claiming
10**10 elements, a zip member re-zipped with a valid CRC), which are inserted
directly. Everything is drawn from one ``random.Random``, so a run is repeatable.
"""

import gzip
import io
import json
import pickletools
import struct
import tarfile
import zipfile

_INTS = [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 10**10, 2**63 - 1, 2**64 - 1]
_TEXT_BAD = ['"', "\x00", ",", "\n", "\r", ",,,", "1e309", "nan", "-inf", "99999999999", "-", "\ufeff",
             " ", "\\", "'", "\t", "٣", "1" * 5000]
_JSON_VALUES = ["32000000000", "-1", "1e308", '"x"', "null", "[]", "{}", "true", "0", "[" * 100000 + "]" * 100000,
                '{"a": ' * 3000 + "1" + "}" * 3000, '"../../x.npz"', "3.5", '[null, 32000000000, 3]']
# Pickle snippets no random byte flip writes: deep nesting, huge memo indexes, huge declared lengths, code.
_PICKLE_BAD = [b")" + b"\x85" * 200000, b"N" + b"\x85" * 300000 + b"0", b"Nr" + struct.pack("<I", 300_000_000),
               b"N\x94" * 50000, b"j" + struct.pack("<I", 2**31), b"\x8e" + struct.pack("<Q", 1 << 40),
               b"cos\nsystem\n", b"cnumpy\ndtype\nX\x01\x00\x00\x00O\x85R", b"(" * 100000, b"]" * 100000,
               b"}q\x00(K\x01K\x02u", b"J\xff\xff\xff\x7f", b"\x8a\x08" + b"\xff" * 8, b"\x81", b"b", b"\x95"]


def _bytes_op(rng, data):
    data = bytearray(data)
    if not data:
        return bytes(rng.randbytes(rng.randint(1, 16)))
    i = rng.randrange(len(data))
    op = rng.randrange(9)
    if op == 0:  # flip bits
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif op == 1:  # an interesting byte
        data[i] = rng.choice([0, 1, 0x7F, 0x80, 0xFF])
    elif op == 2:  # an interesting 2/4/8-byte integer, either byte order
        n = rng.choice([2, 4, 8])
        value = rng.choice(_INTS) % (1 << (8 * n))
        data[i:i + n] = value.to_bytes(n, rng.choice(["little", "big"]))
    elif op == 3:  # truncate
        del data[rng.randrange(len(data)):]
    elif op == 4:  # delete a range
        del data[i:i + rng.randint(1, 64)]
    elif op == 5:  # duplicate a range
        j = rng.randrange(len(data))
        data[j:j] = data[i:i + rng.randint(1, 256)]
    elif op == 6:  # insert random bytes
        data[i:i] = rng.randbytes(rng.randint(1, 32))
    elif op == 7:  # append trailing bytes
        data += rng.randbytes(rng.randint(1, 64))
    else:  # overwrite a run with one value
        data[i:i + rng.randint(1, 128)] = bytes([rng.choice([0, 0xFF, 0x20])]) * rng.randint(1, 128)
    return bytes(data)


def _text_op(rng, data):
    text = data.decode("utf-8", "replace")
    i = rng.randrange(len(text) + 1)
    op = rng.randrange(4)
    if op == 0:
        text = text[:i] + rng.choice(_TEXT_BAD) + text[i:]
    elif op == 1:  # replace one number or token
        j = text.find(rng.choice([",", " ", ":", "\n"]), i)
        if j > i:
            text = text[:i] + rng.choice(_TEXT_BAD + ["0", "256", "-1", "1e9", ""]) + text[j:]
    elif op == 2:  # duplicate or drop a line
        lines = text.split("\n")
        k = rng.randrange(len(lines))
        lines.insert(k, lines[rng.randrange(len(lines))]) if rng.random() < 0.5 else lines.pop(k)
        text = "\n".join(lines)
    else:
        return _bytes_op(rng, data)
    return text.encode("utf-8")


def _json_op(rng, data):
    try:
        obj = json.loads(data)
    except (ValueError, RecursionError):
        return _text_op(rng, data)
    paths = []
    todo = [((), obj)]
    while todo:
        path, item = todo.pop()
        paths.append(path)
        if isinstance(item, dict):
            todo += [(path + (k,), v) for k, v in item.items()]
        elif isinstance(item, list):
            todo += [(path + (k,), v) for k, v in enumerate(item)]
    path = rng.choice(paths[1:] or paths)
    if not path:
        return _text_op(rng, data)
    parent = obj
    for k in path[:-1]:
        parent = parent[k]
    marker = "\x00FUZZ\x00"
    if rng.random() < 0.15 and isinstance(parent, dict):
        del parent[path[-1]]
    elif rng.random() < 0.1 and isinstance(parent, dict):
        parent["unknown_key"] = 1
    else:
        parent[path[-1]] = marker
    text = json.dumps(obj)
    return text.replace(json.dumps(marker), rng.choice(_JSON_VALUES)).encode()


def _pickle_op(rng, data):
    try:
        starts = [pos for _, _, pos in pickletools.genops(data)]
    except ValueError:
        return _bytes_op(rng, data)
    i = rng.choice(starts)
    snippet = rng.choice(_PICKLE_BAD)
    if rng.random() < 0.5:
        return data[:i] + snippet + data[i:]
    j = rng.choice([p for p in starts if p >= i])
    return data[:i] + snippet + data[j:]


def _npy_op(rng, data):
    """Change a .npy header: its shape, dtype or version (what np.load trusts before reading)."""
    end = data.find(b"}")
    if not data.startswith(b"\x93NUMPY") or end < 0:
        return _bytes_op(rng, data)
    header = data[:end + 1].decode("latin-1")
    choice = rng.randrange(4)
    if choice == 0:
        header = header.replace("'shape': (", f"'shape': ({rng.choice([10**10, 2**40, 0, 7])}, ", 1)
    elif choice == 1:
        header = header.replace(header[header.find("'descr':"):header.find(",", header.find("'descr':"))],
                                f"'descr': '{rng.choice(['|O', '<U8', '|V4', '<c16', '>f4', '<i8'])}'", 1)
    elif choice == 2:
        header = header.replace("False", "True", 1)
    else:
        return _bytes_op(rng, data)
    return header.encode("latin-1") + data[end + 1:]


_EXTREMES = (-1, 0, 1, 2, 255, -2**31, 2**31 - 1, 2**16, 262_172, -2)


def _extreme(rng, value):
    return rng.choice(_EXTREMES) if rng.random() < 0.8 else value + rng.choice((-1, 1))


def _tflite_op(rng, data):
    """Change the flatbuffer's meaning, not its bytes: an opcode, a tensor index, a shape, an option, a buffer."""
    from ai_edge_litert import schema_py_generated as schema  # the TFLite schema's object API
    import flatbuffers

    try:
        model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))
    except Exception:  # noqa: BLE001  (bytes already damaged: mutate them as bytes)
        return _bytes_op(rng, data)
    graph = model.subgraphs[0]
    choice = rng.randrange(5)
    if choice == 0:  # an opcode swapped (MEAN -> SPLIT was a SIGSEGV)
        code = rng.choice(model.operatorCodes)
        code.builtinCode = code.deprecatedBuiltinCode = rng.randrange(0, 127)
    elif choice == 1:  # an operator's input or output index
        op = rng.choice(graph.operators)
        field = "inputs" if rng.random() < 0.6 or op.outputs is None or not len(op.outputs) else "outputs"
        seq = [int(v) for v in getattr(op, field)] if getattr(op, field) is not None else []
        if seq:
            seq[rng.randrange(len(seq))] = _extreme(rng, seq[0])
            setattr(op, field, seq)
    elif choice == 2:  # a tensor's shape or its signature
        tensor = rng.choice(graph.tensors)
        if tensor.shape is not None and len(tensor.shape):
            shape = [int(v) for v in tensor.shape]
            shape[rng.randrange(len(shape))] = _extreme(rng, shape[0])
            tensor.shape = shape
    elif choice == 3:  # an int field of an operator's options (a pool filter of -2**31 was a SIGSEGV)
        options = rng.choice(graph.operators).builtinOptions
        fields = [k for k, v in vars(options).items() if isinstance(v, int)] if options is not None else []
        if fields:
            key = rng.choice(fields)
            setattr(options, key, _extreme(rng, getattr(options, key)))
    else:  # a tensor pointed at another buffer (a conv writing into a constant)
        rng.choice(graph.tensors).buffer = rng.randrange(len(model.buffers) + 2)
    builder = flatbuffers.Builder(len(data) + 1024)
    try:
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    except (TypeError, ValueError, OverflowError):  # a value outside its field's type (an int8 option)
        return _bytes_op(rng, data)
    out = bytes(builder.Output())
    tail = data.find(b"PK\x03\x04")  # the appended metadata zip, kept
    return out + (data[tail:] if tail > 0 else b"")


def _onnx_op(rng, data):
    """Change the graph: a node's op type or attribute, a declared dimension, an initializer's shape."""
    import onnx

    try:
        model = onnx.load_from_string(data)
    except Exception:  # noqa: BLE001
        return _bytes_op(rng, data)
    graph = model.graph
    choice = rng.randrange(4)
    if choice == 0 and len(graph.node):
        node = rng.choice(graph.node)
        node.op_type = rng.choice([n.op_type for n in graph.node] + ["Split", "Slice", "Gather", "Reshape"])
    elif choice == 1:
        ints = [(a, i) for n in graph.node for a in n.attribute for i in range(len(a.ints))]
        if ints:
            attribute, i = rng.choice(ints)
            attribute.ints[i] = _extreme(rng, attribute.ints[i])
    elif choice == 2:
        value = rng.choice(list(graph.input) + list(graph.output))
        dims = value.type.tensor_type.shape.dim
        if len(dims):
            dims[rng.randrange(len(dims))].dim_value = abs(_extreme(rng, 3))
    elif len(graph.initializer):
        tensor = rng.choice(graph.initializer)
        if len(tensor.dims):
            tensor.dims[rng.randrange(len(tensor.dims))] = _extreme(rng, tensor.dims[0])
    return model.SerializeToString()


def _safetensors_op(rng, data):
    """Change the JSON header (dtypes, shapes, offsets, names) and keep or fix its length field."""
    n = int.from_bytes(data[:8], "little")
    if not 0 < n <= len(data) - 8:
        return _bytes_op(rng, data)
    header = _json_op(rng, data[8:8 + n])
    return len(header).to_bytes(8, "little") + header + data[8 + n:]


def for_name(name):
    """The format-aware mutation for a file or archive member called ``name``."""
    if name.endswith((".json",)):
        return _json_op
    if name.endswith(".tflite"):
        return _tflite_op
    if name.endswith(".onnx"):
        return _onnx_op
    if name.endswith(".safetensors"):
        return _safetensors_op
    if name.endswith((".csv",)):
        return _text_op
    if name.endswith(".npy"):
        return _npy_op
    if "batch" in name or name.endswith(".meta"):
        return _pickle_op
    return _bytes_op


def _rezip(rng, data, depth):
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        members = [(info, zf.read(info)) for info in zf.infolist()]
    k = rng.randrange(len(members))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as out:
        for n, (info, raw) in enumerate(members):
            if n == k:
                raw = mutate_file(rng, info.filename, raw, depth + 1)
            out.writestr(info, raw)
    return buf.getvalue()


def _retar(rng, data, depth):
    tar_bytes = gzip.decompress(data)
    if rng.random() < 0.4:  # the tar stream itself, well compressed
        return gzip.compress(_bytes_op(rng, tar_bytes), mtime=0)
    buf = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar, tarfile.open(fileobj=buf, mode="w") as out:
        members = [m for m in tar.getmembers()]
        k = rng.choice([n for n, m in enumerate(members) if m.isfile()])
        for n, m in enumerate(members):
            raw = tar.extractfile(m).read() if m.isfile() else None
            if n == k:
                raw = mutate_file(rng, m.name, raw, depth + 1)
                m.size = len(raw)
            out.addfile(m, io.BytesIO(raw) if raw is not None else None)
    return gzip.compress(buf.getvalue(), mtime=0)


def mutate_file(rng, name, data, depth=0):
    """``data`` (the file ``name``) with 1 to 3 mutations; archives are mutated inside or as bytes."""
    if depth < 2 and rng.random() < 0.7:
        try:
            if name.endswith((".zip", ".keras", ".npz")) and data[:4] == b"PK\x03\x04":
                return _rezip(rng, data, depth)
            if name.endswith(".tar.gz") and data[:2] == b"\x1f\x8b":
                return _retar(rng, data, depth)
        except Exception:  # noqa: BLE001  (a seed mutated beyond re-packing: fall back to bytes)
            pass
    op = for_name(name)
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        data = (op if rng.random() < 0.75 else _bytes_op)(rng, data)
    return data
