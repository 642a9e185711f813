"""viz: every plot returns a Figure with the expected panels and saves a real PNG;
Grad-CAM finds the evidence where a hand-built model is known to look."""

import keras
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

import zoo
import viz


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _png_ok(path):
    assert path.exists() and path.stat().st_size > 2000, f"{path} missing or tiny"
    pixels = matplotlib.image.imread(path)
    assert pixels.ndim == 3 and len(np.unique(pixels)) > 10  # more than a blank canvas


def _image_axes(fig):
    return [ax for ax in fig.axes if ax.images]


def _known_model():
    """Class 0 = mean of relu(x - 0.6) (bright spots), class 1 = mean of relu(0.4 - x) (dark spots)."""
    inputs = keras.Input((32, 32, 1))
    conv = keras.layers.Conv2D(2, 3, padding="same", activation="relu", name="detect")
    x = conv(inputs)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    dense = keras.layers.Dense(2, name="scores")
    model = keras.Model(inputs, dense(x))
    kernel = np.zeros((3, 3, 1, 2), "float32")
    kernel[1, 1, 0] = [1.0, -1.0]
    conv.set_weights([kernel, np.array([-0.6, 0.4], "float32")])
    dense.set_weights([np.eye(2, dtype="float32"), np.zeros(2, "float32")])
    return model


def _nested_known_model():
    """The same network with its convolution and pooling inside a nested backbone, as transfer builds."""
    flat = _known_model()
    inputs = keras.Input((32, 32, 1))
    backbone = keras.Model(inputs, flat.get_layer("pool")(flat.get_layer("detect")(inputs)), name="backbone")
    outer_in = keras.Input((32, 32, 1))
    x = keras.layers.GlobalAveragePooling2D()(backbone(outer_in))
    return keras.Model(outer_in, flat.get_layer("scores")(x), name="outer")


def _two_squares():
    img = np.full((32, 32, 1), 0.5, "float32")
    img[4:12, 4:12] = 1.0    # bright square, top left: evidence for class 0
    img[20:28, 20:28] = 0.0  # dark square, bottom right: evidence for class 1
    return img


def test_plot_history_two_phases_draws_boundary(tmp_path):
    head = {"loss": [1.0, 0.8], "accuracy": [0.5, 0.6], "val_loss": [1.1, 0.9], "val_accuracy": [0.4, 0.5]}
    tune = {"loss": [0.6, 0.5, 0.4], "accuracy": [0.7, 0.8, 0.85], "val_loss": [0.8, 0.7, 0.7],
            "val_accuracy": [0.6, 0.65, 0.66], "learning_rate": [1e-5] * 3}
    fig = viz.plot_history([head, tune], path=tmp_path / "h.png")
    assert len(fig.axes) == 2
    for ax in fig.axes:
        assert len(ax.lines[0].get_xdata()) == 5  # the two phases joined
        assert any(tuple(line.get_xdata()) == (2.5, 2.5) for line in ax.lines)  # boundary after epoch 2
    _png_ok(tmp_path / "h.png")
    joined, bounds = viz.join_histories(head, tune)
    assert bounds == [2] and np.isnan(joined["learning_rate"][0]) and len(joined["learning_rate"]) == 5


def test_plot_history_rejects_unknown_metric():
    with pytest.raises(ValueError, match="Available"):
        viz.plot_history({"loss": [1.0]}, metrics=["auc"])


def test_plot_filters_one_panel_per_filter(tmp_path):
    fig = viz.plot_filters(zoo.cnn_mnist(), path=tmp_path / "f.png")
    assert len(_image_axes(fig)) == 32
    _png_ok(tmp_path / "f.png")
    rgb = viz.plot_filters(zoo.cnn_cifar10().get_layer("block1_conv"), max_filters=10)
    assert len(_image_axes(rgb)) == 10 and rgb.axes[0].images[0].get_array().shape == (3, 3, 3)


def test_plot_filters_rejects_model_without_conv():
    with pytest.raises(ValueError, match="no Conv2D"):
        viz.plot_filters(zoo.dense_mnist())


def test_feature_maps_count_matches_channels(tmp_path):
    model = zoo.cnn_mnist_skip()
    image = np.random.default_rng(0).random((28, 28, 1), dtype="float32")
    fig = viz.plot_feature_maps(model, "block2_conv1", image, path=tmp_path / "m.png")
    assert len(_image_axes(fig)) == model.get_layer("block2_conv1").filters == 32
    assert fig.axes[0].images[0].get_array().shape == (14, 14)
    _png_ok(tmp_path / "m.png")
    assert len(viz.plot_feature_maps(model, "block1_conv1", image[None], max_maps=5).axes) == 5


def test_feature_maps_inside_a_nested_backbone():
    backbone = zoo.cnn_mnist(include_top=False, name="backbone")
    inputs = keras.Input((28, 28, 1))
    outer = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(backbone(inputs))))
    fig = viz.plot_feature_maps(outer, "block2_conv", np.zeros((28, 28, 1)))
    assert len(fig.axes) == 32


def test_feature_maps_errors_name_the_choices():
    model = zoo.cnn_mnist()
    with pytest.raises(ValueError, match=r"No layer named 'conv9'.*\['block1_conv', 'block2_conv'\]"):
        viz.plot_feature_maps(model, "conv9", np.zeros((28, 28, 1)))
    with pytest.raises(ValueError, match="not a 4-D feature map"):
        viz.plot_feature_maps(model, "fc1", np.zeros((28, 28, 1)))
    with pytest.raises(ValueError, match="one image"):
        viz.plot_feature_maps(model, "block1_conv", np.zeros((2, 28, 28, 1)))


def test_augmentation_grid_shows_original_and_n(tmp_path, chelsea):
    fig = viz.plot_augmentation_grid(keras.layers.RandomFlip("horizontal", seed=1), chelsea[:128, :128], n=5,
                                     path=tmp_path / "a.png")
    assert len(_image_axes(fig)) == 6 and fig.axes[0].get_title() == "original"
    _png_ok(tmp_path / "a.png")
    with pytest.raises(ValueError, match="n=0"):
        viz.plot_augmentation_grid(keras.layers.RandomFlip(), chelsea, n=0)


def test_plot_keypoints_draws_truth_and_prediction(tmp_path):
    faces = np.random.default_rng(1).random((3, 96, 96, 1), dtype="float32")
    truth = np.zeros((3, 30), "float32")
    truth[:, 0:2] = [-0.5, -0.5]  # left eye at pixel (24, 24)
    truth[0, 2:4] = np.nan        # a missing keypoint is not drawn
    fig = viz.plot_keypoints(faces, truth, truth + 0.1, path=tmp_path / "k.png")
    assert len(_image_axes(fig)) == 3
    dots, crosses = fig.axes[0].collections
    offsets = np.ma.compress_rows(np.ma.masked_invalid(dots.get_offsets()))
    assert len(offsets) == 14 and tuple(offsets[0]) == (24.0, 24.0)
    assert crosses.get_offsets().shape[0] == 15
    _png_ok(tmp_path / "k.png")
    with pytest.raises(ValueError, match="keypoints"):
        viz.plot_keypoints(faces, truth[:2])


def test_confusion_matrix_counts(tmp_path):
    y_true = [0, 0, 0, 1, 1, 2, 2, 2, 2]
    y_pred = [0, 0, 1, 1, 1, 2, 0, 2, 2]
    fig = viz.plot_confusion_matrix(y_true, y_pred, ["a", "b", "c"], path=tmp_path / "c.png")
    counts = np.array([int(t.get_text()) for t in fig.axes[0].texts]).reshape(3, 3)
    np.testing.assert_array_equal(counts, [[2, 1, 0], [0, 2, 0], [1, 0, 3]])
    _png_ok(tmp_path / "c.png")
    scores = np.eye(3)[y_pred]  # probabilities: argmax taken
    again = viz.plot_confusion_matrix(y_true, scores, ["a", "b", "c"], normalize=True)
    assert again.axes[0].texts[0].get_text() == "0.67"
    with pytest.raises(ValueError, match=r"Received labels \[3\]"):
        viz.plot_confusion_matrix([0, 3], [0, 1], ["a", "b"])


@pytest.mark.parametrize("class_index, region", [(0, (slice(4, 12), slice(4, 12))),
                                                 (1, (slice(20, 28), slice(20, 28)))])
def test_grad_cam_finds_the_evidence(class_index, region):
    heat = viz.grad_cam(_known_model(), _two_squares(), class_index=class_index)
    assert heat.shape == (32, 32) and heat.max() == pytest.approx(1.0)
    row, col = np.unravel_index(np.argmax(heat), heat.shape)
    assert region[0].start <= row < region[0].stop and region[1].start <= col < region[1].stop
    outside = np.ones_like(heat, bool)
    outside[region[0].start - 2:region[0].stop + 2, region[1].start - 2:region[1].stop + 2] = False
    assert heat[outside].max() < 0.05  # nothing lights up away from the square


def test_grad_cam_inside_a_nested_backbone():
    model = _nested_known_model()
    for class_index, (rows, cols) in [(0, (range(4, 12), range(4, 12))), (1, (range(20, 28), range(20, 28)))]:
        heat = viz.grad_cam(model, _two_squares(), class_index=class_index)  # default: backbone's "pool"
        row, col = np.unravel_index(np.argmax(heat), heat.shape)
        assert row in rows and col in cols
    flat = viz.grad_cam(_known_model(), _two_squares(), class_index=0, layer_name="detect")
    np.testing.assert_allclose(viz.grad_cam(model, _two_squares(), class_index=0, layer_name="detect"), flat, atol=1e-5)


def test_grad_cam_defaults_and_errors(tmp_path):
    model = _known_model()
    image = _two_squares()
    image[20:28, 20:28] = 0.45  # weaken the dark square: class 0 wins, and is the default
    coarse = viz.grad_cam(model, image, layer_name="detect", upsample=False)
    assert coarse.shape == (32, 32) and np.argmax(coarse) // 32 in range(4, 12)
    assert viz.grad_cam(model, image, upsample=False).shape == (16, 16)  # default: last 4-D layer "pool"
    with pytest.raises(ValueError, match=r"Convolution layers available: \['detect'\]"):
        viz.grad_cam(model, image, layer_name="nope")
    with pytest.raises(ValueError, match="class_index=7"):
        viz.grad_cam(model, image, class_index=7)
    fig = viz.plot_grad_cam(model, image, class_names=["bright", "dark"], path=tmp_path / "g.png")
    assert len(fig.axes) == 2 and "bright" in fig.axes[1].get_title()
    _png_ok(tmp_path / "g.png")


def test_grad_cam_on_jax(run_jax):
    out = run_jax("""
        import numpy as np, keras
        from viz import grad_cam
        inputs = keras.Input((16, 16, 1))
        conv = keras.layers.Conv2D(1, 1, activation="relu", name="c")
        dense = keras.layers.Dense(1)
        model = keras.Model(inputs, dense(keras.layers.GlobalAveragePooling2D()(conv(inputs))))
        conv.set_weights([np.ones((1, 1, 1, 1), "float32"), np.zeros(1, "float32")])
        dense.set_weights([np.ones((1, 1), "float32"), np.zeros(1, "float32")])
        img = np.zeros((16, 16, 1), "float32"); img[10:14, 2:6] = 1.0
        heat = grad_cam(model, img, class_index=0)
        outer_in = keras.Input((16, 16, 1))
        nested = keras.Model(outer_in, model(outer_in))  # the whole network as a nested backbone
        heat2 = grad_cam(nested, img, class_index=0, layer_name="c")
        print(keras.backend.backend(), *np.unravel_index(np.argmax(heat), heat.shape), float(abs(heat - heat2).max()))
    """)
    backend, row, col, diff = out.split()
    assert backend == "jax" and 10 <= int(row) < 14 and 2 <= int(col) < 6 and float(diff) < 1e-5
