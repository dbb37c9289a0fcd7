"""Workload 7: a pure-Python program that churns objects (dicts, lists,
tuples, strings, ints) the way ordinary Python code does. bench.py runs it
with CPython's own pymalloc and with PYTHONMALLOC=malloc plus each
allocator in LD_PRELOAD, and times it from outside.

Every object is checked before it is dropped, so a broken allocator
fails loudly. Prints one RESULT line: checks, peak and final RSS.

    /usr/bin/python3 bench/pyprog.py [SCALE]
"""
import os
import sys


def status_kb(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def check_preload():
    """ld.so only warns when a preload fails; refuse to time the wrong thing."""
    pre = os.environ.get("LD_PRELOAD", "")
    if not pre:
        return
    with open("/proc/self/maps") as f:
        maps = f.read()
    for lib in pre.replace(":", " ").split():
        if os.path.basename(lib) not in maps:
            sys.exit("pyprog: LD_PRELOAD=%s is not mapped" % lib)


def make_record(i):
    name = "rec-%d" % i
    return {"id": i, "name": name, "tags": [i, i + 1, str(i)], "pair": (i, -i),
            "words": name.split("-")}


def check_record(r):
    i = r["id"]
    if (r["name"] != "rec-%d" % i or r["tags"] != [i, i + 1, str(i)]
            or r["pair"] != (i, -i) or r["words"] != ["rec", str(i)]):
        raise SystemExit("pyprog: CONTENT MISMATCH in record %r" % (r,))


def churn(steps, live_size):
    """Random replacement over a working set of small records."""
    live = {}
    seed = 12345
    checks = 0
    for i in range(steps):
        seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
        k = seed % live_size
        old = live.get(k)
        if old is not None:
            check_record(old)
            checks += 1
        live[k] = make_record(i)
    for r in live.values():
        check_record(r)
        checks += 1
    return checks


def text(rounds):
    """Short-lived strings, lists and tuples: split, join, format, sort."""
    checks = 0
    for n in range(rounds):
        words = ["w%d" % ((n * 7 + j) % 97) for j in range(40)]
        line = " ".join(words)
        back = line.split(" ")
        pairs = sorted((w, len(w)) for w in back)
        counts = {}
        for w, _ in pairs:
            counts[w] = counts.get(w, 0) + 1
        if back != words or sum(counts.values()) != 40:
            raise SystemExit("pyprog: CONTENT MISMATCH in text round %d" % n)
        checks += 1
    return checks


def trees(count, depth):
    """Build and walk nested tuples (allocation-heavy recursion)."""
    def build(d):
        return (d, build(d - 1), build(d - 1)) if d else (0, None, None)

    def total(t):
        return 0 if t is None else t[0] + total(t[1]) + total(t[2])

    expect = sum(d * 2 ** (depth - d) for d in range(1, depth + 1))
    for _ in range(count):
        if total(build(depth)) != expect:
            raise SystemExit("pyprog: CONTENT MISMATCH in tree")
    return count


def main():
    scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    check_preload()
    n = lambda x: max(1, int(x * scale))
    checks = churn(n(200000), 50000)
    checks += text(n(15000))
    checks += trees(n(20), 12)
    print("RESULT workload=python checks=%d rss_peak_kb=%d rss_final_kb=%d"
          % (checks, status_kb("VmHWM"), status_kb("VmRSS")))


if __name__ == "__main__":
    main()
