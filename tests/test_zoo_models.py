"""Every registered model: builds, shapes, parameter counts, save/load, an XLA step, pooling.

Parametrized over ``zoo.list_models()``: registering a model means it is tested.
The costly checks (the default input, a run, a ``.keras`` round trip, an XLA training
step, a JAX run, pooled heads) run on the shallowest model of each kind
(:data:`ONE_OF_EACH_KIND`): a deeper twin (ResNet-152 of ResNet-50, plain-110 of plain-20) stacks more of the same
blocks, built by the same code and read from the same kind of record; the deep
ResNets are still built to compare their parameters and layer names with
keras.applications', and the CIFAR ResNets and plain twins with the paper's.
"""

import dataclasses
import os

import keras
import numpy as np
import pytest

import zoo
import zoo.figures
import zoo.registry

MODELS = zoo.list_models()

# Published figures (DESIGN.md section 7; seed 001; He et al. 2015 table 6).
EXACT_PARAMS = {
    "dense_mnist": 407_050,
    "cnn_mnist_sequential": 61_482,
    "cnn_mnist": 61_482,
    "cnn_mnist_skip": 129_130,
    "lenet5": 61_706,
    "alexnet": 62_378_344,  # the one-tower AlexNet, as counted by torchvision and Caffe's bvlc_alexnet
}
PAPER_MILLIONS = {"resnet20": 0.27, "resnet32": 0.46, "resnet44": 0.66, "resnet56": 0.85, "resnet110": 1.7}
# torchvision's counts for the basic-block ResNets; Keras also counts BN moving statistics,
# which torchvision keeps as buffers, so compare the trainable parameters.
TRAINABLE_PARAMS = {"resnet18": 11_689_512, "resnet34": 21_797_672}
KERAS_APPLICATIONS = {
    "vgg16": "VGG16", "vgg19": "VGG19", "resnet50": "ResNet50", "resnet101": "ResNet101",
    "resnet152": "ResNet152", "resnet50v2": "ResNet50V2", "resnet101v2": "ResNet101V2",
    "resnet152v2": "ResNet152V2",
}


# The fields of a layout that only say how many blocks a model stacks.
DEPTH_FIELDS = ("stage_blocks", "depth", "layout")


def model_kind(name):
    """What decides a model's code paths: its family and its layout less the depth fields."""
    arch = zoo.registry.get_arch(name)
    if not dataclasses.is_dataclass(arch.spec):
        return (arch.family, name)  # a one-off builder (the tutorial CNNs, LeNet, AlexNet): its own kind
    rest = {k: v for k, v in dataclasses.asdict(arch.spec).items() if k not in DEPTH_FIELDS}
    return (arch.family, type(arch.spec).__name__, tuple(sorted(rest.items())))


def one_of_each_kind(names):
    """The model with the fewest parameters of each :func:`model_kind`."""
    kinds = {}
    for name in names:
        kinds.setdefault(model_kind(name), []).append(name)
    return sorted(min(group, key=lambda n: zoo.figures.figures(n)["params"]) for group in kinds.values())


ONE_OF_EACH_KIND = one_of_each_kind(MODELS)


def test_one_of_each_kind_keeps_every_block_and_drops_only_deeper_twins():
    assert {"resnet20", "plain20", "resnet18", "resnet50", "resnet50v2", "vgg11", "vgg11_bn", "alexnet"} \
        <= set(ONE_OF_EACH_KIND)
    dropped = set(MODELS) - set(ONE_OF_EACH_KIND)
    assert {"resnet152", "resnet110", "plain110", "resnet34", "vgg19_bn"} <= dropped
    for name in dropped:  # each has a shallower twin of its kind that is kept
        twin = next(n for n in ONE_OF_EACH_KIND if model_kind(n) == model_kind(name))
        assert zoo.figures.figures(twin)["params"] < zoo.figures.figures(name)["params"]


def small_shape(name):
    """The smallest sensible input for a quick test (at least 32x32)."""
    h, w, c = zoo.default_input_shape(name)
    side = max(zoo.min_input_size(name) or 32, 32)
    return (min(h, side), min(w, side), c)


def test_at_least_thirty_models():
    assert len(MODELS) >= 30


@pytest.mark.parametrize("name", ONE_OF_EACH_KIND)
def test_default_input_shape_is_the_models(name):
    model = zoo.create_model(name)
    assert tuple(model.input_shape[1:]) == zoo.default_input_shape(name)
    keras.backend.clear_session()


@pytest.mark.parametrize("name", sorted(EXACT_PARAMS))
def test_exact_reference_parameter_counts(name):
    assert zoo.create_model(name).count_params() == EXACT_PARAMS[name]


@pytest.mark.parametrize("name", sorted(PAPER_MILLIONS))
def test_cifar_resnets_match_the_paper(name):
    # The paper counts learned parameters; Keras also counts BN's moving statistics.
    params = zoo.summary(zoo.create_model(name)).trainable_params
    assert round(params / 1e6, 2 if params < 1e6 else 1) == PAPER_MILLIONS[name]
    plain = zoo.summary(zoo.create_model(name.replace("resnet", "plain")))
    assert plain.trainable_params == params  # option A shortcuts add no parameters


@pytest.mark.parametrize("name", sorted(TRAINABLE_PARAMS))
def test_basic_block_resnets_match_torchvision(name):
    report = zoo.summary(zoo.create_model(name))
    assert report.trainable_params == TRAINABLE_PARAMS[name]


# Every architecture headless; with the classifier (the same top for all), one of each kind.
@pytest.mark.parametrize("name, include_top", [(n, False) for n in sorted(KERAS_APPLICATIONS)]
                         + [(n, True) for n in ("resnet50", "resnet50v2", "vgg16")])
def test_parameter_counts_equal_keras_applications(name, include_top):
    ours = zoo.create_model(name, include_top=include_top)
    theirs = getattr(keras.applications, KERAS_APPLICATIONS[name])(weights=None, include_top=include_top)
    assert ours.count_params() == theirs.count_params()
    # Same layers in the same order under the same names: that is what makes weight files load.
    weighted = lambda m: [(l.name, [tuple(w.shape) for w in l.weights]) for l in m.layers if l.weights]  # noqa: E731
    assert weighted(ours) == weighted(theirs)
    keras.backend.clear_session()


def predict(model, x):
    # An eager call: for one small batch it is faster than predict()'s graph tracing.
    return keras.ops.convert_to_numpy(model(x, training=False))


@pytest.mark.parametrize("name", ONE_OF_EACH_KIND)
def test_builds_runs_and_survives_a_keras_file_round_trip(name, tmp_path):
    model = zoo.create_model(name, input_shape=small_shape(name), classes=7, classifier_activation="softmax")
    assert model.name == name
    x = np.random.default_rng(1).uniform(0, 1, (2, *small_shape(name))).astype("float32")
    y = predict(model, x)
    assert y.shape == (2, 7)
    assert np.allclose(y.sum(axis=1), 1.0, atol=1e-5)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(predict(loaded, x), y, atol=1e-6)
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]


@pytest.mark.parametrize("name", ONE_OF_EACH_KIND)
def test_one_xla_training_step(name):
    model = zoo.create_model(name, input_shape=small_shape(name), classes=3, classifier_activation="softmax")
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy", jit_compile=True)
    assert model.jit_compile
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 1, (2, *small_shape(name))).astype("float32")
    y = np.array([0, 2])
    before = [w.numpy().copy() for w in model.trainable_weights]
    loss = model.train_on_batch(x, y)
    assert np.isfinite(loss)
    changed = sum(not np.array_equal(b, w.numpy()) for b, w in zip(before, model.trainable_weights))
    assert changed > 0


@pytest.mark.parametrize("name", ONE_OF_EACH_KIND)
def test_headless_pooling_shapes(name):
    shape = small_shape(name)
    features = zoo.create_model(name, include_top=False, input_shape=shape)
    if len(features.output_shape) != 4:  # the perceptron has no spatial map to pool
        with pytest.raises(ValueError, match="pooling"):
            zoo.create_model(name, include_top=False, pooling="avg")
        return
    channels = features.output_shape[-1]
    for pooling in ("avg", "max"):
        pooled = zoo.create_model(name, include_top=False, pooling=pooling, input_shape=shape)
        assert pooled.output_shape == (None, channels)
        x = np.random.default_rng(3).uniform(0, 1, (1, *shape)).astype("float32")
        fmap = predict(features, x)
        pooled.set_weights(features.get_weights())
        reduce = np.mean if pooling == "avg" else np.max
        np.testing.assert_allclose(predict(pooled, x), reduce(fmap, axis=(1, 2)), rtol=1e-5, atol=1e-6)


JAX_CHUNKS = 2  # one subprocess per chunk, so the workers share the JAX runs


@pytest.mark.slow
@pytest.mark.parametrize("chunk", range(JAX_CHUNKS))
def test_models_build_and_run_under_jax(chunk, run_jax):
    names = ONE_OF_EACH_KIND[chunk::JAX_CHUNKS]
    out = run_jax(
        f"""
        import numpy as np, keras, zoo
        assert keras.backend.backend() == "jax"
        for name in {names!r}:
            h, w, c = zoo.default_input_shape(name)
            side = max(zoo.min_input_size(name) or 32, 32)
            shape = (min(h, side), min(w, side), c)
            model = zoo.create_model(name, input_shape=shape, classes=4, classifier_activation="softmax")
            y = np.asarray(model.predict(np.ones((1, *shape), "float32"), verbose=0))
            assert y.shape == (1, 4) and abs(y.sum() - 1) < 1e-4, (name, y)
            print("ok", name)
            keras.backend.clear_session()
        """
    )
    assert [line.split()[1] for line in out.splitlines() if line.startswith("ok ")] == names


@pytest.mark.skipif(os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow", reason="TF-backend check")
def test_models_build_on_an_input_tensor():
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    model = zoo.resnet20(input_tensor=x)
    assert model.inputs[0] is inputs  # the graph reaches back to the source input
    assert model.output_shape == (None, 10)
