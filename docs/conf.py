"""Sphinx configuration of the cnn-zoo documentation.

Build (warnings are errors):  python -m sphinx -W -b html docs docs/_build/html

Generated at build time, never by hand (see _ext/zoo_pages.py): the model table
from the registry (``zoo list --markdown``), the page of README's "Scaling out"
section, and docs/_executed/, the tutorials with their outputs. The tests
(tests/test_notebooks.py) write each notebook they execute there; this build
executes, in quick mode, only those that are missing or older than the source.

A quick build while writing (the tutorials rendered without running them, no outputs):
    DOCS_SKIP_NOTEBOOKS=1 python -m sphinx -W -b html docs docs/_build/html
Then check the pages as a reader would meet them (order, signatures, no Keras docstrings):
    python docs/check_html.py docs/_build/html
"""

import os
import sys

DOCS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(DOCS))  # the packages of this checkout, installed or not
sys.path.insert(0, os.path.join(DOCS, "_ext"))

project = "cnn-zoo"
author = "the cnn-zoo authors"
copyright = "the cnn-zoo authors, Apache-2.0"
release = "0.1.0"

extensions = [
    "myst_nb",                # Markdown pages and the notebooks (MyST parser included)
    "sphinx.ext.autodoc",     # the API reference from the docstrings
    "sphinx.ext.napoleon",    # their Args / Returns / Example sections
    "sphinx.ext.viewcode",
    "zoo_pages",              # the generated pages (model table, Scaling out, executed notebooks)
    "api_reference",          # the API pages: entry points first, real signatures, no Keras docstrings
]
exclude_patterns = ["_build", "_ext", "_generated", "Thumbs.db", ".DS_Store", "_executed/outputs", "**.ipynb_checkpoints"]

html_theme = "furo"
html_title = "cnn-zoo"
html_static_path = ["_static"]
html_css_files = ["zoo.css"]  # code that wraps instead of running off the page

# API reference (pages written by _ext/api_reference.py, in the order of _ext/api_order.py): a class's
# members in source order; a method we override without a docstring shows none of the library's.
autodoc_default_options = {"members": True, "undoc-members": True, "member-order": "bysource"}
autodoc_inherit_docstrings = False
autodoc_typehints = "signature"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_use_ivar = True  # a dataclass's Attributes section would describe its fields a second time
add_module_names = False

# Notebooks: rendered with the outputs already in docs/_executed; zoo_pages lists the ones this
# build must execute itself (missing or stale), in quick mode on the offline stand-ins.
nb_execution_mode = "force"
nb_execution_excludepatterns = []  # filled in by zoo_pages
nb_execution_timeout = 900
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_output_stderr = "remove"  # TensorFlow's start-up lines are not part of the lesson
myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3
