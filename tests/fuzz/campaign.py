"""The mutation campaign over every loader: ``python -m tests.fuzz.campaign --minutes 60``.

Each round picks the target that has had the least time so far (every loader
gets the same share of the run), mutates one file of its seed
(``tests.fuzz.mutate``), runs it in the child (``tests.fuzz.runner``) and counts
the outcome. An input that did not end ``loaded`` or ``clear error`` is saved under
``--out``/findings, the first few of each kind (the exception's type and message
with numbers and paths taken out). ``--corpus`` also copies the smallest input of
each kind into the regression corpus that ``tests/test_fuzz.py`` replays.

At the end (and every minute, to ``--out``/summary.json) it writes the table of
inputs per loader and outcome, in Markdown.

Run it niced on a shared machine: ``nice -n 19 python -m tests.fuzz.campaign --minutes 60``.
"""

import argparse
import collections
import hashlib
import json
import os
import random
import re
import time

from tests.fuzz import mutate
from tests.fuzz.runner import GOOD, SEEDS, SPECIAL_KINDS, Runner, special
from tests.fuzz.targets import TARGETS

OUTCOMES = ("loaded", "clear error", "unclear exception", "crash", "memory", "timeout")
CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
SPECIAL_SHARE = 0.03  # inputs that are a FIFO, a link to /dev/zero or /dev/null, a directory, a dangling link
MAX_CORPUS_FILE = 400_000  # bytes; the corpus stays small (about 2 MB in all)


def signature(target, outcome, detail):
    """What makes two findings the same kind: numbers, paths and quoted values taken out."""
    text = re.sub(r"/tmp/\S+|'[^']*'|\"[^\"]*\"|\d+", "_", detail)[:90]
    return f"{target} | {outcome} | {text}"


def corpus_name(mutated, data):
    return f"{hashlib.sha1(data).hexdigest()[:12]}--{mutated.replace('/', '~')}"


def save_input(folder, target, mutated, data):
    os.makedirs(os.path.join(folder, target), exist_ok=True)
    path = os.path.join(folder, target, corpus_name(mutated, data))
    with open(path, "wb") as f:
        f.write(data)
    return path


def one_input(rng, target):
    mutated = rng.choice(TARGETS[target])
    if rng.random() < SPECIAL_SHARE:
        return mutated, special(rng.choice(SPECIAL_KINDS))
    with open(os.path.join(SEEDS, target, mutated), "rb") as f:
        seed = f.read()
    return mutated, mutate.mutate_file(rng, os.path.basename(mutated), seed)


def table(counts, seconds=None):
    """Markdown: one row per loader, one column per outcome."""
    lines = ["| target | inputs | " + " | ".join(OUTCOMES) + (" | seconds |" if seconds else " |"),
             "|---|---:|" + "---:|" * len(OUTCOMES) + ("---:|" if seconds else "")]
    for target in TARGETS:
        c = counts.get(target, {})
        cells = [f"{sum(c.values()):,}"] + [f"{c.get(o, 0):,}" for o in OUTCOMES]
        extra = f" {seconds.get(target, 0):.0f} |" if seconds else ""
        lines.append(f"| {target} | " + " | ".join(cells) + " |" + extra)
    return "\n".join(lines)


def run_campaign(seconds=None, inputs_per_target=None, targets=None, seed=0, out=None, corpus=None,
                 memory_gb=3.0, log=None, report=print, runner=None):
    """Run the loop for ``seconds`` (or ``inputs_per_target`` each); return ``(counts, findings)``.

    ``findings`` maps each kind of bad ending (see :func:`signature`) to ``[(target, mutated, data)]``.
    ``runner``: a started :class:`~tests.fuzz.runner.Runner` to use (default: one of its own).
    """
    if runner is not None:
        return _loop(runner, seconds, inputs_per_target, targets, seed, out, corpus, report)
    with Runner(memory_gb=memory_gb, log=log) as own:
        own.start()
        return _loop(own, seconds, inputs_per_target, targets, seed, out, corpus, report)


def _loop(runner, seconds, inputs_per_target, targets, seed, out, corpus, report):
    rng = random.Random(seed)
    targets = list(targets or TARGETS)
    counts = {t: collections.Counter() for t in targets}
    spent = {t: 0.0 for t in targets}
    findings = collections.defaultdict(list)
    start = last_summary = time.monotonic()
    while True:
        active = [t for t in targets if inputs_per_target is None or sum(counts[t].values()) < inputs_per_target]
        if not active or (seconds is not None and time.monotonic() - start > seconds):
            break
        target = min(active, key=spent.get)
        mutated, data = one_input(rng, target)
        t0 = time.monotonic()
        outcome, detail = runner.run(target, mutated, data)
        spent[target] += time.monotonic() - t0
        counts[target][outcome] += 1
        if outcome not in GOOD:
            kind = signature(target, outcome, detail)
            if not findings[kind]:
                report(f"new finding: {kind}\n    {detail[:300]}")
            if len(findings[kind]) < 3:
                findings[kind].append((target, mutated, data))
                if out:
                    save_input(os.path.join(out, "findings"), target, mutated, data)
        if out and time.monotonic() - last_summary > 60:
            last_summary = time.monotonic()
            _summary(out, counts, spent, findings, time.monotonic() - start, runner.starts)
    if out:
        _summary(out, counts, spent, findings, time.monotonic() - start, runner.starts)
    if corpus:
        for kind, items in findings.items():
            target, mutated, data = min(items, key=lambda item: len(item[2]))
            if len(data) <= MAX_CORPUS_FILE:
                save_input(corpus, target, mutated, data)
    return counts, findings


def _summary(out, counts, spent, findings, elapsed, starts):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump({"elapsed_s": round(elapsed), "child_starts": starts, "counts": counts,
                   "seconds": spent, "findings": sorted(findings)}, f, indent=1)
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write(table(counts, spent) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--seed", type=int, default=0, help="the random seed of the mutations")
    parser.add_argument("--targets", default=",".join(TARGETS), help="comma-separated; default: all")
    parser.add_argument("--out", default="fuzz-out", help="findings, summary.json and table.md go here")
    parser.add_argument("--corpus", action="store_true", help=f"add one input per new finding to {CORPUS}")
    parser.add_argument("--memory-gb", type=float, default=3.0, help="address space the child may add")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "child.log"), "w") as log:
        counts, findings = run_campaign(args.minutes * 60, targets=args.targets.split(","), seed=args.seed,
                                        out=args.out, corpus=CORPUS if args.corpus else None,
                                        memory_gb=args.memory_gb, log=log, report=lambda m: print(m, flush=True))
    print(table(counts))
    print(f"{len(findings)} kinds of finding" + "".join(f"\n  {k}" for k in sorted(findings)))
    return 1 if findings else 0


if __name__ == "__main__":
    raise SystemExit(main())
