"""The demo's images: scikit-learn's 8x8 handwritten digits, each at a random place on a blank canvas.

Every digit is upsampled (8x8 to ``digit`` x ``digit``, bilinear) and pasted
at a position drawn once per image from ``seed``, so every method of the demo
sees the very same canvases. Recognising a digit wherever it lies is what a
network pre-trained on many 0-4 images learns and a network that sees a
handful of 5-9 images cannot.
"""

import numpy as np

CANVAS = 20
DIGIT = 12


def small_digits(digit=DIGIT):
    """``(images, labels)``: the 1,797 digits as 0-255 pixels (N, digit, digit), float32."""
    import keras
    from sklearn.datasets import load_digits

    data = load_digits()
    x = data.images[..., None].astype("float32") * (255.0 / 16.0)  # the digits are 0-16 grey levels
    x = keras.ops.convert_to_numpy(keras.ops.image.resize(x, (digit, digit), interpolation="bilinear"))
    return np.clip(x[..., 0], 0, 255).astype("float32"), data.target.astype("int32")


def place(small, canvas=CANVAS, seed=0):
    """Paste each (digit, digit) image at a random position of a blank (canvas, canvas, 1) image.

    Example:
        >>> place(np.ones((3, 12, 12)), 28, seed=0).shape
        (3, 28, 28, 1)
    """
    n, d = small.shape[0], small.shape[1]
    rng = np.random.default_rng(seed)
    rows, cols = rng.integers(0, canvas - d + 1, size=(2, n))
    out = np.zeros((n, canvas, canvas, 1), "float32")
    for i, (r, c) in enumerate(zip(rows, cols)):
        out[i, r:r + d, c:c + d, 0] = small[i]
    return out


def canvas_digits(canvas=CANVAS, digit=DIGIT, seed=0):
    """``(images, labels)``: all 1,797 digits, each at a random place on a canvas, (N, canvas, canvas, 1)."""
    small, y = small_digits(digit)
    return place(small, canvas, seed), y
