"""Models that carry their identity: a backbone knows its architecture and groups, a head model its kind.

Before, a model's identity travelled by its *name*: the layer groups were
looked up again by name, so a renamed backbone lost them, and the loss was
guessed from the last layer's activation. Now :class:`Backbone` stores its
architecture record's name and its layer groups, and :class:`TransferModel`
stores the head kind chosen when the head was built; both are Functional
models (``keras.Model`` subclasses with the Functional constructor) whose
``get_config`` carries these fields, so they survive ``.keras`` save and load.

Example:
    >>> base = transfer.load_backbone("resnet20", weights=None)
    >>> base.arch, [g for g, _ in base.groups]
    ('resnet20', ['stem', 'conv2', 'conv3', 'conv4'])
    >>> model = transfer.attach_head(base, 10)
    >>> model.head_kind
    'multiclass'
    >>> model.save(os.path.join(tmp, "m.keras"))
    >>> again = keras.saving.load_model(os.path.join(tmp, "m.keras"))
    >>> again.head_kind, transfer.find_backbone(again)[0].arch
    ('multiclass', 'resnet20')
"""

import keras
import zoo
from zoo.groups import derive_groups, explicit_groups

from transfer.model.head_kinds import HEAD_KINDS, get_kind


class _Identity(keras.Model):
    """A Functional model with extra identity fields in its config (``FIELDS``)."""

    FIELDS = ()

    # The signature (inputs, outputs, name, **kwargs) is Functional's: Keras then serializes the
    # graph and revives the subclass through it (keras.Model.from_config), with our fields beside it.
    def __init__(self, inputs, outputs, name=None, **kwargs):
        fields = {f: kwargs.pop(f, None) for f in self.FIELDS}
        super().__init__(inputs, outputs, name=name, **kwargs)
        self._set_identity(**fields)

    def _set_identity(self, **fields):
        for field, value in fields.items():
            setattr(self, field, value)

    def get_config(self):
        # The model's own dtype policy decides loss scaling at compile time (mixed_float16);
        # Functional's config does not keep it, so it travels with the identity fields.
        return {**super().get_config(), **{f: getattr(self, f) for f in self.FIELDS},
                "dtype": keras.saving.serialize_keras_object(self.dtype_policy)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        fields = {f: config.pop(f, None) for f in cls.FIELDS}
        dtype = config.pop("dtype", None)
        model = super().from_config(config, custom_objects=custom_objects)
        model._set_identity(**fields)
        if dtype is not None:  # Functional's constructor drops a dtype argument: set it after
            model.dtype_policy = keras.saving.deserialize_keras_object(dtype)
        return model


@keras.saving.register_keras_serializable(package="transfer")
class Backbone(_Identity):
    """A headless feature extractor with its architecture record's name and its layer groups.

    Build one with :func:`transfer.load_backbone`, or wrap your own model with
    :func:`as_backbone`. ``groups`` is ``((group, (layer names...)), ...)``.
    """

    FIELDS = ("arch", "groups")

    def _set_identity(self, arch=None, groups=None):
        self.arch = arch
        if groups is None:  # saved groups need no record: a loaded model keeps its own
            groups = derive_groups(self, _record_scheme(arch))
        # JSON turns tuples into lists: store tuples either way.
        self.groups = tuple((g, tuple(names)) for g, names in groups)


def _record_scheme(arch):
    """The group scheme of the architecture record ``arch``; None (guess) for no or an unknown record."""
    if arch is None:
        return None
    try:
        return zoo.get_arch(arch).group_scheme
    except ValueError:  # a model saved with a record this process does not have (say, a user's)
        return None


@keras.saving.register_keras_serializable(package="transfer")
class TransferModel(_Identity):
    """A model from :func:`transfer.attach_head` or :func:`transfer.combine`: it knows its head kind.

    ``head_kind`` is one of :data:`HEAD_KINDS`; it decides the default loss and
    metrics of :func:`transfer.fine_tune` and how predictions are reported.
    ``class_names`` (a list, or None) label its outputs; :func:`transfer.save_model`
    sets them and they travel inside the ``.keras`` file.
    """

    FIELDS = ("head_kind", "class_names")

    # Set by a fine-tuning recipe (transfer.training.mixing.BatchMixing): mixes each training batch inside
    # the compiled step, and the loss follows the mixed targets. None: Keras's step as it is.
    batch_mixing = None

    def train_step(self, *args):
        """Keras's training step (``(data)`` on TensorFlow, ``(state, data)`` on JAX), after ``batch_mixing``."""
        if self.batch_mixing is None:
            return super().train_step(*args)
        *state, data = args
        data, targets = self.batch_mixing.mix_data(self, state, data)
        # The other labels and lam, for compute_loss in the same traced step (a plain attribute: not tracked).
        object.__setattr__(self, "_mixed_targets", targets)
        try:
            return super().train_step(*state, data)
        finally:
            object.__setattr__(self, "_mixed_targets", None)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Keras's loss; in a mixed training step ``lam * loss(y) + (1 - lam) * loss(other y)`` (the mixed target's)."""
        targets = self.__dict__.get("_mixed_targets")
        if targets is None or not training:
            return super().compute_loss(x, y, y_pred, sample_weight, training=training)
        other, lam = targets
        own = super().compute_loss(x, y, y_pred, sample_weight, training=training)
        mixed_in = super().compute_loss(x, other, y_pred, sample_weight, training=training)
        lam = keras.ops.cast(lam, own.dtype)
        return lam * own + (1.0 - lam) * mixed_in

    def _set_identity(self, head_kind=None, class_names=None):
        if head_kind is not None and head_kind not in HEAD_KINDS:
            raise ValueError(f"`head_kind` must be one of {tuple(HEAD_KINDS)}. Received: head_kind={head_kind!r}")
        self.head_kind = head_kind
        self.class_names = None if class_names is None else [str(n) for n in class_names]

    def get_config(self):
        config = super().get_config()
        config["class_names"] = None if self.class_names is None else list(self.class_names)
        return config


def as_backbone(model, groups=None, arch=None):
    """Wrap any functional feature extractor as a :class:`Backbone` (the same layers, not a copy).

    Args:
        model: a functional ``keras.Model`` whose one output is a feature map
            (or a feature vector).
        groups: None (derived from the layer names, or where the feature map
            halves), or explicit: ``{group: first layer name}`` in order, or
            ``{group: [layer names]}``.
        arch: the architecture record's name, if the model follows one.

    Example:
        >>> mine = zoo.cnn_mnist(include_top=False)
        >>> base = as_backbone(mine, groups={"low": "block1_conv", "high": "block2_conv"})
        >>> list(transfer.layer_groups(base))
        ['low', 'high']
    """
    if isinstance(model, Backbone) and groups is None and arch is None:
        return model
    if not isinstance(model, keras.Model):
        raise TypeError(f"A backbone must be a keras.Model. Received: {type(model).__name__}")
    outputs = model.outputs
    if len(outputs) != 1:
        raise ValueError(f"A backbone must have one output (its feature map); {model.name!r} has {len(outputs)}. "
                         "Build a model that returns the one you want: keras.Model(model.input, model.outputs[i]).")
    if groups is not None:
        groups = explicit_groups(model, groups)
    elif isinstance(model, Backbone):
        groups = model.groups
    return Backbone(model.inputs, outputs[0], name=model.name, arch=arch or getattr(model, "arch", None),
                    groups=groups)


def head_kind(model, remedy="pass loss= and metrics= to fine_tune"):
    """The head kind recorded when the head was built: binary, multiclass, multilabel or regression.

    ``remedy`` ends the error for a model without one (what the caller can do instead).

    Example:
        >>> head_kind(transfer.attach_head(transfer.load_backbone("cnn_mnist", weights=None), 30, activation=None))
        'regression'
    """
    kind = getattr(model, "head_kind", None)
    if kind is None:
        raise ValueError(f"{getattr(model, 'name', model)!r} was not built by transfer.attach_head or "
                         f"transfer.combine, so its head kind is not recorded: {remedy}. "
                         "Received: a model without a head kind")
    return kind
