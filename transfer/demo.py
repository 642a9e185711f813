"""The offline demo: learn digits 0-4, transfer to 5-9 from a few labelled examples per class.

Real data, made harder the same way for every method: scikit-learn's 1,797
handwritten 8x8 digits, upsampled to 12x12 and pasted at a random place on a
blank 20x20 canvas (:func:`datasets.digits.load_canvases`, the same canvases
for every method). ResNet-20 pre-trained on the 0-4 images (each training
digit also at one more place, the rate decayed to zero along a cosine so the
weights settle) learns stroke detectors that work anywhere on the canvas; a
network that sees a handful of 5-9 images cannot. Three ways to learn 5-9
from ``shots`` labelled images per class (5 by default): from scratch, a head
on cached average-pooled features of the frozen backbone, and the two-phase
fine-tune. Each trains for a fixed number of epochs and is judged at its last
epoch on every 5-9 image it did not train on, the figure its run's line
prints and the table averages over seeds (0, 1, 2 by default). No epoch is
selected or validated: with a handful of validation images early stopping
turned tiny numerical differences between machines into different
conclusions. The scratch network's BatchNorm statistics are recomputed from
its training images before it is scored (:func:`precise_batchnorm`). XLA is
off: on CPU it makes these small convolutions train slower.
"""

import dataclasses
import os
import time

import keras
import numpy as np

import transfer
from datasets import digits
from zoo.files import atomic_path
from zoo.graph import all_layers

BACKBONE = "resnet20"
SHOTS = 5
SEEDS = (0, 1, 2)
COPIES = 2  # pre-training sees each 0-4 training digit at this many random places
PRETRAIN_BATCH = 64
EPOCHS = (6, 15)  # pre-training epochs, epochs per fine-tuning phase (scratch and frozen features: twice that)
EPOCHS_QUICK = (5, 15)  # one seed; fewer epochs left the frozen-features head undertrained
JIT = False  # jit_compile for every model here (CPU: XLA convolutions train about 2x slower)
# One hidden layer of 64 on the pooled feature map, for every method.
HEAD = dict(hidden=(64,), pooling="avg")
METHODS = ("from scratch", "frozen features + head", "fine-tuned (2 phases)")
# The fine-tuning recipe (benchmarks/bench_recipes.py compares variants of it): head at 3e-3, then
# the whole base unfrozen at 3e-4, each earlier group 0.3 times slower. The epochs per phase and
# the first group to unfreeze are set per run (quick or not, the backbone's groups).
# No early stopping: see the module docstring.
RECIPE = transfer.Recipe(learning_rate=(3e-3, 3e-4), lr_decay=0.3, patience=None)


@dataclasses.dataclass
class TrainingRun:
    """One training of the demo: what was trained, for how long, and the accuracy the table uses.

    ``accuracy`` is measured at the last epoch: on the held-out 5-9 test
    images for the three methods (the figure the table averages), on the
    held-out 0-4 images for the pre-training (``on`` says which).
    """

    method: str
    seed: int
    epochs: int
    accuracy: float
    seconds: float
    on: str = "test"

    def __str__(self):
        return (f"{self.method:<24} seed {self.seed}  {self.epochs:>3} epochs  "
                f"{self.on} acc {self.accuracy:.3f}  {self.seconds:5.1f} s")


def precise_batchnorm(model, images):
    """Set every BatchNorm layer's moving statistics to those of ``images`` (one batch, all of them).

    With a few dozen images an epoch is one or two steps, far too few for the
    moving averages (momentum 0.99) to catch up with weights that change fast:
    a network trained from scratch scores well on its batches and near chance
    in inference mode. Recomputing the statistics over the training images
    ("precise BN") gives inference mode the right ones, so the scratch
    baseline is judged on what it learned.

    Example:
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.BatchNormalization()])
        >>> precise_batchnorm(model, np.array([[1.0, 2.0], [3.0, 6.0]], "float32"))
        >>> model.layers[0].moving_mean.numpy().tolist()
        [2.0, 4.0]
    """
    norms = [layer for layer in all_layers(model) if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in norms]
    for layer in norms:
        layer.momentum = 0.0  # the moving statistics become this one batch's: all the images
    model(images, training=True)
    for layer, momentum in zip(norms, momenta):
        layer.momentum = momentum


class _Runs:
    """Times each training, scores it, collects its :class:`TrainingRun` and passes the caller's hooks along."""

    def __init__(self, watch, on_run):
        self.watch, self.on_run, self.done = watch, on_run, []

    def train(self, method, seed, max_epochs, fit, score, on="test"):
        """``fit(callbacks) -> history dict``, then ``score() -> accuracy``; returns the history."""
        start = time.perf_counter()
        history = fit(list(self.watch(method, seed, max_epochs)) if self.watch else [])
        record = TrainingRun(method, seed, len(history["loss"]), score(), time.perf_counter() - start, on)
        self.done.append(record)
        if self.on_run:
            self.on_run(record)
        return history


def _compiled(model, learning_rate=1e-3):
    model.compile(keras.optimizers.Adam(learning_rate), "sparse_categorical_crossentropy", metrics=["accuracy"],
                  jit_compile=JIT)
    return model


def _accuracy(model, x, y):
    return float(np.mean(np.argmax(model.predict(x, verbose=0, batch_size=512), axis=1) == y))


def pretrain(x, y, out, backbone_name, epochs, runs=None, verbose=0):
    """Train ``backbone_name`` + a head on digits 0-4; save the backbone's weights; return (path, history).

    The learning rate decays to zero along a cosine, so the weights settle
    instead of stopping mid-stride: the features the other methods start
    from then differ less between machines whose arithmetic differs.
    """
    runs = runs or _Runs(None, None)
    keras.utils.set_random_seed(0)
    mask = y < 5
    xs, ys = x[mask], y[mask]
    n_val = len(xs) // 5
    small, _ = digits.load_small(digits.DIGIT)  # the training digits again, each at COPIES - 1 new places
    xtrain = np.concatenate([xs[n_val:]] + [digits.place(small[mask][n_val:], x.shape[1], seed=1 + k)
                                             for k in range(COPIES - 1)])
    ytrain = np.concatenate([ys[n_val:]] * COPIES)
    base = transfer.load_backbone(backbone_name, weights=None, input_shape=x.shape[1:])
    steps = epochs * -(-len(xtrain) // PRETRAIN_BATCH)
    model = _compiled(transfer.attach_head(base, 5, **HEAD), keras.optimizers.schedules.CosineDecay(2e-3, steps))

    def score():
        precise_batchnorm(model, xs[n_val:])
        return _accuracy(model, xs[:n_val], ys[:n_val])

    history = runs.train("pre-training on 0-4", 0, epochs, lambda callbacks: model.fit(
        xtrain, ytrain, epochs=epochs, batch_size=PRETRAIN_BATCH, verbose=verbose, callbacks=callbacks).history,
        score, on="0-4")
    path = os.path.join(out, f"{backbone_name}_digits0-4.weights.h5")
    with atomic_path(path, ".weights.h5") as part:
        base.save_weights(part)
    return path, history


def one_seed(x, y, weights, backbone_name, shots, seed, epochs, out, runs, verbose=0):
    """Scratch, frozen features and fine-tune test accuracies for one seed; plus histories and the model.

    Each method is judged at its last epoch on the test images: the few-shot
    split's validation images join them (nothing is selected on any images).
    """
    (xtr, ytr), (xva, yva), (xte, yte) = digits.few_shot_split(x, y, range(5, 10), shots, seed)
    xte, yte = np.concatenate([xva, xte]), np.concatenate([yva, yte])
    shape = x.shape[1:]
    # 1. From scratch: the same network, random weights, everything trainable.
    keras.utils.set_random_seed(seed)
    scratch = _compiled(transfer.attach_head(
        transfer.load_backbone(backbone_name, weights=None, input_shape=shape), 5, dropout=0.3, **HEAD))

    def score_scratch():
        precise_batchnorm(scratch, xtr)
        return _accuracy(scratch, xte, yte)

    h_scratch = runs.train(METHODS[0], seed, epochs * 2, lambda callbacks: scratch.fit(
        xtr, ytr, epochs=epochs * 2, batch_size=16, verbose=verbose, callbacks=callbacks).history, score_scratch)
    # 2. Frozen features: run the pretrained base once (cached), train a small head on the vectors.
    keras.utils.set_random_seed(seed)
    base = transfer.load_backbone(backbone_name, weights=weights, input_shape=shape)
    cache = os.path.join(out, "feature_cache")
    ftr, fte = (transfer.extract_features(base, a, pooling=HEAD["pooling"], cache_dir=cache) for a in (xtr, xte))
    head = _compiled(transfer.head_on_features(ftr.shape[1:], 5, dropout=0.3, hidden=HEAD["hidden"]))
    runs.train(METHODS[1], seed, epochs * 2, lambda callbacks: head.fit(
        ftr, ytr, epochs=epochs * 2, batch_size=16, verbose=verbose, callbacks=callbacks).history,
        lambda: _accuracy(head, fte, yte))
    # 3. Fine-tune: head on the frozen base, then the whole base unfrozen at a lower rate, each
    #    earlier group 0.3 times slower (discriminative learning rates).
    keras.utils.set_random_seed(seed)
    model = transfer.attach_head(transfer.load_backbone(backbone_name, weights=weights, input_shape=shape), 5,
                                 dropout=0.3, **HEAD)
    first_group = next(iter(transfer.layer_groups(model)))
    result = None

    def fine_tune(callbacks):
        nonlocal result
        result = transfer.fine_tune(model, (xtr, ytr), None, RECIPE, epochs=(epochs, epochs),
                                    unfreeze_from=first_group, batch_size=16, verbose=verbose, jit_compile=JIT,
                                    callbacks=callbacks)
        return result.history

    runs.train(METHODS[2], seed, epochs * 2, fine_tune, lambda: _accuracy(model, xte, yte))
    scores = {r.method: r.accuracy for r in runs.done[-3:]}
    return scores, h_scratch, result, model, len(yte)


def run(out="transfer_demo", quick=False, seeds=SEEDS, shots=SHOTS, backbone=BACKBONE, verbose=0, watch=None,
        on_run=None):
    """Run the whole demo; return a dict of the figures, the training runs, file paths and seconds taken.

    Args:
        out: folder for the figures, the checkpoints, the model and the sample images.
        quick: fewer epochs (for tests).
        seeds: one few-shot split and initialisation per seed.
        shots: labelled training images per class of 5-9.
        backbone: a zoo model accepting 20x20x1 input.
        verbose: Keras's ``fit`` verbosity (2: one line per epoch).
        watch: optional ``f(method, seed, max_epochs) -> [keras callbacks]``
            added to each training (the command line's progress bar).
        on_run: optional ``f(TrainingRun)`` called as each training ends.

    Example:
        It trains for a minute, so the doctests skip it (tests/test_transfer_cli.py runs it):

        >>> report = run("/tmp/demo", quick=True, on_run=print)   # doctest: +SKIP
        pre-training on 0-4      seed 0    5 epochs  0-4 acc ...
        >>> report["mean"]["fine-tuned (2 phases)"] > report["mean"]["from scratch"]   # doctest: +SKIP
        True
    """
    start = time.perf_counter()
    os.makedirs(out, exist_ok=True)
    runs = _Runs(watch, on_run)
    x, y = digits.load_canvases()
    pre_epochs, epochs = EPOCHS_QUICK if quick else EPOCHS
    weights, pre_hist = pretrain(x, y, out, backbone, pre_epochs, runs, verbose)
    per_seed = []
    for seed in seeds:
        scores, h_scratch, result, model, n_test = one_seed(x, y, weights, backbone, shots, seed, epochs, out,
                                                            runs, verbose)
        per_seed.append(scores)
    mean = {m: float(np.mean([s[m] for s in per_seed])) for m in METHODS}
    std = {m: float(np.std([s[m] for s in per_seed])) for m in METHODS}
    report = {"per_seed": per_seed, "mean": mean, "std": std, "seeds": list(seeds), "shots": shots,
              "n_test": n_test, "pretrain_accuracy": runs.done[0].accuracy, "backbone": backbone,
              "runs": [dataclasses.asdict(r) for r in runs.done]}
    report["paths"] = _write_files(out, report, x, y, pre_hist, h_scratch, result, model)
    report["seconds"] = time.perf_counter() - start
    return report


def _write_files(out, report, x, y, pre_hist, h_scratch, result, model):
    """The figures, the fine-tuned model and sample images; returns {what: path}."""
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
    plot_history(result.history, phase_boundaries=result.phase_boundaries, path=paths["fine-tune curves"],
                 title=f"fine-tuning on digits 5-9, seed {seed} (dashed: backbone unfrozen)")
    paths["model"] = transfer.save_model(model, os.path.join(out, "digits5-9.keras"),
                                         class_names=[str(c) for c in range(5, 10)])
    paths["samples"] = _write_samples(x, y, os.path.join(out, "samples"))
    plt.close("all")
    return paths


def plot_results(report, path):
    """Test accuracy per method: a dot per seed, a bar at the mean, chance dotted; saved to ``path``."""
    import matplotlib.pyplot as plt  # pyplot (and a backend) only when figures are drawn

    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for i, method in enumerate(METHODS):
        values = [s[method] for s in report["per_seed"]]
        ax.scatter(np.full(len(values), i) + np.linspace(-0.08, 0.08, len(values)), values, s=40, c="C0", zorder=3,
                   label="one seed" if i == 0 else None)
        ax.hlines(report["mean"][method], i - 0.25, i + 0.25, colors="k", label="mean" if i == 0 else None)
    ax.axhline(0.2, ls=":", c="grey", label="chance (5 classes)")
    ax.set(xticks=range(len(METHODS)), xticklabels=METHODS, ylim=(0, 1), ylabel="test accuracy",
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
