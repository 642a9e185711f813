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
    >>> from transfer.training.ingredient import Ingredient
    >>> class Quiet(Ingredient):
    ...     settings = ("quiet",)
    ...     def active(self, recipe):
    ...         return getattr(recipe, "quiet", False)
    >>> Quiet().loss("mse", plan=None), Quiet().callbacks(plan=None, phase=1)
    ('mse', [])
"""

from transfer.training.mixing import Mixing
from transfer.training.momentum import OneCycleIngredient
from transfer.training.regularisation import GradientAccumulation, LabelSmoothing, WeightDecay
from transfer.training.ema import WeightAveraging

# The ingredients, in the order their hooks apply (a loss or an optimizer passes through each in turn).
# OneCycleIngredient rebuilds the optimizer (a new rate and momentum), so it comes before those that set it.
INGREDIENTS = (OneCycleIngredient(), LabelSmoothing(), WeightDecay(), GradientAccumulation(), Mixing(),
               WeightAveraging())


def active_ingredients(recipe):
    """The ingredients ``recipe`` uses, in order."""
    return [ingredient for ingredient in INGREDIENTS if ingredient.active(recipe)]


def check_all(recipe):
    """Every ingredient checks its own settings of ``recipe`` (called when a Recipe is made)."""
    for ingredient in INGREDIENTS:
        ingredient.check(recipe)