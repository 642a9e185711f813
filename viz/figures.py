"""The figure plumbing every plot of :mod:`viz` shares: panels, pixels, saving.

Example:
    >>> fig, axes = image_grid(3, cols=2)
    >>> len(axes), len(fig.axes)
    (3, 3)
    >>> displayable(np.full((2, 2, 1), 255.0)).shape, one_image(np.zeros((4, 4, 3))).shape
    ((2, 2), (1, 4, 4, 3))
"""

import math

import matplotlib.pyplot as plt
import numpy as np


def save_figure(fig, path):
    """Save ``fig`` as a PNG at ``path`` (when given) and return it.

    Example:
        >>> fig = save_figure(plt.figure(), os.path.join(tmp, "empty.png"))
        >>> os.path.exists(os.path.join(tmp, "empty.png"))
        True
    """
    if path is not None:
        fig.savefig(path, dpi=100, bbox_inches="tight")
    return fig


def image_grid(n, size=1.4, cols=None, title=None):
    """A figure with exactly ``n`` image panels (no empty axes left over), ticks removed.

    Example:
        >>> fig, axes = image_grid(5, cols=4, title="five")
        >>> len(fig.axes), fig._suptitle.get_text()
        (5, 'five')
    """
    cols = cols or min(n, 8)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows + (0.4 if title else 0)),
                             squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        fig.delaxes(ax)
    for ax in flat[:n]:
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title)
    return fig, flat[:n]


def displayable(image):
    """An image as matplotlib shows it: (H, W) or (H, W, 3), floats in [0, 1] (0-255 pixels rescaled).

    Example:
        >>> displayable(np.array([[[0.0], [510.0]]]))
        array([[0., 1.]], dtype=float32)
    """
    img = np.asarray(image, dtype="float32")
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    if img.max(initial=0) > 1.0:  # 0-255 pixels
        img = img / 255.0
    return np.clip(img, 0.0, 1.0)


def one_image(image):
    """One image as a float32 batch of one: accepts (H, W, C) or (1, H, W, C).

    Example:
        >>> one_image(np.zeros((2, 8, 8, 1)))
        Traceback (most recent call last):
        ...
        ValueError: Expected one image (H, W, C) or a batch of one (1, H, W, C). Received: shape=(2, 8, 8, 1)
    """
    x = np.asarray(image, dtype="float32")
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(f"Expected one image (H, W, C) or a batch of one (1, H, W, C). Received: shape={x.shape}")
    return x
