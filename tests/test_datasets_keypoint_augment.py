"""KeypointAugment: keypoints stay on the features they mark; left/right survive mirrors; JAX backend."""

import numpy as np
import pytest

from datasets import KeypointAugment, facial_keypoints as fk

# A frontal face in pixels, subject's left on the viewer's right (x > 48), as in Kaggle's data.
FACE = np.array([[66, 38], [30, 38], [59, 39], [74, 38], [37, 39], [22, 38], [57, 27], [78, 26], [39, 27],
                 [18, 26], [48, 55], [63, 72], [33, 72], [48, 66], [48, 82]], np.float32)


def marker_images(points, size=96):
    """One channel per keypoint with a Gaussian blob (sigma 1.5 px) at its pixel position."""
    yy, xx = np.mgrid[:size, :size]
    blobs = np.stack([np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 1.5 ** 2)) for x, y in points], -1)
    return np.where(blobs < 1e-6, 0.0, blobs)  # no denormals: CPU kernels flush them to zero


def scaled(points):
    return ((points - 48.0) / 48.0).reshape(-1).astype("float32")


def test_markers_stay_under_keypoints_and_mirrors_swap_pairs():
    n = 24
    images = np.repeat(marker_images(FACE)[None].astype("float32"), n, 0)
    keypoints = np.repeat(scaled(FACE)[None], n, 0)
    keypoints[0, 20:22] = np.nan  # a missing nose stays missing
    aug = KeypointAugment(rotation_range=15, width_shift_range=0.08, height_shift_range=0.08, shear_range=5,
                          zoom_range=0.1, horizontal_flip=True, fill_mode="constant", seed=5)
    out = aug({"images": images, "keypoints": keypoints}, training=True)
    imgs, pts = np.asarray(out["images"]), fk.to_pixels(np.asarray(out["keypoints"])).reshape(n, 15, 2)
    assert np.isnan(pts[0, 10]).all()
    swap = list(range(15))
    for a, b in fk.FLIP_PAIRS:
        swap[a], swap[b] = b, a
    mirrored_count = 0
    for i in range(n):
        channels = []
        for slot, (x, y) in enumerate(pts[i]):
            if np.isnan(x):
                continue
            pixel = imgs[i, int(round(y)), int(round(x))]
            assert pixel.max() > 0.6, f"image {i} point {slot}: no marker under the keypoint"
            channels.append((slot, int(np.argmax(pixel))))
        mirrored = all(c == swap[s] for s, c in channels)
        assert mirrored or all(c == s for s, c in channels), f"image {i}: markers and slots disagree"
        mirrored_count += mirrored
        # Left stays left: the subject's left eye/corner is still on the viewer's right.
        for a, b in fk.FLIP_PAIRS:
            assert pts[i, a, 0] > pts[i, b, 0]
    assert 0 < mirrored_count < n


def test_pure_flip_is_exact_and_swaps_pairs():
    aug = KeypointAugment(horizontal_flip=True, seed=0)
    image = marker_images(FACE)[None].astype("float32")
    k = scaled(FACE)[None]
    for _ in range(6):  # until one call mirrors
        out = aug({"images": image, "keypoints": k}, training=True)
        if not np.array_equal(np.asarray(out["images"]), image):
            break
    np.testing.assert_array_equal(np.asarray(out["images"])[0], image[0, :, ::-1])
    got = fk.to_pixels(np.asarray(out["keypoints"])[0]).reshape(15, 2)
    expected = FACE.copy()
    expected[:, 0] = 95 - expected[:, 0]  # pixel centres at integers: x -> W - 1 - x
    for a, b in fk.FLIP_PAIRS:
        expected[[a, b]] = expected[[b, a]]
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_points_shifted_out_of_frame_become_nan():
    aug = KeypointAugment(width_shift_range=[60], flip_pairs=(), seed=0)
    pts = np.array([[10, 50], [40, 50], [60, 50], [90, 50], [np.nan, np.nan]], np.float32)
    out = aug({"images": np.zeros((8, 96, 96, 1), "float32"), "keypoints": np.repeat(scaled(pts)[None], 8, 0)},
              training=True)
    got = fk.to_pixels(np.asarray(out["keypoints"])).reshape(8, 5, 2)
    for row in got:
        shift = 60 if not np.isnan(row[0, 0]) else -60
        for (x, y), q in zip(pts[:4], row[:4]):
            if 0 <= x + shift <= 95:
                np.testing.assert_allclose(q, [x + shift, y], atol=1e-4)
            else:
                assert np.isnan(q).all()
        assert np.isnan(row[4]).all()


def test_errors_and_config():
    aug = KeypointAugment(rotation_range=5, flip_pairs=[(0, 1)])
    with pytest.raises(ValueError, match="pair distinct point indices in \\[0, 1\\)"):
        aug({"images": np.zeros((1, 8, 8, 1)), "keypoints": np.zeros((1, 2))}, training=True)
    with pytest.raises(ValueError, match="keys 'images' and 'keypoints'"):
        aug({"image": np.zeros((1, 8, 8, 1))}, training=True)
    assert KeypointAugment.from_config(aug.get_config()).flip_pairs == [[0, 1]]
    assert KeypointAugment().flip_pairs == [list(p) for p in fk.FLIP_PAIRS]


def test_augment_and_keypoints_under_jax(run_jax):
    out = run_jax("""
        import numpy as np, keras, jax
        from datasets import Augment, KeypointAugment, facial_keypoints as fk
        assert keras.backend.backend() == "jax"
        rng = np.random.default_rng(0)
        x = rng.uniform(0, 255, (8, 32, 32, 3)).astype("float32")
        o = np.asarray(Augment(horizontal_flip=True, seed=1)(x, training=True))
        flips = [np.array_equal(a, b[:, ::-1]) for a, b in zip(o, x)]
        same = [np.array_equal(a, b) for a, b in zip(o, x)]
        print("flip_exact", all(f or s for f, s in zip(flips, same)) and any(flips))
        o = np.asarray(Augment(width_shift_range=[3], fill_mode="wrap", seed=1)(x, training=True))
        print("shift_exact", all(np.array_equal(a, np.roll(b, 3, 1)) or np.array_equal(a, np.roll(b, -3, 1))
                                 for a, b in zip(o, x)))
        model = keras.Sequential([keras.Input((32, 32, 3)),
                                  Augment(rotation_range=20, zoom_range=0.2, horizontal_flip=True, seed=0),
                                  keras.layers.Conv2D(4, 3), keras.layers.Flatten(), keras.layers.Dense(30)])
        y = rng.uniform(-1, 1, (8, 30)).astype("float32"); y[::2, 4:] = np.nan
        model.compile("adam", loss=fk.masked_mse, metrics=[fk.MaskedRMSE()])
        h = model.fit(x, y, batch_size=4, epochs=2, verbose=0)
        print("fit_finite", bool(np.isfinite(h.history["loss"]).all() and np.isfinite(h.history["rmse_px"]).all()))
        ka = KeypointAugment(rotation_range=10, horizontal_flip=True, seed=0)
        r = ka({"images": x[:, :, :, :1], "keypoints": np.zeros((8, 30), "float32")}, training=True)
        print("kp_shapes", tuple(r["images"].shape), tuple(r["keypoints"].shape))
        from datasets import geometry
        quarter, zero, one = np.full(8, np.pi / 2, "float32"), np.zeros(8, "float32"), np.ones(8, "float32")
        m = geometry.affine_matrix(quarter, zero, one, one, zero, zero)
        warp = jax.jit(lambda t: geometry.transform_images(t, m, np.zeros((8, 2), "float32"), "reflect", order=0))
        o = np.asarray(warp(x))
        print("nearest_rot90", all(np.array_equal(a, np.rot90(b, 1)) for a, b in zip(o, x))
              or all(np.array_equal(a, np.rot90(b, 3)) for a, b in zip(o, x)))
    """)
    assert "flip_exact True" in out and "shift_exact True" in out and "fit_finite True" in out
    assert "kp_shapes (8, 32, 32, 1) (8, 30)" in out and "nearest_rot90 True" in out
