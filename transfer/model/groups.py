"""Where a model's layer groups are: the backbone inside a head model, and its groups by name.

The rules that split an architecture's layers into groups live with the
architecture records, in :mod:`zoo.groups`; a :class:`~transfer.model.backbone.Backbone`
stores the groups it was built with. This module finds the backbone inside
a model from :func:`transfer.attach_head` and hands out its groups as layers.
"""

from collections import OrderedDict

import keras
from zoo.groups import derive_groups

from transfer.model.backbone import Backbone


def find_backbone(model):
    """``(backbone, head_layers)``: the backbone inside a model from attach_head, or the model itself.

    Example:
        >>> base = transfer.load_backbone("cnn_mnist", weights=None)
        >>> found, head = find_backbone(transfer.attach_head(base, 10))
        >>> found is base, [layer.name for layer in head]
        (True, ['head_avg_pool', 'predictions'])
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"Expected a keras.Model. Received: model={type(model).__name__}")
    if isinstance(model, Backbone):
        return model, []
    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if not nested:
        return model, []
    base = ([m for m in nested if isinstance(m, Backbone)] or nested)[0]
    head = [layer for layer in model.layers if layer is not base and not isinstance(layer, keras.layers.InputLayer)]
    return base, head


def layer_groups(model):
    """Ordered ``{group: [layers]}`` of a backbone, plus ``"head"`` for a model from attach_head.

    A :class:`~transfer.model.backbone.Backbone` answers from the groups it carries;
    any other model's groups are derived from its layer names.

    Example:
        >>> list(layer_groups(transfer.load_backbone("resnet50", weights=None, input_shape=(64, 64, 3))))
        ['stem', 'conv2', 'conv3', 'conv4', 'conv5']
    """
    base, head = find_backbone(model)
    stored = getattr(base, "groups", None)
    by_name = {layer.name: layer for layer in base.layers}
    out = OrderedDict((g, [by_name[n] for n in names]) for g, names in (stored or derive_groups(base)))
    if head:
        out["head"] = head
    return out
