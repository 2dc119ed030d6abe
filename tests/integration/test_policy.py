"""The policy pack on the real engine: `pulumi preview --policy-pack policy` against the devcloud.

A local stack as shipped passes every policy; a production stack that forgets `protect` and, under
a policy config requiring 4096-bit RSA, keeps the 3072-bit client certificate is stopped with both
messages; a throwaway program with an SSH rule open to 0.0.0.0/0 and no keypair is stopped by the
open-rule and the SSH policies. A key the default bounds refuse (2048-bit RSA) stops at preview
with a config error, before any resource exists, not in the policy; an imported 2048-bit RSA CA
deploys with the policy pack and a warning from both.
"""

import datetime
import json
import subprocess
from pathlib import Path

from pulumi import automation as auto

from components import pki_crypto as crypto
from testbed import runbook
from testbed.stacks import connect, pki_stack, python_project, remove_pki_stack
from testbed.devcloud_support import cloud_objects, counts, prefix_of

ROOT = Path(__file__).resolve().parents[2]
LOCAL_TEST_IMAGE = ".state/amphora-test.qcow2"  # made by the stacks fixture in each project copy

POLICY_PACK = str(ROOT / "policy")


def preview_output(stack: auto.Stack, policy_config: Path | None = None, operation: str = "preview") -> tuple[bool, str]:
    """(succeeded, everything the CLI printed) of a preview (or up) with the pack and its config."""
    lines: list[str] = []
    configs = {"policy_pack_configs": [str(policy_config)]} if policy_config else {}
    try:
        getattr(stack, operation)(policy_packs=[POLICY_PACK], on_output=lines.append, **configs)
        return True, "\n".join(lines)
    except auto.errors.CommandError as err:
        return False, "\n".join(lines) + str(err)


def test_local_stack_passes_every_policy(stacks):
    stack = stacks.create("local")
    ok, output = preview_output(stack)
    assert ok, output
    assert "octavia-infra@v0.1.0" in output  # the pack really ran
    assert "mandatory" not in output.lower()


def test_production_stack_without_protection_and_with_weak_client_key_is_stopped(stacks, tmp_path):
    stack = stacks.create("prod", {
        "amp_images": [{"version": "prod", "source": LOCAL_TEST_IMAGE}],
        "protect": False,
    })
    # The default bounds are the settings validation's too; tightened ones are the policy's alone.
    strict = tmp_path / "policy-config.json"
    strict.write_text(json.dumps({"certificate-key-and-validity-bounds": {"min_rsa_bits": 4096}}))
    ok, output = preview_output(stack, strict)
    assert not ok, output
    assert "production-stacks-protect-network-and-pki" in output
    for what in ("management network is not protected", "management subnet is not protected",
                 "certificate authority is not protected"):
        assert what in output, output
    assert "certificate-key-and-validity-bounds" in output
    assert "rsa key of 3072 bits is below the minimum of 4096 (see" in output  # the client certificate's default


def test_a_key_the_policy_would_refuse_stops_at_preview_before_any_resource_exists(stacks):
    stack = stacks.create("local", {"pki": {"server_ca": {"key_type": "rsa", "key_size": 2048},
                                            "client_ca": {"key_type": "ec", "key_size": 256}}})
    refusal = ("config pki.server_ca.key_size=2048: rsa key of 2048 bits is below the minimum of 3072; "
               "for key_type rsa: one of 3072, 4096")
    for operation in ("preview", "up"):
        ok, output = preview_output(stack, operation=operation)
        assert not ok and refusal in output, output
        assert "certificate-key-and-validity-bounds" not in output  # the settings refused it, not the policy
    deployed = stack.export_stack().deployment.get("resources") or []
    assert [resource["type"] for resource in deployed if resource["type"] != "pulumi:pulumi:Stack"] == []
    assert not any(counts(cloud_objects(connect(stacks.env), prefix_of(stack))).values())


def test_an_imported_2048_bit_rsa_ca_deploys_with_the_policy_pack_and_a_warning(tmp_path):
    key = crypto.generate_private_key("rsa", 2048)
    certificate = crypto.build_ca_certificate(key, crypto.Subject("Brownfield server CA"), 3650,
                                              datetime.datetime.now(datetime.timezone.utc))
    existing = {"certificate_pem": crypto.certificate_pem(certificate), "private_key_pem": crypto.private_key_pem(key)}
    fast = {"key_type": "ec", "key_size": 256}
    stack = pki_stack(tmp_path, "policy-imported-ca")
    try:
        pki = {"server_ca": {"existing": existing}, "client_ca": fast, "client_cert": fast}
        stack.set_config("pki", auto.ConfigValue(json.dumps(pki), secret=True), path=False)
        ok, output = preview_output(stack, operation="up")
        assert ok, output
        assert stack.outputs()["ca_certificate"].value == existing["certificate_pem"]
        # the settings validation's warning, and the pack's advisory one
        assert "warning: pki.server_ca.existing: the imported CA's rsa key of 2048 bits is below the minimum of 3072" in output
        assert "imported-ca-key-below-generated-minimum" in output and "advisory" in output
        assert "imported CA octavia-pki-server-ca: rsa key of 2048 bits is below the minimum of 3072 for a generated CA" in output
        assert "mandatory" not in output
    finally:
        remove_pki_stack(stack)


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


def test_a_failed_make_up_ends_with_the_failing_resource_and_the_clouds_error(stacks):
    """Under the policy pack, a resource registered after a failure used to be reported last with
    `failed to run remediation: context canceled` (tools/failure_summary.py). Nova refuses the
    amphora flavor here: its name is taken."""
    stack = stacks.create("local", {"amp_flavor_name": "taken"})
    conn = connect(stacks.env)
    taken = conn.compute.create_flavor(name=f"{prefix_of(stack)}taken", ram=512, vcpus=1, disk=1, is_public=False)
    try:
        work_dir, env = runbook.operator_shell(stack)
        result = subprocess.run(["make", "--no-print-directory", "up", f"STACK={stack.name}"], cwd=work_dir, env=env,
                                capture_output=True, text=True, timeout=600)
    finally:
        conn.compute.delete_flavor(taken)
    assert result.returncode != 0, result.stdout
    assert "failed to run remediation" not in result.stdout + result.stderr
    assert "octavia-infra@v0.1.0" in result.stdout  # the pack ran
    last = [line for line in result.stdout.splitlines() if line.strip()][-2:]
    assert last[0] == "error: pulumi up failed at:", result.stdout
    assert last[1].startswith("  openstack:compute:Flavor (octavia-amp-flavor-flavor): Error creating"), last
    assert f"Flavor with name {prefix_of(stack)}taken already exists" in last[1] and "provider2.go" not in last[1]
