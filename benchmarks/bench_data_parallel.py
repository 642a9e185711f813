"""Training images/s on 1 vs 2 devices under transfer.data_parallel, side by side in one process.

Runs itself under Keras on JAX with the CPU split into 2 host devices
(``XLA_FLAGS=--xla_force_host_platform_device_count=2``), so both settings
share one machine and one run. It is informative only on a CPU (both
"devices" share the same cores); on a machine with several GPUs set
``--devices`` to their count and the same script measures the real scale-out.
Each setting trains a ResNet-20 head model (all layers trainable) on random
images for ``--steps`` steps per repeat; the first repeat (compilation) is dropped.

    python benchmarks/bench_data_parallel.py [--devices 2] [--batch 128] [--steps 20] [--repeats 3]
"""

import argparse
import os
import statistics
import sys
import time


def measure(devices, batch, steps, repeats, size):
    import keras
    import numpy as np

    import transfer

    x = np.random.default_rng(0).uniform(0, 255, (batch * steps, size, size, 3)).astype("float32")
    y = (np.arange(len(x)) % 10).astype("int32")
    with transfer.data_parallel(devices=keras.distribution.list_devices()[:devices]):
        model = transfer.attach_head(transfer.load_backbone("resnet20", weights=None, input_shape=(size, size, 3)), 10)
        model.compile("sgd", "sparse_categorical_crossentropy")
        rates = []
        for _ in range(repeats + 1):
            start = time.perf_counter()
            model.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0)
            rates.append(len(x) / (time.perf_counter() - start))
    return statistics.median(rates[1:])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=2)
    parser.add_argument("--batch", type=int, default=128, help="global batch size")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", type=int, default=32)
    args = parser.parse_args()
    if os.environ.get("KERAS_BACKEND") != "jax":  # re-run under JAX with the CPU split into devices
        env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3",
               "XLA_FLAGS": f"--xla_force_host_platform_device_count={args.devices}"}
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    import jax
    import keras

    one = measure(1, args.batch, args.steps, args.repeats, args.size)
    many = measure(args.devices, args.batch, args.steps, args.repeats, args.size)
    print(f"JAX {jax.__version__}, Keras {keras.__version__}, devices: {keras.distribution.list_devices()}")
    print(f"load average: {open('/proc/loadavg').read().split()[:3]}")
    print(f"| devices | images/s | ratio |\n| --- | ---: | ---: |")
    print(f"| 1 | {one:,.0f} | 1.00 |\n| {args.devices} | {many:,.0f} | {many / one:.2f} |")


if __name__ == "__main__":
    main()
