"""Inspection: parameter counts, multiply-adds, activations, receptive field.

``summary(model)`` walks the layer graph once and returns a :class:`Report`;
``str(report)`` is a table. FLOPs are ``2 x multiply-adds`` of one forward pass
at batch 1, counting convolutions and Dense layers (the layers that hold
nearly all the arithmetic; batch norm, activations, pooling and additions
are omitted, as in the papers' figures).

Example:
    >>> import zoo
    >>> report = zoo.summary(zoo.create_model("vgg16"))
    >>> round(report.macs / 1e9, 1)
    15.5

The convolution arithmetic of the tutorials (output sizes, parameter counts)
is in :mod:`zoo.arithmetic`.
"""

import dataclasses
import math

import keras


from zoo.graph import model_graph
from zoo.registry import create_model


@dataclasses.dataclass
class LayerRow:
    """One layer call of a :class:`Report`.

    Example:
        >>> row = summary("lenet5").rows[0]   # C1: 6 filters 5x5 on 32x32x1
        >>> row.output_shape, row.params, row.macs, row.activations, row.receptive_field
        ((None, 28, 28, 6), 156, 117600, 4704, 5)
    """

    name: str
    type: str
    output_shape: tuple
    params: int
    trainable: bool
    macs: int
    receptive_field: int = None
    effective_stride: int = None
    activations: int = 0


@dataclasses.dataclass
class Report:
    """What :func:`summary` measured. ``str(report)`` is a readable table.

    Example:
        >>> print(summary(zoo.dense_mnist()))   # the seed's 784-512-10 network
        Model: dense_mnist   input (28, 28, 1)
        ---------------------------------------------------------------------
        Layer        Type     Output shape   Params  Train     MACs  Acts  RF
        ---------------------------------------------------------------------
        flatten      Flatten  (None, 784)         0     no
        fc1          Dense    (None, 512)   401,920    yes  401.41K   512
        predictions  Dense    (None, 10)      5,130    yes    5.12K    10
        ---------------------------------------------------------------------
        Total params: 407,050   Trainable: 407,050   Non-trainable: 0
        Multiply-adds: 406.53K   FLOPs (2 x MACs, batch 1): 813.06K   Activations: 522
    """

    name: str
    input_shape: tuple
    rows: list
    total_params: int
    trainable_params: int
    non_trainable_params: int
    macs: int
    receptive_field: int = None
    effective_stride: int = None
    activations: int = 0

    @property
    def flops(self):
        """Floating-point operations of one forward pass at batch 1 (2 per multiply-add)."""
        return 2 * self.macs

    def __str__(self):
        header = ("Layer", "Type", "Output shape", "Params", "Train", "MACs", "Acts", "RF")
        body = [
            (r.name, r.type, str(r.output_shape), f"{r.params:,}", "yes" if r.trainable else "no",
             si_units(r.macs) if r.macs else "", si_units(r.activations) if r.activations else "",
             "" if r.receptive_field is None else str(r.receptive_field))
            for r in self.rows
        ]
        widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
        line = lambda row: "  ".join(c.ljust(w) if i < 3 else c.rjust(w)  # noqa: E731
                                     for i, (c, w) in enumerate(zip(row, widths))).rstrip()
        rule = "-" * len(line(header))
        rf = "" if self.receptive_field is None else (
            f"\nReceptive field of the last feature map: {self.receptive_field} px, effective stride {self.effective_stride}")
        return "\n".join([
            f"Model: {self.name}   input {self.input_shape}", rule, line(header), rule,
            *map(line, body), rule,
            f"Total params: {self.total_params:,}   Trainable: {self.trainable_params:,}   "
            f"Non-trainable: {self.non_trainable_params:,}",
            f"Multiply-adds: {si_units(self.macs)}   FLOPs (2 x MACs, batch 1): {si_units(self.flops)}   "
            f"Activations: {si_units(self.activations)}{rf}",
        ])


def si_units(n):
    """A count with a K, M or G suffix.

    Example:
        >>> si_units(15470264320), si_units(61706), si_units(840)
        ('15.47G', '61.71K', '840')
    """
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f}{unit}"
    return str(int(n))


def _size(weights):
    return int(sum(math.prod(w.shape) for w in weights))


def _per_image(shape):
    """A tensor shape without its batch dimension, unknown sizes counted as 1."""
    return tuple(1 if d is None else d for d in shape[1:])


def _macs(layer, in_shape, out_shape):
    """Multiply-adds of one call of ``layer`` at batch 1 (channels-last shapes)."""
    out_pixels = math.prod(out_shape[:-1]) if len(out_shape) > 1 else 1
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return out_pixels * out_shape[-1] * math.prod(layer.kernel_size)
    if isinstance(layer, keras.layers.SeparableConv2D):
        depthwise = out_pixels * in_shape[-1] * layer.depth_multiplier * math.prod(layer.kernel_size)
        return depthwise + out_pixels * in_shape[-1] * layer.depth_multiplier * out_shape[-1]
    if isinstance(layer, keras.layers.Conv2DTranspose):
        return math.prod(in_shape) * math.prod(layer.kernel_size) * out_shape[-1]
    if isinstance(layer, (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)):
        per_output = math.prod(layer.kernel_size) * in_shape[-1] // layer.groups
        return out_pixels * out_shape[-1] * per_output
    if isinstance(layer, keras.layers.Dense):
        return math.prod(in_shape) * layer.units
    return 0


# The layers whose outputs timm's cards count as activations (fvcore's convolution and linear
# counters): every convolution, depthwise and separable ones included, and Dense.
_ACTIVATION_LAYERS = (
    keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D,
    keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose, keras.layers.Conv3DTranspose,
    keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D,
    keras.layers.SeparableConv1D, keras.layers.SeparableConv2D, keras.layers.Dense,
)


def _activations(layer, in_shape, out_shape):
    """Output elements of one call of ``layer`` at batch 1; 0 for layers that are not counted."""
    if not isinstance(layer, _ACTIVATION_LAYERS):
        return 0
    count = math.prod(out_shape)
    if isinstance(layer, (keras.layers.SeparableConv1D, keras.layers.SeparableConv2D)):
        # A separable conv is two convolutions (two modules in timm); count the depthwise output too.
        count += math.prod(out_shape[:-1]) * in_shape[-1] * layer.depth_multiplier
    return count


def _window(layer):
    """(kernel, stride, dilation) along height for layers that move the receptive field."""
    if isinstance(layer, keras.layers.ZeroPadding2D):
        return None
    kernel = getattr(layer, "kernel_size", None) or getattr(layer, "pool_size", None)
    if kernel is None:
        return None
    dilation = getattr(layer, "dilation_rate", (1,))
    return kernel[0], layer.strides[0] if layer.strides else kernel[0], dilation[0]


def _walk(model, rows, entry, seen):
    """Append one row per layer call of ``model``'s graph; return (receptive field, jump) of its outputs.

    ``entry`` is the (receptive field, jump) of what flows into the model; a
    layer already in ``seen`` (shared, or a nested model called twice) adds no
    parameters again.
    """
    graph = model_graph(model)
    fields = {ref[:2]: entry for ref in graph.inputs}  # call key -> (receptive field, jump)
    for call in graph.calls:
        layer, key = call.layer, (call.layer.name, call.index)
        rf, jump = max((fields.get(ref[:2], (1, 1)) for ref in call.inputs), default=(1, 1))
        if isinstance(layer, keras.Model):  # a nested model (e.g. a backbone under a head): walk inside
            inner = len(rows)
            fields[key] = _walk(layer, rows, (rf, jump), seen)
            for r in rows[inner:]:
                r.name = f"{layer.name}/{r.name}"
            continue
        window = _window(layer)
        if window is not None:
            k, s, d = window
            rf, jump = rf + (k - 1) * d * jump, jump * s
        fields[key] = (rf, jump)
        spatial = len(call.output_shape) == 4
        in_shape, out_shape = (_per_image(call.input_shapes[0]) if call.inputs else None), _per_image(call.output_shape)
        rows.append(LayerRow(
            name=layer.name,
            type=type(layer).__name__,
            output_shape=call.output_shape,
            # Keras ops in a graph (keras.ops.add in MobileNetV3, ConvNeXt) are operations without weights.
            params=0 if id(layer) in seen else _size(getattr(layer, "weights", ())),
            trainable=bool(getattr(layer, "trainable_weights", ())),
            macs=_macs(layer, in_shape, out_shape) if call.inputs else 0,
            receptive_field=rf if spatial else None,
            effective_stride=jump if spatial else None,
            activations=_activations(layer, in_shape, out_shape) if call.inputs else 0,
        ))
        seen.add(id(layer))
    return max((fields.get(ref[:2], entry) for ref in graph.outputs), default=entry)


def summary(model, input_shape=None):
    """Inspect ``model`` (a Keras model or a registered name) and return a :class:`Report`.

    ``input_shape`` (H, W, C) builds a registered model at that size; for a
    model object, it rebuilds a copy on a new input (for models built with
    variable height and width, whose multiply-adds depend on the size).

    Example:
        >>> report = summary("resnet50")
        >>> round(report.macs / 1e9, 2)
        3.86
        >>> round(report.activations / 1e6, 2)   # timm's v1.5 layout (stride in the 3x3): 11.1
        10.59
        >>> report.flops == 2 * report.macs
        True
    """
    if isinstance(model, str):
        model = create_model(model, **({"input_shape": tuple(input_shape)} if input_shape else {}))
    elif input_shape is not None:
        model = keras.models.clone_model(model, input_tensors=keras.Input(tuple(input_shape)))
    if not model.built or not getattr(model, "inputs", None):
        raise ValueError(
            "summary() needs a model with a known input; build it with an Input or pass input_shape. "
            f"Received: model={model.name!r}"
        )
    rows = []
    _walk(model, rows, (1, 1), set())
    trainable = _size(model.trainable_weights)
    total = _size(model.weights)
    spatial = [r for r in rows if r.receptive_field is not None]
    return Report(
        name=model.name,
        input_shape=tuple(model.inputs[0].shape[1:]),
        rows=rows,
        total_params=total,
        trainable_params=trainable,
        non_trainable_params=total - trainable,
        macs=sum(r.macs for r in rows),
        receptive_field=spatial[-1].receptive_field if spatial else None,
        effective_stride=spatial[-1].effective_stride if spatial else None,
        activations=sum(r.activations for r in rows),
    )


def receptive_field(model):
    """(receptive field in pixels, effective stride) of the model's last spatial feature map.

    Example:
        >>> receptive_field(zoo.create_model("vgg16", include_top=False))
        (212, 32)
    """
    report = summary(model)
    return report.receptive_field, report.effective_stride
