"""Objects built by one thread and dropped by another: 8 producers build
records (dicts, lists, tuples, str, bytes), 8 consumers check and drop
them, so nearly every free is of another thread's block; then short-lived
threads that each leave their objects behind for the main thread to free
after they exit. Prints counts that do not depend on the allocator."""
import queue
import sys
import threading

PRODUCERS = CONSUMERS = 8
PER_PRODUCER = int(sys.argv[1]) if len(sys.argv) > 1 else 20000


def record(p, i):
    s = "p%d-%d" % (p, i)
    return {"p": p, "i": i, "s": s, "l": [i, s, (p, i)], "b": s.encode() * (i % 5)}


def produce(q, p):
    batch = []
    for i in range(PER_PRODUCER):
        batch.append(record(p, i))
        if len(batch) == 50:
            q.put(batch)
            batch = []
    q.put(batch)
    q.put(None)


def consume(q, counts, k):
    n = 0
    while True:
        batch = q.get()
        if batch is None:
            break
        for r in batch:
            p, i = r["p"], r["i"]
            if r != record(p, i):
                raise SystemExit("content mismatch in %r" % (r,))
            n += 1
    counts[k] = n


def leftovers():
    kept = []

    def leave(t):
        kept.append([("t%d" % t, j, [j] * 3) for j in range(2000)])

    for _ in range(5):
        ts = [threading.Thread(target=leave, args=(t,)) for t in range(16)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    total = sum(len(x) for x in kept)
    kept.clear()   # the creators are gone: their heaps' blocks freed from here
    return total


def main():
    q = queue.Queue(maxsize=64)
    counts = [0] * CONSUMERS
    ts = [threading.Thread(target=produce, args=(q, p)) for p in range(PRODUCERS)]
    ts += [threading.Thread(target=consume, args=(q, counts, k)) for k in range(CONSUMERS)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print("records", sum(counts), "leftovers", leftovers())


main()
