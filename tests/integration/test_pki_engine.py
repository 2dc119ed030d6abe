"""OctaviaPki on the real Pulumi engine (bin/pulumi and its Python dynamic provider plugin).

One stack in a local file backend walks the lifecycle: two ups leave everything unchanged, a
clock moved into the client certificate's renewal window makes preview show a replacement of
that certificate only and up perform it, a client CA rollover keeps the previous CA, and the
exported state holds no private key or secret in plaintext. Another is refused a CA change made
without a generation bump (one line at preview, nothing changed) and warned what the rollover
means once generation is bumped; a server CA rollover without an overlap needs its acknowledgement,
and a new generation says so in its subject. The PKI clock (issue 16): a rehearsal with
OCTAVIA_PKI_NOW issues certificates valid now, a stored certificate that is not valid now stops
every preview in one line naming the fix, and a past keep_previous_until is refused. The PKI needs
no OpenStack.
"""

import datetime
import json
import os
import re
import subprocess
import tempfile

import pytest
from pulumi import automation as auto

from components import pki_crypto as crypto
from components.pki_provider import CLOCK_ENV
from testbed.stacks import PKI_OUTPUTS, ROOT, pki_stack, remove_pki_stack

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
    """(operation, resource name) for every step that is not 'same', and the --diff text shown
    (stdout and stderr).

    The default provider of the dynamic resources is left out: its inputs are the stack's config,
    which it records on every up, so it updates whenever the config changed (not counted in the
    summary, nor shown in the display).
    """
    steps = []

    def record(event):
        pre = event.resource_pre_event
        if pre and pre.metadata.op != auto.OpType.SAME and "::pulumi:providers:" not in pre.metadata.urn:
            steps.append((pre.metadata.op, pre.metadata.urn.split("::")[-1]))

    result = stack.preview(on_event=record, diff=True)
    return sorted(steps), result.stdout + result.stderr  # --diff prints diagnostics to stderr


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
    assert datetime.datetime.fromisoformat(renewed["client_cert_expires_at"]) > datetime.datetime.fromisoformat(issued["client_cert_expires_at"])
    assert_valid_now(renewed["client_cert"], renewed["client_ca"])  # issued at the real clock, not the rehearsed one
    del stack.workspace.env_vars[CLOCK_ENV]
    assert stack.up().summary.resource_changes == {"same": 7}

    # A client CA rollover keeps the previous client CA trusted, and signing, until the date.
    keep_until = (client_expiry + datetime.timedelta(days=30)).date().isoformat()
    rollover = {**FAST_KEYS, "generation": 2, "keep_previous_until": keep_until}
    set_pki_config(stack, {"server_ca": FAST_KEYS, "client_ca": rollover, "client_cert": FAST_KEYS})
    rolled = stack.up()
    assert rolled.summary.resource_changes == {"update": 1, "same": 6}
    assert f"warning: pki.client_ca: rollover, generation 1 -> 2: a new CA key and certificate replace the current one; " \
        f"the previous CA stays in client_ca and keeps signing the controllers' client_cert until keep_previous_until " \
        f"{keep_until} (inclusive)" in rolled.stdout
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


def pki_state(stack):
    """Inputs and outputs in state of every resource but the default provider (see preview_steps)."""
    return {
        resource["urn"]: (resource.get("inputs"), resource.get("outputs"))
        for resource in stack.export_stack().deployment["resources"] if "::pulumi:providers:" not in resource["urn"]
    }


def preview_failure(stack):
    """Everything a refused `pulumi preview` printed."""
    lines = []
    with pytest.raises(auto.errors.CommandError) as refused:
        stack.preview(on_output=lines.append)
    return "\n".join(lines) + str(refused.value)


def test_a_ca_change_needs_a_generation_bump_and_a_bump_says_rollover(stack):
    deployed = outputs(stack.up())

    # key_size changed, generation not: refused at preview in one line, and by up; nothing changes.
    set_pki_config(stack, {"server_ca": {**FAST_KEYS, "key_size": 384}, "client_ca": FAST_KEYS, "client_cert": FAST_KEYS})
    shown = preview_failure(stack)
    # Under Diagnostics (the progress display shows it after the resource's name too)
    [refusal] = {line.strip() for line in shown.splitlines() if line.strip().startswith("error:") and "problem" in line}
    assert refusal == (
        "error: pulumi-python:dynamic/pki:CertificateAuthority resource 'octavia-pki-server-ca' has a problem: "
        "pki.server_ca: key_size 256 -> 384 is a CA rollover, but generation is still 1: to roll over, set "
        "pki.server_ca.generation: 2 and pki.server_ca.keep_previous_until (the day every amphora will have been "
        "failed over), then fail the amphorae over (docs/pki.md, CA rollover); to keep this CA, undo the change"
    )
    assert "Traceback" not in shown
    state = pki_state(stack)
    with pytest.raises(auto.errors.CommandError):
        stack.up()
    assert pki_state(stack) == state
    assert {name: output.value for name, output in stack.outputs().items()} == deployed

    # A subject change is a rollover too.
    renamed = {**FAST_KEYS, "subject": {"common_name": "Renamed client CA"}}
    set_pki_config(stack, {"server_ca": FAST_KEYS, "client_ca": renamed, "client_cert": FAST_KEYS})
    assert "pki.client_ca: subject.common_name 'Octavia controller client CA' -> 'Renamed client CA' is a CA rollover" \
        in preview_failure(stack)

    # generation bumped without keep_previous_until: the controllers would drop every running
    # amphora at once, so the server CA rollover is refused until that is acknowledged.
    bumped = {**FAST_KEYS, "key_size": 384, "generation": 2}
    set_pki_config(stack, {"server_ca": bumped, "client_ca": FAST_KEYS, "client_cert": FAST_KEYS})
    shown = preview_failure(stack)
    [refusal] = {line.strip() for line in shown.splitlines() if line.strip().startswith("error:") and "problem" in line}
    assert refusal == (
        "error: pulumi-python:dynamic/pki:CertificateAuthority resource 'octavia-pki-server-ca' has a problem: "
        "pki.server_ca: rollover, generation 1 -> 2, without keep_previous_until: the controllers stop trusting running "
        "amphorae at once (server_ca will hold only the new CA, which signed none of their certificates) until each "
        "amphora is failed over. Either set pki.server_ca.keep_previous_until to the day every amphora will have been "
        "failed over, or accept the outage with pki.server_ca.rollover_without_overlap: true (docs/pki.md, CA rollover)"
    )
    assert pki_state(stack) == state

    # Acknowledged: the preview shows the update of that CA only, and says what it breaks.
    set_pki_config(stack, {"server_ca": {**bumped, "rollover_without_overlap": True}, "client_ca": FAST_KEYS,
                           "client_cert": FAST_KEYS})
    steps, shown = preview_steps(stack)
    assert steps == [(auto.OpType.UPDATE, "octavia-pki-server-ca")]
    assert "warning: pki.server_ca: rollover, generation 1 -> 2 (key_size 256 -> 384): a new CA key and certificate " \
        "replace the current one; keep_previous_until is not set (or past), so the controllers stop trusting running " \
        "amphorae at once (server_ca will hold only the new CA, which signed none of their certificates) until each " \
        "amphora is failed over (acknowledged by pki.server_ca.rollover_without_overlap)" in shown

    rolled = outputs(stack.up())
    assert rolled["ca_certificate"] != deployed["ca_certificate"] and rolled["server_ca"] == rolled["ca_certificate"]
    # The new generation says so in its subject; generation 1 kept the configured one.
    assert subject(deployed["ca_certificate"]) == "CN=Octavia amphora server CA"
    assert subject(rolled["ca_certificate"]) == "CN=Octavia amphora server CA G2"

    # Left in place, the acknowledgement is reported; removed, the next preview is quiet again.
    steps, shown = preview_steps(stack)
    assert steps == [] and "pki.server_ca.rollover_without_overlap is true but no rollover is under way" in shown
    set_pki_config(stack, {"server_ca": bumped, "client_ca": FAST_KEYS, "client_cert": FAST_KEYS})
    steps, shown = preview_steps(stack)
    assert steps == [] and "rollover" not in shown


def subject(pem):
    return crypto.load_certificate(pem).subject.rfc4514_string()


def assert_valid_now(certificate_pem, ca_bundle_pem):
    """openssl (the real clock) verifies the certificate against the bundle; notBefore is not in the future."""
    certificate = crypto.load_certificate(certificate_pem)
    assert certificate.not_valid_before_utc <= datetime.datetime.now(datetime.timezone.utc)
    with tempfile.TemporaryDirectory() as directory:
        bundle, leaf = os.path.join(directory, "ca.pem"), os.path.join(directory, "leaf.pem")
        with open(bundle, "w") as file:
            file.write(ca_bundle_pem)
        with open(leaf, "w") as file:
            file.write(crypto.certificate_pem(certificate))
        verified = subprocess.run(["openssl", "verify", "-CAfile", bundle, leaf], capture_output=True, text=True)
    assert verified.returncode == 0 and verified.stdout.strip().endswith(": OK"), verified.stdout + verified.stderr


def test_a_rehearsal_of_a_future_date_issues_certificates_valid_now(stack):
    """Issue 16: `OCTAVIA_PKI_NOW=2028-11-01 pulumi up` stored a client certificate not valid before 2028."""
    set_clock(stack, datetime.datetime(2028, 11, 1, tzinfo=datetime.timezone.utc))
    issued = outputs(stack.up())
    assert_valid_now(issued["client_cert"], issued["client_ca"])
    for ca in ("ca_certificate", "client_ca"):
        assert_valid_now(issued[ca], issued[ca])  # self-signed: valid now as well

    # Back at the real clock nothing is due and nothing is stopped.
    del stack.workspace.env_vars[CLOCK_ENV]
    steps, _ = preview_steps(stack)
    assert steps == []


def test_a_stored_certificate_not_valid_now_stops_every_preview_until_replaced(stack):
    """A client certificate as the previous release stored it after a rehearsal: not valid before 2028."""
    deployed = outputs(stack.up())
    state = stack.export_stack()
    [client] = [r for r in state.deployment["resources"] if r["urn"].endswith("::octavia-pki-client-cert")]
    key = crypto.generate_private_key("ec", 256)
    in_2028 = datetime.datetime(2028, 11, 1, tzinfo=datetime.timezone.utc)
    future = crypto.build_client_certificate(
        key, crypto.Subject("octavia-controller"), 730, crypto.load_certificate(deployed["client_ca"]), key, in_2028)
    client["outputs"]["certificate_pem"] = crypto.certificate_pem(future)
    stack.import_stack(state)

    shown = preview_failure(stack)
    # Under Diagnostics (the progress display shows it after the stack's name too)
    [stopped] = {line.strip() for line in shown.splitlines() if line.strip().startswith("error: pki:")}
    assert stopped == (
        "error: pki: the client certificate (octavia-pki-client-cert) is not valid until 2028-10-31T23:00:00+00:00 "
        f"(now {stopped.split('(now ')[1].split(')')[0]}): issue it again with `pulumi up --replace '{client['urn']}'`"
    )
    assert "Traceback" not in shown
    with pytest.raises(auto.errors.CommandError):
        stack.up()

    # The fix the message names.
    repaired = outputs(stack.up(replace=[client["urn"]]))
    assert_valid_now(repaired["client_cert"], repaired["client_ca"])
    steps, _ = preview_steps(stack)
    assert steps == []


def test_a_past_keep_previous_until_is_refused_at_preview(stack):
    stack.up()
    yesterday = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)).date()
    set_pki_config(stack, {"server_ca": FAST_KEYS, "client_ca": {**FAST_KEYS, "keep_previous_until": yesterday.isoformat()},
                           "client_cert": FAST_KEYS})
    shown = preview_failure(stack)
    [refused] = {line.strip() for line in shown.splitlines() if line.strip().startswith("error: config pki.")}
    today = yesterday + datetime.timedelta(days=1)
    assert refused == (
        f"error: config pki.client_ca.keep_previous_until='{yesterday.isoformat()}': is past (today is {today.isoformat()}): "
        "the rollover overlap is over; remove the key pki.client_ca.keep_previous_until from the stack file, and the next up "
        "drops the previous CA from client_ca and reissues client_cert from the new client CA (docs/pki.md, CA rollover)"
    )
    assert "Traceback" not in shown


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
