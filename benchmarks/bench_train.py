"""Training images/second side by side: zoo vs keras.applications ResNet-50, float32 vs mixed_bfloat16,
XLA on vs off (ResNet-20, ResNet-50), and the share of a ResNet-20 step spent in datasets.Augment.

Every figure is one backend's training throughput (``train_on_batch`` with
SGD, sparse categorical cross-entropy, random pixels and labels, after two
warm-up steps that include compilation), measured in one process per backend:
TensorFlow here, JAX in a subprocess (the backend is fixed when Keras is
imported). The zoo/keras.applications ratio is the median over ``--repeats``
alternating timing windows of the two compiled models. Throughput of the
XLA and precision rows is from one window each; the Augment share (1 - images/s
with it / without it) is the median over alternating windows too. ``xla=auto`` is what Keras resolves
``jit_compile="auto"`` to: off on a CPU-only TensorFlow, always on for JAX.

    python benchmarks/bench_train.py [--size 64] [--batch 8] [--steps 6] [--repeats 5] [--backends tensorflow jax]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _compiled(build, jit_compile="auto", policy="float32"):
    """``build()`` under ``policy`` (restored after), compiled and warmed up: (model, step)."""
    import keras

    keras.mixed_precision.set_dtype_policy(policy)
    try:
        model = build()
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    model.compile(keras.optimizers.SGD(0.01), "sparse_categorical_crossentropy", jit_compile=jit_compile)
    return model


def _window(model, x, y, steps):
    """Images/second over ``steps`` train steps (the model already warmed up)."""
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return steps * len(x) / (time.perf_counter() - start)


def _warm(model, x, y):
    for _ in range(2):  # the first call compiles
        model.train_on_batch(x, y)
    return model


def measure(size, batch, steps, repeats):
    """This backend's figures as a dict."""
    import keras
    import numpy as np

    import datasets
    import transfer
    import zoo

    rng = np.random.default_rng(0)
    x50 = rng.uniform(0, 255, (batch, size, size, 3)).astype("float32")
    y50 = rng.integers(0, 10, batch)
    x20 = rng.uniform(0, 255, (32, 32, 32, 3)).astype("float32")
    y20 = rng.integers(0, 10, 32)
    shape = (size, size, 3)
    out = {"backend": keras.backend.backend(), "keras": keras.__version__}

    def resnet50(policy="float32", jit="auto"):
        return _warm(_compiled(lambda: zoo.resnet50(weights=None, input_shape=shape, classes=10), jit, policy),
                     x50, y50)

    # 1. zoo vs keras.applications, alternating windows.
    ours = resnet50()
    theirs = _warm(_compiled(lambda: keras.applications.ResNet50(weights=None, input_shape=shape, classes=10)),
                   x50, y50)
    out["xla_auto"] = bool(ours.jit_compile)
    pairs = [(_window(ours, x50, y50, steps), _window(theirs, x50, y50, steps)) for _ in range(repeats)]
    out["zoo_ips"] = statistics.median(p[0] for p in pairs)
    out["keras_ips"] = statistics.median(p[1] for p in pairs)
    out["ratios"] = [p[0] / p[1] for p in pairs]
    del theirs
    # 2. mixed_bfloat16 against float32 (zoo ResNet-50).
    out["bf16_ips"] = _window(resnet50("mixed_bfloat16"), x50, y50, steps)
    out["f32_ips"] = _window(ours, x50, y50, steps)
    # 3. XLA on / off.
    out["xla"] = {}
    r20 = lambda aug=None: transfer.attach_head(  # noqa: E731
        transfer.load_backbone("resnet20", weights=None, input_shape=(32, 32, 3)), 10, augment=aug)
    for name, build, x, y, n in (("resnet20", r20, x20, y20, steps * 4), ("resnet50", None, x50, y50, steps)):
        for jit in (True, False):
            model = resnet50(jit=jit) if build is None else _warm(_compiled(build, jit), x, y)
            out["xla"][f"{name} {'on' if jit else 'off'}"] = _window(model, x, y, n)
    # 4. Augment's share of a ResNet-20 step (xla=auto).
    plain = _warm(_compiled(r20), x20, y20)
    augmented = _warm(_compiled(lambda: r20(datasets.Augment(rotation_range=15, width_shift_range=0.1,
                                                                  zoom_range=0.1, horizontal_flip=True))), x20, y20)
    pairs = [(_window(plain, x20, y20, steps * 4), _window(augmented, x20, y20, steps * 4)) for _ in range(repeats)]
    out["augment"] = {"without": statistics.median(p[0] for p in pairs), "with": statistics.median(p[1] for p in pairs),
                      "share": statistics.median(1 - p[1] / p[0] for p in pairs)}
    return out


def _row(r):
    ratio = statistics.median(r["ratios"])
    lines = [f"| {r['backend']} | zoo.resnet50 vs keras.applications.ResNet50, float32 (xla={'on' if r['xla_auto'] else 'off'}) "
             f"| {r['zoo_ips']:.1f} vs {r['keras_ips']:.1f} | ratio {ratio:.3f} (median; "
             f"{', '.join(f'{v:.3f}' for v in r['ratios'])}) |",
             f"| {r['backend']} | zoo.resnet50 mixed_bfloat16 vs float32 | {r['bf16_ips']:.1f} vs {r['f32_ips']:.1f} "
             f"| {r['bf16_ips'] / r['f32_ips']:.2f}x |"]
    for name in ("resnet20", "resnet50"):
        on, off = r["xla"][f"{name} on"], r["xla"][f"{name} off"]
        lines.append(f"| {r['backend']} | {name} XLA on vs off | {on:.1f} vs {off:.1f} | {on / off:.2f}x |")
    a = r["augment"]
    lines.append(f"| {r['backend']} | resnet20 32x32 b32 with vs without Augment | {a['with']:.1f} vs "
                 f"{a['without']:.1f} | Augment {100 * a['share']:.0f}% of the step |")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64, help="ResNet-50 input size")
    parser.add_argument("--batch", type=int, default=8, help="ResNet-50 batch (ResNet-20: 32 at 32x32)")
    parser.add_argument("--steps", type=int, default=6, help="train steps per timing window (ResNet-20: 4x)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--backends", nargs="+", default=["tensorflow", "jax"])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.size, args.batch, args.steps, args.repeats)))
        return
    load = [open("/proc/loadavg").read().split()[0]]
    results = []
    for backend in args.backends:  # each in its own process: the backend is fixed at import
        env = {**os.environ, "KERAS_BACKEND": backend, "JAX_PLATFORMS": "cpu",
               "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
        cmd = [sys.executable, __file__, "--child", "--size", str(args.size), "--batch", str(args.batch),
               "--steps", str(args.steps), "--repeats", str(args.repeats)]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        load.append(open("/proc/loadavg").read().split()[0])
    print(f"CPU only ({os.cpu_count()} cores), no GPU; keras {results[0]['keras']}; ResNet-50 at "
          f"{args.size}x{args.size}, batch {args.batch}; training images/s; load average {' -> '.join(load)}")
    print("| backend | measurement | images/s | ratio |\n| --- | --- | ---: | --- |")
    for r in results:
        print("\n".join(_row(r)))


if __name__ == "__main__":
    main()
