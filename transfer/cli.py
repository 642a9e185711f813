"""``python -m transfer``: the demo, prediction on image files, the list of backbones."""

import argparse
import os
import sys

EPILOG = """examples:
  python -m transfer demo                              # about 2 minutes on 2 CPU cores, offline
  python -m transfer demo --output /tmp/demo --quick   # fewer epochs, one seed
  python -m transfer predict transfer_demo/digits5-9.keras transfer_demo/samples/
  python -m transfer backbones 'efficientnet*'
"""


def build_parser():
    """The argparse parser of ``python -m transfer``.

    Example:
        >>> build_parser().parse_args(["demo", "--quick"]).quick
        True
    """
    parser = argparse.ArgumentParser(
        prog="python -m transfer",
        description="Transfer learning with pretrained CNN backbones: load a backbone, attach a head, "
                    "fine-tune in two phases, extract and cache features, predict.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="pre-train on digits 0-4, transfer to 5-9 from a few examples (offline)",
                          description="Pre-train a zoo backbone on scikit-learn's real handwritten digits 0-4, "
                                      "each 8x8 digit upsampled to 12x12 and put at a random place on a "
                                      "blank 20x20 canvas (the same canvases for every method), "
                                      "then learn 5-9 from a few labelled images per class three ways: from "
                                      "scratch, a head on cached frozen features, and a two-phase fine-tune. "
                                      "Prints a comparison table on the held-out 5-9 images; writes training "
                                      "curves (PNG), the fine-tuned model and sample images.")
    demo.add_argument("--output", default="transfer_demo", metavar="DIR",
                      help="folder for the curves, checkpoints, model and samples (default: %(default)s)")
    demo.add_argument("--quick", action="store_true", help="fewer epochs and one seed (for tests, under a minute)")
    demo.add_argument("--seeds", type=int, default=2, metavar="N", help="seeds to average over (default: %(default)s)")
    demo.add_argument("--shots", type=int, default=3, metavar="K",
                      help="labelled training images per class of 5-9 (default: %(default)s)")
    demo.add_argument("--backbone", default="resnet20",
                      help="zoo model to pre-train, any accepting 20x20x1 input (default: %(default)s, "
                           "with BatchNorm)")
    demo.add_argument("--quiet", action="store_true", help="no Keras progress output, only the summary")

    pred = sub.add_parser("predict", help="classify image files with a saved .keras model",
                          description="Print the top classes with probabilities for each image file "
                                      "(folders: every image inside). Class names come from MODEL's "
                                      ".classes.json beside it when present.")
    pred.add_argument("model", metavar="MODEL", help="a .keras file saved by transfer.save_model")
    pred.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
    pred.add_argument("--top", type=int, default=3, metavar="K", help="classes to show (default: %(default)s)")

    lst = sub.add_parser("backbones", help="list the names load_backbone accepts")
    lst.add_argument("pattern", nargs="?", default="*", help="shell-style filter (default: all)")
    return parser


def _demo(args):
    from transfer import demo

    seeds = (0,) if args.quick else tuple(range(args.seeds))
    log = None if args.quiet else print
    report = demo.run(args.output, quick=args.quick, seeds=seeds, shots=args.shots, backbone=args.backbone, log=log)
    print()
    print(demo.table(report))
    print()
    for what, path in report["paths"].items():
        print(f"{what:>17}: {path}")
    print(f"\ntry: python -m transfer predict {report['paths']['model']} {report['paths']['samples']}")
    print(f"finished in {report['seconds']:.0f} s")
    return 0


def _predict(args):
    import transfer

    model, names = transfer.load_model(args.model)
    for path, top in transfer.predict_files(model, args.paths, class_names=names, top=args.top):
        shown = "  ".join(f"{name}: {p:.3f}" for name, p in top)
        print(f"{path}  {shown}")
    return 0


def _backbones(args):
    import fnmatch

    import transfer

    for name in transfer.available_backbones():
        if fnmatch.fnmatchcase(name, args.pattern):
            source, _, mode, family = transfer.spec(name)
            print(f"{name:<24}{source:<7}preprocessing={mode or 'inside the model'}")
    return 0


def main(argv=None):
    """Entry point of ``python -m transfer``; returns the exit status.

    Example:
        >>> main(["backbones", "resnet5*"])                       # doctest: +SKIP
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    args = build_parser().parse_args(argv)
    try:
        return {"demo": _demo, "predict": _predict, "backbones": _backbones}[args.command](args)
    except (FileNotFoundError, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
