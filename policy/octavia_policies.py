"""The octavia-infra policies: what every preview and up of an Octavia foundation stack must respect.

Each policy is a pure check (`*_violations`, returning messages) wrapped in a pulumi-policy
Policy, so unit tests call the checks and the Policy objects directly and the engine runs the same
code through policy/__main__.py. Property names are the provider's (camelCase) for OpenStack
resources and the dynamic providers' own (snake_case) for the PKI.

Configurable bounds (pass `--policy-pack-config`; defaults in DEFAULTS):
    certificate-key-and-validity-bounds: min_rsa_bits, min_ec_bits, max_ca_validity_days,
        max_client_cert_validity_days
    production-stacks-protect-network-and-pki: production_stacks (fnmatch patterns of stack names)
"""

from __future__ import annotations

import datetime
import fnmatch
import ipaddress
from typing import Any, Iterable, Mapping, Optional

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

SECGROUP_RULE = "openstack:networking/secGroupRule:SecGroupRule"
NETWORK = "openstack:networking/network:Network"
SUBNET = "openstack:networking/subnet:Subnet"
IMAGE = "openstack:images/image:Image"
FLAVOR = "openstack:compute/flavor:Flavor"
KEYPAIR = "openstack:compute/keypair:Keypair"
CERTIFICATE_AUTHORITY = "pulumi-python:dynamic/pki:CertificateAuthority"
CLIENT_CERTIFICATE = "pulumi-python:dynamic/pki:ClientCertificate"

SSH_PORT = 22
# Protocols that reach TCP port 22: tcp by name or number, and "any" (no protocol).
SSH_PROTOCOLS = (None, "", "tcp", "6", "any")

DEFAULTS: dict[str, Any] = {
    # NIST SP 800-57: 2048-bit RSA is retired after 2030; every key here outlives that.
    "min_rsa_bits": 3072,
    "min_ec_bits": 256,
    # A CA rollover means failing over every amphora: ten years is the longest sensible.
    "max_ca_validity_days": 3650,
    # The client certificate renews itself; longer than two years and some more only adds risk.
    "max_client_cert_validity_days": 825,
    "min_validity_days": 30,
    "production_stacks": ["prod", "prod-*", "production", "production-*"],
}


def _config(args: Any) -> dict[str, Any]:
    return {**DEFAULTS, **(args.get_config() or {})}


def stack_name(urn: str) -> str:
    """urn:pulumi:<stack>::<project>::<type>::<name> -> <stack>."""
    return urn.split("::", 1)[0].split(":", 2)[2]


# --- management security-group rules never open to the world ------------------------------------


def open_rule_violations(props: Mapping[str, Any]) -> list[str]:
    prefix = props.get("remoteIpPrefix")
    if not prefix:
        if props.get("remoteGroupId") or props.get("remoteAddressGroupId"):
            return []
        return ["has no remoteIpPrefix and no remote group: Neutron opens it to every address; "
                "scope it to the management subnet (mgmt_subnet_cidr)"]
    try:
        network = ipaddress.ip_network(str(prefix), strict=False)
    except ValueError:
        return [f"remoteIpPrefix {prefix!r} is not a CIDR"]
    if network.prefixlen == 0:
        return [f"is open to {prefix} (the whole internet); scope it to the management subnet (mgmt_subnet_cidr)"]
    return []


def _validate_open_rule(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != SECGROUP_RULE:
        return
    for message in open_rule_violations(args.props):
        report_violation(f"security group rule {args.name} {message}", None)


mgmt_rules_not_open = ResourceValidationPolicy(
    name="mgmt-secgroup-rules-not-open-to-world",
    description="Management security-group rules are never open to 0.0.0.0/0 or ::/0.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_validate_open_rule,
)


# --- the SSH rule only when SSH is enabled --------------------------------------------------------


def opens_ssh(props: Mapping[str, Any]) -> bool:
    if props.get("direction", "ingress") != "ingress":
        return False
    if str(props.get("protocol") or "").lower() not in SSH_PROTOCOLS:
        return False
    low, high = props.get("portRangeMin"), props.get("portRangeMax")
    low = int(low) if low not in (None, 0) else 1
    high = int(high) if high not in (None, 0) else 65535
    return low <= SSH_PORT <= high


def ssh_violations(resources: Iterable[Any]) -> list[tuple[str, str]]:
    """(message, urn) for every rule that lets SSH in while the stack has no amphora keypair.

    The stack declares the amphora keypair exactly when ssh_enabled is on; without it no amphora
    can be logged into, so an SSH rule is an open door nobody needs.
    """
    resources = list(resources)
    if any(resource.resource_type == KEYPAIR for resource in resources):
        return []
    return [
        (f"security group rule {resource.name} allows SSH (TCP 22) but SSH is not enabled (no amphora "
         "keypair in the stack): remove the rule or set ssh_enabled", resource.urn)
        for resource in resources
        if resource.resource_type == SECGROUP_RULE and opens_ssh(resource.props)
    ]


def _validate_ssh(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    for message, urn in ssh_violations(args.resources):
        report_violation(message, urn)


ssh_rule_only_with_ssh = StackValidationPolicy(
    name="ssh-rule-only-when-ssh-enabled",
    description="Amphorae accept SSH only when SSH is enabled (the stack installs an amphora keypair).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_validate_ssh,
)


# --- amphora image and flavor private ---------------------------------------------------------------


def private_violations(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    if resource_type == IMAGE:
        visibility = props.get("visibility") or "shared"  # Glance's default for new images
        if visibility != "private":
            return [f"is {visibility}: amphora images must be private to the service project (visibility: private)"]
    if resource_type == FLAVOR:
        if props.get("isPublic") is not False:  # Nova's default is public
            return ["is public: the amphora flavor must be private (is_public: false), shared with the service project only"]
    return []


def _validate_private(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    kind = "image" if args.resource_type == IMAGE else "flavor"
    for message in private_violations(args.resource_type, args.props):
        report_violation(f"amphora {kind} {args.name} {message}", None)


amphora_image_and_flavor_private = ResourceValidationPolicy(
    name="amphora-image-and-flavor-private",
    description="The amphora image and the amphora flavor are private.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_validate_private,
)


# --- certificate key sizes and validity within bounds ----------------------------------------------


def _imported_key_and_validity(certificate_pem: str) -> tuple[str, int, int]:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    certificate = x509.load_pem_x509_certificate(certificate_pem.encode())
    key = certificate.public_key()
    key_type = "rsa" if isinstance(key, rsa.RSAPublicKey) else "ec" if isinstance(key, ec.EllipticCurvePublicKey) else "other"
    validity: datetime.timedelta = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    return key_type, getattr(key, "key_size", 0), validity.days


def certificate_violations(resource_type: str, props: Mapping[str, Any], bounds: Mapping[str, Any]) -> list[str]:
    if resource_type not in (CERTIFICATE_AUTHORITY, CLIENT_CERTIFICATE):
        return []
    if props.get("existing_certificate_pem"):
        key_type, key_size, validity_days = _imported_key_and_validity(props["existing_certificate_pem"])
    else:
        key_type, key_size, validity_days = props.get("key_type"), props.get("key_size"), props.get("validity_days")
    key_size, validity_days = int(key_size or 0), int(validity_days or 0)
    problems = []
    minimum = {"rsa": bounds["min_rsa_bits"], "ec": bounds["min_ec_bits"]}.get(key_type)
    if minimum is None:
        problems.append(f"key type {key_type!r} is not rsa or ec")
    elif key_size < minimum:
        problems.append(f"{key_type} key of {key_size} bits is below the minimum of {minimum}")
    is_ca = resource_type == CERTIFICATE_AUTHORITY
    maximum = bounds["max_ca_validity_days"] if is_ca else bounds["max_client_cert_validity_days"]
    if validity_days > maximum:
        problems.append(f"validity of {validity_days} days exceeds the maximum of {maximum}")
    if validity_days < bounds["min_validity_days"]:
        problems.append(f"validity of {validity_days} days is below the minimum of {bounds['min_validity_days']}")
    return problems


def _validate_certificate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    kind = "CA" if args.resource_type == CERTIFICATE_AUTHORITY else "client certificate"
    for message in certificate_violations(args.resource_type, args.props, _config(args)):
        report_violation(f"{kind} {args.name}: {message} (see pki.* in docs/pki.md)", None)


certificate_bounds = ResourceValidationPolicy(
    name="certificate-key-and-validity-bounds",
    description="Certificate keys are strong enough and validities within bounds.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_validate_certificate,
    config_schema=PolicyConfigSchema(properties={
        "min_rsa_bits": {"type": "integer", "default": DEFAULTS["min_rsa_bits"]},
        "min_ec_bits": {"type": "integer", "default": DEFAULTS["min_ec_bits"]},
        "max_ca_validity_days": {"type": "integer", "default": DEFAULTS["max_ca_validity_days"]},
        "max_client_cert_validity_days": {"type": "integer", "default": DEFAULTS["max_client_cert_validity_days"]},
        "min_validity_days": {"type": "integer", "default": DEFAULTS["min_validity_days"]},
    }),
)


# --- production stacks protect the network, subnet and PKI ----------------------------------------

PROTECTED_IN_PRODUCTION = {
    NETWORK: "management network",
    SUBNET: "management subnet",
    CERTIFICATE_AUTHORITY: "certificate authority",
}


def is_production(stack: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(stack, pattern) for pattern in patterns)


def protection_violations(resource_type: str, urn: str, protect: Optional[bool], patterns: Iterable[str]) -> list[str]:
    what = PROTECTED_IN_PRODUCTION.get(resource_type)
    if what is None or protect or not is_production(stack_name(urn), patterns):
        return []
    return [f"{what} is not protected in production stack {stack_name(urn)!r}: set protect: true in its stack config"]


def _validate_protection(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    patterns = _config(args)["production_stacks"]
    for message in protection_violations(args.resource_type, args.urn, args.opts.protect, patterns):
        report_violation(f"{args.name}: {message}", None)


production_protection = ResourceValidationPolicy(
    name="production-stacks-protect-network-and-pki",
    description="Production stacks protect the management network, subnet and certificate authorities.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_validate_protection,
    config_schema=PolicyConfigSchema(properties={
        "production_stacks": {"type": "array", "items": {"type": "string"}, "default": DEFAULTS["production_stacks"]},
    }),
)


POLICIES = [
    mgmt_rules_not_open,
    ssh_rule_only_with_ssh,
    amphora_image_and_flavor_private,
    certificate_bounds,
    production_protection,
]
