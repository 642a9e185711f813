"""Training: :func:`transfer.fine_tune`'s phase loop, the :class:`~transfer.training.recipe.Recipe`, schedules,
optimizers, resumable checkpoints, data parallelism and feature extraction.
"""
