"""poold's metric contract: tests/daemon/golden/metrics.txt.

The golden file is a scrape of poold (Prometheus text 0.0.4) with the values
taken off: for every family its HELP and TYPE lines, then one line per series
it exports. A label whose value depends on the run is written as a matcher
instead of a value: pid=~".+" (any value), workload=~"python|steady|..." (one
of these). Everything else is exact. The daemon-metrics suite scrapes a poold
started in the reference configuration (tests/daemon/metrics.sh) in both
formats, normalises each scrape against the golden file and diffs; `-u`
rewrites the golden file and the table in docs/metrics.md from a scrape.

  metric_contract.py check GOLDEN SCRAPE [--openmetrics]   diff; exit 1 if they differ
  metric_contract.py families GOLDEN SCRAPE [--openmetrics] one line per family: ok|differs NAME
  metric_contract.py update GOLDEN SCRAPE                  rewrite GOLDEN from SCRAPE
  metric_contract.py docs GOLDEN DOC [--update]            the table in DOC is current (or rewrite it)
  metric_contract.py names GOLDEN                          every family and sample name

Standard library only; the dashboard lint imports load_contract().
"""
import difflib
import re
import sys

HEADER = """\
## poold's metric contract: every family of /metrics, its HELP, TYPE and series.
## A label written label=~"a|b" takes one of these values, =~".+" any value.
## Checked against a live scrape in both formats by tests/daemon/metrics.sh;
## after changing a metric, run `tests/daemon/metrics.sh -u` and review the diff.
"""
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)(=~|=)"((?:[^"\\]|\\.)*)"')
BEGIN = "<!-- metric table: generated from tests/daemon/golden/metrics.txt by tests/daemon/metrics.sh -u -->"
END = "<!-- end of the generated metric table -->"


class Family:
    def __init__(self, name):
        self.name, self.type, self.help, self.series = name, None, None, []

    def lines(self):
        out = ["# HELP %s %s" % (self.name, self.help), "# TYPE %s %s" % (self.name, self.type)]
        seen = set()
        for s in self.series:
            if s not in seen:
                seen.add(s)
                out.append(s)
        return out


def split_series(line):
    """'name{a="x",b=~"y"} 12' -> (name, [(label, op, value)])."""
    m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*?)\})?(\s|$)", line)
    if not m:
        raise ValueError("not a series line: %r" % line)
    return m.group(1), LABEL.findall(m.group(3) or "")


def parse(text, openmetrics=False):
    """Families of an exposition (or of the golden file), in order, under
    their text 0.0.4 names (an OpenMetrics counter family X is X_total)."""
    families, by_name = [], {}
    counters = set(re.findall(r"^# TYPE (\S+) counter$", text, re.M)) if openmetrics else set()

    def family(name):
        if name in counters:
            name += "_total"
        if name not in by_name:
            by_name[name] = Family(name)
            families.append(by_name[name])
        return by_name[name]

    for line in text.splitlines():
        if not line or line.startswith("##") or line == "# EOF" or line.startswith("# UNIT "):
            continue
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            _, kind, name, rest = (line.split(" ", 3) + [""])[:4]
            if kind == "TYPE":
                if openmetrics and rest == "unknown":
                    rest = "untyped"
                family(name).type = rest
            else:
                family(name).help = rest
            continue
        if line.startswith("#"):
            continue
        name, labels = split_series(line)
        base = families[-1] if families else family(name)
        base.series.append((name, labels))
    return families


def matchers(golden):
    """(sample name, label) -> the regex the golden file writes for it."""
    out = {}
    for f in golden:
        for name, labels in f.series:
            for label, op, value in labels:
                if op == "=~":
                    out[(name, label)] = value
    return out


def render(families, golden):
    """The families as golden-file lines: values dropped, and a label the
    golden file matches by regex written as that regex when it matches."""
    regex = matchers(golden)
    out = []
    for f in families:
        series = []
        for name, labels in f.series:
            parts = []
            for label, op, value in labels:
                r = regex.get((name, label))
                if op == "=" and r is not None and re.fullmatch(r, value):
                    op, value = "=~", r
                parts.append('%s%s"%s"' % (label, op, value))
            series.append(name + ("{%s}" % ",".join(parts) if parts else ""))
        f.series = series
        out.extend(f.lines())
    return out


def by_family(lines):
    """Rendered lines grouped by family (each block starts with its HELP)."""
    out, name = {}, None
    for line in lines:
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
        out.setdefault(name, []).append(line)
    return out


def golden_lines(path):
    """The golden file's families, and its lines as render() writes them."""
    with open(path) as fh:
        text = fh.read()
    golden = parse(text)
    return golden, render(parse(text), golden)


def choices(op, value):
    """The values a golden label allows: a list, or None for any value."""
    if op == "=":
        return [value]
    if value in (".+", ".*") or re.search(r"[*?\[\]()\\^$]", value):
        return None
    return value.split("|")


def load_contract(path):
    """sample name -> {label: set of values, or None for any value}."""
    with open(path) as fh:
        fams = parse(fh.read())
    out = {}
    for f in fams:
        for name, labels in f.series:
            entry = out.setdefault(name, {})
            for label, op, value in labels:
                allowed = choices(op, value)
                if allowed is None:
                    entry[label] = None
                elif entry.get(label, set()) is not None:
                    entry.setdefault(label, set()).update(allowed)
    return out


def family_types(path):
    with open(path) as fh:
        return [(f.name, f.type, f.help, f.series) for f in parse(fh.read())]


# ---- docs/metrics.md -------------------------------------------------------------

def doc_table(path):
    rows = ["| metric | type | labels | help |", "|---|---|---|---|"]
    for name, typ, help_, series in family_types(path):
        labels = {}
        for _, ls in series:
            for label, op, value in ls:
                if label == "le":
                    continue
                vals = labels.setdefault(label, [])
                for v in choices(op, value) or [None]:
                    if v not in vals:
                        vals.append(v)
        cells = []
        for label, vals in labels.items():
            if None in vals:
                cells.append("`%s`" % label)
            elif len(vals) > 10:   # the size classes: the first two, the last, how many
                cells.append("`%s`: `%s`, `%s` … `%s` (%d values)" % (label, vals[0], vals[1], vals[-1],
                                                                    len(vals)))
            else:
                cells.append("`%s`: %s" % (label, ", ".join("`%s`" % v for v in vals)))
        if typ == "histogram":
            cells.append("`le` (buckets)")
        rows.append("| `%s` | %s | %s | %s |" % (name, typ, "; ".join(cells), help_.replace("|", "\\|")))
    return "\n".join([BEGIN] + rows + [END])


def doc_update(text, table):
    if BEGIN in text and END in text:
        a, b = text.index(BEGIN), text.index(END) + len(END)
        return text[:a] + table + text[b:]
    return text.rstrip("\n") + "\n\n" + table + "\n"


def main(argv):
    if len(argv) == 2 and argv[0] == "names":
        for f in family_types(argv[1]):
            print("\n".join(sorted({f[0]} | {name for name, _ in f[3]})))
        return 0
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, gpath = argv[0], argv[1]
    om = "--openmetrics" in argv
    if cmd in ("check", "families", "update"):
        with open(argv[2]) as fh:
            live = fh.read()
        if cmd == "update":
            try:
                golden = parse(open(gpath).read())
            except FileNotFoundError:
                golden = []
            lines = render(parse(live, om), golden)
            with open(gpath, "w") as fh:
                fh.write(HEADER + "\n".join(lines) + "\n")
            return 0
        golden, want = golden_lines(gpath)
        got = render(parse(live, om), golden)
        if cmd == "check":
            diff = list(difflib.unified_diff(want, got, gpath, "scrape", lineterm="", n=1))
            if diff:
                print("\n".join(diff))
            return 1 if diff else 0
        want_f, got_f = by_family(want), by_family(got)
        for name in list(want_f) + [n for n in got_f if n not in want_f]:
            state = "ok" if want_f.get(name) == got_f.get(name) else \
                    "missing" if name not in got_f else "extra" if name not in want_f else "differs"
            print(state, name)
        return 0
    if cmd == "docs":
        with open(argv[2]) as fh:
            text = fh.read()
        new = doc_update(text, doc_table(gpath))
        if "--update" in argv:
            with open(argv[2], "w") as fh:
                fh.write(new)
            return 0
        if new != text:
            print("\n".join(difflib.unified_diff(text.splitlines(), new.splitlines(),
                                                 argv[2], "generated", lineterm="", n=0)))
            return 1
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
