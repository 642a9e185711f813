"""Typed architecture records: the stated source and its named spec, weight sets apart, one builder signature."""

import dataclasses

import pytest

import zoo
from zoo.configs import ArchConfig, HubBackbone, KerasApp, WeightSet
from zoo.models import keras_hub as hub_records


def test_records_state_their_source_and_name_their_builder_data():
    resnet, keras_app, hub = zoo.get_arch("resnet50v2"), zoo.get_arch("mobilenet_v2"), zoo.get_arch("hub_resnet18")
    assert (resnet.source, resnet.spec.stage_blocks, resnet.spec.block) == ("zoo", (3, 4, 6, 3), "preact")
    assert (keras_app.source, keras_app.spec, keras_app.keras_app) == ("keras", KerasApp("MobileNetV2"), "MobileNetV2")
    assert (hub.source, hub.spec) == ("hub", HubBackbone("ResNetBackbone", "resnet18"))
    assert zoo.get_arch("vgg16_bn").spec.batch_norm and zoo.get_arch("plain56").spec == \
        zoo.models.cifar_resnet.CifarLayout(56, False)
    # The source is stated, not read from a name: a record named hub_* may be the zoo's own.
    zoo.register_config(ArchConfig("hub_like_mine", (32, 32, 3), 8, "rescale", "stages"))
    try:
        assert zoo.get_arch("hub_like_mine").source == "zoo" and "hub_like_mine" not in zoo.list_configs(source="hub")
    finally:
        zoo.unregister("hub_like_mine")
    with pytest.raises(TypeError, match="A 'hub' record's spec must be a HubBackbone. Received: spec=None"):
        ArchConfig("no_spec", (32, 32, 3), 8, "torch", "stacks", source="hub")
    with pytest.raises(ValueError, match="`source` must be one of .*Received: source='timm'"):
        ArchConfig("bad_source", (32, 32, 3), 8, "torch", "stacks", source="timm")


def test_weight_sets_carry_their_normalisation_and_where_they_come_from():
    resnet = zoo.get_arch("resnet50")
    assert resnet.weight_set("imagenet").files.notop == "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
    assert resnet.weight_set().preprocessing == "caffe" and zoo.get_arch("resnet50v2").weight_set().preprocessing == "tf"
    assert zoo.get_arch("efficientnet_b0").weight_set().preprocessing is None  # Keras's: rescaled inside
    assert hub_records.presets("hub_densenet121") == ("densenet_121_imagenet",)
    with pytest.raises(ValueError, match="'resnet20' has no weight set 'imagenet'. Weight sets: none"):
        zoo.get_arch("resnet20").weight_set("imagenet")
    with pytest.raises(ValueError, match="one place: files, preset or package. Received: \\['preset', 'package'\\]"):
        WeightSet("torch", preset="a", package="b")
    # One architecture, several weight sets, each with its own normalisation (timm's arch.tag).
    files = resnet.weights["imagenet"].files
    two = dataclasses.replace(resnet, name="resnet50_two", weights={
        "imagenet": files, "imagenet_tf": WeightSet("tf", files=files, input_size=(256, 256))})
    assert two.weights["imagenet"] == WeightSet("caffe", files=files)  # bare files: the record's normalisation
    assert [two.preprocessing_for(w) for w in ("imagenet", "imagenet_tf", None, "/my.weights.h5")] == \
        ["caffe", "tf", "caffe", "caffe"]
    assert two.input_shape_for(weights="imagenet_tf") == (256, 256, 3) and two.input_shape_for() == (224, 224, 3)
    with pytest.raises(TypeError, match="`weights` maps names to WeightSet"):
        ArchConfig("bad_weights", (32, 32, 3), 8, "tf", "stages", weights={"imagenet": "file.h5"})


def test_one_builder_signature_and_one_input_shape_rule():
    # Every record builds through the same door; the registry holds builders of one signature, build(**kwargs).
    assert zoo.create_model("mobilenet_v3_small", include_top=False).input_shape == (None, 224, 224, 3)
    assert zoo.create_model("resnet20", input_shape=(40, 40, 3)).input_shape == (None, 40, 40, 3)
    assert "mobilenet_v2" not in zoo.list_models()  # list_models: the zoo's own builders only, as before
    with pytest.raises(ValueError, match="Unknown model 'mobilenet_v2'"):
        zoo.get_builder("mobilenet_v2")


def test_record_lookup_by_timm_architecture_or_preset_never_by_class():
    assert hub_records.record_for(timm_arch="efficientnet_lite0") == "efficientnet_lite0"
    assert hub_records.record_for(preset="efficientnet_b0_ra_imagenet") == "hub_efficientnet_b0"
    assert hub_records.record_for(timm_arch="efficientnet_b1") is None  # same keras-hub class, no record
    densenet121 = {"stackwise_num_repeats": [6, 12, 24, 16], "compression_ratio": 0.5, "growth_rate": 32}
    assert hub_records.same_architecture({**densenet121, "name": "mine", "image_shape": [64, 64, 3]}, densenet121)
    assert not hub_records.same_architecture({**densenet121, "stackwise_num_repeats": [6, 12, 32, 32]}, densenet121)
    assert not hub_records.same_architecture({"name": "x"}, {"name": "x"})  # nothing of the architecture shared
    assert isinstance(hub_records.presets("efficientnet_lite0"), tuple) and not hub_records.presets("efficientnet_lite0")
