"""tools/preview_summary.py on fresh `pulumi preview --json` output of a devcloud stack.

One local stack is deployed once; each test changes its config, runs the real CLI's
`preview --json` and pipes it through the command. With OCTAVIA_CAPTURE_PREVIEW_FIXTURES=1 the
previews are also written to tests/fixtures/preview/ (how those fixtures were captured).
"""

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


def preview_json(stack, fixture: str) -> str:
    result = subprocess.run(["pulumi", "preview", "--json", "--stack", stack.name], cwd=stack.workspace.work_dir,
                            env=stack.workspace.env_vars, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    if CAPTURE:
        FIXTURES.mkdir(parents=True, exist_ok=True)
        (FIXTURES / f"{fixture}.json").write_text(result.stdout)
    return result.stdout


def summarize(preview: str, title: str) -> str:
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "preview_summary.py"), "--title", title],
                            input=preview, capture_output=True, text=True, check=True)
    return result.stdout


def tally(summary: str) -> tuple[int, ...]:
    match = re.search(r"(\d+) to create · (\d+) to update · (\d+) to replace · (\d+) to delete", summary)
    return tuple(int(n) for n in match.groups())


def test_no_change(deployed):
    summary = summarize(preview_json(deployed, "no-change"), deployed.name)
    assert tally(summary) == (0, 0, 0, 0)
    assert "No changes." in summary and f"Pulumi preview: {deployed.name}" in summary


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
    assert "PRIVATE KEY" not in preview and "PRIVATE KEY" not in summary
    outputs = deployed.outputs()
    for name in ("ca_private_key", "ca_private_key_passphrase", "client_cert", "heartbeat_key",
                 "server_certs_key_passphrase"):
        assert outputs[name].secret
        assert outputs[name].value not in preview and outputs[name].value not in summary
