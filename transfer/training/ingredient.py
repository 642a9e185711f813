"""The base of every recipe ingredient: the hooks the phase loop calls (see :mod:`transfer.training.ingredients`)."""


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
