"""The ratios chart: build/bench/ratios.svg, next to the tables.

For every timed workload, one bar per (our row, anchor) pair: the median
over rounds of the anchor's time / ours in the same round (above 1: we are
faster), with a whisker from the lowest to the highest round's ratio, on a
logarithmic axis with the 1.0 line drawn across. Plain SVG written by hand:
no packages, and the file stands alone (a browser or an image viewer
opens it)."""
import math
import statistics
from xml.sax.saxutils import escape

# (our row, anchor, colour); a workload shows the pairs it has rows for.
SERIES = [("pool", "mimalloc", "#1f5fa8"), ("pool-shim", "mimalloc", "#8fb8e8"),
          ("pool", "glibc", "#c2561a"), ("pool-shim", "glibc", "#f2ae7e"),
          ("pool-shim", "pymalloc", "#5a9c4a")]
EXTRA_ANCHORS = {"python": {"pymalloc"}}     # anchors shown on one workload only
DEFAULT_ANCHORS = {"mimalloc", "glibc"}
UNTIMED = {"frag", "stats"}                  # memory / overhead, not speed
LO, HI = 0.25, 4.0                           # the axis; ratios beyond are clamped
TICKS = [0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0]
BAR, GAP, LEFT, PLOT_W, TOP = 11, 16, 150, 560, 78


def _x(v):
    v = min(max(v, LO), HI)
    return LEFT + PLOT_W * math.log(v / LO) / math.log(HI / LO)


def _bars(workload, samples, round_ratios):
    """[(series index, median, low, high)] of one workload; round_ratios
    (anchor's samples, ours) gives the per-round ratios."""
    by = {}
    for s in samples:
        if s["workload"] == workload.name:
            by.setdefault(s["alloc"], []).append(s)
    anchors = DEFAULT_ANCHORS | EXTRA_ANCHORS.get(workload.name, set())
    out = []
    for i, (ours, anchor, _) in enumerate(SERIES):
        if anchor not in anchors or ours not in by or anchor not in by:
            continue
        rs = round_ratios(by[anchor], by[ours])
        if rs:
            out.append((i, statistics.median(rs), min(rs), max(rs)))
    return out


def _text(x, y, s, anchor="start", size=11, weight="normal", fill="#222"):
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'font-weight="{weight}" fill="{fill}">{escape(s)}</text>')


def _axis(height):
    parts = []
    for t in TICKS:
        x = _x(t)
        strong = t == 1.0
        parts.append(f'<line x1="{x:.1f}" y1="{TOP - 6}" x2="{x:.1f}" y2="{height - 24}" '
                     f'stroke="{"#000" if strong else "#ddd"}" stroke-width="{2 if strong else 1}"/>')
        parts.append(_text(x, height - 10, f"{t:g}x", "middle", 10, "bold" if strong else "normal"))
    return parts


def _legend():
    parts, x = [], LEFT
    for ours, anchor, colour in SERIES:
        label = f"{ours} vs {anchor}"
        parts.append(f'<rect x="{x}" y="44" width="12" height="10" fill="{colour}"/>')
        parts.append(_text(x + 16, 53, label, size=10))
        x += 22 + 6 * len(label)
    return parts


def svg(meta, workloads, samples, round_ratios):
    groups = [(w, _bars(w, samples, round_ratios)) for w in workloads if w.name not in UNTIMED]
    groups = [g for g in groups if g[1]]
    height = TOP + sum(len(b) * BAR + GAP for _, b in groups) + 34
    width = LEFT + PLOT_W + 70
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif">',
             f'<rect width="{width}" height="{height}" fill="#fff"/>',
             _text(10, 18, "poold: speed ratio to each anchor (anchor's time / ours, same round; "
                   "above 1.0 = faster)", size=13, weight="bold"),
             _text(10, 34, f"{meta['date']}, commit {meta['commit']}, {meta['rounds']} rounds; bar: "
                   f"median over rounds, whisker: lowest to highest round; log axis, clamped to "
                   f"{LO:g}-{HI:g}x", size=10, fill="#555")]
    parts += _legend() + _axis(height)
    y = TOP
    for w, bars in groups:
        parts.append(_text(LEFT - 8, y + len(bars) * BAR / 2 + 4, f"{w.number}. {w.name}", "end", 12))
        for i, m, lo, hi in bars:
            x0, x1 = _x(LO), _x(m)
            parts.append(f'<rect x="{x0:.1f}" y="{y + 1}" width="{x1 - x0:.1f}" height="{BAR - 2}" '
                         f'fill="{SERIES[i][2]}"><title>{escape(SERIES[i][0])} vs '
                         f'{escape(SERIES[i][1])}: {m:.2f}x (rounds {lo:.2f}-{hi:.2f})</title></rect>')
            mid = y + BAR / 2
            parts.append(f'<line x1="{_x(lo):.1f}" y1="{mid:.1f}" x2="{_x(hi):.1f}" y2="{mid:.1f}" '
                         f'stroke="#333" stroke-width="1"/>')
            parts.append(_text(max(_x(hi), x1) + 4, y + BAR - 2, f"{m:.2f}", size=9))
            y += BAR
        y += GAP
    one = _x(1.0)       # again, over the bars
    parts.append(f'<line x1="{one:.1f}" y1="{TOP - 6}" x2="{one:.1f}" y2="{height - 24}" '
                 f'stroke="#000" stroke-width="1.5" stroke-dasharray="4 3"/>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def write(path, meta, workloads, samples, round_ratios):
    with open(path, "w") as f:
        f.write(svg(meta, workloads, samples, round_ratios))
