"""Augment (XLA-compiled on TensorFlow) vs the legacy ImageDataGenerator, side by side in one run.

Both apply the same transforms (rotation 20 degrees, shifts 10%, zoom 20%,
horizontal flip, 'nearest' fill) at the same interpolation order (1 bilinear,
0 nearest neighbour; both by default) to a batch of real photographs
(scikit-image's astronaut and cat, resized) and report images per second. Each measurement runs
for at least ``--seconds`` after a warm-up call (which compiles the XLA program).

Usage:
    python benchmarks/bench_augment.py                      # 32, 96 and 224 pixels, batch 128
    python benchmarks/bench_augment.py --sizes 32 --seconds 2
    python benchmarks/bench_augment.py --orders 0            # nearest neighbour only
"""

import argparse
import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402
from skimage import data  # noqa: E402

from datasets import Augment  # noqa: E402

TRANSFORMS = dict(rotation_range=20, width_shift_range=0.1, height_shift_range=0.1, zoom_range=0.2,
                  horizontal_flip=True, fill_mode="nearest")


def photos(size, n):
    """n real photographs (alternating astronaut and cat) as float32 (n, size, size, 3)."""
    base = [np.asarray(Image.fromarray(p).resize((size, size)), np.float32) for p in (data.astronaut(), data.chelsea())]
    return np.stack([base[i % 2] for i in range(n)])


def rate(step, n_images, seconds):
    """Images per second of ``step()`` (one batch) over at least ``seconds`` after one warm-up call."""
    step()
    calls, start = 0, time.perf_counter()
    while True:
        step()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return calls * n_images / elapsed


def bench(size, batch_size, seconds, order):
    """(Augment under XLA, ImageDataGenerator) images per second at one size and interpolation order."""
    from keras.src.legacy.preprocessing.image import ImageDataGenerator

    x = photos(size, batch_size)
    aug = Augment(seed=0, interpolation_order=order, **TRANSFORMS)
    xla = tf.function(lambda t: aug(t, training=True), jit_compile=True)
    xt = tf.constant(x)
    ours = rate(lambda: xla(xt).numpy(), batch_size, seconds)
    flow = ImageDataGenerator(interpolation_order=order, **TRANSFORMS).flow(x, batch_size=batch_size,
                                                                            shuffle=False, seed=0)
    legacy = rate(lambda: next(flow), batch_size, seconds)
    return ours, legacy


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 96, 224])
    parser.add_argument("--orders", type=int, nargs="+", default=[1, 0], help="interpolation orders")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    gpus = tf.config.list_physical_devices("GPU")
    device = f"{len(gpus)} GPU(s)" if gpus else f"CPU only, {os.cpu_count()} cores"
    print(f"# {platform.processor() or platform.machine()}, {device}; TensorFlow {tf.__version__}; "
          f"batch {args.batch_size}; transforms {TRANSFORMS}")
    print("| size | interpolation_order | Augment, XLA (img/s) | ImageDataGenerator (img/s) | speed-up |")
    print("| --- | --- | ---: | ---: | ---: |")
    names = {1: "1 (bilinear)", 0: "0 (nearest)"}
    for size in args.sizes:
        for order in args.orders:
            ours, legacy = bench(size, args.batch_size, args.seconds, order)
            print(f"| {size}x{size} | {names[order]} | {ours:,.0f} | {legacy:,.0f} | {ours / legacy:.1f}x |",
                  flush=True)


if __name__ == "__main__":
    main()
