"""The API reference: one page per package, written when the site is built (``api/<package>.rst``).

A page reads top down the way a user meets the package: one short paragraph (the first of the package's
docstring; the rest folds away under it), the calls to start with, every function in the order of
``api_order.py``, then the classes, then the modules whose names the package does not re-export.
Each entry is its own ``autofunction``/``autoclass`` directive, so the order is ours, not autodoc's.

The autodoc events below keep Keras out of our pages: a Keras subclass shows the arguments of its own
constructor (Keras's ``__new__(*args, **kwargs)`` hides them), a Functional-constructor class names the
calls that make it, and a Keras (or other library) method that we override without a docstring of our
own is left out; the class links to keras.io for what it inherits instead.
"""

import importlib
import importlib.util
import inspect
import pathlib
import types

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.ext.napoleon.docstring import GoogleDocstring
from sphinx.util.docutils import SphinxDirective

import api_order
from zoo_pages import write_if_changed

# The packages of the reference, and modules documented besides those their __all__ re-exports.
PACKAGES = {"zoo": ("notebook", "cli"), "transfer": ("cli", "demo", "demo_weights", "demo_workers"),
            "datasets": ("digits",), "viz": ()}
OWN = tuple(PACKAGES)

# Where keras.io documents what a Keras subclass inherits (the first of its bases found here).
KERAS_IO = {
    "Model": ("keras.Model", "https://keras.io/api/models/model/"),
    "Layer": ("keras.layers.Layer", "https://keras.io/api/layers/base_layer/"),
    "Optimizer": ("keras.optimizers.Optimizer", "https://keras.io/api/optimizers/"),
    "Callback": ("keras.callbacks.Callback", "https://keras.io/api/callbacks/base_callback/"),
    "Metric": ("keras.metrics.Metric", "https://keras.io/api/metrics/base_metric/"),
    "LearningRateSchedule": ("keras.optimizers.schedules.LearningRateSchedule",
                             "https://keras.io/api/optimizers/learning_rate_schedules/"),
}
HIDDEN_ATTRIBUTES = {"FIELDS"}  # the identity models' config plumbing; their docstrings name the fields


def _ours(obj):
    return (getattr(obj, "__module__", None) or "").split(".")[0] in OWN


def ordered(module_name, names, objects):
    """``names`` (all of one module's documented functions and classes) as (functions, classes), in order."""
    functions = [n for n in names if inspect.isfunction(objects[n])]
    classes = [n for n in names if inspect.isclass(objects[n])]
    entry = [n for n in api_order.ENTRY_POINTS.get(module_name, []) if n in functions]
    modules = [objects[n].__module__ for n in entry]  # a module comes where its first entry point does
    modules += [m for m in api_order.MODULES.get(module_name, []) if m not in modules]

    def rest_key(name):
        fn = objects[name]
        rank = modules.index(fn.__module__) if fn.__module__ in modules else len(modules)
        return rank, fn.__module__, fn.__code__.co_firstlineno

    functions = entry + sorted((n for n in functions if n not in entry), key=rest_key)
    known = [n for n in api_order.CLASSES.get(module_name, []) if n in classes]
    classes = known + [n for n in classes if n not in known]  # unknown classes: after the known, in order given
    return functions, classes


def _own_members(module):
    return [name for name, obj in vars(module).items() if not name.startswith("_")
            and (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ == module.__name__]


def _signature(fn):
    try:
        return str(inspect.signature(fn))
    except (TypeError, ValueError):
        return "(...)"


def _entries(module_name, names, objects):
    """The autodoc directives of one module's functions, then its classes (under headings on a package page)."""
    functions, classes = ordered(module_name, names, objects)
    lines = []
    for title, group in (("Functions", functions), ("Classes", classes)):
        if group and module_name in PACKAGES:
            lines += [title, "-" * len(title), ""]
        for name in group:
            obj = objects[name]
            kind = "function" if inspect.isfunction(obj) else (
                "exception" if issubclass(obj, BaseException) else "class")
            lines.append(f".. auto{kind}:: {module_name}.{name}")
        lines.append("")
    return lines


def api_page(package, extra):
    """reST of one package: the short paragraph, its ``__all__`` in order, then its other documented modules.

    A name another package defines (``transfer.WeightsUnavailableError`` is zoo's) is documented
    once, by its own package; a module whose functions the package re-exports is not repeated.
    """
    pkg = importlib.import_module(package)
    objects = {name: getattr(pkg, name) for name in pkg.__all__}
    public = list(objects.values())
    top = {id(obj) for obj in public if not isinstance(obj, types.ModuleType)}
    foreign = [name for name, obj in objects.items() if not isinstance(obj, types.ModuleType)
               and getattr(obj, "__module__", package).split(".")[0] != package]
    names = [name for name, obj in objects.items() if name not in foreign
             and (inspect.isfunction(obj) or inspect.isclass(obj))]
    modules = [obj.__name__ for obj in public if isinstance(obj, types.ModuleType)
               and obj.__name__.startswith(package + ".") and _own_members(obj)
               and not any(id(getattr(obj, m)) in top for m in _own_members(obj))]
    for name in extra:
        full = f"{package}.{name}"
        if full not in modules and importlib.util.find_spec(full):
            modules.append(full)
    lines = [package, "=" * len(package), "", f".. automodule:: {package}", "   :no-members:", "",
             f".. package-overview:: {package}", "", f".. start-here:: {package}", ""]
    lines += _entries(package, names, objects)
    lines += [f"``{package}.{name}`` is also the name of :class:`{objects[name].__module__.split('.')[0]}"
              f".{name}`." for name in foreign]
    for module_name in modules:
        module = importlib.import_module(module_name)
        own = _own_members(module)
        lines += ["", module_name, "-" * len(module_name), "", f".. automodule:: {module_name}",
                  "   :no-members:", ""]
        lines += _entries(module_name, own, {n: getattr(module, n) for n in own})
    return "\n".join(lines).rstrip() + "\n"


def _docstring_paragraphs(module):
    doc = inspect.getdoc(module) or ""
    first, _, rest = doc.partition("\n\n")
    return first, rest


def _summary(package, first):
    """The first paragraph without the ``package:`` its docstring starts with (the page title says it)."""
    prefix = f"{package}:"
    if first.startswith(prefix):
        first = first[len(prefix):].strip()
        first = first[:1].upper() + first[1:]
    return first


class PackageOverview(SphinxDirective):
    """The package docstring after its first paragraph, folded under a ``<details>`` element."""

    required_arguments = 1

    def run(self):
        name = self.arguments[0]
        _, rest = _docstring_paragraphs(importlib.import_module(name))
        if not rest.strip():
            return []
        lines = GoogleDocstring(rest, self.config, None, "module", name).lines()
        body = nodes.container(classes=["package-overview"])
        self.state.nested_parse(_string_list(lines, self.get_source_info()[0]), self.content_offset, body)
        return [nodes.raw("", '<details class="package-overview"><summary>Overview and example</summary>',
                          format="html"), body, nodes.raw("", "</details>", format="html")]


class StartHere(SphinxDirective):
    """A table of the package's first calls: each with its arguments and defaults, and its docstring's first line."""

    required_arguments = 1

    def run(self):
        package = self.arguments[0]
        names = api_order.START_HERE.get(package, api_order.ENTRY_POINTS.get(package, []))
        rows = []
        for name in names:
            module_name, _, attr = f"{package}.{name}".rpartition(".")
            obj = getattr(importlib.import_module(module_name), attr, None)
            if obj is None:
                continue  # a name the package no longer has: left out, not an error
            role, call = ("class", obj.__init__) if inspect.isclass(obj) else ("func", obj)
            signature = _signature(call)
            if inspect.isclass(obj):  # without self
                signature = "(" + signature[1:].partition(", ")[2] if ", " in signature else "()"
            summary = (inspect.getdoc(obj) or "").partition("\n\n")[0].replace("\n", " ")
            rows += [f"   * - :{role}:`{name} <{module_name}.{attr}>`\\ ``{signature}``", f"     - {summary}"]
        if not rows:
            return []
        table = [".. list-table::", "   :class: start-here", "   :widths: 1 1", ""] + rows
        body = nodes.container(classes=["start-here"])
        self.state.nested_parse(_string_list(table, self.get_source_info()[0]), self.content_offset, body)
        return [nodes.rubric("", "Start here"), body]


def _string_list(lines, source):
    return StringList(list(lines), source=source)


def made_by(name):
    """The line that says which calls make the class ``name`` (a Functional-constructor class)."""
    calls = []
    for full in api_order.MADE_BY.get(name, []):
        module, _, fn = full.rpartition(".")
        calls.append(f":func:`{fn} <{full}>`\\ ``{_signature(getattr(importlib.import_module(module), fn))}``")
    return "Made by " + " or ".join(calls) + "." if calls else None


def keras_base(cls):
    """(name, keras.io address) of the first Keras class ``cls`` is built on, or None."""
    for base in cls.__mro__[1:]:
        if base.__module__.split(".")[0] == "keras" and base.__name__ in KERAS_IO:
            return KERAS_IO[base.__name__]
    return None


def on_process_signature(app, what, name, obj, options, signature, return_annotation):
    if what not in ("class", "exception") or not inspect.isclass(obj):
        return None
    if name in api_order.MADE_BY:
        return "", return_annotation  # the "Made by" line under it gives the calls
    if signature and "*args" in signature and "**kwargs" in signature and obj.__init__ is not object.__init__:
        # Keras's __new__(*args, **kwargs) stood for the constructor: show our __init__'s arguments
        params = list(inspect.signature(obj.__init__).parameters.values())[1:]  # without self
        return str(inspect.Signature(params)), return_annotation
    return None


def on_process_docstring(app, what, name, obj, options, lines):
    if what == "module" and name in PACKAGES:
        lines[:] = [_summary(name, _docstring_paragraphs(obj)[0]).replace("\n", " "), ""]
        return
    if what not in ("class", "exception") or not inspect.isclass(obj):
        return
    first_end = lines.index("") if "" in lines else len(lines)
    made = made_by(name)
    if made:
        lines[:0] = [made, ""]
        first_end += 2
    base = keras_base(obj)
    if base:
        note = (f"A `{base[0]} <{base[1]}>`__: the methods it inherits from Keras are documented there; "
                "this page lists what it adds or changes.")
        lines[first_end:first_end] = ["", note]


def _defining_class(member):
    func = getattr(member, "__func__", None) or getattr(member, "fget", None) or member
    qualname = getattr(func, "__qualname__", "")
    module = inspect.getmodule(func)
    owner = module
    for part in qualname.split(".")[:-1]:
        owner = getattr(owner, part, None)
    return owner if inspect.isclass(owner) else None, func


def on_skip_member(app, what, name, obj, skip, options):
    """Leave out a library method (Keras's, argparse's) we override without saying anything of our own."""
    if what not in ("class", "exception"):
        return None
    if name in HIDDEN_ATTRIBUTES:
        return True
    owner, func = _defining_class(obj)
    own_doc = obj.__doc__ if isinstance(obj, property) else getattr(func, "__doc__", None)
    if owner is None or not _ours(owner) or own_doc:
        return None
    if any(name in vars(base) for base in owner.__mro__[1:] if not _ours(base) and base is not object):
        return True
    return None


def on_config_inited(app, config):
    for package, extra in PACKAGES.items():
        write_if_changed(pathlib.Path(app.srcdir) / "api" / f"{package}.rst", api_page(package, extra))


def setup(app):
    app.connect("config-inited", on_config_inited)
    app.connect("autodoc-process-signature", on_process_signature)
    app.connect("autodoc-process-docstring", on_process_docstring)
    app.connect("autodoc-skip-member", on_skip_member)
    app.add_directive("package-overview", PackageOverview)
    app.add_directive("start-here", StartHere)
    return {"parallel_read_safe": True, "version": "1"}
