"""BatchNorm safety through composite layers (plain Layers holding Layers), and groups without a known input size.

No keras-hub needed: a composite layer of our own holds its sub-layers in an
attribute, a list and a dict; freezing, unfreezing, the report, the
learning-rate groups and two-phase fine-tuning must all reach the
BatchNormalization inside it.
"""

import keras
import numpy as np
import pytest

import transfer
from zoo.graph import all_layers, sublayers
from zoo.groups import derive_groups

SHAPE = (16, 16, 3)


@keras.saving.register_keras_serializable(package="tests")
class ConvBlock(keras.layers.Layer):
    """A composite layer of our own: sub-layers in an attribute, a list and a dict."""

    def __init__(self, filters=8, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.conv = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)
        self.norms = [keras.layers.BatchNormalization()]
        self.extra = {"conv": keras.layers.Conv2D(filters, 1), "bn": keras.layers.BatchNormalization()}

    def call(self, x, training=None):
        x = keras.ops.relu(self.norms[0](self.conv(x), training=training))
        return self.extra["bn"](self.extra["conv"](x), training=training)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters}


def bn_layers(model):
    return [layer for layer in all_layers(model) if isinstance(layer, keras.layers.BatchNormalization)]


def composite_backbone(input_shape=SHAPE):
    inputs = keras.Input(input_shape)
    x = ConvBlock(8, name="block1_unit")(inputs)
    x = keras.layers.MaxPooling2D(name="block1_pool")(x)
    x = ConvBlock(16, name="block2_unit")(x)
    return keras.Model(inputs, x, name="mine")


def test_walker_finds_sublayers_in_attributes_lists_and_dicts():
    block = ConvBlock()
    block(keras.Input((8, 8, 3)))
    assert [type(s).__name__ for s in sublayers(block)] == ["Conv2D", "BatchNormalization", "Conv2D",
                                                            "BatchNormalization"]
    assert len(bn_layers(block)) == 2
    model = composite_backbone()
    assert len(bn_layers(model)) == 4 and len(list(all_layers(model))) == len({id(x) for x in all_layers(model)})


def test_custom_composite_layers_are_batchnorm_safe():
    base = transfer.as_backbone(composite_backbone())
    assert [g for g, _ in base.groups] == ["block1", "block2"]
    bns = bn_layers(base)
    rng = np.random.default_rng(0)
    for bn in bns:
        bn.moving_mean.assign(rng.uniform(-1, 1, bn.moving_mean.shape).astype("float32"))
    stats = [keras.ops.convert_to_numpy(b.moving_mean).copy() for b in bns]
    model = transfer.attach_head(base, 2)
    transfer.freeze(model)
    assert not any(b.trainable for b in bns)
    x, y = rng.uniform(0, 255, (8, *SHAPE)).astype("float32"), np.arange(8) % 2
    before = keras.ops.convert_to_numpy(base.get_layer("block2_unit").conv.kernel).copy()
    transfer.fine_tune(model, (x, y), epochs=(1, 1), patience=None, batch_size=4, verbose=0,
                       learning_rate=(1e-2, 1e-2))  # phase 2: block2 unfrozen, its BatchNorm kept frozen
    assert all(np.array_equal(s, keras.ops.convert_to_numpy(b.moving_mean)) for s, b in zip(stats, bns))
    assert not np.array_equal(before, keras.ops.convert_to_numpy(base.get_layer("block2_unit").conv.kernel))
    rows = {row[0]: row for row in transfer.trainable_report(model).rows}
    assert rows["block2"][2] > 0 and rows["block2"][4] == "frozen" and rows["block1"][2] == 0
    transfer.unfreeze(model, "block2", train_bn=True)
    assert [b.trainable for b in bns] == [False, False, True, True]
    assert transfer.trainable_report(model)["block2"][4] == "train"
    multipliers = transfer.group_multipliers(model, decay=0.5)
    paths = [w.path for w in base.get_layer("block1_unit").weights]
    assert multipliers["block1_unit/*"] == 0.5 and all(p.startswith("block1_unit/") for p in paths)


def test_groups_by_resolution_without_a_known_input_size():
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="first")(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", name="down")(x)
    x = keras.layers.Conv2D(8, 3, padding="same", name="same_size")(x)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", name="down_again")(x)
    model = keras.Model(inputs, x)
    assert [(g, names[-1]) for g, names in derive_groups(model, "stages")] == [
        ("stage1", "first"), ("stage2", "same_size"), ("stage3", "down_again")]
    # a named scheme that would make one group of the whole network is refused
    assert [g for g, _ in derive_groups(model, "blocks")] == ["stage1", "stage2", "stage3"]


def test_scheme_errors_name_the_choices():
    with pytest.raises(ValueError, match=r"`scheme` must be one of .*Received: scheme='nope'"):
        derive_groups(composite_backbone(), "nope")
