"""Summaries, targets, tables, CSV and JSON for bench.py's samples."""
import csv
import json
import os
import platform
import socket
import statistics
import subprocess
import time

import chart

MIB = 1024.0
FRAG_POINTS = [("alloc", "after alloc"), ("free90", "90% freed"), ("refill", "refilled"),
               ("freeall", "all freed"), ("idle", "after idle")]
# Speed targets: (anchor, least ratio) per workload. Every time workload is
# to be at least as fast as mimalloc and never slower than glibc.
SPEED_TARGETS = {w: [("mimalloc", 1.0), ("glibc", 1.0)]
                 for w in ("churn", "lifo", "lifo4k", "churn2t", "xthread", "larson", "rptest",
                           "medium", "large")}
SPEED_TARGETS["realloc"] = [("mimalloc", 1.0), ("glibc", 2.0)]
# Peak RSS against this anchor's, on every workload that has both rows.
PEAK_ANCHOR = "mimalloc"
OURS = ("pool", "pool-shim")
ANCHORS = ("glibc", "jemalloc", "mimalloc", "tcmalloc", "pymalloc")


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def _cmd(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine_meta(args):
    pkgs = ["libc6", "libjemalloc2", "libmimalloc2.0", "libtcmalloc-minimal4", "libpython3.11"]
    versions = {}
    for p in pkgs:
        versions[p] = _cmd(["dpkg-query", "-W", "-f=${Version}", p]) or "?"
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "host": socket.gethostname(), "cpus": os.cpu_count(), "kernel": platform.release(),
        "commit": _cmd(["git", "describe", "--always", "--dirty"]) or os.environ.get("BENCH_COMMIT", "?"),
        "loadavg_start": loadavg(), "rounds": args.rounds, "scale": args.scale,
        "python_scale": args.py_scale, "idle_ms": args.idle_ms, "quick": args.quick,
        "packages": versions,
    }


def med(xs):
    return statistics.median(xs) if xs else None


# ---- summaries ----------------------------------------------------------------

def summarize(workload, samples):
    """One summary row per allocator (in the workload's order)."""
    by = {}
    for s in samples:
        if s["workload"] == workload.name:
            by.setdefault(s["alloc"], []).append(s)
    names = list(workload.allocators)
    if workload.name == "stats":
        names = [n for a in names for n in (a, a + "+stats")]
    rows = []
    for a in names:
        ss = by.get(a, [])
        if not ss:
            rows.append({"alloc": a, "runs": 0})
            continue
        ns = [s["ns"] for s in ss]
        row = {"alloc": a, "runs": len(ss), "median_ns": med(ns), "min_ns": min(ns),
               "max_ns": max(ns), "ops": ss[0]["ops"], "checks": min(s["checks"] for s in ss),
               "peak_kb": med([s["rss_peak_kb"] for s in ss]),
               "final_kb": med([s["rss_final_kb"] for s in ss]),
               "start_kb": med([s.get("rss_start_kb", 0) for s in ss])}
        row["mops"] = row["ops"] / row["median_ns"] * 1e3
        if workload.name == "frag":
            for key, _ in FRAG_POINTS:
                row["d_" + key + "_kb"] = med([s["rss_" + key + "_kb"] - s["rss_start_kb"] for s in ss])
            row["live90_kb"] = med([s["live90_kb"] for s in ss])
        if workload.name == "stats":
            row["slowdown_pct"] = med([s["slowdown_pct"] for s in ss])
            row["snapshot_per_s"] = med([s["snapshot_per_s"] for s in ss])
            row["snapshot_us"] = med([s.get("snapshot_us", 0) for s in ss])
        rows.append(row)
    for r in rows:
        if r.get("median_ns"):
            for anchor in ANCHORS + ("pool-shim",):
                v = paired_ratio(by.get(anchor, []), by.get(r["alloc"], []))
                if v is not None:
                    r["vs_" + anchor] = v
    return rows


def round_ratios(anchor_samples, samples):
    """(anchor's time / this allocator's time) in each round both ran."""
    theirs = {s["round"]: s["ns"] for s in anchor_samples}
    return [theirs[s["round"]] / s["ns"] for s in samples if s["round"] in theirs and s["ns"]]


def paired_ratio(anchor_samples, samples):
    """The median over rounds of (anchor's time / this allocator's time) in
    the same round. The machine's speed drifts over minutes (other tenants);
    a ratio of two runs a few seconds apart cancels that drift, a ratio of
    two medians taken over the whole run does not."""
    return med(round_ratios(anchor_samples, samples))


def consistency(workload, samples):
    """Problems with the harness itself: runs whose content checks did not
    run, or checked a different number of blocks than the others."""
    counts = {s["checks"] for s in samples if s["workload"] == workload.name}
    problems = []
    if not counts:
        problems.append(f"{workload.name}: no results")
    elif 0 in counts:
        problems.append(f"{workload.name}: a run checked no blocks")
    elif len(counts) > 1:
        problems.append(f"{workload.name}: runs checked different numbers of blocks {sorted(counts)}")
    return problems


# ---- targets ------------------------------------------------------------------

def _target(workload, alloc, goal, value, met):
    return {"workload": workload, "alloc": alloc, "goal": goal, "value": value,
            "met": bool(met) if met is not None else None}


def speed_targets(name, by):
    out = []
    for anchor, least in SPEED_TARGETS.get(name, []):
        for a in OURS:
            v = by.get(a, {}).get("vs_" + anchor)
            out.append(_target(name, a, f"speed >= {least:.2f}x {anchor}",
                               f"{v:.2f}x" if v else "n/a", v is not None and v >= least))
    return out


def peak_targets(name, by):
    """Peak RSS (VmHWM) no higher than the anchor's (medians over runs)."""
    ref = by.get(PEAK_ANCHOR)
    if not ref or name == "stats":
        return []
    out = []
    for a in OURS:
        r = by.get(a)
        if r:
            out.append(_target(name, a, f"peak RSS <= {PEAK_ANCHOR}'s",
                               f"{r['peak_kb'] / MIB:.1f} MiB vs {ref['peak_kb'] / MIB:.1f} MiB",
                               r["peak_kb"] <= ref["peak_kb"]))
    return out


def frag_targets(name, by):
    anchors = [by[a]["d_free90_kb"] for a in ANCHORS if a in by]
    best = min(anchors) if anchors else None
    out = []
    for a in OURS:
        r = by.get(a)
        if not r or best is None:
            out.append(_target(name, a, "frag targets", "n/a", False))
            continue
        v = r["d_free90_kb"]
        out.append(_target(name, a, "RSS after 90% free <= best anchor's",
                           f"{v / MIB:.1f} MiB = {v / best:.2f}x best anchor ({best / MIB:.1f} MiB)",
                           v <= best))
        for key, when in (("freeall", "at once"), ("idle", "after idle")):
            v = r["d_" + key + "_kb"]
            out.append(_target(name, a, f"all freed, {when}: RSS within 16 MiB of start",
                               f"+{v / MIB:.1f} MiB", v <= 16 * MIB))
    return out


def targets(name, rows):
    """The issue's targets that apply to this workload's rows."""
    by = {r["alloc"]: r for r in rows if r.get("runs")}
    out = speed_targets(name, by)
    if name == "frag":
        out += frag_targets(name, by)
    elif name == "python" or name.startswith("py-"):
        if name == "python":
            v = by.get("pool-shim", {}).get("vs_pymalloc")
            out.append(_target(name, "pool-shim", "time <= CPython's pymalloc",
                               f"{v:.3f}x pymalloc speed" if v else "n/a", v is not None and v >= 1.0))
        out += poolpython_targets(name, by.get("poolpython", {}), by.get("pymalloc", {}))
    elif name == "stats":
        r = by.get("pool+stats")
        v = r.get("slowdown_pct") if r else None
        if r and not r.get("snapshot_per_s"):
            out.append(_target(name, "pool", "slowdown < 2%", "no snapshot was taken", False))
        else:
            out.append(_target(name, "pool", "slowdown < 2%",
                               f"{v:+.2f}%" if v is not None else "n/a", v is not None and v < 2.0))
    return out + peak_targets(name, by)


def poolpython_targets(name, r, pymalloc):
    """poolpython: >= 1.05x python3's pymalloc, faster than the preload
    route, peak and final RSS no worse than pymalloc's."""
    v, w = r.get("vs_pymalloc"), r.get("vs_pool-shim")
    out = [_target(name, "poolpython", "speed >= 1.05x pymalloc",
                   f"{v:.3f}x" if v else "n/a", v is not None and v >= 1.05),
           _target(name, "poolpython", "faster than pool-shim",
                   f"{w:.3f}x" if w else "n/a", w is not None and w > 1.0)]
    for key in ("peak_kb", "final_kb"):
        a, b = r.get(key), pymalloc.get(key)
        out.append(_target(name, "poolpython", f"{key[:-3]} RSS <= pymalloc's",
                           f"{a / MIB:.1f} vs {b / MIB:.1f} MiB" if a and b else "n/a",
                           a is not None and b is not None and a <= b))
    return out


# ---- text tables --------------------------------------------------------------

def _fmt(v, spec, missing="-"):
    return missing if v is None else format(v, spec)


def _table(header, lines):
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines)]
    out = ["  ".join(str(h).rjust(w) if i else str(h).ljust(w)
                     for i, (h, w) in enumerate(zip(header, widths)))]
    out.append("  ".join("-" * w for w in widths))
    for ln in lines:
        out.append("  ".join(str(x).rjust(w) if i else str(x).ljust(w)
                             for i, (x, w) in enumerate(zip(ln, widths))))
    return out


def _mark(tlist, alloc):
    marks = [t["met"] for t in tlist if t["alloc"] == alloc]
    if not marks:
        return ""
    return "met" if all(marks) else f"MISSED {marks.count(False)}/{len(marks)}"


def _spread(r):
    return f"{100 * (r['max_ns'] - r['min_ns']) / r['median_ns']:.0f}%"


def _time_lines(rows, tlist, seconds=False):
    lines = []
    for r in rows:
        if not r.get("runs"):
            lines.append([r["alloc"], 0, "FAILED"] + [""] * 8)
            continue
        t = f"{r['median_ns'] / 1e9:.3f}" if seconds else f"{r['median_ns'] / 1e6:.1f}"
        lines.append([r["alloc"], r["runs"], t, _spread(r),
                      "" if seconds else f"{r['mops']:.1f}",
                      _fmt(r.get("vs_glibc"), ".2f"), _fmt(r.get("vs_mimalloc"), ".2f"),
                      _fmt(r.get("vs_pymalloc"), ".2f"),
                      f"{r['peak_kb'] / MIB:.1f}", f"{r['final_kb'] / MIB:.1f}", _mark(tlist, r["alloc"])])
    return lines


def render(workload, rows, tlist):
    out = [f"== {workload.number}. {workload.name} — {workload.title}"]
    if workload.name == "frag":
        header = ["allocator", "runs", "start MiB"] + [f"{label} +MiB" for _, label in FRAG_POINTS] + \
                 ["90% freed vs best anchor", "target"]
        anchors = [r["d_free90_kb"] for r in rows if r.get("runs") and r["alloc"] in ANCHORS]
        best = min(anchors) if anchors else None
        lines = []
        for r in rows:
            if not r.get("runs"):
                lines.append([r["alloc"], 0, "FAILED"] + [""] * 7)
                continue
            lines.append([r["alloc"], r["runs"], f"{r['start_kb'] / MIB:.1f}"] +
                         [f"{r['d_' + k + '_kb'] / MIB:.1f}" for k, _ in FRAG_POINTS] +
                         [f"{r['d_free90_kb'] / best:.2f}x" if best else "-", _mark(tlist, r["alloc"])])
        out += _table(header, lines)
        live = next((r["live90_kb"] for r in rows if r.get("runs")), 0)
        out.append(f"  live after the 90% free: {live / MIB:.1f} MiB; figures are RSS above the "
                   "process's RSS at the start (harness arrays included there)")
    elif workload.name == "stats":
        header = ["variant", "runs", "median ms", "spread", "Mops/s", "snapshots/s",
                  "µs/snapshot", "peak MiB"]
        lines = [[r["alloc"], r["runs"], f"{r['median_ns'] / 1e6:.1f}", _spread(r), f"{r['mops']:.1f}"] +
                 ([f"{r['snapshot_per_s']:.1f}", f"{r['snapshot_us']:.1f}"]
                  if r["alloc"].endswith("+stats") else ["0", "-"]) +
                 [f"{r['peak_kb'] / MIB:.1f}"] for r in rows if r.get("runs")]
        out += _table(header, lines)
        on = next((r for r in rows if r["alloc"].endswith("+stats") and r.get("runs")), None)
        if on:
            out.append(f"  slowdown (median over runs of each run's median paired-slice ratio of the "
                       f"churning thread's CPU time): "
                       f"{on['slowdown_pct']:+.2f}%")
    else:
        seconds = workload.name == "python" or workload.name.startswith("py-")
        header = ["allocator", "runs", "median s" if seconds else "median ms", "spread",
                  "Mops/s", "vs glibc", "vs mimalloc", "vs pymalloc", "peak MiB", "final MiB", "target"]
        out += _table(header, _time_lines(rows, tlist, seconds))
    for t in tlist:
        out.append(f"  target [{t['alloc']}] {t['goal']}: {t['value']} -> "
                   f"{'met' if t['met'] else 'MISSED'}")
    return out


def summary_table(workloads, results):
    """One line per timed workload: each of our rows against every anchor."""
    short = {"pool": "pool", "pool-shim": "shim"}
    header = ["workload"] + [f"{short[o]}:{a}" for o in OURS for a in ANCHORS]
    lines = []
    for w in workloads:
        by = {r["alloc"]: r for r in results[w.name]["rows"] if r.get("runs")}
        if w.name in ("frag", "stats") or not any(o in by for o in OURS):
            continue
        lines.append([f"{w.number}. {w.name}"] +
                     [_fmt(by.get(o, {}).get("vs_" + a), ".2f") for o in OURS for a in ANCHORS])
    out = ["== summary: speed of pool and pool-shim (shim) against each anchor (median of same-round "
           "ratios, above 1 = faster)"]
    return out + _table(header, lines) if lines else []


# ---- files --------------------------------------------------------------------

SUMMARY_FIELDS = ["workload", "alloc", "runs", "median_ns", "min_ns", "max_ns", "ops", "mops"] + \
                 ["vs_" + a for a in ANCHORS] + [ "checks", "start_kb", "peak_kb",
                  "final_kb"] + ["d_%s_kb" % k for k, _ in FRAG_POINTS] + \
                 ["live90_kb", "slowdown_pct", "snapshot_per_s", "snapshot_us"]


def write_all(outdir, meta, workloads, samples, failures):
    """Prints the tables and writes results.{txt,csv,json} and samples.csv.
    Returns False when the harness itself found a problem."""
    os.makedirs(outdir, exist_ok=True)
    text = [f"poold benchmarks — {meta['date']} on {meta['host']} ({meta['cpus']} CPUs, "
            f"kernel {meta['kernel']}), commit {meta['commit']}",
            f"rounds {meta['rounds']} (interleaved), scale {meta['scale']}, load average "
            f"{meta['loadavg_start']} at start, {meta['loadavg_end']} at end; "
            f"{meta['elapsed_s']}s",
            "times are medians over runs; 'vs X' = median over rounds of X's time / this one's "
            "in the same round (above 1: faster than X); spread = (max - min) / median", ""]
    result = {"meta": meta, "workloads": {}, "targets": [], "failures": failures, "problems": []}
    summary_rows = []
    for w in workloads:
        rows = summarize(w, samples)
        tlist = targets(w.name, rows)
        problems = consistency(w, samples)
        text += render(w, rows, tlist) + [f"  HARNESS PROBLEM: {p}" for p in problems] + [""]
        result["workloads"][w.name] = {"title": w.title, "rows": rows}
        result["targets"] += tlist
        result["problems"] += problems
        summary_rows += [dict(r, workload=w.name) for r in rows]
    text += summary_table(workloads, result["workloads"]) + [""]
    missed = [t for t in result["targets"] if not t["met"]]
    text.append(f"targets: {len(result['targets']) - len(missed)} of {len(result['targets'])} met"
                + ("; missed: " + ", ".join(f"{t['workload']}[{t['alloc']}] {t['goal']} ({t['value']})"
                                            for t in missed) if missed else ""))
    chart_path = os.path.join(outdir, "ratios.svg")
    chart.write(chart_path, meta, workloads, samples, round_ratios)
    text.append(f"chart of the speed ratios per workload (ours vs mimalloc and glibc, the 1.0 line "
                f"marked): {chart_path}")
    for f in failures:
        text.append(f"FAILED RUN: {f['workload']} / {f['alloc']} round {f['round']}: {f['error']}")
    print("\n".join(text))
    with open(os.path.join(outdir, "results.txt"), "w") as f:
        f.write("\n".join(text) + "\n")
    with open(os.path.join(outdir, "results.json"), "w") as f:
        json.dump(dict(result, samples=samples), f, indent=1, sort_keys=True)
    with open(os.path.join(outdir, "results.csv"), "w", newline="") as f:
        wr = csv.DictWriter(f, SUMMARY_FIELDS, extrasaction="ignore")
        wr.writeheader()
        wr.writerows(summary_rows)
    keys = sorted({k for s in samples for k in s})
    with open(os.path.join(outdir, "samples.csv"), "w", newline="") as f:
        wr = csv.DictWriter(f, keys)
        wr.writeheader()
        wr.writerows(samples)
    print(f"\nresults: {outdir}/results.txt, results.csv, results.json, samples.csv, ratios.svg")
    return not result["problems"]
