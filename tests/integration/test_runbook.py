"""docs/runbook.md's procedures, run as written against the devcloud on one deployed stack.

Each test runs one block of the runbook marked `<!-- runbook-test: <name> -->` through
testbed/runbook.py (commands read from the document, placeholders filled) and checks what the
runbook says the procedure does. The tests share one local stack (deployed once) and run in order.
Procedures run elsewhere, on stacks those modules deploy anyway: `failed-up` in test_faults.py,
`killed-pulumi` and `killed-pulumi-by-hand` in test_recovery.py, the controller and image blocks
in test_lifecycle.py; tests/unit/test_runbook_blocks.py checks that every marked block is run by
some test.
"""

from __future__ import annotations

import datetime

import pytest
import yaml

from testbed import runbook
from testbed.devcloud_support import cloud_objects, connect, prefix_of


@pytest.fixture(scope="module")
def stack(module_stacks):
    stack = module_stacks.create("local")
    stack.up()
    return stack


def outputs(stack) -> dict:
    return {name: value.value for name, value in stack.outputs().items()}


def test_cert_renewal_rehearsal(stack):
    expires = datetime.datetime.fromisoformat(outputs(stack)["client_cert_expires_at"])
    inside_window = (expires - datetime.timedelta(days=10)).date().isoformat()
    preview, written = runbook.run(stack, "cert-renewal-rehearsal", date=inside_window)
    replaced = [line.strip() for line in preview.output.splitlines() if "(replace)" in line]
    assert replaced == ["+-pulumi-python:dynamic/pki:ClientCertificate: (replace)"], preview.output
    pem = (runbook.operator_shell(stack)[0] / "client.cert-and-key.pem").read_text()
    assert "-----BEGIN CERTIFICATE-----" in pem and "PRIVATE KEY-----" in pem


def test_cert_rotate_now(stack):
    before = outputs(stack)
    runbook.run(stack, "cert-rotate-now")
    after = outputs(stack)
    assert after["client_cert"] != before["client_cert"]
    assert after["client_ca"] == before["client_ca"]  # same CA: amphorae need no failover


def test_drift(stack):
    conn = connect(stack.workspace.env_vars)
    [port] = cloud_objects(conn, prefix_of(stack))["ports"]
    ran = runbook.run(stack, "drift", port=port.name)
    assert "port" in ran[1].output.lower()  # the preview with --refresh shows the deleted port
    [back] = cloud_objects(conn, prefix_of(stack))["ports"]
    assert back.id != port.id and back.fixed_ips[0]["ip_address"] == port.fixed_ips[0]["ip_address"]


def test_osa_user_variables(stack, tmp_path):
    ran = runbook.run(stack, "osa-user-variables", openstack_deploy=str(tmp_path))
    variables = yaml.safe_load((tmp_path / "user_variables_octavia.yml").read_text())
    assert variables["octavia_neutron_management_network_uuid"] == outputs(stack)["mgmt_network_id"]
    assert ran[1].output.strip()  # the firewall rules to apply on each controller
