"""Serving: the same fine-tuned model as a .keras file, a SavedModel, ONNX, LiteRT and int8 LiteRT, side by side.

Each artifact is written by ``transfer.export`` (checked against Keras) and
run by its own runtime through ``transfer.load_model(...).predict``, the
path ``transfer predict`` takes. Per runtime: the single-image latency
(median of the calls) and batch-32 throughput, measured in interleaved
rounds so that the machine's load hits every runtime alike. The figures to
compare are the ratios to the .keras model's ``predict_on_batch`` (Keras's
compiled forward pass on one batch); ``predict`` (what ``predict_files``
calls) adds a data pipeline per call, and ``model(x)`` runs eagerly.

    python benchmarks/bench_serving.py [--model transfer_demo/digits5-9.keras] [--rounds 5] [--calls 30]
"""

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import transfer  # noqa: E402
from transfer.serving.export_checks import sample_images  # noqa: E402


BASELINE = "keras predict_on_batch"


def _median_seconds(fn, x, calls):
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _model(path):
    if path and os.path.exists(path):
        return transfer.load_model(path), path
    keras.utils.set_random_seed(0)  # no demo model: a ResNet-20 head, random weights (speed does not care)
    model = transfer.attach_head(transfer.load_backbone("resnet20", weights=None), 5)
    return model, "resnet20 head (random weights), 32x32x3"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="transfer_demo/digits5-9.keras")
    parser.add_argument("--calibration", default=None, help="images for int8 (default: the demo's samples)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=30, help="batch-1 calls per round (batch 32: a third)")
    args = parser.parse_args()

    model, described = _model(args.model)
    images = sample_images(None, model.input_shape, count=32)
    calibration = args.calibration or os.path.join(os.path.dirname(args.model), "samples")
    with tempfile.TemporaryDirectory() as folder:
        if not os.path.isdir(calibration):
            calibration = os.path.join(folder, "calibration")
            os.makedirs(calibration)
            from PIL import Image
            for i, image in enumerate(images):
                Image.fromarray(image.astype("uint8").squeeze()).save(os.path.join(calibration, f"{i}.png"))
        runners = {"keras predict": lambda x: model.predict(x, verbose=0),
                   "keras predict_on_batch": model.predict_on_batch,
                   "keras call (eager)": lambda x: model(x, training=False)}
        sizes, diffs = {}, {}
        for label, name, fmt, quantize in [("SavedModel (TensorFlow)", "sm", "tf_saved_model", None),
                                           ("ONNX (onnxruntime)", "m.onnx", "onnx", None),
                                           ("LiteRT", "m.tflite", "litert", None),
                                           ("LiteRT int8", "q.tflite", "litert", "int8")]:
            report = transfer.export(model, os.path.join(folder, name), format=fmt, quantize=quantize,
                                     calibration=calibration if quantize else None, speed=False)
            artifact = transfer.load_model(report.path)
            runners[label] = artifact.predict
            sizes[label], diffs[label] = report.size_bytes, report.max_abs_diff
        one, batch = images[:1], images
        latency = {k: [] for k in runners}
        throughput = {k: [] for k in runners}
        for fn in runners.values():  # warm-up: tracing, allocation, LiteRT's resize
            fn(one), fn(batch)
        for _ in range(args.rounds):
            for label, fn in runners.items():
                latency[label].append(_median_seconds(fn, one, args.calls))
                throughput[label].append(len(batch) / _median_seconds(fn, batch, max(3, args.calls // 3)))

    base_lat = statistics.median(latency[BASELINE])
    base_thr = statistics.median(throughput[BASELINE])
    print(f"model: {described}; input {model.input_shape[1:]}; {args.rounds} rounds; "
          f"load average {os.getloadavg()[0]:.1f}")
    print("| runtime | file MB | max abs diff | batch 1 ms | speed-up | batch 32 images/s | speed-up |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label in runners:
        lat, thr = statistics.median(latency[label]), statistics.median(throughput[label])
        size = f"{sizes[label] / 1e6:.2f}" if label in sizes else "-"
        diff = f"{diffs[label]:.1e}" if label in diffs else "-"
        print(f"| {label} | {size} | {diff} | {lat * 1e3:.2f} | {base_lat / lat:.2f}x | {thr:.0f} | "
              f"{thr / base_thr:.2f}x |")
    print(f"(speed-up: against {BASELINE}, the same model run by Keras on one batch)")


if __name__ == "__main__":
    main()
