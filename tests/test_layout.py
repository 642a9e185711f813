"""The house's structure holds: transfer's rooms import only downwards, the head kinds live in one table,
and the data package stands on its own floor (``import datasets`` builds and registers nothing of the zoo)."""

import ast
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
ROOMS = ("model", "sources", "training", "serving")  # from the ground floor up


def _imports(path):
    """The transfer modules ``path`` imports (top-level and inside functions)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "transfer":
            names += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names += [a.name for a in node.names if a.name.split(".")[0] == "transfer"]
    return names


def test_rooms_import_only_rooms_below_them():
    for floor, room in enumerate(ROOMS):
        for path in sorted((ROOT / "transfer" / room).glob("*.py")):
            for name in _imports(path):
                parts = name.split(".")
                assert len(parts) > 1, f"{path.relative_to(ROOT)} imports the top package transfer"
                if parts[1] in ROOMS:
                    assert ROOMS.index(parts[1]) <= floor, f"{path.relative_to(ROOT)} imports {name}, a room above"
                else:
                    raise AssertionError(f"{path.relative_to(ROOT)} imports {name}, outside the rooms")


def test_head_kinds_are_spelled_in_one_module():
    kinds = ("binary", "multiclass", "multilabel", "regression")
    spelling = set()
    for path in (ROOT / "transfer").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in kinds:
                spelling.add(path.relative_to(ROOT).as_posix())
    assert spelling == {"transfer/model/head_kinds.py"}


def test_importing_datasets_and_viz_loads_no_builder_and_registers_no_record():
    code = ("import sys, datasets, viz; print(' '.join(sorted(m for m in sys.modules if m.startswith('zoo'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    loaded = set(out.stdout.split())
    assert "zoo.checks" in loaded and not loaded & {"zoo.registry", "zoo.models", "zoo.configs"}, loaded


def test_a_public_zoo_name_loads_the_models_once_asked():
    code = "import zoo, sys; n = len(zoo.list_models()); print(n, 'zoo.models.resnet' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    count, loaded = out.stdout.split()
    assert int(count) >= 30 and loaded == "True"
