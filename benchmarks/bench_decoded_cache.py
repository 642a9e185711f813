"""The decoded-image cache against keras.utils.image_dataset_from_directory, from the second epoch on.

A folder of real photographs: scikit-image's colour sample photographs,
re-encoded as JPEG (quality 90) in random crops of 256-480 pixels, flipped
or not, ``--images`` files in two class folders. Each pipeline is iterated
for ``--epochs`` epochs (batches of 32, prefetched, nothing else to do);
the images per second of epochs 2 and later are compared, side by side in
one process, at each ``--sizes``:

- ``keras``: ``keras.utils.image_dataset_from_directory`` (decodes every epoch);
- ``no cache``: :func:`datasets.image_folder.load` with ``decoded_cache=None``;
- ``memory`` and ``disk``: the same with ``decoded_cache="memory"`` / a folder.

    python benchmarks/bench_decoded_cache.py [--images 2000] [--sizes 150 224] [--epochs 3]
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from datasets import image_folder  # noqa: E402

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "hubble_deep_field")


def write_photos(root, n, seed=0):
    """``n`` JPEG crops of the sample photographs in root/a and root/b (alternating); returns root."""
    from PIL import Image
    from skimage import data

    rng = np.random.default_rng(seed)
    photos = [getattr(data, name)() for name in PHOTOS]
    for cls in ("a", "b"):
        os.makedirs(os.path.join(root, cls), exist_ok=True)
    for i in range(n):
        photo = photos[i % len(photos)]
        h, w = photo.shape[:2]
        side = int(rng.integers(256, min(h, w, 480) + 1))
        top, left = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
        crop = photo[top:top + side, left:left + side]
        crop = crop[:, ::-1] if rng.random() < 0.5 else crop
        Image.fromarray(np.ascontiguousarray(crop)).save(os.path.join(root, "ab"[i % 2], f"{i}.jpg"), quality=90)
    return root


def rate(ds, epochs):
    """Images per second of each epoch of ``ds``."""
    out = []
    for _ in range(epochs):
        start, n = time.perf_counter(), 0
        for x, _ in ds:
            n += int(x.shape[0])
        out.append(n / (time.perf_counter() - start))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[150, 224])
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    import keras

    with tempfile.TemporaryDirectory() as tmp:
        root = write_photos(os.path.join(tmp, "photos"), args.images)
        print(f"{args.images} JPEG photographs in {root}; images/s per epoch, epochs 2+ compared", flush=True)
        for size in args.sizes:
            shape = (size, size)
            pipelines = {
                "keras": lambda: keras.utils.image_dataset_from_directory(
                    root, image_size=shape, batch_size=32, seed=0, verbose=False).prefetch(-1),
                "no cache": lambda: image_folder.load(root, shape, validation_split=0, cache=False,
                                                      progress=False)[0],
                "memory": lambda: image_folder.load(root, shape, validation_split=0, cache=False,
                                                    progress=False, decoded_cache="memory")[0],
                "disk": lambda: image_folder.load(root, shape, validation_split=0, cache=False, progress=False,
                                                  decoded_cache=os.path.join(tmp, f"cache{size}"))[0],
            }
            rates = {name: rate(make(), args.epochs) for name, make in pipelines.items()}
            later = {name: float(np.mean(r[1:])) for name, r in rates.items()}
            for name, r in rates.items():
                print(f"{size}px {name:<9} epoch 1 {r[0]:7.0f}/s  epochs 2+ {later[name]:7.0f}/s  "
                      f"vs keras {later[name] / later['keras']:.2f}x", flush=True)


if __name__ == "__main__":
    main()
