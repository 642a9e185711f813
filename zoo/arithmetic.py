"""Convolution arithmetic, the formulas of the tutorials: output sizes and parameter counts.

Example:
    >>> conv_output_size(227, kernel=11, padding=0, stride=4)      # AlexNet's first layer
    55
    >>> conv_params(3, in_channels=1, filters=32)
    320
"""

import math


def conv_output_size(size, kernel, padding=0, stride=1, dilation=1, strict=True):
    """Output size of a convolution or pooling window: ``(W - F + 2P) / S + 1``.

    ``padding`` is a number of pixels added on each side, or Keras's "valid"
    (0) or "same" (output = ceil(W / S)). With ``strict=True`` a stride that
    does not fit the input raises ValueError instead of silently dropping
    pixels; ``strict=False`` floors, as the frameworks do (ResNet's stem:
    224, 7x7, padding 3, stride 2 gives 112 and ignores the last column).

    Example:
        >>> conv_output_size(32, kernel=5, padding=2, stride=1)
        32
        >>> conv_output_size(7, kernel=3, padding=0, stride=2)
        3
        >>> conv_output_size(224, kernel=7, padding=3, stride=2, strict=False)
        112
    """
    for arg, value in (("size", size), ("kernel", kernel), ("stride", stride), ("dilation", dilation)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"`{arg}` must be a positive integer. Received: {arg}={value!r}")
    effective = (kernel - 1) * dilation + 1
    if padding == "same":
        return math.ceil(size / stride)
    if padding == "valid":
        padding = 0
    if not isinstance(padding, int) or padding < 0:
        raise ValueError(f"`padding` must be a non-negative integer, 'valid' or 'same'. Received: padding={padding!r}")
    span = size - effective + 2 * padding
    if span < 0:
        raise ValueError(
            f"The kernel ({effective}) is larger than the padded input ({size} + 2*{padding}). "
            f"Received: size={size}, kernel={kernel}, padding={padding}"
        )
    if span % stride and strict:
        raise ValueError(
            f"Stride {stride} does not fit: (W - F + 2P) = ({size} - {effective} + 2*{padding}) = {span} "
            f"is not divisible by {stride}. Change the padding or the stride. "
            f"Received: size={size}, kernel={kernel}, padding={padding}, stride={stride}"
        )
    return span // stride + 1


def conv_params(kernel, in_channels, filters, bias=True):
    """Parameters of a convolution: ``N_F * F_W * F_H * X_D + N_F`` (the last term only with a bias).

    Example:
        >>> conv_params(3, in_channels=1, filters=32)
        320
    """
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    return filters * kh * kw * in_channels + (filters if bias else 0)
