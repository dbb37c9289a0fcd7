"""Compares two runs of CPython's regression tests (regrtest's log and its
--junit-xml file), one per interpreter, module by module.

    regrtest_compare.py LOG_A XML_A LOG_B XML_B MODULE...

Prints one line per module: "MODULE<TAB>same|differs<TAB>what", where a
module is the same when regrtest gave it the same verdict (passed, failed,
skipped, ...) and every test case the same outcome (passed, failed, error,
skipped) in both runs. Timings are not compared.
"""
import re
import sys
import xml.etree.ElementTree as ET

VERDICT = re.compile(r"\] (test_\w+) (passed|failed|skipped|crashed|timed out|"
                     r"resource denied|interrupted|env changed|ran no tests)")


def verdicts(log_path):
    found = {}
    with open(log_path, errors="replace") as f:
        for line in f:
            m = VERDICT.search(line)
            if m:
                found[m.group(1)] = m.group(2)
    return found


def outcome(case):
    for tag, what in (("failure", "failed"), ("error", "error"), ("skipped", "skipped")):
        if case.find(tag) is not None:
            return what
    return "passed"


def cases(xml_path):
    """{module: {test case: outcome}} from a junit file (missing: empty)."""
    by_module = {}
    try:
        root = ET.parse(xml_path).getroot()
    except (OSError, ET.ParseError):
        return by_module
    for case in root.iter("testcase"):
        name = case.get("name", "")
        parts = name.split(".")
        module = parts[1] if len(parts) > 1 and parts[0] == "test" else parts[0]
        by_module.setdefault(module, {})[name] = outcome(case)
    return by_module


def counts(outcomes):
    n = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
    for o in outcomes.values():
        n[o] += 1
    return "%(passed)d passed, %(failed)d failed, %(error)d errors, %(skipped)d skipped" % n


def main(argv):
    log_a, xml_a, log_b, xml_b = argv[:4]
    va, vb = verdicts(log_a), verdicts(log_b)
    ca, cb = cases(xml_a), cases(xml_b)
    for module in argv[4:]:
        a, b = ca.get(module, {}), cb.get(module, {})
        ra, rb = va.get(module, "no verdict"), vb.get(module, "no verdict")
        diffs = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
        if ra == rb and not diffs and ra != "no verdict":
            print("%s\tsame\t%s; %d cases: %s" % (module, ra, len(b), counts(b)))
        else:
            shown = ", ".join("%s %s/%s" % (k.split(".", 2)[-1], a.get(k, "-"), b.get(k, "-"))
                              for k in diffs[:4])
            print("%s\tdiffers\t%s/%s; %s | %s%s" % (module, ra, rb, counts(a), counts(b),
                                                   "; " + shown if shown else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
