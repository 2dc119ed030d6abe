"""docs/runbook.md's procedures, run as written against the devcloud on one deployed stack.

Each test runs one block of the runbook marked `<!-- runbook-test: <name> -->` through
testbed/runbook.py (commands read from the document, placeholders filled) and checks what the
runbook says the procedure does. The tests share one local stack (deployed once) and run in order.
Procedures run elsewhere: `failed-up` in test_faults.py, `killed-pulumi` in test_recovery.py;
tests/unit/test_runbook_blocks.py checks that every marked block is run by some test.
"""

from __future__ import annotations

import datetime
import re

import pytest
import yaml

from testbed import runbook
from testbed.devcloud_support import cloud_objects, connect, prefix_of
from testbed.stacks import make_test_image


@pytest.fixture(scope="module")
def stack(module_stacks):
    stack = module_stacks.create("local")
    stack.up()
    return stack


def outputs(stack) -> dict:
    return {name: value.value for name, value in stack.outputs().items()}


def tagged_images(stack, listing: str) -> list[tuple[str, str]]:
    """(name, status) of this stack's images in an `openstack image list --long` table."""
    rows = []
    for line in listing.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) > 2 and cells[1].startswith(prefix_of(stack)):
            rows.append((cells[1], next(c for c in cells if c in ("active", "queued", "saving", "importing"))))
    return rows


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


def test_image_rollout(stack):
    before = outputs(stack)
    make_test_image(runbook.operator_shell(stack)[0] / ".state" / "amphora-v2.qcow2")
    ran = runbook.run(stack, "image-rollout", n="1", version="v2", **{"file or URL": ".state/amphora-v2.qcow2",
                                                                       "amp_image_tag": before["amp_image_tag"]})
    assert tagged_images(stack, ran[-1].output) == [(f"{prefix_of(stack)}amphora-x64-haproxy-v2", "active")]
    assert outputs(stack)["amp_image_id"] != before["amp_image_id"]


def test_image_rollback(stack):
    ran = runbook.run(stack, "image-rollback", n="1", amp_image_tag=outputs(stack)["amp_image_tag"])
    assert tagged_images(stack, ran[-1].output) == [(f"{prefix_of(stack)}amphora-x64-haproxy-test", "active")]


def test_controller_add(stack):
    ran = runbook.run(stack, "controller-add", n="1", host="ctl2")
    assert len(re.findall(r"\d+\.\d+\.\d+\.\d+:5555", ran[-1].output)) == 2, ran[-1].output
    ports = cloud_objects(connect(stack.workspace.env_vars), prefix_of(stack))["ports"]
    assert len(ports) == 2 and any("ctl2" in port.name for port in ports)


def test_controller_remove(stack):
    ran = runbook.run(stack, "controller-remove", n="1")
    assert re.findall(r"\d+\.\d+\.\d+\.\d+:5555", ran[-1].output) == ["172.29.232.10:5555"], ran[-1].output
    ports = cloud_objects(connect(stack.workspace.env_vars), prefix_of(stack))["ports"]
    assert [port.name for port in ports] and not any("ctl2" in port.name for port in ports)


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
