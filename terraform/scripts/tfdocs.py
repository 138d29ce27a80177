#!/usr/bin/env python3
"""Module conventions and README tables, offline (terraform-docs and tflint cannot be
installed here).

For every module under terraform/modules and every example under terraform/examples:
  * versions.tf exists and pins required_version (and the aws provider where it is used);
  * every variable has a type and a description, and a validation unless it is a bool;
  * every output has a description;
  * the README's tables between <!-- BEGIN_TF_DOCS --> and <!-- END_TF_DOCS --> list
    exactly the variables and outputs of the code.

`tfdocs.py --check` (CI) fails on any difference; `tfdocs.py --write` regenerates the
tables. Needs python-hcl2 (bc-python-hcl2, installed with checkov).
"""

import re
import sys
from pathlib import Path

import hcl2

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- BEGIN_TF_DOCS -->", "<!-- END_TF_DOCS -->"


def first(value):
    """bc-python-hcl2 wraps every attribute value in a list."""
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def strip_interp(text):
    text = str(text)
    return text[2:-1] if text.startswith("${") and text.endswith("}") else text


def load(module_dir):
    variables, outputs, blocks = {}, {}, {}
    for tf in sorted(module_dir.glob("*.tf")):
        with tf.open() as f:
            doc = hcl2.load(f)
        for entry in doc.get("variable", []):
            variables.update(entry)
        for entry in doc.get("output", []):
            outputs.update(entry)
        for key in ("terraform", "resource", "data", "module", "provider"):
            blocks.setdefault(key, []).extend(doc.get(key, []))
    return variables, outputs, blocks


def cell(text):
    return str(text).replace('\\"', '"').replace("|", "\\|").replace("\n", " ")


def render(variables, outputs):
    lines = ["## Inputs", "", "| Name | Type | Default | Description |", "|---|---|---|---|"]
    for name, v in variables.items():
        if "default" in v:
            default = first(v["default"])
            shown = "`null`" if default is None else f"`{cell(repr_hcl(default))}`"
        else:
            shown = "required"
        kind = strip_interp(first(v.get("type", "any")))
        lines.append(f"| `{name}` | `{cell(kind)}` | {shown} | {cell(first(v.get('description', '')))} |")
    lines += ["", "## Outputs", "", "| Name | Description |", "|---|---|"]
    for name, o in outputs.items():
        lines.append(f"| `{name}` | {cell(first(o.get('description', '')))} |")
    return "\n".join(lines)


def repr_hcl(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value + '"'
    if isinstance(value, list):
        return "[" + ", ".join(repr_hcl(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {repr_hcl(v)}" for k, v in value.items()) + "}"
    return str(value)


def conventions(module_dir, variables, outputs, blocks):
    problems = []
    rel = module_dir.relative_to(ROOT)
    if not (module_dir / "versions.tf").exists():
        problems.append(f"{rel}: no versions.tf")
    terraform = blocks.get("terraform", [])
    if not any("required_version" in t for t in terraform):
        problems.append(f"{rel}: terraform.required_version is not pinned")
    uses_aws = any(
        str(k).startswith("aws_")
        for kind in ("resource", "data")
        for entry in blocks.get(kind, [])
        for k in entry
    )
    if uses_aws:
        pinned = any(
            "aws" in first(rp)
            for t in terraform
            for rp in t.get("required_providers", [])
            if isinstance(first(rp), dict)
        )
        if not pinned:
            problems.append(f"{rel}: uses aws resources but does not pin the aws provider")
    for name, v in variables.items():
        if "type" not in v:
            problems.append(f"{rel}: variable {name} has no type")
        if not str(first(v.get("description", ""))).strip():
            problems.append(f"{rel}: variable {name} has no description")
        kind = strip_interp(first(v.get("type", "")))
        if kind != "bool" and not v.get("validation"):
            problems.append(f"{rel}: variable {name} has no validation")
    for name, o in outputs.items():
        if not str(first(o.get("description", ""))).strip():
            problems.append(f"{rel}: output {name} has no description")
    return problems


def main():
    write = "--write" in sys.argv[1:]
    dirs = sorted(p for p in (ROOT / "modules").iterdir() if p.is_dir())
    dirs += sorted(p for p in (ROOT / "examples").iterdir() if p.is_dir())
    problems = []
    for module_dir in dirs:
        variables, outputs, blocks = load(module_dir)
        problems += conventions(module_dir, variables, outputs, blocks)
        readme = module_dir / "README.md"
        rel = readme.relative_to(ROOT)
        if not readme.exists():
            problems.append(f"{rel}: missing")
            continue
        text = readme.read_text()
        if BEGIN not in text or END not in text:
            problems.append(f"{rel}: no {BEGIN} … {END} section")
            continue
        table = render(variables, outputs)
        pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
        wanted = pattern.sub(lambda _: f"{BEGIN}\n{table}\n{END}", text)
        if wanted != text:
            if write:
                readme.write_text(wanted)
                print(f"updated {rel}")
            else:
                problems.append(f"{rel}: inputs/outputs table is out of date (run terraform/scripts/tfdocs.py --write)")
    for p in problems:
        print(f"FAIL: {p}")
    checked = len(dirs)
    if problems:
        print(f"{checked} modules checked, {len(problems)} problems")
        return 1
    print(f"{checked} modules checked: versions pinned, every variable typed, described and validated, READMEs current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
