#!/usr/bin/env python3
"""Statistics segments for the collector's tests, made from a real one
(format: allocator/export/export_format.h). Versions 1 and 2 share the
header up to `updates`; the version 2 fields and the arena map apply to a
version 2 template only.

    mksegment.py SRC DST [field=value...] [pool=ARENA:POOL:STATE[:USED]] [truncate=N]
                         [scale=K] [pymalloc=1]

fields: pid, comm, seq, updated / start (ns since the epoch, or "now-Ns"),
updates, interval, magic, version, arena_size (the statistics' first field),
and (version 2) allocator, has, capacity, records, map_total, reserved,
record_size.
pool=A:P:S[:U] sets pool P of arena record A to state S (and used to U).
truncate=N cuts the file to N bytes.
scale=K makes a version 2 segment of this build with K times the arenas:
every arena record repeated K times (at consecutive arena addresses) and
every count of the statistics multiplied to match (this build's
pool_stats_t, 68 classes, only): a large heap, consistent, without the memory.
pymalloc=1 turns a version 2 segment of this build into one CPython's
pymalloc could publish: allocator 2, only the map among the groups (the
operation, purge, heap, large-block and cache figures zeroed).
"""
import struct
import sys
import time

# offsets in the header both versions share, then pool_export_header_t's own
FIELDS = {
    "magic": (0, "8s"), "version": (8, "<I"), "pid": (20, "<I"), "comm": (24, "16s"),
    "start": (40, "<Q"), "interval": (48, "<Q"), "seq": (56, "<Q"), "updated": (64, "<Q"),
    "updates": (72, "<Q"), "arena_size": (80, "<I"),
    "allocator": (80, "<I"), "has": (84, "<I"), "record_size": (128, "<I"),
    "capacity": (132, "<I"), "records": (136, "<I"), "reserved": (140, "<I"),
    "map_total": (144, "<Q"),
}
V2_STATS = 152        # offset of pool_stats_t in pool_export_header_t
RECORD = 400          # sizeof(pool_arena_info_t): address, free_pools, 64 x 6-byte pools
STATS_SIZE = 5280     # sizeof(pool_stats_t)
NCLASSES = 68         # pool_stats_t's classes: pymalloc's 32, then the medium tier's 36
CLASS = 72            # sizeof(pool_class_stats_t)
CLASSES = 176         # offset of classes[] in pool_stats_t: geometry, arenas, bytes, pools
POOL_INFO = (12, 6)   # offset of pools[] in a record, size of one


def value(name, text):
    fmt = FIELDS[name][1]
    if fmt.endswith("s"):
        return text.encode().replace(b"\\\\", b"\\")
    if name in ("updated", "start") and text.startswith("now"):
        return int((time.time() + float(text[3:] or 0)) * 1e9)
    return int(text, 0)


def header_size(data):
    return struct.unpack_from("<I", data, 12)[0]


def set_pool(data, spec):
    a, p, state, *used = (int(x, 0) for x in spec.split(":"))
    off = header_size(data) + a * RECORD + POOL_INFO[0] + p * POOL_INFO[1]
    data[off] = state
    if used:
        struct.pack_into("<H", data, off + 2, used[0])


def to_pymalloc(data):
    """Zero what pymalloc does not keep (the template must come from a
    process in the pymalloc-faithful mode, POOLMALLOC_THRESHOLD=512: 32
    classes); offsets of this build's pool_stats_t only."""
    if struct.unpack_from("<I", data, 16)[0] != STATS_SIZE:
        raise SystemExit("mksegment.py: pymalloc=1 knows only this build's pool_stats_t")
    s = V2_STATS
    classes = s + CLASSES
    for c in range(NCLASSES):
        k = classes + c * CLASS
        data[k + 48:k + 72] = bytes(24)                  # mallocs, frees, blocks_cached
    tail = classes + NCLASSES * CLASS                    # large_*, hist, ops, purge, heaps
    data[tail:s + STATS_SIZE] = bytes(s + STATS_SIZE - tail)
    struct.pack_into("<II", data, 80, 2, 1 << 5)         # allocator PYMALLOC, has MAP
    data[88:120] = b"3.11.2".ljust(32, b"\0")


def scale(data, k):
    if struct.unpack_from("<I", data, 16)[0] != STATS_SIZE:
        raise SystemExit("mksegment.py: scale= knows only this build's pool_stats_t")
    hs = header_size(data)
    recs = struct.unpack_from("<I", data, 136)[0]
    s = V2_STATS
    arenas = struct.unpack_from("<Q", data, s + 56)[0]
    if recs != arenas:
        raise SystemExit("mksegment.py: scale= needs a complete map")
    body = data[hs:hs + recs * RECORD]
    base = struct.unpack_from("<Q", body, 0)[0]
    out = bytearray()
    for i in range(recs * k):
        rec = bytearray(body[(i % recs) * RECORD:(i % recs + 1) * RECORD])
        struct.pack_into("<Q", rec, 0, base + i * (1 << 20))
        out += rec
    def mul(off, n=1):
        for j in range(n):
            v = struct.unpack_from("<Q", data, off + 8 * j)[0]
            struct.pack_into("<Q", data, off + 8 * j, v * k)
    struct.pack_into("<QQQQ", data, s + 32, arenas * k, 0, arenas * k, arenas * k)
    mul(s + 64)                      # mapped_bytes
    mul(s + 72, 8)                   # bytes by kind
    mul(s + 136, 5)                  # pools by state (span included)
    for c in range(NCLASSES):
        k0 = s + CLASSES + c * CLASS
        mul(k0 + 16, 4)              # pools, pools_full, blocks_allocated, blocks_free
        mul(k0 + 64)                 # blocks_cached
    struct.pack_into("<III", data, 132, recs * k, recs * k, 0)
    struct.pack_into("<Q", data, 144, recs * k)
    return data[:hs] + out


def main():
    if len(sys.argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    data = bytearray(open(sys.argv[1], "rb").read())
    for arg in sys.argv[3:]:
        name, text = arg.split("=", 1)
        if name == "pool":
            set_pool(data, text)
        elif name == "truncate":
            del data[int(text):]
        elif name == "scale":
            data = scale(data, int(text))
        elif name == "pymalloc":
            to_pymalloc(data)
        else:
            off, fmt = FIELDS[name]
            if name == "arena_size" and struct.unpack_from("<I", data, 8)[0] == 2:
                off = V2_STATS
            struct.pack_into(fmt, data, off, value(name, text))
    with open(sys.argv[2], "wb") as f:
        f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
