"""Layer groups (stem, stages, ...) of a network: the rules by architecture family, and how they apply.

An architecture record names its group scheme (``ArchConfig.group_scheme``);
the scheme's rules live here, beside the records, like timm's group matchers:
an ordered list of ``(regex on the layer name, group)`` pairs, fastai-style.
:func:`derive_groups` applies them to a model's top-level layers and returns
``((group, (layer names...)), ...)``, the tuple a
:class:`transfer.Backbone` stores. A model without a record gets the scheme
that names most of its layers and splits it into more than one group; a
keras-hub backbone with ``pyramid_outputs`` is split where its pyramid levels
end when no scheme agrees with them; a model nothing fits (Inception, your
own) is split where the feature map's resolution halves: ``stage1``,
``stage2``, ... A scheme never makes one group of a whole network. Groups
that hold no weights (the input, the preprocessing) are
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
    # keras-hub's ResNet (stack0..3) and DenseNet (stack1..4): a DenseNet transition halves the map, so
    # it opens the next stack, as a ResNet stack's strided first block does (the pyramid outputs agree).
    "stacks": [(r"^(conv1|pool1)(_|$)", "stem"), (r"^stack(\d+)_", r"stack\1"),
               (r"^transition(\d+)_", lambda m: f"stack{int(m.group(1)) + 1}")],
    # keras-hub's CSPNet (CSPDarkNet, CSPResNet).
    "csp": [(r"^csp_stem_", "stem"), (r"^stage_(\d+)_", r"stage\1")],
    # keras-hub's HGNetV2 keeps all its stages inside one composite layer, the encoder.
    "hgnetv2": [(r"^embedder$", "stem"), (r"^encoder$", "encoder")],
    # keras-hub's MobileNet (v1 to v3): block_0 is the depthwise stem block, block_{i}_{j} stage i's blocks.
    # (keras.applications' MobileNetV2 names block_1_expand...: no match, it keeps its record's "stages")
    "mobilenet_blocks": [(r"^input_(pad|conv|batch_norm)", "stem"), (r"^block_(\d+)_\d+$", r"block\1")],
}

# Every scheme a record may name: the rule-based ones, and "stages" (where the map halves).
GROUP_SCHEMES = (*SCHEMES, "pyramid", "stages")


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


def _spatial_sizes(model):
    """``{layer name: height of its output}`` for 4-D outputs, at a probe size where the input's is unknown.

    A backbone built for ``(None, None, 3)`` has no heights in its graph; the
    graph is traced again symbolically (no computation) at 224 px.
    """
    def height(tensor):
        shape = getattr(tensor, "shape", None)
        return shape[1] if shape is not None and len(shape) == 4 else None

    outputs = {}
    for layer in model.layers:
        try:
            outputs[layer.name] = layer.output
        except (AttributeError, ValueError):  # never called, or called more than once
            continue
    sizes = {name: height(t) for name, t in outputs.items()}
    inputs = getattr(model, "inputs", None) or []
    if len(inputs) != 1 or len(inputs[0].shape) != 4 or inputs[0].shape[1] is not None:
        return sizes
    import keras  # here, not at the top: the records import this module and need no Keras

    probe = {n: t for n, t in outputs.items() if height(t) is None and t is not None and len(t.shape) == 4}
    try:
        traced = keras.Model(inputs, list(probe.values())).compute_output_spec(
            keras.KerasTensor((1, 224, 224, inputs[0].shape[-1])))
    except Exception:  # a graph that does not trace at 224 px keeps the one group it has
        return sizes
    sizes.update({n: t.shape[1] for n, t in zip(probe, keras.tree.flatten(traced))})
    return sizes


def _by_resolution(layers, sizes):
    out, stage, ref = [], 0, None
    for layer in layers:
        size = sizes.get(layer.name)
        if size is not None:
            if ref is None:
                ref = size
            elif size <= ref / 2:  # the map halved: a new stage begins here
                stage, ref = stage + 1, size
        out.append((f"stage{stage}", layer))
    return out


def _pyramid_ends(model):
    """Names of the layers ending each level of a keras-hub FeaturePyramid backbone's ``pyramid_outputs``."""
    pyramid = getattr(model, "pyramid_outputs", None)
    if not isinstance(pyramid, dict) or not pyramid:
        return []
    made_by = {}
    for layer in model.layers:
        try:
            made_by[id(layer.output)] = layer.name
        except (AttributeError, ValueError):  # never called, or called more than once: ends no level
            continue
    return [made_by[id(t)] for t in pyramid.values() if id(t) in made_by]


def guess_scheme(model):
    """The scheme that names most of ``model``'s layers and splits it into stages, else a structural one.

    A name scheme must name at least two layers, give more than one group,
    and (for a keras-hub backbone with ``pyramid_outputs``) end a group at
    every pyramid level. Otherwise ``"pyramid"`` (split at the pyramid
    outputs) where there are some, else ``"stages"`` (where the map halves).

    Example:
        >>> guess_scheme(zoo.resnet20(include_top=False))
        'resnet'
    """
    names = [layer.name for layer in model.layers]
    counts = {s: sum(_rule_group(n, rules) is not None for n in names) for s, rules in SCHEMES.items()}
    ends = _pyramid_ends(model)
    for scheme in sorted(counts, key=counts.get, reverse=True):
        if counts[scheme] < 2:
            break
        groups = _apply(model, scheme)
        # Every level but the last ends a group (a final norm may follow the last level in its group).
        if len(groups) > 1 and set(ends[:-1]) <= {members[-1] for _, members in groups}:
            return scheme
    return "pyramid" if ends else "stages"


def derive_groups(model, scheme=None):
    """``((group, (layer names...)), ...)`` of ``model``'s top-level layers, in order.

    ``scheme``: one of :data:`GROUP_SCHEMES`; None guesses it.

    Example:
        >>> [g for g, _ in derive_groups(zoo.resnet20(include_top=False))]
        ['stem', 'conv2', 'conv3', 'conv4']
    """
    if scheme is not None and scheme not in GROUP_SCHEMES:
        raise ValueError(f"`scheme` must be one of {GROUP_SCHEMES}. Received: scheme={scheme!r}")
    groups = _apply(model, scheme or guess_scheme(model))
    if len(groups) == 1 and scheme not in (None, "stages"):  # one group for a whole network: not a split
        groups = _apply(model, guess_scheme(model))
    return groups


def _by_pyramid(model):
    ends = _pyramid_ends(model)
    out, level, inner_ends = [], 1, set(ends[:-1])  # what follows the last level stays in its group
    for layer in model.layers:
        out.append((f"stage{level}", layer))
        level += layer.name in inner_ends
    return out


def _apply(model, scheme):
    if scheme == "stages":
        pairs = _by_resolution(model.layers, _spatial_sizes(model))
    elif scheme == "pyramid":
        pairs = _by_pyramid(model)
    else:
        pairs = _named(model.layers, SCHEMES[scheme])
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
    if scheme in ("stages", "pyramid"):  # number the trainable stages 1..n after the merge
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
