#!/usr/bin/python3
"""The benchmark driver behind `make bench`.

Runs every workload against every allocator, interleaved (round 1: each
workload, each allocator in turn; round 2: the same again, starting with
the next allocator; ...), one fresh process per measurement, then hands the samples to report.py for the
tables, the CSV and the JSON under build/bench/.

    /usr/bin/python3 bench/bench.py [--build DIR] [--quick] [--rounds N]
                                    [--only REGEX] [--scale X]
"""
import argparse
import glob
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402

PYTHON = "/usr/bin/python3"
LIBDIRS = ["/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib", "/lib/x86_64-linux-gnu"]

# name, binary kind, shared object to preload (None: nothing)
ALLOCATORS = [
    ("glibc", "malloc", None),
    ("jemalloc", "malloc", "libjemalloc.so.2"),
    ("mimalloc", "malloc", "libmimalloc.so.2"),
    ("tcmalloc", "malloc", "libtcmalloc_minimal.so.4"),
    ("pymalloc", "pymalloc", None),
    ("pool", "pool", None),
    ("pool-shim", "malloc", "libpoolmalloc.so"),
    ("poolpython", "poolpython", None),   # the Python workloads only (PYTHON_ONLY)
]
ANCHORS = ["glibc", "jemalloc", "mimalloc", "tcmalloc", "pymalloc"]
OURS = ["pool", "pool-shim"]
# Rows that only run the Python program (an allocator installed into
# CPython itself rather than preloaded): list them here and in ALLOCATORS,
# with their environment in PYTHON_ENV.
# poolpython: build/poolpython (CPython with the pool allocator as its mem
# and obj domains, PEP 445) runs the Python workloads instead of python3.
POOLPYTHON = "poolpython"
PYTHON_ONLY = [POOLPYTHON]
# The Python program's environment per row; default: CPython's allocator
# switched to malloc, which the row's preload (if any) provides.
PYTHON_ENV = {"pymalloc": {}, POOLPYTHON: {}}
PYTHON_ENV_DEFAULT = {"PYTHONMALLOC": "malloc"}
# The Python workloads: name -> script and arguments (before the scale).
PY_SCRIPTS = {"python": ["pyprog.py"]}
PY_SCRIPTS.update({"py-" + w: ["pywork.py", w] for w in
                   ("objects", "dicts", "json", "regex", "classes")})


class Workload:
    def __init__(self, name, title, allocators, rounds_cap=None):
        self.name, self.title, self.allocators = name, title, allocators
        self.rounds_cap = rounds_cap
        self.number = None      # its place in WORKLOADS, as the tables show it


ALL = [a[0] for a in ALLOCATORS if a[0] not in PYTHON_ONLY]
THREADED = [a for a in ALL if a != "pymalloc"]
PYTHON_ROWS = [a[0] for a in ALLOCATORS if a[0] != "pool"]
# In table order; the tables number them.
WORKLOADS = [
    Workload("churn", "single-thread churn: Python-like sizes (16-64 B, tail to 512), "
             "100k live, random replacement", ALL),
    Workload("lifo", "LIFO bursts: allocate 1..2000 blocks, free newest first", ALL),
    Workload("lifo4k", "long LIFO bursts: allocate 1..4096 blocks of 16-512 B (uniform), free newest first", ALL),
    Workload("churn2t", "two threads churning independently (100k live each)", THREADED),
    Workload("xthread", "producer/consumer: every block freed by the other thread", THREADED),
    Workload("larson", "larson-style server: 2 threads replace random slots of arrays "
             "another filled, 8-1000 B (about half the frees cross-thread), threads replaced 8 times", THREADED),
    Workload("rptest", "rptest-style: 2 threads churn 16 B-16 KiB (log-uniform), every "
             "4th old block freed by the other thread", THREADED),
    Workload("medium", "medium churn: 512 B-64 KiB (log-uniform), 2,000 live", ALL),
    Workload("large", "large range: 513 B-1 MiB (log-uniform), 200 live", ALL),
    Workload("realloc", "realloc growth: 16 buffers, 8 B to 4 KiB in 8-byte steps", ALL),
    # Memory figures barely move between rounds and each run idles a second.
    Workload("frag", "fragmentation: 2M blocks of 16-256 B, free 90%, refill 200k of "
             "257-512 B, free all, idle", ALL, rounds_cap=3),
    Workload("python", "a Python program (dicts, lists, tuples, strings) under "
             "PYTHONMALLOC=malloc + LD_PRELOAD, against CPython's pymalloc", PYTHON_ROWS),
    # pyperformance-style programs (bench/pywork.py), run like the Python program.
    *[Workload(name, f"Python, pyperformance-style: {name[3:]} (bench/pywork.py), "
               "run like the Python program", PYTHON_ROWS)
      for name in PY_SCRIPTS if name != "python"],
    Workload("stats", "statistics cost: churn with pool_stats_get() 10x/s in another "
             "thread, against the same churn without", ["pool"]),
]
for _n, _w in enumerate(WORKLOADS, 1):
    _w.number = _n


def find_lib(name, build):
    """Where a shared object lives: our build directory, or the system's."""
    if name == "libpoolmalloc.so":
        return os.path.abspath(os.path.join(build, name))
    for d in LIBDIRS:
        path = os.path.join(d, name)
        if os.path.exists(path):
            return path
    hits = glob.glob("/usr/lib*/**/" + name, recursive=True)
    return hits[0] if hits else None


def base_env():
    """The caller's environment without anything that would change the
    allocator under test."""
    env = dict(os.environ)
    for k in list(env):
        if k in ("LD_PRELOAD", "PYTHONMALLOC", "PYTHONDEVMODE") or k.startswith("POOLMALLOC"):
            del env[k]
    return env


def parse_result(text):
    """The RESULT lines of a run, as dicts (numbers converted)."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("RESULT "):
            continue
        row = {}
        for field in line.split()[1:]:
            k, _, v = field.partition("=")
            try:
                row[k] = int(v)
            except ValueError:
                try:
                    row[k] = float(v)
                except ValueError:
                    row[k] = v
        rows.append(row)
    return rows


class Runner:
    def __init__(self, args):
        self.args = args
        self.env = base_env()
        self.kinds = {a: (kind, pre) for a, kind, pre in ALLOCATORS}
        self.libs = {}
        for a, _, pre in ALLOCATORS:
            if pre:
                self.libs[a] = find_lib(pre, args.build)
        missing = [f"{a} ({self.kinds[a][1]})" for a, p in self.libs.items()
                   if not p or not os.path.exists(p)]
        if missing:
            sys.exit("bench: missing: " + ", ".join(missing) + " (run `make bench`, which installs them)")

    def command(self, workload, alloc):
        """argv and environment of one measurement."""
        env = dict(self.env)
        kind, pre = self.kinds[alloc]
        if workload.name in PY_SCRIPTS:
            script, *rest = PY_SCRIPTS[workload.name]
            interp = os.path.join(self.args.build, POOLPYTHON) if alloc == POOLPYTHON else PYTHON
            argv = [interp, os.path.join("bench", script), *rest, str(self.args.py_scale)]
            env.update(PYTHON_ENV.get(alloc, PYTHON_ENV_DEFAULT))
        else:
            binary = os.path.join(self.args.build, "bench", "bench-" + kind)
            argv = [binary, workload.name, str(self.args.scale), str(self.args.idle_ms)]
        if pre:
            env["LD_PRELOAD"] = self.libs[alloc]
        return argv, env

    def run(self, workload, alloc):
        """One measurement: a list of sample dicts, or a failure dict."""
        argv, env = self.command(workload, alloc)
        t0 = time.perf_counter()
        try:
            p = subprocess.run(argv, env=env, capture_output=True, text=True,
                               timeout=self.args.timeout)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {self.args.timeout}s"}
        wall = time.perf_counter() - t0
        rows = parse_result(p.stdout)
        if p.returncode != 0 or not rows:
            err = (p.stderr.strip().splitlines() or [f"exit status {p.returncode}"])[-1]
            return {"error": f"exit {p.returncode}: {err}"}
        for row in rows:
            if workload.name in PY_SCRIPTS:
                row["ns"] = int(wall * 1e9)
                row["ops"] = 1
            row["alloc"] = alloc if row.get("variant") != "on" else alloc + "+stats"
            row["workload"] = workload.name
            row["wall_s"] = round(wall, 4)
        return rows


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--quick", action="store_true", help="smoke run: tiny counts, 2 rounds")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--only", default=".", help="regex over workload names")
    ap.add_argument("--scale", type=float, help="multiplies every operation count")
    ap.add_argument("--out", help="results directory (default BUILD/bench)")
    args = ap.parse_args(argv)
    args.rounds = args.rounds or (2 if args.quick else 15)
    args.scale = args.scale or (0.02 if args.quick else 1.0)
    args.py_scale = 0.05 if args.quick else args.scale
    args.idle_ms = 200 if args.quick else 1000
    args.timeout = 60 if args.quick else 300
    args.out = args.out or os.path.join(args.build, "bench")
    return args


def main(argv):
    args = parse_args(argv)
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    runner = Runner(args)
    workloads = [w for w in WORKLOADS if re.search(args.only, w.name)]
    if not workloads:
        sys.exit(f"bench: no workload matches {args.only!r}")
    meta = report.machine_meta(args)
    samples, failures = [], []
    start = time.time()
    for r in range(args.rounds):
        for w in workloads:
            if w.rounds_cap and r >= w.rounds_cap:
                continue
            # Each round starts one allocator further along, so none always
            # runs first (or right after the same neighbour) in a round.
            k = r % len(w.allocators)
            for alloc in w.allocators[k:] + w.allocators[:k]:
                got = runner.run(w, alloc)
                if isinstance(got, dict):
                    failures.append({"round": r + 1, "workload": w.name, "alloc": alloc, **got})
                    print(f"bench: FAILED {w.name} / {alloc} (round {r + 1}): {got['error']}",
                          file=sys.stderr)
                    continue
                for row in got:
                    row["round"] = r + 1
                samples.extend(got)
        print(f"bench: round {r + 1}/{args.rounds} done ({time.time() - start:.0f}s)",
              file=sys.stderr, flush=True)
    meta["elapsed_s"] = round(time.time() - start, 1)
    meta["loadavg_end"] = report.loadavg()
    ok = report.write_all(args.out, meta, workloads, samples, failures)
    return 0 if ok and not failures else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
