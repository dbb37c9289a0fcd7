#!/usr/bin/python3
"""Instruction counts per malloc/free call, from valgrind's callgrind.

Runs chosen workloads under callgrind for chosen allocators (the same rows
as bench.py) and attributes every instruction to the allocator or to the
harness: by shared object for a preloaded allocator (libmimalloc.so.2,
libpoolmalloc.so, libc.so.6 for glibc ...), by function name for the pool
API linked into bench-pool (the symbols of libpoolalloc.a). Instruction
counts are deterministic, so this works on a noisy machine where timings
do not.

    /usr/bin/python3 bench/callgrind.py [--build DIR] [--scale X]
        [--workloads churn,lifo,churn2t,xthread] [--allocs pool,pool-shim,mimalloc,glibc]
        [--top N] [--timeout S]
"""
import argparse
import os
import re
import subprocess
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

NAMESPACE = {"ob": "ob", "cob": "ob", "fn": "fn", "cfn": "fn",
             "fl": "fl", "fi": "fl", "fe": "fl", "cfl": "fl", "cfi": "fl"}


def self_costs(path):
    """({(object, function): self Ir}, {function: calls}) from a callgrind
    output file."""
    names, cost, calls = {}, defaultdict(int), defaultdict(int)
    ob = fn = cfn = None
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
                elif key == "cfn":
                    cfn = name
                continue
            if eq and key == "calls":
                calls[cfn] += int(val.split()[0])
                skip = True                 # the next line is an inclusive call cost
                continue
            if line[:1].isdigit() or line[:1] in "+-*":
                if skip:
                    skip = False
                    continue
                parts = line.split()
                if len(parts) > 1:
                    cost[(ob, fn)] += int(parts[1])
    return cost, calls


def pool_symbols(build):
    out = subprocess.run(["nm", "--defined-only", os.path.join(build, "libpoolalloc.a")],
                         capture_output=True, text=True).stdout
    return {ln.split()[-1] for ln in out.splitlines() if len(ln.split()) == 3 and ln.split()[1] in "tTwW"}


def attribute(costs, alloc, lib, pool_syms):
    """(allocator Ir, total Ir, {function: Ir} of the allocator)."""
    total = sum(costs.values())
    mine = defaultdict(int)
    for (ob, fn), ir in costs.items():
        ob = ob or ""
        if alloc == "pool":
            hit = fn in pool_syms
        elif alloc == "glibc":
            hit = os.path.basename(ob).startswith("libc.so")
        else:
            hit = lib and os.path.realpath(ob) == os.path.realpath(lib)
        if hit:
            mine[fn] += ir
    return sum(mine.values()), total, mine


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--workloads", default="churn,lifo,churn2t,xthread")
    ap.add_argument("--allocs", default="pool,pool-shim,mimalloc,glibc")
    ap.add_argument("--top", type=int, default=8)
    ap.add_argument("--timeout", type=int, default=600, help="seconds per callgrind run")
    args = ap.parse_args(argv)
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    bargs = bench.parse_args(["--build", args.build, "--scale", str(args.scale)])
    runner = bench.Runner(bargs)
    workloads = {w.name: w for w in bench.WORKLOADS}
    pool_syms = pool_symbols(args.build)
    outdir = os.path.join(args.build, "bench", "callgrind")
    os.makedirs(outdir, exist_ok=True)
    rows = []
    for wname in args.workloads.split(","):
        for alloc in args.allocs.split(","):
            argv_, env = runner.command(workloads[wname], alloc)
            out = os.path.join(outdir, f"{wname}.{alloc}.out")
            try:
                p = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out] + argv_,
                                   env=env, capture_output=True, text=True, timeout=args.timeout)
            except subprocess.TimeoutExpired:
                print(f"{wname}/{alloc}: no result after {args.timeout}s under callgrind (a hang?)")
                continue
            res = bench.parse_result(p.stdout)
            if p.returncode != 0 or not res:
                print(f"{wname}/{alloc}: failed: {p.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
                continue
            ops = res[0]["ops"]
            costs, calls = self_costs(out)
            ir, total, funcs = attribute(costs, alloc, runner.libs.get(alloc), pool_syms)
            rows.append((wname, alloc, ops, ir, total))
            print(f"\n{wname} / {alloc}: {ops} malloc+free calls, allocator {ir / ops:.1f} Ir/call "
                  f"({100 * ir / total:.1f}% of {total:,} Ir)   [{out}]")
            for fn, c in sorted(funcs.items(), key=lambda kv: -kv[1])[:args.top]:
                n = calls.get(fn, 0)
                every = f"called once per {ops / n:,.1f} calls" if n else ""
                print(f"    {c / ops:8.2f} Ir/call  {100 * c / ir:5.1f}%  {fn:28} {every}")
    print("\nworkload  allocator   Ir/call  harness+allocator Ir/call")
    for wname, alloc, ops, ir, total in rows:
        print(f"{wname:9} {alloc:10} {ir / ops:8.1f}  {total / ops:8.1f}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
