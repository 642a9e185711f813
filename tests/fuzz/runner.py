"""Runs fuzz inputs in a child process under a memory and a time limit, and classifies how each ended.

The child (``python -m tests.fuzz.runner --child``) imports TensorFlow and the
loaders once, runs every target on its pristine seed (so a broken seed is seen at
once), then limits its own address space (``resource.RLIMIT_AS``) to what it
uses at that point plus ``memory_gb``, and runs one input per request. The parent
gives each input a deadline. Outcomes:

* ``loaded`` / ``clear error`` / ``unclear exception``: as ``tests.fuzz.targets.classify``;
* ``memory``: a ``MemoryError`` (an allocation over the limit), or the child
  killed while over it;
* ``crash``: the child died of a signal (SIGSEGV, SIGABRT...) or exited;
* ``timeout``: no answer within the deadline (the child is killed).

After a crash, a memory kill or a timeout the child is started again, so one
input never decides the next one's fate.
"""

import json
import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SEEDS = os.path.join(HERE, "seeds")
GOOD = ("loaded", "clear error")
DEADLINE_S = {"checkpoint": 120, "timm_folder": 120, "artifact": 120}  # seconds per input; generous, as the machine is shared and the run niced


def _vm_size():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize"))


SPECIAL = b"\x00fuzz-special:"  # an input standing for a special file, not for bytes
SPECIAL_KINDS = ("fifo", "dev-zero", "dev-null", "directory", "dangling")


def special(kind):
    """The input that ``seed_tree`` turns into a special file of ``kind`` (one of :data:`SPECIAL_KINDS`)."""
    return SPECIAL + kind.encode()


def _place(path, data):
    """Write ``data`` at ``path``, or make the special file it stands for."""
    kind = data[len(SPECIAL):].decode() if data.startswith(SPECIAL) else None
    if kind == "fifo":
        os.mkfifo(path)
    elif kind in ("dev-zero", "dev-null", "dangling"):
        os.symlink({"dev-zero": "/dev/zero", "dev-null": "/dev/null"}.get(kind, path + ".gone"), path)
    elif kind == "directory":
        os.mkdir(path)
    else:
        with open(path, "wb") as f:
            f.write(data)


def seed_tree(target, mutated, data):
    """A fresh temporary copy of ``target``'s seed with ``mutated`` (relative path) replaced by ``data``."""
    from tests.fuzz.targets import TARGETS  # noqa: F401  (keeps the two modules' target names in step)

    root = tempfile.mkdtemp(prefix=f"fuzz-{target}-")
    tree = os.path.join(root, "in")
    shutil.copytree(os.path.join(SEEDS, target), tree)
    os.remove(os.path.join(tree, mutated))
    _place(os.path.join(tree, mutated), data)
    return root, tree


def _child(memory_gb):
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything a library prints goes to stderr, never into the answers
    from tests.fuzz import targets

    for target, files in targets.TARGETS.items():  # warm up: imports, graphs, and every seed must load
        with open(os.path.join(SEEDS, target, files[0]), "rb") as f:
            root, tree = seed_tree(target, files[0], f.read())
        outcome, detail = targets.run(target, tree, files[0])
        shutil.rmtree(root, ignore_errors=True)
        if outcome != "loaded":
            out.write(json.dumps({"fatal": f"seed of {target} does not load: {detail}"}) + "\n")
            return
    limit = _vm_size() + int(memory_gb * (1 << 30))
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    out.write(json.dumps({"ready": limit}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        outcome, detail = targets.run(request["target"], request["tree"], request["mutated"])
        out.write(json.dumps({"outcome": outcome, "detail": detail}) + "\n")


class Runner:
    """The parent's side: ``run(target, mutated, data) -> (outcome, detail)``.

    Example (from the repository root):
        >>> with Runner() as runner:                                           # doctest: +SKIP
        ...     runner.run("keypoints_csv", "training.csv", b'"')
        ('clear error', 'ValueError: .../training.csv line 1: ...')
    """

    def __init__(self, memory_gb=3.0, log=None):
        self.memory_gb = memory_gb
        self.log = log or open(os.devnull, "w")
        self.proc = None
        self.starts = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow",
               "CUDA_VISIBLE_DEVICES": "", "TF_NUM_INTEROP_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.fuzz.runner", "--child", str(self.memory_gb)],
                                     cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log, text=True, bufsize=1)
        self.starts += 1
        answer = self._answer(600)
        if answer is None or "ready" not in answer:
            self.stop()
            raise RuntimeError(f"the fuzz child did not start: {answer}")

    def stop(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def _answer(self, timeout):
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return None
        line = self.proc.stdout.readline()
        return json.loads(line) if line else {"died": True}

    def run(self, target, mutated, data):
        if self.proc is None:
            self.start()
        root, tree = seed_tree(target, mutated, data)
        try:
            self.proc.stdin.write(json.dumps({"target": target, "tree": tree, "mutated": mutated}) + "\n")
            answer = self._answer(DEADLINE_S.get(target, 60))
            if answer is None:
                self.stop()
                return "timeout", f"no answer in {DEADLINE_S.get(target, 60)} s"
            if "died" in answer:
                code = self.proc.wait()
                self.proc = None
                if code < 0:
                    name = signal.Signals(-code).name
                    return ("memory" if name == "SIGKILL" else "crash"), f"killed by {name}"
                return "crash", f"exited with status {code}"
            return answer["outcome"], answer["detail"]
        except BrokenPipeError:
            self.stop()
            return "crash", "the child had died"
        finally:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__" and sys.argv[1:2] == ["--child"]:
    _child(float(sys.argv[2]))
