"""The demo's trainings in this process and in workers; the shipped 0-4 weights; pre-training here when asked."""

import concurrent.futures
import os
import shutil

import keras
import pytest

import transfer
from datasets import digits
from transfer import demo, demo_weights, demo_workers
from zoo.files import sha256_of


@pytest.mark.slow
def test_a_training_scores_the_same_in_a_worker_process():
    # A small backbone: what could differ between the processes is the seeding, not the network.
    args = ("cnn_mnist", 5, 1, 1)  # backbone, shots per class, seed, epochs (the scratch run trains twice that)
    here, history = demo.from_scratch(*args)
    with demo_workers.executor(2) as pool:
        there, history_there = pool.submit(demo.from_scratch, *args).result()
    assert isinstance(pool, concurrent.futures.ProcessPoolExecutor)
    assert (there.method, there.seed, there.epochs) == (here.method, here.seed, here.epochs) == ("from scratch", 1, 2)
    assert there.accuracy == here.accuracy and history_there == history, (there, here)


def test_jobs_run_when_submitted_with_one_worker():
    calls = []
    with demo_workers.executor(1) as pool:
        future = pool.submit(lambda a, b: calls.append((a, b)) or a + b, 2, 3)
        assert calls == [(2, 3)] and future.done() and future.result() == 5


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="no CPU affinity on this platform")
def test_default_workers_follow_the_cores_this_process_may_use(monkeypatch):
    for cores, workers in (({0}, 1), ({0, 1}, 2), (set(range(16)), 2)):
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid, cores=cores: cores)
        assert demo_workers.default_workers() == workers, cores


def test_the_shipped_weights_are_their_records_and_a_changed_file_is_refused(tmp_path):
    weights, record = demo_weights.shipped(demo.BACKBONE, (20, 20, 1))
    assert record["epochs"] == demo.EPOCHS[0] and record["copies"] == demo.COPIES, record
    assert len(record["history"]["loss"]) == record["epochs"] and record["accuracy_0_4"] > 0.9, record
    for name in (os.path.basename(weights), os.path.basename(weights).replace(".weights.h5", ".json")):
        shutil.copyfile(os.path.join(demo_weights.FOLDER, name), tmp_path / name)
    copy = tmp_path / os.path.basename(weights)
    with open(copy, "r+b") as f:
        f.seek(-1, os.SEEK_END)
        last = f.read(1)
        f.seek(-1, os.SEEK_END)
        f.write(bytes([last[0] ^ 1]))
    with pytest.raises(ValueError, match="not the file its record describes"):
        demo_weights.shipped(demo.BACKBONE, (20, 20, 1), folder=tmp_path)
    with pytest.raises(ValueError, match="pretrain_here=True"):
        demo.run(str(tmp_path / "out"), backbone="resnet32", pretrain_here=False)


@pytest.mark.slow
def test_the_shipped_features_separate_digits_0_to_4_where_random_weights_do_not():
    # The record's accuracy came with its head, which is not shipped: a linear classifier on the pooled
    # features of the shipped base stands in for it, against the same base with its random initial weights.
    from sklearn.linear_model import LogisticRegression

    x, y = digits.load_canvases()
    x, y = x[y < 5], y[y < 5]
    n_val = len(x) // 5  # pretrain's split: the first fifth is held out
    scores = {}
    for weights in (demo_weights.shipped(demo.BACKBONE, x.shape[1:])[0], None):
        keras.utils.set_random_seed(0)
        base = transfer.load_backbone(demo.BACKBONE, weights=weights, input_shape=x.shape[1:])
        features = transfer.extract_features(base, x, pooling="avg")
        classifier = LogisticRegression(max_iter=2000).fit(features[n_val:], y[n_val:])
        scores[weights is None] = classifier.score(features[:n_val], y[:n_val])
    assert scores[False] > 0.9 and scores[False] > scores[True] + 0.3, scores


@pytest.mark.slow
def test_the_0_4_network_is_the_shipped_one_unless_asked_to_pre_train_here(tmp_path):
    # run() takes the 0-4 network from demo._pretrained; the rest of its path is the quick demo's (test_transfer_cli).
    record = demo_weights.shipped(demo.BACKBONE, (20, 20, 1))[1]
    with demo_workers.executor(1) as pool:
        path, history, first = demo._pretrained(pool, None, demo.BACKBONE, str(tmp_path / "shipped"), 1).result()
        assert (first.method, first.epochs, first.accuracy) == (demo.SHIPPED, record["epochs"], record["accuracy_0_4"])
        assert sha256_of(path) == record["sha256"] and history == record["history"]
        path, history, here = demo._pretrained(pool, True, demo.BACKBONE, str(tmp_path / "here"), 1).result()
    assert (here.method, here.epochs, len(history["loss"])) == ("pre-training on 0-4", 1, 1)
    assert here.seconds > 0 and here.accuracy > 0.5 and sha256_of(path) != record["sha256"], here
    base = transfer.load_backbone(demo.BACKBONE, weights=path, input_shape=(20, 20, 1))  # the fine-tunes load it so
    assert base.count_params() > 200_000


def test_a_written_record_is_accepted_by_shipped_and_names_its_file(tmp_path):
    weights, record = demo_weights.shipped(demo.BACKBONE, (20, 20, 1))
    copy = shutil.copyfile(weights, tmp_path / os.path.basename(weights))
    settings = {k: record[k] for k in ("backbone", "input_shape", "epochs", "copies", "batch_size")}
    written = demo_weights.write_record(copy, record["history"], 0.5, 1.23, **settings)
    assert (written["sha256"], written["accuracy_0_4"], written["seconds"]) == (record["sha256"], 0.5, 1.2)
    assert demo_weights.shipped(demo.BACKBONE, (20, 20, 1), folder=tmp_path) == (str(copy), written)
    assert demo_weights.shipped(demo.BACKBONE, (32, 32, 1), folder=tmp_path) is None  # another input: none shipped
