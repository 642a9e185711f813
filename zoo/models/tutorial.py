"""The networks of the tutorials, each as small as the lesson it teaches.

``dense_mnist`` is the 784-512-10 perceptron (407,050 parameters);
``cnn_mnist_sequential`` and ``cnn_mnist`` are one small CNN written with the
Sequential and the functional API (61,482 parameters each at 28x28x1);
``cnn_mnist_skip`` adds an ``add()`` skip connection (129,130 parameters);
``cnn_dogs_vs_cats`` is four conv+pool blocks, two Dense layers and one
sigmoid; ``cnn_cifar10`` and ``cnn_cifar10_large`` the CIFAR-10 baseline and
its wider, dropout-regularised version; ``cnn_facial_keypoints`` the
Nouri-style regression net with 30 linear outputs.
"""

import keras
from keras import layers

from zoo import parts, weights as weights_lib
from zoo.configs import ArchConfig
from zoo.registry import register_config, register_model

MNIST_SHAPE = (28, 28, 1)


def _record(name, input_shape, min_size, classes, description):
    # Trained from scratch on pixels / 255; layers named block<i>_... as in the tutorials.
    return ArchConfig(name, input_shape, min_size, "rescale", "blocks", family="tutorial", classes=classes,
                      description=description)


CONFIGS = (
    _record("dense_mnist", MNIST_SHAPE, 1, 10, "784-512-10 perceptron"),
    _record("cnn_mnist_sequential", MNIST_SHAPE, 10, 10, "small MNIST CNN, Sequential API"),
    _record("cnn_mnist", MNIST_SHAPE, 10, 10, "small MNIST CNN, functional API"),
    _record("cnn_mnist_skip", MNIST_SHAPE, 4, 10, "MNIST CNN with one add() skip connection"),
    _record("cnn_dogs_vs_cats", (150, 150, 3), 16, 1, "four conv+pool blocks, one sigmoid"),
    _record("cnn_cifar10", (32, 32, 3), 4, 10, "the CIFAR-10 baseline CNN"),
    _record("cnn_cifar10_large", (32, 32, 3), 4, 10, "wider CIFAR-10 CNN with dropout"),
    _record("cnn_facial_keypoints", (96, 96, 1), 24, 30, "Nouri's keypoint regression net, 30 outputs"),
)
register_config(*CONFIGS)


def _start(name, include_top, weights, pooling, classes, classifier_activation, input_tensor, input_shape):
    """``(x, inputs, classes)`` for the tutorial net ``name`` after the common checks."""
    _, classes, (x, inputs) = parts.start(
        name, include_top=include_top, weights=weights, input_tensor=input_tensor, input_shape=input_shape,
        pooling=pooling, classes=classes, classifier_activation=classifier_activation)
    return x, inputs, classes


def _conv_pool(x, filters, kernel, name, padding="valid", dropout=0.0):
    x = layers.Conv2D(filters, kernel, padding=padding, activation="relu", name=f"{name}_conv")(x)
    x = layers.MaxPooling2D(2, name=f"{name}_pool")(x)
    return layers.Dropout(dropout, name=f"{name}_drop")(x) if dropout else x


def _dense_top(x, hidden, classes, activation, dropout=0.0):
    """Flatten, the hidden Dense layers (each after ``dropout``), the classifier."""
    x = layers.Flatten(name="flatten")(x)
    for i, units in enumerate(hidden, start=1):
        if dropout:
            x = layers.Dropout(dropout, name=f"fc{i}_drop")(x)
        x = layers.Dense(units, activation="relu", name=f"fc{i}")(x)
    return parts.classifier(x, classes, activation)


@register_model
def dense_mnist(*, include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None,
                classes=10, classifier_activation="softmax", name="dense_mnist"):
    """The 784-512-10 multilayer perceptron: 407,050 parameters at 28x28x1.

    Images are flattened first, so every pixel connects to every hidden unit.
    Without the top the output is the 512 hidden units; there is no spatial
    map, so ``pooling`` must be None.

    Example:
        >>> dense_mnist().count_params()
        407050
    """
    if pooling is not None:
        raise ValueError(f"dense_mnist has no spatial feature map to pool. Received: pooling={pooling!r}")
    x, inputs, classes = _start("dense_mnist", include_top, weights, pooling, classes, classifier_activation,
                                   input_tensor, input_shape)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(512, activation="relu", name="fc1")(x)
    if include_top:
        x = parts.classifier(x, classes, classifier_activation)
    return parts.make_model(inputs, x, name=name, weights=weights, arch=None)


@register_model
def cnn_mnist_sequential(*, include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None,
                         classes=10, classifier_activation="softmax", name="cnn_mnist_sequential"):
    """The small CNN written with ``keras.Sequential``: 61,482 parameters at 28x28x1.

    Conv 32@3x3, pool, conv 32@3x3, pool, Dense 64, classifier. A Sequential
    model is built from its own Input; given ``input_tensor``, its layers are
    chained on that tensor into a Functional model (as keras.applications
    does), so it can sit inside a larger graph, e.g. behind a preprocessing layer.

    Example:
        >>> cnn_mnist_sequential().count_params()
        61482
        >>> x = keras.Input((28, 28, 1))
        >>> type(cnn_mnist_sequential(input_tensor=x)).__name__
        'Functional'
    """
    _, classes, (x, inputs) = parts.start("cnn_mnist_sequential", include_top=include_top, weights=weights,
                                          input_tensor=input_tensor, input_shape=input_shape, pooling=pooling,
                                          classes=classes, classifier_activation=classifier_activation)
    shape = tuple(x.shape[1:])
    model = keras.Sequential(name=name)
    model.add(keras.Input(shape=shape))
    model.add(layers.Conv2D(32, 3, activation="relu", name="block1_conv"))
    model.add(layers.MaxPooling2D(2, name="block1_pool"))
    model.add(layers.Conv2D(32, 3, activation="relu", name="block2_conv"))
    model.add(layers.MaxPooling2D(2, name="block2_pool"))
    if include_top:
        model.add(layers.Flatten(name="flatten"))
        model.add(layers.Dense(64, activation="relu", name="fc1"))
        model.add(layers.Dense(classes, activation=classifier_activation, name="predictions"))
    elif pooling is not None:
        model.add({"avg": layers.GlobalAveragePooling2D(name="avg_pool"),
                   "max": layers.GlobalMaxPooling2D(name="max_pool")}[pooling])
    weights_lib.load_into(model, weights)
    if input_tensor is None:
        return model
    for layer in model.layers:  # the same layers (and weights), chained on the given tensor
        x = layer(x)
    return keras.Model(inputs, x, name=name)


@register_model
def cnn_mnist(*, include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None,
              classes=10, classifier_activation="softmax", name="cnn_mnist"):
    """The same small CNN as :func:`cnn_mnist_sequential`, in the functional API (61,482 parameters).

    Example:
        >>> cnn_mnist().count_params()
        61482
    """
    x, inputs, classes = _start("cnn_mnist", include_top, weights, pooling, classes, classifier_activation,
                                   input_tensor, input_shape)
    x = _conv_pool(x, 32, 3, "block1")
    x = _conv_pool(x, 32, 3, "block2")
    x = _dense_top(x, (64,), classes, classifier_activation) if include_top else parts.global_pool(x, pooling)
    return parts.make_model(inputs, x, name=name, weights=weights, arch=None)


@register_model
def cnn_mnist_skip(*, include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None,
                   classes=10, classifier_activation="softmax", name="cnn_mnist_skip"):
    """Four same-padded convolutions with one ``add()`` skip connection: 129,130 parameters at 28x28x1.

    The second block's output is added to its input (the first block's pooled
    map), the idea residual networks are built from.

    Example:
        >>> cnn_mnist_skip().count_params()
        129130
    """
    x, inputs, classes = _start("cnn_mnist_skip", include_top, weights, pooling, classes, classifier_activation,
                                   input_tensor, input_shape)
    conv = lambda y, n: layers.Conv2D(32, 3, padding="same", activation="relu", name=n)(y)  # noqa: E731
    x = conv(conv(x, "block1_conv1"), "block1_conv2")
    pooled = layers.MaxPooling2D(2, name="block1_pool")(x)
    x = conv(conv(pooled, "block2_conv1"), "block2_conv2")
    x = layers.Add(name="block2_add")([pooled, x])
    x = layers.MaxPooling2D(2, name="block2_pool")(x)
    x = _dense_top(x, (64,), classes, classifier_activation) if include_top else parts.global_pool(x, pooling)
    return parts.make_model(inputs, x, name=name, weights=weights, arch=None)


@register_model
def cnn_dogs_vs_cats(*, include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None,
                     classes=1, classifier_activation="sigmoid", dropout=0.5, name="cnn_dogs_vs_cats"):
    """Four conv+pool blocks (32, 64, 128, 128 filters, same padding), Dense 512, one sigmoid output.

    The binary classifier of the Dogs-vs-Cats tutorial: output is P(dog).

    Example:
        >>> cnn_dogs_vs_cats().output_shape
        (None, 1)
    """
    x, inputs, classes = _start("cnn_dogs_vs_cats", include_top, weights, pooling, classes, classifier_activation,
                                   input_tensor, input_shape)
    for i, filters in enumerate((32, 64, 128, 128), start=1):
        x = _conv_pool(x, filters, 3, f"block{i}", padding="same")
    if include_top:
        x = _dense_top(x, (512,), classes, classifier_activation, dropout=dropout)
    else:
        x = parts.global_pool(x, pooling)
    return parts.make_model(inputs, x, name=name, weights=weights, arch=None)


@register_model
def cnn_cifar10(*, include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None,
                classes=10, classifier_activation="softmax", name="cnn_cifar10"):
    """The CIFAR-10 baseline: conv 32, pool, conv 64, pool, Dense 128; no regularisation (it overfits).

    Example:
        >>> cnn_cifar10().output_shape
        (None, 10)
    """
    x, inputs, classes = _start("cnn_cifar10", include_top, weights, pooling, classes, classifier_activation,
                                   input_tensor, input_shape)
    x = _conv_pool(x, 32, 3, "block1", padding="same")
    x = _conv_pool(x, 64, 3, "block2", padding="same")
    x = _dense_top(x, (128,), classes, classifier_activation) if include_top else parts.global_pool(x, pooling)
    return parts.make_model(inputs, x, name=name, weights=weights, arch=None)


@register_model
def cnn_cifar10_large(*, include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None,
                      classes=10, classifier_activation="softmax", dropout=(0.25, 0.25, 0.5),
                      name="cnn_cifar10_large"):
    """The larger, regularised CIFAR-10 CNN: two conv pairs (32, 64) each pooled and dropped out, Dense 512.

    ``dropout`` gives the rates after block 1, after block 2 and before the classifier.

    Example:
        >>> cnn_cifar10_large().output_shape
        (None, 10)
    """
    x, inputs, classes = _start("cnn_cifar10_large", include_top, weights, pooling, classes, classifier_activation,
                                   input_tensor, input_shape)
    for i, filters in enumerate((32, 64), start=1):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"block{i}_conv1")(x)
        x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"block{i}_conv2")(x)
        x = layers.MaxPooling2D(2, name=f"block{i}_pool")(x)
        x = layers.Dropout(dropout[i - 1], name=f"block{i}_drop")(x)
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(512, activation="relu", name="fc1")(x)
        x = layers.Dropout(dropout[2], name="fc1_drop")(x)
        x = parts.classifier(x, classes, classifier_activation)
    else:
        x = parts.global_pool(x, pooling)
    return parts.make_model(inputs, x, name=name, weights=weights, arch=None)


@register_model
def cnn_facial_keypoints(*, include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None,
                         classes=30, classifier_activation=None, dropout=(0.1, 0.2, 0.3, 0.5),
                         hidden=(1000, 1000), name="cnn_facial_keypoints"):
    """Nouri's facial-keypoints net: conv 32@3x3, 64@2x2, 128@2x2, each pooled with growing dropout,
    two Dense layers of ``hidden`` units, 30 linear outputs (x, y of 15 keypoints scaled to [-1, 1]).

    ``dropout`` gives the rates after each conv block and between the Dense layers.

    Example:
        >>> cnn_facial_keypoints().output_shape
        (None, 30)
    """
    x, inputs, classes = _start("cnn_facial_keypoints", include_top, weights, pooling, classes, classifier_activation,
                                   input_tensor, input_shape)
    for i, (filters, kernel) in enumerate(((32, 3), (64, 2), (128, 2)), start=1):
        x = _conv_pool(x, filters, kernel, f"block{i}", dropout=dropout[i - 1])
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(hidden[0], activation="relu", name="fc1")(x)
        x = layers.Dropout(dropout[3], name="fc1_drop")(x)
        x = layers.Dense(hidden[1], activation="relu", name="fc2")(x)
        x = parts.classifier(x, classes, classifier_activation)
    else:
        x = parts.global_pool(x, pooling)
    return parts.make_model(inputs, x, name=name, weights=weights, arch=None)
