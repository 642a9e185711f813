"""Every loader on damaged files, each in a child process under a memory and a time limit (issue 19).

Three checks share one child (``tests.fuzz.runner``; its start, with TensorFlow
and a warm-up of every target, is most of the time):

* each class of damage the campaign found (``tests.fuzz.known``) ends as it must
  now, with its message; before the fixes these were a SIGSEGV, memory blow-ups,
  raw library exceptions naming no file, and images that failed mid-epoch;
* every input of the regression corpus (``tests/fuzz/corpus``, what campaigns
  found) ends ``loaded`` or ``clear error``;
* a short mutation run over every target (a fixed seed, so the same inputs each
  time) finds nothing. The long run is ``python -m tests.fuzz.campaign``.
"""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # tests.fuzz is imported as a package from the repository root

from tests.fuzz.campaign import CORPUS, run_campaign  # noqa: E402
from tests.fuzz.known import KNOWN  # noqa: E402
from tests.fuzz.runner import GOOD, Runner  # noqa: E402
from tests.fuzz.targets import TARGETS  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runner():
    with Runner(memory_gb=3.0) as r:
        r.start()
        yield r


@pytest.mark.parametrize("name, target, mutated, make, expected", KNOWN, ids=[k[0] for k in KNOWN])
def test_known_damage_ends_clearly(runner, name, target, mutated, make, expected):
    outcome, detail = runner.run(target, mutated, make())
    assert (outcome, expected[1] in detail) == (expected[0], True), f"{name}: {outcome}: {detail}"


def _corpus():
    if not os.path.isdir(CORPUS):
        return []
    return [(target, name) for target in sorted(os.listdir(CORPUS)) for name in sorted(os.listdir(
        os.path.join(CORPUS, target)))]


def test_regression_corpus_ends_loaded_or_in_a_clear_error(runner):
    entries = _corpus()
    assert entries and {t for t, _ in entries} <= set(TARGETS)
    bad = []
    for target, name in entries:
        with open(os.path.join(CORPUS, target, name), "rb") as f:
            data = f.read()
        outcome, detail = runner.run(target, name.split("--", 1)[1].replace("~", "/"), data)
        if outcome not in GOOD:
            bad.append(f"{target}/{name}: {outcome}: {detail}")
    assert not bad, "\n".join(bad)


def test_short_mutation_run_finds_nothing(runner):
    counts, findings = run_campaign(inputs_per_target=10, seed=19, runner=runner, report=lambda m: None)
    assert all(sum(c.values()) == 10 for c in counts.values()) and set(counts) == set(TARGETS)
    assert not findings, "\n".join(findings)
