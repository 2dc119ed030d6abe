"""Drift: objects deleted or changed by hand, outside Pulumi, are reported and put back.

A deployed local stack is changed with openstacksdk as an operator would by hand: a security
group rule and a health-manager port deleted, the management network renamed. `pulumi refresh`
(previewed first) reports exactly those three, `pulumi up` puts them back, and the cloud is as
declared again with nothing left to do.
"""

from __future__ import annotations

from pulumi import automation as auto

from testbed.devcloud_support import cloud_objects, connect, prefix_of

AGENT_PORT = 9443
HM_HOST_IP = "172.29.232.10"  # stacks/Pulumi.local.yaml: devcloud=172.29.232.10
SUBNET = "172.29.232.0/24"
URN_TAIL = {  # the resources the hand changes touch, by their Pulumi names
    "network": "octavia-mgmt-network",
    "rule": "octavia-secgroups-amphora-agent-api",
    "port": "octavia-health-manager-devcloud",
}


def steps_of(operation, **kwargs) -> tuple[set, object]:
    """(set of (op, resource name) other than same/read/refresh, result) of a stack operation."""
    steps = set()

    def record(event: auto.EngineEvent):
        pre = event.resource_pre_event
        if pre and pre.metadata.op not in (auto.OpType.SAME, auto.OpType.READ, auto.OpType.REFRESH):
            steps.add((pre.metadata.op, pre.metadata.urn.split("::")[-1]))

    result = operation(on_event=record, **kwargs)
    return steps, result


def changed_lines(shown: str) -> set:
    """(marker, resource name) of the lines of a refresh's output that report a change."""
    reported = set()
    for line in shown.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] in ("~", "-", "+") and ":" in parts[1]:
            reported.add((parts[0], parts[2]))
    return reported


def agent_rules(conn, group_id: str) -> list:
    return [
        r for r in conn.network.security_group_rules(security_group_id=group_id)
        if r.direction == "ingress" and r.port_range_min == AGENT_PORT and r.remote_ip_prefix == SUBNET
    ]


def test_hand_changes_are_reported_by_refresh_and_undone_by_up(stacks):
    stack = stacks.create("local")
    stack.up()
    conn = connect(stack.workspace.env_vars)
    prefix = prefix_of(stack)
    before = cloud_objects(conn, prefix)
    network, port = before["networks"][0], before["ports"][0]
    network_name, port_name = network.name, port.name  # openstacksdk updates objects in place
    amphora_group = next(g for g in before["security_groups"] if g.name == f"{prefix}lb-mgmt-sec-grp")
    assert port.name.endswith("devcloud-listen-port")

    # By hand: delete the agent API rule and the health-manager port, rename the network.
    (rule,) = agent_rules(conn, amphora_group.id)
    conn.network.delete_security_group_rule(rule)
    conn.network.delete_port(port)
    conn.network.update_network(network, name="renamed-by-hand")

    # refresh reports those three, previewed first, then done (the root stack resource is
    # reported as updated too, as it is on every refresh that changes something).
    expected = {("~", URN_TAIL["network"]), ("-", URN_TAIL["rule"]), ("-", URN_TAIL["port"])}
    previewed = stack.preview_refresh()
    refreshed = stack.refresh()
    for shown, summary in ((previewed.stdout, previewed.change_summary),
                           (refreshed.stdout, refreshed.summary.resource_changes)):
        reported = changed_lines(shown)
        print("refresh reported:", sorted(reported), summary)
        assert expected <= reported, shown
        assert {name for mark, name in reported if mark == "-"} == {URN_TAIL["rule"], URN_TAIL["port"]}
        assert summary.get("delete") == 2

    # up puts them back: the rule and the port created anew, the network's name restored.
    applied, up = steps_of(stack.up)
    # Quotas belong to the service project, which every stack on the devcloud shares: another
    # stack deployed meanwhile (another test run) changes them, and this up sets them back.
    applied = {(op, name) for op, name in applied if not name.startswith("octavia-quotas-")}
    assert applied == {
        (auto.OpType.UPDATE, URN_TAIL["network"]),
        (auto.OpType.CREATE, URN_TAIL["rule"]),
        (auto.OpType.CREATE, URN_TAIL["port"]),
    }
    assert up.summary.result == "succeeded"

    after = cloud_objects(conn, prefix)
    assert conn.network.get_network(network.id).name == network_name  # same network, declared name
    assert [n.id for n in after["networks"]] == [network.id]
    assert len(agent_rules(conn, amphora_group.id)) == 1
    (new_port,) = after["ports"]
    assert new_port.name == port_name and [ip["ip_address"] for ip in new_port.fixed_ips] == [HM_HOST_IP]
    assert stack.outputs()["health_manager_ports"].value == {"devcloud": new_port.id}
    assert set(stack.preview().change_summary) == {"same"}
