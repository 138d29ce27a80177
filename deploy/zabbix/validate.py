#!/usr/bin/env python3
"""Offline structure check of the Zabbix 7.0 exports in this folder (no Zabbix server can
run here: Debian 12 packages Zabbix 6.0, which cannot import 7.0 files).

Checks what a 7.0 import would refuse or silently break, following the import schema of
Zabbix 7.0 (ui/include/classes/import/validators/C70XmlValidator.php): required fields,
allowed item types, value types, preprocessing steps (a smaller set for discovery rules),
error handlers, trigger priorities and media type event sources; every UUID a UUIDv4 and
unique (Zabbix's own rule, see UUID below: 7.0 refuses the whole import otherwise);
dependent items whose master exists; trigger expressions that name existing items of
their own template; item prototype keys that carry an LLD macro; user macros and value
maps that are defined; and that the embedded scripts equal get_modems.js and
send_sms.js. `validate.py --sync` copies the .js files into the YAML after an edit;
`validate.py --fix-uuids` makes every UUID a v4 one in place, deterministically (the
version and variant digits are set, the others kept), so running it again after a merge
changes nothing that is already right.

Prints the metric names the templates read (for deploy/check.sh's cross-check with the
code) when called with --metrics.
"""

import re
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "smsgw_template.yaml"
MEDIA = HERE / "smsgw_media.yaml"
SCRIPTS = {("template", "smsgw.modems.get"): HERE / "get_modems.js", ("media", "smsgw SMS"): HERE / "send_sms.js"}

ITEM_TYPES = {"ZABBIX_PASSIVE", "TRAP", "SIMPLE", "INTERNAL", "ZABBIX_ACTIVE", "EXTERNAL", "ODBC", "IPMI", "SSH",
              "TELNET", "CALCULATED", "JMX", "SNMP_TRAP", "DEPENDENT", "HTTP_AGENT", "SNMP_AGENT", "SCRIPT", "BROWSER"}
VALUE_TYPES = {"FLOAT", "CHAR", "LOG", "UNSIGNED", "TEXT", "BINARY"}
STEPS = {"MULTIPLIER", "RTRIM", "LTRIM", "TRIM", "REGEX", "BOOL_TO_DECIMAL", "OCTAL_TO_DECIMAL", "HEX_TO_DECIMAL",
         "SIMPLE_CHANGE", "CHANGE_PER_SECOND", "XMLPATH", "JSONPATH", "IN_RANGE", "MATCHES_REGEX", "NOT_MATCHES_REGEX",
         "CHECK_JSON_ERROR", "CHECK_XML_ERROR", "CHECK_REGEX_ERROR", "CHECK_NOT_SUPPORTED", "DISCARD_UNCHANGED",
         "DISCARD_UNCHANGED_HEARTBEAT", "JAVASCRIPT", "PROMETHEUS_PATTERN", "PROMETHEUS_TO_JSON", "CSV_TO_JSON",
         "STR_REPLACE", "XML_TO_JSON", "SNMP_WALK_VALUE", "SNMP_WALK_TO_JSON", "SNMP_GET_VALUE"}
DRULE_STEPS = {"REGEX", "XMLPATH", "JSONPATH", "MATCHES_REGEX", "NOT_MATCHES_REGEX", "CHECK_JSON_ERROR",
               "CHECK_XML_ERROR", "DISCARD_UNCHANGED_HEARTBEAT", "JAVASCRIPT", "PROMETHEUS_TO_JSON", "CSV_TO_JSON",
               "STR_REPLACE", "XML_TO_JSON", "SNMP_WALK_VALUE", "SNMP_WALK_TO_JSON", "SNMP_GET_VALUE"}
NO_PARAM_STEPS = {"BOOL_TO_DECIMAL", "OCTAL_TO_DECIMAL", "HEX_TO_DECIMAL", "SIMPLE_CHANGE", "CHANGE_PER_SECOND",
                  "DISCARD_UNCHANGED", "XML_TO_JSON"}
HANDLERS = {"ORIGINAL_ERROR", "DISCARD_VALUE", "CUSTOM_VALUE", "CUSTOM_ERROR"}
PRIORITIES = {"NOT_CLASSIFIED", "INFO", "WARNING", "AVERAGE", "HIGH", "DISASTER"}
EVENT_SOURCES = {"TRIGGERS", "DISCOVERY", "AUTOREGISTRATION", "INTERNAL", "SERVICE"}
OPERATION_MODES = {"PROBLEM", "RECOVERY", "UPDATE"}
MACRO_TYPES = {"TEXT", "SECRET_TEXT", "VAULT"}
# Zabbix's rule for every uuid of an import (zabbix/zabbix,
# ui/include/classes/validators/CApiInputValidator.php, validateUuid, "UUIDv4 is
# expected"): 32 hex digits, byte 6 with high nibble 4 (the version, hex digit 13) and byte
# 8 with its two top bits 10 (the variant, hex digit 17: 8, 9, a or b). Zabbix lowercases
# what it accepts and exports lowercase; so do we.
UUID = re.compile(r"^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$")
# Template groups that ship with Zabbix, by their uuid in every Zabbix 7.0 database (the
# official templates export them so): a group named so must carry it, otherwise the import
# meets an existing group of that name under another uuid.
BUILTIN_GROUPS = {"Templates/Applications": "a571c0d144b14fd4a87a9d9b2aa9fcd6"}
USER_MACRO = re.compile(r"\{\$[A-Z0-9_.]+(?::[^}]*)?\}")
LLD_MACRO = re.compile(r"\{#[A-Z0-9_.]+\}")
# /host/key or /host/key[params] inside a trigger function call
ITEM_REF = re.compile(r"/([^/()]+)/([^,()\[\]]+(?:\[[^\]]*\])?)")


class Checker:
    def __init__(self):
        self.problems = []
        self.uuids = {}
        self.checked = set()
        self.counts = {"templates": 0, "items": 0, "discovery rules": 0, "item prototypes": 0, "triggers": 0,
                       "media types": 0}

    def fail(self, where, what):
        self.problems.append(f"{where}: {what}")

    def need(self, obj, fields, where):
        for f in fields:
            if f not in obj or obj[f] in (None, ""):
                self.fail(where, f"missing {f}")

    def uuid(self, obj, where):
        u = obj.get("uuid")
        self.checked.add(u)
        if not isinstance(u, str) or not UUID.match(u):
            self.fail(where, f"uuid {u!r} is not a UUIDv4 (32 lower-case hex digits, the 13th 4, "
                             f"the 17th 8, 9, a or b; run {Path(__file__).name} --fix-uuids)")
        elif u in self.uuids:
            self.fail(where, f"uuid {u} also used by {self.uuids[u]}")
        else:
            self.uuids[u] = where

    def steps(self, steps, allowed, where):
        for i, step in enumerate(steps or []):
            at = f"{where} step {i + 1}"
            kind = step.get("type")
            if kind not in allowed:
                self.fail(at, f"preprocessing type {kind!r} not allowed here")
                continue
            params = step.get("parameters")
            if kind not in NO_PARAM_STEPS and not isinstance(params, list):
                self.fail(at, f"{kind} needs parameters")
            if kind == "PROMETHEUS_PATTERN":
                if i != 0:
                    self.fail(at, "PROMETHEUS_PATTERN must be the first step (Zabbix caches it per master item only then)")
                if len(params or []) != 3 or params[1] not in ("value", "label", "function"):
                    self.fail(at, "PROMETHEUS_PATTERN takes [pattern, value|label|function, label|function name]")
                if params and params[1] == "function" and params[2] not in ("sum", "min", "max", "avg", "count"):
                    self.fail(at, f"unknown aggregation {params[2]!r}")
            handler = step.get("error_handler")
            if handler is not None and handler not in HANDLERS:
                self.fail(at, f"error_handler {handler!r}")
            if handler in ("CUSTOM_VALUE", "CUSTOM_ERROR") and "error_handler_params" not in step:
                self.fail(at, f"{handler} needs error_handler_params")

    def item(self, item, where, allowed_steps=STEPS):
        self.need(item, ["uuid", "name", "key"], where)
        self.uuid(item, where)
        kind = item.get("type", "ZABBIX_PASSIVE")
        if kind not in ITEM_TYPES:
            self.fail(where, f"type {kind!r}")
        if item.get("value_type", "UNSIGNED") not in VALUE_TYPES:
            self.fail(where, f"value_type {item.get('value_type')!r}")
        if kind == "DEPENDENT":
            if str(item.get("delay", "0")) != "0":
                self.fail(where, "a dependent item has delay 0")
            if not (item.get("master_item") or {}).get("key"):
                self.fail(where, "a dependent item needs master_item.key")
        if kind == "HTTP_AGENT" and not item.get("url"):
            self.fail(where, "an HTTP agent item needs a url")
        if kind == "HTTP_AGENT":
            for h in item.get("headers", []):
                self.need(h, ["name", "value"], f"{where} header")
        if kind in ("SCRIPT", "CALCULATED") and not item.get("params"):
            self.fail(where, f"a {kind} item needs params")
        if kind == "SCRIPT":
            for p in item.get("parameters", []):
                self.need(p, ["name"], f"{where} parameter")
        self.steps(item.get("preprocessing"), allowed_steps, where)

    def trigger(self, trig, where, template, keys):
        self.need(trig, ["uuid", "expression", "name"], where)
        self.uuid(trig, where)
        if trig.get("priority", "NOT_CLASSIFIED") not in PRIORITIES:
            self.fail(where, f"priority {trig.get('priority')!r}")
        for expr_field in ("expression", "recovery_expression"):
            expr = trig.get(expr_field)
            if not expr:
                continue
            refs = ITEM_REF.findall(expr)
            if not refs:
                self.fail(where, f"{expr_field} names no item")
            for host, key in refs:
                if host != template:
                    self.fail(where, f"{expr_field} refers to {host!r}, not its own template")
                if key not in keys:
                    self.fail(where, f"{expr_field} refers to unknown item {key!r}")

    def template(self, tpl, groups):
        name = tpl.get("template", "?")
        where = f"template {name!r}"
        self.counts["templates"] += 1
        self.need(tpl, ["uuid", "template", "name", "groups"], where)
        self.uuid(tpl, where)
        for g in tpl.get("groups", []):
            if g.get("name") not in groups:
                self.fail(where, f"group {g.get('name')!r} is not in template_groups")
        macros = {}
        for m in tpl.get("macros", []):
            if not re.fullmatch(r"\{\$[A-Z0-9_.]+\}", m.get("macro", "")):
                self.fail(where, f"bad macro name {m.get('macro')!r}")
            if m.get("type", "TEXT") not in MACRO_TYPES:
                self.fail(where, f"macro {m.get('macro')} type {m.get('type')!r}")
            macros[m.get("macro")] = m
        valuemaps = set()
        for vm in tpl.get("valuemaps", []):
            self.uuid(vm, f"{where} valuemap {vm.get('name')!r}")
            valuemaps.add(vm.get("name"))

        items = tpl.get("items", [])
        item_keys = [i.get("key") for i in items]
        rules = tpl.get("discovery_rules", [])
        prototype_keys = [p.get("key") for r in rules for p in r.get("item_prototypes", [])]
        for dup in {k for k in item_keys + prototype_keys if (item_keys + prototype_keys).count(k) > 1}:
            self.fail(where, f"key {dup!r} defined twice")

        for it in items:
            at = f"{where} item {it.get('key')!r}"
            self.counts["items"] += 1
            self.item(it, at)
            master = (it.get("master_item") or {}).get("key")
            if master and master not in item_keys:
                self.fail(at, f"master item {master!r} does not exist")
            if it.get("valuemap") and it["valuemap"].get("name") not in valuemaps:
                self.fail(at, f"value map {it['valuemap'].get('name')!r} is not defined")
            if it.get("type") == "CALCULATED":
                for ref in re.findall(r"//([^,)]+)", it.get("params", "")):
                    if ref not in item_keys:
                        self.fail(at, f"formula refers to unknown item {ref!r}")
            for t in it.get("triggers", []):
                self.counts["triggers"] += 1
                self.trigger(t, f"{at} trigger {t.get('name')!r}", name, set(item_keys))
                refs = {k for _, k in ITEM_REF.findall(t.get("expression", ""))}
                if it.get("key") not in refs:
                    self.fail(at, f"trigger {t.get('name')!r} under this item does not use it")

        for rule in rules:
            at = f"{where} discovery rule {rule.get('key')!r}"
            self.counts["discovery rules"] += 1
            self.item(rule, at, DRULE_STEPS)
            if rule.get("type") == "DEPENDENT" and rule["master_item"]["key"] not in item_keys:
                self.fail(at, "master item does not exist")
            declared = set()
            for path in rule.get("lld_macro_paths", []):
                self.need(path, ["lld_macro", "path"], f"{at} lld_macro_path")
                if not LLD_MACRO.fullmatch(path.get("lld_macro", "")):
                    self.fail(at, f"bad LLD macro {path.get('lld_macro')!r}")
                declared.add(path.get("lld_macro"))
            keys_here = set(item_keys) | {p.get("key") for p in rule.get("item_prototypes", [])}
            for proto in rule.get("item_prototypes", []):
                pat = f"{at} prototype {proto.get('key')!r}"
                self.counts["item prototypes"] += 1
                self.item(proto, pat)
                used = set(LLD_MACRO.findall(proto.get("key", "")))
                if not used:
                    self.fail(pat, "an item prototype key must contain an LLD macro")
                for m in used | set(LLD_MACRO.findall(yaml.safe_dump(proto))):
                    if m not in declared:
                        self.fail(pat, f"LLD macro {m} is not produced by the rule")
                master = (proto.get("master_item") or {}).get("key")
                if master and master not in keys_here:
                    self.fail(pat, f"master item {master!r} does not exist")
                if proto.get("valuemap") and proto["valuemap"].get("name") not in valuemaps:
                    self.fail(pat, "value map is not defined")
                for t in proto.get("trigger_prototypes", []):
                    self.counts["triggers"] += 1
                    self.trigger(t, f"{pat} trigger {t.get('name')!r}", name, keys_here)
            for t in rule.get("trigger_prototypes", []):
                self.counts["triggers"] += 1
                self.trigger(t, f"{at} trigger {t.get('name')!r}", name, keys_here)
                if not LLD_MACRO.search(t.get("name", "")):
                    self.fail(at, f"trigger prototype {t.get('name')!r} name has no LLD macro (names would collide)")

        text = yaml.safe_dump(tpl)
        for used in set(USER_MACRO.findall(text)):
            base = used.split(":")[0].rstrip("}") + "}"
            if base not in macros:
                self.fail(where, f"user macro {used} is used but not defined")

    def media(self, mt):
        where = f"media type {mt.get('name')!r}"
        self.counts["media types"] += 1
        self.need(mt, ["name", "type"], where)
        if mt.get("type") != "WEBHOOK":
            self.fail(where, "expected a WEBHOOK")
        names = []
        for p in mt.get("parameters", []):
            self.need(p, ["name"], f"{where} parameter")
            if "value" not in p:
                self.fail(where, f"parameter {p.get('name')!r} has no value")
            names.append(p.get("name"))
        if len(set(names)) != len(names):
            self.fail(where, "duplicate parameter names")
        script = mt.get("script", "")
        for used in set(re.findall(r"\bp\.([a-z_]+)", script)):
            if used not in names:
                self.fail(where, f"script reads p.{used}, which is not a parameter")
        seen = set()
        for t in mt.get("message_templates", []):
            pair = (t.get("event_source"), t.get("operation_mode"))
            if pair[0] not in EVENT_SOURCES or pair[1] not in OPERATION_MODES:
                self.fail(where, f"message template {pair}")
            if pair in seen:
                self.fail(where, f"message template {pair} twice")
            seen.add(pair)
        if not re.fullmatch(r"\d+[smh]?", str(mt.get("timeout", "30s"))):
            self.fail(where, "timeout")


def uuids_anywhere(node, where=""):
    """Every (path, uuid) in an export, whatever object carries it."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "uuid":
                yield where, value
            else:
                yield from uuids_anywhere(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from uuids_anywhere(value, f"{where}[{i}]")


def as_v4(u):
    """The UUIDv4 closest to a 32-hex-digit uuid: the version digit set to 4, the variant
    digit to 8 + its two low bits; every other digit kept."""
    return u[:12] + "4" + u[13:16] + "89ab"[int(u[16], 16) & 3] + u[17:]


def fix_uuids(path):
    """Rewrites the non-v4 uuids of one file in place, line by line (nothing else moves)."""
    text = path.read_text()
    groups = {}
    for g in (yaml.safe_load(text).get("zabbix_export") or {}).get("template_groups", []):
        if g.get("name") in BUILTIN_GROUPS:
            groups[g.get("uuid")] = BUILTIN_GROUPS[g["name"]]

    def fixed(m):
        u = m.group(2)
        if u in groups:
            return m.group(1) + groups[u]
        if re.fullmatch(r"[0-9a-f]{32}", u) and not UUID.match(u):
            return m.group(1) + as_v4(u)
        return m.group(0)

    new = re.sub(r"^(\s*(?:- )?uuid: ['\"]?)([0-9A-Za-z]+)", fixed, text, flags=re.M)
    path.write_text(new)
    return sum(a != b for a, b in zip(text.splitlines(), new.splitlines()))


def load(path):
    with path.open() as f:
        doc = yaml.safe_load(f)
    export = doc.get("zabbix_export") or {}
    if str(export.get("version")) != "7.0":
        raise SystemExit(f"{path.name}: zabbix_export.version must be '7.0'")
    return export


def embedded(template_export, media_export):
    out = {}
    for tpl in template_export.get("templates", []):
        for it in tpl.get("items", []):
            if ("template", it.get("key")) in SCRIPTS:
                out[("template", it["key"])] = (it, "params")
    for mt in media_export.get("media_types", []):
        if ("media", mt.get("name")) in SCRIPTS:
            out[("media", mt["name"])] = (mt, "script")
    return out


def metrics(template_export):
    names = set()
    for tpl in template_export.get("templates", []):
        for step in re.findall(r"PROMETHEUS_PATTERN', 'parameters': \['([a-z_:][a-z0-9_:]*)", str(tpl)):
            names.add(step)
    return sorted(names)


def dump(path, doc, header):
    class Dumper(yaml.SafeDumper):
        def increase_indent(self, flow=False, indentless=False):
            return super().increase_indent(flow, False)

    def text(d, s):
        return d.represent_scalar("tag:yaml.org,2002:str", s, style="|" if "\n" in s else None)

    Dumper.add_representer(str, text)
    path.write_text(header + yaml.dump(doc, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=1000))


def self_test():
    """The uuid rule against uuids whose fate in Zabbix is known: its own group's is
    accepted; a name-based (version 5) one, as this folder once had, is refused."""
    assert UUID.match(BUILTIN_GROUPS["Templates/Applications"])
    for refused in ("2ed3ef43bbf85b2091a8b7472f92327a", "2ed3ef43bbf84b2001a8b7472f92327a",
                    "A571C0D144B14FD4A87A9D9B2AA9FCD6", "a571c0d1-44b1-4fd4-a87a-9d9b2aa9fcd6"):
        assert not UUID.match(refused), refused
    assert UUID.match(as_v4("2ed3ef43bbf85b2091a8b7472f92327a"))


def main():
    self_test()
    template_export, media_export = load(TEMPLATE), load(MEDIA)
    if "--metrics" in sys.argv[1:]:
        print("\n".join(metrics(template_export)))
        return 0
    if "--fix-uuids" in sys.argv[1:]:
        for path in (TEMPLATE, MEDIA):
            print(f"{path.name}: {fix_uuids(path)} uuids rewritten")
        return 0
    if "--sync" in sys.argv[1:]:
        for (kind, key), (obj, field) in embedded(template_export, media_export).items():
            obj[field] = SCRIPTS[(kind, key)].read_text()
        for path, export in ((TEMPLATE, template_export), (MEDIA, media_export)):
            header = "".join(l for l in path.read_text().splitlines(True) if l.startswith("#"))
            dump(path, {"zabbix_export": export}, header)
        print("scripts copied into the YAML files")
        return 0

    c = Checker()
    groups = set()
    for g in template_export.get("template_groups", []):
        c.uuid(g, f"template group {g.get('name')!r}")
        groups.add(g.get("name"))
        builtin = BUILTIN_GROUPS.get(g.get("name"))
        if builtin and g.get("uuid") != builtin:
            c.fail(f"template group {g.get('name')!r}", f"uuid must be Zabbix's own {builtin}")
    for tpl in template_export.get("templates", []):
        c.template(tpl, groups)
    for mt in media_export.get("media_types", []):
        c.media(mt)
    # Whatever object carries a uuid (graphs and dashboards included), Zabbix checks it:
    # those the checks above do not visit are checked here.
    for path, export in ((TEMPLATE, template_export), (MEDIA, media_export)):
        for where, u in uuids_anywhere(export):
            if u not in c.checked:
                c.uuid({"uuid": u}, f"{path.name} {where}")
    found = embedded(template_export, media_export)
    for ref, path in SCRIPTS.items():
        if ref not in found:
            c.fail(path.name, f"no {ref[0]} entry {ref[1]!r} embeds it")
        else:
            obj, field = found[ref]
            if obj[field] != path.read_text():
                c.fail(path.name, f"differs from the copy in the YAML (run {Path(__file__).name} --sync)")
    for p in c.problems:
        print(f"FAIL: {p}")
    summary = ", ".join(f"{n} {k}" for k, n in c.counts.items())
    if c.problems:
        print(f"zabbix: {len(c.problems)} problems ({summary})")
        return 1
    print(f"zabbix: OK ({summary}, {len(c.uuids)} unique UUIDs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
