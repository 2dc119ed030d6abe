"""The octavia-infra policies: what every preview and up of an Octavia foundation stack must respect.

Each policy is a pure check (`*_violations`, returning messages) wrapped in a pulumi-policy
Policy, so unit tests call the checks and the Policy objects directly and the engine runs the same
code through policy/__main__.py. Property names are the provider's (camelCase) for OpenStack
resources and the dynamic providers' own (snake_case) for the PKI.

Configurable bounds (pass `--policy-pack-config`; defaults in DEFAULTS):
    certificate-key-and-validity-bounds: min_rsa_bits, min_ec_bits, max_ca_validity_days,
        max_client_cert_validity_days, min_validity_days
    imported-ca-key-below-generated-minimum: min_rsa_bits, min_ec_bits
    production-stacks-protect-network-and-pki: production_stacks (fnmatch patterns of stack names)
    mgmt-secgroup-rules-not-open-to-world: allowed_open_prefixes (0.0.0.0/0 and/or ::/0)

The certificate bounds and their checks are components.pki_crypto's (BOUNDS, key_problem,
validity_problem, imported_ca_findings), the same the stack's settings validation uses, so with the
default bounds a value this pack would refuse is refused at preview before any resource exists.
The open-prefix rule is config.sources' (open_prefix_problem, DEFAULT_ALLOWED_OPEN_PREFIXES), the one
the settings validation applies to mgmt_extra_sources. POLICIES are mandatory; ADVISORY_POLICIES only warn. policy/__main__.py runs both.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import sys
from pathlib import Path
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

# The project's components/ (the engine runs this pack from policy/, beside it).
_PROJECT = str(Path(__file__).resolve().parents[1])
if _PROJECT not in sys.path:
    sys.path.append(_PROJECT)
from components import pki_crypto  # noqa: E402
from config import sources  # noqa: E402

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
    # min_rsa_bits, min_ec_bits, max_ca_validity_days, max_client_cert_validity_days,
    # min_validity_days: the project's one table, with the reasons for each bound.
    **pki_crypto.BOUNDS,
    "production_stacks": ["prod", "prod-*", "production", "production-*"],
    # The /0 prefixes a rule may admit: none unless told (config.sources, shared with the settings).
    "allowed_open_prefixes": list(sources.DEFAULT_ALLOWED_OPEN_PREFIXES),
}


def _config(args: Any) -> dict[str, Any]:
    # The engine hands numbers over as floats (3072.0): bounds are whole numbers.
    config = {key: int(value) if isinstance(value, float) and value.is_integer() else value
              for key, value in (args.get_config() or {}).items()}
    return {**DEFAULTS, **config}


def stack_name(urn: str) -> str:
    """urn:pulumi:<stack>::<project>::<type>::<name> -> <stack>."""
    return urn.split("::", 1)[0].split(":", 2)[2]


# --- management security-group rules never open to the world ------------------------------------


def open_rule_violations(props: Mapping[str, Any], allowed_open: Iterable[str] = sources.DEFAULT_ALLOWED_OPEN_PREFIXES) -> list[str]:
    prefix = props.get("remoteIpPrefix")
    if not prefix:
        if props.get("remoteGroupId") or props.get("remoteAddressGroupId"):
            return []
        return ["has no remoteIpPrefix and no remote group: Neutron opens it to every address; "
                "scope it to the management subnet (mgmt_subnet_cidr)"]
    try:
        ipaddress.ip_network(str(prefix), strict=False)
    except ValueError:
        return [f"remoteIpPrefix {prefix!r} is not a CIDR"]
    problem = sources.open_prefix_problem(str(prefix), allowed_open)
    if problem:
        return [f"is open to {prefix}: {problem}; scope it to the management subnet (mgmt_subnet_cidr) or "
                "mgmt_extra_sources"]
    return []


def _validate_open_rule(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != SECGROUP_RULE:
        return
    for message in open_rule_violations(args.props, _config(args)["allowed_open_prefixes"]):
        report_violation(f"security group rule {args.name} {message}", None)


mgmt_rules_not_open = ResourceValidationPolicy(
    name="mgmt-secgroup-rules-not-open-to-world",
    description="Management security-group rules are never open to 0.0.0.0/0 or ::/0.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_validate_open_rule,
    config_schema=PolicyConfigSchema(properties={
        "allowed_open_prefixes": {
            "type": "array", "items": {"type": "string", "enum": list(sources.OPEN_PREFIXES)},
            "default": DEFAULTS["allowed_open_prefixes"],
        },
    }),
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


def _imported_findings(resource_type: str, props: Mapping[str, Any], bounds: Mapping[str, Any]) -> Optional[pki_crypto.Findings]:
    """An imported CA's findings (its own rules, components.pki_crypto), or None if it is not one."""
    if resource_type != CERTIFICATE_AUTHORITY or not props.get("existing_certificate_pem"):
        return None
    certificate = pki_crypto.load_certificate(props["existing_certificate_pem"])
    return pki_crypto.imported_ca_findings(certificate, pki_crypto.pki_now(), bounds)


def certificate_violations(resource_type: str, props: Mapping[str, Any], bounds: Mapping[str, Any]) -> list[str]:
    if resource_type not in (CERTIFICATE_AUTHORITY, CLIENT_CERTIFICATE):
        return []
    imported = _imported_findings(resource_type, props, bounds)
    if imported is not None:
        return list(imported.errors)  # a weak key is imported-ca-key-below-generated-minimum's warning
    problems = [
        pki_crypto.key_problem(props.get("key_type"), int(props.get("key_size") or 0), bounds),
        pki_crypto.validity_problem(int(props.get("validity_days") or 0), resource_type == CERTIFICATE_AUTHORITY, bounds),
    ]
    return [problem for problem in problems if problem]


def imported_ca_warnings(resource_type: str, props: Mapping[str, Any], bounds: Mapping[str, Any]) -> list[str]:
    imported = _imported_findings(resource_type, props, bounds)
    return list(imported.warnings) if imported is not None else []


def _integer_options(*names: str) -> PolicyConfigSchema:
    """Options of the shared bounds, defaulting to them."""
    return PolicyConfigSchema(properties={name: {"type": "integer", "default": DEFAULTS[name]} for name in names})


def _validate_certificate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    kind = "CA" if args.resource_type == CERTIFICATE_AUTHORITY else "client certificate"
    for message in certificate_violations(args.resource_type, args.props, _config(args)):
        report_violation(f"{kind} {args.name}: {message} (see pki.* in docs/pki.md)", None)


certificate_bounds = ResourceValidationPolicy(
    name="certificate-key-and-validity-bounds",
    description="Certificate keys are strong enough and validities within bounds.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=_validate_certificate,
    config_schema=_integer_options("min_rsa_bits", "min_ec_bits", "max_ca_validity_days",
                                   "max_client_cert_validity_days", "min_validity_days"),
)


def _validate_imported_ca(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for message in imported_ca_warnings(args.resource_type, args.props, _config(args)):
        report_violation(f"imported CA {args.name}: {message}", None)


imported_ca_key_strength = ResourceValidationPolicy(
    name="imported-ca-key-below-generated-minimum",
    description="An imported CA's key below the minimum of a generated CA is reported; replacing it is a rollover.",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=_validate_imported_ca,
    config_schema=_integer_options("min_rsa_bits", "min_ec_bits"),
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


# Mandatory: a violation stops the preview or update.
POLICIES = [
    mgmt_rules_not_open,
    ssh_rule_only_with_ssh,
    amphora_image_and_flavor_private,
    certificate_bounds,
    production_protection,
]
# Advisory: reported as warnings.
ADVISORY_POLICIES = [
    imported_ca_key_strength,
]
