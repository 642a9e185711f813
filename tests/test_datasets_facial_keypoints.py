"""Facial keypoints: Kaggle's CSV formats, the masked loss and metric, submissions."""

import csv

import keras
import numpy as np
import pytest

from datasets import facial_keypoints as fk

REAL_HEADER = (
    "left_eye_center_x,left_eye_center_y,right_eye_center_x,right_eye_center_y,left_eye_inner_corner_x,"
    "left_eye_inner_corner_y,left_eye_outer_corner_x,left_eye_outer_corner_y,right_eye_inner_corner_x,"
    "right_eye_inner_corner_y,right_eye_outer_corner_x,right_eye_outer_corner_y,left_eyebrow_inner_end_x,"
    "left_eyebrow_inner_end_y,left_eyebrow_outer_end_x,left_eyebrow_outer_end_y,right_eyebrow_inner_end_x,"
    "right_eyebrow_inner_end_y,right_eyebrow_outer_end_x,right_eyebrow_outer_end_y,nose_tip_x,nose_tip_y,"
    "mouth_left_corner_x,mouth_left_corner_y,mouth_right_corner_x,mouth_right_corner_y,mouth_center_top_lip_x,"
    "mouth_center_top_lip_y,mouth_center_bottom_lip_x,mouth_center_bottom_lip_y,Image")


def write_training_csv(path, n=5, missing_rows=(1, 3), seed=0):
    """Real header; rows in 1, 3 have empty fields (Kaggle's missing values)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 96 * 96))
    values = np.round(rng.uniform(10, 86, (n, 30)), 10)
    with open(path, "w", newline="") as f:
        f.write(REAL_HEADER + "\n")
        for i in range(n):
            fields = [repr(float(v)) for v in values[i]]
            if i in missing_rows:
                for c in range(4, 30):  # only the eye centres present, like most real rows
                    fields[c] = ""
            f.write(",".join(fields) + "," + " ".join(str(int(p)) for p in images[i]) + "\n")
    return images, values


def test_keypoint_names_and_flip_pairs_match_the_real_file():
    assert fk.KEYPOINT_NAMES == tuple(REAL_HEADER.split(",")[:-1])
    design_columns = [(0, 2), (1, 3), (4, 8), (5, 9), (6, 10), (7, 11), (12, 16), (13, 17), (14, 18), (15, 19),
                      (22, 24), (23, 25)]
    from_points = sorted((2 * a + k, 2 * b + k) for a, b in fk.FLIP_PAIRS for k in (0, 1))
    assert from_points == sorted(design_columns)
    for a, b in fk.FLIP_PAIRS:  # every pair is a left and a right of the same feature
        left, right = fk.POINT_NAMES[a], fk.POINT_NAMES[b]
        assert "left" in left and left.replace("left", "right") == right


def test_load_complete_only_and_all(tmp_path):
    images, values = write_training_csv(tmp_path / "training.csv")
    x, k = fk.load(tmp_path)  # the folder
    assert x.shape == (3, 96, 96, 1) and x.dtype == np.float32 and k.shape == (3, 30) and k.dtype == np.float32
    np.testing.assert_allclose(x[1, :, :, 0], images[2].reshape(96, 96) / 255.0, rtol=1e-6)
    np.testing.assert_allclose(k, (values[[0, 2, 4]] - 48) / 48, rtol=1e-5)
    x, k = fk.load(tmp_path / "training.csv", complete_only=False)
    assert x.shape == (5, 96, 96, 1)
    assert np.isnan(k).any(axis=1).tolist() == [False, True, False, True, False]
    assert not np.isnan(k[1, :4]).any() and np.isnan(k[1, 4:]).all()
    np.testing.assert_allclose(fk.to_pixels(k[0]), values[0], rtol=1e-5)


def test_bad_header_names_the_missing_columns(tmp_path):
    (tmp_path / "training.csv").write_text("left_eye_center_x,Image\n1.0,0 0\n")
    with pytest.raises(ValueError, match="left_eye_center_y"):
        fk.load(tmp_path / "training.csv")
    with pytest.raises(FileNotFoundError, match="training.csv"):
        fk.load(tmp_path / "nowhere")


def test_masked_loss_and_metric_ignore_nan():
    y_true = np.array([[0.5, np.nan, 0.0], [np.nan, np.nan, np.nan]], np.float32)
    y_pred = np.array([[0.0, 5.0, 0.25], [1.0, 1.0, 1.0]], np.float32)
    loss = keras.ops.convert_to_numpy(fk.masked_mse(y_true, y_pred))
    np.testing.assert_allclose(loss, [(0.25 + 0.0625) / 2, 0.0], rtol=1e-6)
    metric = fk.MaskedRMSE()
    metric.update_state(y_true[:1], y_pred[:1])
    metric.update_state(y_true[1:], y_pred[1:])
    np.testing.assert_allclose(float(metric.result()), np.sqrt((0.25 + 0.0625) / 2) * 48, rtol=1e-6)
    np.testing.assert_allclose(float(fk.masked_rmse_pixels(y_true, y_pred)), np.sqrt(0.3125 / 2) * 48, rtol=1e-6)


def test_jit_compiled_fit_with_missing_targets_has_finite_loss_and_grads():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (16, 96, 96, 1)).astype("float32")
    y = rng.uniform(-1, 1, (16, 30)).astype("float32")
    y[::2, 4:] = np.nan
    model = keras.Sequential([keras.Input((96, 96, 1)), keras.layers.Conv2D(4, 5, strides=4),
                              keras.layers.Flatten(), keras.layers.Dense(30)])
    model.compile("adam", loss=fk.masked_mse, metrics=[fk.MaskedRMSE()], jit_compile=True)
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"])) and np.isfinite(history.history["rmse_px"][-1])
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_test_csv_and_submission_from_lookup_table(tmp_path):
    rng = np.random.default_rng(1)
    with open(tmp_path / "test.csv", "w") as f:
        f.write("ImageId,Image\n")
        for image_id in (1, 2):
            f.write(f"{image_id}," + " ".join(str(v) for v in rng.integers(0, 256, 9216)) + "\n")
    with open(tmp_path / "IdLookupTable.csv", "w") as f:
        f.write("RowId,ImageId,FeatureName,Location\n1,1,left_eye_center_x,\n2,1,nose_tip_y,\n"
                "3,2,mouth_center_bottom_lip_y,\n")
    ids, images = fk.load_test(tmp_path)
    assert ids.tolist() == [1, 2] and images.shape == (2, 96, 96, 1) and images.max() <= 1.0
    pred = np.zeros((2, 30), np.float32)
    pred[0, 0], pred[0, 21], pred[1, 29] = 0.5, -1.5, 1.2  # 72 px, below 0 and above 96: clipped
    out = fk.write_submission(str(tmp_path / "sub.csv"), ids, pred, tmp_path / "IdLookupTable.csv")
    rows = list(csv.reader(open(out)))
    assert rows == [["RowId", "Location"], ["1", "72.0000"], ["2", "0.0000"], ["3", "96.0000"]]
    with pytest.raises(ValueError, match=r"Received shape \(2, 29\)"):
        fk.write_submission(str(tmp_path / "x.csv"), ids, pred[:, :29], tmp_path)


def test_pipelines_with_keypoint_augmentation(tmp_path):
    write_training_csv(tmp_path / "training.csv", n=10, missing_rows=())
    train, val = fk.pipelines(tmp_path, batch_size=4, validation_split=0.2, augment=True)
    xb, kb = next(iter(train))
    assert tuple(xb.shape) == (4, 96, 96, 1) and tuple(kb.shape) == (4, 30)
    assert sum(int(x.shape[0]) for x, _ in val) == 2
    x_val, k_val = next(iter(val))  # validation is not augmented: exact original values
    images, keypoints = fk.load(tmp_path)
    assert any(np.allclose(k_val[0], k) for k in keypoints)


def test_keypoint_scale_has_one_home_used_by_loader_and_augment():
    import inspect

    from datasets import geometry, keypoint_augment

    assert fk.to_pixels is geometry.to_pixels and fk.from_pixels is geometry.from_pixels
    assert inspect.signature(fk.to_pixels).parameters["image_size"].default == 96
    assert "geometry.to_pixels" in inspect.getsource(keypoint_augment.KeypointAugment.call)
    k = np.array([[-1.0, 1.0, 0.0, np.nan]])
    np.testing.assert_allclose(fk.to_pixels(k), [[0.0, 96.0, 48.0, np.nan]])
    np.testing.assert_allclose(fk.to_pixels(k, image_size=(32, 64)), [[0.0, 32.0, 32.0, np.nan]])  # x by W, y by H
    np.testing.assert_allclose(fk.from_pixels(fk.to_pixels(k, (32, 64)), (32, 64)), k)
    tensor = fk.to_pixels(keras.ops.convert_to_tensor(k.astype("float32")))
    assert keras.ops.is_tensor(tensor)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(tensor), [[0.0, 96.0, 48.0, np.nan]])
