"""The offline demo: learn digits 0-4, transfer to 5-9 from a few labelled examples per class.

Real data, made harder the same way for every method: scikit-learn's 1,797
handwritten 8x8 digits, upsampled to 12x12 and pasted at a random place on a
blank 20x20 canvas (:func:`datasets.digits.load_canvases`, the same canvases
for every method). ResNet-20 pre-trained on the 0-4 images (each training
digit also at one more place, the rate decayed to zero along a cosine so the
weights settle) learns stroke detectors that work anywhere on the canvas; a
network that sees a handful of 5-9 images cannot. Those pre-trained weights
ship with the package (:mod:`transfer.demo_weights`), so every machine starts
from the same network; ``pretrain_here=True`` trains them on this one.

Three ways to learn 5-9 from ``shots`` labelled images per class (5 by
default): from scratch, a head on cached average-pooled features of the
frozen backbone, and the two-phase fine-tune. Each trains for a fixed
number of epochs and is judged at its last epoch on every 5-9 image it did
not train on, the figure its run's line prints and the table averages over
seeds (0, 1, 2 by default). No epoch is selected or validated: with a
handful of validation images early stopping turned tiny numerical
differences between machines into different conclusions. The scratch network's BatchNorm statistics are recomputed from
its training images before it is scored (:func:`precise_batchnorm`). XLA is
off: on CPU it makes these small convolutions train slower.

The trainings run in two worker processes where the machine has two cores or
more (``workers``, :mod:`transfer.demo_workers`): the from-scratch runs go
beside the pre-training, where it runs here, and two seeds' fine-tunes side by
side. Each training sets its own seeds, so the figures do not depend on where
or in which order it runs.
"""

import dataclasses
import os
import shutil
import time

import keras
import numpy as np

import transfer
from datasets import digits
from transfer import demo_weights
from transfer.demo_workers import completed, executor
from transfer.demo_report import plot_results, table, write_files  # noqa: F401  (demo.table: the report's parts)
from zoo.files import atomic_path
from zoo.graph import all_layers

BACKBONE = "resnet20"
SHOTS = 5
SEEDS = (0, 1, 2)
COPIES = 2  # pre-training sees each 0-4 training digit at this many random places
PRETRAIN_BATCH = 64
EPOCHS = (6, 15)  # pre-training epochs, epochs per fine-tuning phase (scratch and frozen features: twice that)
EPOCHS_QUICK = (3, 15)  # one seed; fewer epochs left the frozen-features head undertrained
JIT = False  # jit_compile for every model here (CPU: XLA convolutions train about 2x slower)
# One hidden layer of 64 on the pooled feature map, for every method.
HEAD = dict(hidden=(64,), pooling="avg")
SHIPPED = "shipped 0-4 network"  # the line of the pre-training when the shipped weights are used
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


def _timed(method, seed, fit, score, on="test"):
    """``fit() -> history dict``, then ``score() -> accuracy``; returns ``(TrainingRun, history)``."""
    start = time.perf_counter()
    history = fit()
    return TrainingRun(method, seed, len(history["loss"]), score(), time.perf_counter() - start, on), history


def _compiled(model, learning_rate=1e-3):
    model.compile(keras.optimizers.Adam(learning_rate), "sparse_categorical_crossentropy", metrics=["accuracy"],
                  jit_compile=JIT)
    return model


def _accuracy(model, x, y):
    return float(np.mean(np.argmax(model.predict(x, verbose=0, batch_size=512), axis=1) == y))


def pretrain(x, y, out, backbone_name, epochs, verbose=0):
    """Train ``backbone_name`` + a head on digits 0-4; save the backbone's weights; return (path, history, run).

    The learning rate decays to zero along a cosine, so the weights settle
    instead of stopping mid-stride: the features the other methods start
    from then differ less between machines whose arithmetic differs. ``run``
    is the :class:`TrainingRun`, scored on the held-out 0-4 images.
    """
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

    record, history = _timed("pre-training on 0-4", 0, lambda: model.fit(
        xtrain, ytrain, epochs=epochs, batch_size=PRETRAIN_BATCH, verbose=verbose).history, score, on="0-4")
    path = os.path.join(out, f"{backbone_name}_digits0-4.weights.h5")
    with atomic_path(path, ".weights.h5") as part:
        base.save_weights(part)
    return path, history, record


def _split(x, y, shots, seed):
    """The seed's few-shot training images and the test images: the split's validation images join the test set.

    Nothing is selected on validation images, so they serve best as more test images.
    """
    (xtr, ytr), (xva, yva), (xte, yte) = digits.few_shot_split(x, y, range(5, 10), shots, seed)
    return (xtr, ytr), (np.concatenate([xva, xte]), np.concatenate([yva, yte]))


def from_scratch(backbone_name, shots, seed, epochs, verbose=0):
    """The baseline: the same network, random weights, everything trainable; returns (run, history)."""
    x, y = digits.load_canvases()
    (xtr, ytr), (xte, yte) = _split(x, y, shots, seed)
    keras.utils.set_random_seed(seed)
    scratch = _compiled(transfer.attach_head(
        transfer.load_backbone(backbone_name, weights=None, input_shape=x.shape[1:]), 5, dropout=0.3, **HEAD))

    def score():
        precise_batchnorm(scratch, xtr)
        return _accuracy(scratch, xte, yte)

    return _timed(METHODS[0], seed, lambda: scratch.fit(
        xtr, ytr, epochs=epochs * 2, batch_size=16, verbose=verbose).history, score)


def from_pretrained(weights, backbone_name, shots, seed, epochs, out, verbose=0, model_path=None):
    """Frozen features + head, then the two-phase fine-tune, from the pre-trained ``weights``.

    Returns ``(runs, fine-tune history, phase boundaries, test images)``; the
    fine-tuned model is saved at ``model_path`` when one is given.
    """
    x, y = digits.load_canvases()
    (xtr, ytr), (xte, yte) = _split(x, y, shots, seed)
    shape = x.shape[1:]
    # Frozen features: run the pretrained base once (cached), train a small head on the vectors.
    keras.utils.set_random_seed(seed)
    base = transfer.load_backbone(backbone_name, weights=weights, input_shape=shape)
    cache = os.path.join(out, "feature_cache")
    ftr, fte = (transfer.extract_features(base, a, pooling=HEAD["pooling"], cache_dir=cache) for a in (xtr, xte))
    head = _compiled(transfer.head_on_features(ftr.shape[1:], 5, dropout=0.3, hidden=HEAD["hidden"]))
    frozen, _ = _timed(METHODS[1], seed, lambda: head.fit(
        ftr, ytr, epochs=epochs * 2, batch_size=16, verbose=verbose).history, lambda: _accuracy(head, fte, yte))
    # Fine-tune: head on the frozen base, then the whole base unfrozen at a lower rate, each
    # earlier group 0.3 times slower (discriminative learning rates).
    keras.utils.set_random_seed(seed)
    model = transfer.attach_head(transfer.load_backbone(backbone_name, weights=weights, input_shape=shape), 5,
                                 dropout=0.3, **HEAD)
    first_group = next(iter(transfer.layer_groups(model)))
    result = None

    def fine_tune():
        nonlocal result
        result = transfer.fine_tune(model, (xtr, ytr), None, RECIPE, epochs=(epochs, epochs),
                                    unfreeze_from=first_group, batch_size=16, verbose=verbose, jit_compile=JIT)
        return result.history

    tuned, _ = _timed(METHODS[2], seed, fine_tune, lambda: _accuracy(model, xte, yte))
    if model_path:
        transfer.save_model(model, model_path, class_names=[str(c) for c in range(5, 10)])
    return [frozen, tuned], result.history, result.phase_boundaries, len(yte)


def run(out="transfer_demo", quick=False, seeds=SEEDS, shots=SHOTS, backbone=BACKBONE, verbose=0, on_run=None,
        workers=None, pretrain_here=None):
    """Run the whole demo; return a dict of the figures, the training runs, file paths and seconds taken.

    Args:
        out: folder for the figures, the checkpoints, the model and the sample images.
        quick: fewer epochs of pre-training (for tests).
        seeds: one few-shot split and initialisation per seed.
        shots: labelled training images per class of 5-9.
        backbone: a zoo model accepting 20x20x1 input.
        verbose: Keras's ``fit`` verbosity (2: one line per epoch).
        on_run: optional ``f(TrainingRun)``, called for each training in a
            fixed order (pre-training, then per seed: scratch, frozen
            features, fine-tuned) as soon as it and those before it are done.
        workers: processes that train (fresh ones, in the environment of this
            one; Keras settings made in this process do not reach them);
            1: everything in this process. None: 2 where this process may
            use two cores or more, else 1.
        pretrain_here: True: pre-train on digits 0-4 here (a minute or more);
            False: start from the shipped weights (:mod:`transfer.demo_weights`,
            ResNet-20 only); None: the shipped weights where there are some
            for ``backbone``, else pre-train.

    Example:
        It trains for a minute, so the doctests skip it (tests/test_transfer_cli.py runs it):

        >>> report = run("/tmp/demo", quick=True, on_run=print)   # doctest: +SKIP
        shipped 0-4 network      seed 0    6 epochs  0-4 acc ...
        >>> report["mean"]["fine-tuned (2 phases)"] > report["mean"]["from scratch"]   # doctest: +SKIP
        True
    """
    start = time.perf_counter()
    os.makedirs(out, exist_ok=True)
    pre_epochs, epochs = EPOCHS_QUICK if quick else EPOCHS
    on_run = on_run or (lambda record: None)
    model_path = os.path.join(out, "digits5-9.keras")
    with executor(workers) as pool:
        pretraining = _pretrained(pool, pretrain_here, backbone, out, pre_epochs, verbose)
        # The scratch runs need no pre-trained weights: they go beside the pre-training, where it runs.
        scratch = [pool.submit(from_scratch, backbone, shots, seed, epochs, verbose) for seed in seeds]
        weights, pre_hist, pre_run = pretraining.result()
        on_run(pre_run)
        tuned = [pool.submit(from_pretrained, weights, backbone, shots, seed, epochs, out, verbose,
                             model_path if seed == seeds[-1] else None) for seed in seeds]
        done, per_seed = [pre_run], []
        for scratch_future, tuned_future in zip(scratch, tuned):
            scratch_run, h_scratch = scratch_future.result()
            pretrained_runs, ft_history, boundaries, n_test = tuned_future.result()
            for record in (scratch_run, *pretrained_runs):
                on_run(record)
                done.append(record)
            per_seed.append({r.method: r.accuracy for r in done[-3:]})
    mean = {m: float(np.mean([s[m] for s in per_seed])) for m in METHODS}
    std = {m: float(np.std([s[m] for s in per_seed])) for m in METHODS}
    report = {"per_seed": per_seed, "mean": mean, "std": std, "seeds": list(seeds), "shots": shots,
              "n_test": n_test, "pretrain_accuracy": pre_run.accuracy, "backbone": backbone,
              "pretrained": "shipped" if pre_run.method == SHIPPED else "here",
              "runs": [dataclasses.asdict(r) for r in done]}
    report["paths"] = write_files(out, report, pre_hist, h_scratch, (ft_history, boundaries), model_path)
    report["seconds"] = time.perf_counter() - start
    return report


def _pretrained(pool, pretrain_here, backbone, out, epochs, verbose=0):
    """A future of the 0-4 network as :func:`pretrain` returns it: ``(weights path, history, TrainingRun)``.

    The shipped weights, copied into ``out`` (unless ``pretrain_here``), or
    the pre-training submitted to ``pool`` (where ``pretrain_here`` or no
    weights are shipped for ``backbone``; ``pretrain_here=False`` then raises).
    """
    shipped = None if pretrain_here else demo_weights.shipped(backbone, (digits.CANVAS, digits.CANVAS, 1))
    if shipped is None:
        if pretrain_here is False:
            raise ValueError(f"No shipped 0-4 weights for backbone {backbone!r} (there are for {BACKBONE!r}): "
                             f"pass pretrain_here=True (transfer demo --pretrain)")
        return pool.submit(pretrain, *digits.load_canvases(), out, backbone, epochs, verbose)
    weights, record = shipped
    path = os.path.join(out, os.path.basename(weights))
    with atomic_path(path, ".weights.h5") as part:
        shutil.copyfile(weights, part)
    return completed((path, record["history"],
                      TrainingRun(SHIPPED, 0, record["epochs"], record["accuracy_0_4"], 0.0, on="0-4")))


def write_shipped_weights(folder=demo_weights.FOLDER, backbone=BACKBONE, epochs=EPOCHS[0]):
    """Pre-train ``backbone`` on digits 0-4 here; write the weights the demo ships and their record.

    Returns the record (:mod:`transfer.demo_weights` says what it holds).
    """
    weights, history, pre_run = pretrain(*digits.load_canvases(), folder, backbone, epochs)
    return demo_weights.write_record(weights, history, pre_run.accuracy, pre_run.seconds, backbone=backbone,
                                     input_shape=[digits.CANVAS, digits.CANVAS, 1], epochs=epochs, copies=COPIES,
                                     batch_size=PRETRAIN_BATCH)
