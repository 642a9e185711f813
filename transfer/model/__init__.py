"""The model and its head: :class:`Backbone`, :class:`TransferModel`, heads, freezing, layer groups, dtypes.

The ground floor of :mod:`transfer`: it stands on :mod:`zoo` alone. The rooms above it
(:mod:`transfer.sources`, :mod:`transfer.training`, :mod:`transfer.serving`) import from it, never the
other way round.
"""
