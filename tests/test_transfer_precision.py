"""Mixed precision: bfloat16/float16 compute, float32 variables and outputs, fine_tune learning, save/load."""

import keras
import numpy as np
import pytest

import transfer
from datasets import digits as digit_data

POLICIES = ("mixed_bfloat16", "mixed_float16")
LOW = {"mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}


@pytest.fixture(autouse=True)
def _float32_after():
    """Every test leaves the global policy as it found it: float32."""
    yield
    keras.mixed_precision.set_dtype_policy("float32")


@pytest.fixture(scope="module")
def digits16():
    x, y = digit_data.load_small(16, channel=True)
    return x[:480], y[:480]


def _check_model(model, low):
    """Convolutions compute in ``low``, every float variable is float32, the output float32."""
    base = transfer.find_backbone(model)[0]
    assert base.get_layer("conv1_conv").compute_dtype == low
    assert base.get_layer("conv1_bn").compute_dtype == low  # BatchNorm computes its statistics in float32
    assert {v.dtype for v in model.weights} == {"float32"}   # BN moving statistics included
    assert model.get_layer("predictions").compute_dtype == "float32"
    assert model.predict(np.zeros((2, 16, 16, 1)), verbose=0).dtype == np.float32


def _fine_tune(model, digits, jit_compile="auto"):
    x, y = digits
    return transfer.fine_tune(model, (x[:400], y[:400]), (x[400:], y[400:]), epochs=(2, 3), learning_rate=(3e-3, 1e-3),
                              lr_decay=0.5, unfreeze_from="conv2", patience=None, verbose=0, jit_compile=jit_compile)


@pytest.mark.parametrize("policy", POLICIES)
def test_global_policy_set_before_building(policy, digits16, tmp_path):
    keras.mixed_precision.set_dtype_policy(policy)
    keras.utils.set_random_seed(0)
    model = transfer.attach_head(transfer.load_backbone("resnet20", weights=None, input_shape=(16, 16, 1)), 10)
    _check_model(model, LOW[policy])
    result = _fine_tune(model, digits16)
    assert result.history["loss"][-1] < 0.8 * result.history["loss"][0]
    assert result.history["val_accuracy"][-1] > 0.3  # 10 classes: chance is 0.1
    opt = model.optimizer
    if policy == "mixed_float16":  # compile wrapped the discriminative optimizer in loss scaling
        assert isinstance(opt, keras.optimizers.LossScaleOptimizer)
        opt = opt.inner_optimizer
    assert isinstance(opt, transfer.DiscriminativeOptimizer)
    model.save(tmp_path / "m.keras")
    keras.mixed_precision.set_dtype_policy("float32")  # a fresh process loading it
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    _check_model(loaded, LOW[policy])
    x = digits16[0][:8]
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_dtype_argument_is_for_one_model():
    keras.utils.set_random_seed(0)
    base = transfer.load_backbone("resnet20", weights=None, input_shape=(16, 16, 1))
    fast = transfer.attach_head(base, 10, dtype="mixed_bfloat16")
    _check_model(fast, "bfloat16")
    assert keras.mixed_precision.dtype_policy().name == "float32"
    assert base.get_layer("conv1_conv").compute_dtype == "float32"  # the float32 backbone was copied, not changed
    assert transfer.layer_groups(fast).keys() == transfer.layer_groups(transfer.attach_head(base, 10)).keys()
    x = digit_data.load_small(16, channel=True)[0][:8]
    plain = keras.Model(fast.input, fast.output)  # the same weights...
    full = transfer.attach_head(base, 10)
    full.get_layer("predictions").set_weights(fast.get_layer("predictions").get_weights())
    np.testing.assert_allclose(plain.predict(x, verbose=0), full.predict(x, verbose=0), atol=0.05)  # ...bfloat16
    low = transfer.load_backbone("resnet20", weights=None, input_shape=(16, 16, 1), dtype="mixed_float16")
    assert low.get_layer("conv2_block1_1_conv").compute_dtype == "float16"


def test_preprocessing_computes_in_float32():
    layer = transfer.ImagePreprocessing("caffe", dtype="mixed_bfloat16")
    out = layer(np.array([[[[130.0, 130.0, 130.0]]]], "float32"))
    assert out.dtype == "bfloat16"
    # R - 123.68 = 6.32 -> bfloat16 6.3125; in bfloat16 throughout it would be 130 - 123.5 = 6.5.
    assert float(out[0, 0, 0, 2]) == 6.3125


@pytest.mark.slow
def test_jax_policies_learn(run_jax):
    out = run_jax("""
        import sys; sys.path.insert(0, "tests")
        import keras, numpy as np, transfer
        from datasets import digits as digit_data
        from test_transfer_precision import LOW, _check_model, _fine_tune
        x, y = digit_data.load_small(16, channel=True)
        for policy in ("mixed_bfloat16", "mixed_float16"):
            keras.mixed_precision.set_dtype_policy(policy)
            keras.utils.set_random_seed(0)
            model = transfer.attach_head(transfer.load_backbone("resnet20", weights=None, input_shape=(16, 16, 1)), 10)
            _check_model(model, LOW[policy])
            loss = _fine_tune(model, (x[:480], y[:480])).history["loss"]
            print(policy, loss[-1] < 0.8 * loss[0], type(model.optimizer).__name__)
        keras.mixed_precision.set_dtype_policy("float32")
        base = transfer.load_backbone("resnet20", weights=None, input_shape=(16, 16, 1))
        _check_model(transfer.attach_head(base, 10, dtype="mixed_bfloat16"), "bfloat16")  # one model only
        print(base.get_layer("conv1_conv").compute_dtype)
    """)
    assert out.split() == ["mixed_bfloat16", "True", "DiscriminativeOptimizer",
                           "mixed_float16", "True", "LossScaleOptimizer", "float32"]


def test_loaded_mixed_float16_model_gets_loss_scaling_again(tmp_path):
    model = transfer.attach_head(transfer.load_backbone("cnn_mnist", weights=None, input_shape=(16, 16, 1)), 3,
                                 dtype="mixed_float16")
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    loaded.compile("adam", "sparse_categorical_crossentropy")
    assert loaded.dtype_policy.name == "mixed_float16"
    assert isinstance(loaded.optimizer, keras.optimizers.LossScaleOptimizer)


AUGMENT_UNDER_GLOBAL_POLICY = """
import keras, numpy as np, datasets, transfer
from datasets import digits as digit_data
x, y = digit_data.load_small(16, channel=True)
for policy in ("mixed_float16", "mixed_bfloat16"):
    keras.mixed_precision.set_dtype_policy(policy)
    keras.utils.set_random_seed(0)
    base = transfer.load_backbone("resnet20", weights=None, input_shape=(16, 16, 1))
    aug = datasets.Augment(rotation_range=10, width_shift_range=0.1, zoom_range=0.1, horizontal_flip=True)
    model = transfer.attach_head(base, 10, augment=aug)
    result = transfer.fine_tune(model, (x[:64], y[:64]), (x[64:96], y[64:96]), epochs=(1, 1), patience=None,
                                batch_size=32, verbose=0)
    print(policy, aug.compute_dtype, len(result.history["loss"]), np.isfinite(result.history["loss"]).all())
keras.mixed_precision.set_dtype_policy("float32")
"""
EXPECTED = ["mixed_float16", "float16", "2", "True", "mixed_bfloat16", "bfloat16", "2", "True"]


def test_augment_in_the_step_under_a_global_mixed_policy_on_tensorflow():
    """float16 coordinates made TensorFlow fail the first step (no float16 Range kernel)."""
    namespace = {}
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(AUGMENT_UNDER_GLOBAL_POLICY, namespace)
    assert out.getvalue().split() == EXPECTED


@pytest.mark.slow
def test_augment_in_the_step_under_a_global_mixed_policy_on_jax(run_jax):
    assert run_jax(AUGMENT_UNDER_GLOBAL_POLICY).split() == EXPECTED


def test_geometry_is_float32_for_low_precision_images():
    """Half a pixel to the right on a 3000-px row: float16 positions cannot even count past 2048."""
    from keras import ops

    from datasets import geometry

    width = 3000
    row = (np.arange(width) % 256).astype("float16").reshape(1, 1, width, 1)
    z, o = ops.zeros(1), ops.ones(1)
    moved = geometry.transform_images(ops.convert_to_tensor(row), geometry.affine_matrix(z, z, o, o, z, z),
                                      ops.convert_to_tensor([[0.5, 0.0]]))
    got = ops.convert_to_numpy(moved).astype("float32")[0, 0, :, 0]
    assert moved.dtype == "float16"
    smooth = [i for i in range(1, width) if i % 256 != 0]  # away from the ramp's wrap
    np.testing.assert_array_equal(got[smooth], (np.arange(width) % 256 - 0.5)[smooth])
