"""Input preprocessing as a layer of the model, so raw 0-255 images go in.

keras.applications ship ``preprocess_input`` functions that run *outside* the
model: easy to forget, easy to apply twice. A backbone from
:func:`transfer.load_backbone` carries the right preprocessing as its first
layer instead, so it serialises with the model and runs on any backend.

Hand-written (one small layer) because no built-in layer flips RGB to BGR,
which Keras's "caffe" files need; "tf" and "rescale" could be
``keras.layers.Rescaling``, but one layer with a ``mode`` keeps every
backbone's first layer the same kind and its mode readable in the config.
"""

import keras
from keras import ops

# Keras's imagenet_utils constants, per mode.
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
TORCH_MEAN = (0.485, 0.456, 0.406)
TORCH_STD = (0.229, 0.224, 0.225)
MODES = ("caffe", "tf", "torch", "rescale", "scale_offset")


@keras.saving.register_keras_serializable(package="transfer")
class ImagePreprocessing(keras.layers.Layer):
    """Map raw 0-255 RGB (or grey) pixels to what a network was trained on.

    Modes, as ``keras.applications.imagenet_utils.preprocess_input`` names them:

    - ``"caffe"``: RGB -> BGR, then subtract the ImageNet mean per channel
      (ResNet v1, VGG); needs 3 channels.
    - ``"tf"``: scale to [-1, 1] (ResNet v2, MobileNet, Xception, Inception).
    - ``"torch"``: scale to [0, 1], subtract the ImageNet mean, divide by the
      std (DenseNet); needs 3 channels.
    - ``"rescale"``: scale to [0, 1] (the zoo's tutorial and CIFAR networks).
    - ``"scale_offset"``: ``x * scale + offset`` with ``scale`` and ``offset``
      one number or one per channel: any mean/std normalisation, e.g.
      keras-hub's ``ImageConverter`` and timm's ``pretrained_cfg``
      (``scale = 1 / (255 * std)``, ``offset = -mean / std``); see
      :meth:`from_mean_std`.

    The arithmetic runs in float32 whatever the layer's dtype policy, then the
    result is cast to its compute dtype: a caffe mean subtracted in bfloat16
    (8 bits of mantissa) would lose whole grey levels. So the layer does not
    autocast its inputs.

    Example:
        >>> layer = ImagePreprocessing("tf")
        >>> float(layer(np.full((1, 2, 2, 3), 255.0))[0, 0, 0, 0])
        1.0
        >>> half = ImagePreprocessing("scale_offset", scale=[1 / 255, 2 / 255, 1.0], offset=-0.5)
        >>> [round(float(v), 3) for v in half(np.full((1, 1, 1, 3), 255.0))[0, 0, 0]]
        [0.5, 1.5, 254.5]
    """

    def __init__(self, mode="caffe", scale=None, offset=None, **kwargs):
        kwargs.setdefault("autocast", False)  # raw pixels in as they come (float32, uint8), not bfloat16
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"`mode` must be one of {MODES}. Received: mode={mode!r}")
        self.mode = mode
        if mode == "scale_offset":
            self.scale, self.offset = _per_channel("scale", scale, 1.0), _per_channel("offset", offset, 0.0)
        elif scale is not None or offset is not None:
            raise ValueError(f"`scale` and `offset` belong to mode 'scale_offset'. Received: mode={mode!r}, "
                             f"scale={scale!r}, offset={offset!r}")
        else:
            self.scale = self.offset = None

    @classmethod
    def from_mean_std(cls, mean, std, max_value=255.0, **kwargs):
        """The ``"scale_offset"`` layer computing ``(x / max_value - mean) / std`` per channel.

        Example:
            >>> layer = ImagePreprocessing.from_mean_std(TORCH_MEAN, TORCH_STD)
            >>> torch = ImagePreprocessing("torch")
            >>> x = np.random.default_rng(0).uniform(0, 255, (1, 4, 4, 3))
            >>> bool(np.allclose(layer(x), torch(x), atol=1e-5))
            True
        """
        mean, std = _per_channel("mean", mean, 0.0), _per_channel("std", std, 1.0)
        if any(s <= 0 for s in (std if isinstance(std, list) else [std])):
            raise ValueError(f"`std` must be positive. Received: std={std!r}")
        pairs = zip(*(v if isinstance(v, list) else [v] * 3 for v in (mean, std)))
        scale, offset = zip(*((1.0 / (max_value * s), -m / s) for m, s in pairs))
        return cls("scale_offset", scale=list(scale), offset=list(offset), **kwargs)

    def build(self, input_shape):
        if self.mode in ("caffe", "torch") and input_shape[-1] != 3:
            raise ValueError(
                f"Preprocessing mode {self.mode!r} is defined for 3-channel RGB images. "
                f"Received: input_shape={tuple(input_shape)!r}"
            )
        for name in ("scale", "offset"):
            value = getattr(self, name)
            if isinstance(value, list) and len(value) != input_shape[-1]:
                raise ValueError(f"`{name}` has {len(value)} values for {input_shape[-1]} channels. "
                                 f"Received: {name}={value!r}, input_shape={tuple(input_shape)!r}")

    def call(self, x):
        return ops.cast(self._normalise(ops.cast(x, "float32")), self.compute_dtype)

    def _normalise(self, x):
        if self.mode == "scale_offset":
            return x * ops.convert_to_tensor(self.scale, "float32") + ops.convert_to_tensor(self.offset, "float32")
        if self.mode == "tf":
            return x / 127.5 - 1.0
        if self.mode == "rescale":
            return x / 255.0
        if self.mode == "torch":
            return (x / 255.0 - ops.convert_to_tensor(TORCH_MEAN)) / ops.convert_to_tensor(TORCH_STD)
        # caffe: reverse the channel axis (RGB -> BGR), then centre on the BGR mean.
        return ops.flip(x, axis=-1) - ops.convert_to_tensor(CAFFE_MEAN_BGR)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = {**super().get_config(), "mode": self.mode}
        if self.mode == "scale_offset":
            config.update(scale=self.scale, offset=self.offset)
        return config


def _per_channel(name, value, default):
    """``value`` as one float or a list of floats (one per channel); None gives ``default``."""
    if value is None:
        return default
    values = value.tolist() if hasattr(value, "tolist") else value
    try:
        return float(values) if not isinstance(values, (list, tuple)) else [float(v) for v in values]
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a number or one number per channel. Received: {name}={value!r}") from None
