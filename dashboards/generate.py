#!/usr/bin/env python3
"""Writes poold's Grafana dashboards (classic JSON model) into dashboards/grafana/.

    python3 dashboards/generate.py [OUTDIR]

The JSON files are generated, committed, and checked against this script by
the dash-lint suite: edit this file, run it, commit both. Python 3 standard
library only.

Every PromQL selector is built by sel(), so every query carries the same
job/instance matchers; the per-process metrics of the process collector go
through psel(), which adds the process selector (the `comm` and `pid`
variables of the processes dashboard, PROCESS_VARS).
"""
import json
import os
import sys

DS = {"type": "prometheus", "uid": "${datasource}"}
MATCHERS = ['job=~"$job"', 'instance=~"$instance"']
RATE = "$__rate_interval"


# ---- PromQL helpers --------------------------------------------------------

def sel(metric, *extra):
    return "%s{%s}" % (metric, ", ".join(MATCHERS + list(extra)))


def rate(metric, *extra):
    return "rate(%s[%s])" % (sel(metric, *extra), RATE)


PROCESS_MATCHERS = ['comm=~"$comm"', 'pid=~"$pid"']


def psel(metric, *extra):
    """A per-process metric of the selected processes."""
    return sel(metric, *(PROCESS_MATCHERS + list(extra)))


def prate(metric, *extra):
    return "rate(%s[%s])" % (psel(metric, *extra), RATE)


def by_class(expr):
    """Adds a zero-padded `class` label ("016" .. "512") next to `size`.
    Prometheus sorts range-query results by their labels, and tables sort by
    string, so the padded label puts size classes in numeric order."""
    padded = 'label_replace(%s, "class", "0$1", "size", "([0-9]{2})")' % expr
    return 'label_replace(%s, "class", "$1", "size", "([0-9]{3})")' % padded


MAPPED = "%s * %s" % (sel("poold_arenas"), sel("poold_arena_size_bytes"))
ALLOCATED = sel("poold_arena_bytes", 'kind="allocated"')
TOUCHED = "sum without (kind) (%s)" % sel("poold_arena_bytes", 'kind!~"returned|untouched"')
CLASS_POOL_BYTES = "sum without (size) (%s) * %s" % (
    sel("poold_size_class_pools"), sel("poold_pool_size_bytes"))
BLOCKS_ALLOCATED = "sum by (size) (%s)" % sel("poold_size_class_blocks", 'state="allocated"')
BLOCKS_FREE = "sum by (size) (%s)" % sel("poold_size_class_blocks", 'state="free"')
CLASS_UTILISATION = "%s / (sum by (size) (%s) > 0)" % (BLOCKS_ALLOCATED, sel("poold_size_class_blocks"))
ALLOC_SIZE_RATE = "sum by (le) (%s)" % rate("poold_allocation_size_bytes_bucket")


# ---- panels ----------------------------------------------------------------

def target(expr, legend="", instant=False, fmt="time_series"):
    t = {"datasource": DS, "expr": expr, "legendFormat": legend, "format": fmt,
         "range": not instant, "instant": instant, "editorMode": "code"}
    return t


def thresholds(*steps):
    """steps: (color, lower bound) pairs after the base colour."""
    base, rest = steps[0], steps[1:]
    return {"mode": "absolute",
            "steps": [{"color": base, "value": None}] +
                     [{"color": c, "value": v} for c, v in rest]}


GREEN = thresholds("green")


def override(name, matcher="byName", **props):
    """A per-series override (matched by display name, or by query refId with
    matcher="byFrameRefID"); props maps property id (custom_x = custom.x) to value."""
    return {"matcher": {"id": matcher, "options": name},
            "properties": [{"id": k.replace("_", "."), "value": v} for k, v in props.items()]}


def right_axis(unit):
    """The panel's second query (B) on a right axis of its own unit."""
    return [override("B", "byFrameRefID", unit=unit, custom_axisPlacement="right")]


def color(name, c):
    return override(name, color={"mode": "fixed", "fixedColor": c})


def panel(kind, title, desc, unit, targets, w, h, defaults=None, options=None,
          overrides=None, transformations=None):
    for i, t in enumerate(targets):
        t["refId"] = chr(ord("A") + i)
    p = {"type": kind, "title": title, "description": desc, "datasource": DS,
         "gridPos": {"w": w, "h": h},
         "fieldConfig": {"defaults": dict({"unit": unit}, **(defaults or {})),
                         "overrides": overrides or []},
         "options": options or {}, "targets": targets}
    if transformations:
        p["transformations"] = transformations
    return p


def reduce_last():
    return {"calcs": ["lastNotNull"], "fields": "", "values": False}


def timeseries(title, desc, unit, targets, w=12, h=8, stack=False, fill=10,
               min=None, max=None, decimals=None, steps=GREEN, threshold_lines=False,
               overrides=None, legend_calcs=("lastNotNull", "max")):
    custom = {"drawStyle": "line", "lineInterpolation": "linear", "lineWidth": 1,
              "fillOpacity": 60 if stack else fill, "gradientMode": "none",
              "showPoints": "never", "pointSize": 4, "spanNulls": False,
              "axisPlacement": "auto", "axisLabel": "", "axisCenteredZero": False,
              "axisSoftMin": 0, "barAlignment": 0, "scaleDistribution": {"type": "linear"},
              "stacking": {"mode": "normal" if stack else "none", "group": "A"},
              "thresholdsStyle": {"mode": "dashed" if threshold_lines else "off"},
              "hideFrom": {"legend": False, "tooltip": False, "viz": False}}
    d = {"color": {"mode": "palette-classic"}, "custom": custom, "thresholds": steps,
         "mappings": []}
    for k, v in (("min", min), ("max", max), ("decimals", decimals)):
        if v is not None:
            d[k] = v
    opts = {"legend": {"showLegend": True, "displayMode": "table", "placement": "bottom",
                       "calcs": list(legend_calcs)},
            "tooltip": {"mode": "multi", "sort": "desc"}}
    return panel("timeseries", title, desc, unit, targets, w, h, d, opts, overrides)


def stat(title, desc, unit, targets, w=3, h=4, steps=GREEN, decimals=None,
         mappings=None, graph=True, text="auto"):
    d = {"color": {"mode": "thresholds"}, "thresholds": steps, "mappings": mappings or []}
    if decimals is not None:
        d["decimals"] = decimals
    opts = {"reduceOptions": reduce_last(), "colorMode": "value",
            "graphMode": "area" if graph else "none", "justifyMode": "auto",
            "orientation": "auto", "textMode": text, "wideLayout": True,
            "showPercentChange": False}
    return panel("stat", title, desc, unit, targets, w, h, d, opts)


def bargauge(title, desc, unit, targets, w=12, h=10, steps=GREEN, min=0, max=None):
    d = {"color": {"mode": "thresholds"}, "thresholds": steps, "min": min, "mappings": []}
    if max is not None:
        d["max"] = max
    opts = {"reduceOptions": reduce_last(), "orientation": "horizontal",
            "displayMode": "gradient", "valueMode": "color", "showUnfilled": True,
            "namePlacement": "left", "sizing": "auto", "minVizWidth": 8,
            "minVizHeight": 12, "maxVizHeight": 300}
    return panel("bargauge", title, desc, unit, targets, w, h, d, opts)


def heatmap(title, desc, unit, y_unit, targets, w=12, h=10, scheme="Oranges"):
    d = {"custom": {"scaleDistribution": {"type": "linear"},
                    "hideFrom": {"legend": False, "tooltip": False, "viz": False}}}
    opts = {"calculate": False, "cellGap": 1, "cellValues": {"unit": unit},
            "color": {"mode": "scheme", "scheme": scheme, "fill": "dark-orange",
                      "scale": "exponential", "exponent": 0.5, "steps": 64,
                      "reverse": False},
            "exemplars": {"color": "rgba(255,0,255,0.7)"},
            "filterValues": {"le": 1e-9}, "legend": {"show": True},
            "rowsFrame": {"layout": "auto"}, "showValue": "never",
            "tooltip": {"mode": "single", "yHistogram": False, "showColorScale": True},
            "yAxis": {"axisPlacement": "left", "reverse": False, "unit": y_unit}}
    return panel("heatmap", title, desc, unit, targets, w, h, d, opts)


def class_blocks_barchart(desc, allocated, free):
    return barchart("Blocks allocated vs free per size class", desc,
                    "short", [target(by_class(allocated), "", True, "table"),
                              target(by_class(free), "", True, "table")],
                    ["allocated", "free"])


def free_blocks_heatmap(desc, free):
    return heatmap("Free blocks per size class over time", desc,
                   "short", "bytes", [target(by_class(free), "{{size}}")])


def class_table_transforms(names, key="class"):
    """Joins instant table queries on the size class (or another label) and
    names their values."""
    rename = {"Value #%s" % chr(ord("A") + i): n for i, n in enumerate(names)}
    hide = {"Time": True, "class": True, "job": True, "instance": True}
    if key != "class":
        del hide["class"]
    return [{"id": "merge", "options": {}},
            {"id": "sortBy", "options": {"fields": {}, "sort": [{"field": key}]}},
            {"id": "organize", "options": {
                "excludeByName": hide, "indexByName": {}, "renameByName": rename}}]


def barchart(title, desc, unit, targets, names, w=24, h=9):
    d = {"color": {"mode": "palette-classic"}, "thresholds": GREEN, "mappings": [],
         "custom": {"lineWidth": 1, "fillOpacity": 80, "gradientMode": "none",
                    "axisPlacement": "auto", "axisLabel": "", "axisCenteredZero": False,
                    "scaleDistribution": {"type": "linear"},
                    "hideFrom": {"legend": False, "tooltip": False, "viz": False}}}
    opts = {"orientation": "vertical", "xField": "size", "stacking": "normal",
            "showValue": "never", "groupWidth": 0.8, "barWidth": 0.9, "barRadius": 0,
            "fullHighlight": False, "xTickLabelRotation": 0, "xTickLabelSpacing": 0,
            "legend": {"showLegend": True, "displayMode": "list", "placement": "bottom",
                       "calcs": []},
            "tooltip": {"mode": "multi", "sort": "none"}}
    return panel("barchart", title, desc, unit, targets, w, h, d, opts,
                 transformations=class_table_transforms(names))


def table(title, desc, unit, targets, names, overrides, w=24, h=12, key="class"):
    d = {"color": {"mode": "thresholds"}, "thresholds": GREEN, "mappings": [],
         "custom": {"align": "auto", "cellOptions": {"type": "auto"}, "filterable": False}}
    opts = {"showHeader": True, "cellHeight": "sm",
            "footer": {"show": False, "reducer": ["sum"], "fields": "", "countRows": False}}
    return panel("table", title, desc, unit, targets, w, h, d, opts, overrides,
                 transformations=class_table_transforms(names, key))


# ---- dashboard assembly ----------------------------------------------------

class Board:
    """Lays panels out left to right on Grafana's 24-column grid, one row
    panel per group, and numbers them."""

    def __init__(self, uid, title, description, tags, extra_vars=()):
        self.d = {"uid": uid, "title": title, "description": description, "tags": tags}
        self.extra_vars = list(extra_vars)
        self.panels = []
        self.x = self.y = self.line_h = 0

    def row(self, title):
        self._newline()
        self._place({"type": "row", "title": title, "collapsed": False, "panels": [],
                     "gridPos": {"w": 24, "h": 1}})
        self._newline()

    def add(self, *panels):
        for p in panels:
            if self.x + p["gridPos"]["w"] > 24:
                self._newline()
            self._place(p)

    def _place(self, p):
        p["id"] = len(self.panels) + 1
        p["gridPos"].update(x=self.x, y=self.y)
        self.panels.append(p)
        self.x += p["gridPos"]["w"]
        self.line_h = max(self.line_h, p["gridPos"]["h"])

    def _newline(self):
        if self.x:
            self.y += self.line_h
        self.x = self.line_h = 0

    def json(self):
        d = {"id": None, **self.d, "editable": True, "graphTooltip": 1,
             "fiscalYearStartMonth": 0, "liveNow": False, "refresh": "30s",
             "schemaVersion": 39, "version": 1, "timezone": "browser",
             "time": {"from": "now-1h", "to": "now"},
             "timepicker": {"refresh_intervals": ["10s", "30s", "1m", "5m", "15m"]},
             "annotations": {"list": [{
                 "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                 "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
                 "name": "Annotations & Alerts", "type": "dashboard"}]},
             "links": [{"type": "dashboards", "title": "poold", "tags": ["poold"],
                        "asDropdown": False, "includeVars": True, "keepTime": True,
                        "icon": "external link", "targetBlank": False, "tooltip": "",
                        "url": ""}],
             "templating": {"list": variables() + self.extra_vars},
             "panels": self.panels}
        return d


def query_var(name, label, query, sort=1):
    return {"type": "query", "name": name, "label": label, "datasource": DS,
            "query": query, "definition": query, "refresh": 2, "regex": "",
            "sort": sort, "multi": True, "includeAll": True, "allValue": ".+",
            "current": {}, "options": [], "hide": 0, "skipUrlSync": False}


# The process selector: a program name, then its pids (3: numerical order).
PROCESS_VARS = [
    query_var("comm", "Program", 'label_values(poold_process_info{job=~"$job", instance=~"$instance"}, comm)'),
    query_var("pid", "Process (pid)",
              'label_values(poold_process_info{job=~"$job", instance=~"$instance", comm=~"$comm"}, pid)', sort=3),
]


def variables():
    return [
        {"type": "datasource", "name": "datasource", "label": "Data source",
         "query": "prometheus", "regex": "", "refresh": 1, "multi": False,
         "includeAll": False, "current": {}, "options": [], "hide": 0,
         "skipUrlSync": False},
        query_var("job", "Job", "label_values(poold_build_info, job)"),
        query_var("instance", "Instance", 'label_values(poold_build_info{job=~"$job"}, instance)'),
    ]


KIND_COLORS = [("allocated", "green"), ("free_blocks", "orange"), ("empty_pools", "yellow"),
               ("untouched", "blue"), ("returned", "text"), ("pool_headers", "purple"),
               ("quantization", "red"), ("alignment", "dark-red")]
FRAG_STEPS = thresholds("green", ("yellow", 1.25), ("red", 1.5))
UTIL_STEPS = thresholds("red", ("orange", 0.5), ("green", 0.75))
UP_MAP = [{"type": "value", "options": {"0": {"text": "DOWN", "color": "red", "index": 0},
                                        "1": {"text": "UP", "color": "green", "index": 1}}}]


def overview():
    b = Board("poold-overview", "poold / Overview",
              "Is poold's allocator healthy? Mapped vs used memory, where the bytes go, "
              "fragmentation, arenas, size classes, activity and scrape health.",
              ["poold", "allocator"])

    b.row("At a glance")
    b.add(
        stat("Mapped arena memory", "Address space mapped as arenas now: arenas × arena size.",
             "bytes", [target(MAPPED, "{{instance}}")]),
        stat("In use by the application", "Bytes in small blocks handed out and not yet freed.",
             "bytes", [target(ALLOCATED, "{{instance}}")]),
        stat("Arena utilisation", "Share of mapped arena bytes that are allocated blocks; low means memory is held but not used.",
             "percentunit", [target("%s / ignoring (kind) (%s > 0)" % (ALLOCATED, MAPPED), "{{instance}}")],
             steps=UTIL_STEPS),
        stat("Fragmentation ratio", "Bytes in pools serving a size class per allocated byte; 1.0 is perfect, above 1.5 for long is worth a look.",
             "none", [target(sel("poold_fragmentation_ratio"), "{{instance}}")],
             steps=FRAG_STEPS, decimals=2),
        stat("Arenas", "Arenas mapped now, and the most ever mapped at once (high-water).",
             "short", [target(sel("poold_arenas"), "now"),
                       target(sel("poold_arenas_highwater"), "high-water")]),
        stat("Process RSS", "Resident memory of the poold process as the kernel counts it.",
             "bytes", [target(sel("process_resident_memory_bytes"), "{{instance}}")]),
        stat("Target up", "Whether Prometheus's last scrape of poold succeeded.",
             "none", [target(sel("up"), "{{instance}}")],
             steps=thresholds("red", ("green", 1)), mappings=UP_MAP, graph=False),
        stat("Uptime", "Time since the poold process started.",
             "s", [target("time() - %s" % sel("process_start_time_seconds"), "{{instance}}")],
             graph=False),
    )

    b.row("Memory: mapped vs used")
    b.add(
        timeseries("Mapped vs used", "From mapped arenas down to bytes the application really holds; each gap is memory the allocator keeps but does not use.",
                   "bytes", [target(MAPPED, "mapped arenas {{instance}}"),
                             target(TOUCHED, "touched, not returned {{instance}}"),
                             target(CLASS_POOL_BYTES, "pools serving a class {{instance}}"),
                             target(ALLOCATED, "allocated blocks {{instance}}")]),
        timeseries("Where the arena bytes go", "Every mapped arena byte by kind, stacked; the stack's top is exactly the mapped total.",
                   "bytes", [target("sum by (kind) (%s)" % sel("poold_arena_bytes"), "{{kind}}")],
                   stack=True, overrides=[color(k, c) for k, c in KIND_COLORS]),
        timeseries("Fragmentation ratio over time", "Bytes in pools serving a class divided by allocated bytes, over time; the dashed lines are the warning levels.",
                   "none", [target(sel("poold_fragmentation_ratio"), "{{instance}}")],
                   decimals=2, steps=FRAG_STEPS, threshold_lines=True),
        timeseries("Memory not in use, by kind", "The non-allocated arena bytes: free blocks in partly used pools, empty pools, untouched and returned pools, and overheads.",
                   "bytes", [target("sum by (kind) (%s)" % sel("poold_arena_bytes", 'kind!="allocated"'), "{{kind}}")],
                   overrides=[color(k, c) for k, c in KIND_COLORS]),
    )

    b.row("Arenas and pools")
    b.add(
        timeseries("Arenas over time", "Arenas mapped now against the high-water mark; a line that only climbs means arenas are never released.",
                   "short", [target(sel("poold_arenas"), "current {{instance}}"),
                             target(sel("poold_arenas_highwater"), "high-water {{instance}}")],
                   w=8, decimals=0),
        timeseries("Arena churn", "Arenas mapped and unmapped per second; both high together means thrashing near an arena boundary.",
                   "cps", [target(rate("poold_arenas_allocated_total"), "allocated {{instance}}"),
                           target(rate("poold_arenas_released_total"), "released {{instance}}")],
                   w=8),
        timeseries("Pools by state", "Pools in all arenas by state, stacked: used (serving a class), empty (resident), untouched, returned to the OS.",
                   "short", [target("sum by (state) (%s)" % sel("poold_pools"), "{{state}}")],
                   w=8, stack=True, decimals=0),
    )

    b.row("Size classes")
    b.add(
        class_blocks_barchart("For each block size, blocks in use and free blocks inside its pools; tall orange bars are the classes holding idle memory.",
                              BLOCKS_ALLOCATED, BLOCKS_FREE),
        bargauge("Utilisation per size class", "Allocated blocks ÷ all blocks in the class's pools; a low bar is a class whose pools are mostly empty space.",
                 "percentunit", [target(by_class(CLASS_UTILISATION), "{{size}} B")],
                 steps=UTIL_STEPS, max=1),
        free_blocks_heatmap("Free blocks in each class's pools (rows: block size in bytes); bright cells show where and when free space piles up.",
                            BLOCKS_FREE),
    )

    b.row("Allocation activity")
    b.add(
        heatmap("Allocation size distribution", "Allocations per second by size (small ones at their class's block size, large ones as requested); shows which classes, or the large path, the load hits.",
                "ops", "bytes", [target(ALLOC_SIZE_RATE, "{{le}}", fmt="heatmap")],
                w=8, h=9, scheme="Blues"),
        timeseries("Allocation size percentiles", "Median, 90th and 99th percentile allocation size (block size for small requests), estimated from the histogram.",
                   "bytes", [target("histogram_quantile(%s, %s)" % (q, ALLOC_SIZE_RATE), "p%s" % n)
                             for q, n in (("0.5", "50"), ("0.9", "90"), ("0.99", "99"))],
                   w=8, h=9),
        timeseries("Allocator operations", "Calls per second by operation; `failed` is allocations that returned NULL and should stay at zero.",
                   "ops", [target("sum by (op) (%s)" % rate("poold_operations_total"), "{{op}}")],
                   w=8, h=9, overrides=[color("failed", "red")]),
    )

    b.row("Large allocations and returning memory")
    b.add(
        timeseries("Live large allocations", "Bytes in requests above 512 B served by the system allocator, and how many are live.",
                   "bytes", [target(sel("poold_large_bytes"), "bytes {{instance}}"),
                             target(sel("poold_large_allocations"), "count {{instance}}")],
                   w=8, overrides=right_axis("short")),
        timeseries("Large allocation rate", "Large (system allocator) requests per second.",
                   "ops", [target(rate("poold_large_mallocs_total"), "{{instance}}")], w=8),
        timeseries("Memory given back", "Bytes per second returned to the kernel by purging empty pools, and the empty-pool bytes still waiting to be purged.",
                   "Bps", [target(rate("poold_purged_bytes_total"), "purged/s {{instance}}"),
                           target(sel("poold_arena_bytes", 'kind="empty_pools"'), "empty, resident {{instance}}")],
                   w=8, overrides=right_axis("bytes")),
    )

    b.row("Process")
    b.add(
        timeseries("RSS vs mapped arenas", "Process RSS against the arena and large-block memory it should mostly consist of; RSS far above both is memory outside the allocator.",
                   "bytes", [target(sel("process_resident_memory_bytes"), "RSS {{instance}}"),
                             target(MAPPED, "mapped arenas {{instance}}"),
                             target(TOUCHED, "touched arena bytes {{instance}}"),
                             target(sel("poold_large_bytes"), "large blocks {{instance}}")],
                   w=12),
        timeseries("CPU", "CPU time used per second (1 = one core busy).",
                   "percentunit", [target(rate("process_cpu_seconds_total"), "{{instance}}")], w=6),
        timeseries("Thread heaps", "Per-thread heaps, and heaps whose thread exited and that no thread has adopted yet.",
                   "short", [target(sel("poold_thread_heaps"), "heaps {{instance}}"),
                             target(sel("poold_thread_heaps_abandoned"), "abandoned {{instance}}")],
                   w=6, decimals=0),
    )

    b.row("Scrape and HTTP health")
    b.add(
        timeseries("Target up over time", "1 when Prometheus's scrape of poold succeeded, 0 when it failed.",
                   "none", [target(sel("up"), "{{instance}}")], w=6, min=0, max=1,
                   decimals=0, legend_calcs=("lastNotNull", "min")),
        timeseries("Scrape duration", "How long a scrape takes, as Prometheus sees it and as poold measures its own rendering.",
                   "s", [target(sel("scrape_duration_seconds"), "prometheus {{instance}}"),
                         target(sel("poold_scrape_duration_seconds"), "poold {{instance}}")], w=6),
        timeseries("HTTP requests", "Requests per second answered by poold's HTTP server, by status code.",
                   "reqps", [target("sum by (code) (%s)" % rate("poold_http_requests_total"), "{{code}}")],
                   w=6),
        timeseries("Samples per scrape", "Series in each scrape of poold; a jump means new label values appeared.",
                   "short", [target(sel("scrape_samples_scraped"), "{{instance}}")], w=6, decimals=0),
    )
    return b


def details():
    b = Board("poold-details", "poold / Size classes and workload",
              "Per-size-class deep dive, memory return, the built-in workload and the process.",
              ["poold", "allocator"])

    b.row("Size classes")
    b.add(
        table("Size classes now", "One line per block size: pools, full pools, blocks allocated and free, utilisation and traffic.",
              "short", [target(by_class("sum by (size) (%s)" % sel("poold_size_class_pools")), "", True, "table"),
                        target(by_class("sum by (size) (%s)" % sel("poold_size_class_full_pools")), "", True, "table"),
                        target(by_class(BLOCKS_ALLOCATED), "", True, "table"),
                        target(by_class(BLOCKS_FREE), "", True, "table"),
                        target(by_class(CLASS_UTILISATION), "", True, "table"),
                        target(by_class("sum by (size) (%s)" % rate("poold_size_class_allocations_total")), "", True, "table"),
                        target(by_class("sum by (size) (%s)" % rate("poold_size_class_frees_total")), "", True, "table")],
              ["pools", "full pools", "allocated blocks", "free blocks", "utilisation",
               "allocations/s", "frees/s"],
              [override("utilisation", unit="percentunit", min=0, max=1,
                        custom_cellOptions={"type": "gauge", "mode": "gradient"},
                        thresholds=UTIL_STEPS),
               override("allocations/s", unit="ops"), override("frees/s", unit="ops")]),
        timeseries("Allocations per size class", "Blocks handed out per second, per block size.",
                   "ops", [target(by_class("sum by (size) (%s)" % rate("poold_size_class_allocations_total")), "{{size}} B")]),
        timeseries("Net block growth per size class", "Allocations minus frees per second per class; a class that stays above zero is accumulating live blocks.",
                   "ops", [target(by_class("sum by (size) (%s) - sum by (size) (%s)" % (
                       rate("poold_size_class_allocations_total"), rate("poold_size_class_frees_total"))),
                       "{{size}} B")]),
        timeseries("Allocated blocks per size class", "Live blocks of each size, stacked.",
                   "short", [target(by_class(BLOCKS_ALLOCATED), "{{size}} B")], stack=True),
        timeseries("Free blocks per size class", "Free blocks sitting in each class's partly used pools, stacked.",
                   "short", [target(by_class(BLOCKS_FREE), "{{size}} B")], stack=True),
        timeseries("Pools per size class", "Pools currently serving each class, stacked.",
                   "short", [target(by_class("sum by (size) (%s)" % sel("poold_size_class_pools")), "{{size}} B")],
                   stack=True, decimals=0),
        timeseries("Partly used pools per size class", "Pools of each class that are neither full nor empty; free space inside them is reusable only by that class.",
                   "short", [target(by_class("sum by (size) (%s) - sum by (size) (%s)" % (
                       sel("poold_size_class_pools"), sel("poold_size_class_full_pools"))), "{{size}} B")],
                   stack=True, decimals=0),
    )

    b.row("Giving memory back")
    b.add(
        stat("Purge delay", "How long an empty pool stays resident before its pages are given back (+Inf: never).",
             "s", [target(sel("poold_purge_delay_seconds"), "{{instance}}")], w=4, h=8, graph=False),
        timeseries("Purges", "madvise calls per second that give empty pools' pages back to the kernel.",
                   "cps", [target(rate("poold_purges_total"), "{{instance}}")], w=10),
        timeseries("Empty vs returned pools", "Bytes in empty pools still resident against bytes already returned; empty bytes that never fall mean purging is stalled or disabled.",
                   "bytes", [target(sel("poold_arena_bytes", 'kind="empty_pools"'), "empty, resident {{instance}}"),
                             target(sel("poold_arena_bytes", 'kind="returned"'), "returned {{instance}}")],
                   w=10),
    )

    b.row("Workload")
    b.add(
        stat("Workload", "Which built-in workload poold is running.",
             "none", [target(sel("poold_workload_info"), "{{workload}}")], w=4, h=4, graph=False,
             text="name"),
        stat("Workload threads", "Threads running the workload.",
             "short", [target(sel("poold_workload_threads"), "{{instance}}")], w=4, h=4, graph=False),
        stat("Workload failures", "Allocation failures the workload saw since start; anything above zero is worth a look.",
             "short", [target(sel("poold_workload_alloc_failures_total"), "{{instance}}")],
             w=4, h=4, steps=thresholds("green", ("red", 1)), graph=False),
        stat("Corruptions detected", "Blocks whose contents the workload found changed since start; must be zero.",
             "short", [target(sel("poold_workload_corruptions_total"), "{{instance}}")],
             w=4, h=4, steps=thresholds("green", ("red", 1)), graph=False),
        stat("Build", "poold version.", "none",
             [target(sel("poold_build_info"), "{{version}}")], w=4, h=4, graph=False, text="name"),
        stat("Open file descriptors", "File descriptors the poold process holds.",
             "short", [target(sel("process_open_fds"), "{{instance}}")], w=4, h=4),
    )
    b.add(
        timeseries("Workload live memory", "Bytes the workload holds against its cap, and what the allocator has handed out (small + large).",
                   "bytes", [target(sel("poold_workload_live_bytes"), "workload live {{instance}}"),
                             target(sel("poold_workload_max_bytes"), "workload cap {{instance}}"),
                             target("%s + ignoring (kind) %s" % (ALLOCATED, sel("poold_large_bytes")),
                                    "allocator in use {{instance}}")], w=8),
        timeseries("Workload live blocks", "Blocks the workload holds now.",
                   "short", [target(sel("poold_workload_live_blocks"), "{{instance}}")], w=8, decimals=0),
        timeseries("Workload operations", "Allocations and frees per second issued by the workload, and failures or corruptions it saw.",
                   "ops", [target("sum by (op) (%s)" % rate("poold_workload_operations_total"), "{{op}}"),
                           target(rate("poold_workload_alloc_failures_total"), "alloc failures {{instance}}"),
                           target(rate("poold_workload_corruptions_total"), "corruptions {{instance}}")],
                   w=8),
    )

    b.row("Trace replay (--workload=replay)")
    b.add(
        stat("Trace records per pass", "Records in one pass of the trace being replayed; 0 when the workload is not a replay.",
             "short", [target(sel("poold_workload_replay_trace_records"), "{{instance}}")], w=4, h=8, graph=False),
        stat("Replay speed", "The replay's pace factor: 1 as recorded, 2 twice as fast, 0 as fast as the rate allows.",
             "none", [target(sel("poold_workload_replay_speed"), "{{instance}}")], w=4, h=8, graph=False),
        timeseries("Replay progress", "Trace records replayed per second, and passes over the trace completed per second (right axis).",
                   "ops", [target(rate("poold_workload_replay_records_total"), "records/s {{instance}}"),
                           target(rate("poold_workload_replay_loops_total"), "passes/s {{instance}}")],
                   w=8, overrides=right_axis("cps")),
        timeseries("Replay anomalies", "Trace records that could not be followed as written, per second, by kind (frees of unknown addresses, requests too large to replay...).",
                   "ops", [target("sum by (kind) (%s)" % rate("poold_workload_replay_anomalies_total"), "{{kind}}")],
                   w=8),
    )

    b.row("Process")
    b.add(
        timeseries("Virtual memory", "Virtual address space of the process; arenas and thread stacks show up here before RSS.",
                   "bytes", [target(sel("process_virtual_memory_bytes"), "{{instance}}")], w=8),
        timeseries("HTTP requests in flight", "Requests poold's HTTP server is handling right now.",
                   "short", [target(sel("poold_http_requests_in_flight"), "{{instance}}")], w=8, decimals=0),
        timeseries("Remote frees", "Frees per second of blocks owned by another thread's heap; these take the slow path.",
                   "ops", [target(rate("poold_operations_total", 'op="remote_free"'), "{{instance}}")], w=8),
    )
    return b


PROCESS_LEGEND = "{{comm}} ({{pid}})"
P_MAPPED = "sum by (comm, pid) (%s)" % psel("poold_process_arena_bytes")
P_ALLOCATED = "sum by (comm, pid) (%s)" % psel("poold_process_arena_bytes", 'kind="allocated"')
P_BLOCKS_ALLOCATED = "sum by (size) (%s)" % psel("poold_process_size_class_blocks", 'state="allocated"')
P_BLOCKS_FREE = "sum by (size) (%s)" % psel("poold_process_size_class_blocks", 'state="free"')


def processes():
    b = Board("poold-processes", "poold / Processes",
              "Programs running on the preload shim with POOLMALLOC_EXPORT, as poold's process "
              "collector (--collector.processes) sees them: memory, fragmentation, size classes "
              "and activity of the selected processes.",
              ["poold", "allocator"], PROCESS_VARS)

    b.row("Processes")
    b.add(
        stat("Processes exported", "Processes whose statistics poold exports now (at most --collector.processes.max).",
             "short", [target(sel("poold_processes"), "{{instance}}")], w=4, h=4, graph=False),
        stat("Processes dropped", "Processes found but not exported because of --collector.processes.max; poold's log names them.",
             "short", [target(sel("poold_processes_dropped"), "{{instance}}")], w=4, h=4,
             steps=thresholds("green", ("orange", 1)), graph=False),
        timeseries("Segments skipped", "Statistics segments poold refused per second, by reason: exited or stale processes, and malformed or hostile files.",
                   "cps", [target("sum by (reason) (%s)" % rate("poold_process_segments_skipped_total"), "{{reason}}")],
                   w=16, h=4, legend_calcs=("lastNotNull",)),
    )
    b.add(
        table("Processes now", "One line per selected process: arenas, mapped and allocated bytes, fragmentation ratio, large blocks, mallocs per second and seconds since it last published.",
              "short", [target("sum by (comm, pid) (%s)" % psel("poold_process_arenas"), "", True, "table"),
                        target(P_MAPPED, "", True, "table"),
                        target(P_ALLOCATED, "", True, "table"),
                        target("sum by (comm, pid) (%s)" % psel("poold_process_fragmentation_ratio"), "", True, "table"),
                        target("sum by (comm, pid) (%s)" % psel("poold_process_large_bytes"), "", True, "table"),
                        target("sum by (comm, pid) (%s)" % prate("poold_process_operations_total", 'op="malloc"'), "", True, "table"),
                        target("time() - max by (comm, pid) (%s)" % psel("poold_process_last_update_timestamp_seconds"), "", True, "table")],
              ["arenas", "mapped", "allocated", "fragmentation", "large blocks", "mallocs/s", "age"],
              [override("mapped", unit="bytes"), override("allocated", unit="bytes"),
               override("large blocks", unit="bytes"), override("mallocs/s", unit="ops"),
               override("age", unit="s"), override("fragmentation", unit="none", decimals=2,
                                                    custom_cellOptions={"type": "color-text"},
                                                    thresholds=FRAG_STEPS)],
              h=8, key="pid"),
    )

    b.row("Memory of the selected processes")
    b.add(
        timeseries("Mapped vs allocated per process", "Each process's mapped arena bytes and the bytes it really holds in small blocks; the gap is memory its allocator keeps but does not use.",
                   "bytes", [target(P_MAPPED, "mapped " + PROCESS_LEGEND),
                             target(P_ALLOCATED, "allocated " + PROCESS_LEGEND)]),
        timeseries("Where the arena bytes go", "The selected processes' arena bytes by kind, stacked; the top is their mapped total.",
                   "bytes", [target("sum by (kind) (%s)" % psel("poold_process_arena_bytes"), "{{kind}}")],
                   stack=True, overrides=[color(k, c) for k, c in KIND_COLORS]),
        timeseries("Fragmentation ratio per process", "Bytes in pools serving a size class per allocated byte, per process; 1.0 is perfect.",
                   "none", [target(psel("poold_process_fragmentation_ratio"), PROCESS_LEGEND)],
                   decimals=2, steps=FRAG_STEPS, threshold_lines=True),
        timeseries("Large blocks per process", "Bytes in live blocks above 512 B (the system allocator's), per process.",
                   "bytes", [target(psel("poold_process_large_bytes"), PROCESS_LEGEND)]),
    )

    b.row("Size classes of the selected processes")
    b.add(
        class_blocks_barchart("For each block size, blocks in use and free blocks inside the selected processes' pools.",
                              P_BLOCKS_ALLOCATED, P_BLOCKS_FREE),
        free_blocks_heatmap("Free blocks in each class's pools of the selected processes (rows: block size in bytes).",
                            P_BLOCKS_FREE),
        timeseries("Pools by state", "The selected processes' pools by state, stacked: used, empty (resident), untouched, returned.",
                   "short", [target("sum by (state) (%s)" % psel("poold_process_pools"), "{{state}}")],
                   stack=True, decimals=0),
    )

    b.row("Activity")
    b.add(
        timeseries("Allocator operations", "Calls per second by operation, all selected processes together.",
                   "ops", [target("sum by (op) (%s)" % prate("poold_process_operations_total"), "{{op}}")],
                   w=8, overrides=[color("failed", "red")]),
        timeseries("Mallocs per process", "Blocks handed out per second, per process.",
                   "ops", [target("sum by (comm, pid) (%s)" % prate("poold_process_operations_total", 'op="malloc"'), PROCESS_LEGEND)],
                   w=8),
        timeseries("Seconds since the last update", "How long ago each process published its statistics; beyond 3 intervals (5 s at least) poold drops it as stale.",
                   "s", [target("time() - %s" % psel("poold_process_last_update_timestamp_seconds"), PROCESS_LEGEND)],
                   w=8),
        timeseries("Thread heaps per process", "Per-thread heaps of each process.",
                   "short", [target(psel("poold_process_thread_heaps"), PROCESS_LEGEND)], w=8, decimals=0),
        timeseries("Memory given back per process", "Bytes per second each process returned to the kernel by purging empty pools.",
                   "Bps", [target(prate("poold_process_purged_bytes_total"), PROCESS_LEGEND)], w=8),
        timeseries("Arenas per process", "Arenas each process has mapped (1 MiB each).",
                   "short", [target(psel("poold_process_arenas"), PROCESS_LEGEND)], w=8, decimals=0),
    )
    return b


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "grafana")
    os.makedirs(out, exist_ok=True)
    for name, board in (("poold-overview.json", overview()), ("poold-details.json", details()),
                        ("poold-processes.json", processes())):
        with open(os.path.join(out, name), "w") as f:
            json.dump(board.json(), f, indent=2, ensure_ascii=False)
            f.write("\n")


if __name__ == "__main__":
    main()
