"""The dev and prod example stacks deployed side by side on the devcloud, then torn down.

Each keeps its example config except what the devcloud needs (docs/configuration.md, "Environments"):
local image files instead of the artifact server, VLAN ids free on the devcloud instead of 2101
and 3101 (other stacks may hold those), `protect: false` for prod so the test can destroy it, EC
keys for speed; the stack factory gives each a unique name prefix. Every object of each stack is
checked live, neither stack sees a change after the other deployed, destroying one leaves the
other intact, and nothing is left at the end.

The one thing two stacks of one service project share is its quotas, so exactly one stack manages
them: here prod, sized for its load; dev runs with `manage_quotas: false`. Neither stack then sees
a change from the other's `up`, refresh included.
"""

from __future__ import annotations

import random

import pytest

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
)

FAST_PKI = {"server_ca": {"key_type": "ec", "key_size": 256}, "client_ca": {"key_type": "ec", "key_size": 256}}


def quotas(loadbalancers: int, amphorae: int, health_managers: int) -> dict:
    """Service-project quotas of an ACTIVE_STANDBY stack with anti-affinity and 2 listeners per LB.

    No Octavia quotas: load balancers belong to the tenants' projects.
    """
    listeners = 2 * loadbalancers
    return {
        "nova": {"instances": amphorae, "cores": amphorae, "ram": 1024 * amphorae,
                 "server_groups": loadbalancers, "server_group_members": 3},
        "neutron": {"port": 2 * amphorae + loadbalancers + health_managers + 2,
                    "security_group": loadbalancers + 3,
                    "security_group_rule": listeners + 3 * loadbalancers + 20},
    }


def free_vlan_ids(conn, count: int) -> list[int]:
    """VLAN ids on physical network lbaas that no network of the devcloud uses."""
    used = {n.provider_segmentation_id for n in conn.network.networks()
            if n.provider_network_type == "vlan" and n.provider_physical_network == "lbaas"}
    return random.sample(sorted(set(range(2000, 4095)) - used), count)


@pytest.fixture
def conn(devcloud_env):
    connection = connect(devcloud_env)
    yield connection
    connection.close()


def test_dev_and_prod_side_by_side(stacks, conn):
    service_project_id = conn.identity.find_project("service", ignore_missing=False).id
    dev_vlan, prod_vlan = free_vlan_ids(conn, 2)
    dev = stacks.create("dev", {
        "mgmt_segmentation_id": dev_vlan, "amp_images": [{"version": "dev", "source": ".state/amphora-test.qcow2"}],
        "pki": FAST_PKI,
        "manage_quotas": False,  # prod owns the shared service project's quotas
    })
    prod = stacks.create("prod", {
        "mgmt_segmentation_id": prod_vlan, "protect": False, "pki": FAST_PKI,
        # both versions of the example, from local files: the older one is kept untagged
        "amp_images": [{"version": "2024.2-20250301", "source": ".state/amphora-test.qcow2"},
                       {"version": "2025.1-20250915", "source": ".state/amphora-test.qcow2"}],
    })
    dev_want = Expected(
        prefix=f"{dev.name}-", network_type="vlan", physical_network="lbaas", segmentation_id=dev_vlan,
        cidr="172.30.0.0/22", pools=[("172.30.0.20", "172.30.3.240")], dns_servers=["172.30.0.2"],
        hosts={"dev-ctl1": None, "dev-ctl2": None},
        amphora_rules={("tcp", 9443), ("tcp", 22), ("icmp", None)}, health_manager_rules={("udp", 5555)},
        images={"dev": True}, ssh_key=True, tag="dev-octavia-amphora-image",  # the dev example's own tag
        quotas=None,  # left to prod
    )
    prod_want = Expected(
        prefix=f"{prod.name}-", network_type="vlan", physical_network="lbaas", segmentation_id=prod_vlan, mtu=1500,
        cidr="172.29.232.0/22", pools=[("172.29.232.100", "172.29.235.250")],
        dns_servers=["172.29.232.2", "172.29.232.3"],
        hosts={"ctl1": "172.29.232.11", "ctl2": "172.29.232.12", "ctl3": "172.29.232.13"},
        amphora_rules={("tcp", 9443)}, health_manager_rules={("udp", 5555), ("udp", 10514), ("udp", 20514)},
        images={"2024.2-20250301": False, "2025.1-20250915": True}, ssh_key=False,
        quotas=quotas(loadbalancers=375, amphorae=750, health_managers=3),  # 300 LBs + 25%; 600 amphorae + 25%
    )

    engine(dev.up)
    dev_out = outputs(dev.outputs())
    check_deployment(conn, dev_out, dev_want, service_project_id)
    engine(prod.up)
    prod_out = outputs(prod.outputs())
    check_deployment(conn, prod_out, prod_want, service_project_id)

    # Nothing of dev changed under prod: its objects as they were, previews and refreshes empty.
    check_deployment(conn, dev_out, dev_want, service_project_id)
    assert preview_steps(dev) == preview_steps(prod) == set()
    assert refresh_steps(dev) == refresh_steps(prod) == set()

    # Destroying dev leaves prod whole.
    dev_ids = recorded_ids(dev_out)
    assert engine(dev.destroy).summary.result == "succeeded"
    assert leftovers(conn, dev_want.prefix, dev_ids) == {}
    check_deployment(conn, prod_out, prod_want, service_project_id)
    assert preview_steps(prod) == set()

    prod_ids = recorded_ids(prod_out)
    assert engine(prod.destroy).summary.result == "succeeded"
    assert leftovers(conn, prod_want.prefix, prod_ids) == {}


def refresh_steps(stack) -> set[Step]:
    """What `refresh` found changed in the cloud, as Step rows (ops of the refresh's outputs events)."""
    changed = set()

    def record(event):
        done = event.res_outputs_event
        if done and done.metadata.op == "refresh" and done.metadata.diffs:
            meta = done.metadata
            changed.add(Step(meta.type.rsplit(":", 1)[-1], meta.urn.split("::")[-1], "update"))

    engine(stack.refresh, on_event=record)
    return changed
