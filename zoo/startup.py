"""A quiet start for the command lines: TensorFlow's start-up lines kept off the terminal.

TensorFlow writes lines on stderr while it is imported (CUDA stubs, CPU
features, absl's "before InitializeLog" warning), some from C++ before its
log level applies, so ``TF_CPP_MIN_LOG_LEVEL`` alone does not hide them.
When the process is one of this project's commands (the ``zoo`` and
``transfer`` console scripts, or ``python -m zoo`` / ``python -m transfer``),
:func:`quiet_start` imports the backend with stderr sent to a temporary file,
and shows what was written there only if the import fails. Everywhere else
(notebooks, scripts, tests) nothing changes: TensorFlow's lines matter to
people debugging a GPU set-up.

Example:
    >>> is_command(["/usr/bin/zoo", "list"]), is_command(["-m"]), is_command(["train.py"])
    (True, True, False)
    >>> is_command(["/src/transfer/__main__.py", "demo"]), is_command(["/src/app/__main__.py"])
    (True, False)
"""

import contextlib
import os
import sys
import tempfile

COMMANDS = ("zoo", "transfer")


def is_command(argv=None):
    """Whether this process runs one of the command lines.

    ``python -m transfer`` shows ``"-m"`` while it imports, then the path of
    ``transfer/__main__.py``, which is what a worker process started by the
    command (``multiprocessing``'s spawn) is given.
    """
    argv = sys.argv if argv is None else argv
    if not argv:
        return False
    folder, name = os.path.split(argv[0])
    return argv[0] == "-m" or name in COMMANDS or (name == "__main__.py" and os.path.basename(folder) in COMMANDS)


@contextlib.contextmanager
def stderr_to_file():
    """Send file descriptor 2 (C++ and Python alike) to a temporary file; yields that file."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield captured
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def quiet_start():
    """For a command: quiet TensorFlow's logging and import the Keras backend without its start-up lines."""
    if not is_command() or "keras" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    error = None
    with stderr_to_file() as captured:
        try:
            import keras  # noqa: F401  (imports the backend: TensorFlow's lines are written now)
        except BaseException as err:  # shown below, with what the import wrote
            error = err
            captured.seek(0)
            written = captured.read()
    if error is not None:
        sys.stderr.write(written.decode(errors="replace"))
        raise error
    # Python-side TensorFlow warnings (e.g. tf.function retracing) go through the "tensorflow" logger.
    import logging

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
