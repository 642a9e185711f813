"""The ``transfer`` command line: the demo, export, prediction on image files, the list of backbones.

Installed as the console script ``transfer`` (``python -m transfer`` is the
same); organised as :mod:`zoo.cli`: ``build_parser()`` and ``main(argv)``,
errors as one line on stderr with exit status 2.

Example:
    >>> build_parser().parse_args(["demo", "--quick"]).quick
    True
"""

import argparse
import contextlib
import fnmatch
import re
import sys

from tqdm.auto import tqdm

import transfer
import zoo
from transfer import demo as demo_lib
from transfer.sources import hub
from zoo import checks
from zoo.cli import ArgumentParser, run
from zoo.startup import stderr_to_file

EPILOG = """examples:
  transfer demo                                 # under 2 minutes on 2 CPU cores, offline
  transfer demo --pretrain                      # pre-train on 0-4 here too (a minute more)
  transfer demo --output /tmp/demo --quick      # one seed
  transfer demo --verbose                       # Keras's line per epoch as well
  transfer predict transfer_demo/digits5-9.keras transfer_demo/samples/
  transfer export transfer_demo/digits5-9.keras digits.onnx --format onnx
  transfer export transfer_demo/digits5-9.keras digits.tflite --format litert --quantize int8 \\
      --calibration transfer_demo/samples/
  transfer predict digits.onnx transfer_demo/samples/
  transfer backbones 'efficientnet*'
"""

DEMO_TEXT = ("Pre-train a zoo backbone on scikit-learn's real handwritten digits 0-4, each 8x8 digit upsampled "
             "to 12x12 and put at a random place on a blank 20x20 canvas (the same canvases for every method), "
             "then learn 5-9 from a few labelled images per class three ways: from scratch, a head on cached "
             "frozen features, and a two-phase fine-tune. Prints one line per training run and a comparison "
             "table on the held-out 5-9 images; writes a results figure (test accuracy per method, a dot per "
             "seed), training curves, the fine-tuned model and sample images. ResNet-20's pre-trained weights "
             "are shipped, so every machine starts from the same network; --pretrain trains them here.")


def check_backbone(name):
    """ValueError for a name ``transfer demo --backbone`` cannot build, pointing to ``transfer backbones``.

    Example:
        >>> check_backbone("resnet2")
        Traceback (most recent call last):
        ...
        ValueError: Unknown backbone 'resnet2'. Did you mean: ...? `transfer backbones` lists the ... names. ...
    """
    try:
        zoo.get_arch(name)
    except ValueError:
        names = zoo.list_configs()
        raise ValueError(f"Unknown backbone {name!r}.{checks.close_matches(name, names)} `transfer backbones` "
                         f"lists the {len(names)} names. Received: --backbone {name}") from None


def _positive(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer. Received: {text!r}")
    return value


def _add_demo(sub):
    demo = sub.add_parser("demo", help="pre-train on digits 0-4, transfer to 5-9 from a few examples (offline)",
                          description=DEMO_TEXT)
    demo.add_argument("--output", default="transfer_demo", metavar="DIR",
                      help="folder for the figures, checkpoints, model and samples (default: %(default)s)")
    demo.add_argument("--quick", action="store_true", help="one seed, and fewer epochs of pre-training (for tests)")
    demo.add_argument("--pretrain", action="store_true",
                      help="pre-train on digits 0-4 on this machine instead of starting from the shipped weights "
                           "(a minute or more; other backbones always do)")
    demo.add_argument("--seeds", type=_positive, default=len(demo_lib.SEEDS), metavar="N",
                      help="seeds to average over (default: %(default)s)")
    demo.add_argument("--shots", type=_positive, default=demo_lib.SHOTS, metavar="K",
                      help="labelled training images per class of 5-9 (default: %(default)s)")
    demo.add_argument("--backbone", default=demo_lib.BACKBONE,
                      help="zoo model to use, any accepting 20x20x1 input (default: %(default)s, whose "
                           "0-4 weights are shipped)")
    shown = demo.add_mutually_exclusive_group()
    shown.add_argument("--verbose", action="store_true",
                       help="Keras's line per epoch instead of the progress bar (trains in one process)")
    shown.add_argument("--quiet", action="store_true", help="no line per training run, only the results")
    demo.set_defaults(run=_demo)


def _add_predict(sub):
    pred = sub.add_parser("predict", help="classify image files with a saved or exported model",
                          description="Print the top classes with probabilities for each image file "
                                      "(folders: every image inside). Class names come from inside MODEL "
                                      "(or a .classes.json beside an older .keras file).")
    pred.add_argument("model", metavar="MODEL", help="a .keras file saved by transfer.save_model, or a SavedModel "
                                                     "folder, .onnx or .tflite file written by transfer export")
    pred.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
    pred.add_argument("--top", type=_positive, default=3, metavar="K", help="classes to show (default: %(default)s)")
    pred.add_argument("--size", type=_positive, nargs=2, metavar=("H", "W"),
                      help="image size for a model with a flexible input size (default: each image's own)")
    pred.set_defaults(run=_predict)


def _add_export(sub):
    exp = sub.add_parser("export", help="write a .keras model as a SavedModel, ONNX or LiteRT file, and check it",
                         description="Export MODEL with the class names inside, run the result in its own "
                                     "runtime on sample images, compare with Keras (max |difference|, 1e-4 "
                                     "allowed for float32), and measure its speed. Nothing is written if the "
                                     "check fails. Needs the export extra: pip install -e \".[export]\".")
    exp.add_argument("model", metavar="MODEL", help="a .keras file saved by transfer.save_model")
    exp.add_argument("out", metavar="OUT", help="a folder (tf_saved_model), a .onnx or a .tflite file")
    exp.add_argument("--format", required=True, choices=("tf_saved_model", "onnx", "litert"))
    exp.add_argument("--quantize", choices=("int8",), help="LiteRT only: post-training integer quantization")
    exp.add_argument("--calibration", metavar="DIR", help="images for the int8 calibration (subfolders too)")
    exp.add_argument("--validation", metavar="DIR", help="class subfolders of images: report the accuracy")
    exp.add_argument("--samples", metavar="DIR", help="images for the check (default: generated images)")
    exp.add_argument("--tolerance", type=float, metavar="T",
                     help="largest allowed |difference| from Keras (default: 1e-4; none for int8)")
    exp.set_defaults(run=_export)


def build_parser():
    """The argparse parser of the ``transfer`` command line.

    Example:
        >>> args = build_parser().parse_args(["predict", "m.keras", "photos/", "--top", "2"])
        >>> args.paths, args.top
        (['photos/'], 2)
    """
    parser = ArgumentParser(
        prog="transfer",
        description="Transfer learning with pretrained CNN backbones: load a backbone, attach a head, "
                    "fine-tune in two phases, extract and cache features, predict.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_demo(sub)
    _add_predict(sub)
    _add_export(sub)
    lst = sub.add_parser("backbones", help="list the names load_backbone accepts, with their preprocessing")
    lst.add_argument("pattern", nargs="?", default="*", help="shell-style filter (default: all)")
    lst.set_defaults(run=_backbones)
    return parser


def _demo(args):
    seeds = (0,) if args.quick else tuple(range(args.seeds))
    # A bar over the trainings on stderr, on a terminal only, so logs and captured output hold the lines only.
    # --verbose trains in this process, so Keras's lines per epoch do not interleave between processes.
    bar = None if args.verbose or args.quiet else tqdm(total=1 + 3 * len(seeds), desc="trainings", leave=False,
                                                       file=sys.stderr, disable=not sys.stderr.isatty())

    def on_run(record):
        if bar is not None:
            bar.clear()
        if not args.quiet:
            print(record, flush=True)
        if bar is not None:
            bar.update(1)

    if not args.quiet:
        print(f"transfer demo: {args.backbone} pre-trained on digits 0-4, then digits 5-9 from {args.shots} "
              f"labelled images per class; seeds {list(seeds)}", flush=True)
    check_backbone(args.backbone)
    try:
        report = demo_lib.run(args.output, quick=args.quick, seeds=seeds, shots=args.shots, backbone=args.backbone,
                              verbose=2 if args.verbose else 0, on_run=on_run, workers=1 if args.verbose else None,
                              pretrain_here=True if args.pretrain else None)
    finally:
        if bar is not None:
            bar.close()
    print()
    print(demo_lib.table(report))
    print()
    for what, path in report["paths"].items():
        print(f"{what:>17}: {path}")
    print(f"\ntry: transfer predict {report['paths']['model']} {report['paths']['samples']}")
    print(f"finished in {report['seconds']:.0f} s")
    return 0


# What LiteRT's converter and interpreter write on file descriptor 2 from C++ (the XNNPACK delegate's
# INFO line, the quantizer's settings, absl/glog lines): not for the person at the terminal.
NATIVE_LINES = re.compile(r"(INFO: Created TensorFlow Lite|INFO: Initialized TensorFlow Lite|fully_quantize: |"
                          r"WARNING: All log messages before absl|[IW]\d{4} [\d:. ]+\d+ \S+:\d+\])")


@contextlib.contextmanager
def native_lines_dropped():
    """Run the block with stderr in a file; then write back what it held, less the native runtimes' lines.

    Example:
        >>> import os
        >>> with native_lines_dropped():
        ...     _ = os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\n")
    """
    captured = None
    try:
        with stderr_to_file() as file:
            try:
                yield
            finally:
                file.seek(0)
                captured = file.read().decode(errors="replace")
    finally:
        kept = [line for line in (captured or "").splitlines(True) if not NATIVE_LINES.match(line)]
        sys.stderr.write("".join(kept))
        sys.stderr.flush()


def _predict(args):
    with native_lines_dropped():
        model = transfer.load_model(args.model)  # its class names come with it
        results = transfer.predict_files(model, args.paths, top=args.top, size=args.size)
    for path, top in results:
        shown = "  ".join(f"{name}: {p:.3f}" for name, p in top)
        print(f"{path}  {shown}")
    for path, reason in results.skipped:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    return 0


def _export(args):
    with native_lines_dropped():
        report = transfer.export(args.model, args.out, format=args.format, quantize=args.quantize,
                                 calibration=args.calibration, validation=args.validation, samples=args.samples,
                                 tolerance="auto" if args.tolerance is None else args.tolerance)
    print(report)
    return 0


def _backbones(args):
    names = zoo.list_configs(args.pattern)
    try:  # keras-hub's image presets, when the optional extra is installed
        presets = [p for p in hub.image_presets() if fnmatch.fnmatchcase(p, args.pattern)]
    except ImportError:
        presets = None
    if not names and not presets:
        raise ValueError(f"No backbone matches the pattern. Received: pattern={args.pattern!r}")
    rows = []
    for name in names:
        config = zoo.get_arch(name)
        built_by = {"zoo": f"zoo.{name}", "keras": f"keras.applications.{config.keras_app}"}.get(
            config.source, config.description)
        rows.append((name, config.source, config.preprocessing or "inside the model", built_by))
    rows += [(name, "preset", "the preset's own", "keras-hub preset (downloaded once, then cached)")
             for name in presets or ()]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for name, source, preprocessing, built_by in rows:  # columns as wide as their longest entry
        print(f"{name:<{widths[0]}}  {source:<{widths[1]}}  preprocessing={preprocessing:<{widths[2]}}  {built_by}")
    if presets is None:
        print('keras-hub presets: pip install -e ".[hub]" to list and load them', file=sys.stderr)
    return 0


def main(argv=None):
    """Run the ``transfer`` command line on ``argv`` (default: ``sys.argv[1:]``); return the exit status.

    Example:
        >>> main(["backbones", "resnet5*"])                       # doctest: +SKIP
        resnet50                zoo    preprocessing=caffe             zoo.resnet50
        ...
    """
    return run(build_parser(), argv)
