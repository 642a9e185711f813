"""Discriminative learning rates: one optimizer, a learning-rate multiplier per variable group.

Keras 3 has no per-variable learning rate. Scaling the *gradients* is not the
same thing for adaptive optimizers (Adam's update is invariant to the
gradient's scale), so this wrapper scales the *update* instead: it lets the
inner optimizer step, then moves each variable only ``multiplier`` of the way
from its old value to the new one. That is exact for any optimizer
(SGD, momentum, Adam, AdamW's decoupled decay) and is written with
``keras.ops`` only, so it compiles under XLA (``jit_compile=True``) and on
JAX. Cost: one copy of the variables that have a multiplier other than 1.

Hand-written because Keras has no such feature; modelled on
``keras.optimizers.LossScaleOptimizer``, Keras's own wrapper.
"""

import fnmatch

import keras
from keras import ops
from keras.src.utils import tracking


@keras.saving.register_keras_serializable(package="transfer")
class DiscriminativeOptimizer(keras.optimizers.Optimizer):
    """Wrap ``inner_optimizer``; multiply its learning rate per variable by the first matching pattern.

    Args:
        inner_optimizer: a Keras optimizer (instance, name or config).
        multipliers: ``{pattern: multiplier}``; patterns are fnmatch patterns
            matched, in order, against each variable's ``path`` (e.g.
            ``"conv4_block1_1_conv/kernel"``). :func:`group_multipliers`
            builds one from layer groups.
        default: the multiplier of variables no pattern matches.

    Example:
        >>> opt = DiscriminativeOptimizer(keras.optimizers.Adam(1e-4), {"conv3_*": 0.1, "conv4_*": 0.3})
        >>> zoo.resnet20().compile(opt, "sparse_categorical_crossentropy", jit_compile=True)
    """

    def __init__(self, inner_optimizer, multipliers=None, default=1.0, name=None, **kwargs):
        super().__init__(learning_rate=0.0, name=name or "discriminative", **kwargs)
        self.inner_optimizer = keras.optimizers.get(inner_optimizer)
        self.multipliers = dict(multipliers or {})
        self.default = float(default)
        for pattern, mult in self.multipliers.items():
            if not isinstance(mult, (int, float)) or mult < 0:
                raise ValueError(f"Multipliers must be non-negative numbers. Received: {pattern!r}: {mult!r}")

    def multiplier_for(self, variable):
        """The learning-rate multiplier of ``variable`` (first matching pattern, else ``default``)."""
        path = getattr(variable, "path", variable.name)
        for pattern, mult in self.multipliers.items():
            if fnmatch.fnmatchcase(path, pattern):
                return float(mult)
        return self.default

    @tracking.no_automatic_dependency_tracking
    def build(self, var_list):
        self.inner_optimizer.build(var_list)
        super().build(var_list)

    @property
    def variables(self):
        return self._variables + self.inner_optimizer.variables

    def apply(self, grads, trainable_variables=None):
        if not self.built:
            with keras.name_scope(self.name, caller=self):
                self.build(trainable_variables)
            self.built = True
        tvs = list(trainable_variables) if trainable_variables is not None else self._trainable_variables
        mults = [self.multiplier_for(v) for v in tvs]
        # Read the old values before the inner step (ordered by the backend: TF's
        # automatic control dependencies, JAX's stateless scope).
        before = [ops.copy(ops.convert_to_tensor(v)) if m != 1.0 else None for v, m in zip(tvs, mults)]
        self.inner_optimizer.apply(grads, trainable_variables=trainable_variables)
        for v, old, m in zip(tvs, before, mults):
            if old is not None:
                v.assign(old + ops.cast(m, old.dtype) * (ops.convert_to_tensor(v) - old))

    @property
    def learning_rate(self):
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        self.inner_optimizer.learning_rate = value

    @property
    def iterations(self):
        return self.inner_optimizer.iterations

    def finalize_variable_values(self, var_list):
        self.inner_optimizer.finalize_variable_values(var_list)

    def get_config(self):
        return {
            "name": self.name,
            "inner_optimizer": keras.saving.serialize_keras_object(self.inner_optimizer),
            "multipliers": self.multipliers,
            "default": self.default,
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
        >>> group_multipliers(resnet20_model, decay=0.5)     # doctest: +SKIP
        {'head_*': 1.0, 'predictions/*': 1.0, 'conv4_*': 1.0, 'conv3_*': 0.5, 'conv2_*': 0.25, ...}
    """
    from transfer.groups import layer_groups

    if not 0 < decay <= 1:
        raise ValueError(f"`decay` must be in (0, 1]. Received: decay={decay!r}")
    groups = layer_groups(model)
    out = {}
    for layer in groups.pop("head", []):
        out[f"{layer.name}/*"] = float(head)
    for depth, (group, members) in enumerate(reversed(groups.items())):
        for layer in members:
            if layer.weights:
                out[f"{layer.name}/*"] = float(decay ** depth)
    return out
