"""Pages this site generates when it is built, so that none of them is written (or goes stale) by hand.

* ``api/<package>.rst``: the API reference, written by ``api_reference.py``.
* ``_generated/model_table.md``: the registry's models measured, the table ``zoo list --markdown`` prints.
* ``_generated/scaling_out.md``: README's "Scaling out" section (or a line saying README has none).
* ``_executed/<notebook>.ipynb``: the tutorials with their outputs. tests/test_notebooks.py writes each
  notebook it executes there; a notebook that is missing, or whose cells differ from notebooks/ (the
  source changed since), is copied from notebooks/ and executed by this build, in quick mode on the
  offline stand-ins, once. The rest are rendered as they are (myst-nb's execution is off for them).
"""

import io
import os
import pathlib
import re
import shutil
from contextlib import redirect_stdout

from sphinx.util import logging

logger = logging.getLogger(__name__)

# The environment of a notebook executed by this build: quick mode, offline stand-ins, figures out of the tree.
NOTEBOOK_ENV = {"ZOO_QUICK": "1", "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3", "MPLBACKEND": None,
                "DATA_DIR": None, "ZOO_DOWNLOAD": None}


def write_if_changed(path, text):
    """Write ``text`` unless ``path`` holds it already (an unchanged page is not rebuilt)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def model_table():
    """The output of ``zoo list --markdown``, run in this process (TensorFlow is loaded once)."""
    from zoo import cli

    text = io.StringIO()
    with redirect_stdout(text):
        status = cli.main(["list", "--markdown"])
    if status:
        raise RuntimeError(f"`zoo list --markdown` failed with status {status}")
    return text.getvalue()


def readme_section(readme, title):
    """README's ``## title`` section as a page: its heading becomes the page title, links resolved.

    Returns None when README has no such section.
    """
    lines, fenced, inside = [f"# {title}"], False, False
    for line in pathlib.Path(readme).read_text().splitlines():
        heading = not fenced and line.startswith("## ")
        fenced ^= line.startswith("```")
        if heading:
            inside = line[3:].strip() == title
        elif inside:
            lines.append(line[1:] if not fenced and line.startswith("###") else line)  # the section is the page
    if len(lines) == 1:
        return None
    body = "\n".join(lines).strip() + "\n"
    # README's links are relative to the repository root; docs/scaling_out.md includes this text
    body = re.sub(r"\]\(docs/([^)]+)\)", r"](\1)", body)
    body = re.sub(r"\]\(BENCHMARKS\.md(#[^)]*)?\)", r"](benchmarks.md\1)", body)
    return body


# The tutorials that run on an offline stand-in when no DATA_DIR is given, and the data set it stands for.
STAND_INS = {"02": "CIFAR-10", "03": "Dogs vs Cats", "04": "CIFAR-10", "05": "Kaggle's facial keypoints"}
NOTE_TAG = "docs-run-note"  # the label cell this build adds (not part of the notebook's source)


def run_note(stem):
    """The label at the top of a rendered tutorial: how it was run, and on what data."""
    text = ("**How this page was run:** in quick mode (`ZOO_QUICK=1`: a few epochs on a small sample), "
            "offline, when the documentation was built.")
    if stem[:2] in STAND_INS:
        text += (f" **The data are a stand-in**, not {STAND_INS[stem[:2]]}: a small set written in the real "
                 "file format (see the cells below), so its figures show the code at work, not the accuracy "
                 "of the real data. Set `DATA_DIR` to your copy of the data set to run it for real.")
    return text


def _label(path):
    """Put the run note at the top of the notebook at ``path`` (once)."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    if not any(NOTE_TAG in c.metadata.get("tags", ()) for c in nb.cells):
        note = nbformat.v4.new_markdown_cell(run_note(pathlib.Path(path).stem), metadata={"tags": [NOTE_TAG]})
        nb.cells.insert(1, note)
        nbformat.write(nb, path)


def _cells(path):
    import nbformat

    return [(c.cell_type, c.source) for c in nbformat.read(path, as_version=4).cells
            if NOTE_TAG not in c.metadata.get("tags", ())]


def _executed(path):
    """Whether every code cell of the notebook at ``path`` ran (a copy this build made has not yet)."""
    import nbformat

    cells = nbformat.read(path, as_version=4).cells
    return all(c.get("execution_count") is not None for c in cells if c.cell_type == "code")


def prepare_notebooks(docs):
    """Fill ``_executed/``; return the notebooks already executed (myst-nb renders them as they are)."""
    root = pathlib.Path(docs).parent
    executed_dir = pathlib.Path(docs) / "_executed"
    executed_dir.mkdir(exist_ok=True)
    done, todo = [], []
    for source in sorted((root / "notebooks").glob("*.ipynb")):
        target = executed_dir / source.name
        if target.exists() and _cells(target) == _cells(source) and _executed(target):
            done.append(source.name)
        else:
            shutil.copyfile(source, target)
            todo.append(source.stem)
        _label(target)
    if todo:
        logger.info(f"zoo_pages: executing in quick mode (not executed by the tests): {', '.join(todo)}")
    return done


def on_config_inited(app, config):
    docs = app.srcdir
    write_if_changed(os.path.join(docs, "_generated", "model_table.md"), model_table())
    section = readme_section(os.path.join(os.path.dirname(docs), "README.md"), "Scaling out")
    write_if_changed(os.path.join(docs, "_generated", "scaling_out.md"),
                     section or "# Scaling out\n\nThis version's README has no \"Scaling out\" section.\n")
    done = prepare_notebooks(docs)
    if os.environ.get("DOCS_SKIP_NOTEBOOKS") == "1":  # a quick build: the tutorials without their outputs
        logger.info("zoo_pages: DOCS_SKIP_NOTEBOOKS=1: the tutorials are rendered without running them")
        config.nb_execution_mode = "off"
    config.nb_execution_excludepatterns = [f"_executed/{name}" for name in done]
    for key, value in NOTEBOOK_ENV.items():  # the kernels inherit this process's environment
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    os.environ["ZOO_OUTPUT_DIR"] = os.path.join(app.outdir, "..", "notebook_outputs")
    # this checkout's packages, as tests/test_notebooks.py gives them, installed or not
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [os.path.dirname(docs), os.environ.get("PYTHONPATH")]))


def setup(app):
    app.connect("config-inited", on_config_inited)
    return {"parallel_read_safe": True, "version": "1"}
