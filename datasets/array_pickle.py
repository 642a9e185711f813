"""Read pickles of dicts, lists, bytes and plain numeric numpy arrays without running code from the file.

Unpickling calls whatever the file names. The file is run by
``datasets.pickle_machine`` (a restricted interpreter, never the C unpickler), whose
``find_class`` is the one door: here it never hands out numpy's own ``ndarray``, ``dtype``,
``_reconstruct`` or ``_frombuffer``, but stand-ins that only *describe* an array
while the pickle is read. An array is built at the end of its description, and
only by ``np.frombuffer`` over bytes that came from the file, after checking:

* the dtype is a plain number (bool, int, uint, float of 1, 2, 4 or 8 bytes, either
  byte order): object, string, void and structured dtypes are refused, so no
  pointer or Python object can come out of the file;
* the bytes are exactly ``prod(shape) * itemsize`` long: nothing is allocated that
  the file does not hold (numpy's ``_reconstruct`` allocates whatever shape it is
  told, uninitialised, before any data is read; here that shape is ignored);
* ``numpy.ndarray`` is never called (its ``buffer=`` argument is how an object
  array with a pointer chosen by the file was made).

The forms numpy writes are all accepted: ``_reconstruct`` + ``__setstate__``
(protocols 0-4, numpy 1's ``numpy.core`` and numpy 2's ``numpy._core``),
``_frombuffer`` (protocol 5) and ``scalar`` (a numpy number). Python 3 writes
bytes at protocol 2 as ``_codecs.encode(str, "latin1")``; that one call is
allowed, for a ``str`` argument and the latin-1 codec only (and ``bytes()``, its
form of an empty bytes object).

Example:
    >>> import pickle
    >>> raw = pickle.dumps({b"data": np.arange(6, dtype=np.uint8).reshape(2, 3)}, protocol=2)
    >>> loads(raw, source="example")[b"data"]
    array([[0, 1, 2],
           [3, 4, 5]], dtype=uint8)
"""

import math
import pickle
import re
import reprlib

import numpy as np

from datasets import pickle_machine

_PLAIN_DTYPE = re.compile(r"[biuf][1248]")
_BYTE_ORDERS = ("<", ">", "|", "=")


class _Refused(pickle.UnpicklingError):
    """Raised by the stand-ins; ``loads`` adds the file's name."""


def _short(value):
    """repr for messages: bounded in depth and length, so a hostile nested value cannot overflow it."""
    return reprlib.repr(value)


def _text(value):
    return value.decode("latin-1") if isinstance(value, bytes) else value


class _Dtype:
    """Stands for ``numpy.dtype(code, align, copy)`` followed by numpy's ``__setstate__``."""

    def __init__(self, code):
        code = _text(code)
        if not isinstance(code, str) or not _PLAIN_DTYPE.fullmatch(code):
            raise _Refused(f"numpy dtype {_short(code)} refused: only plain numbers (bool, int, uint, float; "
                           f"1, 2, 4 or 8 bytes) are read, never object, string or structured dtypes")
        self.dtype = np.dtype(code)

    def __setstate__(self, state):
        # numpy's state: (version, byte order, subarray, names, fields, elsize, alignment, flags)
        if not isinstance(state, tuple) or len(state) < 5 or any(s is not None for s in state[2:5]):
            raise _Refused(f"numpy dtype state {_short(state)} refused: only plain numeric dtypes are read")
        order = _text(state[1])
        if order not in _BYTE_ORDERS:
            raise _Refused(f"numpy dtype byte order {_short(order)} refused; allowed: {_BYTE_ORDERS}")
        if order in "<>":
            self.dtype = self.dtype.newbyteorder(order)


def _dtype(code, align=False, copy=True):
    return _Dtype(code)


def _shape(shape):
    if not isinstance(shape, tuple) or not all(isinstance(d, int) and 0 <= d < 2**63 for d in shape):
        raise _Refused(f"array shape {_short(shape)} refused: a tuple of non-negative ints is expected")
    return shape


def _from_file_bytes(raw, dtype, shape, order="C"):
    """The one place an array is made: a view of bytes the file held, of exactly the declared size."""
    if not isinstance(dtype, _Dtype):
        raise _Refused(f"array dtype {_short(dtype)} refused: it must be a numpy dtype read from the file")
    shape = _shape(shape)
    if isinstance(raw, str):  # a latin-1 str: how Python 2 bytes look when read with encoding="latin1"
        raw = raw.encode("latin-1")
    if not isinstance(raw, (bytes, bytearray)):
        raise _Refused(f"array data of type {type(raw).__name__} refused: expected bytes")
    need = math.prod(shape) * dtype.dtype.itemsize
    if len(raw) != need:
        raise _Refused(f"array of shape {shape} and dtype {dtype.dtype} refused: the file holds {len(raw)} "
                       f"bytes for it but it needs {need}; an array is only made from the file's own bytes")
    return np.frombuffer(raw, dtype=dtype.dtype).reshape(shape, order="F" if order == "F" else "C")


class _Array:
    """Stands for ``_reconstruct(ndarray, shape, typecode)``, an empty array until numpy's ``__setstate__``."""

    array = None

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) == 5:  # numpy >= 1: (version, shape, dtype, fortran, raw)
            state = state[1:]
        if not isinstance(state, tuple) or len(state) != 4:
            raise _Refused(f"array state of type {type(state).__name__} refused")
        shape, dtype, fortran, raw = state
        self.array = _from_file_bytes(raw, dtype, shape, "F" if fortran else "C")


def _reconstruct(cls, shape, typecode):
    if cls is not _NDARRAY:
        raise _Refused(f"_reconstruct of {_short(cls)} refused: only numpy.ndarray is rebuilt")
    return _Array()  # the shape asked for here is never allocated


def _frombuffer(buf, dtype, shape, order, axis_order=None):
    if axis_order is not None:
        raise _Refused("_frombuffer with an axis order refused: only C or Fortran order is read")
    return _from_file_bytes(buf, dtype, shape, _text(order))


def _scalar(dtype, raw):
    return _from_file_bytes(raw, dtype, ())[()]


def _latin1_encode(obj, encoding="utf-8", errors="strict"):
    if not isinstance(obj, str) or _text(encoding) not in ("latin1", "latin-1") or errors != "strict":
        raise _Refused(f"_codecs.encode({type(obj).__name__}, {_short(encoding)}) refused: only Python 3's "
                       "latin-1 encoding of a str (its protocol-2 form of bytes) is allowed")
    return obj.encode("latin-1")


def _empty_bytes(*args):
    if args:
        raise _Refused(f"bytes{_short(args)} refused: only bytes() (Python 3's protocol-2 form of b'') is allowed")
    return b""


class _NdarrayName:
    """What ``numpy.ndarray`` resolves to: a token for ``_reconstruct``, never callable."""

    def __call__(self, *args, **kwargs):
        raise _Refused("numpy.ndarray(...) called directly refused: its buffer argument lets a file choose "
                       "the array's memory (an object array with pointers from the file); arrays are only "
                       "rebuilt through numpy's _reconstruct or _frombuffer")

    def __repr__(self):
        return "numpy.ndarray"


_NDARRAY = _NdarrayName()
# (module, name) -> stand-in. numpy 2 renamed numpy.core to numpy._core; files name either.
STAND_INS = {("numpy", "ndarray"): _NDARRAY, ("numpy", "dtype"): _dtype, ("_codecs", "encode"): _latin1_encode,
             ("__builtin__", "bytes"): _empty_bytes}
for _core in ("numpy.core", "numpy._core"):
    STAND_INS.update({(f"{_core}.multiarray", "_reconstruct"): _reconstruct,
                      (f"{_core}.multiarray", "scalar"): _scalar,
                      (f"{_core}.numeric", "_frombuffer"): _frombuffer})


def _find_class(module, name):
    if (module, name) not in STAND_INS:
        allowed = ", ".join(sorted(f"{m}.{n}" for m, n in STAND_INS))
        raise _Refused(f"Refusing to load {module}.{name}: this file should only hold dicts, lists, bytes "
                       f"and numeric numpy arrays, so it is not such a file (and may be hostile). "
                       f"Allowed: {allowed}")
    return STAND_INS[(module, name)]


def _finish(value, source):
    if isinstance(value, _Array):
        if value.array is None:
            raise pickle.UnpicklingError(
                f"{source}: an array without data refused: numpy's _reconstruct asked for memory that is not "
                f"backed by the file's bytes (uninitialised, of any size the file names)")
        return value.array
    if isinstance(value, _Dtype):
        return value.dtype
    return value


def loads(data, source="<bytes>"):
    """Unpickle ``data`` with the stand-ins above; ``source`` names the file in every error.

    Returns the unpickled object with the arrays it holds (at the top level, in a
    dict's values, or in a list that is such a value) made from the file's bytes.
    Bytes keys and strings stay as they are (``encoding="bytes"``, as the Python 2
    files need).

    Example:
        >>> loads(b"\\x80\\x02cos\\nsystem\\nX\\x02\\x00\\x00\\x00ls\\x85R.", source="evil.pkl")
        Traceback (most recent call last):
        ...
        _pickle.UnpicklingError: evil.pkl: Refusing to load os.system: ...
    """
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError(f"{source}: expected the file's bytes. Received: {type(data).__name__}")
    # Not pickle.Unpickler: see datasets.pickle_machine for what the C unpickler does with a hostile file.
    obj = pickle_machine.run(data, _find_class, (_Array, _Dtype), source)
    if isinstance(obj, dict):
        obj = {key: [_finish(v, source) for v in value] if isinstance(value, list) else _finish(value, source)
               for key, value in obj.items()}
    elif isinstance(obj, list):
        obj = [_finish(v, source) for v in obj]
    return _finish(obj, source)
