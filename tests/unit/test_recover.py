"""tools/recover.py's decisions for the pending creates a killed `pulumi` leaves (the engine run:
tests/integration/test_recovery.py)."""

import os
import socket

from tools.recover import Found, apply_plan, plan_recovery, stale_lock_holders

PREFIX = "urn:pulumi:dev::octavia-infra::octavia-infra:foundation:OctaviaFoundation$"
IMAGE = PREFIX + "octavia-infra:image:AmphoraImages$openstack:images/image:Image::octavia-amp-image-v2"
NETWORK = PREFIX + "octavia-infra:network:ManagementNetwork$openstack:networking/network:Network::octavia-mgmt-network"
QUOTA = PREFIX + "octavia-infra:quotas:ServiceQuotas$openstack:networking/quotaV2:QuotaV2::octavia-quotas-neutron"
ROUTE = PREFIX + "octavia-infra:network:ManagementNetwork$openstack:networking/subnetRoute:SubnetRoute::octavia-route"


def creating(urn, name=None, **extra):
    kind = urn.split("$")[-1].split("::")[0]
    return {"type": "creating", "resource": {"urn": urn, "type": kind, "custom": True, "inputs": {"name": name}, **extra}}


def deployment(*ops, resources=()):
    return {"resources": list(resources), "pending_operations": list(ops)}


def test_complete_object_adopted_duplicates_and_incomplete_deleted_known_ignored():
    cloud = {
        "openstack:images/image:Image": [Found("old", True, "image old (active)"), Found("cut", False, "image cut (queued)"),
                                         Found("new", True, "image new (active)"), Found("dup", True, "image dup (active)")],
        "openstack:networking/network:Network": [],
    }
    state = deployment(creating(IMAGE, "x-image-v2"), creating(NETWORK, "x-net"),
                       {"type": "updating", "resource": {"urn": QUOTA}}, resources=[{"urn": "u", "id": "old"}])
    plan = plan_recovery(state, lambda kind, inputs: cloud[kind])
    assert plan.adopt == {IMAGE: "new"}  # "old" is in the state already (the image it replaces)
    assert [(i, why) for _, i, why in plan.delete] == [("cut", "incomplete"), ("dup", "duplicate")]
    assert plan.clear == [(NETWORK, "not adopted")]
    after = apply_plan(state, plan)
    assert after["resources"][-1]["id"] == "new" and after["resources"][-1]["urn"] == IMAGE
    assert [op["type"] for op in after["pending_operations"]] == ["updating"]  # left to the refresh


def test_only_incomplete_image_is_deleted_and_the_record_dropped():
    plan = plan_recovery(deployment(creating(IMAGE, "i")), lambda k, i: [Found("cut", False, "image cut (saving)")])
    assert not plan.adopt and plan.delete == [("openstack:images/image:Image", "cut", "incomplete")]
    assert plan.clear == [(IMAGE, "not adopted")]
    assert apply_plan(deployment(creating(IMAGE, "i")), plan)["pending_operations"] == []


def test_kinds_without_an_object_are_dropped_and_unknown_kinds_flagged():
    plan = plan_recovery(deployment(creating(QUOTA), creating(ROUTE)), lambda kind, inputs: None)
    assert plan.clear == [(QUOTA, "nothing of its own in the cloud; the next up makes it"), (ROUTE, "not looked up")]
    assert any(line.startswith("openstack:networking/subnetRoute:SubnetRoute octavia-route: NOT CHECKED")
               for line in plan.lines), plan.lines


def test_lock_released_only_for_a_dead_process_of_this_host():
    here = socket.gethostname()
    dead = 2 ** 22 + 12345  # above the default pid_max
    message = "error: the stack is currently locked by 1 lock(s). ...\n  file:///s/x.json: created by root@{host} (pid {pid}) at 2026"
    assert stale_lock_holders(message.format(host=here, pid=dead)) == [f"root@{here} pid {dead}"]
    assert stale_lock_holders(message.format(host=here, pid=os.getpid())) is None  # still running
    assert stale_lock_holders(message.format(host="elsewhere", pid=dead)) is None  # cannot tell
    assert stale_lock_holders("error: something else") is None
