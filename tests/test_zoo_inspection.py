"""Inspection: the seeds' formulas, parameter totals, multiply-adds, receptive fields."""

import math
import subprocess
import sys

import keras
import pytest

import zoo
from zoo.arithmetic import conv_output_size, conv_params


@pytest.mark.parametrize(
    "size, kernel, padding, stride, expected",
    [(32, 5, 0, 1, 28), (32, 5, 2, 1, 32), (227, 11, 0, 4, 55), (225, 7, 3, 2, 113),
     (7, 3, 0, 2, 3), (28, 3, "same", 1, 28), (28, 3, "valid", 1, 26), (5, 3, "same", 2, 3)],
)
def test_conv_output_size_formula(size, kernel, padding, stride, expected):
    assert conv_output_size(size, kernel, padding, stride) == expected


def test_a_stride_that_does_not_fit_is_an_error():
    # The seed's example: a 7x7 input, a 3x3 filter and stride 3 do not tile.
    with pytest.raises(ValueError, match="Stride 3 does not fit") as err:
        conv_output_size(7, 3, 0, 3)
    assert "(7 - 3 + 2*0) = 4" in str(err.value)
    with pytest.raises(ValueError, match="Stride 2 does not fit"):
        conv_output_size(224, 7, 3, 2)
    assert conv_output_size(224, 7, 3, 2, strict=False) == 112  # what Keras computes for ResNet's stem
    with pytest.raises(ValueError, match="larger than"):
        conv_output_size(3, 5, 0, 1)
    with pytest.raises(ValueError, match="padding"):
        conv_output_size(8, 3, -1, 1)


def test_conv_params_formula_matches_keras():
    assert conv_params(3, in_channels=1, filters=32) == 320
    assert conv_params((5, 5), in_channels=3, filters=64, bias=False) == 4800
    layer = keras.layers.Conv2D(64, (5, 3))
    layer.build((None, 10, 10, 7))
    assert conv_params((5, 3), 7, 64) == layer.count_params()


def test_summary_totals_and_rows():
    model = zoo.resnet20()
    for layer in model.layers[:10]:
        layer.trainable = False
    report = zoo.summary(model)
    assert report.total_params == model.count_params()
    assert report.trainable_params == sum(int(keras.ops.size(w)) for w in model.trainable_weights)
    assert report.non_trainable_params == report.total_params - report.trainable_params
    assert sum(r.params for r in report.rows) == report.total_params
    assert [r.name for r in report.rows] == [l.name for l in model.layers[1:]]
    assert report.flops == 2 * report.macs
    text = str(report)
    assert "conv4_block3_out" in text and f"{report.total_params:,}" in text


@pytest.mark.parametrize("name, giga_macs", [("resnet50", 3.86), ("vgg16", 15.5)])
def test_multiply_adds_match_published_figures(name, giga_macs):
    macs = zoo.summary(name).macs
    assert macs / 1e9 == pytest.approx(giga_macs, rel=0.01)


def test_resnet20_multiply_adds_match_the_paper():
    assert zoo.summary("resnet20").macs / 1e6 == pytest.approx(41, rel=0.03)


def test_conv_multiply_adds_by_hand():
    inputs = keras.Input((10, 10, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same")(inputs)  # 5x5x8 outputs, 27 MACs each
    x = keras.layers.DepthwiseConv2D(3, padding="same")(x)  # 5x5x8 outputs, 9 MACs each
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(4)(x)  # 8 x 4
    report = zoo.summary(keras.Model(inputs, outputs))
    assert [r.macs for r in report.rows] == [5 * 5 * 8 * 27, 5 * 5 * 8 * 9, 0, 32]


def test_receptive_fields_of_known_networks():
    # VGG16 pool5: 212 px, stride 32; LeNet-5's C5 sees the whole 32x32 input.
    assert zoo.receptive_field(zoo.vgg16(include_top=False)) == (212, 32)
    assert zoo.receptive_field(zoo.lenet5(include_top=False)) == (32, 4)
    # Through residual branches the longest path counts: the stem's 3x3 (3 px), six 3x3 convs
    # at stride 1 (+2 each), seven at jump 2 (+4 each, the first strided), seven at jump 4 (+8).
    assert zoo.receptive_field(zoo.resnet20(include_top=False)) == (3 + 6 * 2 + 1 * 2 + 5 * 4 + 1 * 4 + 5 * 8, 4)


def test_summary_of_a_nested_model_walks_inside():
    backbone = zoo.cnn_mnist(include_top=False)
    inputs = keras.Input((28, 28, 1))
    outputs = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(backbone(inputs)))
    report = zoo.summary(keras.Model(inputs, outputs))
    assert report.total_params == backbone.count_params() + 32 * 3 + 3
    assert any(r.name == "cnn_mnist/block2_conv" for r in report.rows)
    assert report.macs == zoo.summary(backbone).macs + 96


def test_summary_by_name_and_input_shape():
    by_name = zoo.summary("resnet20", input_shape=(64, 64, 3))
    assert by_name.input_shape == (64, 64, 3)
    assert by_name.macs == zoo.summary(zoo.resnet20(input_shape=(64, 64, 3))).macs
    # A model with variable height and width is measured at the size asked for.
    variable = zoo.resnet20(input_shape=(None, None, 3))
    assert zoo.summary(variable, input_shape=(64, 64, 3)).macs == by_name.macs
    # Every convolution of the CIFAR net is same-padded: four times the pixels, four times the work.
    conv_macs = lambda r: sum(row.macs for row in r.rows if row.type == "Conv2D")  # noqa: E731
    assert conv_macs(by_name) == 4 * conv_macs(zoo.summary("resnet20"))


def test_command_line_list_and_summary():
    run = lambda *a: subprocess.run([sys.executable, "-m", "zoo", *a], capture_output=True, text=True)  # noqa: E731
    listed = run("list", "resnet2*")
    assert listed.returncode == 0, listed.stderr
    assert "resnet20" in listed.stdout and "271,098" in listed.stdout and "32x32x3" in listed.stdout
    summary = run("summary", "lenet5", "--classes", "5")
    assert summary.returncode == 0 and "61,281" in summary.stdout  # 61,706 - 850 + 84 * 5 + 5
    bad = run("summary", "lenet")
    assert bad.returncode == 2 and "lenet5" in bad.stderr


def test_activations_of_lenet5_by_hand():
    # C1 28x28x6, C3 10x10x16, C5 1x1x120, F6 84, output 10; pooling, flatten and tanh do not count.
    report = zoo.summary("lenet5")
    assert [r.activations for r in report.rows] == [28 * 28 * 6, 0, 10 * 10 * 16, 0, 120, 0, 84, 10]
    assert report.activations == 4704 + 1600 + 120 + 84 + 10
    assert "Activations: 6.52K" in str(report) and "Acts" in str(report)


def test_activations_count_depthwise_and_separable_convolutions():
    inputs = keras.Input((10, 10, 3))
    x = keras.layers.DepthwiseConv2D(3, padding="same")(inputs)  # 10x10x3
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.SeparableConv2D(8, 3, depth_multiplier=2)(x)  # depthwise 8x8x6, pointwise 8x8x8
    report = zoo.summary(keras.Model(inputs, x))
    assert report.activations == 300 + 8 * 8 * 6 + 8 * 8 * 8


def test_activations_of_resnet50_from_the_output_shapes():
    model = zoo.resnet50()
    counted = (keras.layers.Conv2D, keras.layers.Dense)  # ResNet-50 has no other counted layers
    expected = sum(math.prod(layer.output.shape[1:]) for layer in model.layers if isinstance(layer, counted))
    assert zoo.summary(model).activations == expected
    assert 10e6 < expected < 11e6  # Keras's v1 layout; timm's v1.5 (stride in the 3x3) has 11.1M


def test_a_sequential_model_built_by_add_is_walked_once():
    # Every add() re-traces a Sequential; the walk sees the model's graph, one row per layer.
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(4, 3, name="c1")])
    model.add(keras.layers.MaxPooling2D(name="p1"))
    model.add(keras.layers.Flatten(name="flat"))
    model.add(keras.layers.Dense(10, name="out"))
    report = zoo.summary(model)
    assert [r.name for r in report.rows] == ["c1", "p1", "flat", "out"]
    assert report.total_params == model.count_params() == sum(r.params for r in report.rows)
    assert report.macs == 26 * 26 * 4 * 9 + 13 * 13 * 4 * 10


def test_a_shared_layer_is_two_calls_and_its_parameters_count_once():
    inputs = keras.Input((8, 8, 3))
    conv = keras.layers.Conv2D(3, 3, padding="same", name="shared")
    outputs = keras.layers.Add(name="add")([conv(inputs), conv(conv(inputs))])
    report = zoo.summary(keras.Model(inputs, outputs))
    assert [r.name for r in report.rows] == ["shared", "shared", "shared", "add"]
    assert [r.params for r in report.rows] == [84, 0, 0, 0] and report.total_params == 84
    assert report.macs == 3 * 8 * 8 * 3 * 27
    assert report.receptive_field == 5  # the longest path: two 3x3 convolutions


def test_graph_of_nested_models_as_last_layers():
    # A functional model's calls are numbered from 1 in the config's output_layers, a Sequential's
    # from 0 (zoo.graph._first_call): nested models that are outputs of the graph pin that here.
    x = keras.Input((4,))
    inner = keras.Model(x, keras.layers.Dense(2, name="d")(x), name="inner")
    seq = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="sd")], name="seq")
    inputs = keras.Input((4,))
    model = keras.Model(inputs, [inner(inputs), inner(keras.layers.Dense(4, name="pre")(inputs)), seq(inputs)])
    graph = zoo.graph.model_graph(model)
    assert graph.outputs == (("inner", 0, 0), ("inner", 1, 0), ("seq", 0, 0))
    assert [(c.layer.name, c.index, c.output_shape) for c in graph.calls] == [
        ("pre", 0, (None, 4)), ("inner", 0, (None, 2)), ("inner", 1, (None, 2)), ("seq", 0, (None, 3))]
    report = zoo.summary(model)
    assert [r.name for r in report.rows] == ["pre", "inner/d", "inner/d", "seq/sd"]
    assert report.total_params == model.count_params() == 20 + 10 + 15
    outputs, tapped = zoo.graph.replay(model, keras.Input((4,)), tap="sd")
    assert [tuple(t.shape) for t in outputs] == [(None, 2), (None, 2), (None, 3)] and tapped is outputs[2]


def test_summary_walks_graphs_with_keras_ops_nodes():
    """MobileNetV3 adds with keras.ops in its graph: those nodes are operations, not layers."""
    model = keras.applications.MobileNetV3Small(weights=None, input_shape=(64, 64, 3))
    report = zoo.summary(model)
    assert report.total_params == model.count_params()
    assert any(row.type == "Add" for row in report.rows)
