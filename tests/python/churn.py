"""A program for the pymalloc suite, run under `python3 -m poold_pymalloc`:
builds and drops dicts, lists and strings; at chosen moments it writes
sys._debugmallocstats() to OUTDIR/NAME.dump and, right after it, makes the
exporter publish and copies its segment to OUTDIR/NAME.seg, so the test can
compare the two. Echoes stdin to stdout, prints its argv, exits with STATUS.

    churn.py OUTDIR STATUS [ARGS...]
"""
import gc
import os
import shutil
import sys

import poold_pymalloc
from poold_pymalloc import _native


def moment(outdir, name):
    seg = poold_pymalloc.running()
    fd = os.open(os.path.join(outdir, name + ".dump"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    saved = os.dup(2)
    os.dup2(fd, 2)
    # nothing allocates between the two calls: the same heap is read twice
    sys._debugmallocstats(); _native.publish()
    os.dup2(saved, 2)
    os.close(saved)
    os.close(fd)
    shutil.copyfile(seg, os.path.join(outdir, name + ".seg"))


def build(n):
    records = [{"id": i, "name": "rec-%d" % i, "tags": [i, str(i)], "pair": (i, -i)}
               for i in range(n)]
    text = ["x" * (i % 300) for i in range(n)]
    return records, text


def main():
    outdir, status = sys.argv[1], int(sys.argv[2])
    print("argv", sys.argv[3:])
    print("stdin", sys.stdin.read().strip())
    sys.stdout.flush()
    keep = build(150000)
    moment(outdir, "built")
    survivors = keep[0][::5000]
    del keep
    gc.collect()
    moment(outdir, "dropped")
    assert all(r["name"] == "rec-%d" % r["id"] for r in survivors)
    sys.exit(status)


main()
