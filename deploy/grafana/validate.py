#!/usr/bin/env python3
"""Checks the Grafana dashboard(s) in this folder offline: valid JSON in Grafana's classic
dashboard model (uid, title, schemaVersion, panels with unique ids, grid positions inside
the 24-column grid and non-overlapping, a Prometheus datasource variable used by every
panel and target), and that every query — of a panel or of a template variable — names at
least one metric, each one the code exports (the `smsgw_…` names of
deploy/prometheus/metric_names.py, or Prometheus's own `up`). It writes every PromQL
expression, with the dashboard's variables replaced by sample values, as recording rules
to the file named on the command line, so that `promtool check rules` parses each one
(deploy/check.sh).

    validate.py RULES_OUT                 the checks above
    validate.py --metrics                 the metric names the dashboard reads
    validate.py --live-test OUT --scrape JOB[,label=value…]=FILE …
        writes OUT.rules.yml and OUT.test.yml for `promtool test rules`: each query on the
        fleet gauges (smsgw_site_…, smsgw_modem_…) must return data from the scraped
        files (an alert on absent(query) that must not fire), so that their metric and
        label names are checked against what a running API exports. (Other queries may
        rightly be empty on a healthy stack: a 5xx rate, a retry count.)
"""

import importlib.util
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SAMPLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h", "${datasource}": "", "$site": ".*",
           "$modem": ".*"}
# Prometheus's own series the dashboard may read besides the code's.
PROMETHEUS_METRICS = {"up"}
FLEET = re.compile(r"^smsgw_(site|modem)_")
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
            "offset", "atan2", "inf", "nan"}


def code_metrics():
    spec = importlib.util.spec_from_file_location("metric_names", HERE.parent / "prometheus" / "metric_names.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.exported()


def metric_names(expr):
    """The metric names a PromQL expression reads: what is left once strings, label
    matchers, ranges, grouping clauses and function calls are taken out."""
    rest = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    rest = re.sub(r"\{[^}]*\}", " ", rest)
    rest = re.sub(r"\[[^\]]*\]", " ", rest)
    rest = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", rest)
    names = set()
    for m in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", rest):
        if m.group(1).lower() not in KEYWORDS:
            names.add(m.group(1))
    return names


def concrete(expr, samples=SAMPLES):
    for k, v in samples.items():
        expr = expr.replace(k, v)
    return expr


def queries(d):
    """(where, expr) of every panel target and every query variable (its selector)."""
    for panel in d.get("panels", []):
        for target in panel.get("targets", []):
            yield f"panel {panel.get('title')!r}", target.get("expr", "")
    for v in d.get("templating", {}).get("list", []):
        if v.get("type") != "query":
            continue
        q = v.get("query")
        q = q.get("query", "") if isinstance(q, dict) else (q or "")
        m = re.fullmatch(r"\s*label_values\((.*),\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)\s*", q)
        yield f"variable {v.get('name')!r}", m.group(1) if m else q


def check(path, d, exported):
    problems, rules = [], []
    for field in ("uid", "title", "schemaVersion", "panels", "templating"):
        if field not in d:
            problems.append(f"missing {field}")
    variables = {v.get("name"): v for v in d.get("templating", {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        problems.append("needs a Prometheus datasource variable named datasource")
    ids, cells = set(), {}
    for panel in d.get("panels", []):
        pid = panel.get("id")
        if pid in ids:
            problems.append(f"panel id {pid} twice")
        ids.add(pid)
        g = panel.get("gridPos", {})
        if g.get("x", 0) + g.get("w", 0) > 24 or g.get("w", 0) <= 0 or g.get("h", 0) <= 0:
            problems.append(f"panel {panel.get('title')!r} is outside the grid")
        overlap = next(((x, y) for x in range(g.get("x", 0), g.get("x", 0) + g.get("w", 0))
                        for y in range(g.get("y", 0), g.get("y", 0) + g.get("h", 0)) if (x, y) in cells), None)
        if overlap:
            problems.append(f"panels {cells[overlap]!r} and {panel.get('title')!r} overlap")
        for x in range(g.get("x", 0), g.get("x", 0) + g.get("w", 0)):
            for y in range(g.get("y", 0), g.get("y", 0) + g.get("h", 0)):
                cells.setdefault((x, y), panel.get("title"))
        if panel.get("type") != "row":
            if panel.get("datasource", {}).get("uid") != "${datasource}":
                problems.append(f"panel {panel.get('title')!r} does not use the datasource variable")
            if not panel.get("targets"):
                problems.append(f"panel {panel.get('title')!r} has no query")
    for v in variables.values():
        if v.get("type") == "query" and v.get("datasource", {}).get("uid") != "${datasource}":
            problems.append(f"variable {v.get('name')!r} does not use the datasource variable")
    for i, (where, expr) in enumerate(queries(d)):
        if not expr.strip():
            problems.append(f"{where} has an empty query")
            continue
        for var in re.findall(r"\$\{?[A-Za-z_]+\}?", expr):
            if var not in SAMPLES and var.strip("${}") not in variables:
                problems.append(f"{where} uses undefined variable {var}")
        names = metric_names(expr)
        if not names:
            problems.append(f"{where}: {expr!r} names no metric")
        for name in sorted(names):
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            if name not in PROMETHEUS_METRICS and name not in exported and base not in exported:
                problems.append(f"{where} reads {name}, which the code does not export")
        rules.append({"record": f"dashboard:{path.stem}:expr{i}", "expr": concrete(expr), "raw": expr,
                      "where": where, "names": names})
    return problems, rules


def parse_scrape(text):
    """(name, {label: value}, value) of each sample of a Prometheus text exposition."""
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        m = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?", line.strip())
        if not m:
            raise SystemExit(f"cannot read the sample line {line!r}")
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        yield m.group(1), labels, m.group(3)


def live_test(out, scrapes, rules):
    series, present = [], set()
    for spec in scrapes:
        target, _, file = spec.partition("=")
        job, *extra = target.split(",")
        added = dict(kv.split("=", 1) for kv in extra)
        added.update(job=job, instance="live")
        series.append(("up", added, "1"))
        for name, labels, value in parse_scrape(Path(file).read_text()):
            labels.update(added)
            series.append((name, labels, value))
    present = {name for name, _, _ in series}
    live, problems = [], []
    for r in rules:
        if not any(FLEET.match(n) for n in r["names"]):
            continue
        live.append(r)
        if not r["names"] <= present:
            problems.append(f"{r['where']} reads {sorted(r['names'] - present)}, absent from the live /metrics")
    out = Path(out)
    rules_file, test_file = out.with_suffix(".rules.yml"), out.with_suffix(".test.yml")
    lines = ["groups:", "  - name: dashboard-live", "    rules:"]
    # "All" of a variable is ".*", which a series without the label matches too: here the
    # label must be there.
    samples = dict(SAMPLES, **{"$site": ".+", "$modem": ".+"})
    for r in live:
        r["expr"] = concrete(r["raw"], samples)
    for i, r in enumerate(live):
        lines += [f"      - alert: DashboardQuery{i}NoData", f"        expr: {json.dumps('absent(' + r['expr'] + ')')}"]
    rules_file.write_text("\n".join(lines) + "\n")
    lines = [f"rule_files: [{json.dumps(str(rules_file))}]", "evaluation_interval: 1m", "tests:",
             "  - interval: 1m", "    input_series:"]
    for name, labels, value in series:
        shown = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        lines += [f"      - series: {json.dumps(name + '{' + shown + '}')}", f"        values: '{value}x10'"]
    lines.append("    alert_rule_test:")
    for i, r in enumerate(live):
        lines += [f"      # {r['where']}: {r['expr']}", "      - eval_time: 5m",
                  f"        alertname: DashboardQuery{i}NoData", "        exp_alerts: []"]
    test_file.write_text("\n".join(lines) + "\n")
    print(f"grafana live: {len(live)} queries on the fleet gauges must return data from the live /metrics")
    return problems


def main():
    args = sys.argv[1:]
    exported = code_metrics()
    problems, rules, names = [], [], set()
    files = sorted(HERE.glob("*.json"))
    for path in files:
        try:
            d = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            problems.append(f"{path.name}: not JSON: {e}")
            continue
        found, written = check(path, d, exported)
        problems += [f"{path.name}: {p}" for p in found]
        rules += written
        for r in written:
            names |= {n for n in r["names"] if n not in PROMETHEUS_METRICS}
    if "--metrics" in args:
        print("\n".join(sorted(names)))
        return 0
    if "--live-test" in args:
        out = args[args.index("--live-test") + 1]
        scrapes = [args[i + 1] for i, a in enumerate(args) if a == "--scrape"]
        problems += live_test(out, scrapes, rules)
    else:
        out = next((a for a in args if not a.startswith("--")), None)
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
    if "--live-test" not in args:
        print(f"grafana: OK ({len(files)} dashboard(s), {len(rules)} queries, every metric exported by the code,"
              f" written for promtool)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
