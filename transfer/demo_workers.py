"""Where the demo's trainings run: two worker processes on two cores or more, else this process.

On a CPU most of a short Keras training is TensorFlow building its graph,
which takes one core, so two trainings side by side take about the time of
one. Each training sets its own seeds, so the figures do not depend on where
or in which order it runs.

Example:
    >>> with executor(1) as pool:
    ...     pool.submit(max, 2, 3).result()
    3
"""

import concurrent.futures
import multiprocessing
import os


def default_workers():
    """2 where this process may run on two cores or more (its CPU affinity, e.g. under ``taskset``), else 1."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return 2 if cores >= 2 else 1


def completed(value):
    """A future that is already done, holding ``value``."""
    future = concurrent.futures.Future()
    future.set_result(value)
    return future


class _InThisProcess:
    """The executor interface for ``workers=1``: each job runs when it is submitted."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def submit(self, fn, *args):
        return completed(fn(*args))


def executor(workers=None):
    """A ``concurrent.futures`` executor of ``workers`` fresh processes (None: :func:`default_workers`); 1: this one."""
    workers = workers or default_workers()
    if workers == 1:
        return _InThisProcess()
    # "spawn": a fork of a process that runs TensorFlow's threads can hang.
    return concurrent.futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
