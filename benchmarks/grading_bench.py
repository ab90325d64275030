"""How long does grading a class take with 1 job and with N jobs?

Builds the demo course (``lessonlib.grading.demo``) in a temporary folder,
releases it, writes a synthetic class (honest, blank, buggy, faulty and
cheating students, two assignments each) and grades it with
``lessonlib grade`` once per job count, printing the wall times and
checking that every run writes the same grades.csv.

    python benchmarks/grading_bench.py                 # 13 students, 1 vs 2 jobs
    python benchmarks/grading_bench.py --jobs 1 2 4 --copies 2

Not a test: the times depend on the machine and what else runs on it.
"""

import argparse
import contextlib
import io
import os
import shutil
import sys
import tempfile
import time

from lessonlib.cli import main
from lessonlib.grading.demo import DEMO_STUDENTS, make_demo_class, make_demo_course


def _quiet(argv):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        status = main(argv)
    if status != 0:
        sys.exit(buf.getvalue())
    return buf.getvalue()


def run(jobs=(1, 2), copies=1, timeout=10):
    """Grade the synthetic class once per job count; return ``{jobs: seconds}``."""
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]
    work = tempfile.mkdtemp(prefix="grading-bench-")
    try:
        course = make_demo_course(os.path.join(work, "course"))
        _quiet(["--course", course, "release"])
        subs = os.path.join(work, "subs")
        make_demo_class(course, subs)
        for k in range(1, copies):   # more students: copies of the class under new ids
            for student in DEMO_STUDENTS:
                shutil.copytree(os.path.join(subs, student),
                                os.path.join(subs, f"{student}{k + 1}"))
        n = len(os.listdir(subs))
        print(f"{n} students x 2 assignments, per-cell timeout {timeout} s, "
              f"{os.cpu_count()} CPU(s)")
        times, csvs = {}, {}
        for j in jobs:
            out = os.path.join(work, f"out{j}")
            t0 = time.perf_counter()
            _quiet(["--course", course, "grade", subs, "--out", out, "--jobs", str(j),
                    "--timeout", str(timeout)])
            times[j] = time.perf_counter() - t0
            with open(os.path.join(out, "grades.csv")) as fh:
                csvs[j] = fh.read()
            print(f"  --jobs {j}: {times[j]:6.1f} s  ({times[j] / n:.1f} s per student)")
        base = jobs[0]
        for j in jobs[1:]:
            print(f"  speed-up of {j} jobs over {base}: {times[base] / times[j]:.2f}x")
        same = all(c == csvs[base] for c in csvs.values())
        print("  grades.csv identical across job counts:", "yes" if same else "NO")
        for j in jobs[1:]:
            for a, b in zip(csvs[base].splitlines(), csvs[j].splitlines()):
                if a != b:
                    print(f"    --jobs {base}: {a}\n    --jobs {j}: {b}")
        return times
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    p.add_argument("--copies", type=int, default=1, help="copies of the 13-student class")
    p.add_argument("--timeout", type=int, default=10, help="per-cell timeout in seconds")
    a = p.parse_args()
    run(tuple(a.jobs), a.copies, a.timeout)
