"""The local example stack's whole life on the real engine and the devcloud, in order.

One stack (stacks/Pulumi.local.yaml with a unique name prefix and physical network, ICMP off at
first) is deployed once and shared by the ordered tests of this module: `up` and every resource
checked live; `preview` and `refresh` without changes; config changes that must touch only what
they concern (a controller host added and removed, a rule, an image version rolled out and back:
all but the rule with docs/runbook.md's own commands, read from it by testbed/runbook.py); the
runbook's certificate, drift and OpenStack-Ansible blocks on the same stack; `destroy` leaving
nothing behind. A failing step leaves the rest failing too
(they share the stack), so read the first failure first.
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest
import yaml

from testbed import runbook
from testbed.stacks import make_test_image, write_config
from testbed.live_cloud import (
    Expected,
    Step,
    check_deployment,
    connect,
    engine,
    leftovers,
    outputs,
    preview_steps,
    recorded_ids,
    stack_images,
    up_steps,
)

CIDR = "172.29.232.0/24"
COMPONENT = "octavia-infra:foundation:OctaviaFoundation"
# The local stack's service-project quotas: 10 load balancers + 25% = 13; ACTIVE_STANDBY, 2 amphorae
# each: 20 + 25% = 25. No Octavia quotas: load balancers belong to the tenants' projects.
LOCAL_QUOTAS = {
    "nova": {"instances": 25, "cores": 25, "ram": 25 * 1024, "server_groups": 13, "server_group_members": 3},
    # ports: 2 per amphora + 1 VIP per load balancer + 1 per health manager + 2 DHCP
    "neutron": {"port": 2 * 25 + 13 + 1 + 2, "security_group": 13 + 3, "security_group_rule": 26 + 3 * 13 + 20},
}


class Lifecycle:
    """The shared stack, what the cloud must hold, and what the tests learn on the way."""

    def __init__(self, stack, conn, service_project_id):
        self.stack, self.conn, self.service_project_id = stack, conn, service_project_id
        self.prefix = f"{stack.name}-"
        self.want = Expected(
            prefix=self.prefix,
            network_type="flat",
            physical_network=f"phys-{stack.name}",
            segmentation_id=None,
            cidr=CIDR,
            pools=[("172.29.232.50", "172.29.232.250")],
            dns_servers=[],
            hosts={"devcloud": "172.29.232.10"},
            amphora_rules={("tcp", 9443), ("tcp", 22)},
            health_manager_rules={("udp", 5555), ("udp", 10514), ("udp", 20514)},
            images={"test": True},
            quotas=LOCAL_QUOTAS,
            ssh_key=True,
        )
        self.outputs: dict = {}
        self.ids: dict[str, list[str]] = {}

    def check(self):
        self.outputs = outputs(self.stack.outputs())
        check_deployment(self.conn, self.outputs, self.want, self.service_project_id)
        for kind, ids in recorded_ids(self.outputs).items():
            self.ids.setdefault(kind, [])
            self.ids[kind] += [i for i in ids if i not in self.ids[kind]]


@pytest.fixture(scope="module")
def life(module_stacks, devcloud_env):
    stack = module_stacks.create("local", {"debug": False})
    conn = connect(devcloud_env)
    service = conn.identity.find_project("service", ignore_missing=False)
    yield Lifecycle(stack, conn, service.id)
    conn.close()


def port(host):
    return ("Port", f"octavia-health-manager-{host}")


def test_up_creates_every_resource_as_declared(life):
    steps, result = up_steps(life.stack)
    created = {(s.type, s.name) for s in steps if s.op == "create"}
    assert {s.op for s in steps} == {"create"}
    assert {
        ("Network", "octavia-mgmt-network"), ("Subnet", "octavia-mgmt-subnet"),
        ("SecGroup", "octavia-secgroups-amphora"), ("SecGroup", "octavia-secgroups-health-manager"),
        ("SecGroupRule", "octavia-secgroups-amphora-agent-api"), ("SecGroupRule", "octavia-secgroups-amphora-ssh"),
        ("SecGroupRule", "octavia-secgroups-health-manager-heartbeat"),
        ("SecGroupRule", "octavia-secgroups-health-manager-admin-log"),
        ("SecGroupRule", "octavia-secgroups-health-manager-tenant-log"),
        port("devcloud"), ("Flavor", "octavia-amp-flavor-flavor"),
        ("FlavorAccess", "octavia-amp-flavor-service-access"), ("Keypair", "octavia-ssh-keypair"),
        ("Image", "octavia-amp-image-test"),
        ("FlavorprofileV2", "octavia-octavia-flavors-single-profile"),
        ("FlavorprofileV2", "octavia-octavia-flavors-active-standby-profile"),
        ("FlavorV2", "octavia-octavia-flavors-single"), ("FlavorV2", "octavia-octavia-flavors-active-standby"),
        ("QuotaSetV2", "octavia-quotas-nova"), ("QuotaV2", "octavia-quotas-neutron"),
    } <= created
    assert not any(s.type == "Quota" for s in steps)  # no Octavia quotas on the service project
    assert not any(s.type == "SecGroupRule" and s.name.endswith("-icmp") for s in steps)  # debug is off
    assert result.summary.result == "succeeded"
    life.check()


def test_preview_and_refresh_find_no_changes(life):
    assert preview_steps(life.stack) == set()
    refreshed = engine(life.stack.refresh)
    assert set(refreshed.summary.resource_changes) == {"same"}, refreshed.summary.resource_changes
    assert preview_steps(life.stack) == set()  # what refresh read back agrees with the program


def runbook_steps(output: str) -> set[Step]:
    return {Step(*step) for step in runbook.steps(output)}


def test_adding_a_controller_creates_its_port_and_resizes_the_port_quota(life):
    # docs/runbook.md's commands, as written: config set, preview, up, the new list.
    _, preview, up, listed = runbook.run(life.stack, "controller-add", n="1", host="ctl2")
    expected = {Step("Port", "octavia-health-manager-ctl2", "create"), Step("QuotaV2", "octavia-quotas-neutron", "update")}
    assert runbook_steps(preview.output) == expected
    assert runbook_steps(up.output) == expected
    life.want.hosts["ctl2"] = None  # allocated from the pool
    life.want.quotas["neutron"]["port"] += 1
    life.check()
    assert len(re.findall(r"\d+\.\d+\.\d+\.\d+:5555", listed.output)) == 2, listed.output


def test_removing_a_controller_deletes_only_its_port(life):
    _, up, listed = runbook.run(life.stack, "controller-remove", n="1")
    assert runbook_steps(up.output) == {Step("Port", "octavia-health-manager-ctl2", "delete"),
                                        Step("QuotaV2", "octavia-quotas-neutron", "update")}
    del life.want.hosts["ctl2"]
    life.want.quotas["neutron"]["port"] -= 1
    life.check()
    assert re.findall(r"\d+\.\d+\.\d+\.\d+:5555", listed.output) == ["172.29.232.10:5555"], listed.output


def test_adding_a_security_group_rule_creates_only_that_rule(life):
    write_config(life.stack, {"debug": True})
    expected = {Step("SecGroupRule", "octavia-secgroups-amphora-icmp", "create")}
    assert preview_steps(life.stack) == expected
    steps, _ = up_steps(life.stack)
    assert steps == expected
    life.want.amphora_rules.add(("icmp", None))
    life.check()


def test_a_new_image_version_rotates_the_tag_and_deletes_the_old_image(life):
    work_dir = life.stack.workspace.work_dir
    make_test_image(Path(work_dir) / ".state" / "amphora-next.qcow2", size="96M")
    old_image_id = life.outputs["amp_image_id"]
    # amp_image_keep_previous is 0 on the local stack: the old version leaves Glance. docs/runbook.md's
    # commands, as written: two config sets appending the version, preview, up, the tagged images.
    ran = runbook.run(life.stack, "image-rollout", n="1", version="next", amp_image_tag=life.outputs["amp_image_tag"],
                      **{"file or URL": ".state/amphora-next.qcow2"})
    expected = {Step("Image", "octavia-amp-image-next", "create"), Step("Image", "octavia-amp-image-test", "delete")}
    assert runbook_steps(ran[2].output) == expected
    assert runbook_steps(ran[3].output) == expected
    life.want.images = {"next": True}
    life.check()
    assert life.outputs["amp_image_id"] != old_image_id
    assert life.conn.image.find_image(old_image_id, ignore_missing=True) is None
    assert f"{life.prefix}amphora-x64-haproxy-next" in ran[4].output and f"{life.prefix}amphora-x64-haproxy-test" not in ran[4].output


def test_rolling_back_the_image_tags_the_previous_version_again(life):
    ran = runbook.run(life.stack, "image-rollback", n="1", amp_image_tag=life.outputs["amp_image_tag"])
    assert runbook_steps(ran[1].output) == {Step("Image", "octavia-amp-image-test", "create"),
                                            Step("Image", "octavia-amp-image-next", "delete")}
    life.want.images = {"test": True}
    life.check()
    assert f"{life.prefix}amphora-x64-haproxy-test" in ran[2].output and f"{life.prefix}amphora-x64-haproxy-next" not in ran[2].output


def test_runbook_certificate_renewal_rehearsal(life):
    expires = datetime.datetime.fromisoformat(outputs(life.stack.outputs())["client_cert_expires_at"])
    inside_window = (expires - datetime.timedelta(days=10)).date().isoformat()
    preview, _ = runbook.run(life.stack, "cert-renewal-rehearsal", date=inside_window)
    replaced = [line.strip() for line in preview.output.splitlines() if "(replace)" in line]
    assert replaced == ["+-pulumi-python:dynamic/pki:ClientCertificate: (replace)"], preview.output
    pem = (runbook.operator_shell(life.stack)[0] / "client.cert-and-key.pem").read_text()
    assert "-----BEGIN CERTIFICATE-----" in pem and "PRIVATE KEY-----" in pem


def test_runbook_certificate_rotation_now(life):
    before = outputs(life.stack.outputs())
    runbook.run(life.stack, "cert-rotate-now")
    after = outputs(life.stack.outputs())
    assert after["client_cert"] != before["client_cert"]
    assert after["client_ca"] == before["client_ca"]  # same CA: amphorae need no failover


def test_runbook_objects_changed_by_hand(life):
    [port] = [p for p in life.conn.network.ports() if (p.name or "").startswith(life.prefix)]
    ran = runbook.run(life.stack, "drift", port=port.name)
    port_name = port.name  # openstacksdk objects change in place
    # preview --refresh and up: the port made again, nothing else (the service project's quotas
    # are every stack's: another one deployed meanwhile changes them, and this up sets them back)
    made_again = {Step("Port", "octavia-health-manager-devcloud", "create")}
    for shown in (ran[1].output, ran[3].output):
        assert {step for step in runbook_steps(shown) if "Quota" not in step.type} == made_again, shown
    [back] = [p for p in life.conn.network.ports() if (p.name or "").startswith(life.prefix)]
    assert back.id != port.id and back.name == port_name
    assert back.fixed_ips[0]["ip_address"] == port.fixed_ips[0]["ip_address"]
    life.check()


def test_runbook_openstack_ansible_hand_over(life, tmp_path):
    ran = runbook.run(life.stack, "osa-user-variables", openstack_deploy=str(tmp_path))
    variables = yaml.safe_load((tmp_path / "user_variables_octavia.yml").read_text())
    assert variables["octavia_neutron_management_network_uuid"] == outputs(life.stack.outputs())["mgmt_network_id"]
    assert ran[1].output.strip()  # the firewall rules to apply on each controller


def test_after_the_changes_preview_finds_nothing_to_do(life):
    assert preview_steps(life.stack) == set()


def test_destroy_leaves_nothing_in_the_cloud(life):
    assert life.ids, "the stack was never checked live: nothing to look for"
    result = engine(life.stack.destroy)
    assert result.summary.result == "succeeded"
    assert leftovers(life.conn, life.prefix, life.ids) == {}
    assert stack_images(life.conn, life.prefix) == {}
    assert life.stack.export_stack().deployment.get("resources", []) == []
