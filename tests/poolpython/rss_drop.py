"""RSS before, at the peak of, and after freeing a large structure (a
million small records, of which one in 1000 stays alive, scattered, as in a
long-running program's cache), then after a moment of ordinary work.
Prints "rss_kb before peak freed". pymalloc keeps every arena with a live
block resident; the pool allocator gives back the empty pools among them."""
import gc
import time


def rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    gc.collect()
    before = rss_kb()
    big = [("k%d" % i, i, [i]) for i in range(1000000)]
    peak = rss_kb()
    kept = big[::1000]
    del big
    gc.collect()
    time.sleep(0.05)
    for _ in range(20):   # a little ordinary work after the free
        [str(i) for i in range(2000)]
    print("rss_kb", before, peak, rss_kb(), len(kept))


main()
