"""Image files for prediction: which files a list of paths names, and one file as raw 0-255 pixels."""

import os

import numpy as np
from zoo.files import check_regular_file

MAX_IMAGE_BYTES = 1 << 30

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def image_files(paths):
    """Image files among ``paths``; a folder contributes its image files, sorted.

    Example:
        >>> image_files(["samples/"])                        # doctest: +SKIP
        ['samples/digit_0.png', 'samples/digit_1.png']
    """
    files = []
    for p in map(os.fspath, paths):
        if os.path.isdir(p):
            files += sorted(os.path.join(p, f) for f in os.listdir(p) if f.lower().endswith(IMAGE_EXTENSIONS))
        elif os.path.isfile(p):
            files.append(p)
        else:
            raise FileNotFoundError(f"No image file or folder at {p!r}.")
    return files


def read_image(file, channels, size=None):
    """One image file as float32 raw 0-255 pixels (H, W, channels), resized to ``size`` (H, W) if given.

    A None in ``size`` keeps the image's own height or width.

    Example:
        >>> from PIL import Image
        >>> Image.new("RGB", (40, 30)).save("wide.png")
        >>> read_image("wide.png", 1).shape, read_image("wide.png", 3, size=(32, None)).shape
        ((30, 40, 1), (32, 40, 3))
    """
    from PIL import Image

    mode = _image_mode(channels)
    check_regular_file(file, MAX_IMAGE_BYTES, "an image")  # a FIFO would block Pillow's open
    with Image.open(file) as img:
        img = img.convert(mode)
        h, w = size if size is not None else (None, None)
        h, w = h or img.height, w or img.width
        if (h, w) != (img.height, img.width):
            img = img.resize((w, h), Image.BILINEAR)
        arr = np.asarray(img, dtype="float32")
    return arr.reshape(arr.shape[0], arr.shape[1], channels)


def _image_mode(channels):
    mode = {1: "L", 3: "RGB"}.get(channels)
    if mode is None:
        raise ValueError(f"Image files give 1 or 3 channels. Received: channels={channels!r}")
    return mode
