"""tools/preview_summary.py on fresh `pulumi preview --json` output of a devcloud stack.

One local stack is deployed once; each test changes its config, runs the real CLI's
`preview --json --save-plan` (as `make preview-md` does) and gives both to the command. With
OCTAVIA_CAPTURE_PREVIEW_FIXTURES=1 the previews are also written to tests/fixtures/preview/, and
their plans, cut to the root stack's (its output diff, secrets encrypted), to plans/ there (how
those fixtures were captured).
"""

import datetime
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from testbed.stacks import write_config

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "preview"
CAPTURE = os.environ.get("OCTAVIA_CAPTURE_PREVIEW_FIXTURES") == "1"


@pytest.fixture(scope="module")
def deployed(module_stacks):
    stack = module_stacks.create("local")
    stack.up()
    return stack


PLANS: dict[str, Path] = {}  # preview JSON text -> its plan


def preview_json(stack, fixture: str, **env: str) -> str:
    plan = Path(stack.workspace.work_dir) / f"{fixture}.plan.json"
    result = subprocess.run(["pulumi", "preview", "--json", "--stack", stack.name, "--save-plan", str(plan)],
                            cwd=stack.workspace.work_dir, env={**stack.workspace.env_vars, **env},
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    PLANS[result.stdout] = plan
    if CAPTURE:
        (FIXTURES / "plans").mkdir(parents=True, exist_ok=True)
        (FIXTURES / f"{fixture}.json").write_text(result.stdout)
        full = json.loads(plan.read_text())
        root = {urn: {"goal": resource["goal"]} for urn, resource in full["resourcePlans"].items()
                if "::pulumi:pulumi:Stack::" in urn}
        (FIXTURES / "plans" / f"{fixture}.json").write_text(json.dumps({"resourcePlans": root}, indent=2) + "\n")
    return result.stdout


def summarize(preview: str, title: str) -> str:
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "preview_summary.py"), "--title", title,
                             "--plan", str(PLANS[preview])],
                            input=preview, capture_output=True, text=True, check=True)
    return result.stdout


def tally(summary: str) -> tuple[int, ...]:
    match = re.search(r"(\d+) to create · (\d+) to update · (\d+) to replace · (\d+) to delete", summary)
    return tuple(int(n) for n in match.groups())


def test_no_change(deployed):
    summary = summarize(preview_json(deployed, "no-change"), deployed.name)
    assert tally(summary) == (0, 0, 0, 0)
    assert "No changes." in summary and f"Pulumi preview: {deployed.name}" in summary
    assert "Outputs:\n- no changes" in summary


def test_update(deployed):
    write_config(deployed, {"mgmt_dns_servers": ["172.29.232.2"]})
    try:
        summary = summarize(preview_json(deployed, "update"), deployed.name)
    finally:
        write_config(deployed, {"mgmt_dns_servers": []})
    assert tally(summary) == (0, 1, 0, 0)
    assert '| ✏️ update | `octavia-mgmt-subnet` | `openstack:networking/subnet:Subnet` | dnsNameservers: `[]` → `["172.29.232.2"]` |' in summary
    assert "[!WARNING]" not in summary


def test_replacement(deployed):
    write_config(deployed, {"amp_flavor_vcpus": 2})
    try:
        summary = summarize(preview_json(deployed, "replace"), deployed.name)
    finally:
        write_config(deployed, {"amp_flavor_vcpus": 1})
    creates, updates, replaces, deletes = tally(summary)
    assert replaces >= 1 and deletes == 0
    assert "**vcpus: `1` → `2`** (forces replacement)" in summary
    assert "[!WARNING]" in summary
    assert "| 🔁 **replace** | `octavia-amp-flavor-flavor` |" in summary


def test_deletion(deployed):
    write_config(deployed, {"debug": False})
    try:
        summary = summarize(preview_json(deployed, "delete"), deployed.name)
    finally:
        write_config(deployed, {"debug": True})
    assert tally(summary) == (0, 0, 0, 1)
    assert "| ❌ **delete** | `octavia-secgroups-amphora-icmp` |" in summary


def test_client_ca_rollover_shows_no_secret(deployed):
    """A client CA rollover reissues the client certificate from secret inputs: none is shown."""
    pki = {"server_ca": {"key_type": "ec", "key_size": 256}, "client_ca": {"key_type": "ec", "key_size": 256}}
    write_config(deployed, {"pki": {**pki, "client_ca": {**pki["client_ca"], "generation": 2}}})
    try:
        preview = preview_json(deployed, "pki-rollover")
    finally:
        write_config(deployed, {"pki": pki})
    summary = summarize(preview, deployed.name)
    assert "generation: `1` → `2`" in summary
    assert "**CA rollover** (generation `1` → `2`): no keep_previous_until: running amphorae stop trusting" in summary
    assert "**issuing CA rolls over** (`octavia-pki-client-ca` generation `1` → `2`)" in summary
    assert "- `client_cert`: changed (secret)" in summary
    assert "PRIVATE KEY" not in preview and "PRIVATE KEY" not in summary
    outputs = deployed.outputs()
    for name in ("ca_private_key", "ca_private_key_passphrase", "client_cert", "heartbeat_key",
                 "server_certs_key_passphrase"):
        assert outputs[name].secret
        assert outputs[name].value not in preview and outputs[name].value not in summary


def test_certificate_renewal_says_why(deployed):
    """With the PKI clock in the client certificate's renewal window, the preview replaces it and
    the summary says why; its outputs change (the certificate a secret, its expiry after apply)."""
    expires = datetime.datetime.fromisoformat(deployed.outputs()["client_cert_expires_at"].value)
    now = (expires - datetime.timedelta(days=1)).isoformat()
    summary = summarize(preview_json(deployed, "pki-renewal", OCTAVIA_PKI_NOW=now), deployed.name)
    assert tally(summary) == (0, 0, 1, 0)
    assert "| 🔁 **replace** | `octavia-pki-client-cert` |" in summary
    assert f"**renewal due**: the certificate expires `{expires.isoformat()}`" in summary
    assert "- `client_cert`: changed (secret)" in summary
    assert "- `client_cert_expires_at`: `" in summary and "→ (known after apply)" in summary
    assert "PRIVATE KEY" not in summary


def test_new_image_version_lists_the_images(deployed):
    """A new current image version: the new image is created, the previous one deleted."""
    images = [{"version": "test", "source": ".state/amphora-test.qcow2"},
              {"version": "test2", "source": ".state/amphora-test.qcow2"}]
    write_config(deployed, {"amp_images": images})
    try:
        preview = preview_json(deployed, "image-rotation")
    finally:
        write_config(deployed, {"amp_images": images[:1]})
    summary = summarize(preview, deployed.name)
    assert "Images:" in summary
    assert re.search(r"- ➕ created: `[^`]*test2[^`]*`", summary), summary
    assert re.search(r"- ❌ deleted: `[^`]*test[^2`]*`", summary), summary
    assert "- `amp_image_id`: " in summary
    json.loads(preview)  # the fixture is the engine's JSON as it came
