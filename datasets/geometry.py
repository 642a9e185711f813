"""Affine geometry shared by Augment and KeypointAugment, in keras.ops only (TF, JAX, XLA).

Conventions. Coordinates are (x, y) = (column, row) in pixels, with the centre of
pixel (i, j) at x = j, y = i (as matplotlib's imshow draws it); the image centre
is c = ((W - 1) / 2, (H - 1) / 2), as in ImageDataGenerator. One transform per
image is a 2x2 matrix M = R(theta) . Shear . Zoom . Flip, given as four (N,)
tensors (m00, m01, m10, m11), and a shift d (content moves by d pixels):

    output pixel q samples the input at   p = c + M (q - c - d)      (images)
    input point p moves to                q = c + d + M^-1 (p - c)   (keypoints)

Zoom factors above 1 make the sampled area larger, i.e. zoom out, as in
ImageDataGenerator. Sampling is by gathers (keras.ops.take) of whole pixels
from the flattened batch: bilinear (order 1, four gathers per output pixel) or
nearest neighbour (order 0, one gather). XLA compiles gathers on every device,
unlike TensorFlow's ImageProjectiveTransform. At integer sample positions both
orders are exact.

Keypoints travel scaled, ``(v - W/2) / (W/2)``; :func:`to_pixels` and
:func:`from_pixels` convert, and are the only code that knows the scale.

Example:
    >>> images = ops.reshape(ops.arange(8, dtype="float32"), (2, 2, 2, 1))
    >>> m = affine_matrix(theta=ops.zeros(2), shear=ops.zeros(2), zx=ops.ones(2), zy=ops.ones(2),
    ...                   flip_h=ops.ones(2), flip_v=ops.zeros(2))
    >>> ops.convert_to_numpy(transform_images(images, m, ops.zeros((2, 2))))[0, :, :, 0]  # mirrored
    array([[1., 0.],
           [3., 2.]], dtype=float32)
"""

import numbers

import numpy as np
from keras import ops

FILL_MODES = ("nearest", "constant", "reflect", "wrap")
INTERPOLATION_ORDERS = (0, 1)  # as ImageDataGenerator's interpolation_order: nearest neighbour, bilinear
# Kaggle facial keypoints: left/right point pairs over the 15 points (from the
# column pairs (0,2),(1,3),(4,8),(5,9),(6,10),(7,11),(12,16),(13,17),(14,18),(15,19),(22,24),(23,25)).
KAGGLE_FLIP_PAIRS = ((0, 1), (2, 4), (3, 5), (6, 8), (7, 9), (11, 12))
KAGGLE_IMAGE_SIZE = 96


def _half_sizes(keypoints, image_size):
    """W/2 for a square image; for (height, width), W/2 for each x and H/2 for each y of (x0, y0, x1, ...)."""
    if isinstance(image_size, numbers.Real):
        return image_size / 2.0
    height, width = image_size
    n_values = keypoints.shape[-1]
    if n_values is None or n_values % 2:
        raise ValueError("Keypoints must be interleaved (x, y) pairs along the last axis when image_size is "
                         f"(height, width). Received: last axis {n_values}, image_size={image_size!r}")
    return np.tile(np.array([width / 2.0, height / 2.0]), n_values // 2)


def _scale(keypoints, image_size, to_pixels):
    tensor = ops.is_tensor(keypoints)
    if not tensor:
        keypoints = np.asarray(keypoints, dtype=np.result_type(np.asarray(keypoints).dtype, np.float32))
    half = _half_sizes(keypoints, image_size)
    if tensor:
        half = ops.convert_to_tensor(half, dtype=keypoints.dtype)
    return keypoints * half + half if to_pixels else (keypoints - half) / half


def to_pixels(keypoints, image_size=KAGGLE_IMAGE_SIZE):
    """Scaled keypoints ``(v - W/2) / (W/2)`` -> pixel coordinates ``v``; NaN stays NaN.

    The one home of the keypoint convention (Kaggle's ``(v - 48) / 48`` for 96x96
    faces). Pixel coordinates put the centre of pixel (i, j) at x = j, y = i, so a
    horizontal mirror maps x to W - 1 - x (the image centre is (W - 1) / 2, see the
    module docstring). ``image_size`` is W for a square image, or (height, width):
    then x values are scaled by the width and y values by the height, for
    keypoints interleaved ``(x0, y0, x1, y1, ...)`` along the last axis. Numpy in,
    numpy out; a backend tensor in (e.g. inside a layer), a tensor out.

    Example:
        >>> to_pixels(np.array([-1.0, 0.0, 0.5]))
        array([ 0., 48., 72.])
        >>> to_pixels(np.array([[0.5, 0.5]]), image_size=(32, 64))   # (height, width): x by 64, y by 32
        array([[48., 24.]])
    """
    return _scale(keypoints, image_size, to_pixels=True)


def from_pixels(pixels, image_size=KAGGLE_IMAGE_SIZE):
    """Pixel coordinates ``v`` -> scaled keypoints ``(v - W/2) / (W/2)``, the inverse of :func:`to_pixels`.

    Example:
        >>> from_pixels(np.array([0.0, 48.0, 72.0]))
        array([-1. ,  0. ,  0.5])
    """
    return _scale(pixels, image_size, to_pixels=False)


def affine_matrix(theta, shear, zx, zy, flip_h, flip_v):
    """Per-image sampling matrix M = R(theta) . Shear(shear) . Zoom(zx, zy) . Flip as (m00, m01, m10, m11).

    Angles in radians, flips as 0/1 floats; every argument is an (N,) tensor.
    Rotation and shear follow ImageDataGenerator's matrices.

    Example:
        >>> z = ops.zeros(1); o = ops.ones(1)
        >>> [float(v[0]) + 0.0 for v in affine_matrix(z, z, o, o, o, z)]   # + 0.0: -0.0 prints as 0.0
        [-1.0, 0.0, 0.0, 1.0]
    """
    cos, sin = ops.cos(theta), ops.sin(theta)
    sh_sin, sh_cos = ops.sin(shear), ops.cos(shear)
    fx, fy = 1.0 - 2.0 * flip_h, 1.0 - 2.0 * flip_v
    # R . Sh = [[cos, -cos*sh_sin - sin*sh_cos], [sin, -sin*sh_sin + cos*sh_cos]]
    a, b = cos, -cos * sh_sin - sin * sh_cos
    c, d = sin, -sin * sh_sin + cos * sh_cos
    # . Zoom . Flip scales the columns.
    return a * zx * fx, b * zy * fy, c * zx * fx, d * zy * fy


def _index(i, n, fill_mode):
    """Map integer sample positions into [0, n) by the fill mode -> (index, valid or None)."""
    if fill_mode == "nearest":
        return ops.clip(i, 0, n - 1), None
    if fill_mode == "wrap":
        return ops.mod(i, n), None
    if fill_mode == "reflect":  # d c b a | a b c d | d c b a, as scipy.ndimage's 'reflect'
        m = ops.mod(i, 2 * n)
        return ops.where(m >= n, 2 * n - 1 - m, m), None
    valid = ops.logical_and(i >= 0, i < n)  # constant: outside samples read cval
    return ops.clip(i, 0, n - 1), valid


def check_sampling(order, fill_mode):
    """Raise a ValueError unless ``order`` is an interpolation order and ``fill_mode`` a fill mode we sample with."""
    if isinstance(order, bool) or order not in INTERPOLATION_ORDERS:
        raise ValueError(f"interpolation_order must be 0 (nearest neighbour) or 1 (bilinear). "
                         f"Received: interpolation_order={order!r}.")
    if fill_mode not in FILL_MODES:
        raise ValueError(f"fill_mode must be one of {FILL_MODES}. Received: fill_mode={fill_mode!r}.")


class _Gather:
    """Gathers whole pixels (all channels) of a batch at integer (row, column) positions, with the fill mode."""

    def __init__(self, images, out_shape, fill_mode, cval):
        shape = ops.shape(images)
        self.h, self.w, self.ch = shape[1], shape[2], shape[3]
        self.flat = ops.reshape(images, (-1, self.ch))  # (N*H*W, C): one gather reads a pixel's channels
        self.base = ops.reshape(ops.arange(shape[0], dtype="int32") * (self.h * self.w), (-1, 1, 1))
        self.out_shape, self.fill_mode, self.cval = (-1, out_shape[1], out_shape[2], self.ch), fill_mode, cval

    def rows(self, yi):
        iy, valid = _index(yi, self.h, self.fill_mode)
        return self.base + iy * self.w, valid

    def cols(self, xi):
        return _index(xi, self.w, self.fill_mode)

    def __call__(self, rows, cols):
        (row, vy), (col, vx) = rows, cols
        values = ops.reshape(ops.take(self.flat, ops.reshape(row + col, (-1,)), axis=0), self.out_shape)
        if vy is None:
            return values
        valid = ops.expand_dims(ops.logical_and(vy, vx), -1)
        return ops.where(valid, values, ops.cast(self.cval, values.dtype))


def sample_nearest(images, x, y, fill_mode="nearest", cval=0.0):
    """Nearest-neighbour samples of ``images`` (N, H, W, C) at float positions x, y (N, H', W'): one gather per pixel.

    Positions round half up (x = 2.5 reads column 3). Every output value is an input
    pixel's value (or ``cval``): nothing is blended.

    Example:
        >>> images = ops.reshape(ops.arange(4, dtype="float32"), (1, 1, 4, 1))   # one row: 0 1 2 3
        >>> xs, ys = ops.convert_to_tensor([[[2.5, 4.0]]]), ops.zeros((1, 1, 2))
        >>> ops.convert_to_numpy(sample_nearest(images, xs, ys, fill_mode="wrap"))[0, 0, :, 0]
        array([3., 0.], dtype=float32)
    """
    check_sampling(0, fill_mode)
    gather = _Gather(images, ops.shape(x), fill_mode, cval)
    xi, yi = (ops.cast(ops.floor(t + 0.5), "int32") for t in (x, y))
    return gather(gather.rows(yi), gather.cols(xi))


def sample_bilinear(images, x, y, fill_mode="nearest", cval=0.0):
    """Bilinear samples of ``images`` (N, H, W, C) at float positions x, y (N, H', W') -> (N, H', W', C).

    Example:
        >>> images = ops.reshape(ops.arange(4, dtype="float32"), (1, 1, 4, 1))   # one row: 0 1 2 3
        >>> xs, ys = ops.convert_to_tensor([[[0.25, 2.5]]]), ops.zeros((1, 1, 2))
        >>> ops.convert_to_numpy(sample_bilinear(images, xs, ys))[0, 0, :, 0]
        array([0.25, 2.5 ], dtype=float32)
    """
    check_sampling(1, fill_mode)
    gather = _Gather(images, ops.shape(x), fill_mode, cval)
    x0f, y0f = ops.floor(x), ops.floor(y)
    wx, wy = ops.expand_dims(x - x0f, -1), ops.expand_dims(y - y0f, -1)
    x0, y0 = ops.cast(x0f, "int32"), ops.cast(y0f, "int32")
    # Row offsets and column indices once each, shared by the four corners.
    r0, r1, c0, c1 = gather.rows(y0), gather.rows(y0 + 1), gather.cols(x0), gather.cols(x0 + 1)
    top = gather(r0, c0) * (1.0 - wx) + gather(r0, c1) * wx
    bottom = gather(r1, c0) * (1.0 - wx) + gather(r1, c1) * wx
    return top * (1.0 - wy) + bottom * wy


def sample(images, x, y, order=1, fill_mode="nearest", cval=0.0):
    """Samples of ``images`` at float positions x, y: ``order`` 1 is bilinear, 0 nearest neighbour."""
    check_sampling(order, fill_mode)
    return (sample_bilinear if order == 1 else sample_nearest)(images, x, y, fill_mode, cval)


def transform_images(images, matrix, shift, fill_mode="nearest", cval=0.0, order=1):
    """Warp a float batch (N, H, W, C) by per-image ``matrix`` (4-tuple of (N,)) and ``shift`` (N, 2).

    ``order`` is the interpolation order: 1 bilinear, 0 nearest neighbour.

    Example:
        >>> z = ops.zeros(1); o = ops.ones(1)
        >>> images = ops.reshape(ops.arange(4, dtype="float32"), (1, 1, 4, 1))   # one row: 0 1 2 3
        >>> moved = transform_images(images, affine_matrix(z, z, o, o, z, z), ops.convert_to_tensor([[1.0, 0.0]]))
        >>> ops.convert_to_numpy(moved)[0, 0, :, 0]   # content moved one pixel right, edge repeated
        array([0., 0., 1., 2.], dtype=float32)
    """
    shape = ops.shape(images)
    h, w = shape[1], shape[2]
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    # Geometry and blending in float32 whatever the images' dtype: float16 has no exact pixel positions past 2048,
    # loses sub-pixel precision at 224 px, and TensorFlow has no float16 `Range` kernel.
    m00, m01, m10, m11 = (ops.reshape(ops.cast(m, "float32"), (-1, 1, 1)) for m in matrix)
    shift = ops.cast(shift, "float32")
    dx, dy = ops.reshape(shift[:, 0], (-1, 1, 1)), ops.reshape(shift[:, 1], (-1, 1, 1))
    u = ops.reshape(ops.arange(w, dtype="float32"), (1, 1, -1)) - cx - dx  # (N, 1, W)
    v = ops.reshape(ops.arange(h, dtype="float32"), (1, -1, 1)) - cy - dy  # (N, H, 1)
    x = cx + m00 * u + m01 * v
    y = cy + m10 * u + m11 * v
    return ops.cast(sample(ops.cast(images, "float32"), x, y, order, fill_mode, cval), images.dtype)


def transform_points(points, matrix, shift, height, width):
    """Move pixel points (N, K, 2) as ``transform_images`` moves the content under them.

    Points that land outside the frame (beyond half a pixel past the edge pixels)
    become NaN; NaN points stay NaN.

    Example:
        >>> z = ops.zeros(1); o = ops.ones(1)
        >>> p = ops.convert_to_tensor([[[10.0, 20.0], [200.0, 5.0]]])   # the second point is off the frame
        >>> ops.convert_to_numpy(transform_points(p, affine_matrix(z, z, o, o, o, z), ops.zeros((1, 2)), 96, 96))
        array([[[85., 20.],
                [nan, nan]]], dtype=float32)
    """
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    m00, m01, m10, m11 = (ops.expand_dims(m, -1) for m in matrix)
    det = m00 * m11 - m01 * m10
    px, py = points[..., 0] - cx, points[..., 1] - cy
    qx = cx + ops.expand_dims(shift[:, 0], -1) + (m11 * px - m01 * py) / det
    qy = cy + ops.expand_dims(shift[:, 1], -1) + (-m10 * px + m00 * py) / det
    inside = (qx >= -0.5) & (qx <= width - 0.5) & (qy >= -0.5) & (qy <= height - 0.5)
    nan = ops.cast(float("nan"), qx.dtype)
    return ops.stack([ops.where(inside, qx, nan), ops.where(inside, qy, nan)], axis=-1)


def flip_permutation(flip_pairs, n_points):
    """Point order after a mirror: each (left, right) pair swapped -> list of n_points indices.

    Example:
        >>> flip_permutation(((0, 1),), 3)
        [1, 0, 2]
    """
    perm = list(range(n_points))
    for a, b in flip_pairs:
        if not (0 <= a < n_points and 0 <= b < n_points) or a == b:
            raise ValueError(f"flip_pairs must pair distinct point indices in [0, {n_points}). "
                             f"Received pair ({a}, {b}).")
        perm[a], perm[b] = b, a
    return perm
