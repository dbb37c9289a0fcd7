#!/usr/bin/env python3
"""Statistics segments for the collector's tests, made from a real one
(format: allocator/export/export_format.h; only the fixed header and the
first field of the statistics are touched).

    mksegment.py SRC DST [field=value...]

fields: pid, comm, seq, updated (ns since the epoch, or "now-Ns"), updates,
interval, magic, version, arena_size (the statistics' first field).
"""
import struct
import sys
import time

# offsets in pool_export_segment_t
FIELDS = {
    "magic": (0, "8s"), "version": (8, "<I"), "pid": (20, "<I"), "comm": (24, "16s"),
    "start": (40, "<Q"), "interval": (48, "<Q"), "seq": (56, "<Q"), "updated": (64, "<Q"),
    "updates": (72, "<Q"), "arena_size": (80, "<I"),
}


def value(name, text):
    fmt = FIELDS[name][1]
    if fmt.endswith("s"):
        return text.encode().replace(b"\\\\", b"\\")
    if name in ("updated", "start") and text.startswith("now"):
        return int((time.time() + float(text[3:] or 0)) * 1e9)
    return int(text, 0)


def main():
    if len(sys.argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    data = bytearray(open(sys.argv[1], "rb").read())
    for arg in sys.argv[3:]:
        name, text = arg.split("=", 1)
        off, fmt = FIELDS[name]
        struct.pack_into(fmt, data, off, value(name, text))
    with open(sys.argv[2], "wb") as f:
        f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
