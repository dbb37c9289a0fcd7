#!/usr/bin/python3
"""Instruction counts per malloc/free call, from valgrind's callgrind.

Runs chosen workloads under callgrind for chosen allocators (the same rows
as bench.py) and attributes every instruction to the allocator or to the
harness: by shared object for a preloaded allocator (libmimalloc.so.2,
libpoolmalloc.so, libc.so.6 for glibc ...), by function name for the pool
API linked into bench-pool (the symbols of libpoolalloc.a); the C
library's allocator, lock and memory-mapping functions count for every
row (our pass-through above the pool threshold is glibc's malloc). With
the cache simulation (the default) it also counts first-level and
last-level data-cache misses. Instruction and simulated-miss counts are
deterministic, so this works on a noisy machine where timings do not;
valgrind runs one thread at a time, so misses that two cores cause each
other (a line written by one and read by the other) are not among them.

    /usr/bin/python3 bench/callgrind.py [--build DIR] [--scale X]
        [--workloads churn,lifo,...] [--allocs pool,pool-shim,mimalloc,glibc]
        [--top N] [--timeout S] [--jobs N] [--no-cache-sim]
"""
import argparse
import os
import re
import subprocess
import sys
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

# Workloads 1-9 of bench.py: the allocation-speed ones.
DEFAULT_WORKLOADS = ["churn", "lifo", "lifo4k", "churn2t", "xthread", "larson", "rptest",
                     "medium", "large"]
NAMESPACE = {"ob": "ob", "cob": "ob", "fn": "fn", "cfn": "fn",
             "fl": "fl", "fi": "fl", "fe": "fl", "cfl": "fl", "cfi": "fl"}


def self_costs(path):
    """({(object, function): [self cost per event]}, {(object, function):
    calls}, [event names]) from a callgrind output file."""
    names, cost, calls = {}, {}, defaultdict(int)
    events = ["Ir"]
    ob = fn = cob = cfn = None
    skip = False
    with open(path) as f:
        for line in f:
            key, eq, val = line.rstrip("\n").partition("=")
            if eq and key in NAMESPACE:
                m = re.match(r"\((\d+)\)\s*(.*)", val)
                name = val
                if m:
                    ident = (NAMESPACE[key], m.group(1))
                    if m.group(2):
                        names[ident] = m.group(2)
                    name = names.get(ident, "?")
                if key == "ob":
                    ob = name
                elif key == "fn":
                    fn = name
                elif key == "cob":
                    cob = name
                elif key == "cfn":
                    cfn = name
                continue
            if eq and key == "calls":
                calls[(cob or ob, cfn)] += int(val.split()[0])   # callee in ob unless cob= said
                cob = None
                skip = True                 # the next line is an inclusive call cost
                continue
            if line.startswith("events:"):
                events = line.split()[1:]
                continue
            if line[:1].isdigit() or line[:1] in "+-*":
                if skip:
                    skip = False
                    continue
                parts = line.split()[1:]
                if parts:
                    c = cost.setdefault((ob, fn), [0] * len(events))
                    for i, v in enumerate(parts[:len(events)]):
                        c[i] += int(v)
    return cost, calls, events


def pool_symbols(build):
    out = subprocess.run(["nm", "--defined-only", os.path.join(build, "libpoolalloc.a")],
                         capture_output=True, text=True).stdout
    return {ln.split()[-1] for ln in out.splitlines() if len(ln.split()) == 3 and ln.split()[1] in "tTwW"}


# The C library's functions that work for a preloaded or linked allocator:
# the system allocator behind our pass-through above the pool threshold,
# locks, and the system calls for memory. Charged to every row but glibc's
# (where the whole C library counts); the harness itself calls none of them
# in the timed part (its memory comes from mmap once, at the start).
LIBC_FOR_ALLOCATOR = re.compile(r"malloc|free|_int_|chunk|consolidate|sysmalloc|systrim|perturb|"
                                r"tcache|arena|morecore|sbrk|brk$|mmap|munmap|madvise|mremap|"
                                r"usable|pthread_mutex|lll_lock|lll_unlock")


def is_allocator(ob, fn, alloc, lib, pool_syms):
    ob = ob or ""
    libc = os.path.basename(ob).startswith("libc.so")
    if alloc == "glibc":
        return libc
    if libc and LIBC_FOR_ALLOCATOR.search(fn or ""):
        return True
    if alloc == "pool":
        return fn in pool_syms
    return bool(lib) and os.path.realpath(ob) == os.path.realpath(lib)


def attribute(costs, alloc, lib, pool_syms):
    """({(object, function): [cost per event]} of the allocator, [total per
    event])."""
    mine = {}
    total = None
    for (ob, fn), c in costs.items():
        total = c[:] if total is None else [a + b for a, b in zip(total, c)]
        if is_allocator(ob, fn, alloc, lib, pool_syms):
            m = mine.setdefault((ob, fn), [0] * len(c))
            for i, v in enumerate(c):
                m[i] += v
    return mine, total or []


def misses(c, events):
    """(D1 misses, last-level data misses) of a cost vector; None without
    the cache simulation."""
    ix = {e: i for i, e in enumerate(events)}
    if "D1mr" not in ix:
        return None, None
    return (c[ix["D1mr"]] + c[ix["D1mw"]], c[ix["DLmr"]] + c[ix["DLmw"]])


def per(x, ops):
    return "-" if x is None else f"{x / ops:.2f}"


def profile(runner, workload, alloc, outdir, args):
    """One workload under callgrind: (ops, output file) or an error text."""
    argv, env = runner.command(workload, alloc)
    out = os.path.join(outdir, f"{workload.name}.{alloc}.out")
    tool = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out]
    if args.cache_sim:
        tool.append("--cache-sim=yes")
    try:
        p = subprocess.run(tool + argv, env=env, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return f"no result after {args.timeout}s under callgrind (a hang?)"
    res = bench.parse_result(p.stdout)
    if p.returncode != 0 or not res:
        return f"failed: {p.stderr.strip().splitlines()[-1:]}"
    return res[0]["ops"], out


def describe(wname, alloc, ops, out, runner, pool_syms, top):
    """The per-function lines of one profile, and its summary row."""
    costs, calls, events = self_costs(out)
    funcs, total = attribute(costs, alloc, runner.libs.get(alloc), pool_syms)
    mine = [sum(c[i] for c in funcs.values()) for i in range(len(events))]
    ir = mine[0]
    d1, ll = misses(mine, events)
    lines = [f"\n{wname} / {alloc}: {ops} malloc+free calls, allocator {ir / ops:.1f} Ir/call, "
             f"{per(d1, ops)} D1 misses/call, {per(ll, ops)} LL misses/call "
             f"({100 * ir / max(total[0], 1):.1f}% of {total[0]:,} Ir)   [{out}]",
             f"    {'Ir/call':>8} {'D1mi/call':>9} {'LLmi/call':>9}  share  function"]
    for (ob, fn), c in sorted(funcs.items(), key=lambda kv: -kv[1][0])[:top]:
        n = calls.get((ob, fn), 0)
        if alloc != "glibc" and os.path.basename(ob or "").startswith("libc.so"):
            fn += " (libc)"
        every = f"called once per {ops / n:,.1f} calls" if n else ""
        fd1, fll = misses(c, events)
        lines.append(f"    {c[0] / ops:8.2f} {per(fd1, ops):>9} {per(fll, ops):>9}  "
                     f"{100 * c[0] / max(ir, 1):4.1f}%  {fn:28} {every}")
    td1, tll = misses(total, events)
    return lines, (wname, alloc, ir / ops, per(d1, ops), per(ll, ops), total[0] / ops,
                   per(td1, ops), per(tll, ops))


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--workloads", default=",".join(DEFAULT_WORKLOADS))
    ap.add_argument("--allocs", default="pool,pool-shim,mimalloc,glibc")
    ap.add_argument("--top", type=int, default=8)
    ap.add_argument("--timeout", type=int, default=1200, help="seconds per callgrind run")
    ap.add_argument("--jobs", type=int, default=1, help="callgrind runs at once")
    ap.add_argument("--no-cache-sim", dest="cache_sim", action="store_false",
                    help="instructions only (about twice as fast)")
    args = ap.parse_args(argv)
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    bargs = bench.parse_args(["--build", args.build, "--scale", str(args.scale)])
    runner = bench.Runner(bargs)
    workloads = {w.name: w for w in bench.WORKLOADS}
    unknown = [w for w in args.workloads.split(",") if w not in workloads]
    if unknown:
        sys.exit(f"callgrind: unknown workloads {unknown}; known: {sorted(workloads)}")
    pool_syms = pool_symbols(args.build)
    outdir = os.path.join(args.build, "bench", "callgrind")
    os.makedirs(outdir, exist_ok=True)
    jobs = [(w, a) for w in args.workloads.split(",") for a in args.allocs.split(",")]
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(lambda j: profile(runner, workloads[j[0]], j[1], outdir, args), jobs))
    rows = []
    for (wname, alloc), got in zip(jobs, results):
        if isinstance(got, str):
            print(f"{wname}/{alloc}: {got}", file=sys.stderr)
            continue
        lines, row = describe(wname, alloc, *got, runner, pool_syms, args.top)
        print("\n".join(lines))
        rows.append(row)
    print("\nper malloc or free call (a malloc+free pair is twice this); D1/LL: data-cache misses "
          "of the\nsimulated cache (one core: threads take turns, so no coherence misses between them)")
    print(f"{'workload':9} {'allocator':10} {'Ir':>8} {'Ir/pair':>8} {'D1 miss':>8} {'LL miss':>8}   "
          f"{'all Ir':>8} {'all D1':>8} {'all LL':>8}   (all: harness + allocator)")
    for wname, alloc, ir, d1, ll, tir, td1, tll in rows:
        print(f"{wname:9} {alloc:10} {ir:8.1f} {2 * ir:8.1f} {d1:>8} {ll:>8}   "
              f"{tir:8.1f} {td1:>8} {tll:>8}")
    return 0 if len(rows) == len(jobs) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
