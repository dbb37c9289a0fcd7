#!/usr/bin/env python3
"""The cost of recording a trace (POOLMALLOCTRACE) and of exporting
statistics (POOLMALLOC_EXPORT), against the same program on the shim
without them. Not a test suite: a measurement for docs/observing.md.

    python3 tests/observe/overhead.py [--rounds N] [--scale S] [--lines N]

Programs: bench/pyprog.py (PYTHONMALLOC=malloc, SCALE) and sort on N
generated lines. Each round runs every (program, mode) once, in turn, so
slow phases of the machine hit every mode alike; medians over the rounds
of wall time and of CPU time (user + system of the child), then the
ratios to the untraced shim. Trace files go to a temporary directory and
their size and record rate are reported too.
"""
import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BUILD = os.environ.get("BUILD", os.path.join(ROOT, "build"))
SHIM = os.path.join(BUILD, "libpoolmalloc.so")


def run(cmd, env, stdout):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    subprocess.run(cmd, env=env, stdout=stdout, stderr=subprocess.DEVNULL, check=True)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--scale", default="0.5")
    ap.add_argument("--lines", type=int, default=2000000)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="poold-overhead.")
    try:
        data = os.path.join(tmp, "input.txt")
        with open(data, "w") as f:
            s = 12345
            for i in range(a.lines):
                s = (s * 1103515245 + 12345) % 2147483648
                f.write("%08x %d line-%d\n" % (s, i, i % 977))
        programs = {
            "python3 pyprog.py": (["/usr/bin/python3", os.path.join(ROOT, "bench", "pyprog.py"), a.scale],
                                  {"PYTHONMALLOC": "malloc"}),
            "sort": (["sort", "-S", "256M", "--parallel=2", "-T", tmp, data], {}),
        }
        modes = ["shim", "shim + trace", "shim + export"]
        times = {(p, m): [] for p in programs for m in modes}
        traces = {}
        base = {k: v for k, v in os.environ.items()
                if not k.startswith(("POOLMALLOC", "LD_PRELOAD", "PYTHONMALLOC"))}
        for r in range(a.rounds):
            for p, (cmd, extra) in programs.items():
                for m in modes:
                    env = dict(base, LD_PRELOAD=SHIM, **extra)
                    trace = os.path.join(tmp, "t.%d" % r)
                    if m == "shim + trace":
                        env["POOLMALLOCTRACE"] = trace
                    if m == "shim + export":
                        env["POOLMALLOC_EXPORT"] = tmp
                    with open(os.devnull, "w") as out:
                        times[(p, m)].append(run(cmd, env, out))
                    if m == "shim + trace":
                        size = sum(os.path.getsize(os.path.join(tmp, f)) for f in os.listdir(tmp)
                                   if f.startswith("t.%d" % r))
                        traces.setdefault(p, []).append(size)
                        for f in os.listdir(tmp):
                            if f.startswith("t.%d" % r):
                                keep = os.path.join(tmp, "last." + p.split()[0])
                                shutil.move(os.path.join(tmp, f), keep)
            sys.stderr.write("round %d/%d done\n" % (r + 1, a.rounds))
        print("%d interleaved rounds, medians; nproc %d; load average %s" % (
            a.rounds, os.cpu_count(), " ".join("%.2f" % x for x in os.getloadavg())))
        print("%-20s %-15s %9s %9s %10s %10s" % ("program", "mode", "wall s", "cpu s", "wall ratio", "cpu ratio"))
        for p in programs:
            w0 = statistics.median(w for w, _ in times[(p, "shim")])
            c0 = statistics.median(c for _, c in times[(p, "shim")])
            for m in modes:
                w = statistics.median(x for x, _ in times[(p, m)])
                c = statistics.median(y for _, y in times[(p, m)])
                print("%-20s %-15s %9.3f %9.3f %10.3f %10.3f" % (p, m, w, c, w / w0, c / c0))
        pooltrace = os.path.join(BUILD, "pooltrace")
        for p in programs:
            last = os.path.join(tmp, "last." + p.split()[0])
            out = subprocess.run([pooltrace, "summary", last], capture_output=True, text=True).stdout
            records = next((int(l.split()[1]) for l in out.splitlines() if l.startswith("records:")), 0)
            wt = statistics.median(w for w, _ in times[(p, "shim + trace")])
            print("%s: trace %.1f MB, %d records (%.1f M records/s of traced run time, %.1f bytes/record)" % (
                p, statistics.median(traces[p]) / 1e6, records, records / wt / 1e6,
                statistics.median(traces[p]) / max(records, 1)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
