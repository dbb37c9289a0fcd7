#!/usr/bin/env python3
"""Checks what promtool does not: the alert rules' labels and annotations,
that rules only use contract metrics, that the example Prometheus config
loads every rules file and defines the job the rules match, and the Grafana
provisioning files. Prints "PASS|FAIL<TAB>what<TAB>details" lines for
rules.sh to turn into TAP."""
import glob
import os
import re
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dashlib  # noqa: E402

DIR = os.path.join(dashlib.ROOT, "dashboards")
SEVERITIES = {"critical", "warning", "info"}


def report(ok, what, details=()):
    print("%s\t%s\t%s" % ("PASS" if ok else "FAIL", what, " | ".join(details)))


def load(path):
    with open(path) as f:
        return yaml.safe_load(f)


def alert_problems(rule):
    out = []
    name = rule.get("alert", "")
    if not re.fullmatch(r"Poold[A-Z][A-Za-z]+", name):
        out.append("name %r is not PooldCamelCase" % name)
    if "for" not in rule:
        out.append("no for: duration")
    sev = (rule.get("labels") or {}).get("severity")
    if sev not in SEVERITIES:
        out.append("severity %r not one of %s" % (sev, sorted(SEVERITIES)))
    ann = rule.get("annotations") or {}
    for key in ("summary", "description"):
        if not str(ann.get(key, "")).strip():
            out.append("no %s annotation" % key)
    text = "%s %s" % (ann.get("summary", ""), ann.get("description", ""))
    if not rule["expr"].lstrip().startswith("absent(") and not re.search(r"\$(value|labels)", text):
        out.append("annotations show neither $value nor $labels")
    return out


def main():
    config = load(os.path.join(DIR, "prometheus.yml"))
    jobs = {s.get("job_name") for s in config.get("scrape_configs", [])}
    report("poold" in jobs, "prometheus.yml scrapes a job named poold", ["jobs: %s" % sorted(jobs)])
    listed = {os.path.normpath(os.path.join(DIR, f)) for f in config.get("rule_files", [])}
    rule_files = sorted(glob.glob(os.path.join(DIR, "*rules*.yml")))
    report(rule_files and set(rule_files) <= listed,
           "prometheus.yml loads every dashboards/*rules*.yml",
           ["rule files: %s" % rule_files, "loaded: %s" % sorted(listed)])

    alerts = 0
    for path in rule_files:
        name = os.path.basename(path)
        for group in load(path).get("groups", []):
            for rule in group.get("rules", []):
                what = "%s %s" % (name, rule.get("alert") or rule.get("record"))
                problems = alert_problems(rule) if "alert" in rule else []
                alerts += "alert" in rule
                try:
                    p = dashlib.parse(rule["expr"])
                    problems += [msg for _, msg in dashlib.contract_problems(p)]
                    for sel_name, matchers in p.selectors:
                        for label, op, value in matchers:
                            if label == "job" and op == "=" and value not in jobs:
                                problems.append('job="%s" is not scraped by prometheus.yml' % value)
                except dashlib.PromQLError as e:
                    problems.append(str(e))
                report(not problems, "%s: labels, annotations and metrics" % what, problems)
    report(alerts >= 5, "at least five alerts (%d)" % alerts)

    ds = load(os.path.join(DIR, "provisioning", "datasources", "poold-prometheus.yaml"))
    prom = [d for d in ds.get("datasources", []) if d.get("type") == "prometheus"]
    report(ds.get("apiVersion") == 1 and len(prom) == 1 and prom[0].get("uid") and prom[0].get("url"),
           "datasource provisioning: one Prometheus datasource with a uid and url")
    interval = (prom[0].get("jsonData") or {}).get("timeInterval") if prom else None
    scrape = (config.get("global") or {}).get("scrape_interval")
    report(interval == scrape, "datasource timeInterval matches the scrape interval",
           ["timeInterval %s, scrape_interval %s" % (interval, scrape)])
    dp = load(os.path.join(DIR, "provisioning", "dashboards", "poold.yaml"))
    providers = dp.get("providers", [])
    report(dp.get("apiVersion") == 1 and providers and all(
        p.get("type") == "file" and (p.get("options") or {}).get("path") for p in providers),
        "dashboard provisioning: file providers with a path")


if __name__ == "__main__":
    main()
