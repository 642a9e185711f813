"""CIFAR-10 batches that are hostile, broken or re-saved: a clear error naming the file, or the right data.

Issue 11, findings 1 and 2: an object array whose pointer came from the file
crashed Python; a 100-byte pickle could ask for a multi-GiB array; float or
int16 data was cast to uint8 silently; labels out of 0-9 and a label count
that differs from the row count were accepted.
"""

import os
import pickle
import re
import subprocess
import sys

import numpy as np
import pytest

from datasets import cifar10
from datasets_fixtures import cifar_arrays, py2_pickle, write_cifar_binary, write_cifar_python

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# ndarray((1,), dtype("O"), buffer=b"AAAAAAAA"): an object array whose one pointer is 0x4141414141414141.
SEGFAULT = (b"\x80\x02}(C\x06labels]K\x00aC\x04datacnumpy\nndarray\n(K\x01\x85cnumpy\ndtype\n"
            b"X\x01\x00\x00\x00O\x85RC\x08AAAAAAAAtRu.")
# _reconstruct(ndarray, (2**30, 4096), b"B") and no BUILD: 4 TiB asked for by 90 bytes.
HUGE = (b"\x80\x02}(C\x06labels]K\x00aC\x04datacnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n"
        b"J\x00\x00\x00@M\x00\x10\x86C\x01B\x87Ru.")
# _reconstruct(ndarray, (1, 3072), b"B") and no BUILD: uninitialised memory, not the file's bytes.
UNBACKED = HUGE.replace(b"J\x00\x00\x00@M\x00\x10", b"K\x01M\x00\x0c")


@pytest.fixture(scope="module")
def arrays():
    return cifar_arrays(n_per_batch=6)


def write_batch(folder, name, raw):
    with open(os.path.join(folder, name), "wb") as f:
        f.write(raw)
    return os.path.join(folder, name)


def batch_dict(images_rows, labels):
    return {b"batch_label": b"testing batch 1 of 1", b"labels": labels, b"data": images_rows,
            b"filenames": [b"x.png"] * len(labels)}


def test_object_array_from_the_file_is_refused_not_a_crash(tmp_path, arrays):
    folder = write_cifar_python(str(tmp_path), arrays)
    write_batch(folder, "test_batch", SEGFAULT)
    # In a child process: on the old reader this was a SIGSEGV, which would kill pytest itself.
    code = f"import datasets.cifar10 as c; c.load({folder!r})"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": ROOT})
    assert proc.returncode == 1, f"exit status {proc.returncode}: {proc.stderr[-2000:]}"
    assert "UnpicklingError" in proc.stderr and "test_batch" in proc.stderr
    assert "numpy dtype 'O' refused" in proc.stderr and folder in proc.stderr


def test_object_dtype_refused_in_every_form():
    for raw in (SEGFAULT, py2_pickle(batch_dict(np.array([None] * 3, dtype=object), [0, 1, 2]))):
        with pytest.raises(pickle.UnpicklingError, match="dtype"):
            cifar10.unpickle(raw, source="test_batch in here")


@pytest.mark.parametrize("raw, what", [(HUGE, "4 TiB"), (UNBACKED, "uninitialised")])
def test_arrays_not_backed_by_the_file_are_refused(raw, what):
    assert len(raw) < 100
    with pytest.raises(pickle.UnpicklingError, match="data_batch_4 in /data/cifar: .*not backed by the file's bytes"):
        cifar10.unpickle(raw, source="data_batch_4 in /data/cifar")


def test_raw_bytes_must_match_the_declared_shape(arrays):
    good = py2_pickle(batch_dict(np.zeros((2, 3072), np.uint8), [0, 1]))
    assert good.count(b"\x00" * 6144) == 1
    short = good.replace(b"T\x00\x18\x00\x00" + b"\x00" * 6144, b"T\x00\x0c\x00\x00" + b"\x00" * 3072)
    with pytest.raises(pickle.UnpicklingError, match="3072 bytes.*6144"):
        cifar10.unpickle(short, source="data_batch_1 in /data")


@pytest.mark.parametrize("data, pattern", [
    (np.random.default_rng(0).uniform(0, 1, (6, 3072)).astype(np.float32), "dtype=float32"),
    (np.full((6, 3072), 300, np.int16), "300"),
    (np.full((6, 3072), -1, np.int32), "-1"),
    (np.zeros((6, 3071), np.uint8), r"\(6, 3071\)"),
])
def test_data_that_would_be_cast_is_an_error(tmp_path, arrays, data, pattern):
    folder = write_cifar_python(str(tmp_path), arrays)
    path = write_batch(folder, "data_batch_2", py2_pickle(batch_dict(data, list(range(6)))))
    with pytest.raises(ValueError, match=pattern) as info:
        cifar10.load(folder)
    assert "data_batch_2" in str(info.value) and folder in str(info.value) and os.path.exists(path)


def test_integer_data_within_0_255_is_read_exactly(tmp_path, arrays):
    folder = write_cifar_python(str(tmp_path), arrays)
    rows = arrays["test_batch"][0].transpose(0, 3, 1, 2).reshape(6, 3072)
    write_batch(folder, "test_batch", py2_pickle(batch_dict(rows.astype(">i2"), list(arrays["test_batch"][1]))))
    _, (x_test, y_test) = cifar10.load(folder)
    assert x_test.dtype == np.uint8
    np.testing.assert_array_equal(x_test, arrays["test_batch"][0])


@pytest.mark.parametrize("labels, pattern", [
    ([0, 1, 2, 3, 4, 11], "11"), ([-1, 1, 2, 3, 4, 5], "-1"),
    ([0, 1, 2, 3, 4], "5 labels.*6 rows"), ([0.0, 1, 2, 3, 4, 5], "float"), ([True] * 6, "bool"),
])
def test_labels_out_of_range_or_count_are_errors(tmp_path, arrays, labels, pattern):
    folder = write_cifar_python(str(tmp_path), arrays)
    write_batch(folder, "data_batch_5", py2_pickle(batch_dict(np.zeros((6, 3072), np.uint8), labels)))
    with pytest.raises(ValueError, match=pattern) as info:
        cifar10.load(folder)
    assert "data_batch_5" in str(info.value) and folder in str(info.value)


def test_nested_or_self_referencing_labels_name_the_batch():
    raw = pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [[0, 1], [2]]}, protocol=2)
    batch = cifar10.unpickle(raw, source="data_batch_1 in /d")
    with pytest.raises(ValueError, match="data_batch_1 in /d: labels must be a list of integers 0-9"):
        cifar10._check_labels(batch[b"labels"], 2, "data_batch_1 in /d")
    loop = []
    loop.append(loop)  # refused while reading now: a data file holds no container inside itself
    raw = pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": loop}, protocol=2)
    with pytest.raises(pickle.UnpicklingError, match="data_batch_1 in /d: a container that holds itself"):
        cifar10.unpickle(raw, source="data_batch_1 in /d")


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_batches_resaved_by_python3_load_at_every_protocol(tmp_path, arrays, protocol):
    folder = write_cifar_python(str(tmp_path), arrays)
    for name in cifar10.TRAIN_BATCHES + (cifar10.TEST_BATCH,):
        with open(os.path.join(folder, name), "rb") as f:
            batch = pickle.load(f, encoding="bytes")  # what a user re-saving the files does
        if name == "data_batch_1":
            batch[b"labels"] = np.asarray(batch[b"labels"], np.int64)  # an array of labels
        if name == "data_batch_2":
            batch[b"labels"] = [np.uint8(v) for v in batch[b"labels"]]  # numpy scalars
        if name == "data_batch_3":
            batch = {k.decode(): v for k, v in batch.items()}  # read with encoding="latin1": str keys
        write_batch(folder, name, pickle.dumps(batch, protocol=protocol))
    (x_train, y_train), (x_test, y_test) = cifar10.load(folder)
    np.testing.assert_array_equal(x_test, arrays["test_batch"][0])
    np.testing.assert_array_equal(y_train[:18], np.concatenate([arrays[f"data_batch_{i}"][1] for i in (1, 2, 3)]))
    assert x_train.shape == (30, 32, 32, 3) and y_train.dtype == np.uint8


def test_codecs_encode_only_as_latin1_of_a_str():
    for args in (b"X\x01\x00\x00\x00xX\x05\x00\x00\x00rot13", b"C\x01xX\x06\x00\x00\x00latin1",
                 b"X\x01\x00\x00\x00xX\x04\x00\x00\x00zlib"):
        raw = b"\x80\x02}(C\x06labels]C\x04datac_codecs\nencode\n(" + args + b"tRu."
        with pytest.raises(pickle.UnpicklingError, match="_codecs.encode"):
            cifar10.unpickle(raw)


def test_ndarray_called_directly_is_refused_even_for_uint8():
    raw = SEGFAULT.replace(b"X\x01\x00\x00\x00O", b"X\x02\x00\x00\x00u1")
    with pytest.raises(pickle.UnpicklingError, match="numpy.ndarray"):
        cifar10.unpickle(raw)


def test_binary_version_labels_are_checked(tmp_path, arrays):
    folder = write_cifar_binary(str(tmp_path), arrays)
    path = os.path.join(folder, "data_batch_3.bin")
    raw = bytearray(open(path, "rb").read())
    raw[3 * 3073] = 10  # the fourth record's label byte
    open(path, "wb").write(bytes(raw))
    with pytest.raises(ValueError, match=r"data_batch_3.bin.*0-9. Received: 10 in record 3"):
        cifar10.load(folder)


def test_declared_lengths_beyond_the_file_allocate_nothing():
    # BINBYTES8 declaring 1 TiB: pickle allocates the declared length before reading (MemoryError before).
    raw = b"\x80\x04\x8e" + (1 << 40).to_bytes(8, "little") + b"x."
    with pytest.raises(pickle.UnpicklingError, match=r"test_batch in /d: truncated or not a pickle.*only 2 remain"):
        cifar10.unpickle(raw, source="test_batch in /d")


def test_the_pickle_machine_reads_every_protocol_and_shared_references():
    labels = [1, 2]
    batch = {b"data": np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072) % 251, b"labels": labels,
             b"pair": (labels, labels), "text": "é", b"f": 0.5, b"big": 2**70, b"none": None}
    for protocol in range(0, 6):
        got = cifar10.unpickle(pickle.dumps(batch, protocol=protocol), source="b")
        assert got[b"labels"] == [1, 2] and got[b"pair"][0] is got[b"pair"][1]  # the memo keeps sharing
        assert np.array_equal(got[b"data"], batch[b"data"]) and got[b"text"] == "é" and got[b"big"] == 2**70


@pytest.mark.parametrize("raw, message", [
    (b"\x80\x02}]\x85R.", "a call of a dict refused"),  # REDUCE on something that is not an allowed global
    (b"\x80\x02}}b.", "BUILD on a dict refused"),  # __setstate__ only on array and dtype descriptions
    (b"\x80\x02c__builtin__\nset\n)R.", "Refusing to load __builtin__.set"),
    (b"\x80\x04\x8f.", "opcode EMPTY_SET refused"),
    (b"\x80\x02N(.", "STOP with 1 values on the stack"),  # a MARK left open
    (b"\x80\x02h\x05.", "memo index 5 read before it was written"),
])
def test_the_pickle_machine_refuses_what_a_batch_never_holds(raw, message):
    with pytest.raises(pickle.UnpicklingError, match=re.escape(f"test_batch in /d: {message}")):
        cifar10.unpickle(raw, source="test_batch in /d")
