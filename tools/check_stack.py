"""Check a stack file for what Pulumi's own config check would report without a hint: values in
the string forms used before config was structured, and misspelt or removed keys.

Pulumi type-checks a stack's config against Pulumi.yaml before the program runs, so a value such
as `health_manager_hosts: ["ctl1=172.29.232.11"]` or `amp_images: ["v1=file.qcow2"]` stops there
with a bare "must be of type 'array<object>'", and a misspelt required key as "missing
configuration value". This reads the file first and names every such value with its rewrite, and
every unknown key with a "did you mean", one line each, exit 1. `make preview` and `make up` run it.

    python -m tools.check_stack stacks/Pulumi.<env>.yaml
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from config.schema import load_schema
from config.settings import old_form_errors, unknown_key_errors

NAMESPACE = "octavia-infra:"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tools.check_stack stacks/Pulumi.<env>.yaml", file=sys.stderr)
        return 2
    path = Path(argv[0])
    if not path.exists():  # a stack without a file has nothing written in the old forms
        return 0
    try:
        config = (yaml.safe_load(path.read_text()) or {}).get("config") or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        print(f"{path}: not valid YAML{where}: {getattr(error, 'problem', None) or error}", file=sys.stderr)
        return 1
    ours = {key[len(NAMESPACE):]: value for key, value in config.items() if key.startswith(NAMESPACE)}
    errors = old_form_errors(ours) + unknown_key_errors(ours, load_schema())
    for error in errors:
        print(f"{path}: {error}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
