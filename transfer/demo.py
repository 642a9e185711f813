"""The offline demo: learn digits 0-4, transfer to 5-9 from a few labelled examples per class.

Real data, made harder the same way for every method: scikit-learn's 1,797
handwritten 8x8 digits, each upsampled to 12x12 and pasted at a random place
on a blank 20x20 canvas (:mod:`transfer.demo_data`; the place is fixed per
image, so every method sees the same canvases). ResNet-20 is pre-trained on
the 0-4 images (each training digit also at one more place) and so learns
stroke detectors that work anywhere on the canvas; a network that sees a
handful of 5-9 images cannot learn that. Three ways to learn 5-9 from
``shots`` labelled images per class, compared on every other 5-9 image: the
same network trained from scratch, a head trained on cached average-pooled
features of the frozen pretrained backbone, and the two-phase fine-tune. All
three get the same epoch budget and early stopping on the same validation
images. The scratch network's BatchNorm statistics are recomputed before each
validation (:class:`PreciseBatchNorm`) so that it is not judged on stale
moving averages. XLA is off: on CPU it makes these small convolutions train
slower. ``run`` returns the figures; the command line prints them.
"""

import os
import time

import keras
import numpy as np

import transfer

from transfer import demo_data
from transfer.freezing import all_layers

CANVAS, DIGIT = demo_data.CANVAS, demo_data.DIGIT
BACKBONE = "resnet20"
SHOTS = 3
COPIES = 2  # pre-training sees each 0-4 training digit at this many random places
JIT = False  # jit_compile for every model here (CPU: XLA convolutions train about 2x slower)
# One hidden layer of 64 on the pooled feature map, for every method.
HEAD = dict(hidden=(64,), pooling="avg")


class PreciseBatchNorm(keras.callbacks.Callback):
    """Set every BatchNorm layer's moving statistics to those of ``images`` before each validation.

    With a few dozen images an epoch is one or two steps, far too few for the
    moving averages (momentum 0.99) to catch up with weights that change fast:
    a network trained from scratch scores well on its batches and near chance
    in inference mode. Recomputing the statistics over the training images
    ("precise BN") gives inference mode the right ones, so the scratch
    baseline is judged on what it learned.
    """

    def __init__(self, images):
        super().__init__()
        self.images = images

    def on_test_begin(self, logs=None):
        norms = [layer for layer in all_layers(self.model) if isinstance(layer, keras.layers.BatchNormalization)]
        momenta = [layer.momentum for layer in norms]
        for layer in norms:
            layer.momentum = 0.0  # the moving statistics become this one batch's: all the images
        self.model(self.images, training=True)
        for layer, momentum in zip(norms, momenta):
            layer.momentum = momentum


def digits(size=None):
    """``(images, labels)``: all 1,797 digits, each at its random place on a blank canvas (0-255 pixels).

    ``size``: instead, the plain digits upsampled to (size, size), centred as scikit-learn has them.
    """
    if size:
        small, y = demo_data.small_digits(size)
        return small[..., None], y
    return demo_data.canvas_digits(CANVAS, DIGIT, seed=0)


def few_shot_split(x, y, classes, shots, seed):
    """``shots`` training and ``shots`` validation images per class; the rest of ``classes`` is the test set."""
    rng = np.random.default_rng(seed)
    tr, va, te = [], [], []
    for c in classes:
        idx = rng.permutation(np.flatnonzero(y == c))
        tr += list(idx[:shots])
        va += list(idx[shots:2 * shots])
        te += list(idx[2 * shots:])
    relabel = lambda i: (x[i], (y[i] - min(classes)).astype("int32"))  # noqa: E731  (5-9 -> 0-4)
    return relabel(np.array(tr)), relabel(np.array(va)), relabel(np.array(te))


def pretrain(x, y, out, backbone_name, epochs, log):
    """Train ``backbone_name`` + a head on digits 0-4; save the backbone's weights; return (path, accuracy, history)."""
    keras.utils.set_random_seed(0)
    mask = y < 5
    xs, ys = x[mask], y[mask]
    n_val = len(xs) // 5
    small, _ = demo_data.small_digits(DIGIT)  # the training digits again, each at COPIES - 1 new places
    xtrain = np.concatenate([xs[n_val:]] + [demo_data.place(small[mask][n_val:], CANVAS, seed=1 + k)
                                             for k in range(COPIES - 1)])
    ytrain = np.concatenate([ys[n_val:]] * COPIES)
    base = transfer.load_backbone(backbone_name, weights=None, input_shape=x.shape[1:])
    model = transfer.attach_head(base, 5, **HEAD)
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"],
                  jit_compile=JIT)
    hist = model.fit(xtrain, ytrain, validation_data=(xs[:n_val], ys[:n_val]), epochs=epochs, batch_size=32,
                     verbose=2 if log else 0, callbacks=[PreciseBatchNorm(xs[n_val:])])
    path = os.path.join(out, f"{backbone_name}_digits0-4.weights.h5")
    transfer.atomic_save(base, path, weights_only=True)
    return path, hist.history["val_accuracy"][-1], hist.history


def _accuracy(model, x, y):
    return float(np.mean(np.argmax(model.predict(x, verbose=0, batch_size=256), axis=1) == y))


def one_seed(x, y, weights, backbone_name, shots, seed, epochs, out, log):
    """Scratch, frozen features and fine-tune accuracies for one seed; plus the histories."""
    (xtr, ytr), (xva, yva), (xte, yte) = few_shot_split(x, y, range(5, 10), shots, seed)
    shape = x.shape[1:]
    verbose = 2 if log else 0
    # 1. From scratch: the same network, random weights, everything trainable.
    keras.utils.set_random_seed(seed)
    scratch = transfer.attach_head(transfer.load_backbone(backbone_name, weights=None, input_shape=shape), 5,
                                   dropout=0.3, **HEAD)
    scratch.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"],
                    jit_compile=JIT)
    h_scratch = scratch.fit(xtr, ytr, validation_data=(xva, yva), epochs=epochs * 2, batch_size=16,
                            verbose=verbose, callbacks=[PreciseBatchNorm(xtr), keras.callbacks.EarlyStopping(
                                patience=15, restore_best_weights=True)])
    # 2. Frozen features: run the pretrained base once (cached), train a small head on the vectors.
    keras.utils.set_random_seed(seed)
    base = transfer.load_backbone(backbone_name, weights=weights, input_shape=shape)
    cache = os.path.join(out, "feature_cache")
    ftr, fva, fte = (transfer.extract_features(base, a, pooling=HEAD["pooling"], cache_dir=cache) for a in (xtr, xva, xte))
    head = transfer.attach_head(ftr.shape[1:], 5, dropout=0.3, hidden=HEAD["hidden"])
    head.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"],
                 jit_compile=JIT)
    head.fit(ftr, ytr, validation_data=(fva, yva), epochs=epochs * 2, batch_size=16, verbose=0,
             callbacks=[keras.callbacks.EarlyStopping(patience=15, restore_best_weights=True)])
    frozen_acc = float(np.mean(np.argmax(head.predict(fte, verbose=0), axis=1) == yte))
    # 3. Fine-tune: head on the frozen base, then the whole base unfrozen at a lower rate, each
    #    earlier group 0.3 times slower (discriminative learning rates).
    keras.utils.set_random_seed(seed)
    model = transfer.attach_head(transfer.load_backbone(backbone_name, weights=weights, input_shape=shape), 5,
                                 dropout=0.3, **HEAD)
    first_group = next(iter(transfer.layer_groups(model)))
    result = transfer.fine_tune(
        model, (xtr, ytr), (xva, yva), epochs=(epochs, epochs), learning_rate=(3e-3, 3e-4),
        lr_decay=0.3, unfreeze_from=first_group, patience=10, batch_size=16, verbose=verbose, jit_compile=JIT,
        checkpoint_dir=os.path.join(out, f"checkpoint_seed{seed}"),
        on_phase=(lambda p, d: log(f"  phase {p}: {d}")) if log else None)
    scores = {"from scratch": _accuracy(scratch, xte, yte), "frozen features + head": frozen_acc,
              "fine-tuned (2 phases)": _accuracy(model, xte, yte)}
    return scores, h_scratch.history, result, model, len(yte)


def run(out="transfer_demo", quick=False, seeds=(0, 1), shots=SHOTS, backbone=BACKBONE, log=print):
    """Run the whole demo; return a dict of the figures, file paths and seconds taken.

    Example:
        >>> report = run("/tmp/demo", quick=True, log=None)
        >>> report["mean"]["fine-tuned (2 phases)"] > report["mean"]["from scratch"]
        True
    """
    start = time.perf_counter()
    os.makedirs(out, exist_ok=True)
    def say(message):  # progress, stamped with the seconds since the start
        if log:
            log(f"[{time.perf_counter() - start:5.0f} s] {message}")

    x, y = digits()
    pre_epochs, epochs = (5, 15) if quick else (8, 30)
    n_pre = int(np.sum(y < 5))
    say(f"1/3 pre-training {backbone} on digits 0-4 ({n_pre - n_pre // 5} digits, each at {COPIES} places; "
        f"{n_pre // 5} held out; {pre_epochs} epochs)")
    weights, pre_acc, pre_hist = pretrain(x, y, out, backbone, pre_epochs, log)
    say(f"    validation accuracy on 0-4: {pre_acc:.3f}; backbone weights: {weights}")
    per_seed, paths = [], {}
    for seed in seeds:
        say(f"2/3 transferring to digits 5-9 with {shots} labelled images per class (seed {seed})")
        scores, h_scratch, result, model, n_test = one_seed(x, y, weights, backbone, shots, seed, epochs, out, log)
        per_seed.append(scores)
    say(f"3/3 writing curves and the model")
    paths["pretrain curves"] = os.path.join(out, "pretrain_curves.png")
    transfer.FineTuneHistory(pre_hist, [len(pre_hist["loss"])]).plot(
        paths["pretrain curves"], title=f"{backbone}: pre-training on digits 0-4")
    paths["scratch curves"] = os.path.join(out, "scratch_curves.png")
    transfer.FineTuneHistory(h_scratch, [len(h_scratch["loss"])]).plot(
        paths["scratch curves"], title=f"from scratch on digits 5-9, {shots} per class")
    paths["fine-tune curves"] = os.path.join(out, "finetune_curves.png")
    result.plot(paths["fine-tune curves"], title="fine-tuning on digits 5-9 (dashed: backbone unfrozen)")
    paths["model"] = transfer.save_model(model, os.path.join(out, "digits5-9.keras"),
                                         class_names=[str(c) for c in range(5, 10)])
    paths["samples"] = _write_samples(x, y, os.path.join(out, "samples"))
    methods = list(per_seed[0])
    mean = {m: float(np.mean([s[m] for s in per_seed])) for m in methods}
    std = {m: float(np.std([s[m] for s in per_seed])) for m in methods}
    plt_close()
    return {"per_seed": per_seed, "mean": mean, "std": std, "seeds": list(seeds), "shots": shots,
            "n_test": n_test, "pretrain_accuracy": pre_acc, "paths": paths, "backbone": backbone,
            "seconds": time.perf_counter() - start}


def plt_close():
    import matplotlib.pyplot as plt

    plt.close("all")


def _write_samples(x, y, folder):
    """A few held-out 5-9 digits as PNG files, to try ``python -m transfer predict`` on."""
    from PIL import Image

    os.makedirs(folder, exist_ok=True)
    for c in range(5, 10):
        i = int(np.flatnonzero(y == c)[-1])  # the last of each class: in the test split for small shots
        Image.fromarray(x[i, :, :, 0].astype("uint8"), mode="L").save(os.path.join(folder, f"digit_{c}.png"))
    return folder


def table(report):
    """The comparison as text: method, mean test accuracy ± std over seeds, per-seed values."""
    seeds = report["seeds"]
    lines = [f"handwritten digits (8x8 upsampled to {DIGIT}x{DIGIT}) at random places on a blank "
             f"{CANVAS}x{CANVAS} canvas; learned 0-4, transfer to 5-9",
             f"held-out digits 5-9 ({report['n_test']} test images), {report['shots']} labelled per class, "
             f"backbone {report['backbone']}, seeds {seeds}",
             f"{'method':<26}{'accuracy':>10}{'± sd':>8}   per seed"]
    for m, mean in report["mean"].items():
        per = ", ".join(f"{s[m]:.3f}" for s in report["per_seed"])
        lines.append(f"{m:<26}{mean:>10.3f}{report['std'][m]:>8.3f}   {per}")
    return "\n".join(lines)
