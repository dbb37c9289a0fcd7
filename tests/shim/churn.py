"""Object churn and threads for the preload-shim suite (run with
PYTHONMALLOC=malloc so every object comes from malloc). Output depends only
on the computation, so it is the same on any allocator.

    python3 churn.py [divisor]   (a bigger divisor does less work)
"""
import hashlib
import json
import queue
import random
import sys
import threading
import gc

DIV = int(sys.argv[1]) if len(sys.argv) > 1 else 1


def churn(seed, n):
    rnd = random.Random(seed)
    objs = []
    for i in range(n):
        kind = rnd.randrange(5)
        if kind == 0:
            objs.append({"k%d" % rnd.randrange(1000): [rnd.random() for _ in range(rnd.randrange(8))]})
        elif kind == 1:
            objs.append("x" * rnd.randrange(600) + str(i))
        elif kind == 2:
            objs.append(tuple(range(rnd.randrange(40))))
        elif kind == 3:
            objs.append(bytearray(rnd.randrange(5000)))
        else:
            objs.append({rnd.randrange(100): i, "s": {i, i + 1}})
        if len(objs) > 2000:
            del objs[rnd.randrange(len(objs))]
            objs.pop(0)
    return hashlib.sha256(json.dumps([repr(o)[:50] for o in objs]).encode()).hexdigest()


def producer(q, seed, n):
    rnd = random.Random(seed)
    for i in range(n):
        q.put([str(rnd.random()) * rnd.randrange(1, 20), list(range(rnd.randrange(100)))])
    q.put(None)


def consumer(q, out, idx):
    h = hashlib.sha256()
    count = 0
    while True:
        item = q.get()
        if item is None:
            break
        h.update(item[0].encode())
        h.update(bytes(len(item[1]) % 256 for _ in range(1)))
        count += 1
        del item
    out[idx] = (count, h.hexdigest())


def main():
    print("churn", churn(1, 60000 // DIV))
    gc.collect()
    out = {}
    threads = []
    for t in range(4):
        q = queue.Queue(maxsize=64)
        threads.append(threading.Thread(target=producer, args=(q, 100 + t, 8000 // DIV)))
        threads.append(threading.Thread(target=consumer, args=(q, out, t)))
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for t in sorted(out):
        print("queue", t, *out[t])
    big = {i: str(i) * (i % 50) for i in range(200000 // DIV)}
    print("dict", len(big), sum(len(v) for v in big.values()))
    del big
    words = sorted(("%x" % (i * 2654435761 % 2**32)) for i in range(100000 // DIV))
    print("sorted", words[0], words[-1], len(set(words)))


main()
