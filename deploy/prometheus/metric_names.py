#!/usr/bin/env python3
"""Every metric the alert rules, the Grafana dashboard and the Zabbix templates read must
be one the code exports: a rule on a misspelt or removed metric never fires. The code's
names are the "smsgw_…" string literals in api/src, broker/src and edge-agent/src (what
the metrics macros and constants are given); histograms add _bucket, _sum and _count.

    metric_names.py <names used, one per line, on stdin>
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def exported():
    names = set()
    for src in ("api/src", "broker/src", "edge-agent/src"):
        for rs in (ROOT / src).rglob("*.rs"):
            names.update(re.findall(r'"(smsgw_[a-z0-9_]+)"', rs.read_text()))
    return names


def used_in_rules(path):
    names = set()
    for line in path.read_text().splitlines():
        if line.strip().startswith("expr:") or line.startswith("          "):
            names.update(re.findall(r"\b(smsgw_[a-z0-9_]+)", line))
    return names


def main():
    code = exported()
    used = {n.strip() for n in sys.stdin if n.strip()}
    used |= used_in_rules(ROOT / "deploy/prometheus/smsgw.rules.yml")
    missing = []
    for name in sorted(used):
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        if name not in code and base not in code:
            missing.append(name)
    for name in missing:
        print(f"FAIL: {name} is used by the monitoring files but exported nowhere in the code")
    if missing:
        return 1
    print(f"metric names: OK ({len(used)} used, all exported by the code)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
