"""Shared by the dashboard suites: poold's metric contract (loaded from
tests/daemon/golden/metrics.txt), a small PromQL reader (enough to find every
selector, its matchers, function calls and range durations), walking Grafana
dashboards, and TAP output. Standard library only.
"""
import glob
import json
import os
import re
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DASHBOARD_DIR = os.path.join(ROOT, "dashboards", "grafana")

# ---- the metric contract ---------------------------------------------------
# metric -> {label: allowed values, or None for any value}, from the golden
# file the daemon-metrics suite checks against poold. job and instance
# (target labels) are allowed everywhere.

sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import metric_contract  # noqa: E402

CONTRACT = metric_contract.load_contract(os.path.join(ROOT, "tests", "daemon", "golden", "metrics.txt"))

# Series Prometheus itself writes for every scrape target.
SCRAPE_SERIES = {"up": {}, "scrape_duration_seconds": {}, "scrape_samples_scraped": {},
                 "scrape_samples_post_metric_relabeling": {}, "scrape_series_added": {}}
KNOWN = dict(CONTRACT, **SCRAPE_SERIES)
TARGET_LABELS = {"job", "instance"}

# ---- PromQL ----------------------------------------------------------------

TOKEN = re.compile(r"""
    (?P<ws>\s+|\#[^\n]*)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<range>\[[^\]]*\])
  | (?P<number>0x[0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?:(?:ms|[smhdwy])(?:\d+(?:ms|[smhdwy]))*)?)
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<var>\$\{[^}]*\}|\$\w+)
  | (?P<op>==|!=|<=|>=|=~|!~|[-+*/%^<>=@,(){}])
""", re.X)

KEYWORDS = {"and", "or", "unless", "bool", "offset", "atan2"}
LABEL_LIST = {"by", "without", "on", "ignoring", "group_left", "group_right"}
NUMBER_WORDS = {"inf", "nan"}
AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count",
                "count_values", "bottomk", "topk", "quantile", "limitk", "limit_ratio"}


class PromQLError(ValueError):
    pass


def tokenize(expr):
    out, pos = [], 0
    while pos < len(expr):
        m = TOKEN.match(expr, pos)
        if not m:
            raise PromQLError("cannot read %r" % expr[pos:pos + 20])
        pos = m.end()
        if m.lastgroup != "ws":
            out.append((m.lastgroup, m.group()))
    return out


def unquote(s):
    if s[0] == "`":
        return s[1:-1]
    return re.sub(r"\\(.)", r"\1", s[1:-1])


def skip_label_list(toks, i):
    """toks[i] is by/without/on/...; returns the index after its (labels)."""
    if i + 1 >= len(toks) or toks[i + 1][1] != "(":
        raise PromQLError("%s needs a label list" % toks[i][1])
    j = i + 2
    while j < len(toks) and toks[j][1] != ")":
        if toks[j][0] != "ident" and toks[j][1] != ",":
            raise PromQLError("bad label list after %s" % toks[i][1])
        j += 1
    if j == len(toks):
        raise PromQLError("unclosed label list after %s" % toks[i][1])
    return j + 1


class Parsed:
    def __init__(self):
        self.selectors = []   # (metric name or None, [(label, op, value)])
        self.calls = []       # (function, [tokens of its arguments])
        self.ranges = []      # "[...]" texts


def parse(expr):
    """Reads expr and returns its selectors, calls and ranges. Checks that
    brackets balance and that matchers are well formed; it is not a full
    PromQL parser (promtool and Prometheus do that in the other suites)."""
    toks = tokenize(expr)
    p = Parsed()
    depth = 0
    open_calls = []          # (token index after "(", depth inside, index in p.calls)
    i = 0
    while i < len(toks):
        kind, text = toks[i]
        nxt = toks[i + 1] if i + 1 < len(toks) else (None, None)
        if kind == "ident" and text in LABEL_LIST and nxt[1] == "(":
            i = skip_label_list(toks, i)
            continue
        if kind == "ident" and text in AGGREGATIONS and nxt[1] in ("by", "without"):
            j = skip_label_list(toks, i + 1)        # sum by (a) (expr)
            if j >= len(toks) or toks[j][1] != "(":
                raise PromQLError("%s %s (...) needs an expression" % (text, nxt[1]))
            toks[i + 1:j] = []
            nxt = toks[i + 1]
        if kind == "ident" and nxt[1] == "(" and text.lower() not in KEYWORDS:
            p.calls.append([text, None])
            open_calls.append((i + 2, depth + 1, len(p.calls) - 1))
            depth += 1
            i += 2
            continue
        if kind == "ident" and (text.lower() in KEYWORDS or text.lower() in NUMBER_WORDS):
            i += 1
            continue
        if kind == "ident" or (kind == "op" and text == "{"):
            name = text if kind == "ident" else None
            matchers = []
            j = i + 1 if kind == "ident" else i
            if j < len(toks) and toks[j][1] == "{":
                j += 1
                while True:
                    if j >= len(toks):
                        raise PromQLError("unclosed {")
                    if toks[j][1] == "}":
                        break
                    if toks[j][0] == "op" and toks[j][1] == ",":
                        j += 1
                        continue
                    if (j + 2 >= len(toks) or toks[j][0] not in ("ident", "string")
                            or toks[j + 1][1] not in ("=", "!=", "=~", "!~")
                            or toks[j + 2][0] != "string"):
                        raise PromQLError("bad matcher near %r" % (toks[j][1],))
                    label = toks[j][1] if toks[j][0] == "ident" else unquote(toks[j][1])
                    matchers.append((label, toks[j + 1][1], unquote(toks[j + 2][1])))
                    j += 3
                j += 1
            p.selectors.append((name, matchers))
            i = j
            continue
        if kind == "range":
            p.ranges.append(text)
        elif text == "(":
            depth += 1
        elif text == ")":
            if depth == 0:
                raise PromQLError("unbalanced )")
            if open_calls and open_calls[-1][1] == depth:
                start, _, idx = open_calls.pop()
                p.calls[idx][1] = toks[start:i]
            depth -= 1
        elif text == "}":
            raise PromQLError("unbalanced }")
        i += 1
    if depth:
        raise PromQLError("unbalanced (")
    for name, matchers in p.selectors:
        for label, op, value in matchers:
            if op in ("=~", "!~"):
                try:
                    re.compile(value)
                except re.error as e:
                    raise PromQLError("bad regex %r: %s" % (value, e))
    return p


def selector_name(name, matchers):
    if name:
        return name
    for label, op, value in matchers:
        if label == "__name__" and op == "=":
            return value
    return None


def contract_problems(p, known=KNOWN):
    """Metric names and label values outside the contract."""
    out = []
    for name, matchers in p.selectors:
        metric = selector_name(name, matchers)
        if metric is None:
            out.append(("target-metric", "selector without a metric name"))
            continue
        if metric not in known:
            out.append(("target-metric", "unknown metric %s" % metric))
            continue
        labels = known[metric]
        for label, op, value in matchers:
            if label in TARGET_LABELS or label == "__name__":
                continue
            if label not in labels:
                out.append(("target-label", "%s has no label %s" % (metric, label)))
                continue
            allowed = labels[label]
            if allowed is None:
                continue
            if op in ("=", "!="):
                values = [value]
            elif re.fullmatch(r"[\w.+]+(\|[\w.+]+)*", value):
                values = value.split("|")
            else:
                values = []
            if values and not set(values) <= allowed and op in ("=~", "!~") and re.search(r"[^\w|]", value):
                # not a list of values after all: a pattern, which must match one
                try:
                    values = [] if any(re.fullmatch(value, v) for v in allowed) else [value]
                except re.error:
                    pass
            for v in values:
                if v not in allowed:
                    out.append(("target-label", '%s{%s="%s"}: no such value' % (metric, label, v)))
    return out


# ---- dashboards --------------------------------------------------------------

def dashboard_files():
    return sorted(glob.glob(os.path.join(DASHBOARD_DIR, "*.json")))


def load(path):
    with open(path) as f:
        return json.load(f)


def panels(dash):
    """Every panel, rows included, with the panels of collapsed rows."""
    for p in dash.get("panels", []):
        yield p
        for q in p.get("panels", []) or []:
            yield q


def queries(dash):
    """(panel, target) for every query of every non-row panel."""
    for p in panels(dash):
        if p.get("type") == "row":
            continue
        for t in p.get("targets", []) or []:
            yield p, t


def substitute(expr, variables):
    """Fills in Grafana variables: $name, ${name} and ${name:format}."""
    def repl(m):
        name = m.group(1) or m.group(2)
        return variables.get(name, m.group(0))
    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", repl, expr)


# ---- TAP ------------------------------------------------------------------

class Tap:
    def __init__(self):
        self.n = self.failed = 0

    def ok(self, cond, desc, details=()):
        self.n += 1
        print("%s %d - %s" % ("ok" if cond else "not ok", self.n, desc))
        if not cond:
            self.failed += 1
            for line in list(details)[:25]:
                print("#   %s" % line)
        return cond

    def diag(self, text):
        print("# %s" % text)

    def done(self):
        print("1..%d" % self.n)
        return 1 if self.failed else 0
