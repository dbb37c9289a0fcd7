#!/usr/bin/env python3
"""Writes allocation traces by hand (format: allocator/trace/trace_format.h),
well-formed or deliberately broken, for the observe suites.

    mktrace.py KIND FILE     one of the kinds below
    mktrace.py --list
"""
import struct
import sys

MALLOC, CALLOC, REALLOC, FREE, ALIGNED = 1, 2, 3, 4, 5


def varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def zigzag(v):
    return ((v << 1) ^ (v >> 63)) & 0xFFFFFFFFFFFFFFFF


def header(pid=4242, comm=b"mktrace", version=1, magic=b"POOLTRC1", start_ticks=0):
    """Version 1 (ticks are ns), or 2 with the pair (start_ticks, 1e9 ns)."""
    h = magic + struct.pack("<IIII", version, 64, pid, 0)
    h += struct.pack("<QQ", 1700000000 * 10**9, 10**9)
    h += comm.ljust(16, b"\0")[:16] + struct.pack("<Q", start_ticks if version > 1 else 0)
    assert len(h) == 64
    return h


class Chunk:
    """Records of one thread; addresses are deltas within the chunk."""

    def __init__(self, tid, base_ns):
        self.tid, self.base, self.last_t, self.last_addr = tid, base_ns, base_ns, 0
        self.payload, self.n = bytearray(), 0

    def _addr(self, a):
        self.payload += varint(zigzag(a - self.last_addr))
        self.last_addr = a

    def rec(self, op, t, *fields):
        """fields: ('s', size) or ('a', address)"""
        self.payload.append(op)
        self.payload += varint(max(t - self.last_t, 0))
        self.last_t = max(t, self.last_t)
        for kind, v in fields:
            if kind == "s":
                self.payload += varint(v)
            else:
                self._addr(v)
        self.n += 1
        return self

    def malloc(self, t, size, addr):
        return self.rec(MALLOC, t, ("s", size), ("a", addr))

    def free(self, t, addr):
        return self.rec(FREE, t, ("a", addr))

    def realloc(self, t, old, size, addr):
        return self.rec(REALLOC, t, ("a", old), ("s", size), ("a", addr))

    def aligned(self, t, align, size, addr):
        return self.rec(ALIGNED, t, ("s", align), ("s", size), ("a", addr))

    def raw(self, data, records=1):
        self.payload += data
        self.n += records
        return self

    def encode(self, seq=0, records=None, payload_len=None, magic=0x314B4843, pair=None):
        """pair: (ticks, ns) for a version 2 chunk header."""
        n = self.n if records is None else records
        plen = len(self.payload) if payload_len is None else payload_len
        h = struct.pack("<IIIIQQ", magic, self.tid, n, plen, self.base, seq)
        if pair:
            h += struct.pack("<QQ", *pair)
        return h + bytes(self.payload)


def small():
    """Two threads, every operation, one cross-thread free; peak 1000+300 bytes."""
    a = Chunk(100, 1000).malloc(1000, 1000, 0x10000).malloc(1010, 300, 0x20000)
    a.realloc(1020, 0x20000, 200, 0x20000).aligned(1030, 64, 64, 0x30000).free(1040, 0x30000)
    b = Chunk(101, 1015).rec(CALLOC, 1015, ("s", 48), ("a", 0x40000)).free(1050, 0x10000)
    return header() + a.encode(0) + b.encode(1)


def small_v2():
    """small() in version 2: ticks = 3 per ns from 5000 ticks at 1e9 ns, so
    every time and duration must come out as in small()."""
    t = lambda ns: 5000 + 3 * (ns - 10**9)   # noqa: E731
    ns0 = 10**9 - 1000                       # small()'s times are 1000..1050 ns after ns0
    a = Chunk(100, t(ns0 + 1000)).malloc(t(ns0 + 1000), 1000, 0x10000).malloc(t(ns0 + 1010), 300, 0x20000)
    a.realloc(t(ns0 + 1020), 0x20000, 200, 0x20000).aligned(t(ns0 + 1030), 64, 64, 0x30000).free(t(ns0 + 1040), 0x30000)
    b = Chunk(101, t(ns0 + 1015)).rec(CALLOC, t(ns0 + 1015), ("s", 48), ("a", 0x40000)).free(t(ns0 + 1050), 0x10000)
    h = header(version=2, start_ticks=t(10**9))
    return h + a.encode(0, pair=(t(ns0 + 2000), ns0 + 2000)) + b.encode(1, pair=(t(ns0 + 3000), ns0 + 3000))


def kinds():
    base = header()
    ok = Chunk(7, 5).malloc(5, 32, 0x1000).free(6, 0x1000)
    return {
        "small": small(),
        "small-v2": small_v2(),
        "empty-file": b"",
        "header-only": base,
        "not-a-trace": b"#!/bin/sh\necho this is not a trace\n" + b"x" * 80,
        "bad-version": header(version=9) + ok.encode(),
        "truncated-header": base[:40],
        "truncated-chunk-header": base + ok.encode()[:20],
        "truncated-payload": base + ok.encode()[:-2],
        "bad-chunk-magic": base + ok.encode(magic=0xDEADBEEF),
        "second-chunk-bad": base + ok.encode(0) + ok.encode(1, magic=0x41414141),
        "payload-claim": base + Chunk(7, 5).malloc(5, 32, 0x1000).encode(payload_len=1 << 30),
        "zero-records": base + Chunk(7, 5).encode(records=0),
        "records-claim": base + Chunk(7, 5).malloc(5, 32, 0x1000).encode(records=3),
        "extra-bytes": base + Chunk(7, 5).malloc(5, 32, 0x1000).raw(b"\0\0\0\0", 0).encode(),
        "unknown-op": base + Chunk(7, 5).raw(bytes([0x77, 1, 1, 1])).encode(),
        "long-varint": base + Chunk(7, 5).raw(bytes([MALLOC, 1]) + b"\xff" * 11 + b"\x01").encode(),
        "varint-overflow": base + Chunk(7, 5).raw(bytes([MALLOC, 1]) + b"\xff" * 9 + b"\x7f\x00").encode(),
        # well-formed but hostile content
        "huge-request": base + Chunk(7, 5).malloc(5, 1 << 40, 0x1000).malloc(6, 64, 0x2000)
                        .realloc(7, 0x2000, 1 << 41, 0x3000).aligned(8, 1 << 30, 64, 0x4000)
                        .free(9, 0x1000).free(10, 0x3000).free(11, 0x4000).encode(),
        "unknown-frees": base + Chunk(7, 5).free(5, 0x1000).realloc(6, 0x2000, 10, 0x2000)
                         .malloc(7, 10, 0x3000).malloc(8, 20, 0x3000).free(9, 0x3000).encode(),
        "address-live": base + Chunk(7, 5).malloc(5, 10, 0x3000).encode()
                        + Chunk(8, 6).malloc(8, 20, 0x3000).free(9, 0x3000).encode(1),
        "time-backwards": base + Chunk(1, 10**12).malloc(10**12, 8, 0x10).encode()
                          + Chunk(1, 5).free(5, 0x10).encode(1),
        "many-threads": base + b"".join(Chunk(1000 + i, 10 + i).malloc(10 + i, 16, 0x1000 * (i + 1))
                                        .free(11 + i, 0x1000 * (i + 1)).encode(i) for i in range(5000)),
    }


def main():
    k = kinds()
    if sys.argv[1:] == ["--list"]:
        print("\n".join(k))
        return 0
    if len(sys.argv) != 3 or sys.argv[1] not in k:
        sys.stderr.write(__doc__ + "kinds: " + " ".join(k) + "\n")
        return 2
    with open(sys.argv[2], "wb") as f:
        f.write(k[sys.argv[1]])
    return 0


if __name__ == "__main__":
    sys.exit(main())
