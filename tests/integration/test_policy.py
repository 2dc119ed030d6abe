"""The policy pack on the real engine: `pulumi preview --policy-pack policy` against the devcloud.

A local stack as shipped passes every policy; a production stack that forgets `protect` and asks
for a 2048-bit RSA client certificate is stopped with both messages; a throwaway program with an
SSH rule open to 0.0.0.0/0 and no keypair is stopped by the open-rule and the SSH policies.
"""

from pathlib import Path

from pulumi import automation as auto

from tests.conftest import python_project

ROOT = Path(__file__).resolve().parents[2]
LOCAL_TEST_IMAGE = ".state/amphora-test.qcow2"  # made by the stacks fixture in each project copy

POLICY_PACK = str(ROOT / "policy")


def preview_output(stack: auto.Stack) -> tuple[bool, str]:
    """(succeeded, everything the CLI printed)."""
    lines: list[str] = []
    try:
        stack.preview(policy_packs=[POLICY_PACK], on_output=lines.append)
        return True, "\n".join(lines)
    except auto.errors.CommandError as err:
        return False, "\n".join(lines) + str(err)


def test_local_stack_passes_every_policy(stacks):
    stack = stacks.create("local")
    ok, output = preview_output(stack)
    assert ok, output
    assert "octavia-infra@v0.1.0" in output  # the pack really ran
    assert "mandatory" not in output.lower()


def test_production_stack_without_protection_and_with_weak_client_key_is_stopped(stacks):
    stack = stacks.create("prod", {
        "amp_images": [{"version": "prod", "source": LOCAL_TEST_IMAGE}],
        "protect": False,
        "pki": {"client_cert": {"key_type": "rsa", "key_size": 2048}},
    })
    ok, output = preview_output(stack)
    assert not ok, output
    assert "production-stacks-protect-network-and-pki" in output
    for what in ("management network is not protected", "management subnet is not protected",
                 "certificate authority is not protected"):
        assert what in output, output
    assert "certificate-key-and-validity-bounds" in output
    assert "rsa key of 2048 bits is below the minimum of 3072" in output


OPEN_SSH_PROGRAM = """\
import pulumi_openstack as openstack

group = openstack.networking.SecGroup("policy-probe", name="{name}", delete_default_rules=False)
openstack.networking.SecGroupRule(
    "policy-probe-ssh", security_group_id=group.id, direction="ingress", ethertype="IPv4",
    protocol="tcp", port_range_min=22, port_range_max=22, remote_ip_prefix="0.0.0.0/0",
)
"""


def test_world_open_ssh_rule_is_stopped(stacks, tmp_path):
    work_dir = python_project(tmp_path / "probe", "policy-probe", OPEN_SSH_PROGRAM.format(name=f"probe-{tmp_path.name}"))
    options = auto.LocalWorkspaceOptions(
        work_dir=str(work_dir), env_vars=stacks.env,
        pulumi_command=auto.PulumiCommand(root=str(ROOT), skip_version_check=True),
    )
    stack = auto.create_stack("probe", work_dir=str(work_dir), opts=options)
    ok, output = preview_output(stack)
    assert not ok, output
    assert "mgmt-secgroup-rules-not-open-to-world" in output
    assert "is open to 0.0.0.0/0" in output
    assert "ssh-rule-only-when-ssh-enabled" in output
    assert "allows SSH (TCP 22) but SSH is not enabled" in output
