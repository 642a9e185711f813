"""The ingredients of a recipe: the parts that change what a phase of :func:`transfer.fine_tune` does.

The phase loop (:mod:`transfer.training.finetune`) never changes when an
ingredient is added. Each :class:`Ingredient` owns some :class:`~transfer.Recipe`
settings, checks them, says whether a recipe uses it, and acts through hooks
the loop calls at fixed points of each phase (the loss, the optimizer, the data
given to ``fit``, the model before ``compile``, the callbacks, and the end of
the run). Every hook passes its input through unchanged by default, so an
ingredient overrides only the hooks it needs. Adding an ingredient is one
module and one line in :data:`INGREDIENTS`.

Example:
    >>> class Quiet(Ingredient):
    ...     settings = ("quiet",)
    ...     def active(self, recipe):
    ...         return getattr(recipe, "quiet", False)
    >>> Quiet().loss("mse", plan=None), Quiet().callbacks(plan=None, phase=1)
    ('mse', [])
"""


class Ingredient:
    """One part of a recipe that acts on a phase; every hook passes its input through unchanged by default.

    ``plan`` is the run resolved for one model and its data
    (:class:`~transfer.training.plan.Plan`: ``plan.recipe``, ``plan.model``,
    ``plan.loss``, ``plan.metrics``, ``plan.monitor``, ``plan.unfreeze_from``,
    ``plan.steps_per_epoch``, ``plan.epochs``); ``phase`` is 1 or 2.
    """

    settings = ()  # the Recipe fields this ingredient owns

    def check(self, recipe):
        """Validate this ingredient's settings of ``recipe``; raise ValueError naming the setting and value."""

    def active(self, recipe):
        """Whether ``recipe`` uses this ingredient."""
        return False

    def loss(self, loss, plan):
        """The loss both phases compile with."""
        return loss

    def optimizer(self, optimizer, plan, phase):
        """The optimizer ``phase`` compiles with."""
        return optimizer

    def data(self, data, plan, phase):
        """The keyword arguments of ``fit`` (``x``, ``y``, ``batch_size``, ``validation_data``)."""
        return data

    def prepare(self, model, plan, phase):
        """Called after the phase set what trains, before ``compile``."""

    def callbacks(self, plan, phase):
        """Keras callbacks for this phase's ``fit`` (they run before the checkpoint recorder)."""
        return []

    def finish(self, model, plan):
        """Called once after the last phase."""


# The ingredients, in the order their hooks apply (a loss or an optimizer passes through each in turn).
INGREDIENTS = ()


def active_ingredients(recipe):
    """The ingredients ``recipe`` uses, in order."""
    return [ingredient for ingredient in INGREDIENTS if ingredient.active(recipe)]


def check_all(recipe):
    """Every ingredient checks its own settings of ``recipe`` (called when a Recipe is made)."""
    for ingredient in INGREDIENTS:
        ingredient.check(recipe)
