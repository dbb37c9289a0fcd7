"""Python workloads in the style of pyperformance's, each stressing the
allocator the way a kind of ordinary program does. bench.py runs them like
pyprog.py (under python3 with pymalloc, with PYTHONMALLOC=malloc plus a
preloaded allocator, and under poolpython) and times them from outside.

    /usr/bin/python3 bench/pywork.py NAME [SCALE]

    objects   object churn: a rolling window of small tuples, lists, floats
              and instances, replaced at random
    dicts     dict and list building: comprehensions, grouping, sorting,
              set algebra, then dropping it all
    json      json.dumps / json.loads round trips of nested records
    regex     re.findall / sub / split over generated log lines
    classes   a class-heavy program: vector arithmetic (a new object per
              operation), a tree of nodes with properties and methods

Every result is checked, so a broken allocator fails loudly. Prints one
RESULT line: checks, peak and final RSS.
"""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyprog import check_preload, status_kb  # noqa: E402


def fail(what):
    raise SystemExit("pywork: CONTENT MISMATCH in " + what)


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y


def objects(n):
    window = [None] * 20000
    seed = 7
    checks = 0
    for i in range(n):
        seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
        k = seed % len(window)
        old = window[k]
        if old is not None:
            t, lst, f, p = old
            if t[1] != lst[0] * 2 or p.x != t[0] or f != t[0] * 0.5:
                fail("objects")
            checks += 1
        window[k] = ((i, i * 2), [i, str(i)], i * 0.5, Point(i, -i))
    return checks


def dicts(rounds):
    checks = 0
    for r in range(rounds):
        n = 20000 + r % 7
        d = {"k%d" % i: i for i in range(n)}
        groups = {}
        for k, v in d.items():
            groups.setdefault(v % 97, []).append(k)
        evens = {v for v in d.values() if v % 2 == 0}
        threes = set(range(0, n, 3))
        both = sorted(evens & threes, reverse=True)
        pairs = sorted(((len(g), key) for key, g in groups.items()), reverse=True)
        if (len(d) != n or sum(len(g) for g in groups.values()) != n
                or len(both) != len(range(0, n, 6)) or pairs[0][0] < n // 97):
            fail("dicts round %d" % r)
        checks += 1
    return checks


def record(i):
    return {"id": i, "name": "user-%d" % i, "score": i * 1.25, "active": i % 3 == 0,
            "tags": ["t%d" % (i % 11), "t%d" % (i % 13)], "pos": {"x": i, "y": -i, "z": None}}


def json_work(rounds):
    checks = 0
    for r in range(rounds):
        docs = [record(r * 200 + i) for i in range(200)]
        text = json.dumps(docs, sort_keys=(r % 2 == 0))
        back = json.loads(text)
        if back != docs:
            fail("json round %d" % r)
        checks += 1
    return checks


LINE = re.compile(r"(\d+)-(\d+)-(\d+) (\w+) \[(\w+)\] user=(\w+) took=(\d+)ms")
WORD = re.compile(r"\b[a-z]{4,}\b")


def regex(rounds):
    checks = 0
    levels = ("INFO", "WARN", "ERROR", "DEBUG")
    for r in range(rounds):
        lines = ["2024-%02d-%02d server%d [%s] user=u%d took=%dms while handling request"
                 % (1 + i % 12, 1 + i % 28, i % 5, levels[i % 4], i % 50, i % 1000)
                 for i in range(r, r + 300)]
        text = "\n".join(lines)
        found = LINE.findall(text)
        slow = [m for m in found if int(m[6]) > 500]
        masked = re.sub(r"user=\w+", "user=***", text)
        words = WORD.findall(masked)
        parts = re.split(r"\s+", lines[0])
        if (len(found) != 300 or len(slow) != sum(1 for i in range(r, r + 300) if i % 1000 > 500)
                or masked.count("user=***") != 300 or len(words) != 1500 or len(parts) != 8):
            fail("regex round %d" % r)
        checks += 1
    return checks


class Vec:
    __slots__ = ("x", "y", "z")

    def __init__(self, x, y, z):
        self.x, self.y, self.z = x, y, z

    def __add__(self, o):
        return Vec(self.x + o.x, self.y + o.y, self.z + o.z)

    def scale(self, k):
        return Vec(self.x * k, self.y * k, self.z * k)

    def dot(self, o):
        return self.x * o.x + self.y * o.y + self.z * o.z


class Node:
    def __init__(self, value, parent=None):
        self.value, self.parent, self.children = value, parent, []

    @property
    def depth(self):
        return 0 if self.parent is None else self.parent.depth + 1

    def add(self, value):
        child = Node(value, self)
        self.children.append(child)
        return child

    def total(self):
        return self.value + sum(c.total() for c in self.children)


class Leaf(Node):
    def total(self):
        return self.value


def classes(rounds):
    checks = 0
    for r in range(rounds):
        acc = Vec(0, 0, 0)
        for i in range(2000):
            acc = acc + Vec(i, 1, -i).scale(2)
        root = Node(1)
        level = [root]
        for _ in range(6):
            level = [n.add(1) for n in level for _ in range(3)]
        for n in level:
            n.children.append(Leaf(1, n))
        expect_nodes = sum(3 ** d for d in range(7)) + 3 ** 6
        if (acc.dot(Vec(1, 1, 1)) != 4000 or root.total() != expect_nodes
                or level[0].children[0].depth != 7):
            fail("classes round %d" % r)
        checks += 1
    return checks


WORKLOADS = {"objects": (objects, 600000), "dicts": (dicts, 40), "json": (json_work, 150),
             "regex": (regex, 150), "classes": (classes, 60)}


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in WORKLOADS:
        sys.exit("usage: pywork.py {%s} [SCALE]" % "|".join(WORKLOADS))
    fn, base = WORKLOADS[sys.argv[1]]
    scale = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    check_preload()
    checks = fn(max(1, int(base * scale)))
    print("RESULT workload=py-%s checks=%d rss_peak_kb=%d rss_final_kb=%d"
          % (sys.argv[1], checks, status_kb("VmHWM"), status_kb("VmRSS")))


if __name__ == "__main__":
    main()
