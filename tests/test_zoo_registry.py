"""The registry: names, wildcards, the one door, helpful errors; argument validation."""

import pytest

import zoo
from zoo.registry import register_model


def test_list_models_filters_with_wildcards():
    assert zoo.list_models("resnet5*") == ["resnet50", "resnet50v2", "resnet56"]
    assert zoo.list_models("vgg1[16]") == ["vgg11", "vgg16"]
    assert zoo.list_models("nothing*") == []
    assert zoo.list_models() == sorted(zoo.list_models())


def test_create_model_is_the_builder():
    model = zoo.create_model("resnet20", classes=100)
    assert model.output_shape == (None, 100)
    assert zoo.get_builder("resnet20") is zoo.resnet20


def test_unknown_name_names_close_matches():
    with pytest.raises(ValueError) as err:
        zoo.create_model("resnet5O")
    message = str(err.value)
    assert "resnet50" in message and "list_models" in message


def test_register_model_takes_the_function_name_and_refuses_duplicates():
    @register_model(default_input_shape=(8, 8, 1), min_size=8)
    def tiny_test_net(**kwargs):
        return zoo.cnn_mnist(input_shape=(8, 8, 1), **kwargs)

    try:
        assert "tiny_test_net" in zoo.list_models("tiny*")
        assert zoo.default_input_shape("tiny_test_net") == (8, 8, 1)
        with pytest.raises(ValueError, match="already registered"):
            @register_model
            def tiny_test_net(**kwargs):  # noqa: F811
                return None
    finally:
        zoo.unregister("tiny_test_net")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"pooling": "mean", "include_top": False}, "pooling"),
        ({"classes": 0}, "classes"),
        ({"weights": "imagenet"}, "weights"),  # no published weights for the CIFAR ResNets
        ({"weights": "/no/such/file.weights.h5"}, "No weights file"),
        ({"input_shape": (32, 32)}, "input_shape"),
        ({"input_shape": (2, 2, 3)}, "at least"),
    ],
)
def test_bad_arguments_say_what_was_received(kwargs, match):
    with pytest.raises((ValueError, FileNotFoundError), match=match) as err:
        zoo.resnet20(**kwargs)
    assert "Received" in str(err.value)


def test_imagenet_weights_need_the_imagenet_classifier():
    with pytest.raises(ValueError, match="include_top=False"):
        zoo.resnet50(weights="imagenet", classes=10)


def test_sequential_builder_chains_its_layers_on_an_input_tensor():
    import keras
    import numpy as np

    keras.utils.set_random_seed(0)
    inputs = keras.Input((28, 28, 1))
    chained = zoo.cnn_mnist_sequential(input_tensor=keras.layers.Rescaling(1 / 255)(inputs))
    assert chained.inputs[0] is inputs and [layer.name for layer in chained.layers][2:4] == ["block1_conv",
                                                                                             "block1_pool"]
    alone = keras.Sequential(chained.layers[2:])  # the same layers, so the same weights
    x = np.random.default_rng(0).uniform(0, 255, (2, 28, 28, 1)).astype("float32")
    np.testing.assert_allclose(chained.predict(x, verbose=0), alone.predict(x / 255, verbose=0), rtol=1e-5)


def test_every_record_builds_through_create_model():
    """zoo.summary, zoo card and load_backbone share create_model: keras.applications records build there too."""
    model = zoo.create_model("MobileNet-V2", include_top=False, input_shape=(96, 96, 3))
    assert model.arch == "mobilenet_v2" and model.output_shape == (None, 3, 3, 1280)
    assert zoo.summary("mobilenet_v2").total_params == 3538984  # keras.applications' MobileNetV2 with top
    assert zoo.create_model("resnet20").arch == "resnet20" and zoo.resnet20().arch == "resnet20"
    assert zoo.get_config is zoo.get_arch  # the old name, kept for one release
