#!/usr/bin/env python3
"""dash-lint: lints dashboards/grafana/*.json (the dashboard-linter rule set
plus poold's metric contract), proves each rule catches what it is for on
broken copies, and checks the JSON matches dashboards/generate.py. TAP."""
import copy
import filecmp
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dashlib  # noqa: E402

DS_REF = {"type": "prometheus", "uid": "${datasource}"}
# Grafana unit ids (packages/grafana-data valueFormats) that suit poold's data.
UNITS = {"none", "short", "percent", "percentunit", "bytes", "decbytes", "bits", "Bps",
         "binBps", "ops", "reqps", "cps", "wps", "rps", "iops", "ns", "µs", "ms", "s",
         "m", "h", "d", "dtdurations", "dtdurationms", "dateTimeFromNow", "dateTimeAsIso",
         "hertz", "string"}
RATE_FUNCS = {"rate", "irate", "increase"}
GRAFANA_RANGES = {"[$__rate_interval]", "[$__interval]", "[$__range]"}
UID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


def lint_variables(dash):
    out = []
    vs = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
    ds = vs.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        out.append(("var-datasource", "no datasource variable of type datasource for prometheus"))
    for name, needs in (("job", None), ("instance", "$job")):
        v = vs.get(name)
        if not v:
            out.append(("var-" + name, "no %s variable" % name))
            continue
        problems = []
        if v.get("type") != "query":
            problems.append("type is not query")
        if v.get("datasource") != DS_REF:
            problems.append("does not query $datasource")
        if not v.get("multi") or not v.get("includeAll"):
            problems.append("not multi with All")
        if v.get("allValue") != ".+":
            problems.append('allValue is not ".+"')
        query = v.get("query")
        query = query.get("query", "") if isinstance(query, dict) else (query or "")
        m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", query.strip())
        if not m or m.group(2) != name:
            problems.append("query is not label_values(..., %s)" % name)
        else:
            try:
                p = dashlib.parse(m.group(1))
                problems += [msg for _, msg in dashlib.contract_problems(p)]
            except dashlib.PromQLError as e:
                problems.append("query: %s" % e)
        if needs and needs not in query:
            problems.append("query does not filter on %s" % needs)
        out += [("var-" + name, "%s: %s" % (name, pr)) for pr in problems]
    return out


def lint_process_selector(dash):
    """A dashboard with per-process metrics has the process selector (the
    comm and pid variables), and every per-process selector honours it."""
    out, uses = [], False
    vs = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
    for p, t in dashlib.queries(dash):
        try:
            parsed = dashlib.parse(t.get("expr", ""))
        except dashlib.PromQLError:
            continue
        for name, matchers in parsed.selectors:
            if "pid" not in dashlib.CONTRACT.get(dashlib.selector_name(name, matchers) or "", {}):
                continue
            uses = True
            present = set(matchers)
            for var in ("comm", "pid"):
                if (var, "=~", "$" + var) not in present:
                    out.append(("target-process", 'panel %s %r %s: %s lacks %s=~"$%s"' % (
                        p.get("id"), p.get("title"), t.get("refId"), name, var, var)))
    for name, needs in (("comm", None), ("pid", "$comm")):
        v = vs.get(name)
        if not uses:
            break
        query = (v or {}).get("query") or ""
        if not v or not query.startswith("label_values(poold_process_info{") or \
                not query.endswith(", %s)" % name) or (needs and needs not in query) or \
                not v.get("multi") or v.get("allValue") != ".+":
            out.append(("var-process", "no %s variable over poold_process_info%s" % (
                name, " filtered on " + needs if needs else "")))
    return out


def lint_target(where, t):
    out = []
    if t.get("datasource") != DS_REF:
        out.append(("target-datasource", "%s: datasource is not ${datasource}" % where))
    expr = t.get("expr", "")
    if not expr.strip():
        return out + [("target-expr-parse", "%s: empty expr" % where)]
    try:
        p = dashlib.parse(expr)
    except dashlib.PromQLError as e:
        return out + [("target-expr-parse", "%s: %s" % (where, e))]
    if not p.selectors:
        out.append(("target-expr-parse", "%s: no series selector" % where))
    for name, matchers in p.selectors:
        present = {(label, op, value) for label, op, value in matchers}
        for var in ("job", "instance"):
            if (var, "=~", "$" + var) not in present:
                out.append(("target-" + var, '%s: %s lacks %s=~"$%s"' % (where, name, var, var)))
    for fn, args in p.calls:
        if fn in RATE_FUNCS:
            ranges = [text for kind, text in args if kind == "range"]
            if ranges != ["[$__rate_interval]"]:
                out.append(("target-rate-interval",
                            "%s: %s() over %s, not [$__rate_interval]" % (where, fn, ranges or "nothing")))
    for r in p.ranges:
        if r not in GRAFANA_RANGES:
            out.append(("target-rate-interval", "%s: hard-coded range %s" % (where, r)))
    out += [(rule, "%s: %s" % (where, msg)) for rule, msg in dashlib.contract_problems(p)]
    return out


def lint_grid(dash):
    out, cells = [], {}
    for p in dash.get("panels", []):
        g = p.get("gridPos") or {}
        x, y, w, h = (g.get(k) for k in ("x", "y", "w", "h"))
        if not all(isinstance(v, int) for v in (x, y, w, h)) or w < 1 or h < 1 or x < 0 or x + w > 24:
            out.append(("panel-grid", "panel %s: bad gridPos %s" % (p.get("id"), g)))
            continue
        for cx in range(x, x + w):
            for cy in range(y, y + h):
                other = cells.setdefault((cx, cy), p.get("id"))
                if other != p.get("id"):
                    out.append(("panel-grid", "panels %s and %s overlap" % (other, p.get("id"))))
                    break
            else:
                continue
            break
    return out


def lint_dashboard(dash):
    """Problems in one dashboard, as (rule, message)."""
    out = []
    if not UID.match(str(dash.get("uid", ""))):
        out.append(("uid", "uid %r missing or malformed" % dash.get("uid")))
    if not str(dash.get("title", "")).strip():
        out.append(("title", "no title"))
    if not 36 <= int(dash.get("schemaVersion", 0)) <= 42:
        out.append(("schema", "schemaVersion %s is not 36..42" % dash.get("schemaVersion")))
    out += lint_variables(dash)
    out += lint_process_selector(dash)
    out += lint_grid(dash)
    ids, titles = set(), set()
    for p in dashlib.panels(dash):
        pid = p.get("id")
        if not isinstance(pid, int) or pid in ids:
            out.append(("panel-id", "panel id %r missing or repeated (%s)" % (pid, p.get("title"))))
        ids.add(pid)
        if p.get("type") == "row":
            continue
        where = "panel %s %r" % (pid, p.get("title"))
        if p.get("title") in titles:
            out.append(("panel-title", "%s: title repeated" % where))
        titles.add(p.get("title"))
        desc = str(p.get("description", "")).strip()
        if not desc or "\n" in desc:
            out.append(("panel-description", "%s: no one-line description" % where))
        unit = (p.get("fieldConfig") or {}).get("defaults", {}).get("unit")
        if unit not in UNITS:
            out.append(("panel-unit", "%s: unit %r is not a Grafana unit" % (where, unit)))
        if p.get("datasource") != DS_REF:
            out.append(("panel-datasource", "%s: datasource is not ${datasource}" % where))
        targets = p.get("targets") or []
        if not targets:
            out.append(("panel-targets", "%s: no queries" % where))
        refs = [t.get("refId") for t in targets]
        if len(set(refs)) != len(refs) or None in refs:
            out.append(("panel-targets", "%s: refIds missing or repeated" % where))
        for t in targets:
            out += lint_target("%s %s" % (where, t.get("refId")), t)
    return out


def lint_set(dashes):
    """Problems across dashboards: uids and titles must be unique."""
    out = []
    for key in ("uid", "title"):
        seen = {}
        for name, d in dashes:
            v = d.get(key)
            if v in seen:
                out.append((key + "-unique", "%s %r in both %s and %s" % (key, v, seen[v], name)))
            seen[v] = name
    return out


# ---- broken copies: each must trip its rule --------------------------------

def first_panel(d, kind="timeseries"):
    return next(p for p in dashlib.panels(d) if p.get("type") == kind)


def with_rate(d):
    return next(p for p in dashlib.panels(d) if "rate(" in str(p.get("targets")))


def with_two_selectors(d):
    return next(p for p in dashlib.panels(d)
                if any(str(t.get("expr")).count("instance=~") >= 2 for t in p.get("targets", [])))


def retarget(p, old, new):
    for t in p["targets"]:
        t["expr"] = t["expr"].replace(old, new, 1)


MUTATIONS = [
    ("panel-description", "a panel without description",
     lambda d: first_panel(d).pop("description")),
    ("panel-description", "a two-line description",
     lambda d: first_panel(d).update(description="one\ntwo")),
    ("panel-unit", "a panel without unit",
     lambda d: first_panel(d, "stat")["fieldConfig"]["defaults"].pop("unit")),
    ("panel-unit", "a made-up unit",
     lambda d: first_panel(d)["fieldConfig"]["defaults"].update(unit="megafoos")),
    ("panel-datasource", "a hard-coded panel datasource",
     lambda d: first_panel(d).update(datasource={"type": "prometheus", "uid": "abc"})),
    ("target-datasource", "a hard-coded query datasource",
     lambda d: first_panel(d)["targets"][0].update(datasource={"type": "prometheus", "uid": "abc"})),
    ("panel-id", "two panels with one id",
     lambda d: first_panel(d, "stat").update(id=first_panel(d)["id"])),
    ("panel-grid", "two panels on one spot",
     lambda d: first_panel(d, "stat").update(gridPos=dict(first_panel(d)["gridPos"]))),
    ("target-metric", "a misspelt metric (the redis-mixin bug)",
     lambda d: retarget(first_panel(d), "poold_", "poold_x_")),
    ("target-label", "a misspelt label value",
     lambda d: retarget(first_panel(d), 'kind="allocated"', 'kind="allocted"')),
    ("target-label", "a label the metric does not have",
     lambda d: retarget(first_panel(d), 'kind="allocated"', 'state="allocated"')),
    ("target-rate-interval", "rate() over a fixed window",
     lambda d: retarget(with_rate(d), "[$__rate_interval]", "[5m]")),
    ("target-instance", "one of two selectors without the instance matcher",
     lambda d: [t.update(expr="".join(t["expr"].rpartition(', instance=~"$instance"')[::2]))
                for t in with_two_selectors(d)["targets"]]),
    ("target-job", "a selector without the job matcher",
     lambda d: retarget(first_panel(d), 'job=~"$job", ', "")),
    ("target-expr-parse", "an unbalanced expression",
     lambda d: retarget(first_panel(d), ")", "")),
    ("var-job", "a job variable without allValue",
     lambda d: next(v for v in d["templating"]["list"] if v["name"] == "job").pop("allValue")),
    ("var-instance", "an instance variable that ignores $job",
     lambda d: next(v for v in d["templating"]["list"] if v["name"] == "instance").update(
         query="label_values(poold_build_info, instance)")),
    ("var-datasource", "no datasource variable",
     lambda d: d["templating"].update(list=[v for v in d["templating"]["list"]
                                            if v["name"] != "datasource"])),
    ("schema", "an ancient schemaVersion", lambda d: d.update(schemaVersion=16)),
]
# Broken copies of the processes dashboard.
PROCESS_MUTATIONS = [
    ("target-process", "a per-process query that ignores the process selector",
     lambda d: retarget(next(p for p in dashlib.panels(d) if 'pid=~"$pid"' in str(p.get("targets"))),
                        'comm=~"$comm", pid=~"$pid", ', "")),
    ("var-process", "no pid variable",
     lambda d: d["templating"].update(list=[v for v in d["templating"]["list"] if v["name"] != "pid"])),
    ("var-process", "a pid variable that ignores $comm",
     lambda d: next(v for v in d["templating"]["list"] if v["name"] == "pid").update(
         query='label_values(poold_process_info{job=~"$job", instance=~"$instance"}, pid)')),
]


def main():
    tap = dashlib.Tap()
    files = dashlib.dashboard_files()
    tap.ok(len(files) >= 2, "at least two dashboards in dashboards/grafana (%d)" % len(files))
    loaded = []
    for f in files:
        name = os.path.basename(f)
        try:
            loaded.append((name, dashlib.load(f)))
            tap.ok(True, "%s is valid JSON" % name)
        except ValueError as e:
            tap.ok(False, "%s is valid JSON" % name, [str(e)])
    for name, d in loaded:
        problems = lint_dashboard(d)
        n_targets = sum(1 for _ in dashlib.queries(d))
        tap.ok(not problems, "%s passes every lint rule (%d panels, %d queries)" % (
            name, sum(1 for p in dashlib.panels(d) if p.get("type") != "row"), n_targets),
            ["%s: %s" % pr for pr in problems])
    problems = lint_set(loaded)
    tap.ok(not problems, "uids and titles are unique across dashboards",
           ["%s: %s" % pr for pr in problems])

    if loaded:
        base = dict(loaded)["poold-overview.json"] if "poold-overview.json" in dict(loaded) else loaded[0][1]
        for rule, what, mutate in MUTATIONS:
            d = copy.deepcopy(base)
            mutate(d)
            rules = {r for r, _ in lint_dashboard(d)}
            tap.ok(rule in rules, "the linter catches %s (%s)" % (what, rule),
                   ["rules reported: %s" % sorted(rules)])
        procs = dict(loaded).get("poold-processes.json")
        tap.ok(procs is not None, "poold-processes.json is there (the process selector's dashboard)")
        for rule, what, mutate in PROCESS_MUTATIONS if procs else []:
            d = copy.deepcopy(procs)
            mutate(d)
            rules = {r for r, _ in lint_dashboard(d)}
            tap.ok(rule in rules, "the linter catches %s (%s)" % (what, rule),
                   ["rules reported: %s" % sorted(rules)])
        twin = copy.deepcopy(base)
        twin["title"] += " (copy)"
        rules = {r for r, _ in lint_set([("a.json", base), ("b.json", twin)])}
        tap.ok("uid-unique" in rules, "the linter catches two dashboards with one uid (uid-unique)")

    with tempfile.TemporaryDirectory() as tmp:
        gen = os.path.join(dashlib.ROOT, "dashboards", "generate.py")
        r = subprocess.run([sys.executable, gen, tmp], capture_output=True, text=True)
        fresh = sorted(os.listdir(tmp)) if r.returncode == 0 else []
        same = fresh == [os.path.basename(f) for f in files] and all(
            filecmp.cmp(os.path.join(tmp, n), os.path.join(dashlib.DASHBOARD_DIR, n), shallow=False)
            for n in fresh)
        tap.ok(r.returncode == 0 and same,
               "dashboards/grafana/*.json are what dashboards/generate.py writes",
               [r.stderr.strip() or "run python3 dashboards/generate.py and commit the result"])
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
