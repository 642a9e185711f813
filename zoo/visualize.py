"""Plots people would rather look at than read. Each function returns a matplotlib Figure
and, given ``path``, also saves it as a PNG.

Example:
    >>> fig = plot_history(model.fit(x, y, validation_split=0.2, epochs=3), path="curves.png")
"""

import matplotlib.pyplot as plt


def _history_dict(history):
    return history.history if hasattr(history, "history") else dict(history)


def _save(fig, path):
    if path is not None:
        fig.savefig(path, dpi=100, bbox_inches="tight")
    return fig


def plot_history(history, metrics=None, phase_boundaries=(), title=None, path=None):
    """Training curves: each metric, training against validation, one panel per metric.

    ``history`` is a Keras History or its ``.history`` dict (lists per key,
    validation keys prefixed ``val_``). ``phase_boundaries`` are epoch
    indices where a new phase starts (e.g. fine-tuning after the head), drawn
    as dashed lines.

    Example:
        >>> fig = plot_history({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]}, path=None)
        >>> len(fig.axes)
        1
    """
    hist = _history_dict(history)
    if not hist:
        raise ValueError("The history is empty: nothing to plot. Received: history={}")
    names = metrics or [k for k in hist if not k.startswith("val_") and k not in ("learning_rate", "lr")]
    missing = [m for m in names if m not in hist]
    if missing:
        raise ValueError(f"Metrics {missing} are not in the history. Available: {sorted(hist)}")
    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.4), squeeze=False)
    for ax, name in zip(axes[0], names):
        epochs = range(1, len(hist[name]) + 1)
        ax.plot(epochs, hist[name], "o-", ms=3, label="training")
        if f"val_{name}" in hist:
            ax.plot(range(1, len(hist[f"val_{name}"]) + 1), hist[f"val_{name}"], "s-", ms=3, label="validation")
        for b in phase_boundaries:
            ax.axvline(b + 0.5, color="grey", ls="--", lw=1)
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)
