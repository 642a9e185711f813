"""Fine-tuning recipes compared: accuracy mean ± sd over seeds, on real ImageNet weights or the demo's task.

``--suite imagenet`` (benchmarks/bench_imagenet_recipes.py): ImageNet
EfficientNet-Lite0 (``transfer.sources.lite0.efficientnet_lite0_folder``)
fine-tuned on small real tasks (benchmarks/real_tasks.py) by a head on frozen
features, the Keras guide's recipe, fastai's ``fine_tune`` rebuilt from our parts
and our default ``Recipe``.

``--suite demo`` (the default): the task is ``python -m transfer demo``'s (transfer/demo.py, whose functions
this script reuses): ResNet-20 pre-trained on handwritten digits 0-4 placed
at random on a 20x20 canvas, then 5-9 learned from ``--shots`` labelled
images per class, tested on every other 5-9 image. Recipes, each with
``--epochs`` per phase, batch 16, and the demo's early stopping
(``demo.RECIPE.patience``; None: none, every recipe judged at its last epoch):

- ``constant``: the demo's fine_tune (rates 3e-3 then 3e-4, the whole base
  unfrozen from its first group, ``lr_decay=0.3``), constant rate per phase;
- ``cosine``: the same with ``schedule="cosine"`` (10% warmup, cosine decay);
- ``keras guide``: the Keras transfer-learning guide's recipe: base frozen,
  head trained with Adam (1e-3); then the WHOLE base unfrozen
  (``base.trainable = True``, BatchNorm included), recompiled, Adam 1e-5.

    python benchmarks/bench_recipes.py [--seeds 0 1 2] [--epochs 15] [--pre-epochs 5] [--shots 3]
    python benchmarks/bench_recipes.py --suite imagenet [--quick] [--tasks faces textures digits] [--size 64]
"""

import argparse
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import transfer  # noqa: E402
from datasets import digits  # noqa: E402
from transfer import demo  # noqa: E402

PATIENCE, BATCH = demo.RECIPE.patience, 16


def _model(weights, shape, seed):
    keras.utils.set_random_seed(seed)
    base = transfer.load_backbone(demo.BACKBONE, weights=weights, input_shape=shape)
    return transfer.attach_head(base, 5, dropout=0.3, **demo.HEAD)


def fine_tune_recipe(schedule):
    """The demo's two-phase fine_tune with ``schedule``."""
    def run(model, train, val, epochs):
        first_group = next(iter(transfer.layer_groups(model)))
        transfer.fine_tune(model, train, val, demo.RECIPE, epochs=epochs, unfreeze_from=first_group,
                           schedule=schedule, batch_size=BATCH, verbose=0, jit_compile=demo.JIT)
    return run


def keras_guide(model, train, val, epochs):
    """Freeze the base, train the head; unfreeze the whole base, recompile, Adam 1e-5 (the Keras guide)."""
    base = transfer.find_backbone(model)[0]
    for trainable, rate in ((False, 1e-3), (True, 1e-5)):
        base.trainable = trainable
        model.compile(keras.optimizers.Adam(rate), "sparse_categorical_crossentropy", metrics=["accuracy"],
                      jit_compile=demo.JIT)
        stop = [] if PATIENCE is None else [keras.callbacks.EarlyStopping(patience=PATIENCE,
                                                                          restore_best_weights=True)]
        model.fit(*train, validation_data=val, epochs=epochs, batch_size=BATCH, verbose=0, callbacks=stop)


RECIPES = {"constant (today)": fine_tune_recipe("constant"), "warmup + cosine": fine_tune_recipe("cosine"),
           "keras guide": keras_guide}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=("demo", "imagenet"), default="demo")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=None, help="epochs per phase, every recipe (demo: 15, "
                                                                 "imagenet: 5, the default Recipe's)")
    parser.add_argument("--pre-epochs", type=int, default=5)
    parser.add_argument("--shots", type=int, default=demo.SHOTS)
    parser.add_argument("--quick", action="store_true", help="imagenet: a smoke run (one seed, one task, "
                                                              "1 epoch per phase)")
    parser.add_argument("--tasks", nargs="+", default=None, help="imagenet: tasks of benchmarks/real_tasks.py")
    parser.add_argument("--size", type=int, default=64, help="imagenet: image side in pixels")
    parser.add_argument("--methods", nargs="+", default=None,
                        help="imagenet: methods besides frozen features (default: the five recipes); names of "
                             "bench_imagenet_recipes.METHODS, e.g. 'default + EMA 0.99'")
    args = parser.parse_args()
    if args.suite == "imagenet":
        from bench_imagenet_recipes import run  # noqa: the real-weights suite (keras-hub, scikit-image)

        return run(args)
    args.epochs = args.epochs or 15
    out = tempfile.mkdtemp(prefix="bench_recipes_")
    x, y = digits.load_canvases()
    weights, _, pre_run = demo.pretrain(x, y, out, demo.BACKBONE, args.pre_epochs)
    pre_acc = pre_run.accuracy  # on the held-out 0-4 images
    scores = {name: [] for name in RECIPES}
    for seed in args.seeds:
        train, val, (xte, yte) = digits.few_shot_split(x, y, range(5, 10), args.shots, seed)
        for name, recipe in RECIPES.items():
            model = _model(weights, x.shape[1:], seed)
            recipe(model, train, val, args.epochs)
            predicted = np.argmax(model.predict(xte, verbose=0, batch_size=256), axis=1)
            scores[name].append(float(np.mean(predicted == yte)))
    print(f"{demo.BACKBONE} pre-trained on digits 0-4 ({args.pre_epochs} epochs, held-out 0-4 accuracy {pre_acc:.3f}); "
          f"5-9 from {args.shots} images per class, {len(yte)} test images; {args.epochs} epochs per phase; "
          f"seeds {args.seeds}; load average {open('/proc/loadavg').read().split()[0]}")
    print(f"| recipe | accuracy (mean ± sd) | per seed |\n| --- | ---: | --- |")
    for name, values in scores.items():
        print(f"| {name} | {np.mean(values):.3f} ± {np.std(values):.3f} | "
              f"{', '.join(f'{v:.3f}' for v in values)} |")


if __name__ == "__main__":
    main()
