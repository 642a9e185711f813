"""Layer groups (stem, stages, ...) read from layer names, fastai-style.

Each family is a list of ``(regex, group)`` rules matched against layer
names in order; a layer no rule names joins the group of the layer before it
(layers before the first named layer, such as the input and the
preprocessing, join the first group). Families without a naming scheme
(MobileNet, Inception, ...) are split where the feature map's resolution
halves: ``stage0``, ``stage1``, ... Groups that hold no weights are merged
into the next group, so every group can be trained.
"""

import re
from collections import OrderedDict

import keras

from transfer.preprocessing import ImagePreprocessing

FAMILIES = {
    # keras.applications and zoo ResNets, CIFAR ResNets, DenseNet.
    "resnet": [(r"^(conv1|pool1)(_|$)", "stem"), (r"^conv(\d+)_", r"conv\1"), (r"^pool(\d+)_", r"conv\1")],
    # VGG and the tutorial CNNs: block1_conv1, block1_pool...
    "blocks": [(r"^block(\d+)_", r"block\1")],
    "efficientnet": [(r"^stem_", "stem"), (r"^block(\d+)[a-z]_", r"block\1"), (r"^top_", "top")],
    "convnext": [(r"_(pre)?stem", "stem"), (r"_stage_(\d+)_", r"stage\1"),
                 (r"_downsampling_block_(\d+)$", lambda m: f"stage{int(m.group(1)) + 1}")],
}


def find_backbone(model):
    """``(backbone, head_layers)``: the base inside a model built by attach_head, or the model itself.

    The backbone is the nested model that starts with an ImagePreprocessing
    layer (or, failing that, the first nested model); ``head_layers`` are
    the outer model's other layers with weights or without.

    Example:
        >>> base, head = find_backbone(transfer.attach_head(backbone, 10))
        >>> base is backbone
        True
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"Expected a keras.Model. Received: model={type(model).__name__}")
    if _is_backbone(model):
        return model, []
    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if not nested:
        return model, []
    base = ([m for m in nested if _is_backbone(m)] or nested)[0]
    head = [layer for layer in model.layers if layer is not base and not isinstance(layer, keras.layers.InputLayer)]
    return base, head


def _is_backbone(model):
    """A model load_backbone built: named after a known architecture, or starting with our preprocessing."""
    from transfer import backbones

    if any(isinstance(layer, ImagePreprocessing) for layer in model.layers[:3]):
        return True
    try:
        backbones.spec(model.name)
        return True
    except ValueError:
        return False


def family_of(backbone):
    """The naming family of a backbone: from the architecture table by its name, else guessed.

    Example:
        >>> family_of(transfer.load_backbone("resnet20", weights=None))
        'resnet'
    """
    from transfer import backbones

    try:
        return backbones.spec(backbone.name)[3]
    except ValueError:
        names = [layer.name for layer in backbone.layers]
        for family in ("resnet", "blocks", "efficientnet", "convnext"):
            pattern = FAMILIES[family][-1][0]
            if sum(bool(re.search(pattern, n)) for n in names) >= 2:
                return family
        return "stages"


def _named_groups(layers, rules):
    out, current, pending = [], None, []
    for layer in layers:
        group = None
        for pattern, template in rules:
            match = re.search(pattern, layer.name)
            if match:
                group = template(match) if callable(template) else match.expand(template)
                break
        group = group or current
        if group is None:
            pending.append(layer)
            continue
        out.extend((group, p) for p in pending)
        pending, current = [], group
        out.append((group, layer))
    return out + [(current or "body", p) for p in pending]


def _resolution_groups(layers):
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


def layer_groups(model):
    """Ordered ``{group: [layers]}`` of a backbone, plus ``"head"`` for a model from attach_head.

    Example:
        >>> list(layer_groups(transfer.load_backbone("resnet50", weights=None, input_shape=(64, 64, 3))))
        ['stem', 'conv2', 'conv3', 'conv4', 'conv5']
    """
    base, head = find_backbone(model)
    layers = [layer for layer in base.layers]
    family = family_of(base)
    pairs = _resolution_groups(layers) if family == "stages" else _named_groups(layers, FAMILIES[family])
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
        last = next(reversed(merged), "body")
        merged.setdefault(last, []).extend(carry)
    if family == "stages":  # number the trainable stages 1..n after the merge
        merged = OrderedDict((f"stage{i}", m) for i, m in enumerate(merged.values(), start=1))
    if head:
        merged["head"] = head
    return merged
