#!/usr/bin/python3
"""The live page in a real browser (tests/page/browser.sh runs this).

    check.py own URL SHOT [PID]     poold's own view under --workload=fragmenter
    check.py process URL PID        /process/PID of a python3 on the shim
    check.py idle URL               a poold with no arena
    check.py large URL PID          /process/PID of a process with thousands of arenas
    check.py auth URL USER:PASSWORD over TLS (self-signed) with basic auth

Prints one line per check: "PASS<TAB>what" or "FAIL<TAB>what<TAB>why"."""
import json
import struct
import sys
import time
import urllib.request
import zlib

from cdp import Browser

STATE_COLOURS = {"header": (0xb8, 0x77, 0xd9), "untouched": (0x57, 0x94, 0xf2),
                 "empty": (0xfa, 0xde, 0x2a), "used": (0x73, 0xbf, 0x69)}
NAMES = {"h": "header", ".": "untouched", "u": "used", "e": "empty", "r": "returned",
         "s": "span", "a": "alignment"}
failed = 0


def report(cond, what, why=""):
    global failed
    failed += not cond
    print("%s\t%s\t%s" % ("PASS" if cond else "FAIL", what, str(why).replace("\n", " ")[:400]),
          flush=True)
    return cond


def get(url):
    return json.load(urllib.request.urlopen(url, timeout=20))


def at(obj, path):
    for k in path.split("."):
        if not isinstance(obj, dict) or k not in obj:
            return None
        obj = obj[k]
    return obj


# ---- PNG (8-bit RGB or RGBA, as chromium writes it) ------------------------------------------
def png_pixels(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8 and ctype in (2, 6), (depth, ctype)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + n
    raw, stride = zlib.decompress(idat), w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    counts = {}
    for line in rows:
        for i in range(0, stride, bpp):
            px = line[i:i + 3]
            counts[px] = counts.get(px, 0) + 1
    return w, h, counts


# ---- shared checks ------------------------------------------------------------------------------
def load(b, url, what):
    b.open(url)
    ok = b.wait_for("window.pooldModel && pooldModel.polls >= 2 && pooldModel.mapDraws >= 1", 25)
    report(ok, what + ": the page loads, polls and draws its map",
           b.evaluate("JSON.stringify(window.pooldModel || null)"))
    return ok


def clean(b, base, what):
    errs = b.errors()
    report(not errs, what + ": no console error, exception or CSP violation", errs[:5])
    foreign = [u for u in b.requests() if not u.startswith(base + "/")]
    report(not foreign, what + ": every request goes to poold itself (%d requests)" % len(b.requests()),
           foreign[:5])


def figures(b):
    return b.evaluate("Object.fromEntries(Array.from(document.querySelectorAll('[data-stat]'))"
                      ".map(td => [td.dataset.stat, td.dataset.value]))")


def close_enough(path, page, ref, slack):
    if isinstance(ref, str) or ref is None:
        return str(page) == str(ref if ref is not None else "")
    try:
        v = float(page)
    except ValueError:
        return False
    return abs(v - ref) <= slack.get(path.split(".")[-1], 0) + 1e-9 * abs(ref)


def states_of(arenas):
    out = {}
    for a in arenas:
        for p in a["pools"]:
            out[p["state"]] = out.get(p["state"], 0) + 1
    return out


def all_arenas(base):
    arenas, off = [], 0
    while True:
        page = get("%s/stats/arenas?offset=%d&limit=64" % (base, off))
        arenas += page["arenas"]
        if page["next_offset"] is None:
            return page["total"], arenas
        off = page["next_offset"]


# ---- the scenarios --------------------------------------------------------------------------------
def own(base, shot, pid):
    with Browser(1280, 1000) as b:
        if not load(b, base + "/", "poold's own view"):
            return
        # the figures against /stats read at the same moment: within what a fragmenter
        # at --workload.rate (2000 ops/s, blocks of at most 512 B) changes in 2 s
        page, stats = figures(b), get(base + "/stats")
        moved = 2 * 2000 * 512
        slack = {"mapped_bytes": moved + (4 << 20), "allocated": moved, "utilisation": 0.25,
                 "fragmentation_ratio": 0.5, "current": 4, "highwater": 4,
                 "resident_memory_bytes": 0.2 * (at(stats, "process.resident_memory_bytes") or 0),
                 "operations": 2 * 2000 + 1000}
        bad = {k: (v, at(stats, k)) for k, v in page.items()
               if not close_enough(k, v, at(stats, k), slack)}
        report(len(page) >= 9 and not bad,
               "%d data-stat figures equal /stats read at the same moment (within 2 s of the workload)"
               % len(page), bad)
        # the drawn map against /stats/arenas, read as soon as the page drew it again
        draws = b.evaluate("pooldModel.mapDraws")
        b.wait_for("pooldModel.mapDraws > %d" % draws, 10)
        m = json.loads(b.evaluate("JSON.stringify(pooldModel)"))
        total, arenas = all_arenas(base)
        report(abs(m["total"] - total) <= 2 and m["arenas"] == min(m["total"], 1000) and
               m["pools"] == 64 * m["arenas"],
               "the map draws every arena (%d, /stats/arenas: %d) and all their pools (%d)"
               % (m["arenas"], total, m["pools"]), m)
        ref = states_of(arenas)
        report(m["states"].get("header") == m["arenas"] and
               all(abs(m["states"].get(s, 0) - n) <= 4 + 0.03 * n for s, n in ref.items()),
               "its pools are in the states /stats/arenas reports (drawn %s, reported %s)"
               % (m["states"], ref))
        # the picture
        b.evaluate("document.getElementById('map-section').scrollIntoView()")
        data = b.screenshot(shot)
        w, h, counts = png_pixels(data)
        seen = {name: counts.get(bytes(c), 0) for name, c in STATE_COLOURS.items()}
        report(len(counts) > 20 and seen["header"] >= 50 and (seen["untouched"] + seen["empty"]) >= 1
               and any(px[1] > px[0] + 40 and px[1] > px[2] + 40 and n >= 50 for px, n in counts.items()),
               "the screenshot (%dx%d, %s) is not blank and shows the states' colours" % (w, h, shot),
               {k: v for k, v in seen.items()})
        # a second look
        sig, polls = m["signature"], m["polls"]
        b.pump(4)
        m2 = json.loads(b.evaluate("JSON.stringify(pooldModel)"))
        report(m2["signature"] != sig and m2["polls"] > polls and m2["timeline"] >= 3,
               "4 s later the map has moved and the timeline grown (%d points)" % m2["timeline"],
               (sig, m2["signature"]))
        # colour by class, address order, the tooltip
        b.evaluate("document.getElementById('colour').value = 'class';"
                   "document.getElementById('colour').dispatchEvent(new Event('change'))")
        b.evaluate("document.getElementById('order').value = 'address';"
                   "document.getElementById('order').dispatchEvent(new Event('change'))")
        b.wait_for("pooldModel.order === 'address' && pooldModel.colour === 'class'", 10)
        tip = b.evaluate("""(() => { const c = document.getElementById('map'), r = c.getBoundingClientRect();
            c.dispatchEvent(new MouseEvent('mousemove', {clientX: r.left + 2, clientY: r.top + 2}));
            return document.getElementById('tip').textContent; })()""")
        report(b.evaluate("pooldModel.order") == "address" and tip.startswith("arena 0x") and "header" in tip,
               "address order, colour by size class, and pointing at a pool tells what it is", tip)
        if pid:
            b.wait_for("pooldModel.processes >= 1", 10)
            opts = b.evaluate("Array.from(document.querySelectorAll('#process option')).map(o => o.value)")
            report(str(pid) in opts, "the process selector lists the python3 on the shim (%s)" % pid, opts)
        clean(b, base, "poold's own view")


def process(base, pid):
    with Browser(1280, 900) as b:
        if not load(b, "%s/process/%s" % (base, pid), "/process/%s" % pid):
            return
        page, stats = figures(b), get("%s/process/%s/stats" % (base, pid))
        rss = at(stats, "process.resident_memory_bytes") or 0
        bad = {k: (v, at(stats, k)) for k, v in page.items()
               if not close_enough(k, v, at(stats, k), {"resident_memory_bytes": 0.1 * rss,
                                                        "malloc": 10000})}
        report(page.get("comm") == "python3" and not bad,
               "the process view shows the python3 (%d figures equal /process/%s/stats)" % (len(page), pid), bad)
        m = json.loads(b.evaluate("JSON.stringify(pooldModel)"))
        a = stats["allocator"]
        pools = {"used": a["pools"]["used"], "empty": a["pools"]["empty"],
                 "untouched": a["pools"]["untouched"], "returned": a["pools"]["returned"]}
        drawn = {k: m["states"].get(k, 0) for k in pools}
        report(m["kind"] == "process" and m["total"] == a["arenas"]["current"] and
               m["pools"] == 64 * m["arenas"] and m["arenas"] == a["arenas"]["current"],
               "its map: %d arenas, %d pools drawn" % (m["arenas"], m["pools"]), m)
        report(all(abs(drawn[k] - pools[k]) <= 2 for k in pools),
               "in the states its statistics count (drawn %s, stats %s)" % (drawn, pools))
        clean(b, base, "the process view")


def idle(base):
    with Browser(1024, 800) as b:
        if not load(b, base + "/", "an idle poold"):
            return
        m = json.loads(b.evaluate("JSON.stringify(pooldModel)"))
        note = b.evaluate("document.getElementById('map-note').textContent")
        report(m["total"] == 0 and m["arenas"] == 0 and m["pools"] == 0 and "No arena" in note,
               "with no arena the map says so (%r)" % note, m)
        clean(b, base, "an idle poold")


def large(base, pid):
    with Browser(1280, 1000) as b:
        t = time.time()
        if not load(b, "%s/process/%s" % (base, pid), "a process with thousands of arenas"):
            return
        m = json.loads(b.evaluate("JSON.stringify(pooldModel)"))
        total = get("%s/process/%s/stats" % (base, pid))["allocator"]["arenas"]["current"]
        report(m["total"] == total and m["arenas"] == 1000 and m["pools"] == 64000,
               "%d arenas: the first page of 1000 drawn (%d pools), in %.1f s" % (total, m["pools"], time.time() - t), m)
        b.evaluate("document.getElementById('next').click()")
        b.wait_for("pooldModel.offset === 1000", 10)
        pager = b.evaluate("document.getElementById('page-label').textContent")
        report(b.evaluate("pooldModel.offset") == 1000 and "1001" in pager,
               "the next page shows the next 1000 (%s)" % pager.strip())
        # the tab stays responsive: it keeps polling and redrawing the large map
        draws, polls = b.evaluate("pooldModel.mapDraws"), b.evaluate("pooldModel.polls")
        report(b.wait_for("pooldModel.mapDraws > %d && pooldModel.polls > %d" % (draws, polls), 30),
               "the tab keeps polling and redrawing the large map")
        clean(b, base, "the large view")


def auth(base, userpass):
    with Browser(1024, 800, ["--ignore-certificate-errors"]) as b:
        import base64
        token = base64.b64encode(userpass.encode()).decode()
        b.call("Network.setExtraHTTPHeaders", headers={"Authorization": "Basic " + token})
        if not load(b, base + "/", "over TLS with basic auth"):
            return
        n = b.evaluate("document.querySelectorAll('[data-stat]').length")
        report(n >= 9 and b.evaluate("pooldModel.error") == "",
               "over TLS with basic auth: the figures, the map and the JSON all load (%d figures)" % n)
        clean(b, base, "over TLS with basic auth")


def main():
    cmd, base = sys.argv[1], sys.argv[2].rstrip("/")
    if cmd == "own":
        own(base, sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)
    elif cmd == "process":
        process(base, sys.argv[3])
    elif cmd == "idle":
        idle(base)
    elif cmd == "large":
        large(base, sys.argv[3])
    elif cmd == "auth":
        auth(base, sys.argv[3])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
