"""The built documentation reads as a reference should: entry points first, real signatures, no Keras docstrings.

The checks live in docs/check_html.py (the documentation build runs it too). The tests on the site run
when one has been built (``python -m sphinx -W -b html docs docs/_build/html``) and are skipped otherwise;
each regression test breaks a copy of a real built page the way a regression would and expects the
checker to say so. The ordering test needs Sphinx only, no build.
"""

import importlib
import pathlib
import re
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SITE = ROOT / "docs" / "_build" / "html"
sys.path[:0] = [str(ROOT / "docs"), str(ROOT / "docs" / "_ext")]
check_html = importlib.import_module("check_html")

needs_site = pytest.mark.skipif(not (SITE / "api" / "transfer.html").exists(),
                                reason="no built site: python -m sphinx -W -b html docs docs/_build/html")


@pytest.fixture(autouse=True)
def _free_models():
    """Overrides conftest's: these tests build no models, so there is no Keras session to clear."""
    yield


@pytest.fixture(scope="module")
def transfer_page():
    return (SITE / "api" / "transfer.html").read_text()


@needs_site
def test_built_site_has_no_problems():
    assert check_html.check(SITE) == []


@needs_site
def test_first_screen_of_transfer_names_the_three_calls_with_signatures(transfer_page):
    entries = check_html.entries(transfer_page)
    top = [(ident, sig) for kind, ident, sig, _ in entries if kind == "function"][:3]
    assert [ident for ident, _ in top] == ["transfer.load_backbone", "transfer.attach_head", "transfer.fine_tune"]
    assert "weights='imagenet'" in top[0][1] and "dropout=0.0" in top[1][1] and "epochs=(5, 5)" in top[2][1]
    opening = check_html.text(transfer_page.split('<dl class="py', 1)[0])
    assert "transfer: pretrained" not in opening.lower() and "fine-tuning" in opening  # said once, by the docstring


@needs_site
def test_checker_catches_a_function_moved_down(transfer_page):
    first = re.search(r'<dl class="py function">.*?</dl>', transfer_page, re.S).group(0)
    moved = transfer_page.replace(first, "", 1).replace("</article>", first + "</article>", 1)
    problems = check_html.check_order("transfer", moved)
    assert any("expected the entry points" in p for p in problems)
    assert any("come after the class" in p for p in problems)


@needs_site
def test_checker_catches_args_kwargs_and_missing_maker(transfer_page):
    broken = re.sub(r'(id="transfer.TransferModel">.*?</span></span>)', r"\1(*args, **kwargs)", transfer_page,
                    count=1, flags=re.S)
    broken = re.sub(r"<p>Made by .*?</p>", "", broken, count=1, flags=re.S)  # Backbone's first paragraph
    problems = check_html.check_signatures("transfer", broken)
    assert any("transfer.TransferModel shows" in p and "*args, **kwargs" in p for p in problems)
    assert any("transfer.Backbone's first paragraph does not give transfer.load_backbone" in p for p in problems)


@needs_site
def test_checker_catches_an_inherited_keras_docstring(transfer_page):
    broken = transfer_page.replace("</article>", "<p>Returns the config of the optimizer.</p></article>", 1)
    assert check_html.check_library_docstrings("transfer", broken) == [
        "api/transfer.html: a library docstring: 'Returns the config of the optimizer.'"]


def test_unknown_names_go_after_the_entry_points_and_among_the_classes():
    pytest.importorskip("sphinx")
    api_reference = importlib.import_module("api_reference")

    def function(name, module):
        def fn():
            pass

        fn.__name__, fn.__module__ = name, module
        return fn

    # Names api_order.py does not list (a later release's additions): a function of an entry point's
    # module, a function of a new module, a class.
    names = ["Backbone", "Planner", "TransferModel", "attach_head", "publish", "fine_tune", "shrink_head",
             "load_backbone", "save_model"]
    objects = {n: type(n, (), {"__module__": "transfer.model.backbone"}) for n in names if n[0].isupper()}
    modules = {"attach_head": "transfer.model.heads", "fine_tune": "transfer.training.finetune", "load_backbone": "transfer.sources.backbones",
               "save_model": "transfer.serving.saving", "publish": "transfer.publish", "shrink_head": "transfer.model.heads"}
    objects.update({n: function(n, m) for n, m in modules.items()})
    functions, classes = api_reference.ordered("transfer", names, objects)
    assert functions[:4] == ["load_backbone", "attach_head", "fine_tune", "save_model"]
    assert functions[4] == "shrink_head"  # beside attach_head's module, before modules no entry point names
    assert set(functions[4:]) == {"shrink_head", "publish"}
    assert classes == ["Backbone", "TransferModel", "Planner"]
