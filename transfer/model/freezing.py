"""Freezing and unfreezing that keep BatchNorm safe, and a report of what trains.

Two Keras 3 facts shape this module (measured here, Keras 3.15):

- A BatchNormalization layer with ``trainable=False`` runs in inference mode
  (moving statistics untouched). ``base(x, training=False)`` in the head model
  does *not* guarantee it: ``fit()`` passes ``training=True`` down to the
  base's layers anyway (keras-team/keras#20285). So BN layers stay
  ``trainable=False`` unless you ask for ``train_bn=True``.
- Changing ``trainable`` after ``compile()`` is ignored by the compiled train
  step: frozen weights keep training. So :func:`freeze` and :func:`unfreeze`
  recompile a compiled model in place from its own compile config (a fresh
  optimizer of the same kind and settings; its moment estimates restart, as
  they would after Keras's guide's second ``compile()``).
"""

import keras
from zoo.graph import all_layers

from transfer.model.groups import find_backbone, layer_groups


def _recompile(model):
    if getattr(model, "compiled", False) and getattr(model, "optimizer", None) is not None:
        model.compile_from_config(model.get_compile_config())
    return model


def freeze(model):
    """Freeze the backbone of ``model`` (the whole model if it has no head); recompile if compiled.

    BatchNorm layers in the frozen part run in inference mode. Returns ``model``.

    Example:
        >>> model = transfer.attach_head(transfer.load_backbone("resnet20", weights=None), 5)
        >>> transfer.freeze(model) is model
        True
        >>> len(model.trainable_weights)   # the head's kernel and bias
        2
    """
    base, _ = find_backbone(model)
    base.trainable = False
    return _recompile(model)


def _start_index(base, from_layer):
    """Index in ``base.layers`` where unfreezing starts, from a group, a layer name or an index."""
    n = len(base.layers)
    if from_layer is None:
        return 0
    if isinstance(from_layer, int) and not isinstance(from_layer, bool):
        if not -n <= from_layer < n:
            raise ValueError(f"`from_layer` index must be in [{-n}, {n}) for {base.name!r} ({n} layers). "
                             f"Received: from_layer={from_layer}")
        return from_layer % n
    if isinstance(from_layer, str):
        groups = layer_groups(base)
        if from_layer in groups:
            return base.layers.index(groups[from_layer][0])
        for i, layer in enumerate(base.layers):
            if layer.name == from_layer:
                return i
        raise ValueError(
            f"{from_layer!r} is neither a layer group nor a layer of {base.name!r}. "
            f"Groups: {list(groups)}; layer names such as {[layer.name for layer in base.layers[-3:]]}. "
            f"Received: from_layer={from_layer!r}")
    raise TypeError(f"`from_layer` must be None, a group name, a layer name or an index. "
                    f"Received: from_layer={from_layer!r}")


def unfreeze(model, from_layer=None, train_bn=False):
    """Make the backbone trainable from ``from_layer`` on; recompile if compiled. Returns ``model``.

    Args:
        model: a model from :func:`transfer.attach_head`, or a backbone.
        from_layer: where unfreezing starts: a group name from
            :func:`transfer.layer_groups` (``"conv5"``, ``"block7"``,
            ``"stage3"``), a layer name, or an index into the backbone's
            layers (negative counts from the end). None: the whole backbone.
        train_bn: also train the BatchNorm layers from there on (batch
            statistics in training and moving-statistics updates). Default
            False keeps them in inference mode, as Keras's guide advises for
            small data sets.

    Example:
        >>> model = transfer.attach_head(transfer.load_backbone("resnet20", weights=None), 5)
        >>> _ = transfer.unfreeze(model, "conv4")          # the last stage of resnet20
        >>> [row[0] for row in transfer.trainable_report(model).rows if row[2]]
        ['conv4', 'head']
        >>> _ = transfer.unfreeze(model, -10, train_bn=True)
    """
    base, head = find_backbone(model)
    start = _start_index(base, from_layer)
    base.trainable = True  # a frozen container hides every sub-layer's weights
    for i, layer in enumerate(base.layers):
        for sub in all_layers(layer):
            if isinstance(sub, keras.layers.BatchNormalization):
                sub.trainable = i >= start and bool(train_bn)
            elif not isinstance(sub, keras.Model):
                sub.trainable = i >= start
    for layer in head:
        layer.trainable = True
    return _recompile(model)


class TrainableReport:
    """Per-group parameter counts; ``str()`` is a table, ``rows`` the data.

    Each row is ``(group, layers, trainable, frozen, bn)`` where ``frozen``
    counts non-trainable parameters (BatchNorm moving statistics included)
    and ``bn`` says whether the group's BatchNorm layers ``"train"``, are
    ``"frozen"``, or ``""`` if it has none.
    """

    def __init__(self, rows):
        self.rows = rows
        self.trainable = sum(r[2] for r in rows)
        self.frozen = sum(r[3] for r in rows)

    def __getitem__(self, group):
        for row in self.rows:
            if row[0] == group:
                return row
        raise KeyError(f"No group {group!r}. Groups: {[r[0] for r in self.rows]}")

    def __str__(self):
        head = f"{'group':<12}{'layers':>8}{'trainable':>14}{'frozen':>14}  BN"
        lines = [head, "-" * len(head)]
        lines += [f"{g:<12}{n:>8}{t:>14,}{f:>14,}  {bn}" for g, n, t, f, bn in self.rows]
        lines += ["-" * len(head), f"{'total':<12}{'':>8}{self.trainable:>14,}{self.frozen:>14,}"]
        return "\n".join(lines)

    __repr__ = __str__


def _count(weights):
    return int(sum(int(keras.ops.size(w)) for w in weights))


def trainable_report(model):
    """Which groups train: a :class:`TrainableReport` (print it for a table).

    Example:
        >>> print(transfer.trainable_report(model))      # doctest: +SKIP
        group         layers     trainable        frozen  BN
        stem               5             0           464  frozen
        ...
    """
    rows = []
    for group, members in layer_groups(model).items():
        subs = [s for layer in members for s in all_layers(layer)]
        bns = [s for s in subs if isinstance(s, keras.layers.BatchNormalization)]
        bn = "" if not bns else ("train" if any(b.trainable for b in bns) else "frozen")
        trainable = _count(w for layer in members for w in layer.trainable_weights)
        frozen = _count(w for layer in members for w in layer.non_trainable_weights)
        rows.append((group, len(members), trainable, frozen, bn))
    return TrainableReport(rows)
