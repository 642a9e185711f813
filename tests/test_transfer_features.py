"""Feature cache: the second call reads the file; changed weights or inputs recompute."""

import os

import numpy as np
import pytest

import transfer
from transfer.training import features


@pytest.fixture
def setup(tmp_path, monkeypatch):
    base = transfer.load_backbone("cnn_mnist", weights=None, input_shape=(12, 12, 1))
    x = np.random.RandomState(0).randint(0, 256, (20, 12, 12, 1)).astype("float32")
    calls = []
    compute = features._compute

    def counting(*args, **kwargs):
        calls.append(1)
        return compute(*args, **kwargs)

    monkeypatch.setattr(features, "_compute", counting)
    return base, x, calls, tmp_path / "cache"


def test_second_call_reads_the_cache(setup):
    base, x, calls, cache = setup
    first = transfer.extract_features(base, x, cache_dir=cache)
    path = transfer.cache_path(base, x, cache)
    mtime = os.stat(path).st_mtime_ns
    second = transfer.extract_features(base, x, cache_dir=cache)
    assert len(calls) == 1 and os.stat(path).st_mtime_ns == mtime
    np.testing.assert_array_equal(first, second)
    assert first.shape == (20, 32)


def test_changed_weights_or_inputs_recompute(setup):
    base, x, calls, cache = setup
    transfer.extract_features(base, x, cache_dir=cache)
    x2 = x.copy()
    x2[0, 0, 0, 0] += 1  # one pixel
    transfer.extract_features(base, x2, cache_dir=cache)
    assert len(calls) == 2
    kernel = base.get_layer("block2_conv").kernel
    kernel.assign(kernel + 0.01)
    changed = transfer.extract_features(base, x, cache_dir=cache)
    assert len(calls) == 3
    transfer.extract_features(base, x, pooling="max", cache_dir=cache)
    assert len(calls) == 4
    assert len(os.listdir(cache)) == 4
    # A second build of the same architecture with the same weights shares the cache.
    twin = transfer.load_backbone("cnn_mnist", weights=None, input_shape=(12, 12, 1))
    twin.set_weights(base.get_weights())
    np.testing.assert_array_equal(transfer.extract_features(twin, x, cache_dir=cache), changed)
    assert len(calls) == 4


def test_changed_architecture_changes_the_key():
    x = np.zeros((2, 28, 28, 1), "float32")
    a = transfer.load_backbone("cnn_mnist", weights=None)
    b = transfer.load_backbone("cnn_mnist", weights=None, preprocessing=None)
    b.set_weights(a.get_weights())
    assert transfer.cache_key(a, x) != transfer.cache_key(b, x)
    with pytest.raises(ValueError, match="Received: images.shape=\\(2, 12, 12, 1\\)"):
        transfer.extract_features(a, np.zeros((2, 12, 12, 1)))
