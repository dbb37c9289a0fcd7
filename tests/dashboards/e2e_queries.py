#!/usr/bin/env python3
"""The querying half of dash-e2e (e2e.sh starts poold and Prometheus).

    e2e_queries.py PROMETHEUS_URL POOLD_URL JOB INSTANCE [COMM PID]

Waits for enough scrapes, then runs every query of every panel of every
dashboard through Prometheus's HTTP API with the variables filled in the way
Grafana fills them (the process selector: the process COMM PID that poold's
collector exports; without it the processes dashboard is skipped), and every
alert rule. Prints "PASS|FAIL<TAB>what<TAB>
details" lines (and "# ..." notes) for e2e.sh to turn into TAP."""
import json
import math
import os
import re
import sys
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dashlib  # noqa: E402

SCRAPES_WANTED = 15         # 1 s scrape interval: 15 s of data, 3 rate windows
RATE_INTERVAL = "5s"        # Grafana: max(4 x scrape interval, interval + scrape)


def report(ok, what, details=()):
    print("%s\t%s\t%s" % ("PASS" if ok else "FAIL", what, " | ".join(details)[:600]))
    sys.stdout.flush()
    return ok


def note(text):
    print("# %s" % text)


class Prom:
    def __init__(self, url):
        self.url = url.rstrip("/")

    def get(self, path, **params):
        q = urllib.parse.urlencode(params, doseq=True)
        try:
            with urllib.request.urlopen("%s%s?%s" % (self.url, path, q), timeout=15) as r:
                return json.load(r)
        except urllib.error.HTTPError as e:
            try:
                return json.load(e)
            except ValueError:
                return {"status": "error", "error": "HTTP %d" % e.code}
        except (OSError, ValueError) as e:
            return {"status": "error", "error": str(e)}

    def query(self, expr, at=None):
        return self.get("/api/v1/query", query=expr, time=at or time.time())

    def query_range(self, expr, start, end, step):
        return self.get("/api/v1/query_range", query=expr, start=start, end=end, step=step)

    def scalar(self, expr):
        r = self.query(expr)
        res = r.get("data", {}).get("result", []) if r.get("status") == "success" else []
        return float(res[0]["value"][1]) if res else None


def finite(v):
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def judge(resp):
    """(ok, why) for a query answer: success, at least one series, and at
    least one finite value (a panel of NaNs shows nothing useful either)."""
    if resp.get("status") != "success":
        return False, "error: %s" % resp.get("error")
    res = resp["data"]["result"]
    if resp["data"]["resultType"] == "scalar":
        res = [{"value": res}]
    if not res:
        return False, "no series"
    values = [s["value"][1] for s in res if "value" in s] + \
             [v[1] for s in res for v in s.get("values", [])]
    if not any(finite(v) for v in values):
        return False, "%d series, no finite value" % len(res)
    return True, "%d series" % len(res)


def grafana_regex_escape(v):
    """What Grafana's Prometheus datasource does to a selected value of a
    multi-value variable used in =~ (backslashes doubled for PromQL)."""
    return re.sub(r"([\\$^*{}\[\]'+?.()|])", r"\\\\\1", v)


def wait_for_data(prom, job, instance, deadline):
    sel = 'up{job="%s", instance="%s"}' % (job, instance)
    n = None
    while time.time() < deadline:
        n = prom.scalar("count_over_time(%s[1m])" % sel)
        if n is not None and n >= SCRAPES_WANTED and prom.scalar(sel) == 1:
            return True, "%d scrapes" % n
        time.sleep(1)
    return False, "scrapes seen: %s, up: %s" % (n, prom.scalar(sel))


def check_process_variables(prom, job, instance, comm, pid):
    base = 'poold_process_info{job=~"%s", instance=~"%s"' % (grafana_regex_escape(job),
                                                             grafana_regex_escape(instance))
    r = prom.get("/api/v1/label/comm/values", **{"match[]": base + "}"})
    report(comm in r.get("data", []), "variable comm: label_values(poold_process_info{...}, comm) offers %s" % comm,
           [str(r.get("data", r.get("error")))])
    r = prom.get("/api/v1/label/pid/values", **{"match[]": base + ', comm=~"%s"}' % grafana_regex_escape(comm)})
    report(pid in r.get("data", []), "variable pid: label_values(poold_process_info{..., comm=~\"$comm\"}, pid) offers %s" % pid,
           [str(r.get("data", r.get("error")))])


def check_variables(prom, job, instance):
    r = prom.get("/api/v1/label/job/values", **{"match[]": "poold_build_info"})
    report(job in r.get("data", []), "variable job: label_values(poold_build_info, job) offers %s" % job,
           [str(r.get("data", r.get("error")))])
    r = prom.get("/api/v1/label/instance/values",
                 **{"match[]": 'poold_build_info{job=~"%s"}' % re.escape(job)})
    report(instance in r.get("data", []),
           "variable instance: label_values(poold_build_info{job=~\"$job\"}, instance) offers %s" % instance,
           [str(r.get("data", r.get("error")))])


def check_panels(prom, job, instance, process):
    chosen = {"job": grafana_regex_escape(job), "instance": grafana_regex_escape(instance),
              "__rate_interval": RATE_INTERVAL, "__interval": "1s", "__range": "1m"}
    if process:
        chosen.update(comm=grafana_regex_escape(process[0]), pid=grafana_regex_escape(process[1]))
    everything = dict(chosen, job=".+", instance=".+", comm=".+", pid=".+")
    now = time.time()
    total = 0
    for path in dashlib.dashboard_files():
        dash = dashlib.load(path)
        names = {v.get("name") for v in dash.get("templating", {}).get("list", [])}
        if "pid" in names and not process:
            note("%s skipped: no process exports its statistics" % dash["uid"])
            continue
        for panel, t in dashlib.queries(dash):
            total += 1
            what = "%s / %s / %s" % (dash["uid"], panel["title"], t["refId"])
            problems = []
            for label, variables in (("selected", chosen), ("All", everything)):
                expr = dashlib.substitute(t["expr"], variables)
                ok, why = judge(prom.query(expr, now))
                if not ok:
                    problems.append("instant, %s: %s: %s" % (label, why, expr))
            if t.get("range", True) and not t.get("instant"):
                expr = dashlib.substitute(t["expr"], chosen)
                ok, why = judge(prom.query_range(expr, now - 30, now, 2))
                if not ok:
                    problems.append("range: %s: %s" % (why, expr))
            report(not problems, "%s returns data" % what, problems)
    note("%d panel queries run" % total)


# Families a process on CPython's pymalloc has no samples in: pymalloc keeps
# no operation counters, thread heaps, purges or large-block figures.
PYMALLOC_ABSENT = ("poold_process_operations_total", "poold_process_thread_heaps",
                   "poold_process_purged_bytes_total", "poold_process_large_")


def check_pymalloc_panels(prom, job, instance, process):
    """The Processes dashboard with a pymalloc process selected: every panel has
    its data, except those of figures pymalloc does not keep, which stay empty."""
    chosen = {"job": grafana_regex_escape(job), "instance": grafana_regex_escape(instance),
              "__rate_interval": RATE_INTERVAL, "__interval": "1s", "__range": "1m",
              "comm": grafana_regex_escape(process[0]), "pid": grafana_regex_escape(process[1])}
    now = time.time()
    for path in dashlib.dashboard_files():
        dash = dashlib.load(path)
        if "pid" not in {v.get("name") for v in dash.get("templating", {}).get("list", [])}:
            continue
        for panel, t in dashlib.queries(dash):
            expr = dashlib.substitute(t["expr"], chosen)
            if "poold_process_" not in expr or "segments_skipped" in expr:
                continue
            ok, why = judge(prom.query(expr, now))
            what = "%s / %s / %s, pymalloc process" % (dash["uid"], panel["title"], t["refId"])
            if any(f in expr for f in PYMALLOC_ABSENT):
                rows = prom.query(expr, now).get("data", {}).get("result", [])
                report(not rows, what + " has no data (pymalloc keeps none)", [expr])
            else:
                report(ok, what + " returns data", ["%s: %s" % (why, expr)])


def check_class_order(prom, job, instance):
    """The by-class panels rely on Prometheus sorting series by the padded
    class label, so bars and heatmap rows come out in size order."""
    dash = dashlib.load(os.path.join(dashlib.DASHBOARD_DIR, "poold-overview.json"))
    t = next(t for p, t in dashlib.queries(dash) if p["type"] == "bargauge")
    expr = dashlib.substitute(t["expr"], {"job": grafana_regex_escape(job),
                                          "instance": grafana_regex_escape(instance),
                                          "__rate_interval": RATE_INTERVAL})
    now = time.time()
    r = prom.query_range(expr, now - 10, now, 2)
    sizes = [int(s["metric"].get("size", 0)) for s in r.get("data", {}).get("result", [])]
    report(len(sizes) > 1 and sizes == sorted(sizes),
           "per-class series come back in size order (%d classes)" % len(sizes), [str(sizes)])


def check_breakdown(prom, job, instance):
    m = 'job="%s", instance="%s"' % (job, instance)
    expr = "sum without (kind) (poold_arena_bytes{%s}) - poold_arenas{%s} * poold_arena_size_bytes{%s}" % (m, m, m)
    now = time.time()
    r = prom.query_range(expr, now - 15, now, 1)
    values = [float(v[1]) for s in r.get("data", {}).get("result", []) for v in s["values"]]
    report(values and all(v == 0 for v in values),
           "the stacked byte breakdown adds up to the mapped arena bytes at every scrape",
           ["differences: %s" % sorted(set(values))[:10]])


def check_rules(prom, deadline):
    groups = []
    while time.time() < deadline:
        groups = prom.get("/api/v1/rules").get("data", {}).get("groups", [])
        rules = [r for g in groups for r in g["rules"]]
        if rules and all(not r.get("lastEvaluation", "").startswith("0001") for r in rules):
            break
        time.sleep(1)
    rules = [r for g in groups for r in g["rules"]]
    report(len(rules) >= 5, "Prometheus loaded the shipped alert rules (%d)" % len(rules))
    for r in rules:
        ok = r.get("health") == "ok" and not r.get("lastError")
        ans = prom.query(r["query"])
        ok = ok and ans.get("status") == "success"
        report(ok, "alert %s evaluates in Prometheus (%s, %d active)" % (
            r["name"], r.get("health"), len(r.get("alerts", []))),
            [str(r.get("lastError") or ans.get("error") or "")])


def check_contract(poold_url):
    """Notes contract metrics poold does not expose (the queries above fail
    for those the dashboards use)."""
    try:
        with urllib.request.urlopen(poold_url + "/metrics", timeout=10) as r:
            text = r.read().decode()
    except OSError as e:
        note("could not read %s/metrics: %s" % (poold_url, e))
        return
    names = set(re.findall(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)", text, re.M))
    missing = sorted(set(dashlib.CONTRACT) - names)
    note("contract metrics poold does not expose: %s" % (", ".join(missing) or "none"))


def main():
    prom_url, poold_url, job, instance = sys.argv[1:5]
    process = tuple(sys.argv[5:7]) if len(sys.argv) >= 7 else None
    pymalloc = tuple(sys.argv[7:9]) if len(sys.argv) >= 9 else None
    prom = Prom(prom_url)
    ok, why = wait_for_data(prom, job, instance, time.time() + 90)
    if not report(ok, "Prometheus scraped poold for %d s" % SCRAPES_WANTED, [why]):
        return
    check_rules(prom, time.time() + 30)
    check_variables(prom, job, instance)
    if process:
        check_process_variables(prom, job, instance, *process)
    check_panels(prom, job, instance, process)
    if pymalloc:
        check_process_variables(prom, job, instance, *pymalloc)
        check_pymalloc_panels(prom, job, instance, pymalloc)
    check_class_order(prom, job, instance)
    check_breakdown(prom, job, instance)
    check_contract(poold_url)
    frag = prom.scalar('poold_fragmentation_ratio{job="%s"}' % job)
    note("fragmentation ratio under the workload: %s" % frag)


if __name__ == "__main__":
    main()
