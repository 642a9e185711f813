"""Layer groups (stem, stages, ...) of a backbone: derived once from layer names, or given explicitly.

A backbone's groups are what freezing by stage and discriminative learning
rates work on. :func:`derive_groups` computes them from the layer names with
the architecture's scheme (the ``groups`` field of its record, fastai-style
rules below); a :class:`~transfer.models.Backbone` stores the result, so a
renamed or re-wrapped model keeps them. A model without a record gets the
scheme that names most of its layers; a model no scheme fits (MobileNet,
Inception, your own) is split where the feature map's resolution halves:
``stage1``, ``stage2``, ... Groups that hold no weights (the input, the
preprocessing) are merged into the next group, so every group can be trained.
"""

import re
from collections import OrderedDict

import keras


# scheme -> ordered (regex, group) rules; a layer no rule names joins the group before it.
# With "stages" these are zoo.configs.GROUP_SCHEMES (tests/test_transfer_identity.py checks it).
SCHEMES = {
    # keras.applications and zoo ResNets, CIFAR ResNets, DenseNet.
    "resnet": [(r"^(conv1|pool1)(_|$)", "stem"), (r"^conv(\d+)_", r"conv\1"), (r"^pool(\d+)_", r"conv\1")],
    # VGG and the tutorial CNNs: block1_conv1, block1_pool...
    "blocks": [(r"^block(\d+)_", r"block\1")],
    "efficientnet": [(r"^stem_", "stem"), (r"^block(\d+)[a-z]_", r"block\1"), (r"^top_", "top")],
    "convnext": [(r"_(pre)?stem", "stem"), (r"_stage_(\d+)_", r"stage\1"),
                 (r"_downsampling_block_(\d+)$", lambda m: f"stage{int(m.group(1)) + 1}")],
}


def _rule_group(name, rules):
    for pattern, template in rules:
        match = re.search(pattern, name)
        if match:
            return template(match) if callable(template) else match.expand(template)
    return None


def _named(layers, rules):
    out, current, pending = [], None, []
    for layer in layers:
        group = _rule_group(layer.name, rules) or current
        if group is None:  # before the first named layer: joins the first group
            pending.append(layer)
            continue
        out.extend((group, p) for p in pending)
        pending, current = [], group
        out.append((group, layer))
    return out + [(current or "body", p) for p in pending]


def _by_resolution(layers):
    out, stage, ref = [], 0, None
    for layer in layers:
        shape = getattr(getattr(layer, "output", None), "shape", None)
        size = shape[1] if shape is not None and len(shape) == 4 else None
        if size is not None:
            if ref is None:
                ref = size
            elif size <= ref / 2:  # the map halved: a new stage begins here
                stage, ref = stage + 1, size
        out.append((f"stage{stage}", layer))
    return out


def guess_scheme(model):
    """The naming scheme that names most of ``model``'s layers (at least two), else ``"stages"``.

    Example:
        >>> guess_scheme(zoo.resnet20(include_top=False))
        'resnet'
    """
    names = [layer.name for layer in model.layers]
    counts = {s: sum(_rule_group(n, rules) is not None for n in names) for s, rules in SCHEMES.items()}
    best = max(counts, key=counts.get)
    return best if counts[best] >= 2 else "stages"


def derive_groups(model, scheme=None):
    """``((group, (layer names...)), ...)`` of ``model``'s top-level layers, in order.

    ``scheme``: one of ``zoo.configs.GROUP_SCHEMES``; None guesses it.

    Example:
        >>> [g for g, _ in derive_groups(zoo.resnet20(include_top=False))]
        ['stem', 'conv2', 'conv3', 'conv4']
    """
    scheme = scheme or guess_scheme(model)
    pairs = _by_resolution(model.layers) if scheme == "stages" else _named(model.layers, SCHEMES[scheme])
    groups = OrderedDict()
    for group, layer in pairs:
        groups.setdefault(group, []).append(layer)
    # A group without weights (the input, the preprocessing) cannot be trained: fold it forward.
    merged, carry = OrderedDict(), []
    for group, members in groups.items():
        if not any(layer.weights for layer in members):
            carry += members
            continue
        merged[group], carry = carry + members, []
    if carry:
        merged.setdefault(next(reversed(merged), "body"), []).extend(carry)
    if scheme == "stages":  # number the trainable stages 1..n after the merge
        merged = OrderedDict((f"stage{i}", m) for i, m in enumerate(merged.values(), start=1))
    return tuple((g, tuple(layer.name for layer in members)) for g, members in merged.items())


def explicit_groups(model, groups):
    """Check and normalise user-given groups: ``{group: first layer name}`` or ``{group: [layer names]}``.

    With first-layer names, each group runs up to the next group's first
    layer; layers before the first group join it.

    Example:
        >>> base = zoo.cnn_mnist(include_top=False)
        >>> [g for g, _ in explicit_groups(base, {"low": "block1_conv", "high": "block2_conv"})]
        ['low', 'high']
    """
    names = [layer.name for layer in model.layers]
    if not isinstance(groups, dict) or not groups:
        raise ValueError("`groups` must be a non-empty dict {group: first layer name} or {group: [layer names]}. "
                         f"Received: groups={groups!r}")
    for group, value in groups.items():
        for name in [value] if isinstance(value, str) else list(value):
            if name not in names:
                raise ValueError(f"Group {group!r} names layer {name!r}, which {model.name!r} does not have."
                                 f"{_hint(name, names)} Received: groups={groups!r}")
    if all(isinstance(v, str) for v in groups.values()):
        starts = [names.index(v) for v in groups.values()]
        if starts != sorted(starts):
            raise ValueError(f"First layers must come in the model's order. Received: groups={groups!r}")
        bounds = [0] + starts[1:] + [len(names)]
        return tuple((g, tuple(names[a:b])) for g, a, b in zip(groups, bounds[:-1], bounds[1:]))
    return tuple((g, tuple([v] if isinstance(v, str) else v)) for g, v in groups.items())


def _hint(name, names):
    from zoo.validation import close_matches

    return close_matches(name, names)


def find_backbone(model):
    """``(backbone, head_layers)``: the backbone inside a model from attach_head, or the model itself.

    Example:
        >>> base = transfer.load_backbone("cnn_mnist", weights=None)
        >>> found, head = find_backbone(transfer.attach_head(base, 10))
        >>> found is base, [layer.name for layer in head]
        (True, ['head_avg_pool', 'predictions'])
    """
    from transfer.models import Backbone

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

    A :class:`~transfer.models.Backbone` answers from the groups it carries;
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
