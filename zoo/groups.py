"""Layer groups (stem, stages, ...) of a network: the rules by architecture family, and how they apply.

An architecture record names its group scheme (``ArchConfig.group_scheme``);
the scheme's rules live here, beside the records, like timm's group matchers:
an ordered list of ``(regex on the layer name, group)`` pairs, fastai-style.
:func:`derive_groups` applies them to a model's top-level layers and returns
``((group, (layer names...)), ...)``, the tuple a
:class:`transfer.Backbone` stores. A model without a record gets the scheme
that names most of its layers; a model no scheme fits (MobileNet, Inception,
your own) is split where the feature map's resolution halves: ``stage1``,
``stage2``, ... Groups that hold no weights (the input, the preprocessing) are
merged into the next group, so every group can be trained.

Example:
    >>> [g for g, _ in derive_groups(zoo.resnet20(include_top=False), "resnet")]
    ['stem', 'conv2', 'conv3', 'conv4']
"""

import re
from collections import OrderedDict

from zoo.checks import close_matches

# scheme -> ordered (regex, group) rules; a layer no rule names joins the group before it.
SCHEMES = {
    # keras.applications and zoo ResNets, CIFAR ResNets, DenseNet.
    "resnet": [(r"^(conv1|pool1)(_|$)", "stem"), (r"^conv(\d+)_", r"conv\1"), (r"^pool(\d+)_", r"conv\1")],
    # VGG and the tutorial CNNs: block1_conv1, block1_pool...
    "blocks": [(r"^block(\d+)_", r"block\1")],
    "efficientnet": [(r"^stem_", "stem"), (r"^block(\d+)[a-z]_", r"block\1"), (r"^top_", "top")],
    "convnext": [(r"_(pre)?stem", "stem"), (r"_stage_(\d+)_", r"stage\1"),
                 (r"_downsampling_block_(\d+)$", lambda m: f"stage{int(m.group(1)) + 1}")],
}

# Every scheme a record may name: the rule-based ones, and "stages" (where the map halves).
GROUP_SCHEMES = (*SCHEMES, "stages")


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

    ``scheme``: one of :data:`GROUP_SCHEMES`; None guesses it.

    Example:
        >>> [g for g, _ in derive_groups(zoo.resnet20(include_top=False))]
        ['stem', 'conv2', 'conv3', 'conv4']
    """
    scheme = scheme or guess_scheme(model)
    if scheme not in GROUP_SCHEMES:
        raise ValueError(f"`scheme` must be one of {GROUP_SCHEMES}. Received: scheme={scheme!r}")
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


def explicit_groups(model, spec):
    """Check and normalise a user's group spec: ``{group: first layer name}`` or ``{group: [layer names]}``.

    With first-layer names, each group runs up to the next group's first
    layer; layers before the first group join it. Returns the same tuple as
    :func:`derive_groups`.

    Example:
        >>> base = zoo.cnn_mnist(include_top=False)
        >>> [g for g, _ in explicit_groups(base, {"low": "block1_conv", "high": "block2_conv"})]
        ['low', 'high']
    """
    names = [layer.name for layer in model.layers]
    if not isinstance(spec, dict) or not spec:
        raise ValueError("`groups` must be a non-empty dict {group: first layer name} or {group: [layer names]}. "
                         f"Received: groups={spec!r}")
    for group, value in spec.items():
        for name in [value] if isinstance(value, str) else list(value):
            if name not in names:
                raise ValueError(f"Group {group!r} names layer {name!r}, which {model.name!r} does not have."
                                 f"{close_matches(name, names)} Received: groups={spec!r}")
    if all(isinstance(v, str) for v in spec.values()):
        starts = [names.index(v) for v in spec.values()]
        if starts != sorted(starts):
            raise ValueError(f"First layers must come in the model's order. Received: groups={spec!r}")
        bounds = [0] + starts[1:] + [len(names)]
        return tuple((g, tuple(names[a:b])) for g, a, b in zip(spec, bounds[:-1], bounds[1:]))
    return tuple((g, tuple([v] if isinstance(v, str) else v)) for g, v in spec.items())
