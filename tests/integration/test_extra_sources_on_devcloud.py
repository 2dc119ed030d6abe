"""mgmt_extra_sources on the devcloud through the real engine (issue 17, item 3).

A local stack with one extra source: both security groups hold every rule from the management subnet
and from the extra source (read back from Neutron), a preview afterwards has no changes. Opening a
group to 0.0.0.0/0 takes the stack's mgmt_allowed_open_prefixes and the policy pack's
allowed_open_prefixes: without the first the preview stops at the settings validation, with only
the first the pack stops it, with both it passes (previews only: nothing open is ever created).
"""

import json
from pathlib import Path

from pulumi import automation as auto

from testbed.live_cloud import live_rules, outputs, preview_steps, up_steps
from testbed.stacks import ROOT, connect

EXTRA = "10.20.0.0/16"


def preview_output(stack: auto.Stack, policy_config: Path | None = None) -> tuple[bool, str]:
    """(succeeded, everything the CLI printed) of a preview with the policy pack and its config."""
    lines: list[str] = []
    configs = {"policy_pack_configs": [str(policy_config)]} if policy_config else {}
    try:
        stack.preview(policy_packs=[str(ROOT / "policy")], on_output=lines.append, **configs)
        return True, "\n".join(lines)
    except auto.errors.CommandError as err:
        return False, "\n".join(lines) + str(err)


def ingress(conn, group_id: str) -> set[tuple]:
    return {rule for rule in live_rules(conn, group_id) if rule[0] == "ingress"}


def test_extra_source_reaches_both_groups_and_converges(stacks):
    stack = stacks.create("local", {"mgmt_extra_sources": [EXTRA]})
    _, result = up_steps(stack)
    out = outputs(result)
    cidr = out["mgmt_subnet_cidr"]
    conn = connect(stacks.env)
    amphora = ingress(conn, out["amphora_secgroup_id"])
    health_manager = ingress(conn, out["health_manager_secgroup_id"])
    for rules, (protocol, port) in ((amphora, ("tcp", 9443)), (health_manager, ("udp", 5555))):
        assert ("ingress", "IPv4", protocol, port, port, cidr) in rules, rules
        assert ("ingress", "IPv4", protocol, port, port, EXTRA) in rules, rules
        # every rule from the subnet has its twin from the extra source, and nothing else is admitted
        assert {r[:5] for r in rules if r[5] == cidr} == {r[:5] for r in rules if r[5] == EXTRA}
        assert {r[5] for r in rules} == {cidr, EXTRA}
    assert preview_steps(stack) == set()


def test_an_open_source_needs_the_stack_and_the_policy_to_allow_it(stacks, tmp_path):
    stack = stacks.create("local", {"mgmt_extra_sources": ["0.0.0.0/0"]})
    ok, output = preview_output(stack)
    assert not ok and "config mgmt_extra_sources[0]='0.0.0.0/0'" in output, output
    assert "mgmt-secgroup-rules-not-open-to-world" not in output  # the settings refused it, not the pack

    stack = stacks.create("local", {"mgmt_extra_sources": ["0.0.0.0/0"], "mgmt_allowed_open_prefixes": ["0.0.0.0/0"]})
    ok, output = preview_output(stack)
    assert not ok, output
    assert "mgmt-secgroup-rules-not-open-to-world" in output
    assert "amphora-agent-api-from-0.0.0.0-0 is open to 0.0.0.0/0" in output, output

    allow = tmp_path / "policy-config.json"
    allow.write_text(json.dumps({"mgmt-secgroup-rules-not-open-to-world": {"allowed_open_prefixes": ["0.0.0.0/0"]}}))
    ok, output = preview_output(stack, allow)
    assert ok, output
    assert "mandatory" not in output.lower()
