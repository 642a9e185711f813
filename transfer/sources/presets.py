"""Where a keras-hub preset is read from: a local folder, the Hugging Face or kagglehub cache, or the network.

:func:`resolve_preset` answers before keras-hub sees the preset, so an
offline machine fails in seconds with a remedy instead of keras-hub's
retries (about 23 s) and its "has no config.json": an ``hf://`` handle is
looked up in the Hugging Face cache, a keras-hub preset name in the
kagglehub cache, and only then is the network tried, with one short
connection attempt.

Example:
    >>> resolve_preset(tmp) == tmp   # a local folder is its own answer
    True
"""

import os
import socket
from urllib.parse import urlparse

from zoo.models import keras_hub as records
from transfer.sources.folder_checks import check_preset_folder
from zoo.weights import WeightsUnavailableError

PROBE_SECONDS = 3.0  # one connection attempt; keras-hub's own retries take about 23 s offline


require_keras_hub = records.require_keras_hub  # the one lazy import of the optional extra


def _reachable(url):
    """Whether a TCP connection to ``url``'s host opens within :data:`PROBE_SECONDS`."""
    parts = urlparse(url)
    try:
        socket.create_connection((parts.hostname, parts.port or 443), timeout=PROBE_SECONDS).close()
        return True
    except OSError:
        return False


def _offline_error(source, where, cache, remedy):
    return WeightsUnavailableError(
        f"The preset {source!r} is not in the local cache ({cache}) and {where}. {remedy} Or save the preset "
        "to a folder where there is a network (backbone.save_to_preset(folder), or the timm files "
        "config.json and model.safetensors) and pass the folder's path. Received: source=" + repr(source))


def _from_hf_cache(source):
    """The local folder of ``hf://org/name``: the Hugging Face cache's copy, or a clear error offline."""
    import huggingface_hub.constants  # comes with keras-hub

    repo = source[len("hf://"):]
    try:
        folder = huggingface_hub.snapshot_download(repo, local_files_only=True)
    except Exception:  # not cached (huggingface_hub raises its own LocalEntryNotFoundError)
        folder = None
    if folder is not None:
        check_preset_folder(folder)
        return folder
    cache = huggingface_hub.constants.HF_HUB_CACHE
    remedy = (f"Fill the cache where there is a network (huggingface_hub.snapshot_download({repo!r}), "
              "cache folder set by HF_HOME or HF_HUB_CACHE) and set HF_HUB_OFFLINE=1 here.")
    if huggingface_hub.constants.HF_HUB_OFFLINE:
        raise _offline_error(source, "HF_HUB_OFFLINE is set", cache, remedy)
    endpoint = huggingface_hub.constants.ENDPOINT
    if not _reachable(endpoint):
        raise _offline_error(source, f"no network is reachable ({endpoint} could not be reached within {PROBE_SECONDS:g} s)",
                             cache, remedy)
    return source


def _from_kaggle_cache(source, handle):
    """The kagglehub cache's folder of a keras-hub preset, or a clear error when it is absent and offline."""
    import kagglehub  # comes with keras-hub

    owner, model, framework, variation, *version = handle[len("kaggle://"):].split("/")
    cache = kagglehub.config.get_cache_folder()
    folder = os.path.join(cache, "models", owner, model, framework, variation, *version)
    if os.path.isfile(os.path.join(folder, "config.json")):
        check_preset_folder(folder)
        return folder
    endpoint = os.environ.get("KAGGLE_API_ENDPOINT", kagglehub.config.DEFAULT_KAGGLE_API_ENDPOINT)
    if not _reachable(endpoint):
        remedy = (f"Fill it where there is a network (keras_hub.models.Backbone.from_preset({source!r}) there, "
                  "then copy the folder; KAGGLEHUB_CACHE sets where it is).")
        raise _offline_error(source, f"no network is reachable ({endpoint} could not be reached within {PROBE_SECONDS:g} s)",
                             folder, remedy)
    return source


def resolve_preset(source):
    """Where keras-hub reads ``source`` from: a local folder when one exists, else the handle (network checked).

    A local folder (given, or found in a cache) is checked first
    (:func:`~transfer.sources.folder_checks.check_preset_folder`): its
    ``config.json``, index and safetensors headers, and every tensor keras-hub
    will read, so a damaged or hostile folder is refused before anything loads.

    Example:
        >>> resolve_preset(tmp) == tmp   # a local folder is its own answer
        True
    """
    if os.path.isdir(source):
        check_preset_folder(source)
        return source
    if source.startswith("hf://"):
        return _from_hf_cache(source)
    if source.startswith("kaggle://"):
        return _from_kaggle_cache(source, source)
    presets = require_keras_hub().models.Backbone.presets
    if source not in presets:
        raise ValueError(f"{source!r} is neither a keras-hub preset nor a folder. Image presets: "
                         f"{', '.join(sorted(require_keras_hub().models.ImageClassifier.presets)[:8])}, ... "
                         f"Received: source={source!r}")
    return _from_kaggle_cache(source, presets[source]["kaggle_handle"])
