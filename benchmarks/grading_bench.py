"""What the sandbox costs, and what a second job buys, when grading a class.

Builds the demo course (``lessonlib.grading.demo``) in a temporary folder,
releases it, writes a class of students (honest, blank, buggy, careless and
cheating ones that finish on their own: no infinite loops, so that times
measure grading and not the time-out) and grades it with ``lessonlib grade``
in every combination of sandbox on/off and job count. The combinations
are interleaved and repeated (A B C D A B C D ...), the minimum of each is
kept, so that a noisy machine slows every combination alike.

    python benchmarks/grading_bench.py                       # 12 students, 1 and 2 jobs
    python benchmarks/grading_bench.py --students 24 --repeat 3 --output grading.json

Prints, and writes as JSON with ``--output``: the wall time of each
combination, seconds per notebook, the sandbox's overhead (sandboxed /
plain, per job count) and the speed-up of N jobs over 1 (sandboxed). Every
run must write the same scores (the flags differ: plain runs are flagged).

Not a test: the times depend on the machine and what else runs on it.
"""

import argparse
import contextlib
import csv
import io
import json
import os
import shutil
import sys
import tempfile
import time

from lessonlib.cli import main
from lessonlib.grading.demo import make_demo_class, make_demo_course

#: Students that finish on their own (the hostile ones that loop, hog or
#: outlive the run without a sandbox are left out).
CLASS = ["honest", "blank", "buggy", "warner", "misnamer", "patcher", "forger", "spy",
         "copier", "mangler", "crasher"]


def _quiet(argv):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        status = main(argv)
    if status != 0:
        sys.exit(buf.getvalue())
    return buf.getvalue()


def _scores(path):
    with open(path, newline="") as fh:
        return [(r["student_id"], r["assignment"], r["score"]) for r in csv.DictReader(fh)]


def run(students=12, jobs=(1, 2), repeat=1, timeout=30):
    """Grade the class in every combination; return the figures as a dict."""
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]
    work = tempfile.mkdtemp(prefix="grading-bench-")
    try:
        course = make_demo_course(os.path.join(work, "course"))
        _quiet(["--course", course, "release"])
        subs = os.path.join(work, "subs")
        make_demo_class(course, subs, students=CLASS[:students])
        for k in range(len(CLASS), students):   # more honest students under new ids
            shutil.copytree(os.path.join(subs, "honest"), os.path.join(subs, f"honest{k}"))
        n = len(os.listdir(subs))
        notebooks = 2 * n
        print(f"{n} students x 2 assignments, {os.cpu_count()} CPU(s), "
              f"{repeat} repeat(s) per combination")
        combos = [(sandboxed, j) for sandboxed in (True, False) for j in jobs]
        times = {c: [] for c in combos}
        scores = {}
        for _ in range(repeat):
            for sandboxed, j in combos:
                out = os.path.join(work, f"out-{sandboxed}-{j}")
                argv = ["--course", course, "grade", subs, "--out", out, "--jobs", str(j),
                        "--timeout", str(timeout)] + ([] if sandboxed else ["--no-sandbox"])
                t0 = time.perf_counter()
                _quiet(argv)
                times[(sandboxed, j)].append(time.perf_counter() - t0)
                scores[(sandboxed, j)] = _scores(os.path.join(out, "grades.csv"))
        best = {c: min(t) for c, t in times.items()}
        rows = []
        for (sandboxed, j), t in best.items():
            rows.append({"sandbox": sandboxed, "jobs": j, "seconds": round(t, 2),
                         "seconds_per_notebook": round(t * j / notebooks, 2),
                         "all_runs": [round(x, 2) for x in times[(sandboxed, j)]]})
            print(f"  sandbox {'on ' if sandboxed else 'off'}  --jobs {j}: {t:6.1f} s "
                  f"({t * j / notebooks:.2f} s per notebook per job)")
        overhead = {j: best[(True, j)] / best[(False, j)] for j in jobs}
        for j in jobs:
            print(f"  sandbox overhead with {j} job(s): {100 * (overhead[j] - 1):+.0f} %")
        speedup = {j: best[(True, jobs[0])] / best[(True, j)] for j in jobs[1:]}
        for j, s in speedup.items():
            print(f"  speed-up of {j} jobs over {jobs[0]} (sandboxed): {s:.2f}x")
        same = len({tuple(v) for v in scores.values()}) == 1
        print("  scores identical across every combination:", "yes" if same else "NO")
        return {"students": n, "notebooks": notebooks, "cpus": os.cpu_count(),
                "repeat": repeat, "runs": rows,
                "sandbox_overhead": {str(j): round(v, 3) for j, v in overhead.items()},
                "speedup": {str(j): round(v, 3) for j, v in speedup.items()},
                "scores_identical": same}
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--students", type=int, default=12, help="class size (at least 1)")
    p.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    p.add_argument("--repeat", type=int, default=1, help="runs per combination (min kept)")
    p.add_argument("--timeout", type=int, default=30, help="per-cell timeout in seconds")
    p.add_argument("--output", help="write the figures as JSON to this file")
    a = p.parse_args()
    if a.students < 1 or any(j < 1 for j in a.jobs) or a.repeat < 1:
        p.error("--students, --jobs and --repeat must be positive")
    result = run(a.students, tuple(a.jobs), a.repeat, a.timeout)
    if a.output:
        with open(a.output, "w") as fh:
            json.dump(result, fh, indent=1)
