"""Dogs-vs-Cats folders with broken links, only bad files, one empty class or stray files (issue 11, finding 3).

Each case is a counted skip in the report or a clear error naming the folder, never
a raw OSError, a TypeError from deep inside tf.data, or a silent one-class run.
"""

import os

import numpy as np
import pytest

from datasets import dogs_vs_cats
from datasets_fixtures import jpeg_bytes, small_photos, write_kaggle_train, write_petimages


@pytest.fixture
def photos(chelsea, astronaut):
    return small_photos(chelsea, astronaut, size=32)


def scan(path):
    return dogs_vs_cats.scan(path, cache=False, progress=False)


def test_dangling_symlink_and_loop_are_counted_skips(tmp_path, photos, monkeypatch):
    train = tmp_path / "train"
    good, n_bad = write_kaggle_train(str(train), *photos)
    os.symlink(str(tmp_path / "gone.jpg"), str(train / "cat.50.jpg"))   # dangling
    os.symlink("dog.51.jpg", str(train / "dog.51.jpg"))                 # a loop onto itself
    report = scan(train)
    assert report.n_kept == len(good)
    assert report.skipped_by_reason["unreadable"] == 2
    assert {os.path.basename(p) for p, r in report.skipped if r.startswith("unreadable")} == {"cat.50.jpg",
                                                                                              "dog.51.jpg"}
    # The image-check cache (in the Keras cache folder) must not trip over them either.
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    cached = dogs_vs_cats.scan(train, cache=True, progress=False)
    assert cached.skipped_by_reason["unreadable"] == 2
    assert len(os.listdir(tmp_path / "keras" / "datasets")) == 1  # zoo.files.keras_cache("datasets")


def test_dangling_symlink_in_petimages_is_counted(tmp_path, photos):
    good, n_bad = write_petimages(str(tmp_path), *photos)
    os.symlink(str(tmp_path / "gone.jpg"), str(tmp_path / "PetImages" / "Dog" / "77.jpg"))
    report = scan(tmp_path)
    assert report.n_kept == len(good) and report.n_skipped == n_bad + 1
    assert report.skipped_by_reason["unreadable"] == 1


def test_a_folder_of_only_bad_files_is_a_clear_error(tmp_path):
    train = tmp_path / "train"
    train.mkdir()
    for name in ("cat.0.jpg", "cat.1.jpg", "dog.0.jpg"):
        (train / name).write_bytes(b"")
    (train / "dog.1.jpg").write_bytes(b"not an image at all\n" * 10)
    with pytest.raises(ValueError, match="No usable image") as info:
        dogs_vs_cats.load(tmp_path, cache=False, progress=False)
    message = str(info.value)
    assert str(train) in message and "'empty file': 3" in message and "'not an image': 1" in message


def test_a_class_without_usable_images_is_a_clear_error(tmp_path, photos):
    cat, _ = photos
    train = tmp_path / "train"
    train.mkdir()
    for i in range(3):
        (train / f"cat.{i}.jpg").write_bytes(jpeg_bytes(cat))
        (train / f"dog.{i}.jpg").write_bytes(b"")
    with pytest.raises(ValueError, match=r"no usable image of class 'dog'") as info:
        dogs_vs_cats.load(train, cache=False, progress=False)
    assert str(train) in str(info.value) and "'empty file': 3" in str(info.value)


def test_petimages_with_an_empty_dog_folder_is_a_clear_error(tmp_path, photos):
    cat, _ = photos
    for sub in ("Cat", "Dog"):
        (tmp_path / "PetImages" / sub).mkdir(parents=True)
    (tmp_path / "PetImages" / "Cat" / "0.jpg").write_bytes(jpeg_bytes(cat))
    with pytest.raises(ValueError, match="no usable image of class 'dog'"):
        dogs_vs_cats.load(tmp_path, cache=False, progress=False)


def test_files_with_other_names_are_counted_not_ignored(tmp_path, photos):
    train = tmp_path / "train"
    good, n_bad = write_kaggle_train(str(train), *photos)
    (train / "._cat.0.jpg").write_bytes(b"\x00\x05\x16\x07")   # macOS resource fork from a zip
    (train / "cat.1.png").write_bytes(jpeg_bytes(photos[0], "PNG"))
    (train / "__MACOSX").mkdir()
    report = scan(train)
    assert report.n_kept == len(good)
    # notes.txt (written by the fixture and counted in n_bad), ._cat.0.jpg, cat.1.png, __MACOSX/
    assert report.skipped_by_reason["not a cat/dog file name"] == 4
    assert report.n_skipped == n_bad + 3
    assert "not a cat/dog file name" in str(report)


def test_petimages_stray_files_are_counted(tmp_path, photos):
    good, n_bad = write_petimages(str(tmp_path), *photos)
    (tmp_path / "PetImages" / "readme.txt").write_text("hello")
    (tmp_path / "PetImages" / "Rabbit").mkdir()
    (tmp_path / "PetImages" / "Rabbit" / "0.jpg").write_bytes(jpeg_bytes(photos[0]))
    report = scan(tmp_path)
    assert report.n_kept == len(good)
    assert report.skipped_by_reason["not in PetImages/Cat or PetImages/Dog"] == 2


def test_test_folder_of_only_bad_files_is_a_clear_error(tmp_path):
    folder = tmp_path / "test1"
    folder.mkdir()
    (folder / "1.jpg").write_bytes(b"")
    os.symlink(str(tmp_path / "gone.jpg"), str(folder / "2.jpg"))
    with pytest.raises(ValueError, match="No usable image") as info:
        dogs_vs_cats.load_test(tmp_path, cache=False, progress=False)
    assert str(folder) in str(info.value) and "'unreadable': 1" in str(info.value)


def test_load_still_trains_on_both_classes(tmp_path, photos):
    good, _ = write_kaggle_train(str(tmp_path / "train"), *photos)
    train, val = dogs_vs_cats.load(tmp_path, image_size=(16, 16), batch_size=4, validation_split=0.0,
                                   cache=False, progress=False)
    labels = np.concatenate([y.numpy() for _, y in train])
    assert sorted(labels.tolist()) == sorted(good.values()) and sum(1 for _ in val) == 0
