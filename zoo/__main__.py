"""Command line: ``python -m zoo list [PATTERN]`` and ``python -m zoo summary NAME``.

Examples:
    python -m zoo list
    python -m zoo list "resnet*"
    python -m zoo summary resnet50 --input-shape 160,160,3 --classes 10
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _shape(text):
    try:
        parts = tuple(int(p) for p in text.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"expected H,W,C such as 224,224,3; received {text!r}")
    return parts


def cmd_list(args):
    import keras

    import zoo
    from zoo.inspection import si_units

    names = zoo.list_models(args.pattern)
    if not names:
        print(f"No model matches {args.pattern!r}. Try: python -m zoo list", file=sys.stderr)
        return 1
    rows = []
    progress = keras.utils.Progbar(len(names), verbose=1 if sys.stderr.isatty() else 0)
    for i, name in enumerate(names):
        report = zoo.summary(zoo.create_model(name))
        shape = "x".join(str(d) for d in zoo.default_input_shape(name))
        rows.append((name, f"{report.total_params:,}", si_units(report.flops), shape))
        keras.backend.clear_session()
        progress.update(i + 1)
    header = ("Model", "Params", "FLOPs", "Input")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    fmt = lambda r: f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]:<{widths[3]}}"  # noqa: E731
    print(fmt(header))
    print("-" * len(fmt(header)))
    for row in rows:
        print(fmt(row))
    print(f"\n{len(rows)} models. FLOPs: 2 x multiply-adds, one image, at the default input.")
    return 0


def cmd_summary(args):
    import zoo

    kwargs = {}
    if args.input_shape:
        kwargs["input_shape"] = args.input_shape
    if args.classes:
        kwargs["classes"] = args.classes
    try:
        model = zoo.create_model(args.name, **kwargs)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(zoo.summary(model))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m zoo", description="The CNN model zoo: list and inspect models.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("list", help="table of models: parameters, FLOPs, default input")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style wildcard, e.g. 'resnet*'")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("summary", help="per-layer table with parameters, multiply-adds and receptive field")
    p.add_argument("name", help="a registered model name (see: python -m zoo list)")
    p.add_argument("--input-shape", type=_shape, help="H,W,C, e.g. 160,160,3")
    p.add_argument("--classes", type=int, help="number of outputs of the classifier")
    p.set_defaults(func=cmd_summary)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
