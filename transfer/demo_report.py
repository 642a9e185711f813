"""What the demo leaves behind: its table of results, the results figure, the training curves, sample digits.

Example:
    >>> report = {"per_seed": [{"from scratch": 0.3, "fine-tuned": 0.5}], "mean": {"from scratch": 0.3,
    ...           "fine-tuned": 0.5}, "std": {"from scratch": 0.0, "fine-tuned": 0.0}, "n_test": 871,
    ...           "shots": 5, "backbone": "resnet20", "seeds": [0]}
    >>> print(table(report).splitlines()[-1])
    fine-tuned                     0.500
"""

import os

import numpy as np

from datasets import digits


def write_files(out, report, pre_hist, h_scratch, fine_tuning, model_path):
    """The figures and sample images (the fine-tuned model is saved where it trained); returns {what: path}."""
    import matplotlib.pyplot as plt  # pyplot (and a backend) only when figures are drawn

    from viz import plot_history  # viz imports pyplot too

    backbone, shots = report["backbone"], report["shots"]
    paths = {"results figure": os.path.join(out, "test_accuracy_per_method.png")}
    plot_results(report, paths["results figure"])
    paths["pretrain curves"] = os.path.join(out, "pretrain_curves.png")
    plot_history(pre_hist, title=f"{backbone}: pre-training on digits 0-4", path=paths["pretrain curves"])
    paths["scratch curves"] = os.path.join(out, "scratch_curves.png")
    seed = report["seeds"][-1]  # the curves are the last seed's
    plot_history(h_scratch, title=f"from scratch on digits 5-9, {shots} per class, seed {seed}",
                 path=paths["scratch curves"])
    paths["fine-tune curves"] = os.path.join(out, "finetune_curves.png")
    history, boundaries = fine_tuning
    plot_history(history, phase_boundaries=boundaries, path=paths["fine-tune curves"],
                 title=f"fine-tuning on digits 5-9, seed {seed} (dashed: backbone unfrozen)")
    paths["model"] = model_path
    x, y = digits.load_canvases()
    paths["samples"] = _write_samples(x, y, os.path.join(out, "samples"))
    plt.close("all")
    return paths


def plot_results(report, path):
    """Test accuracy per method: a dot per seed, a bar at the mean, chance dotted; saved to ``path``."""
    import matplotlib.pyplot as plt  # pyplot (and a backend) only when figures are drawn

    methods = list(report["mean"])  # in the demo's order
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for i, method in enumerate(methods):
        values = [s[method] for s in report["per_seed"]]
        ax.scatter(np.full(len(values), i) + np.linspace(-0.08, 0.08, len(values)), values, s=40, c="C0", zorder=3,
                   label="one seed" if i == 0 else None)
        ax.hlines(report["mean"][method], i - 0.25, i + 0.25, colors="k", label="mean" if i == 0 else None)
    ax.axhline(0.2, ls=":", c="grey", label="chance (5 classes)")
    ax.set(xticks=range(len(methods)), xticklabels=methods, ylim=(0, 1), ylabel="test accuracy",
           title=f"digits 5-9 from {report['shots']} labelled images per class ({report['n_test']} test images)")
    ax.legend(loc="lower right", fontsize="small")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def _write_samples(x, y, folder):
    """A few held-out 5-9 digits as PNG files, to try ``transfer predict`` on."""
    from PIL import Image  # Pillow only when samples are written

    os.makedirs(folder, exist_ok=True)
    for c in range(5, 10):
        i = int(np.flatnonzero(y == c)[-1])  # the last of each class: in the test split for small shots
        Image.fromarray(x[i, :, :, 0].astype("uint8"), mode="L").save(os.path.join(folder, f"digit_{c}.png"))
    return folder


def table(report):
    """The comparison as text: method, mean test accuracy ± std over seeds, per-seed values."""
    several = len(report["per_seed"]) > 1  # one seed has no spread to show
    lines = [f"handwritten digits (8x8 upsampled to {digits.DIGIT}x{digits.DIGIT}) at random places on a blank "
             f"{digits.CANVAS}x{digits.CANVAS} canvas; learned 0-4, transfer to 5-9",
             f"held-out digits 5-9 ({report['n_test']} test images), {report['shots']} labelled per class, "
             f"backbone {report['backbone']}, seeds {report['seeds']}",
             f"{'method':<26}{'accuracy':>10}" + (f"{'± sd':>8}   per seed" if several else "")]
    for m, mean in report["mean"].items():
        per = ", ".join(f"{s[m]:.3f}" for s in report["per_seed"])
        lines.append(f"{m:<26}{mean:>10.3f}" + (f"{report['std'][m]:>8.3f}   {per}" if several else ""))
    return "\n".join(lines)
