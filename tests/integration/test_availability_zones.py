"""Octavia availability zones on the devcloud, through the real engine (issue 17, item 1).

The devcloud has two Nova zones, az1 and az2, one compute each. The stack declares two Octavia
availability zones: one on the stack's management network in az1, one with a network and subnet
of its own in az2. Octavia's API must hold both profiles with the right data; preview and refresh
then find nothing to change; a zone disabled by hand is drift that `up` repairs; a load balancer
created by a tenant in each zone gets its amphora in that zone's compute zone, on that zone's
management network (Octavia's own controller worker boots it); destroy leaves nothing.
The ordered tests share one stack: read the first failure first.
"""

from __future__ import annotations

import configparser
import ipaddress
import json
import uuid

import pytest

from devcloud import devcloud as dc
from testbed.live_cloud import connect, engine, outputs, preview_steps
from testbed.octavia_support import Tenant, amphora_servers, apply_stack, wait_active

MGMT_CIDR = "172.29.232.0/24"  # stacks/Pulumi.local.yaml
ZONE_CIDR = ipaddress.ip_network("172.29.240.0/24")
ZONE_NEXTHOP = "172.29.240.1"
COMPUTE_HOST = {zone: host for host, zone in dc.COMPUTE_ZONES.items()}


class Scene:
    def __init__(self, stack, admin, name):
        self.stack, self.admin, self.name = stack, admin, name
        self.zones = {"shared": f"{name}-az1", "own": f"{name}-az2"}  # Octavia zone names are global
        self.out: dict = {}
        self.tenant = None


@pytest.fixture(scope="module")
def scene(module_stacks, devcloud_env):
    name = f"local-{uuid.uuid4().hex[:6]}"
    zones = [
        {"name": f"{name}-az1", "compute_zone": "az1"},
        {"name": f"{name}-az2", "compute_zone": "az2", "subnet_cidr": str(ZONE_CIDR),
         "physical_network": f"phys-{name}-az2", "nexthop": ZONE_NEXTHOP,
         "allocation_pools": [{"start": "172.29.240.50", "end": "172.29.240.200"}]},
    ]
    stack = module_stacks.create("local", {
        "availability_zones": zones,
        "mgmt_host_routes": [{"destination": str(ZONE_CIDR), "nexthop": "172.29.232.1"}],
        "amp_availability_zone": "az1",
    }, name=name)
    admin = connect(devcloud_env)
    scene = Scene(stack, admin, name)
    try:
        yield scene
    finally:
        if scene.tenant:
            scene.tenant.delete()  # load balancers before the zones and networks they use
        admin.close()


def octavia_zone(admin, name):
    return admin.load_balancer.get(f"/lbaas/availabilityzones/{name}", raise_exc=False)


def test_up_declares_both_zones_in_octavia(scene):
    result = engine(scene.stack.up)
    assert result.summary.result == "succeeded"
    scene.out = out = outputs(scene.stack.outputs())
    zones = out["availability_zones"]
    assert set(zones) == set(scene.zones.values()), zones
    shared, own = zones[scene.zones["shared"]], zones[scene.zones["own"]]
    assert shared["management_network_id"] == out["mgmt_network_id"]
    assert own["management_network_id"] != out["mgmt_network_id"] and own["subnet_cidr"] == str(ZONE_CIDR)
    lb = scene.admin.load_balancer
    for name, zone in zones.items():
        profile = lb.get_availability_zone_profile(zone["profile_id"])
        assert profile.provider_name == "amphora"
        assert json.loads(profile.availability_zone_data) == {
            "compute_zone": zone["compute_zone"], "management_network": zone["management_network_id"]}
        found = octavia_zone(scene.admin, name).json()["availability_zone"]
        assert (found["availability_zone_profile_id"], found["enabled"]) == (zone["profile_id"], True)
    assert (shared["compute_zone"], own["compute_zone"]) == ("az1", "az2")


def test_the_zones_subnet_routes_amphorae_to_the_health_managers_and_rules_admit_it(scene):
    net = scene.admin.network
    own = scene.out["availability_zones"][scene.zones["own"]]
    subnet = net.get_subnet(own["subnet_id"])
    assert subnet.host_routes == [{"destination": MGMT_CIDR, "nexthop": ZONE_NEXTHOP}]
    assert subnet.allocation_pools == [{"start": "172.29.240.50", "end": "172.29.240.200"}]
    for group in ("amphora_secgroup_id", "health_manager_secgroup_id"):
        sources = {rule.remote_ip_prefix for rule in net.security_group_rules(security_group_id=scene.out[group])
                   if rule.direction == "ingress"}
        assert {MGMT_CIDR, str(ZONE_CIDR)} <= sources, (group, sources)
    conf = configparser.ConfigParser(interpolation=None)
    conf.read_string(scene.out["octavia_conf"])
    assert conf["nova"]["availability_zone"] == "az1"


def test_preview_and_refresh_find_nothing_to_change(scene):
    assert preview_steps(scene.stack) == set()  # steps that change something
    refreshed = engine(scene.stack.refresh)
    assert set(refreshed.summary.resource_changes) <= {"same"}, refreshed.summary.resource_changes


def test_a_zone_disabled_by_hand_is_drift_that_up_repairs(scene):
    name = scene.zones["own"]
    changed = scene.admin.load_balancer.put(
        f"/lbaas/availabilityzones/{name}", json={"availability_zone": {"enabled": False}})
    assert changed.status_code == 200, changed.text
    engine(scene.stack.refresh)
    steps = preview_steps(scene.stack)
    assert {(step.name, step.op) for step in steps} == {(f"octavia-azs-{name}", "update")}, steps
    engine(scene.stack.up)
    assert octavia_zone(scene.admin, name).json()["availability_zone"]["enabled"] is True


def test_a_loadbalancer_in_each_zone_lands_its_amphora_there(scene, devcloud_env):
    apply_stack(scene.stack)
    scene.tenant = tenant = Tenant(scene.admin, f"{dc.KEYSTONE_URL}/v3")
    lbs = tenant.conn.load_balancer
    created = {
        kind: lbs.create_load_balancer(
            name=f"{tenant.name}-{kind}", vip_subnet_id=tenant.subnet.id, availability_zone=scene.zones[kind],
            flavor_id=scene.out["octavia_flavor_ids"]["SINGLE"])
        for kind in scene.zones
    }
    for kind, lb in created.items():
        lb = wait_active(lambda lb=lb: lbs.get_load_balancer(lb.id), f"load balancer in {scene.zones[kind]}")
        zone = scene.out["availability_zones"][scene.zones[kind]]
        [amp] = amphora_servers(scene.admin, lb.id, zone["management_network_id"])
        assert amp.server.availability_zone == zone["compute_zone"]
        assert amp.server.compute_host == COMPUTE_HOST[zone["compute_zone"]]
        assert len(amp.mgmt_ports) == 1, amp.mgmt_ports  # its port is on the zone's network
        assert ipaddress.ip_address(amp.lb_network_ip) in ipaddress.ip_network(zone["subnet_cidr"])


def test_destroy_leaves_no_zone_profile_or_network(scene):
    scene.tenant.delete()
    scene.tenant = None
    engine(scene.stack.destroy)
    for name, zone in scene.out["availability_zones"].items():
        assert octavia_zone(scene.admin, name).status_code == 404
        assert scene.admin.load_balancer.get(
            f"/lbaas/availabilityzoneprofiles/{zone['profile_id']}", raise_exc=False).status_code == 404
        assert scene.admin.network.find_network(zone["management_network_id"]) is None
