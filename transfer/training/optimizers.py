"""Discriminative learning rates on Keras's own ``MultiOptimizer``: one optimizer per multiplier.

Keras 3.15's ``keras.optimizers.MultiOptimizer`` sends each variable to an
optimizer chosen by the variable. :class:`DiscriminativeOptimizer` is that,
set up from one optimizer and ``{pattern: multiplier}``: it makes one copy of
the optimizer per distinct multiplier, at ``multiplier`` times its learning
rate (a schedule is scaled with :class:`transfer.training.schedules.ScaledSchedule`),
and routes each variable to the copy of the first pattern its ``path``
matches. Scaling the *learning rate* (not the gradient) is what makes the
update exactly ``multiplier`` times as large for adaptive optimizers too
(Adam's step does not depend on the gradient's scale). Keras then does the
rest: XLA and JAX (``stateless_apply``), ``tf.distribute``, and the loss-scale
wrapper that ``compile`` adds for ``mixed_float16`` models.

Earlier versions wrapped the inner optimizer and rescaled each step by hand
through private Keras attributes; that class is gone, its name and
``multipliers`` stay.
"""

import fnmatch

import keras

from transfer.model.groups import layer_groups
from transfer.training.schedules import ScaledSchedule


def _scaled_copy(optimizer, factor):
    """A new optimizer like ``optimizer`` whose learning rate (or schedule) is ``factor`` times its own."""
    config = optimizer.get_config()
    rate = config["learning_rate"]
    if isinstance(rate, dict):  # a serialized schedule
        config["learning_rate"] = ScaledSchedule(keras.optimizers.schedules.deserialize(rate), factor)
    else:
        config["learning_rate"] = float(rate) * factor
    config["name"] = f"{config['name']}_x{factor:g}"
    return type(optimizer).from_config(config)


@keras.saving.register_keras_serializable(package="transfer")
class DiscriminativeOptimizer(keras.optimizers.MultiOptimizer):
    """``inner_optimizer`` with a learning-rate multiplier per variable: the first matching pattern's.

    Args:
        inner_optimizer: a Keras optimizer (instance, name or config); it
            serves the variables whose multiplier is 1.
        multipliers: ``{pattern: multiplier}``; patterns are fnmatch patterns
            matched, in order, against each variable's ``path`` (e.g.
            ``"conv4_block1_1_conv/kernel"``). :func:`group_multipliers`
            builds one from layer groups.
        default: the multiplier of variables no pattern matches.
        loss_scale_factor, name: as for any Keras optimizer.

    ``learning_rate`` reads (and sets, for a float) the rate of multiplier 1.

    Example:
        >>> opt = DiscriminativeOptimizer(keras.optimizers.Adam(1e-4), {"conv3_*": 0.1, "conv4_*": 0.3})
        >>> [round(float(o.learning_rate), 8) for o in opt.by_multiplier.values()]
        [0.0001, 1e-05, 3e-05]
        >>> zoo.resnet20().compile(opt, "sparse_categorical_crossentropy", jit_compile=True)
    """

    def __init__(self, inner_optimizer, multipliers=None, default=1.0, loss_scale_factor=None, name=None):
        inner = keras.optimizers.get(inner_optimizer)
        multipliers = dict(multipliers or {})
        for pattern, mult in {**multipliers, "(default)": default}.items():
            if isinstance(mult, bool) or not isinstance(mult, (int, float)) or mult < 0:
                raise ValueError(f"Multipliers must be non-negative numbers. Received: {pattern!r}: {mult!r}")
        by_multiplier = {1.0: inner}
        for mult in (float(default), *map(float, multipliers.values())):
            if mult not in by_multiplier:
                by_multiplier[mult] = _scaled_copy(inner, mult)
        super().__init__(self._optimizer_for, loss_scale_factor=loss_scale_factor, name=name or "discriminative")
        self.inner_optimizer = inner
        self.multipliers = multipliers
        self.default = float(default)
        # Two lists, not a dict keyed by floats: TensorFlow's SavedModel tracking (model.export) takes
        # string keys only.
        self.rates = list(by_multiplier)
        self.copies = list(by_multiplier.values())

    @property
    def by_multiplier(self):
        """``{multiplier: optimizer}``: the copy of the inner optimizer that serves each multiplier."""
        return dict(zip(self.rates, self.copies))

    def multiplier_for(self, variable):
        """The learning-rate multiplier of ``variable`` (first matching pattern, else ``default``)."""
        path = getattr(variable, "path", variable.name)
        for pattern, mult in self.multipliers.items():
            if fnmatch.fnmatchcase(path, pattern):
                return float(mult)
        return self.default

    def _optimizer_for(self, variable):
        # MultiOptimizer's routing function: called once per variable when it builds.
        return self.by_multiplier[self.multiplier_for(variable)]

    @property
    def learning_rate(self):
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        # For callbacks that set a float rate (ReduceLROnPlateau): every copy keeps its multiple.
        for mult, optimizer in self.by_multiplier.items():
            optimizer.learning_rate = value * mult

    def get_config(self):
        return {
            "inner_optimizer": keras.saving.serialize_keras_object(self.inner_optimizer),
            "multipliers": self.multipliers,
            "default": self.default,
            "loss_scale_factor": self.loss_scale_factor,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        inner = keras.saving.deserialize_keras_object(config.pop("inner_optimizer"), custom_objects=custom_objects)
        return cls(inner, **config)


def group_multipliers(model, decay=0.3, head=1.0):
    """``{pattern: multiplier}`` giving the last backbone group 1.0 and each earlier one ``decay`` times less.

    The head gets ``head``. Frozen groups get a multiplier too; it does
    nothing until they are unfrozen.

    Example:
        >>> model = transfer.attach_head(transfer.load_backbone("cnn_mnist", weights=None), 10)
        >>> group_multipliers(model, decay=0.5)
        {'predictions/*': 1.0, 'block2_conv/*': 1.0, 'block1_conv/*': 0.5}
    """

    if not 0 < decay <= 1:
        raise ValueError(f"`decay` must be in (0, 1]. Received: decay={decay!r}")
    groups = layer_groups(model)
    out = {}
    for layer in groups.pop("head", []):
        if layer.weights:
            out[f"{layer.name}/*"] = float(head)
    for depth, (group, members) in enumerate(reversed(groups.items())):
        for layer in members:
            if layer.weights:
                out[f"{layer.name}/*"] = float(decay ** depth)
    return out
