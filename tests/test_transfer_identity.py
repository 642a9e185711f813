"""A model's identity travels with the model: groups, architecture and head kind survive renaming,
re-wrapping and .keras save/load; any functional backbone works, with derived or explicit groups."""

import keras
import numpy as np
import pytest

import transfer
import zoo


def _trainable_groups(model):
    return [row[0] for row in transfer.trainable_report(model).rows if row[2] > 0]


def test_a_renamed_backbone_keeps_its_groups_and_unfreezes_by_stage():
    base = transfer.load_backbone("resnet20", weights=None)
    renamed = keras.Model(base.input, base.output, name="my_backbone")
    assert list(transfer.layer_groups(renamed)) == list(transfer.layer_groups(base)) == \
        ["stem", "conv2", "conv3", "conv4"]
    model = transfer.attach_head(renamed, 10)
    assert list(transfer.layer_groups(model)) == ["stem", "conv2", "conv3", "conv4", "head"]
    transfer.freeze(model)
    transfer.unfreeze(model, "conv3")
    assert _trainable_groups(model) == ["conv3", "conv4", "head"]


def test_a_rewrapped_backbone_keeps_the_groups_it_carries():
    base = transfer.load_backbone("cnn_mnist", weights=None)
    custom = transfer.as_backbone(base, groups={"low": "block1_conv", "high": "block2_conv"})
    again = transfer.as_backbone(keras.Model(custom.input, custom.output, name="other"), groups=None)
    assert list(transfer.layer_groups(custom)) == ["low", "high"]
    # A plain keras.Model made from it has no record: its groups come from the layer names again.
    assert list(transfer.layer_groups(again)) == ["block1", "block2"]
    assert transfer.as_backbone(custom) is custom


def test_user_built_backbone_with_explicit_groups():
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3, name="a")(inputs)
    x = keras.layers.Conv2D(8, 3, name="b")(x)
    x = keras.layers.Conv2D(8, 3, name="c")(x)
    mine = keras.Model(inputs, x, name="mine")
    base = transfer.as_backbone(mine, groups={"early": ["a", "b"], "late": ["c"]})
    model = transfer.attach_head(base, 3)
    transfer.freeze(model)
    transfer.unfreeze(model, "late")
    assert _trainable_groups(model) == ["late", "head"]
    with pytest.raises(ValueError, match="'d'.*does not have"):
        transfer.as_backbone(mine, groups={"early": "a", "late": "d"})
    with pytest.raises(ValueError, match="model's order"):
        transfer.as_backbone(mine, groups={"early": "c", "late": "a"})


def test_head_model_record_survives_save_and_load(tmp_path):
    base = transfer.load_backbone("resnet20", weights=None, input_shape=(16, 16, 3))
    model = transfer.attach_head(base, 1)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, transfer.TransferModel) and loaded.head_kind == "binary"
    inner, head = transfer.find_backbone(loaded)
    assert isinstance(inner, transfer.Backbone) and inner.arch == "resnet20"
    assert inner.groups == base.groups
    x = np.random.default_rng(0).uniform(0, 255, (2, 16, 16, 3)).astype("float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_head_kind_is_recorded_not_guessed():
    base = transfer.load_backbone("cnn_mnist", weights=None)
    kinds = {(1, "auto"): "binary", (5, "auto"): "multiclass", (5, "sigmoid"): "multilabel",
             (30, None): "regression", (2, "linear"): "regression"}
    for (classes, activation), kind in kinds.items():
        assert transfer.attach_head(base, classes, activation=activation).head_kind == kind
    with pytest.raises(ValueError, match="loss= and metrics="):
        transfer.head_kind(zoo.cnn_mnist())


def test_a_backbone_returning_a_one_element_list_takes_a_head():
    inputs = keras.Input((16, 16, 3))
    features = keras.layers.Conv2D(4, 3, name="block1_conv")(inputs)
    listed = keras.Model(inputs, [features], name="listed")
    assert transfer.attach_head(listed, 2).output_shape == (None, 2)
    two = keras.Model(inputs, [features, features], name="two")
    with pytest.raises(ValueError, match="one output"):
        transfer.attach_head(two, 2)


def test_every_record_scheme_has_rules():
    from zoo.groups import GROUP_SCHEMES, SCHEMES

    assert {zoo.get_arch(n).group_scheme for n in zoo.list_configs()} <= set(SCHEMES) | {"stages"}
    with pytest.raises(ValueError, match=r"`group_scheme` must be one of .*Received: group_scheme='mobilenet'"):
        zoo.ArchConfig("no_rules", (32, 32, 3), 8, "tf", "mobilenet")
    assert GROUP_SCHEMES[-1] == "stages" and zoo.get_arch("resnet50").groups == "resnet"  # the old field name


def test_a_saved_backbone_loads_without_its_record(tmp_path):
    """The groups travel with the model: loading needs no registry lookup (the record may not exist here)."""
    zoo.register_config(zoo.ArchConfig("my_digits_net", (28, 28, 1), 8, "rescale", "blocks"))
    try:
        base = transfer.as_backbone(zoo.cnn_mnist(include_top=False), arch="my_digits_net",
                                    groups={"low": "block1_conv", "high": "block2_conv"})
        transfer.attach_head(base, 3).save(tmp_path / "m.keras")
    finally:
        zoo.unregister("my_digits_net")
    with pytest.raises(ValueError, match="Unknown architecture 'my_digits_net'"):
        zoo.get_arch("my_digits_net")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    found = transfer.find_backbone(loaded)[0]
    assert found.arch == "my_digits_net" and list(transfer.layer_groups(loaded)) == ["low", "high", "head"]


def test_zoo_models_carry_their_record_name():
    assert zoo.resnet20().arch == "resnet20" and zoo.create_model("vgg11", include_top=False).arch == "vgg11"
    base = transfer.as_backbone(zoo.resnet20(include_top=False))  # the record comes along: its groups too
    assert base.arch == "resnet20" and [g for g, _ in base.groups] == ["stem", "conv2", "conv3", "conv4"]
