"""Adopting a management network made elsewhere (OpenStack-Ansible, kolla-ansible), on the real engine.

A subnet that is not what the config says stops preview and up before anything is declared; the
right one is used as is (no network, subnet or host route created), and destroy leaves it in place.
"""

from __future__ import annotations

import uuid

import pytest
from pulumi import automation as auto

from testbed.devcloud_support import cloud_objects, connect, prefix_of
from testbed.stacks import engine, write_config

CIDR = "172.29.232.0/24"


@pytest.fixture
def existing_network(devcloud_env):
    """A flat network and subnet as a deployment tool leaves them, in the service project."""
    conn = connect(devcloud_env, "devcloud-service")
    name = f"adopted-{uuid.uuid4().hex[:6]}"
    network = conn.network.create_network(name=name, provider_network_type="flat", provider_physical_network=f"phys-{name}")
    subnet = conn.network.create_subnet(name=name, network_id=network.id, cidr=CIDR, ip_version=4,
                                        allocation_pools=[{"start": "172.29.232.50", "end": "172.29.232.250"}])
    yield conn, network, subnet
    for port in conn.network.ports(network_id=network.id):
        conn.network.delete_port(port)
    conn.network.delete_network(network)  # its subnet goes with it


def test_adopted_subnet_is_checked_then_used_and_kept(stacks, existing_network):
    conn, network, subnet = existing_network
    stack = stacks.create("local", {"mgmt_network_id": network.id, "mgmt_subnet_id": subnet.id,
                                    "mgmt_subnet_cidr": "172.29.0.0/16"})
    for operation in (stack.preview, stack.up):
        with pytest.raises(auto.errors.CommandError) as failed:
            operation()
        text = str(failed.value)
        assert "config mgmt_subnet_cidr='172.29.0.0/16': the adopted subnet's CIDR, 172.29.232.0/24" in text
        assert "Traceback" not in text
    state = {r["type"] for r in stack.export_stack().deployment.get("resources") or []}
    assert state <= {"pulumi:pulumi:Stack", "pulumi:providers:openstack"}  # the provider the lookup used
    assert not any(cloud_objects(conn, prefix_of(stack)).values())

    write_config(stack, {"mgmt_subnet_cidr": CIDR})
    out = {k: v.value for k, v in engine(stack.up).outputs.items()}
    assert (out["mgmt_network_id"], out["mgmt_subnet_id"]) == (network.id, subnet.id)
    made = cloud_objects(conn, prefix_of(stack))
    assert not made["networks"] and not made["subnets"]
    assert [ip["subnet_id"] for port in made["ports"] for ip in port.fixed_ips] == [subnet.id]
    rules = conn.network.security_group_rules(security_group_id=out["amphora_secgroup_id"], direction="ingress")
    assert {r.remote_ip_prefix for r in rules} == {CIDR}

    engine(stack.destroy)
    assert conn.network.get_subnet(subnet.id).network_id == network.id
    assert not list(conn.network.ports(network_id=network.id))


def test_fixed_ips_are_checked_against_the_adopted_subnets_own_pools(stacks, existing_network):
    """The pools come from the subnet as Neutron has it (172.29.232.50-250), not from the config."""
    _, network, subnet = existing_network
    adopt = {"mgmt_network_id": network.id, "mgmt_subnet_id": subnet.id, "mgmt_subnet_cidr": CIDR,
             "mgmt_allocation_pools": [], "expected_loadbalancers": 10}
    stack = stacks.create("local", {**adopt, "health_managers": [{"host": "devcloud", "ip": "172.29.232.21"}]})
    engine(stack.preview)  # outside the subnet's pool: valid although inside "the whole subnet"

    write_config(stack, {"health_managers": [{"host": "devcloud", "ip": "172.29.232.60"}]})
    with pytest.raises(auto.errors.CommandError) as failed:
        stack.preview()
    assert ("config health_managers[0].ip='172.29.232.60': a fixed IP outside the allocation pools "
            "172.29.232.50-172.29.232.250") in str(failed.value)
