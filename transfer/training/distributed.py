"""Data-parallel training on the engines Keras and TensorFlow already have, behind one context manager.

Inside ``with transfer.data_parallel():`` build the backbone and the head and
call :func:`transfer.fine_tune`, :func:`transfer.extract_features` or
``fit``; every device gets a slice of each (global) batch and the gradients
are averaged, so the result matches one device up to float rounding.

- On JAX it sets ``keras.distribution.DataParallel`` over the devices: every
  process's devices after ``keras.distribution.initialize()`` (several hosts),
  or one process's (several GPUs, or CPU devices split with
  ``XLA_FLAGS=--xla_force_host_platform_device_count=N``).
- On TensorFlow it enters ``tf.distribute.MirroredStrategy`` over the GPUs (or
  the logical CPUs, when there are several). Several hosts (``TF_CONFIG``
  with several workers) need the JAX backend: Keras 3 cannot yet train under
  ``MultiWorkerMirroredStrategy``, and this says so instead of failing inside ``fit``.
- With one device it changes nothing.

Batch sizes stay global: ``batch_size=256`` on 4 devices is 64 per device.
Files (checkpoints, feature caches) are written by the chief process only
(:func:`is_chief`); every process reads its own part of the data
(:func:`process_shard`).

Example:
    >>> with transfer.data_parallel() as engine:           # one CPU here: nothing changes
    ...     model = transfer.attach_head(transfer.load_backbone("resnet20", weights=None), 10)
    >>> engine is None
    True
"""

import contextlib
import json
import os

import keras


def _tf_workers():
    """How many workers ``TF_CONFIG`` names (1 without it)."""
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    return sum(len(v) for k, v in config.get("cluster", {}).items() if k in ("chief", "worker"))


def _tf_strategy(devices):
    import tensorflow as tf  # this backend only: a JAX install may lack TensorFlow

    if _tf_workers() > 1:
        # Keras 3 cannot train under MultiWorkerMirroredStrategy yet: fit() fails converting the
        # per-replica batches (keras-team/keras#20585; tests/test_transfer_distributed.py pins it).
        raise NotImplementedError(
            "Several TensorFlow workers (TF_CONFIG names "
            f"{_tf_workers()}) are not supported by Keras 3's TensorFlow trainer yet. Train across hosts on "
            "the JAX backend: KERAS_BACKEND=jax, keras.distribution.initialize(...), then transfer.data_parallel().")
    if devices == "auto":
        devices = [d.name for d in tf.config.list_logical_devices("GPU")] or \
                  [d.name for d in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(list(devices)) if len(devices) > 1 else None


def _jax_distribution(devices):
    if devices == "auto":
        devices = keras.distribution.list_devices()
    if len(devices) < 2:
        return None
    # Each process feeds its own part of every global batch (process_shard), so Keras
    # must not shard the data again; it then also accepts numpy arrays across processes.
    return keras.distribution.DataParallel(devices=list(devices), auto_shard_dataset=False)


@contextlib.contextmanager
def data_parallel(devices="auto"):
    """Train data-parallel inside this block; yields the engine (None with one device).

    Args:
        devices: ``"auto"`` (every device this backend sees, across processes
            on JAX), or a list of device names (``["gpu:0", "gpu:1"]`` on JAX,
            ``["/gpu:0", "/gpu:1"]`` on TensorFlow).

    Yields:
        ``keras.distribution.DataParallel`` (JAX), a ``tf.distribute``
        strategy (TensorFlow), or None when there is one device.

    Example:
        >>> with transfer.data_parallel(devices="auto"):
        ...     base = transfer.load_backbone("cnn_mnist", weights=None)
    """
    backend = keras.backend.backend()
    if backend == "jax":
        engine = _jax_distribution(devices)
    elif backend == "tensorflow":
        engine = _tf_strategy(devices)
    else:
        raise NotImplementedError(f"data_parallel runs on the JAX and TensorFlow backends. "
                                  f"Received: KERAS_BACKEND={backend!r}")
    if engine is None:
        yield None
        return
    with engine.scope():
        yield engine


def process_count():
    """How many processes train together (JAX processes, or TensorFlow workers)."""
    if keras.backend.backend() == "jax":
        import jax  # this backend only: a TensorFlow install may lack JAX

        return jax.process_count()
    return max(_tf_workers(), 1)


def process_index():
    """This process's rank: 0 is the chief."""
    if keras.backend.backend() == "jax":
        import jax  # this backend only: a TensorFlow install may lack JAX

        return jax.process_index()
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task = config.get("task", {})
    # With a "chief" entry the chief is rank 0 and workers follow; without one, worker 0 is the chief.
    offset = 1 if "chief" in config.get("cluster", {}) and task.get("type") == "worker" else 0
    return int(task.get("index", 0)) + offset


def is_chief():
    """Whether this process writes the files (checkpoints, caches): rank 0.

    Example:
        >>> is_chief()
        True
    """
    return process_index() == 0


def process_shard(*arrays):
    """This process's rows of ``arrays`` (every ``process_count()``-th, from ``process_index()``).

    With several processes each reads only its part of the data; one process
    gets everything back unchanged.

    Example:
        >>> x, y = process_shard(np.arange(10), np.arange(10) * 2)
        >>> x.tolist()
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    """
    n, i = process_count(), process_index()
    shards = tuple(a[i::n] for a in arrays)
    return shards if len(shards) > 1 else shards[0]
