"""Secrets stay secret: after `up`, no private key, passphrase or heartbeat key in plaintext.

The local stack (SSH on with a Nova-generated key, the full PKI) is deployed; the secret values
are read back decrypted with `stack.outputs()`; then every place an operator or a CI log sees is
searched for them and for PEM private-key markers: `pulumi stack export` as the CLI runs it
(without --show-secrets), the state files on disk (history and backups included), the output of
`up` and of a `preview --diff` whose change touches the secret renderings, `pulumi stack output`
in text and JSON, and the engine's own log of a verbose preview.
"""

from __future__ import annotations

import re
from pathlib import Path

from pulumi import automation as auto

from testbed.devcloud_support import pulumi_cli

# Secret outputs and what of them must never appear: the value itself, or for PEM bundles the
# base64 lines of their private key blocks (the certificate part of client_cert is public).
SECRET_VALUES = (
    "amp_ssh_private_key", "ca_private_key", "ca_private_key_passphrase", "client_cert",
    "server_certs_key_passphrase", "heartbeat_key",
)
# Outputs that carry some of those values inside a larger rendering.
SECRET_RENDERINGS = ("octavia_conf", "openstack_ansible_user_variables")
PRIVATE_KEY_MARKER = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")


def fragments(value: str) -> list[str]:
    blocks = re.findall(r"-----BEGIN [A-Z ]*PRIVATE KEY-----\n(.*?)-----END", value, re.S)
    if not blocks:
        return [value]
    return [line for block in blocks for line in block.splitlines() if len(line) >= 16]


def assert_clean(where: str, text: str, secrets: dict[str, str]) -> None:
    assert not PRIVATE_KEY_MARKER.search(text), f"a PEM private key marker in {where}"
    assert "PRIVATE KEY" not in text, f"'PRIVATE KEY' in {where}"
    for name, value in secrets.items():
        for fragment in fragments(value):
            assert fragment not in text, f"{name} in plaintext in {where}"


def test_no_plaintext_secret_anywhere_an_operator_looks(stacks, tmp_path):
    stack = stacks.create("local")
    up = stack.up()
    outputs = stack.outputs()

    # The values to hunt for, decrypted, and each really is a Pulumi secret.
    secrets = {name: outputs[name].value for name in SECRET_VALUES}
    assert all(outputs[name].secret for name in SECRET_VALUES + SECRET_RENDERINGS)
    assert PRIVATE_KEY_MARKER.search(secrets["amp_ssh_private_key"]), "Nova generated no key?"
    assert PRIVATE_KEY_MARKER.search(secrets["ca_private_key"]) and PRIVATE_KEY_MARKER.search(secrets["client_cert"])
    assert all(len(secrets[name]) >= 16 for name in ("ca_private_key_passphrase", "heartbeat_key"))
    assert secrets["heartbeat_key"] in outputs["octavia_conf"].value  # the renderings carry them

    # A change that re-renders octavia.conf (its heartbeat port), so a diff is displayed.
    stack.set_config("octavia-infra:health_manager_port", auto.ConfigValue("5556"))
    preview = stack.preview(diff=True)
    assert "replace" in preview.change_summary and "5556" in preview.stdout

    verbose_log = tmp_path / "engine.log"
    verbose = pulumi_cli(stack, "preview", "--diff", "-v=9", "--logtostderr", check=False)
    verbose_log.write_text(verbose.stderr)
    assert verbose.returncode == 0, verbose.stderr[-2000:]

    seen = {
        "up output": up.stdout + up.stderr,
        "preview --diff output": preview.stdout + preview.stderr,
        "verbose preview (engine log, -v=9)": verbose.stdout + verbose.stderr,
        "pulumi stack export": pulumi_cli(stack, "stack", "export").stdout,
        "pulumi stack output": pulumi_cli(stack, "stack", "output").stdout,
        "pulumi stack output --json": pulumi_cli(stack, "stack", "output", "--json").stdout,
        "pulumi stack output heartbeat_key": pulumi_cli(stack, "stack", "output", "heartbeat_key").stdout,
    }
    assert "ciphertext" in seen["pulumi stack export"]
    assert "[secret]" in seen["pulumi stack output"]
    state_dir = Path(stack.workspace.env_vars["PULUMI_BACKEND_URL"].removeprefix("file://"))
    state_files = [path for path in state_dir.rglob("*") if path.is_file()]
    assert any(path.suffix == ".json" for path in state_files)
    for path in state_files:
        seen[f"state file {path.relative_to(state_dir)}"] = path.read_text(errors="replace")

    for where, text in seen.items():
        assert_clean(where, text, secrets)
