"""The examples in every module's docstrings run and print what they say (zoo, transfer, datasets).

Modules are found by walking the packages, so a new module's examples are tested
without being listed here. Examples that need files or a network are marked
``# doctest: +SKIP`` where they stand. ``tmp`` is a fresh folder for examples that write.
"""

import doctest
import importlib
import os
import pkgutil

import keras
import numpy as np
import pytest

PACKAGES = ("zoo", "transfer", "datasets", "viz")


def _modules():
    names = []
    for package in PACKAGES:
        module = importlib.import_module(package)
        names.append(package)
        names += [m.name for m in pkgutil.walk_packages(module.__path__, prefix=f"{package}.")
                  if not m.name.endswith("__main__")]
    return sorted(names)


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name, tmp_path, monkeypatch):
    import datasets
    import transfer
    import zoo

    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(name)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    globs = {**vars(module), "zoo": zoo, "transfer": transfer, "datasets": datasets, "keras": keras, "np": np,
             "os": os, "tmp": str(tmp_path)}
    for test in doctest.DocTestFinder().find(module, globs=globs):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed (see output)"
