"""The examples in the zoo's docstrings run and print what they say."""

import doctest
import importlib

import keras
import numpy as np
import pytest

import zoo

MODULES = ["zoo.registry", "zoo.inspection", "zoo.blocks", "zoo.builder", "zoo.weights", "zoo.models.resnet",
           "zoo.models.cifar_resnet", "zoo.models.classic", "zoo.models.tutorial", "zoo.visualize",
           "zoo.visualize_maps", "zoo.visualize_cam"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = doctest.DocTestFinder().find(module, globs={**vars(module), "zoo": zoo, "keras": keras, "np": np})
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed (see output)"
