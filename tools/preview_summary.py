#!/usr/bin/env python3
"""Turn `pulumi preview --json` into a concise Markdown summary for a pull-request comment.

    pulumi preview --json --stack dev | python3 tools/preview_summary.py --title dev > summary.md
    python3 tools/preview_summary.py preview.json
    pulumi preview --json --save-plan plan.json --stack dev > preview.json
    python3 tools/preview_summary.py --title dev --plan plan.json preview.json

Counts creates, updates, replaces and deletes; lists each changed resource with the properties
that change; puts replacements and deletions first, marked, with a warning. Says why a certificate
is replaced (its renewal window reached, or its issuing CA rolling over) and flags a CA rollover
with what it means for running amphorae. Lists the images created and deleted. With the same
preview's plan (--plan; `preview --json` itself has no new stack outputs) it lists the stack
outputs that change, as the engine compared them (the plan's output diff of the root stack, secrets
encrypted by the stack's secrets provider): secret ones only as "changed (secret)". Secrets are never
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
# How the engine serialises a secret (plans, events): {SECRET_SIG_KEY: SECRET_SIG, "ciphertext": ...}.
SECRET_SIG_KEY, SECRET_SIG = "4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270"
IMAGE_TYPE = "openstack:images/image:Image"
CA_TYPE = "pulumi-python:dynamic/pki:CertificateAuthority"
CLIENT_CERT_TYPE = "pulumi-python:dynamic/pki:ClientCertificate"
ISSUER_INPUTS = ("issuer_certificate_pem", "issuer_private_key_pem", "issuer_private_key_passphrase")

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


def _number(value: Any) -> Any:
    """A number as the operator wrote it: the engine carries them as floats (2.0)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _ca_generations(step: dict) -> Optional[tuple[Any, Any]]:
    """(old, new) generation when the step is a CA rollover (generation going up), else None."""
    if _type_and_name(step.get("urn", ""))[0] != CA_TYPE:
        return None
    old = ((step.get("oldState") or {}).get("inputs") or {}).get("generation") or 1
    new = ((step.get("newState") or {}).get("inputs") or {}).get("generation") or 1
    try:
        return (_number(old), _number(new)) if float(new) > float(old) else None
    except (TypeError, ValueError):
        return None


def _ca_rollover(step: dict, generations: tuple[Any, Any]) -> str:
    """The flag of a CA rollover and what it means for running amphorae (as the CA's check warns)."""
    new = (step.get("newState") or {}).get("inputs") or {}
    key = new.get("config_key") or _type_and_name(step.get("urn", ""))[1]
    keep_until = new.get("keep_previous_until")
    if keep_until:
        meaning = (f"the previous CA is kept until keep_previous_until {str(keep_until)[:10]}: "
                   "fail over every amphora before then")
    elif "client" in key:
        meaning = ("no keep_previous_until: running amphorae stop trusting the controllers at once, "
                   "until each is failed over")
    elif "server" in key:
        meaning = ("no keep_previous_until: the controllers stop trusting running amphorae at once, "
                   "until each is failed over")
    else:
        meaning = "no keep_previous_until: running amphorae lose trust at once, until each is failed over"
    return f"⚠️ **CA rollover** (generation `{generations[0]}` → `{generations[1]}`): {meaning}"


def _replacement_reason(step: dict, rollovers: dict[str, tuple[Any, Any]]) -> Optional[str]:
    """Why a certificate is replaced when its inputs alone do not say it, or None."""
    if _type_and_name(step.get("urn", ""))[0] != CLIENT_CERT_TYPE:
        return None
    reasons = set(step.get("replaceReasons") or [])
    old = step.get("oldState") or {}
    new_inputs = (step.get("newState") or {}).get("inputs") or {}
    if "not_after" in reasons:
        expires = ((old.get("outputs") or {}).get("not_after") or (old.get("inputs") or {}).get("not_after") or "?")
        return (f"**renewal due**: the certificate expires `{expires}`, within renew_before_days "
                f"(`{_number(new_inputs.get('renew_before_days'))}` days) of now")
    if reasons & set(ISSUER_INPUTS):
        if rollovers:
            named = ", ".join(f"`{name}` generation `{old}` → `{new}`" for name, (old, new) in sorted(rollovers.items()))
            return f"**issuing CA rolls over** ({named}): reissued by the new CA"
        return "**issuing CA changes**: reissued"
    return None


def _describe(step: dict, kind: str, rollovers: Optional[dict[str, tuple[Any, Any]]] = None) -> list[str]:
    if kind in ("create", "delete"):
        return []
    described = []
    generations = _ca_generations(step)
    if generations:
        described.append(_ca_rollover(step, generations))
    if kind == "replace":
        reason = _replacement_reason(step, rollovers or {})
        if reason:
            described.append(reason)
    old = (step.get("oldState") or {}).get("inputs") or {}
    new = (step.get("newState") or {}).get("inputs") or {}
    secret_names = set((step.get("newState") or {}).get("additionalSecretOutputs") or [])
    secret_names |= set((step.get("oldState") or {}).get("additionalSecretOutputs") or [])
    replace_reasons = {key.split(".")[0] for key in step.get("replaceReasons") or []}
    replace_reasons |= {key.split(".")[0] for key, diff in (step.get("detailedDiff") or {}).items()
                        if str(diff.get("kind", "")).endswith("-replace")}
    for key in _changed_keys(step):
        text = f"{key}: {_shown(key, old.get(key), new.get(key), secret_names)}"
        described.append(f"**{text}** (forces replacement)" if key in replace_reasons else text)
    return described


def changes(preview: dict) -> list[Change]:
    """One Change per resource (the root stack left out), most significant kind first."""
    by_urn: dict[str, Change] = {}
    rollovers = {_type_and_name(step.get("urn", ""))[1]: generations
                 for step in preview.get("steps") or [] if (generations := _ca_generations(step))}
    for step in preview.get("steps") or []:
        kind = KIND.get(step.get("op", ""))
        urn = step.get("urn", "")
        resource_type, name = _type_and_name(urn)
        if kind is None or resource_type == ROOT_STACK_TYPE:
            continue
        current = by_urn.get(urn)
        if current is None or ORDER.index(kind) < ORDER.index(current.kind):
            properties = _describe(step, kind, rollovers) or (current.properties if current else [])
            by_urn[urn] = Change(name, resource_type, kind, properties)
    return sorted(by_urn.values(), key=lambda c: (ORDER.index(c.kind), c.type, c.name))


def images(preview: dict) -> list[str]:
    """The Glance images the preview creates and deletes (a replacement does both), as list items."""
    created, deleted = [], []
    for step in preview.get("steps") or []:
        op = step.get("op", "")
        resource_type, resource = _type_and_name(step.get("urn", ""))
        if resource_type != IMAGE_TYPE:
            continue  # imports adopt an image and discards forget one: neither uploads nor deletes
        old, new = step.get("oldState") or {}, step.get("newState") or {}
        old_name = (old.get("outputs") or {}).get("name") or (old.get("inputs") or {}).get("name") or resource
        new_name = (new.get("inputs") or {}).get("name") or resource
        if op in ("create", "replace", "create-replacement"):
            created.append(f"- ➕ created: `{_cell(str(new_name))}` (`{_cell(resource)}`)")
        if op in ("delete", "replace", "delete-replaced"):
            deleted.append(f"- ❌ deleted: `{_cell(str(old_name))}` (`{_cell(resource)}`)")
    return list(dict.fromkeys(created + deleted))


def _is_secret(value: Any) -> bool:
    return value == MASKED or (isinstance(value, dict) and value.get(SECRET_SIG_KEY) == SECRET_SIG)


def stack_outputs(preview: dict, plan: dict) -> Optional[tuple[dict, dict, set[str]]]:
    """(old outputs, new outputs, names of those that change) of the stack, or None if unknown.

    The old outputs are the root stack's in the preview JSON; what changes is the plan's output
    diff of the root stack (adds, deletes, updates), in which secrets are envelopes.
    """
    old = next(((step.get("oldState") or {}).get("outputs") or {} for step in preview.get("steps") or []
                if _type_and_name(step.get("urn", ""))[0] == ROOT_STACK_TYPE), {})
    for urn, resource_plan in (plan.get("resourcePlans") or {}).items():
        if _type_and_name(urn)[0] != ROOT_STACK_TYPE:
            continue
        diff = ((resource_plan or {}).get("goal") or {}).get("outputDiff")
        if diff is None:
            return None
        adds, updates, deletes = diff.get("adds") or {}, diff.get("updates") or {}, diff.get("deletes") or []
        new = {key: value for key, value in old.items() if key not in deletes}
        new.update(adds)
        new.update(updates)
        return old, new, set(adds) | set(updates) | set(deletes)
    return None


def output_changes(old: dict, new: dict, changed: Optional[set[str]] = None,
                   prefix: str = "") -> list[tuple[str, str]]:
    """(output, what changes) for each changed stack output (a dict's entries one by one); secrets
    are never shown, only "changed (secret)". `changed` (default: all) limits the names looked at."""
    lines = []
    for name in sorted(set(old) | set(new)):
        if changed is not None and name not in changed:
            continue
        key = prefix + str(name)
        before, after = old.get(name), new.get(name)
        secret = _is_secret(before) or _is_secret(after) or SECRET_NAME.search(key) or _contains_mask([before, after])
        if name not in new:
            text = "removed"
        elif secret:
            text = "added (secret)" if name not in old else "changed (secret)"
        elif before == after:
            continue
        elif after == UNKNOWN:
            text = f"`{_scalar(before)}` → (known after apply)" if name in old and _scalar(before) is not None \
                else "(known after apply)"
        elif name not in old:
            text = f"added: `{_scalar(after)}`" if _scalar(after) is not None else "added"
        elif isinstance(before, dict) and isinstance(after, dict):
            lines += output_changes(before, after, None, key + ".") or [(key, "changed")]
            continue
        else:
            text = _shown(key, before, after, set())
        lines.append((key, text))
    return lines


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
        lines.append(f"- **{severity}**: {_cell(message[:800])}")
    return lines


def render(preview: dict, title: Optional[str] = None, plan: Optional[dict] = None) -> str:
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
    image_lines = images(preview)
    if image_lines:
        lines += ["", "Images:", *image_lines]
    outputs = stack_outputs(preview, plan) if plan is not None else None
    if outputs is not None:
        changed_outputs = output_changes(*outputs)
        lines += ["", "Outputs:", *([f"- `{_cell(key)}`: {_cell(text)}" for key, text in changed_outputs]
                                    or ["- no changes"])]
    notes = diagnostics(preview)
    if notes:
        lines += ["", "Diagnostics:", *notes]
    return "\n".join(lines) + "\n"


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", nargs="?", help="preview JSON (default: standard input)")
    parser.add_argument("--title", help="shown in the heading, e.g. the stack name")
    parser.add_argument("--plan", help="the same preview's plan (pulumi preview --save-plan FILE): lists the stack "
                                       "outputs that change")
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
    plan = None
    if args.plan:
        try:
            with open(args.plan, encoding="utf-8") as plan_file:
                plan = json.load(plan_file)
        except (OSError, json.JSONDecodeError) as err:
            # No plan is written when the preview fails: its JSON's diagnostics say why.
            print(f"preview_summary: stack outputs not listed, no plan ({err})", file=sys.stderr)
        if plan is not None and stack_outputs(preview, plan) is None:
            print(f"preview_summary: stack outputs not listed, no output diff of the stack in {args.plan}",
                  file=sys.stderr)
    sys.stdout.write(render(preview, args.title, plan))
    return 0


if __name__ == "__main__":
    sys.exit(main())
