"""Published ImageNet weight files: fetching them into the Keras cache, loading them.

Which files exist, where and with which hash is part of each architecture's
record (:class:`zoo.configs.ArchConfig`, ``weights``). The zoo builders for
VGG16/19, ResNet50/101/152 and ResNet50V2/101V2/152V2 build the same layers,
in the same order, under the same names as keras.applications, so Keras's
own files load into them unchanged. ``weights="imagenet"`` fetches the file
into the Keras cache (``~/.keras/models``, or ``$KERAS_HOME/models``) and
checks its hash; a file already there is used without a network.
"""

import os

from zoo import checks, downloads, files
from zoo.registry import get_arch, list_configs


class WeightsUnavailableError(downloads.DownloadUnavailableError):
    """Raised when pretrained weights are neither cached nor downloadable."""


def _published(arch):
    """The Keras-format files of ``arch``'s ImageNet weight set (the zoo's records: files the zoo fetches)."""
    found = get_arch(arch).weights.get("imagenet")
    if found is None or found.files is None:
        raise ValueError(f"No published ImageNet weights for {arch!r}. Architectures with them: "
                         f"{[n for n in _all() if get_arch(n).has_weights('imagenet')]}")
    return found.files


def _all():
    return list_configs(source="zoo")


def file_name(arch, include_top=True):
    """The published file name, e.g. ``resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5``."""
    return _published(arch).file(include_top)


def cached_file(arch, include_top=True):
    """Where the Keras cache keeps the file (``$KERAS_HOME/models`` or ``~/.keras/models``)."""
    return os.path.join(files.keras_cache("models"), file_name(arch, include_top))


def fetch(arch, include_top=True):
    """Path of the published weights file, downloading it once into the Keras cache.

    Example:
        >>> path = fetch("resnet50", include_top=False)   # doctest: +SKIP
    """
    published = _published(arch)
    fname = published.file(include_top)
    return downloads.get_file(
        fname, published.url(include_top), "models",
        f"The ImageNet weights file of {arch!r} (include_top={include_top})",
        f"pass the file's path: weights='/path/to/{fname}'", file_hash=published.hash(include_top),
        error=WeightsUnavailableError)


def load_into(model, weights, *, arch=None, include_top=True):
    """Load ``weights`` (None, 'imagenet' or a file path) into ``model`` in place.

    A file that is not a weights file, or whose weights do not fit ``model``,
    is a ValueError that names it.

    Example:
        >>> model = zoo.cnn_mnist()
        >>> model.save_weights("mnist.weights.h5")
        >>> load_into(zoo.cnn_mnist(), "mnist.weights.h5").name
        'cnn_mnist'
    """
    if weights is None:
        return model
    path = fetch(arch, include_top) if weights == "imagenet" else os.fspath(weights)
    checks.check_weights_file(path)
    try:
        model.load_weights(path)
    except (ValueError, KeyError, OSError) as err:
        reason = " ".join(str(err).split())  # Keras's message spans lines; keep its start on one
        reason = reason if len(reason) <= 300 else reason[:300] + "..."
        raise ValueError(f"The weights in {path!r} do not fit {model.name!r} ({reason}). "
                         f"Received: weights={weights!r}") from err
    return model
