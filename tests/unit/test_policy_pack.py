"""Each policy of policy/ with a violating and a compliant resource, through the Policy objects'
validate functions with constructed pulumi-policy arguments (the engine run is
tests/integration/test_policy.py)."""

import datetime
import sys
from pathlib import Path

import pytest
import yaml
from pulumi_policy import PolicyResource, PolicyResourceOptions, ResourceValidationArgs, StackValidationArgs

POLICY_DIR = Path(__file__).resolve().parents[2] / "policy"
sys.path.insert(0, str(POLICY_DIR))
import octavia_policies as p  # noqa: E402

from components import pki_crypto as crypto  # noqa: E402


def urn(resource_type: str, name: str, stack: str = "dev") -> str:
    module_type = resource_type.replace("/", ":").split(":")
    return f"urn:pulumi:{stack}::octavia-infra::{module_type[0]}:{module_type[1]}:{module_type[-1]}::{name}"


def options(protect: bool = False) -> PolicyResourceOptions:
    return PolicyResourceOptions(protect, [], False, [], None, [], None)


def resource_violations(policy, resource_type, props, name="r", stack="dev", protect=False, config=None):
    args = ResourceValidationArgs(resource_type, props, urn(resource_type, name, stack), name,
                                  options(protect), None, config)
    found = []
    policy.validate(args, lambda message, _urn=None: found.append(message))
    return found


def stack_violations(policy, resources):
    found = []
    policy.validate(StackValidationArgs(resources), lambda message, urn=None: found.append((message, urn)))
    return found


def rule(props, name="rule"):
    return PolicyResource(p.SECGROUP_RULE, props, urn(p.SECGROUP_RULE, name), name, options(), None, None, [], {})


MGMT_RULE = {"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp",
             "portRangeMin": 9443, "portRangeMax": 9443, "remoteIpPrefix": "172.29.232.0/24"}


# --- mgmt-secgroup-rules-not-open-to-world ----------------------------------------------------------

@pytest.mark.parametrize("prefix", ["0.0.0.0/0", "::/0", "0::0/0"])
def test_rule_open_to_the_world_is_a_violation(prefix):
    found = resource_violations(p.mgmt_rules_not_open, p.SECGROUP_RULE, {**MGMT_RULE, "remoteIpPrefix": prefix})
    assert len(found) == 1 and f"is open to {prefix}" in found[0]


def test_rule_without_any_remote_is_a_violation():
    props = {k: v for k, v in MGMT_RULE.items() if k != "remoteIpPrefix"}
    found = resource_violations(p.mgmt_rules_not_open, p.SECGROUP_RULE, props)
    assert len(found) == 1 and "opens it to every address" in found[0]


@pytest.mark.parametrize("props", [MGMT_RULE, {**MGMT_RULE, "remoteIpPrefix": "fd00:1::/64", "ethertype": "IPv6"},
                                   {**MGMT_RULE, "remoteIpPrefix": None, "remoteGroupId": "g1"}])
def test_rule_scoped_to_the_management_subnet_is_compliant(props):
    assert resource_violations(p.mgmt_rules_not_open, p.SECGROUP_RULE, props) == []


def test_open_rule_policy_ignores_other_resource_types():
    assert resource_violations(p.mgmt_rules_not_open, p.NETWORK, {"remoteIpPrefix": "0.0.0.0/0"}) == []


# --- ssh-rule-only-when-ssh-enabled ------------------------------------------------------------------

SSH_RULE = {**MGMT_RULE, "portRangeMin": 22, "portRangeMax": 22}
KEYPAIR = PolicyResource(p.KEYPAIR, {"name": "octavia-ssh-key"}, urn(p.KEYPAIR, "kp"), "kp", options(), None, None, [], {})


@pytest.mark.parametrize("props", [SSH_RULE, {**MGMT_RULE, "portRangeMin": 1, "portRangeMax": 1024},
                                   {**MGMT_RULE, "protocol": None, "portRangeMin": None, "portRangeMax": None}])
def test_ssh_rule_without_keypair_is_a_violation(props):
    found = stack_violations(p.ssh_rule_only_with_ssh, [rule(MGMT_RULE, "agent"), rule(props, "ssh")])
    assert [urn_ for _, urn_ in found] == [urn(p.SECGROUP_RULE, "ssh")]
    assert "SSH is not enabled" in found[0][0]


def test_ssh_rule_with_keypair_is_compliant():
    assert stack_violations(p.ssh_rule_only_with_ssh, [rule(MGMT_RULE), rule(SSH_RULE, "ssh"), KEYPAIR]) == []


@pytest.mark.parametrize("props", [MGMT_RULE, {**SSH_RULE, "protocol": "udp"}, {**SSH_RULE, "direction": "egress"}])
def test_rules_that_do_not_admit_ssh_are_compliant_without_keypair(props):
    assert stack_violations(p.ssh_rule_only_with_ssh, [rule(props)]) == []


# --- amphora-image-and-flavor-private ----------------------------------------------------------------

@pytest.mark.parametrize("resource_type,props,expected", [
    (p.IMAGE, {"visibility": "public"}, "is public"),
    (p.IMAGE, {"visibility": "shared"}, "is shared"),
    (p.IMAGE, {}, "is shared"),  # Glance's default
    (p.FLAVOR, {"isPublic": True}, "is public"),
    (p.FLAVOR, {}, "is public"),  # Nova's default
])
def test_public_image_or_flavor_is_a_violation(resource_type, props, expected):
    found = resource_violations(p.amphora_image_and_flavor_private, resource_type, props)
    assert len(found) == 1 and expected in found[0]


@pytest.mark.parametrize("resource_type,props", [(p.IMAGE, {"visibility": "private"}), (p.FLAVOR, {"isPublic": False})])
def test_private_image_and_flavor_are_compliant(resource_type, props):
    assert resource_violations(p.amphora_image_and_flavor_private, resource_type, props) == []


# --- certificate-key-and-validity-bounds -------------------------------------------------------------

CA = {"key_type": "rsa", "key_size": 4096, "validity_days": 3650, "generation": 1}
CLIENT = {"key_type": "rsa", "key_size": 3072, "validity_days": 730, "renew_before_days": 30}


@pytest.mark.parametrize("resource_type,props,expected", [
    (p.CERTIFICATE_AUTHORITY, {**CA, "key_size": 2048}, "rsa key of 2048 bits is below the minimum of 3072"),
    (p.CLIENT_CERTIFICATE, {**CLIENT, "key_type": "ec", "key_size": 224}, "ec key of 224 bits is below the minimum of 256"),
    (p.CERTIFICATE_AUTHORITY, {**CA, "validity_days": 7300}, "validity of 7300 days exceeds the maximum of 3650"),
    (p.CLIENT_CERTIFICATE, {**CLIENT, "validity_days": 3650}, "validity of 3650 days exceeds the maximum of 825"),
    (p.CLIENT_CERTIFICATE, {**CLIENT, "validity_days": 7}, "below the minimum of 30"),
    (p.CERTIFICATE_AUTHORITY, {**CA, "key_type": "dsa"}, "not rsa or ec"),
])
def test_weak_key_or_validity_out_of_bounds_is_a_violation(resource_type, props, expected):
    found = resource_violations(p.certificate_bounds, resource_type, props)
    assert len(found) == 1 and expected in found[0], found


@pytest.mark.parametrize("resource_type,props", [
    (p.CERTIFICATE_AUTHORITY, CA), (p.CERTIFICATE_AUTHORITY, {**CA, "key_type": "ec", "key_size": 256}),
    (p.CLIENT_CERTIFICATE, CLIENT), (p.CLIENT_CERTIFICATE, {**CLIENT, "key_type": "ec", "key_size": 384}),
])
def test_default_and_ec_certificates_are_compliant(resource_type, props):
    assert resource_violations(p.certificate_bounds, resource_type, props) == []


def test_bounds_come_from_the_policy_config():
    strict = {"min_rsa_bits": 4096}
    assert resource_violations(p.certificate_bounds, p.CLIENT_CERTIFICATE, CLIENT, config=strict)
    assert resource_violations(p.certificate_bounds, p.CERTIFICATE_AUTHORITY, CA, config=strict) == []


def imported_ca(key_type, key_size, days):
    key = crypto.generate_private_key(key_type, key_size)
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = crypto.build_ca_certificate(key, crypto.Subject(common_name="imported"), days, now)
    return {"existing_certificate_pem": crypto.certificate_pem(certificate)}


def test_imported_ca_is_checked_from_its_certificate():
    weak = resource_violations(p.certificate_bounds, p.CERTIFICATE_AUTHORITY, imported_ca("ec", 256, 7300))
    assert len(weak) == 1 and "validity of 7300 days" in weak[0]
    assert resource_violations(p.certificate_bounds, p.CERTIFICATE_AUTHORITY, imported_ca("ec", 384, 3650)) == []


# --- production-stacks-protect-network-and-pki -------------------------------------------------------

@pytest.mark.parametrize("resource_type", [p.NETWORK, p.SUBNET, p.CERTIFICATE_AUTHORITY])
@pytest.mark.parametrize("stack", ["prod", "prod-eu1", "production"])
def test_unprotected_network_subnet_or_ca_in_production_is_a_violation(resource_type, stack):
    found = resource_violations(p.production_protection, resource_type, {}, stack=stack, protect=False)
    assert len(found) == 1 and f"not protected in production stack '{stack}'" in found[0]


@pytest.mark.parametrize("resource_type", [p.NETWORK, p.SUBNET, p.CERTIFICATE_AUTHORITY])
def test_protected_in_production_is_compliant(resource_type):
    assert resource_violations(p.production_protection, resource_type, {}, stack="prod", protect=True) == []


@pytest.mark.parametrize("resource_type,stack", [(p.NETWORK, "dev"), (p.NETWORK, "local"), (p.NETWORK, "preprod"),
                                                 (p.CLIENT_CERTIFICATE, "prod")])
def test_other_stacks_and_resources_need_no_protection(resource_type, stack):
    assert resource_violations(p.production_protection, resource_type, {}, stack=stack, protect=False) == []


def test_production_stack_patterns_come_from_the_policy_config():
    config = {"production_stacks": ["live-*"]}
    assert resource_violations(p.production_protection, p.NETWORK, {}, stack="live-eu", config=config)
    assert resource_violations(p.production_protection, p.NETWORK, {}, stack="prod", config=config) == []


# --- the pack --------------------------------------------------------------------------------------

def test_pack_runs_every_policy_with_the_projects_virtualenv():
    pack = yaml.safe_load((POLICY_DIR / "PulumiPolicy.yaml").read_text())
    assert pack["runtime"] == {"name": "python", "options": {"virtualenv": "../.venv"}}
    assert (POLICY_DIR / pack["runtime"]["options"]["virtualenv"]).resolve() == (POLICY_DIR.parent / ".venv").resolve()
    assert [policy.name for policy in p.POLICIES] == [
        "mgmt-secgroup-rules-not-open-to-world", "ssh-rule-only-when-ssh-enabled", "amphora-image-and-flavor-private",
        "certificate-key-and-validity-bounds", "production-stacks-protect-network-and-pki",
    ]
    assert "POLICIES" in (POLICY_DIR / "__main__.py").read_text()
