"""Checking a checkpoint folder's files before a resume uses them: ``state.json``'s schema, the ``.npz`` arrays.

A damaged or hand-edited folder used to fail deep inside a resume (``TypeError``,
``KeyError``, ``AttributeError`` or ``RecursionError``, some only mid-training),
and a ``.npy`` header claiming 10**10 elements made numpy allocate 37 GiB before
reading a byte. Here everything is checked first, and every error is a
``ValueError`` naming the file and the key:

* ``state.json``: exactly the keys :class:`transfer.training.run_state.RunState` has, each
  of its type and range, ``resume_file`` a plain ``resume-NNNN.npz`` name (never a
  path), the nested ``run`` record at most 32 levels deep;
* ``resume-NNNN.npz``: only ``model/i``, ``optimizer/i``, ``early_stopping/i`` and ``ema/i``
  keys, numbered from 0 without gaps; each array of a plain numeric dtype
  (object arrays are refused, ``allow_pickle=False``), its size declared in its
  header backed by the bytes the archive holds, read only after that; EarlyStopping's
  best weights shaped like the model's weights;
* before assigning: as many arrays as variables, each of the variable's shape and dtype.

Example:
    >>> import json
    >>> _ = open("state.json", "w").write(json.dumps({"format": 2, "phase": "one"}))
    >>> read_state_file("state.json", 2, fields=["format", "phase", "run"])
    Traceback (most recent call last):
    ...
    ValueError: state.json: not a run state written by transfer.fine_tune: keys missing: ['run']. ...
"""

import json
import math
import re
import struct
import tokenize
import zipfile
import zlib

import numpy as np
from zoo.files import check_regular_file, read_regular

GROUPS = ("model", "optimizer", "early_stopping", "ema")
_RESUME_NAME = re.compile(r"resume-\d{4,9}\.npz")
_ARRAY_KEY = re.compile(rf"({'|'.join(GROUPS)})/(\d{{1,6}})")
_MAX_COUNT = 10**7  # epochs, saves: a bound no real run reaches, far below what would overflow anything
_MAX_DEPTH = 32
# A loss or metric beyond this is no training's; and 2**63 or 10**30 fail inside fit as a tensor (an int64
# overflow), naming no file.
_MAX_METRIC = 1e15
MAX_STATE_BYTES = 16 << 20  # a state.json is a few KB; its history grows by a few numbers an epoch
MAX_NPZ_BYTES = 64 << 30  # the weights, optimizer slots and EarlyStopping state of a large model
_COUNTERS = ("wait", "best", "best_epoch", "stopped_epoch")
# What zipfile / numpy raise for a damaged .npz (OSError: a bad offset; the file itself was found).
_DAMAGED = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError,
            IndexError, struct.error, OverflowError, ValueError, KeyError, TypeError, OSError,
            tokenize.TokenError, SyntaxError)  # the last two: numpy parsing a damaged .npy header


def _int(value):
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_COUNT


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _metric(value):
    """A monitored value as training records it: a float within +-1e15, or Keras's starting +-inf (never nan)."""
    if not _number(value):
        return False
    return abs(value) <= _MAX_METRIC or (isinstance(value, float) and math.isinf(value))


def _counter(key, value):
    """An EarlyStopping field in the range training gives it (``best`` a metric, the rest epoch counts)."""
    return value is None or (_metric(value) if key == "best" else _int(value))


def _depth(value):
    """Nesting depth of JSON-like ``value``, without recursion."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if deepest > _MAX_DEPTH:
                return deepest
            todo += [(v, depth + 1) for v in (item.values() if isinstance(item, dict) else item)]
    return deepest


def _problems(state, fields):
    """What is wrong with a parsed state (an empty list when nothing is)."""
    keys = set(state)
    if keys != set(fields):
        missing, unknown = sorted(set(fields) - keys), sorted(keys - set(fields))
        return [f"keys missing: {missing}"] * bool(missing) + [f"keys unknown: {unknown}"] * bool(unknown)
    checks = {
        "phase": state["phase"] in (1, 2) and not isinstance(state["phase"], bool),
        "epoch_in_phase": _int(state["epoch_in_phase"]),
        "phase1_epochs": _int(state["phase1_epochs"]),
        "saves": _int(state["saves"]),
        "best": state["best"] is None or _metric(state["best"]),
        "run": isinstance(state["run"], dict) and _depth(state["run"]) <= _MAX_DEPTH,
        "resume_file": isinstance(state["resume_file"], str) and bool(_RESUME_NAME.fullmatch(state["resume_file"])),
        "history": isinstance(state["history"], dict) and all(
            isinstance(k, str) and isinstance(v, list) and all(_number(x) for x in v)
            for k, v in state["history"].items()),
        "early_stopping": state["early_stopping"] is None or (
            isinstance(state["early_stopping"], dict) and set(state["early_stopping"]) <= set(_COUNTERS)
            and all(_counter(k, v) for k, v in state["early_stopping"].items())),
    }
    bad = [f"{key}={state[key]!r:.80}" for key, ok in checks.items() if not ok]
    if not bad:
        lengths = {len(v) for v in state["history"].values()}
        done = lengths.pop() if len(lengths) == 1 else (0 if not lengths else None)
        if done is None:
            bad.append("history: metrics of different lengths")
        elif state["phase1_epochs"] > done or state["epoch_in_phase"] > done:
            bad.append(f"phase1_epochs={state['phase1_epochs']}, epoch_in_phase={state['epoch_in_phase']} "
                       f"but the history holds {done} epochs")
    return bad


def read_state_file(path, fmt, fields=None):
    """Parse and check ``state.json``; return it as a dict. ``fields``: the state's keys (RunState's).

    Example:
        >>> read_state_file("missing/state.json", 2)
        Traceback (most recent call last):
        ...
        FileNotFoundError: [Errno 2] No such file or directory: 'missing/state.json'
    """
    try:
        state = json.loads(read_regular(path, MAX_STATE_BYTES, "a run state").decode("utf-8"))
    except ValueError as err:  # not UTF-8, not JSON, an integer of more than 4300 digits
        raise ValueError(f"{path} is not a run state written by transfer.fine_tune ({str(err)[:200]}).") from None
    except RecursionError:
        raise ValueError(f"{path} is not a run state written by transfer.fine_tune (JSON nested too deep).") from None
    if not isinstance(state, dict) or state.get("format") != fmt:
        raise ValueError(f"{path} was written by another version of transfer.fine_tune, so this run cannot be "
                         "resumed; start it again with overwrite=True. "
                         f"Received: format={state.get('format') if isinstance(state, dict) else None!r:.80}")
    if fields is not None:
        bad = _problems(state, fields)
        if bad:
            raise ValueError(f"{path}: not a run state written by transfer.fine_tune: {'; '.join(bad)}. "
                             "Start the run again with overwrite=True.")
    return state


def _array_header(zf, info, where):
    """(shape, dtype) from a member's .npy header, checked against the bytes the member holds."""
    with zf.open(info) as f:
        version = np.lib.format.read_magic(f)
        read = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        if version not in read:
            raise ValueError(f"{where}: .npy format version {version} unknown")
        shape, _, dtype = read[version](f)
        header_bytes = f.tell()
    if dtype.kind not in "biuf" or dtype.hasobject or dtype.fields:
        raise ValueError(f"{where}: dtype {dtype} refused; weights are plain numbers (an object array "
                         "would need allow_pickle, which runs code from the file)")
    need = math.prod(shape) * dtype.itemsize
    if need != info.file_size - header_bytes:
        raise ValueError(f"{where}: its header declares shape {shape} of {dtype} ({need} bytes), but the file "
                         f"holds {info.file_size - header_bytes} bytes of data")
    return shape, dtype


def load_arrays(path):
    """``{group: [arrays]}`` of a ``resume-NNNN.npz``, every header and key checked before any array is read.

    Example:
        >>> np.savez("resume-0001.npz", **{"model/0": np.zeros(2, np.float32), "model/7": np.zeros(1)})
        >>> load_arrays("resume-0001.npz")
        Traceback (most recent call last):
        ...
        ValueError: resume-0001.npz: the arrays of model must be numbered 0 to 1; found [0, 7].
    """
    size = check_regular_file(path, MAX_NPZ_BYTES, "a resume file")  # a FIFO would block, /dev/zero never end
    try:
        with zipfile.ZipFile(path) as zf:
            found = {}
            for info in zf.infolist():
                key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                match = _ARRAY_KEY.fullmatch(key)
                if not match:
                    raise ValueError(f"{path}: key {key!r} unknown; a resume file holds "
                                     f"{', '.join(g + '/N' for g in GROUPS)}")
                if info.compress_size > size or info.file_size > 1032 * info.compress_size + 4096:
                    raise ValueError(f"{path}: key {key!r} declares {info.file_size} bytes, more than the "
                                     f"{size}-byte file can hold")
                _array_header(zf, info, f"{path}, key {key!r}")
                found.setdefault(match.group(1), {})[int(match.group(2))] = info
            for group, items in found.items():
                if sorted(items) != list(range(len(items))):
                    raise ValueError(f"{path}: the arrays of {group} must be numbered 0 to {len(items) - 1}; "
                                     f"found {sorted(items)}.")
            if "model" not in found:
                raise ValueError(f"{path}: no model weights (keys model/0, model/1, ...).")
            arrays = {}
            for group, items in found.items():
                arrays[group] = []
                for i in range(len(items)):
                    with zf.open(items[i]) as f:
                        arrays[group].append(np.lib.format.read_array(f, allow_pickle=False))
    except ValueError as err:
        if str(err).startswith(path):
            raise
        raise ValueError(f"{path} is damaged ({type(err).__name__}: {err}); resume from an earlier run or "
                         "start again with overwrite=True.") from None
    except _DAMAGED as err:
        raise ValueError(f"{path} is damaged ({type(err).__name__}: {err}); resume from an earlier run or "
                         "start again with overwrite=True.") from None
    stop = arrays.get("early_stopping")
    if stop is not None and [a.shape for a in stop] != [a.shape for a in arrays["model"]]:
        raise ValueError(f"{path}: EarlyStopping's best weights ({len(stop)} arrays) are not shaped like the "
                         f"model's weights ({len(arrays['model'])} arrays).")
    return arrays


def check_assignable(variables, arrays, what, path):
    """ValueError naming ``path`` unless each array fits its variable (count, shape and dtype).

    Example:
        >>> v = keras.Variable(np.zeros(3, np.float32))
        >>> check_assignable([v], [np.zeros(2, np.float32)], "model weights", "resume-0001.npz")
        Traceback (most recent call last):
        ...
        ValueError: The model weights saved in resume-0001.npz do not fit this run: ...
    """
    shapes_differ = len(arrays) != len(variables) or any(
        tuple(v.shape) != a.shape for v, a in zip(variables, arrays))
    if shapes_differ:
        raise ValueError(f"The {what} saved in {path} do not fit this run: saved {len(arrays)} arrays of shapes "
                         f"{[a.shape for a in arrays][:4]}..., now {len(variables)} of "
                         f"{[tuple(v.shape) for v in variables][:4]}...")
    for i, (v, a) in enumerate(zip(variables, arrays)):
        if np.dtype(a.dtype) != np.dtype(v.dtype):
            raise ValueError(f"The {what} saved in {path} do not fit this run: array {i} is {a.dtype}, "
                             f"the variable {v.path} is {v.dtype}.")
