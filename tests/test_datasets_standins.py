"""The tutorials' stand-ins are written in the real formats and read back by the real loaders."""

import csv
import os
import pickle

import numpy as np
import pytest

from datasets import cifar10, facial_keypoints, standins

pytest.importorskip("skimage")


def test_tinted_digits_are_the_real_digits_in_colour():
    from sklearn.datasets import load_digits

    images, labels = standins.tinted_digits(32, seed=0)
    assert images.shape == (1797, 32, 32, 3) and images.dtype == np.uint8
    assert (labels == load_digits().target).all()
    assert images.max() > 200 and images[:, :2, :2].max() == 0  # strokes are bright, corners blank
    means = images.reshape(len(images), -1, 3).mean(axis=1)
    assert (np.ptp(means, axis=1) > 1).mean() > 0.9  # each image has its own colour
    again, _ = standins.tinted_digits(32, seed=0)
    other, _ = standins.tinted_digits(32, seed=1)
    assert (again == images).all() and (other != images).any()


def test_cifar10_python_layout_round_trips_through_the_loader(tmp_path):
    images, labels = standins.tinted_digits(32, seed=0)
    folder = standins.write_cifar10_python(tmp_path, images, labels, label_names=[str(d) for d in range(10)])
    assert folder == os.path.join(str(tmp_path), "cifar-10-batches-py")
    assert sorted(os.listdir(folder)) == ["batches.meta", "data_batch_1", "data_batch_2", "data_batch_3",
                                          "data_batch_4", "data_batch_5", "test_batch"]
    with open(os.path.join(folder, "data_batch_1"), "rb") as f:
        batch = pickle.load(f, encoding="bytes")
    assert set(batch) == {b"batch_label", b"labels", b"data", b"filenames"}
    assert batch[b"data"].shape == (300, 3072) and batch[b"data"].dtype == np.uint8
    # one row: 1024 red values, then 1024 green, then 1024 blue, each row-major
    assert (batch[b"data"][0, :1024] == images[0, :, :, 0].ravel()).all()
    assert (batch[b"data"][0, 2048:] == images[0, :, :, 2].ravel()).all()
    with open(os.path.join(folder, "batches.meta"), "rb") as f:
        assert pickle.load(f, encoding="bytes")[b"label_names"][3] == b"3"

    (x_train, y_train), (x_test, y_test) = cifar10.load(folder)
    assert (np.concatenate([x_train, x_test]) == images).all()
    assert (np.concatenate([y_train, y_test]) == labels).all()
    assert (x_train.shape[0], x_test.shape[0]) == (1498, 299)
    assert cifar10.load(tmp_path)[1][0].shape == x_test.shape  # the parent folder is found too


@pytest.mark.parametrize("images, labels, match", [
    (np.zeros((12, 32, 32), "uint8"), np.zeros(12, int), "shape=\\(12, 32, 32\\)"),
    (np.zeros((12, 32, 32, 3), "float32"), np.zeros(12, int), "dtype=float32"),
    (np.zeros((12, 32, 32, 3), "uint8"), np.full(12, 10), "integers 0-9"),
    (np.zeros((12, 32, 32, 3), "uint8"), np.zeros(11, int), "shape=\\(11,\\)"),
    (np.zeros((5, 32, 32, 3), "uint8"), np.zeros(5, int), "Received: 5 images"),
])
def test_cifar10_writer_refuses_what_cifar_cannot_hold(tmp_path, images, labels, match):
    with pytest.raises(ValueError, match=match):
        standins.write_cifar10_python(tmp_path, images, labels)
    assert not os.path.exists(tmp_path / "cifar-10-batches-py" / "test_batch")


def test_cartoon_face_points_lie_on_what_is_drawn():
    image, points = standins.cartoon_face(np.random.default_rng(5))
    assert image.shape == (96, 96) and image.dtype == np.uint8 and points.shape == (30,)
    xy = points.reshape(15, 2)
    assert ((xy > 0) & (xy < 95)).all()
    names = facial_keypoints.POINT_NAMES
    left, right = xy[names.index("left_eye_center")], xy[names.index("right_eye_center")]
    assert left[0] > right[0]  # the subject's left eye is on the image's right
    for x, y in (left, right):  # eyes are dark disks on a bright head
        assert image[int(round(y)), int(round(x))] < 80
    between = (left + right) / 2  # the bridge of the nose: the head's bright skin
    assert image[int(round(between[1])), int(round(between[0]))] > 100
    again, points_again = standins.cartoon_face(5)
    assert (again == image).all() and (points_again == points).all()


def test_training_csv_has_kaggles_layout_and_loads_back(tmp_path):
    path = standins.write_training_csv(tmp_path / "training.csv", 40, seed=2)
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == list(facial_keypoints.KEYPOINT_NAMES) + ["Image"]
    assert len(rows) == 41 and all(len(r) == 31 and len(r[30].split(" ")) == 9216 for r in rows[1:])
    empty = [r for r in rows[1:] if "" in r[:30]]
    assert 0 < len(empty) < 40  # some rows lack keypoints, as in the real file

    images, keypoints = facial_keypoints.load(path, complete_only=False)
    assert images.shape == (40, 96, 96, 1) and keypoints.shape == (40, 30)
    assert np.isnan(keypoints).any(axis=1).sum() == len(empty)
    rng = np.random.default_rng(2)
    first_image, first_points = standins.cartoon_face(rng)  # the writer draws row 1 first from the same seed
    assert np.allclose(images[0, :, :, 0] * 255, first_image, atol=1e-3)
    written = np.array([float(v) if v else np.nan for v in rows[1][:30]])
    assert np.allclose(facial_keypoints.to_pixels(keypoints[0]), written, atol=1e-3, equal_nan=True)
    complete, _ = facial_keypoints.load(path, complete_only=True)
    assert len(complete) == 40 - len(empty)


def test_training_csv_options(tmp_path):
    path = standins.write_training_csv(tmp_path / "all.csv", 5, incomplete=0)
    assert len(facial_keypoints.load(path, complete_only=True)[0]) == 5
    with pytest.raises(ValueError, match="Received: n=0"):
        standins.write_training_csv(tmp_path / "none.csv", 0)
    with pytest.raises(ValueError, match="Received: incomplete=1.5"):
        standins.write_training_csv(tmp_path / "bad.csv", 3, incomplete=1.5)
    assert sorted(os.listdir(tmp_path)) == ["all.csv"]


def test_patch_scenes_put_the_target_where_the_boxes_say():
    walls = [np.zeros((70, 90, 3), "float32"), np.full((64, 64, 3), 10.0, "float32")]
    cat = np.full((40, 40, 3), 255.0, "float32")
    images, labels, boxes = standins.patch_scenes(30, walls, cat, size=32, patch=8, seed=3)
    assert images.shape == (30, 32, 32, 3) and images.dtype == np.float32
    assert set(labels.tolist()) == {0, 1} and boxes.shape == (30, 2)
    assert (boxes >= 0).all() and (boxes <= 32 - 8).all()
    for img, label, (top, left) in zip(images, labels, boxes):
        square = img[top:top + 8, left:left + 8]
        assert (square == 255).all() == bool(label)
        assert (img == 255).sum() == (8 * 8 * 3 if label else 0)  # the cat is in the box and nowhere else
    again = standins.patch_scenes(30, walls, cat, size=32, patch=8, seed=3)
    assert (again[0] == images).all() and (again[2] == boxes).all()


def test_patch_scenes_and_crops_refuse_impossible_sizes():
    wall = np.zeros((20, 20, 3))
    with pytest.raises(ValueError, match="Received: patch=40"):
        standins.patch_scenes(2, [wall], wall, size=16, patch=40)
    with pytest.raises(ValueError, match="at least 32x32.*shape=\\(20, 20, 3\\)"):
        standins.patch_scenes(2, [wall], wall, size=32, patch=8)
    with pytest.raises(ValueError, match="Received: an empty list"):
        standins.patch_scenes(2, [], wall)
    crop = standins.random_crop(np.arange(100).reshape(10, 10), 4, rng=1)
    assert crop.shape == (4, 4) and (np.diff(crop, axis=1) == 1).all() and (np.diff(crop, axis=0) == 10).all()


def test_resize_to_height_keeps_the_aspect_and_the_values():
    from skimage import data

    cat = data.chelsea()
    small = standins.resize_to_height(cat, 100)
    assert small.shape == (100, int(100 * cat.shape[1] / cat.shape[0]), 3) and small.dtype == np.float32
    assert abs(small.mean() - cat.mean()) < 2  # antialiased: the brightness survives
    assert standins.resize_to_height(cat[..., 0], 50).shape == (50, 75)
    with pytest.raises(ValueError, match="Received: height=0"):
        standins.resize_to_height(cat, 0)
