"""Training curves: :func:`join_histories` (the project's one history joiner) and :func:`plot_history`.

Example:
    >>> fig = plot_history(model.fit(x, y, validation_split=0.2, epochs=3), path="curves.png")  # doctest: +SKIP
"""

import matplotlib.pyplot as plt

from viz.figures import save_figure


def _history_dict(history):
    return history.history if hasattr(history, "history") else dict(history)


def join_histories(*histories):
    """Concatenate several training histories; return ``(joined dict, phase boundaries)``.

    Each history is a Keras History or its ``.history`` dict. A boundary is the
    number of epochs before each later phase, the value :func:`plot_history`
    takes as ``phase_boundaries``. A key missing from a phase is padded with
    NaN so every list stays aligned with the epochs.

    Example:
        >>> joined, bounds = join_histories({"loss": [3, 2]}, {"loss": [1], "lr": [0.1]})
        >>> joined, bounds
        ({'loss': [3, 2, 1], 'lr': [nan, nan, 0.1]}, [2])
    """
    dicts = [_history_dict(h) for h in histories]
    keys = list(dict.fromkeys(k for d in dicts for k in d))
    joined, bounds, done = {k: [] for k in keys}, [], 0
    for i, d in enumerate(dicts):
        length = max((len(v) for v in d.values()), default=0)
        for k in keys:
            values = list(d.get(k, []))
            joined[k] += values + [float("nan")] * (length - len(values))
        if i:
            bounds.append(done)
        done += length
    return joined, bounds


def plot_history(history, metrics=None, phase_boundaries=(), title=None, path=None):
    """Training curves: each metric, training against validation, one panel per metric.

    ``history`` is a Keras History, its ``.history`` dict (lists per key,
    validation keys prefixed ``val_``), or a list of them (phases trained one
    after the other, joined here). ``phase_boundaries`` are the numbers of
    epochs before each new phase (e.g. fine-tuning after the head), drawn as
    dashed lines; they are taken from a list of histories, or from a
    ``phase_boundaries`` attribute or ``"phase_boundaries"`` entry of the
    history, when not given.

    Example:
        >>> fig = plot_history({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]}, path=None)
        >>> len(fig.axes)
        1
        >>> fig = plot_history([{"loss": [1.0, 0.5]}, {"loss": [0.4, 0.3]}])  # boundary after epoch 2
        >>> [tuple(line.get_xdata()) for line in fig.axes[0].lines[1:]]
        [(2.5, 2.5)]
    """
    if isinstance(history, (list, tuple)):
        hist, bounds = join_histories(*history)
        phase_boundaries = phase_boundaries or bounds
    else:
        hist = dict(_history_dict(history))
        phase_boundaries = (phase_boundaries or getattr(history, "phase_boundaries", None)
                            or hist.get("phase_boundaries") or ())
    hist.pop("phase_boundaries", None)
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
    return save_figure(fig, path)
