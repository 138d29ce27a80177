#!/usr/bin/env python3
"""Checks the Grafana dashboard(s) in this folder offline: valid JSON in Grafana's classic
dashboard model (uid, title, schemaVersion, panels with unique ids, grid positions inside
the 24-column grid and non-overlapping, a Prometheus datasource variable used by every
panel and target), and writes every PromQL expression — with the dashboard's variables
replaced by sample values — as recording rules to the file named on the command line, so
that `promtool check rules` parses each one (deploy/check.sh).

Also prints the metric names the dashboard reads with --metrics.
"""

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SAMPLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h", "${datasource}": "", "$site": ".*"}


def exprs(dashboard):
    for panel in dashboard.get("panels", []):
        for target in panel.get("targets", []):
            yield panel, target.get("expr", "")


def main():
    problems, rules, names = [], [], set()
    files = sorted(HERE.glob("*.json"))
    for path in files:
        try:
            d = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            problems.append(f"{path.name}: not JSON: {e}")
            continue
        for field in ("uid", "title", "schemaVersion", "panels", "templating"):
            if field not in d:
                problems.append(f"{path.name}: missing {field}")
        variables = {v.get("name"): v for v in d.get("templating", {}).get("list", [])}
        ds = variables.get("datasource")
        if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
            problems.append(f"{path.name}: needs a Prometheus datasource variable named datasource")
        ids, cells = set(), {}
        for panel in d.get("panels", []):
            pid = panel.get("id")
            if pid in ids:
                problems.append(f"{path.name}: panel id {pid} twice")
            ids.add(pid)
            g = panel.get("gridPos", {})
            if g.get("x", 0) + g.get("w", 0) > 24 or g.get("w", 0) <= 0 or g.get("h", 0) <= 0:
                problems.append(f"{path.name}: panel {panel.get('title')!r} is outside the grid")
            for x in range(g.get("x", 0), g.get("x", 0) + g.get("w", 0)):
                for y in range(g.get("y", 0), g.get("y", 0) + g.get("h", 0)):
                    if (x, y) in cells:
                        problems.append(f"{path.name}: panels {cells[(x, y)]!r} and {panel.get('title')!r} overlap")
                        break
                    cells[(x, y)] = panel.get("title")
                else:
                    continue
                break
            if panel.get("type") != "row":
                if panel.get("datasource", {}).get("uid") != "${datasource}":
                    problems.append(f"{path.name}: panel {panel.get('title')!r} does not use the datasource variable")
                if not panel.get("targets"):
                    problems.append(f"{path.name}: panel {panel.get('title')!r} has no query")
        for i, (panel, expr) in enumerate(exprs(d)):
            if not expr.strip():
                problems.append(f"{path.name}: panel {panel.get('title')!r} has an empty query")
                continue
            for var in re.findall(r"\$\{?[A-Za-z_]+\}?", expr):
                if var not in SAMPLES and var.strip("${}") not in variables:
                    problems.append(f"{path.name}: {panel.get('title')!r} uses undefined variable {var}")
            concrete = expr
            for k, v in SAMPLES.items():
                concrete = concrete.replace(k, v)
            rules.append({"record": f"dashboard:{path.stem}:expr{i}", "expr": concrete})
            names.update(re.findall(r"\b(smsgw_[a-z0-9_]+?)(?:_bucket|_sum|_count)?\b(?=\s*[{\[(]|\s*\)|\s*$|\s*[*/+-])", expr))
    if "--metrics" in sys.argv[1:]:
        print("\n".join(sorted(names)))
        return 0
    out = next((a for a in sys.argv[1:] if not a.startswith("--")), None)
    if out:
        lines = ["groups:", "  - name: dashboard-expressions", "    rules:"]
        for r in rules:
            lines.append(f"      - record: {r['record']}")
            lines.append(f"        expr: {json.dumps(r['expr'])}")
        Path(out).write_text("\n".join(lines) + "\n")
    for p in problems:
        print(f"FAIL: {p}")
    if problems:
        return 1
    print(f"grafana: OK ({len(files)} dashboard(s), {len(rules)} queries written for promtool)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
