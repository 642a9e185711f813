"""Keras's published ImageNet weight files: where they are, their hashes, loading.

The zoo builders for VGG16/19, ResNet50/101/152 and ResNet50V2/101V2/152V2
build the same layers, in the same order, under the same names as
keras.applications, so Keras's own files load into them unchanged.
``weights="imagenet"`` fetches the file into the Keras cache
(``~/.keras/models``, or ``$KERAS_HOME/models``) and checks its hash; a file
already there is used without a network.
"""

import os

import keras

_RESNET = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
_VGG = "https://storage.googleapis.com/tensorflow/keras-applications/{arch}/"

# arch -> (file stem, base URL, hash of the file with the top, hash without it)
PUBLISHED = {
    "vgg16": ("vgg16", _VGG.format(arch="vgg16"),
              "64373286793e3c8b2b4e3219cbf3544b", "6d6bbae143d832006294945121d1f1fc"),
    "vgg19": ("vgg19", _VGG.format(arch="vgg19"),
              "cbe5617147190e668d6c5d5026f83318", "253f8cb515780f3b799900260a226db6"),
    "resnet50": ("resnet50", _RESNET,
                 "2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"),
    "resnet101": ("resnet101", _RESNET,
                  "f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21"),
    "resnet152": ("resnet152", _RESNET,
                  "100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c"),
    "resnet50v2": ("resnet50v2", _RESNET,
                   "3ef43a0b657b3be2300d5770ece849e0", "fac2f116257151a9d068a22e544a4917"),
    "resnet101v2": ("resnet101v2", _RESNET,
                    "6343647c601c52e1368623803854d971", "c0ed64b8031c3730f411d2eb4eea35b5"),
    "resnet152v2": ("resnet152v2", _RESNET,
                    "a49b44d1979771252814e80f8ec446f9", "ed17cf2e0169df9d443503ef94b23b33"),
}


class WeightsUnavailableError(OSError):
    """Raised when pretrained weights are neither cached nor downloadable."""


def has_pretrained(arch):
    """Whether Keras publishes ImageNet weights for ``arch``."""
    return arch in PUBLISHED


def file_name(arch, include_top=True):
    """The published file name, e.g. ``resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5``."""
    stem = PUBLISHED[arch][0]
    return f"{stem}_weights_tf_dim_ordering_tf_kernels{'' if include_top else '_notop'}.h5"


def cache_path(arch, include_top=True):
    """Where the Keras cache keeps the file (``$KERAS_HOME/models`` or ``~/.keras/models``)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(home, "models", file_name(arch, include_top))


def fetch(arch, include_top=True):
    """Path of the published weights file, downloading it once into the Keras cache.

    Example:
        >>> path = fetch("resnet50", include_top=False)   # doctest: +SKIP
    """
    if arch not in PUBLISHED:
        raise ValueError(f"No published ImageNet weights for {arch!r}. Available: {sorted(PUBLISHED)}")
    _, base, top_hash, notop_hash = PUBLISHED[arch]
    fname = file_name(arch, include_top)
    target = cache_path(arch, include_top)
    try:
        return keras.utils.get_file(
            fname,
            base + fname,
            cache_subdir="models",
            cache_dir=os.path.dirname(os.path.dirname(target)),
            file_hash=top_hash if include_top else notop_hash,
        )
    except Exception as err:  # get_file raises a bare Exception on network failures
        raise WeightsUnavailableError(
            f"ImageNet weights for {arch!r} (include_top={include_top}) are not in the Keras cache "
            f"and could not be downloaded ({err}). Expected the file at {target!r}. "
            f"Copy {fname} there, or pass its path: weights='/path/to/{fname}'."
        ) from err


def load_into(model, weights, *, arch=None, include_top=True):
    """Load ``weights`` (None, 'imagenet' or a file path) into ``model`` in place."""
    if weights is None:
        return model
    path = fetch(arch, include_top) if weights == "imagenet" else os.fspath(weights)
    model.load_weights(path)
    return model
