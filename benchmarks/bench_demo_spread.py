"""How much the demo's result moves between machines of one kind: oneDNN on/off, one or two threads.

Runs ``transfer demo`` (full length, ``--seeds`` seeds) in a fresh process per
configuration: ``TF_ENABLE_ONEDNN_OPTS`` 0 and 1, pinned to one core or given
two (``taskset``; one core means one worker process, two cores two). Prints,
per configuration and method, the mean test accuracy and the per-seed values,
then the ranking of the methods in each configuration; the figures go to
BENCHMARKS.md ("The demo across machines").

    python benchmarks/bench_demo_spread.py [--seeds 3] [--quick]
"""

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHILD = """
import json, resource, sys
from transfer import demo
report = demo.run(sys.argv[1], quick=sys.argv[2] == "1", seeds=tuple(range(int(sys.argv[3]))))
usages = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]  # and its workers
print(json.dumps({"per_seed": report["per_seed"], "seconds": report["seconds"],
                  "cpu_seconds": sum(u.ru_utime + u.ru_stime for u in usages)}))
"""


def run(onednn, cores, seeds, quick):
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": str(onednn), "TF_CPP_MIN_LOG_LEVEL": "3",
           "KERAS_BACKEND": "tensorflow", "PYTHONPATH": ROOT}
    with tempfile.TemporaryDirectory() as out:
        cmd = ["taskset", "-c", ",".join(map(str, range(cores))), sys.executable, "-c", CHILD, out,
               "1" if quick else "0", str(seeds)]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rows = []
    for onednn, cores in itertools.product((0, 1), (1, 2)):
        result = run(onednn, cores, args.seeds, args.quick)
        methods = list(result["per_seed"][0])
        means = {m: sum(s[m] for s in result["per_seed"]) / len(result["per_seed"]) for m in methods}
        ranking = " > ".join(sorted(methods, key=means.get, reverse=True))
        print(f"oneDNN={onednn} cores={cores} ({result['seconds']:.0f} s, {result['cpu_seconds']:.0f} CPU s): "
              f"ranking {ranking}", flush=True)
        for m in methods:
            per = ", ".join(f"{s[m]:.3f}" for s in result["per_seed"])
            print(f"  {m:<24} mean {means[m]:.3f}  per seed {per}", flush=True)
        rows.append((onednn, cores, means, ranking))
    same = len({r[3] for r in rows}) == 1
    print(f"ranking the same in all {len(rows)} configurations: {same}")
    for m in rows[0][2]:
        values = [r[2][m] for r in rows]
        print(f"  {m:<24} mean over configurations {sum(values) / len(values):.3f}, "
              f"range {min(values):.3f}-{max(values):.3f}")


if __name__ == "__main__":
    main()
