"""The learning-rate range test's curve: :func:`plot_lr_find`.

Example:
    >>> from transfer.training.lr_find import LRFinderResult
    >>> rates = list(np.geomspace(1e-5, 1, 20))
    >>> losses = [2.3 - 0.1 * i for i in range(15)] + [1.0, 1.5, 3.0, 6.0, 9.0]
    >>> result = LRFinderResult(rates, losses, losses, suggestion=rates[7], suggestion_index=7)
    >>> fig = plot_lr_find(result, path="lr_find.png")
    >>> fig.axes[0].get_xscale(), os.path.exists("lr_find.png")
    ('log', True)
"""

import matplotlib.pyplot as plt

from viz.figures import save_figure


def plot_lr_find(result, path=None, title=None, raw=True):
    """The smoothed loss against the learning rate (log scale), the suggestion marked; a Figure.

    Args:
        result: what :func:`transfer.lr_find` returns (``rates``, ``losses``,
            ``raw_losses``, ``suggestion``, ``suggestion_index``).
        path: also save the figure there as a PNG.
        title: the axes' title (default: the suggested rate).
        raw: draw each batch's own loss faintly behind the smoothed curve.
    """
    if not len(result.rates):
        raise ValueError("plot_lr_find received a result with no steps (rates is empty)")
    fig, ax = plt.subplots(figsize=(6, 4))
    if raw and getattr(result, "raw_losses", None):
        ax.plot(result.rates, result.raw_losses, color="0.75", linewidth=0.8, label="batch loss")
    ax.plot(result.rates, result.losses, color="C0", label="smoothed loss")
    if result.suggestion is not None:
        ax.plot([result.suggestion], [result.losses[result.suggestion_index]], "o", color="C3",
                label=f"valley: {result.suggestion:.2e}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss")
    low, high = min(result.losses), result.losses[0]
    if high > low:  # the divergence would flatten the part that matters
        ax.set_ylim(low - 0.1 * (high - low), high + 0.5 * (high - low))
    ax.set_title(title or ("learning-rate range test" if result.suggestion is None
                           else f"suggested learning rate {result.suggestion:.2e}"))
    ax.legend()
    fig.tight_layout()
    return save_figure(fig, path)
