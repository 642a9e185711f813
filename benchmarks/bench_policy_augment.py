"""Policy augmentation under XLA vs Keras's RandAugment, and the weight average's cost per training step.

1. Images per second on real photographs (scikit-image's astronaut and cat),
   batch 128: our ``TrivialAugment``, ``RandAugment`` and ``PolicyAugment``
   compiled with XLA (``tf.function(jit_compile=True)``), beside
   ``keras.layers.RandAugment`` in a plain ``tf.function`` (it cannot be
   XLA-compiled on TensorFlow: ``RandomRotation``'s ``ImageProjectiveTransformV3``
   has no XLA kernel, so a model holding it drops XLA).
2. Seconds per step of ``fit`` for a ResNet-20 head on 32x32 images, with and
   without ``transfer.training.ema.WeightAverage`` (one compiled update of every
   weight after each step), side by side in one process.

Usage:
    python benchmarks/bench_policy_augment.py                 # 32 and 96 pixels
    python benchmarks/bench_policy_augment.py --sizes 32 --seconds 2
"""

import argparse
import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.bench_augment import photos, rate  # noqa: E402
import datasets  # noqa: E402


def bench_policies(size, batch_size, seconds):
    """{name: images per second} for each augmentation at one size."""
    x = tf.constant(photos(size, batch_size))
    ours = {"TrivialAugment (XLA)": datasets.TrivialAugment(seed=0),
            "RandAugment n=2 m=9 (XLA)": datasets.RandAugment(seed=0),
            "PolicyAugment crop+trivial+erasing (XLA)": datasets.PolicyAugment(seed=0)}
    rates = {}
    for name, layer in ours.items():
        step = tf.function(lambda t, layer=layer: layer(t, training=True), jit_compile=True)
        rates[name] = rate(lambda: step(x).numpy(), batch_size, seconds)
    peer = keras.layers.RandAugment(value_range=(0, 255), num_ops=2, factor=0.3, seed=0)
    step = tf.function(lambda t: peer(t, training=True))
    rates["keras.layers.RandAugment n=2 (tf.function, no XLA)"] = rate(lambda: step(x).numpy(), batch_size, seconds)
    return rates


def bench_average(epochs=3):
    """(seconds per step without, with the weight average) for a ResNet-20 head, batch 64, 1024 images."""
    import transfer
    from transfer.training.ema import WeightAverage

    x, y = photos(32, 1024), np.arange(1024) % 10
    times = {}
    for label, callbacks in (("plain", []), ("average", [WeightAverage(0.999)])):
        keras.utils.set_random_seed(0)
        model = transfer.attach_head(transfer.load_backbone("resnet20", weights=None), 10)
        model.compile("adam", "sparse_categorical_crossentropy")
        model.fit(x[:128], y[:128], batch_size=64, epochs=1, verbose=0, callbacks=callbacks)  # warm-up
        start = time.perf_counter()
        model.fit(x, y, batch_size=64, epochs=epochs, verbose=0, callbacks=callbacks)
        times[label] = (time.perf_counter() - start) / (epochs * 1024 // 64)
    return times["plain"], times["average"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 96])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args(argv)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, TensorFlow {tf.__version__}, "
          f"Keras {keras.__version__}")
    for size in args.sizes:
        rates = bench_policies(size, args.batch_size, args.seconds)
        peer = rates["keras.layers.RandAugment n=2 (tf.function, no XLA)"]
        for name, value in rates.items():
            print(f"{size:4d} px  {name:52s} {value:9.0f} images/s  x{value / peer:.2f} of Keras's RandAugment")
    plain, average = bench_average()
    print(f"ResNet-20 fit step: {plain * 1e3:.1f} ms plain, {average * 1e3:.1f} ms with WeightAverage "
          f"(x{average / plain:.2f})")


if __name__ == "__main__":
    main()
