"""Feature extraction: epochs on cached features vs epochs that run the frozen base, side by side.

Both train the same head (global average pooling, 10-way softmax) on the
same real images (scikit-learn's digits, upsampled, as 3-channel pixels)
with a frozen zoo backbone. "frozen base" is attach_head + freeze + fit (the
base runs forward every epoch); "cached" is extract_features once (written
to a cache folder) + fit of the head on the feature vectors. The first epoch
of each includes tracing, so per-epoch times are the median of the later
epochs; totals include the first epoch and the one-off extraction.

    python benchmarks/bench_feature_cache.py [--backbone resnet20] [--images 1024] [--epochs 4]
"""

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import transfer  # noqa: E402
from datasets.digits import load_canvases  # noqa: E402


class EpochTimer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.times = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self.start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="resnet20")
    parser.add_argument("--images", type=int, default=1024)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--size", type=int, default=32)
    args = parser.parse_args()

    x, y = load_canvases(canvas=args.size, digit=args.size)  # digits filling the canvas: no random places
    x, y = np.repeat(x[: args.images], 3, axis=-1), y[: args.images]
    keras.utils.set_random_seed(0)
    base = transfer.load_backbone(args.backbone, weights=None, input_shape=x.shape[1:])

    model = transfer.freeze(transfer.attach_head(base, 10))
    model.compile("adam", "sparse_categorical_crossentropy")
    frozen = EpochTimer()
    t0 = time.perf_counter()
    model.fit(x, y, epochs=args.epochs, batch_size=64, verbose=0, callbacks=[frozen])
    frozen_total = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as cache:
        t0 = time.perf_counter()
        feats = transfer.extract_features(base, x, batch_size=64, cache_dir=cache)
        extract = time.perf_counter() - t0
        t0 = time.perf_counter()
        transfer.extract_features(base, x, batch_size=64, cache_dir=cache)
        reread = time.perf_counter() - t0
        head = transfer.head_on_features(feats.shape[1:], 10)
        head.compile("adam", "sparse_categorical_crossentropy")
        cached = EpochTimer()
        t0 = time.perf_counter()
        head.fit(feats, y, epochs=args.epochs, batch_size=64, verbose=0, callbacks=[cached])
        cached_total = time.perf_counter() - t0 + extract

    per_frozen = statistics.median(frozen.times[1:] or frozen.times)
    per_cached = statistics.median(cached.times[1:] or cached.times)
    print(f"backbone {args.backbone}, {len(x)} images {x.shape[1:]}, {args.epochs} epochs, batch 64, "
          f"{os.cpu_count()} CPU cores, keras {keras.__version__} ({keras.backend.backend()})")
    print(f"{'':<28}{'frozen base':>14}{'cached features':>18}{'speed-up':>10}")
    print(f"{'per epoch (median of 2..n)':<28}{per_frozen:>13.3f}s{per_cached:>17.3f}s{per_frozen / per_cached:>9.0f}x")
    print(f"{'total incl. first epoch':<28}{frozen_total:>13.2f}s{cached_total:>17.2f}s"
          f"{frozen_total / cached_total:>9.1f}x")
    print(f"one-off extraction {extract:.2f}s; reading the cache again {reread:.3f}s")


if __name__ == "__main__":
    main()
