"""OctaviaPki on the real Pulumi engine (bin/pulumi and its Python dynamic provider plugin).

One stack in a local file backend walks the lifecycle: two ups leave everything unchanged, a
clock moved into the client certificate's renewal window makes preview show a replacement of
that certificate only and up perform it, a client CA rollover keeps the previous CA, and the
exported state holds no private key or secret in plaintext. The PKI needs no OpenStack.
"""

import datetime
import json
import os
import re
import subprocess

import pytest
from pulumi import automation as auto

from components import pki_crypto as crypto
from components.pki_provider import CLOCK_ENV
from tests.conftest import PKI_OUTPUTS, ROOT, pki_stack, remove_pki_stack

FAST_KEYS = {"key_type": "ec", "key_size": 256}
SECRET_OUTPUTS = PKI_OUTPUTS[:5]
OUTPUTS = PKI_OUTPUTS


@pytest.fixture
def stack(tmp_path):
    stack = pki_stack(tmp_path, "pki-engine-test")
    set_pki_config(stack, {"server_ca": FAST_KEYS, "client_ca": FAST_KEYS, "client_cert": FAST_KEYS})
    yield stack
    remove_pki_stack(stack)


def set_pki_config(stack, pki):
    stack.set_config("pki", auto.ConfigValue(json.dumps(pki)), path=False)


def outputs(result):
    return {name: output.value for name, output in result.outputs.items()}


def preview_steps(stack):
    """(operation, resource name) for every step that is not 'same', and the --diff text shown."""
    steps = []

    def record(event):
        pre = event.resource_pre_event
        if pre and pre.metadata.op != auto.OpType.SAME:
            steps.append((pre.metadata.op, pre.metadata.urn.split("::")[-1]))

    result = stack.preview(on_event=record, diff=True)
    return sorted(steps), result.stdout


def set_clock(stack, moment):
    stack.workspace.env_vars[CLOCK_ENV] = moment.isoformat()


def test_pki_lifecycle_on_the_engine(stack, tmp_path):
    first = stack.up()
    issued = outputs(first)
    assert first.summary.resource_changes == {"create": 7}  # stack, component, 5 dynamic resources
    assert set(SECRET_OUTPUTS) == {name for name, output in first.outputs.items() if output.secret}

    # The issued PKI works.
    ca_key = crypto.load_private_key(issued["ca_private_key"], issued["ca_private_key_passphrase"])
    assert crypto.key_matches_certificate(ca_key, crypto.load_certificate(issued["ca_certificate"]))
    client_certificate = crypto.load_certificate(issued["client_cert"])
    client_certificate.verify_directly_issued_by(crypto.load_certificate(issued["client_ca"]))
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", issued["server_certs_key_passphrase"])

    # A second up changes nothing.
    second = stack.up()
    assert second.summary.resource_changes == {"same": 7}
    assert outputs(second) == issued

    # Inside the client certificate's renewal window only that certificate is replaced.
    client_expiry = datetime.datetime.fromisoformat(issued["client_cert_expires_at"])
    set_clock(stack, client_expiry - datetime.timedelta(days=15))
    steps, shown = preview_steps(stack)
    assert {name for _, name in steps} == {"octavia-pki-client-cert"}
    assert auto.OpType.REPLACE in {op for op, _ in steps}
    assert "octavia-pki-client-cert" in shown
    assert_no_plaintext_secrets(shown, [issued])
    renewed = outputs(stack.up())
    changed = {name for name in OUTPUTS if renewed[name] != issued[name]}
    assert changed == {"client_cert", "client_cert_expires_at"}
    assert datetime.datetime.fromisoformat(renewed["client_cert_expires_at"]) > client_expiry
    assert stack.up().summary.resource_changes == {"same": 7}

    # A client CA rollover keeps the previous client CA trusted, and signing, until the date.
    keep_until = (client_expiry + datetime.timedelta(days=30)).date().isoformat()
    rollover = {**FAST_KEYS, "generation": 2, "keep_previous_until": keep_until}
    set_pki_config(stack, {"server_ca": FAST_KEYS, "client_ca": rollover, "client_cert": FAST_KEYS})
    rolled = stack.up()
    assert rolled.summary.resource_changes == {"update": 1, "same": 6}
    rolled_over = outputs(rolled)
    bundle = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n", rolled_over["client_ca"], re.S)
    assert len(bundle) == 2 and bundle[1] == issued["client_ca"]
    assert rolled_over["client_cert"] == renewed["client_cert"]  # still signed by the previous client CA
    assert rolled_over["ca_certificate"] == issued["ca_certificate"]

    # `pulumi stack export` (no --show-secrets) and every state file on disk, backups included.
    exported = pulumi_cli(stack, "stack", "export", "--stack", "test")
    assert "ciphertext" in exported
    for text in [exported] + [path.read_text() for path in (tmp_path / "state").rglob("*") if path.is_file()]:
        assert_no_plaintext_secrets(text, [issued, renewed, rolled_over])


def pulumi_cli(stack, *args):
    result = subprocess.run(
        [str(ROOT / "bin" / "pulumi"), *args], cwd=stack.workspace.work_dir,
        env={**os.environ, **stack.workspace.env_vars}, capture_output=True, text=True, check=True,
    )
    return result.stdout


def assert_no_plaintext_secrets(text, output_sets):
    assert "PRIVATE KEY" not in text
    for values in output_sets:
        for name in SECRET_OUTPUTS:
            for fragment in secret_fragments(values[name]):
                assert fragment not in text, f"part of {name} appears in plaintext in the state"


def secret_fragments(value):
    """The base64 lines of a value's private key blocks, or the whole value if it is not PEM."""
    if "-----BEGIN" not in value:
        return [value]
    blocks = re.findall(r"-----BEGIN [A-Z ]*PRIVATE KEY-----\n(.*?)-----END", value, re.S)
    return [line for block in blocks for line in block.splitlines()]
