"""The demo's trainings: the same figure in this process and in a worker process; how many workers it starts."""

import os

import pytest

from transfer import demo


@pytest.mark.slow
def test_a_training_scores_the_same_in_a_worker_process():
    args = ("resnet20", 5, 1, 1)  # backbone, shots per class, seed, epochs (the scratch run trains twice that)
    here, history = demo.from_scratch(*args)
    with demo._executor(2) as pool:
        there, history_there = pool.submit(demo.from_scratch, *args).result()
    assert isinstance(pool, demo.concurrent.futures.ProcessPoolExecutor)
    assert (there.method, there.seed, there.epochs) == (here.method, here.seed, here.epochs) == ("from scratch", 1, 2)
    assert there.accuracy == here.accuracy and history_there == history, (there, here)


def test_jobs_run_when_submitted_with_one_worker():
    calls = []
    with demo._executor(1) as pool:
        future = pool.submit(lambda a, b: calls.append((a, b)) or a + b, 2, 3)
        assert calls == [(2, 3)] and future.done() and future.result() == 5


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="no CPU affinity on this platform")
def test_default_workers_follow_the_cores_this_process_may_use(monkeypatch):
    for cores, workers in (({0}, 1), ({0, 1}, 2), (set(range(16)), 2)):
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid, cores=cores: cores)
        assert demo.default_workers() == workers, cores
