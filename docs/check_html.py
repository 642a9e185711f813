"""Check the built site as a reader meets it; exit 1 with the list of problems, 0 when there are none.

    python docs/check_html.py docs/_build/html

* Order: each API page lists its entry points (``_ext/api_order.py``) first, in that order, and every
  function of the package before its classes.
* Signatures: no class shows ``(*args, **kwargs)``; the Functional-constructor classes name the calls
  that make them; DiscriminativeOptimizer shows its own arguments.
* No Keras docstring: none of the sentences Keras's base classes document their methods with (the
  ones our classes override) appears on an API page.
* Code wraps: the site's stylesheet wraps the code of the rendered notebooks, and a notebook's code
  lines are at most ``MAX_CODE_LINE`` characters, so what does not fit still shows.

Standard library only (it runs right after the build, and in the test suite on a built site).
"""

import html
import json
import pathlib
import re
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "_ext"))
import api_order  # noqa: E402  (plain data, beside this file)

PACKAGES = ("zoo", "transfer", "datasets", "viz")
MAX_CODE_LINE = 88  # black's line length; Furo's column shows about 90 characters of code

# The first sentences of the docstrings Keras (3.15) and argparse give the methods our classes override:
# about writing a subclass, not about using this toolkit.
LIBRARY_SENTENCES = (
    "Subclasses should override for any actions to run",
    "Subclass optimizer should override this method",
    "Returns the config of the optimizer.",
    "Creates an optimizer from its config.",
    "Returns the config of the object.",
    "Creates an operation from its config.",
    "Called at the beginning of training.",
    "Called at the end of an epoch.",
    "Called at the beginning of evaluation or validation.",
    "Accumulate statistics for the metric.",
    "Compute the current metric value.",
    "Return the serializable config of the metric.",
    "Instantiates a `LearningRateSchedule` from its config.",
    "Prints a usage message incorporating the message to stderr and exits.",
)

ENTRY = re.compile(r'<dl class="py (function|class|exception)">\s*<dt class="sig sig-object py" id="([^"]+)">(.*?)</dt>'
                   r'\s*<dd>(.*?)</dd>', re.S)


def text(fragment):
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", fragment))).strip()


def entries(page):
    """[(kind, id, signature text, text of the first paragraph)] of the page's documented objects."""
    found = []
    for kind, ident, sig, body in ENTRY.findall(page):
        first = re.search(r"<p>(.*?)</p>", body, re.S)
        found.append((kind, ident, text(sig), text(first.group(1)) if first else ""))
    return found


def check_order(package, page):
    top = [(kind, ident.split(".", 1)[1]) for kind, ident, _, _ in entries(page) if ident.count(".") == 1]
    functions = [name for kind, name in top if kind == "function"]
    expected = [name for name in api_order.ENTRY_POINTS.get(package, []) if name in functions]
    problems = []
    if functions[:len(expected)] != expected:
        problems.append(f"api/{package}.html: the functions start {functions[:len(expected)]}, "
                        f"expected the entry points {expected}")
    kinds = [kind == "function" for kind, _ in top]
    if kinds != sorted(kinds, reverse=True):
        first_class = next(name for kind, name in top if kind != "function")
        late = [name for kind, name in top[kinds.index(False):] if kind == "function"]
        problems.append(f"api/{package}.html: functions {late} come after the class {first_class}")
    return problems


def check_signatures(package, page):
    problems = []
    for kind, ident, sig, first in entries(page):
        if kind in ("class", "exception") and "*args, **kwargs" in sig:
            problems.append(f"api/{package}.html: {ident} shows {sig!r}, not how a user makes one")
        for call in api_order.MADE_BY.get(ident, []):
            if not re.search(rf"\b{call.rsplit('.', 1)[1]}\((?!\))", first):  # the call with its arguments
                problems.append(f"api/{package}.html: {ident}'s first paragraph does not give {call}(...): {first!r}")
    if package == "transfer":
        sigs = {ident: sig for _, ident, sig, _ in entries(page)}
        if "inner_optimizer" not in sigs.get("transfer.DiscriminativeOptimizer", ""):
            problems.append("api/transfer.html: DiscriminativeOptimizer does not show its arguments: "
                            f"{sigs.get('transfer.DiscriminativeOptimizer')!r}")
    return problems


def check_library_docstrings(package, page):
    words = text(page)
    return [f"api/{package}.html: a library docstring: {sentence!r}" for sentence in LIBRARY_SENTENCES
            if sentence in words]


def check_code_wraps(site):
    problems = []
    css = "".join(p.read_text() for p in (site / "_static").glob("*.css"))
    if not re.search(r"div\.cell_input pre[^{]*\{[^}]*white-space:\s*pre-wrap", css):
        problems.append("_static: no stylesheet wraps the notebooks' code (div.cell_input pre: white-space: pre-wrap)")
    for source in sorted((site / "_sources" / "_executed").glob("*.ipynb*")):
        cells = json.loads(source.read_text())["cells"]
        for number, cell in enumerate(cells):
            lines = "".join(cell["source"]).splitlines() if cell["cell_type"] == "code" else []
            long = [line for line in lines if len(line) > MAX_CODE_LINE]
            if long:
                problems.append(f"{source.name}, cell {number}: {len(long)} code line(s) over {MAX_CODE_LINE} "
                                f"characters, e.g. {long[0]!r}")
    return problems


def check(site):
    site = pathlib.Path(site)
    problems = []
    for package in PACKAGES:
        path = site / "api" / f"{package}.html"
        if not path.exists():
            problems.append(f"no page {path} (build the site first)")
            continue
        page = path.read_text()
        problems += check_order(package, page) + check_signatures(package, page)
        problems += check_library_docstrings(package, page)
    return problems + check_code_wraps(site)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python docs/check_html.py BUILD_DIR (e.g. docs/_build/html)", file=sys.stderr)
        return 2
    problems = check(argv[0])
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"check_html: {len(problems)} problem(s) in {argv[0]}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
