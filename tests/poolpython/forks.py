"""fork and multiprocessing on the pool allocator: children made by
os.fork (mid-way through a heap of live objects, while other threads
allocate), and Pools of the fork, forkserver and spawn start methods.
Each child reports whether its objects live in the pool allocator's
arenas, so a child that silently fell back to pymalloc is seen.

Prints what every start method computed, then 1 when the parent and every
child ran on the pool allocator (0 under python3).
"""
import ctypes
import multiprocessing as mp
import os
import sys
import threading


def ours():
    """1 when the objects of this process live in the pool allocator."""
    try:
        owns = ctypes.CDLL(None).pool_owns
    except AttributeError:
        return 0
    return owns(ctypes.c_void_p(id([1, 2, 3])))


def work(n):
    d = {str(i): [i] * (i % 7) for i in range(n)}
    return sum(len(v) for v in d.values()), ours()


def forked_children(live, owners):
    stop = threading.Event()

    def churn():
        while not stop.is_set():
            [str(i) * 2 for i in range(500)]

    t = threading.Thread(target=churn)
    t.start()
    results = []
    for k in range(6):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            ok = all(live[i] == ("x%d" % i, i) for i in range(0, len(live), 97))
            del live[: len(live) // 2]   # free the parent's blocks in the child
            total, mine = work(3000 + k)
            os.write(w, ("%d %d %d" % (ok, total, mine)).encode())
            os._exit(0)
        os.close(w)
        with os.fdopen(r) as f:
            ok, total, mine = f.read().split()
        results.append(ok + " " + total)
        owners.add(int(mine))
        _, status = os.waitpid(pid, 0)
        results.append("exit %d" % os.waitstatus_to_exitcode(status))
    stop.set()
    t.join()
    return results


def main():
    live = [("x%d" % i, i) for i in range(200000)]
    owners = {ours()}
    print("os.fork", forked_children(live, owners), len(live))
    for method in ("fork", "forkserver", "spawn"):
        ctx = mp.get_context(method)
        with ctx.Pool(2) as pool:
            got = pool.map(work, range(1000, 1040))
        print(method, sum(g[0] for g in got))
        owners |= {g[1] for g in got}
    # last line: 1 when the parent and every child ran on the pool allocator
    print(int(owners == {1}))


if __name__ == "__main__":
    main()
