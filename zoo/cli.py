"""The ``zoo`` command line: list the models, print a layer table or a model card.

Installed as the console script ``zoo`` (``python -m zoo`` is the same).
Every command reads the architecture records (:func:`zoo.get_arch`) and
measures the built model with :func:`zoo.summary`, so the figures printed are
the model's own, never a copied table. Errors are one line on stderr and
exit status 2, as argparse's are.

Example:
    >>> build_parser().parse_args(["card", "resnet20"]).name
    'resnet20'
"""

import argparse
import contextlib
import sys

import keras

import zoo
from zoo import checks, figures
from zoo.inspection import si_units

EPILOG = """examples:
  zoo list                          # name, parameters, FLOPs, default input of every model
  zoo list "vgg*" --markdown        # the same as a Markdown table (the documentation's model table)
  zoo summary resnet50 --input-shape 160,160,3 --classes 10
  zoo card resnet50                 # parameters, multiply-adds, activations, input, preprocessing, weights
"""


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser with one-line errors: ``PROG: error: MESSAGE (see PROG --help)``, exit status 2.

    Both command lines (``zoo`` and ``transfer``) use it, so a mistyped
    argument reads the same everywhere and never buries the message under the usage text.

    Example:
        >>> ArgumentParser(prog="zoo").format_usage().startswith("usage: zoo")
        True
    """

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def fail(prog, err):
    """Print ``err`` as one line on stderr and return exit status 2 (for ``main`` to return).

    Example:
        >>> fail("zoo", ValueError("Unknown model 'resnet'."))     # doctest: +SKIP
        2
    """
    print(f"{prog}: error: {' '.join(str(err).split())}", file=sys.stderr)
    return 2


def run(parser, argv=None):
    """The ``main`` of both command lines: parse ``argv``, run the chosen command, return its exit status.

    A user's mistake (a bad value, a missing or broken file: ValueError,
    TypeError, OSError; a missing optional extra: ImportError, whose message
    names it) is one line on stderr and exit status 2; anything else is a bug
    and keeps its traceback.

    Example:
        >>> run(build_parser(), ["card", "resnet20"])          # doctest: +SKIP
        0
    """
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, TypeError, OSError, ImportError) as err:
        return fail(parser.prog, err)


def _shape(text):
    try:
        parts = tuple(int(p) for p in text.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 3 or min(parts) < 1:
        raise argparse.ArgumentTypeError(f"expected H,W,C such as 224,224,3. Received: {text!r}")
    return parts


@contextlib.contextmanager
def _progress(total):
    """A Keras progress bar on stderr (stdout stays the table); silent when stderr is not a terminal."""
    bar = keras.utils.Progbar(total, verbose=1 if sys.stderr.isatty() else 0)
    with contextlib.redirect_stdout(sys.stderr):  # Progbar writes to sys.stdout
        yield bar


def measure(name):
    """``(config, report)`` of architecture ``name`` at its default input.

    Example:
        >>> config, report = measure("resnet20")
        >>> config.input_shape, report.total_params
        ((32, 32, 3), 271098)
    """
    config = zoo.get_arch(name)
    report = zoo.summary(zoo.create_model(config.name))
    keras.backend.clear_session()  # a table of 30 models must not keep 30 graphs alive
    return config, report


def weights_text(config):
    """Which published weights exist for ``config``, in words.

    Example:
        >>> import zoo
        >>> weights_text(zoo.get_arch("resnet50")), weights_text(zoo.get_arch("resnet20"))
        ('imagenet', 'none published')
    """
    if config.source == "keras":
        return "imagenet (fetched by keras.applications)"
    if config.source == "hub":
        return ", ".join(f"{name} ({found.where()})" for name, found in config.weights.items()) or "none published"
    return ", ".join(sorted(config.weights)) or "none published"


def card_text(config, report):
    """A model card: the figures a reader compares models by, one per line.

    Example:
        >>> print(card_text(*measure("resnet20")))          # doctest: +ELLIPSIS
        resnet20: ...
        parameters          271,098 (trainable 269,722)
        ...
    """
    shape = "x".join(map(str, config.input_shape))
    rf = "n/a" if report.receptive_field is None else \
        f"{report.receptive_field} px (effective stride {report.effective_stride})"
    rows = [
        ("parameters", f"{report.total_params:,} (trainable {report.trainable_params:,})"),
        ("multiply-adds", f"{si_units(report.macs)} (FLOPs {si_units(report.flops)}, one image)"),
        ("activations", f"{si_units(report.activations)} (outputs of convolutions and dense layers)"),
        ("default input", shape),
        ("minimum input", f"{config.min_size}x{config.min_size}"),
        ("receptive field", rf),
        ("preprocessing", config.preprocessing or "inside the model"),
        ("layer groups", config.group_scheme),
        ("weights", weights_text(config)),
        ("built by", {"keras": f"keras.applications.{config.keras_app}", "zoo": f"zoo.{config.name}"}.get(
            config.source, config.description)),
    ]
    title = f"{config.name}: {config.description or config.family or 'model'}"
    return "\n".join([title, *(f"{key:<20}{value}" for key, value in rows)])


def table_rows(names):
    """One row of figures per model: name, parameters, MACs, activations, inputs, preprocessing, weights.

    The figures come from :func:`zoo.figures.figures` (stored once per record and code version), so a
    model is built only the first time it is listed; the progress bar counts those builds.
    """
    todo = [name for name in names if not figures.is_stored(name)]
    rows = []
    with _progress(len(todo)) as bar:
        for name in names:
            config, numbers = zoo.get_arch(name), figures.figures(name)
            rows.append((name, f"{numbers['params']:,}", si_units(numbers["macs"]),
                         si_units(numbers["activations"]), "x".join(map(str, config.input_shape)),
                         str(config.min_size), config.preprocessing or "inside",
                         ", ".join(sorted(config.weights)) or "-"))
            if name in todo:
                bar.update(todo.index(name) + 1)
    return rows


HEADER = ("Model", "Params", "MACs", "Activations", "Input", "Min size", "Preprocessing", "Weights")


def markdown_table(rows):
    """``rows`` (from :func:`table_rows`) as a Markdown table with a note on the units.

    Example:
        >>> print(markdown_table([("m", "1", "2", "3", "8x8x1", "8", "rescale", "-")]))  # doctest: +ELLIPSIS
        | Model | Params | MACs | Activations | ...
        | --- | ---: | ---: | ---: | ...
        | `m` | 1 | 2 | 3 | 8x8x1 | 8 | rescale | - |
        ...
    """
    align = ("---", "---:", "---:", "---:", "---", "---:", "---", "---")
    lines = ["| " + " | ".join(HEADER) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join((f"`{r[0]}`", *r[1:])) + " |" for r in rows]
    lines += ["", f"{len(rows)} models. MACs: multiply-adds of one image at the default input "
                  "(FLOPs are twice that); activations: output elements of every convolution and dense layer; "
                  "weights: the published weights `weights=` accepts by name."]
    return "\n".join(lines)


def _plain_table(rows):
    widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(len(HEADER))]
    numeric = {1, 2, 3, 5}
    line = lambda r: "  ".join(c.rjust(w) if i in numeric else c.ljust(w)  # noqa: E731
                               for i, (c, w) in enumerate(zip(r, widths))).rstrip()
    return "\n".join([line(HEADER), "-" * len(line(HEADER)), *map(line, rows),
                      f"\n{len(rows)} models. MACs: multiply-adds, one image at the default input."])


def _list(args):
    names = zoo.list_models(args.pattern)
    if not names:
        raise ValueError(f"No model matches the pattern. Received: pattern={args.pattern!r}")
    rows = table_rows(names)
    print(markdown_table(rows) if args.markdown else _plain_table(rows))
    return 0


def known_name(name):
    """``name`` if it has a record; else a ValueError pointing to the commands that list the names.

    Example:
        >>> known_name("resnet2")
        Traceback (most recent call last):
        ...
        ValueError: Unknown model 'resnet2'. Did you mean: ...? `zoo list` shows the zoo's ... models; ...
    """
    try:
        zoo.get_arch(name)
    except ValueError:
        raise ValueError(
            f"Unknown model {name!r}.{checks.close_matches(name, zoo.list_configs())} `zoo list` shows the "
            f"zoo's {len(zoo.list_models())} models; `transfer backbones` lists all {len(zoo.list_configs())} "
            f"names, keras.applications' included. Received: {name!r}") from None
    return name


def _summary(args):
    known_name(args.name)
    kwargs = {key: value for key, value in (("input_shape", args.input_shape), ("classes", args.classes)) if value}
    print(zoo.summary(zoo.create_model(args.name, **kwargs)))
    return 0


def _card(args):
    known_name(args.name)
    print(card_text(*measure(args.name)))
    return 0


def build_parser():
    """The argparse parser of the ``zoo`` command line.

    Example:
        >>> args = build_parser().parse_args(["list", "vgg*", "--markdown"])
        >>> args.pattern, args.markdown
        ('vgg*', True)
    """
    parser = ArgumentParser(prog="zoo", description="The CNN model zoo: list, inspect and compare models.",
                            epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("list", help="table of models: parameters, multiply-adds, activations, input")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style wildcard, e.g. 'resnet*' (default: all)")
    p.add_argument("--markdown", action="store_true", help="print a Markdown table (the documentation's)")
    p.set_defaults(run=_list)
    p = sub.add_parser("summary", help="per-layer table with parameters, multiply-adds and receptive field")
    p.add_argument("name", help="a model name (see: zoo list)")
    p.add_argument("--input-shape", type=_shape, help="H,W,C, e.g. 160,160,3")
    p.add_argument("--classes", type=int, help="number of outputs of the classifier")
    p.set_defaults(run=_summary)
    p = sub.add_parser("card", help="a model card: size, cost, input, preprocessing, published weights")
    p.add_argument("name", help="a model name: a zoo model or a keras.applications one (e.g. mobilenet_v2)")
    p.set_defaults(run=_card)
    return parser


def main(argv=None):
    """Run the ``zoo`` command line on ``argv`` (default: ``sys.argv[1:]``); return the exit status.

    Example:
        >>> main(["card", "resnet20"])          # doctest: +SKIP
        0
    """
    return run(build_parser(), argv)
