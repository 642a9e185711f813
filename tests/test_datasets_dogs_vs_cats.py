"""Dogs-vs-Cats on real JPEGs (scikit-image photographs) in both real layouts, with bad files."""

import csv
import logging
import os
import shutil

import numpy as np
import pytest

from datasets import dogs_vs_cats, imagefiles
from datasets_fixtures import jpeg_bytes, small_photos, write_kaggle_train, write_petimages, zip_folder


@pytest.fixture
def photos(chelsea, astronaut):
    return small_photos(chelsea, astronaut)  # cat = chelsea, "dog" = astronaut (distinct content)


def all_labels(ds):
    return np.concatenate([y.numpy() for _, y in ds])


def test_kaggle_folder_parent_and_zip(tmp_path, photos):
    cat, dog = photos
    good, n_bad = write_kaggle_train(str(tmp_path / "train"), cat, dog)
    report = dogs_vs_cats.scan(tmp_path / "train", cache=False, progress=False)
    assert report.layout == "kaggle" and report.n_skipped == n_bad and report.n_kept == len(good)
    assert dict(zip(report.paths, report.labels)) == good
    assert report.skipped_by_reason == {"empty file": 1, "truncated or corrupt": 1, "not a cat/dog file name": 1}
    assert dogs_vs_cats.scan(tmp_path, cache=False, progress=False).n_kept == len(good)  # parent
    archive = zip_folder(str(tmp_path / "train"), str(tmp_path / "train.zip"), "train")
    shutil.rmtree(tmp_path / "train")
    zipped = dogs_vs_cats.scan(archive, cache=False, progress=False, extract_dir=str(tmp_path / "x"))
    assert zipped.n_kept == len(good) and zipped.n_skipped == n_bad and zipped.kept_by_class == {"cat": 3, "dog": 4}


def test_petimages_skips_thumbs_corrupt_and_unsupported(tmp_path, photos, caplog):
    cat, dog = photos
    good, n_bad = write_petimages(str(tmp_path), cat, dog)
    with caplog.at_level(logging.WARNING, logger="datasets.dogs_vs_cats"):
        report = dogs_vs_cats.scan(tmp_path, cache=False, progress=False)
    assert report.layout == "petimages"
    assert report.n_skipped == n_bad and dict(zip(report.paths, report.labels)) == good
    reasons = report.skipped_by_reason
    assert reasons["not an image"] == 3  # two Thumbs.db and a text file
    assert reasons["empty file"] == 1 and reasons["truncated or corrupt"] == 2
    assert reasons["format TIFF (not one of JPEG, PNG, GIF, BMP)"] == 1
    assert {os.path.basename(p) for p, _ in report.skipped} >= {"Thumbs.db", "200.jpg", "100.jpg"}
    assert f"skipped {n_bad} unreadable files" in caplog.text


def test_load_split_is_stratified_deterministic_and_labels_right(tmp_path, photos):
    cat, dog = photos
    good, _ = write_petimages(str(tmp_path), cat, dog, n_each=5)
    train, val, report = dogs_vs_cats.load(tmp_path / "PetImages", image_size=(40, 48), batch_size=4,
                                           validation_split=0.4, seed=3, return_report=True,
                                           cache=False, progress=False)
    x, y = next(iter(train))
    assert tuple(x.shape[1:]) == (40, 48, 3) and x.dtype.name == "float32" and y.dtype.name == "int32"
    assert 0.0 <= float(np.min(x)) and float(np.max(x)) <= 255.0 and float(np.max(x)) > 1.0
    n_train, n_val = len(all_labels(train)), len(all_labels(val))
    assert n_train + n_val == report.n_kept == len(good)
    assert (all_labels(val) == 0).sum() == 2 and (all_labels(val) == 1).sum() == 2  # 40% of 5 cats, 6 dogs
    # Same seed -> same split; the validation order is fixed.
    _, val2 = dogs_vs_cats.load(tmp_path, image_size=(40, 48), batch_size=4, validation_split=0.4, seed=3,
                                cache=False, progress=False)
    np.testing.assert_array_equal(np.concatenate([x for x, _ in val]), np.concatenate([x for x, _ in val2]))
    # Labels follow the pixels: the cat photo is the cat class (compare mean colour to the sources).
    for xb, yb in val:
        for image, label in zip(xb.numpy(), yb.numpy()):
            means = [np.abs(image.mean((0, 1)) - p.mean((0, 1))).sum() for p in (cat, dog)]
            assert int(np.argmin(means)) == label


def test_scan_cache_reuses_verdicts_and_rechecks_changed_files(tmp_path, photos, monkeypatch):
    cat, dog = photos
    write_kaggle_train(str(tmp_path / "train"), cat, dog)
    cache_dir = str(tmp_path / "cache")
    first = imagefiles.check_files([str(p) for p in (tmp_path / "train").glob("*.jpg")], cache_dir=cache_dir,
                                   progress=True)
    calls = []
    original = imagefiles.check_image
    monkeypatch.setattr(imagefiles, "check_image", lambda p: calls.append(p) or original(p))
    again = imagefiles.check_files(list(first), cache_dir=cache_dir, progress=False)
    assert again == first and calls == []
    changed = str(tmp_path / "train" / "cat.0.jpg")
    with open(changed, "wb") as f:
        f.write(b"")
    third = imagefiles.check_files(list(first), cache_dir=cache_dir, progress=False)
    assert calls == [os.path.abspath(changed)] and third[os.path.abspath(changed)] == "empty file"


def test_test_folder_and_submission(tmp_path, photos):
    cat, dog = photos
    folder = tmp_path / "test1"
    folder.mkdir()
    for i in (1, 2, 10, 3):
        (folder / f"{i}.jpg").write_bytes(jpeg_bytes(cat if i % 2 else dog))
    (folder / "4.jpg").write_bytes(b"")
    images, ids = dogs_vs_cats.load_test(tmp_path, image_size=(32, 32), batch_size=2, cache=False, progress=False)
    assert ids == [1, 2, 3, 10]  # numeric order, the empty file skipped
    assert sum(int(b.shape[0]) for b in images) == 4
    out = dogs_vs_cats.write_submission(str(tmp_path / "sub.csv"), ids, np.array([[0.9], [0.1], [1.2], [0.5]]))
    rows = list(csv.reader(open(out)))
    assert rows[0] == ["id", "label"] and rows[1] == ["1", "0.900000"] and rows[3] == ["3", "1.000000"]
    with pytest.raises(ValueError, match="4 ids, 3 probabilities"):
        dogs_vs_cats.write_submission(str(tmp_path / "x.csv"), ids, [0.1, 0.2, 0.3])


def test_errors_name_what_was_received(tmp_path):
    with pytest.raises(FileNotFoundError, match="PetImages"):
        dogs_vs_cats.load(tmp_path, progress=False)
    with pytest.raises(ValueError, match="image_size=\\(150,\\)"):
        dogs_vs_cats.load(tmp_path, image_size=(150,))
    with pytest.raises(ValueError, match="source='kaggle'"):
        dogs_vs_cats.load(tmp_path, source="kaggle")
    with pytest.raises(ValueError, match="data_dir=None"):
        dogs_vs_cats.load(None)
