"""CIFAR-10 loaders on files written in the real formats (python pickles, binary records, tar.gz)."""

import os
import pickle

import numpy as np
import pytest

from datasets import cifar10
from datasets_fixtures import cifar_arrays, make_tar_gz, py2_pickle, write_cifar_binary, write_cifar_python


def expected(arrays):
    train = [arrays[f"data_batch_{i}"] for i in range(1, 6)]
    return (np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train])), arrays["test_batch"]


def check(result, arrays):
    (x_train, y_train), (x_test, y_test) = result
    (ex, ey), (tx, ty) = expected(arrays)
    assert x_train.dtype == np.uint8 and x_train.shape == (30, 32, 32, 3)
    assert y_train.dtype == np.uint8 and y_train.shape == (30,)
    np.testing.assert_array_equal(x_train, ex)
    np.testing.assert_array_equal(y_train, ey)
    np.testing.assert_array_equal(x_test, tx)
    np.testing.assert_array_equal(y_test, ty)


@pytest.fixture(scope="module")
def arrays():
    return cifar_arrays(n_per_batch=6)


def test_python_version_folder_and_parent(tmp_path, arrays):
    folder = write_cifar_python(str(tmp_path), arrays)
    check(cifar10.load(folder), arrays)
    check(cifar10.load(tmp_path), arrays)  # the parent that holds cifar-10-batches-py


def test_pickles_are_python2_style(tmp_path, arrays):
    folder = write_cifar_python(str(tmp_path), arrays)
    raw = open(os.path.join(folder, "data_batch_1"), "rb").read()
    assert raw[:2] == b"\x80\x02" and b"numpy.core.multiarray" in raw and b"_codecs" not in raw
    batch = cifar10.unpickle(raw)
    assert set(batch) == {b"batch_label", b"labels", b"data", b"filenames"}
    assert batch[b"data"].dtype == np.uint8 and batch[b"data"].shape == (6, 3072)
    # Row layout: 1024 red values first; pixel (0, 1) red is the second value.
    assert batch[b"data"][0, 1] == arrays["data_batch_1"][0][0, 0, 1, 0]
    assert batch[b"data"][0, 1024] == arrays["data_batch_1"][0][0, 0, 0, 1]


def test_tar_gz_read_without_extracting(tmp_path, arrays):
    folder = write_cifar_python(str(tmp_path / "src"), arrays)
    archive = make_tar_gz(folder, str(tmp_path / "cifar-10-python.tar.gz"))
    check(cifar10.load(archive), arrays)
    os.rename(str(tmp_path / "src"), str(tmp_path / "moved"))
    check(cifar10.load(tmp_path), arrays)  # the folder holding the archive
    assert not os.path.exists(tmp_path / "cifar-10-batches-py")


def test_binary_version_folder_and_tar(tmp_path, arrays):
    folder = write_cifar_binary(str(tmp_path), arrays)
    assert os.path.getsize(os.path.join(folder, "test_batch.bin")) == 6 * 3073
    check(cifar10.load(folder), arrays)
    check(cifar10.load(make_tar_gz(folder, str(tmp_path / "cifar-10-binary.tar.gz"))), arrays)


class Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_hostile_pickle_is_refused_and_never_runs(tmp_path, arrays):
    folder = write_cifar_python(str(tmp_path), arrays)
    marker = tmp_path / "pwned"
    with open(os.path.join(folder, "data_batch_3"), "wb") as f:
        f.write(py2_pickle({b"data": Evil(marker), b"labels": []}))
    with pytest.raises(pickle.UnpicklingError, match="Refusing to load (posix|os|nt).system"):
        cifar10.load(folder)
    assert not marker.exists()


def test_other_globals_refused_even_harmless_ones():
    with pytest.raises(pickle.UnpicklingError, match="__builtin__.set"):
        cifar10.unpickle(py2_pickle({b"data": set(), b"labels": []}))
    # Python 3's own protocol-2 bytes go through _codecs.encode: allowed for latin-1 of a str only
    # (tests/test_datasets_cifar10_hostile.py), so a re-saved batch loads.
    assert cifar10.unpickle(pickle.dumps({b"data": b"", b"labels": []}, protocol=2))[b"data"] == b""


def test_not_a_batch_and_bad_binary_size(tmp_path, arrays):
    with pytest.raises(ValueError, match="Not a CIFAR-10 batch"):
        cifar10.unpickle(py2_pickle([1, 2, 3]))
    folder = write_cifar_binary(str(tmp_path), arrays)
    with open(os.path.join(folder, "data_batch_2.bin"), "ab") as f:
        f.write(b"\x00" * 10)
    with pytest.raises(ValueError, match="multiple of 3073"):
        cifar10.load(folder)


def test_missing_files_and_bad_source(tmp_path):
    with pytest.raises(FileNotFoundError, match="cifar-10-batches-py"):
        cifar10.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        cifar10.load(tmp_path / "nope")
    with pytest.raises(ValueError, match="Received: source='kaggle'"):
        cifar10.load(tmp_path, source="kaggle")


def test_download_uses_get_file_with_published_sha(monkeypatch, tmp_path, arrays):
    import keras

    archive = make_tar_gz(write_cifar_python(str(tmp_path / "src"), arrays),
                          str(tmp_path / "cifar-10-python.tar.gz"))
    calls = {}

    def fake_get_file(**kw):
        calls.update(kw)
        return archive

    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    check(cifar10.load(), arrays)
    assert calls["file_hash"] == "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
    assert calls["origin"].endswith("/~kriz/cifar-10-python.tar.gz") and calls["fname"] == "cifar-10-python.tar.gz"


def test_class_names_and_pipelines(tmp_path, arrays):
    assert cifar10.class_names[3] == "cat" and len(cifar10.class_names) == 10
    write_cifar_python(str(tmp_path), arrays)
    train, val = cifar10.pipelines(tmp_path, batch_size=8, augment=True, rescale=1 / 255)
    xb, yb = next(iter(train))
    assert xb.shape == (8, 32, 32, 3) and xb.dtype.name == "float32" and float(np.max(xb)) <= 1.0
    assert sum(int(x.shape[0]) for x, _ in val) == 6  # the official test batch
    _, val = cifar10.pipelines(tmp_path, batch_size=8, validation_split=0.2)
    assert sum(int(x.shape[0]) for x, _ in val) == 6  # 20% of 30 training images
