"""Shared by the dashboard suites: poold's metric contract, a small PromQL
reader (enough to find every selector, its matchers, function calls and range
durations), walking Grafana dashboards, and TAP output. Standard library only.
"""
import glob
import json
import os
import re

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DASHBOARD_DIR = os.path.join(ROOT, "dashboards", "grafana")

# ---- the metric contract ---------------------------------------------------
# metric -> {label: allowed values, or None for any value}. job and instance
# (target labels) are allowed everywhere.

SIZES = {str(16 * i) for i in range(1, 33)}
KINDS = {"allocated", "free_blocks", "empty_pools", "untouched", "pool_headers",
         "quantization", "alignment", "returned"}
OPS = {"malloc", "free", "calloc", "realloc", "realloc_inplace", "aligned",
       "remote_free", "failed"}

REPLAY_ANOMALIES = {"free_unknown", "realloc_unknown", "address_live", "too_large", "too_many_live"}
SKIP_REASONS = {"open", "not_regular", "size", "unstable", "magic", "version", "pid", "not_ready",
                "inconsistent", "map", "stale", "exited", "owner", "bad_name", "over_max",
                "scan_limit"}
PROCESS = {"pid": None, "comm": None}   # the labels of every per-process metric

CONTRACT = {
    "poold_arenas": {}, "poold_arenas_allocated_total": {}, "poold_arenas_released_total": {},
    "poold_arenas_highwater": {}, "poold_arena_size_bytes": {}, "poold_pool_size_bytes": {},
    "poold_arena_bytes": {"kind": KINDS},
    "poold_pools": {"state": {"used", "empty", "untouched", "returned"}},
    "poold_size_class_pools": {"size": SIZES},
    "poold_size_class_full_pools": {"size": SIZES},
    "poold_size_class_blocks": {"size": SIZES, "state": {"allocated", "free"}},
    "poold_size_class_allocations_total": {"size": SIZES},
    "poold_size_class_frees_total": {"size": SIZES},
    "poold_fragmentation_ratio": {},
    "poold_large_allocations": {}, "poold_large_bytes": {}, "poold_large_mallocs_total": {},
    "poold_operations_total": {"op": OPS},
    "poold_allocation_size_bytes_bucket": {"le": None},
    "poold_allocation_size_bytes_sum": {}, "poold_allocation_size_bytes_count": {},
    "poold_purges_total": {}, "poold_purged_bytes_total": {}, "poold_purge_delay_seconds": {},
    "poold_thread_heaps": {}, "poold_thread_heaps_abandoned": {},
    "poold_workload_info": {"workload": {"python", "steady", "fragmenter", "burst", "replay", "idle"}},
    "poold_workload_threads": {}, "poold_workload_live_bytes": {},
    "poold_workload_live_blocks": {}, "poold_workload_max_bytes": {},
    "poold_workload_operations_total": {"op": {"alloc", "free", "realloc"}},
    "poold_workload_replay_info": {"trace": None, "comm": None, "pid": None},
    "poold_workload_replay_trace_records": {}, "poold_workload_replay_trace_duration_seconds": {},
    "poold_workload_replay_speed": {}, "poold_workload_replay_loops_total": {},
    "poold_workload_replay_records_total": {},
    "poold_workload_replay_anomalies_total": {"kind": REPLAY_ANOMALIES},
    "poold_processes": {}, "poold_processes_dropped": {},
    "poold_process_segments_skipped_total": {"reason": SKIP_REASONS},
    "poold_process_info": dict(PROCESS, allocator={"poolalloc", "pymalloc"}),
    "poold_process_last_update_timestamp_seconds": PROCESS,
    "poold_process_arenas": PROCESS, "poold_process_fragmentation_ratio": PROCESS,
    "poold_process_large_allocations": PROCESS, "poold_process_large_bytes": PROCESS,
    "poold_process_thread_heaps": PROCESS, "poold_process_purged_bytes_total": PROCESS,
    "poold_process_arena_bytes": dict(PROCESS, kind=KINDS),
    "poold_process_pools": dict(PROCESS, state={"used", "empty", "untouched", "returned"}),
    "poold_process_size_class_blocks": dict(PROCESS, size=SIZES, state={"allocated", "free"}),
    "poold_process_operations_total": dict(PROCESS, op=OPS),
    "poold_workload_alloc_failures_total": {}, "poold_workload_corruptions_total": {},
    "poold_http_requests_total": {"code": None}, "poold_http_requests_in_flight": {},
    "poold_scrape_duration_seconds": {}, "poold_build_info": {"version": None},
    "process_resident_memory_bytes": {}, "process_cpu_seconds_total": {},
    "process_start_time_seconds": {}, "process_open_fds": {}, "process_virtual_memory_bytes": {},
}
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
