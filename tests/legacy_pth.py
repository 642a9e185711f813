"""Write PyTorch's legacy (non-zip) ``.pth`` stream from numpy arrays, opcode by opcode, for the reader's tests.

The layout is ``torch.save(state_dict, f, _use_new_zipfile_serialization=False)``'s:
magic, protocol, system information, the state dict (tensors rebuilt by
``torch._utils._rebuild_tensor_v2`` from storages given as persistent ids), the
storage keys, then per storage an int64 element count and its little-endian
bytes. The state dict pickle is written by hand because ``pickle`` cannot name
torch's globals without torch; each part can be replaced to make a hostile file.
"""

import pickle
import struct

import numpy as np

MAGIC, PROTOCOL = 0x1950A86A20F9469CFC6C, 1001
SYS_INFO = {"protocol_version": PROTOCOL, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}
STORAGE_NAMES = {"float32": "FloatStorage", "float64": "DoubleStorage", "float16": "HalfStorage",
                 "int64": "LongStorage", "int32": "IntStorage", "int16": "ShortStorage", "int8": "CharStorage",
                 "uint8": "ByteStorage", "bool": "BoolStorage"}


def global_(module, name):
    return b"c" + f"{module}\n{name}\n".encode()


def text(s):
    raw = s.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def integer(i):
    return b"J" + struct.pack("<i", i)


def tuple_(items):
    return b"(" + b"".join(items) + b"t"


def ordered_dict():
    return global_("collections", "OrderedDict") + b")R"


def tensor(key, storage_name, numel, offset, size, stride, rebuild=("torch._utils", "_rebuild_tensor_v2")):
    """``_rebuild_tensor_v2(<storage key>, offset, size, stride, False, OrderedDict())`` as opcodes."""
    pid = tuple_([text("storage"), global_("torch", storage_name), text(key), text("cpu"), integer(numel), b"N"])
    args = [pid + b"Q", integer(offset), tuple_(map(integer, size)), tuple_(map(integer, stride)), b"\x89",
            ordered_dict()]
    return global_(*rebuild) + tuple_(args) + b"R"


def state_pickle(entries):
    """``entries``: (name, tensor opcodes) pairs -> the state dict pickle (an OrderedDict)."""
    body = b"".join(text(name) + value for name, value in entries)
    return b"\x80\x02" + ordered_dict() + b"(" + body + b"u."


def contiguous_strides(shape):
    strides, step = [], 1
    for n in reversed(shape):
        strides.insert(0, step)
        step *= max(n, 1)
    return strides


def legacy_bytes(arrays, counts=None, keys=None, state=None, header=(MAGIC, PROTOCOL, SYS_INFO)):
    """The legacy stream of ``{name: array}``, one storage per array (key ``"k<i>"``).

    ``counts``, ``keys`` and ``state`` replace the written element counts, the storage
    key list and the state dict pickle (to write files that lie).
    """
    names = list(arrays)
    store = [np.array(arrays[n], order="C") for n in names]  # not ascontiguousarray: it makes 0-d arrays 1-d
    entries = [(n, tensor(f"k{i}", STORAGE_NAMES[a.dtype.name], a.size, 0, a.shape, contiguous_strides(a.shape)))
               for i, (n, a) in enumerate(zip(names, store))]
    out = b"".join(pickle.dumps(h, protocol=2) for h in header)
    out += state if state is not None else state_pickle(entries)
    out += pickle.dumps(keys if keys is not None else [f"k{i}" for i in range(len(names))], protocol=2)
    for i, a in enumerate(store):
        count = a.size if counts is None else counts[i]
        out += struct.pack("<q", count) + a.astype(a.dtype.newbyteorder("<")).tobytes()
    return out
