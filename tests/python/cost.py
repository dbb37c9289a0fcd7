"""What poold_pymalloc costs (a measurement, not a test).

    python3 tests/python/cost.py [ROUNDS] [SCALE]

1. bench/pyprog.py on /usr/bin/python3, plain and under `-m poold_pymalloc`
   (default interval, 1 s), in interleaved rounds (the order alternates);
   prints the medians of wall and CPU time (user + sys of the child: the
   publisher thread's work included) and the median of same-round ratios.
2. The GIL hold per read with about 100 arenas: a program builds ~100 MB of
   small objects and publishes 300 times; the C side times each read.
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PY = "/usr/bin/python3"
ENV = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "build", "python"))


def run(argv, env=ENV):
    t0 = time.monotonic()
    p = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    if status != 0:
        sys.exit("cost: %s failed (%d)" % (" ".join(argv), status))
    return wall, ru.ru_utime + ru.ru_stime


def runtime(rounds, scale):
    prog = [os.path.join(ROOT, "bench", "pyprog.py"), str(scale)]
    plain, exporting = [PY] + prog, [PY, "-m", "poold_pymalloc"] + prog
    res = {"plain": [], "exporting": []}
    for r in range(rounds):
        order = [("plain", plain), ("exporting", exporting)]
        for name, argv in (order if r % 2 == 0 else order[::-1]):
            res[name].append(run(argv))
    for i, kind in enumerate(("wall", "cpu")):
        a = [x[i] for x in res["plain"]]
        b = [x[i] for x in res["exporting"]]
        ratios = [y / x for x, y in zip(a, b)]
        print("pyprog %s %s time: plain %.3f s, exporting %.3f s (medians of %d), "
              "same-round ratio median %.4f (min %.4f, max %.4f)"
              % (scale, kind, statistics.median(a), statistics.median(b), rounds,
                 statistics.median(ratios), min(ratios), max(ratios)))


HOLD = r'''
import statistics, poold_pymalloc
from poold_pymalloc import _native
poold_pymalloc.start(interval=3600)       # first, so every new arena is in the map
keep = [{"i": i, "s": "x" * (i % 60), "l": [i, i]} for i in range(260000)]
holds, cpu = [], []
for _ in range(300):
    _native.publish()
    t = _native.timing()
    holds.append(t["last_ns"])
    cpu.append(t["last_cpu_ns"])
d = poold_pymalloc.snapshot()
for name, v in (("wall", holds), ("CPU", cpu)):
    v.sort()
    print("GIL hold per read at %d arenas (%d in the map), %s: median %.1f us, 90th %.1f us, "
          "max %.1f us (300 reads)" % (d["arenas_current"], d["map_arenas"], name,
          statistics.median(v) / 1e3, v[269] / 1e3, v[-1] / 1e3))
'''


def startup(rounds):
    """A program that does nothing: plain, under -m, and through the .pth hook
    (the build's package and hook in a private user site)."""
    tmp = tempfile.mkdtemp(prefix="pymalloc-cost.")
    site = os.path.join(tmp, "lib", "python3.11", "site-packages")
    shutil.copytree(os.path.join(ROOT, "build", "python"), site)
    empty = os.path.join(tmp, "empty.py")
    with open(empty, "w") as f:
        f.write("pass\n")
    user = dict(ENV, PYTHONUSERBASE=tmp)
    del user["PYTHONPATH"]
    kinds = {"plain": ([PY, empty], ENV), "-m poold_pymalloc": ([PY, "-m", "poold_pymalloc", empty], ENV),
             "hook installed, off": ([PY, empty], user),
             "POOLD_PYMALLOC_EXPORT=1": ([PY, empty], dict(user, POOLD_PYMALLOC_EXPORT="1"))}
    cpu = {k: [] for k in kinds}
    for _ in range(rounds * 3):
        for k, (argv, env) in kinds.items():
            cpu[k].append(run(argv, env)[1])
    shutil.rmtree(tmp)
    print("start-up and exit of an empty program, CPU (medians of %d): " % (rounds * 3) +
          ", ".join("%s %.1f ms" % (k, statistics.median(v) * 1e3) for k, v in cpu.items()))


def gil_hold():
    out = subprocess.run([PY, "-c", HOLD], env=ENV, capture_output=True, text=True, check=True)
    print(out.stdout.strip())


if __name__ == "__main__":
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 9
    scale = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    gil_hold()
    startup(rounds)
    runtime(rounds, scale)
