"""Test side of the pymalloc suite: an independent decoder of version-2
statistics segments (ctypes mirrors of allocator/export/export_format.h and
poolalloc.h), a parser of sys._debugmallocstats() output, and the checks.

    pymalloc_lib.py valid SEGMENT [PID]         the segment is whole and its figures add up
    pymalloc_lib.py compare SEGMENT DUMPFILE    its figures equal the dump's (the pymalloc part)
    pymalloc_lib.py get SEGMENT FIELD           print one figure (header or stats field, or "mode")
    pymalloc_lib.py parse-refusals REPORTFILE   mutated reports are each refused by _native.parse
"""
import ctypes as C
import os
import re
import sys
import time

U8, U16, U32, U64, I64 = C.c_uint8, C.c_uint16, C.c_uint32, C.c_uint64, C.c_int64
# pool_stats_t holds 68 classes (pymalloc's 32, then the medium tier's 36);
# a pymalloc segment fills the first 32
STATS_CLASSES, NUM_CLASSES, POOLS_PER_ARENA = 68, 32, 64
STATE = {"untouched": 0, "used": 1, "empty": 2, "returned": 3, "header": 4, "span": 5,
         "alignment": 6}


class ClassStats(C.Structure):
    _fields_ = [("size", U32), ("blocks_per_pool", U32), ("pools_per_run", U32),
                ("reserved", U32)] + [
        (n, U64) for n in ("pools", "pools_full", "blocks_allocated", "blocks_free", "mallocs",
                           "frees", "blocks_cached")]


class Bytes(C.Structure):
    _fields_ = [(n, U64) for n in ("allocated", "free_blocks", "empty_pools", "untouched",
                                   "pool_headers", "quantization", "alignment", "returned")]


class Ops(C.Structure):
    _fields_ = [(n, U64) for n in ("malloc", "free", "calloc", "realloc", "realloc_inplace",
                                   "aligned", "remote_free", "failed")]


class Stats(C.Structure):
    _fields_ = [(n, U32) for n in ("arena_size", "pool_size", "pool_header_size",
                                   "small_threshold", "num_classes", "pools_per_arena",
                                   "arena_header_size")] + [
        (n, U64) for n in ("arenas_allocated_total", "arenas_released_total",
                           "arenas_highwater", "arenas_current", "mapped_bytes")] + [
        ("bytes", Bytes)] + [(n, U64) for n in ("pools_used", "pools_empty", "pools_untouched",
                                                 "pools_returned", "pools_span")] + [
        ("classes", ClassStats * STATS_CLASSES)] + [
        (n, U64) for n in ("large_allocations", "large_bytes", "large_mallocs",
                           "large_bytes_total")] + [
        ("large_hist", U64 * 8), ("ops", Ops)] + [
        (n, U64) for n in ("purges", "purged_pools", "purged_bytes")] + [
        ("purge_delay_ms", I64), ("heaps", U64), ("heaps_abandoned", U64)]


class Header(C.Structure):
    _fields_ = [("magic", C.c_char * 8), ("version", U32), ("header_size", U32),
                ("stats_size", U32), ("pid", U32), ("comm", C.c_char * 16)] + [
        (n, U64) for n in ("start_realtime_ns", "interval_ms", "seq", "updated_realtime_ns",
                           "updates")] + [
        ("allocator", U32), ("has", U32), ("allocator_version", C.c_char * 32),
        ("metadata_bytes", U64), ("arena_record_size", U32), ("arena_capacity", U32),
        ("arena_records", U32), ("reserved", U32), ("arenas_in_map_total", U64),
        ("stats", Stats)]


class PoolInfo(C.Structure):
    _fields_ = [("state", U8), ("size_class", U8), ("used", U16), ("blocks", U16)]


class ArenaInfo(C.Structure):
    _fields_ = [("address", C.c_uint64), ("free_pools", U32),
                ("pools", PoolInfo * POOLS_PER_ARENA)]


class Bad(Exception):
    pass


def read_stable(path):
    """The whole file copied between two equal even sequence numbers."""
    seq_off = Header.seq.offset
    for _ in range(50):
        with open(path, "rb") as f:
            data = f.read()
            f.seek(seq_off)
            after = int.from_bytes(f.read(8), "little")
        if len(data) >= C.sizeof(Header):
            h = Header.from_buffer_copy(data)
            if h.seq % 2 == 0 and h.seq == after:
                return h, data
        time.sleep(0.001)
    raise Bad("%s: never stable" % path)


def decode(path):
    h, data = read_stable(path)
    if h.magic != b"POOLSHM1" or h.version != 2:
        raise Bad("magic %r version %d" % (h.magic, h.version))
    if (h.header_size, h.stats_size, h.arena_record_size) != (
            C.sizeof(Header), C.sizeof(Stats), C.sizeof(ArenaInfo)):
        raise Bad("layout sizes %d/%d/%d, the test expects %d/%d/%d" % (
            h.header_size, h.stats_size, h.arena_record_size, C.sizeof(Header),
            C.sizeof(Stats), C.sizeof(ArenaInfo)))
    if len(data) != h.header_size + h.arena_capacity * h.arena_record_size:
        raise Bad("file size %d for capacity %d" % (len(data), h.arena_capacity))
    if h.arena_records > h.arena_capacity:
        raise Bad("records %d > capacity %d" % (h.arena_records, h.arena_capacity))
    arenas = [ArenaInfo.from_buffer_copy(data, h.header_size + i * h.arena_record_size)
              for i in range(h.arena_records)]
    return h, arenas


def check_valid(h, arenas, pid=None):
    """Every relation a pymalloc v2 segment promises; raises Bad."""
    s, b = h.stats, h.stats.bytes
    def need(cond, what):
        if not cond:
            raise Bad(what)
    need(pid is None or h.pid == pid, "pid %d, expected %d" % (h.pid, pid or 0))
    need(h.allocator == 2, "allocator %d is not PYMALLOC" % h.allocator)
    need(h.has & ~(1 << 5) == 0, "has %#x claims what pymalloc does not keep" % h.has)
    need(h.updates > 0 and h.interval_ms > 0, "never published")
    need((s.arena_size, s.pool_size, s.small_threshold, s.num_classes, s.pools_per_arena,
          s.arena_header_size) == (1 << 20, 1 << 14, 512, 32, 64, 0), "geometry")
    need(s.arenas_current == s.arenas_allocated_total - s.arenas_released_total, "arena counts")
    need(s.arenas_highwater >= s.arenas_current, "highwater")
    parts = [b.allocated, b.free_blocks, b.empty_pools, b.untouched, b.pool_headers,
             b.quantization, b.alignment, b.returned]
    need(sum(parts) == s.mapped_bytes == s.arenas_current * s.arena_size,
         "byte kinds %d != arenas x arena size %d" % (sum(parts), s.arenas_current * s.arena_size))
    lost = b.alignment // s.pool_size
    need(b.alignment % s.pool_size == 0 and lost <= s.arenas_current, "alignment")
    need(s.pools_used + s.pools_empty + s.pools_untouched + s.pools_returned + lost ==
         s.arenas_current * s.pools_per_arena, "pools do not fill the arenas")
    alloc = free = quant = pools = 0
    for c in range(NUM_CLASSES):
        cs = s.classes[c]
        size = (c + 1) * 16
        need(cs.size == size and cs.blocks_per_pool == (s.pool_size - s.pool_header_size) // size,
             "class %d geometry" % c)
        need(cs.blocks_allocated + cs.blocks_free == cs.pools * cs.blocks_per_pool,
             "class %d blocks" % c)
        need(cs.pools_full <= cs.pools and cs.mallocs == cs.frees == cs.blocks_cached == 0,
             "class %d counters" % c)
        alloc += cs.blocks_allocated * size
        free += cs.blocks_free * size
        quant += cs.pools * ((s.pool_size - s.pool_header_size) % size)
        pools += cs.pools
    need((alloc, free, quant, pools) == (b.allocated, b.free_blocks, b.quantization, s.pools_used),
         "classes do not make the bytes")
    need(b.pool_headers == pools * s.pool_header_size, "pool headers")
    need(b.empty_pools == s.pools_empty * s.pool_size and
         b.untouched == s.pools_untouched * s.pool_size, "empty/untouched bytes")
    need(h.arenas_in_map_total == s.arenas_current and h.arena_records <= s.arenas_current,
         "map counts")
    last = -1
    for a in arenas:
        need(a.address > last, "map not in address order")
        last = a.address
        aligned = a.address % s.pool_size == 0
        free_pools = 0
        for j, p in enumerate(a.pools):
            if j == 63 and not aligned:
                need(p.state == STATE["alignment"], "arena %#x: pool 63 not ALIGNMENT" % a.address)
                continue
            need(p.state in (0, 1, 2), "arena %#x pool %d: state %d" % (a.address, j, p.state))
            if p.state == STATE["used"]:
                need(p.size_class < 32 and 0 < p.used <= p.blocks == s.classes[p.size_class]
                     .blocks_per_pool, "arena %#x pool %d: used/blocks" % (a.address, j))
            else:
                free_pools += 1
        need(free_pools == a.free_pools, "arena %#x: free_pools" % a.address)


def parse_dump(text):
    """The pymalloc part of sys._debugmallocstats() output."""
    d = {"classes": {}}
    for m in re.finditer(r"^\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$", text, re.M):
        c, size, pools, used, avail = map(int, m.groups())
        d["classes"][c] = (pools, used, avail)
    def value(label):
        m = re.search(r"^" + re.escape(label) + r"\s*=\s*([\d,]+)$", text, re.M)
        if not m:
            raise Bad("dump has no %r" % label)
        return int(m.group(1).replace(",", ""))
    for key, label in [("total", "# arenas allocated total"), ("reclaimed", "# arenas reclaimed"),
                       ("highwater", "# arenas highwater mark"),
                       ("current", "# arenas allocated current"),
                       ("allocated", "# bytes in allocated blocks"),
                       ("available", "# bytes in available blocks"),
                       ("headers", "# bytes lost to pool headers"),
                       ("quantization", "# bytes lost to quantization"),
                       ("alignment", "# bytes lost to arena alignment"),
                       ("root", "# bytes lost to arena map root"),
                       ("mid", "# bytes lost to arena map mid"),
                       ("bot", "# bytes lost to arena map bot")]:
        d[key] = value(label)
    m = re.search(r"^(\d+) unused pools \* (\d+) bytes\s*=\s*([\d,]+)$", text, re.M)
    d["unused"] = int(m.group(3).replace(",", ""))
    return d


def compare(h, dump):
    s, b = h.stats, h.stats.bytes
    got = {"total": s.arenas_allocated_total, "reclaimed": s.arenas_released_total,
           "highwater": s.arenas_highwater, "current": s.arenas_current,
           "allocated": b.allocated, "available": b.free_blocks,
           "unused": b.empty_pools + b.untouched, "headers": b.pool_headers,
           "quantization": b.quantization, "alignment": b.alignment,
           "radix": h.metadata_bytes}
    want = dict(dump, radix=dump["root"] + dump["mid"] + dump["bot"])
    diffs = ["%s: segment %d, dump %d" % (k, got[k], want[k]) for k in got if got[k] != want[k]]
    for c in range(NUM_CLASSES):
        cs = s.classes[c]
        mine = (cs.pools, cs.blocks_allocated, cs.blocks_free)
        theirs = dump["classes"].get(c, (0, 0, 0))
        if mine != theirs:
            diffs.append("class %d: segment %s, dump %s" % (c, mine, theirs))
    return diffs


def field(h, name):
    for obj in (h, h.stats, h.stats.bytes):
        if name in dict(obj._fields_):
            v = getattr(obj, name)
            return v.decode() if isinstance(v, bytes) else v
    raise Bad("no field %s" % name)


def main(argv):
    cmd = argv[1]
    try:
        if cmd == "valid":
            h, arenas = decode(argv[2])
            check_valid(h, arenas, int(argv[3]) if len(argv) > 3 else None)
        elif cmd == "compare":
            h, arenas = decode(argv[2])
            check_valid(h, arenas)
            with open(argv[3]) as f:
                diffs = compare(h, parse_dump(f.read()))
            if diffs:
                raise Bad("; ".join(diffs))
        elif cmd == "get":
            h, arenas = decode(argv[2])
            if argv[3] == "mode":
                print("%o" % (os.stat(argv[2]).st_mode & 0o777))
            elif argv[3] == "map_used_pools":
                print(sum(p.state == 1 for a in arenas for p in a.pools))
            else:
                print(field(h, argv[3]))
        else:
            raise Bad("unknown command %s" % cmd)
    except (Bad, OSError) as exc:
        print("pymalloc_lib: %s" % exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
