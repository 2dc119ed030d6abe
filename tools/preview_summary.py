#!/usr/bin/env python3
"""Turn `pulumi preview --json` into a concise Markdown summary for a pull-request comment.

    pulumi preview --json --stack dev | python3 tools/preview_summary.py --title dev > summary.md
    python3 tools/preview_summary.py preview.json

Counts creates, updates, replaces and deletes; lists each changed resource with the properties
that change; puts replacements and deletions first, marked, with a warning. Secrets are never
shown: values the CLI masked ("[secret]"), outputs the resource marks as secret and properties
whose names look secret (keys, passphrases, passwords, certificates with keys) appear as
"[secret]"; the preview's config block is not read at all. Standard library only, so it runs in
any CI. Exit status: 0 after a summary, 2 when the input is not preview JSON.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's "known after apply" sentinel
MASKED = "[secret]"
SECRET_NAME = re.compile(r"secret|passw|passphrase|private|token|credential|heartbeat|(^|_)key(_|$)|bundle", re.I)
MAX_VALUE = 60
ROOT_STACK_TYPE = "pulumi:pulumi:Stack"

# Step ops -> the four kinds the summary counts (others, e.g. read/refresh, are listed as is).
KIND = {
    "create": "create",
    "update": "update",
    "replace": "replace",
    "create-replacement": "replace",
    "delete-replaced": "replace",
    "discard-replaced": "replace",
    "delete": "delete",
    "discard": "delete",
    "import": "create",
    "import-replacement": "replace",
}
ORDER = ("delete", "replace", "update", "create")
LABEL = {"delete": "❌ **delete**", "replace": "🔁 **replace**", "update": "✏️ update", "create": "➕ create"}


@dataclass
class Change:
    name: str
    type: str
    kind: str
    properties: list[str] = field(default_factory=list)


def _type_and_name(urn: str) -> tuple[str, str]:
    parts = urn.split("::")
    return parts[-2].split("$")[-1], parts[-1]


def _scalar(value: Any) -> Optional[str]:
    if value == UNKNOWN:
        return "(known after apply)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith("-----BEGIN "):
        text = "PEM " + value.split("-----")[1].removeprefix("BEGIN ").lower()  # e.g. "PEM certificate"
    elif isinstance(value, (int, float, str)):
        text = str(value).replace("\n", " ")
    elif isinstance(value, list) and all(isinstance(item, (int, float, str, bool)) for item in value):
        text = json.dumps(value)
    else:
        return None
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def _contains_mask(value: Any) -> bool:
    if value == MASKED:
        return True
    if isinstance(value, dict):
        return any(_contains_mask(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_mask(v) for v in value)
    return False


def _shown(name: str, old: Any, new: Any, secret_names: set[str]) -> str:
    """`old → new` for plain scalars, a marker otherwise; never a secret's value."""
    if name in secret_names or SECRET_NAME.search(name) or _contains_mask(old) or _contains_mask(new):
        return MASKED
    old_text, new_text = _scalar(old), _scalar(new)
    if new is None and old is not None:
        return "removed"
    if old is None and new_text is not None:
        return f"`{new_text}`"
    if old_text is not None and new_text is not None:
        return f"`{old_text}` → `{new_text}`"
    return "changed"


def _changed_keys(step: dict) -> list[str]:
    """Top-level property names that change, from the step's diff or else from its inputs."""
    keys = list((step.get("detailedDiff") or {}).keys()) or list(step.get("diffReasons") or [])
    keys = [key.split(".")[0].split("[")[0] for key in keys]
    if not keys:
        old = (step.get("oldState") or {}).get("inputs") or {}
        new = (step.get("newState") or {}).get("inputs") or {}
        keys = [key for key in sorted(set(old) | set(new)) if not key.startswith("__") and old.get(key) != new.get(key)]
    return list(dict.fromkeys(keys))


def _describe(step: dict, kind: str) -> list[str]:
    if kind in ("create", "delete"):
        return []
    old = (step.get("oldState") or {}).get("inputs") or {}
    new = (step.get("newState") or {}).get("inputs") or {}
    secret_names = set((step.get("newState") or {}).get("additionalSecretOutputs") or [])
    secret_names |= set((step.get("oldState") or {}).get("additionalSecretOutputs") or [])
    replace_reasons = {key.split(".")[0] for key in step.get("replaceReasons") or []}
    replace_reasons |= {key.split(".")[0] for key, diff in (step.get("detailedDiff") or {}).items()
                        if str(diff.get("kind", "")).endswith("-replace")}
    described = []
    for key in _changed_keys(step):
        text = f"{key}: {_shown(key, old.get(key), new.get(key), secret_names)}"
        described.append(f"**{text}** (forces replacement)" if key in replace_reasons else text)
    return described


def changes(preview: dict) -> list[Change]:
    """One Change per resource (the root stack left out), most significant kind first."""
    by_urn: dict[str, Change] = {}
    for step in preview.get("steps") or []:
        kind = KIND.get(step.get("op", ""))
        urn = step.get("urn", "")
        resource_type, name = _type_and_name(urn)
        if kind is None or resource_type == ROOT_STACK_TYPE:
            continue
        current = by_urn.get(urn)
        if current is None or ORDER.index(kind) < ORDER.index(current.kind):
            properties = _describe(step, kind) or (current.properties if current else [])
            by_urn[urn] = Change(name, resource_type, kind, properties)
    return sorted(by_urn.values(), key=lambda c: (ORDER.index(c.kind), c.type, c.name))


def counts(found: Iterable[Change]) -> dict[str, int]:
    total = {kind: 0 for kind in ("create", "update", "replace", "delete")}
    for change in found:
        total[change.kind] += 1
    return total


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def diagnostics(preview: dict) -> list[str]:
    lines = []
    for item in preview.get("diagnostics") or []:
        severity = item.get("severity", "")
        if severity not in ("error", "warning"):
            continue
        message = " ".join(str(item.get("message", "")).split())
        lines.append(f"- **{severity}**: {_cell(message[:300])}")
    return lines


def render(preview: dict, title: Optional[str] = None) -> str:
    found = changes(preview)
    total = counts(found)
    # --json lists only the steps that do something; the engine's own tally has the rest.
    unchanged = (preview.get("changeSummary") or {}).get("same", 0)
    heading = f"### Pulumi preview{': ' + title if title else ''}"
    tally = (f"**{total['create']} to create · {total['update']} to update · "
             f"{total['replace']} to replace · {total['delete']} to delete** ({unchanged} unchanged)")
    lines = [heading, "", tally, ""]
    if not found:
        lines.append("No changes.")
    else:
        destructive = total["replace"] + total["delete"]
        if destructive:
            lines += ["> [!WARNING]",
                      f"> {total['replace']} replaced and {total['delete']} deleted: these resources are "
                      "destroyed (replacements are recreated). Check them before merging.", ""]
        lines += ["| Change | Resource | Type | What changes |", "| --- | --- | --- | --- |"]
        for change in found:
            what = "<br>".join(_cell(p) for p in change.properties) or ("" if change.kind in ("create", "delete") else "—")
            lines.append(f"| {LABEL[change.kind]} | `{_cell(change.name)}` | `{_cell(change.type)}` | {what} |")
    notes = diagnostics(preview)
    if notes:
        lines += ["", "Diagnostics:", *notes]
    return "\n".join(lines) + "\n"


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", nargs="?", help="preview JSON (default: standard input)")
    parser.add_argument("--title", help="shown in the heading, e.g. the stack name")
    args = parser.parse_args(argv)
    text = open(args.file, encoding="utf-8").read() if args.file else sys.stdin.read()
    try:
        preview = json.loads(text)
    except json.JSONDecodeError as err:
        print(f"preview_summary: not JSON from `pulumi preview --json` ({err})", file=sys.stderr)
        return 2
    if not isinstance(preview, dict) or "steps" not in preview:
        print("preview_summary: no 'steps' in the input: is it `pulumi preview --json` output?", file=sys.stderr)
        return 2
    sys.stdout.write(render(preview, args.title))
    return 0


if __name__ == "__main__":
    sys.exit(main())
