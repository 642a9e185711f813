"""The decoded-image cache: the same images as decoding every epoch, a changed file makes a new disk cache,
bad files still skipped and counted (Dogs-vs-Cats and the generic class-folder loader)."""

import os

import numpy as np
import pytest
from PIL import Image

from datasets import decoded_cache, dogs_vs_cats, image_folder
from datasets_fixtures import BAD_FILES, jpeg_bytes, small_photos, write_kaggle_train


@pytest.fixture
def kaggle(tmp_path, chelsea, astronaut):
    cat, dog = small_photos(chelsea, astronaut)
    good, n_bad = write_kaggle_train(str(tmp_path / "train"), cat, dog)
    return str(tmp_path / "train"), good, n_bad


def _arrays(ds):
    pairs = [(x.numpy(), y.numpy()) for x, y in ds]
    return np.concatenate([x for x, _ in pairs]), np.concatenate([y for _, y in pairs])


def _load(folder, **kwargs):
    return dogs_vs_cats.load(folder, image_size=(40, 48), batch_size=3, validation_split=0.5, cache=False,
                             progress=False, **kwargs)


@pytest.mark.parametrize("where", ["memory", "disk"])
def test_cached_pipeline_yields_the_uncached_images(kaggle, tmp_path, where):
    folder, good, _ = kaggle
    cache = "memory" if where == "memory" else str(tmp_path / "decoded")
    plain_val = _arrays(_load(folder)[1])
    train, val = _load(folder, decoded_cache=cache)
    for _ in range(2):  # the first epoch fills the cache, the second reads it back
        x, y = _arrays(val)
        np.testing.assert_array_equal(y, plain_val[1])
        assert x.dtype == np.float32 and np.abs(x - plain_val[0]).max() <= 0.5  # rounded to uint8 once
        assert np.array_equal(x, np.round(x))
    epochs = [_arrays(train) for _ in range(2)]
    assert sorted(epochs[0][1]) == sorted(epochs[1][1]) and len(epochs[0][1]) + len(y) == len(good)
    assert not np.array_equal(epochs[0][1], epochs[1][1]) or len(set(epochs[0][1])) == 1  # reshuffled
    if where == "disk":
        assert any(name.startswith("decoded-40x48-") for name in os.listdir(cache))


def test_a_changed_file_makes_a_new_disk_cache(kaggle, tmp_path):
    folder, good, _ = kaggle
    cache = str(tmp_path / "decoded")
    before = _arrays(_load(folder, decoded_cache=cache)[1])
    files_before = set(os.listdir(cache))
    for path in good:  # every photograph replaced by itself upside down, under the same name
        flipped = np.asarray(Image.open(path).convert("RGB"))[::-1].copy()
        with open(path, "wb") as f:
            f.write(jpeg_bytes(flipped, quality=90))
    after = _arrays(_load(folder, decoded_cache=cache)[1])
    assert set(os.listdir(cache)) - files_before, "no new cache file"
    fresh = _arrays(_load(folder)[1])
    assert np.abs(after[0] - fresh[0]).max() <= 0.5 and np.abs(after[0] - before[0]).max() > 10


def test_bad_files_are_skipped_and_counted_with_the_cache(kaggle):
    folder, good, n_bad = kaggle
    train, val, report = _load(folder, decoded_cache="memory", return_report=True)
    assert report.n_skipped == n_bad and report.skipped_by_reason["truncated or corrupt"] == 1
    assert len(_arrays(train)[1]) + len(_arrays(val)[1]) == len(good)


def test_class_folders_loader_with_a_disk_cache(tmp_path, chelsea, astronaut):
    root = tmp_path / "photos"
    for name, photo in zip(("cat", "astronaut"), small_photos(chelsea, astronaut)):
        (root / name).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(np.roll(photo, 5 * i, axis=0)).save(root / name / f"{i}.jpg", quality=90)
    good = jpeg_bytes(small_photos(chelsea, astronaut)[0])
    (root / "cat" / "broken.jpg").write_bytes(BAD_FILES["truncated"][0](good))
    kwargs = dict(image_size=(32, 32), batch_size=4, validation_split=0.25, cache=False, progress=False,
                  return_report=True)
    train, val, report = image_folder.load(root, decoded_cache=str(tmp_path / "c"), **kwargs)
    assert report.class_names == ("astronaut", "cat") and report.kept_by_class == {"astronaut": 4, "cat": 4}
    assert report.skipped_by_reason == {"truncated or corrupt": 1}
    plain = _arrays(image_folder.load(root, **kwargs)[1])
    for _ in range(2):
        x, y = _arrays(val)
        np.testing.assert_array_equal(y, plain[1])
        assert np.abs(x - plain[0]).max() <= 0.5
    assert len(_arrays(train)[1]) == 6


def test_bad_decoded_cache_argument():
    with pytest.raises(ValueError, match="must be None, 'memory' or a folder's path. Received: decoded_cache=3"):
        decoded_cache.check_decoded_cache(3)
