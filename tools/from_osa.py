"""Write a stack file of this project from an OpenStack-Ansible deployment's os_octavia settings.

    python -m tools.from_osa USER_VARIABLES.yml [MORE.yml ...] [--user-config openstack_user_config.yml]
        [--health-manager HOST[=IP] ...] [--image-version VERSION] [--ignore VARIABLE ...]
        [--stack NAME] [--output PATH] [--force]

Reads the variables an operator set for the os_octavia role (user_variables*.yml; a later file wins,
as in OpenStack-Ansible) and, with --user-config, the `used_ips`, `cidr_networks` and the Octavia
provider network of openstack_user_config.yml. Writes the stack file to PATH, else to
stacks/Pulumi.<NAME>.yaml, else to standard output; an existing file is kept unless --force.

Every variable read ends in exactly one of three places:

- mapped: converted and written to the stack key(s) of its MAPPINGS row;
- ignored: listed in the comment block at the top of the output with the reason (the role owns it,
  the stack has its own, a secret to carry over by hand, a Jinja expression where the stack's default
  is safe, ...). Values of ignored variables are never written anywhere;
- refused: one error line naming the variable, its value and why, exit status 2 (e.g. a Jinja
  expression where the stack needs a literal and has no safe default). `--ignore VARIABLE` drops a
  refused variable on purpose; it is then listed as ignored with the refusal as its reason.

The health managers are not in user_variables: OpenStack-Ansible derives them from its inventory.
Give them with --health-manager HOST[=IP]; without, the output holds a placeholder that the stack's
validation refuses (an invalid host name), so nothing is deployed before they are set.

Variable names are those of the os_octavia role at ROLE_COMMIT; tests/fixtures/osa/
os_octavia_variables.txt lists them and a test checks every mapped name against it. The converter
checks types and obvious bounds only: the stack validates the result in full at preview.
"""

from __future__ import annotations

import argparse
import difflib
import ipaddress
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import yaml

PROJECT = "octavia-infra"
ROOT = Path(__file__).resolve().parents[1]
ROLE = "openstack/openstack-ansible-os_octavia"
ROLE_COMMIT = "a2017a507ab1ef0734a2f5e34e8fb5faa6d6aa5e"

# The stack's defaults these checks mirror (Pulumi.yaml and the settings model re-check everything).
OVERLAY_TYPES = ("vxlan", "geneve")
NETWORK_TYPES = ("flat", "vlan", *OVERLAY_TYPES)
TOPOLOGIES = ("SINGLE", "ACTIVE_STANDBY")
AMPHORA_AGENT_PORT = 9443  # the port the stack's amphora security group opens
CA_EXPIRY_WARNING_DAYS = 365  # pki.*.expiry_warning_days default: validity_days must exceed it
OSA_DEFAULT_CIDR = "172.29.232.0/22"  # os_octavia's and the stack's default management subnet
# A placeholder is not an RFC 1123 host name / image version, so the stack's validation refuses it.
HEALTH_MANAGER_PLACEHOLDER = "<octavia-health-manager host>"
IMAGE_VERSION_PLACEHOLDER = "<image version>"
IMAGE_SOURCE_PLACEHOLDER = "<amphora image file or http(s) URL>"

_HOSTNAME = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*$")
_INTERFACE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,14}$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_REFERENCE = re.compile(r"^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


class Unmappable(ValueError):
    """A converter's reason why a value cannot become the stack's value."""


class Refused(Exception):
    """Variables that cannot be converted: one line each, `NAME=VALUE (FILE): why`."""

    def __init__(self, lines: list[str]):
        self.lines = lines
        super().__init__("\n".join(lines))


class Unsafe(str):
    """A value tagged !unsafe: Ansible never templates it, so braces in it are literal."""


class Vault:
    """A value encrypted with ansible-vault (!vault): not readable here."""

    def __repr__(self) -> str:
        return "<!vault encrypted>"


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_constructor("!vault", lambda loader, node: Vault())
_Loader.add_constructor("!unsafe", lambda loader, node: Unsafe(loader.construct_scalar(node)))


# --- converters: value -> stack value, or Unmappable -----------------------------------------------

KEEP_DEFAULT = object()  # the OSA value means "the default": nothing is written, the stack's applies


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or "\n" in value.strip():
        raise Unmappable("a non-empty one-line string")
    return value.strip()


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (str, int)) and str(value).strip().lower() in _TRUE + _FALSE:
        return str(value).strip().lower() in _TRUE
    raise Unmappable("a boolean (true/false, yes/no, \"True\"/\"False\")")


def _integer(low: int, high: int) -> Callable[[Any], int]:
    def convert(value: Any) -> int:
        digits = isinstance(value, str) and value.strip().isdigit()
        if isinstance(value, bool) or not (isinstance(value, int) or digits):
            raise Unmappable(f"a whole number from {low} to {high}")
        number = int(value)
        if not low <= number <= high:
            raise Unmappable(f"a whole number from {low} to {high}")
        return number

    return convert


def _optional(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """None or "" keeps the stack's default (how the role reads an unset optional variable)."""

    def optional(value: Any) -> Any:
        return KEEP_DEFAULT if value is None or value == "" else convert(value)

    return optional


def _choice(*valid: str) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if value not in valid:
            raise Unmappable(f"one of {', '.join(valid)} (the stack has no other)")
        return value

    return convert


def _cidr(value: Any) -> str:
    try:
        return str(ipaddress.ip_network(_text(value), strict=True))
    except ValueError:
        raise Unmappable("a network in CIDR form without host bits, e.g. 172.29.232.0/22") from None


def _address(value: Any) -> str:
    try:
        return str(ipaddress.ip_address(_text(value)))
    except ValueError:
        raise Unmappable("an IPv4 or IPv6 address") from None


def _pools(value: Any) -> Any:
    """os_octavia's one "start-end" string (split on '-' by the role) -> [{start, end}]."""
    if value == "" or value is None:
        return KEEP_DEFAULT  # the role's default: Neutron's pool, the whole subnet
    if not isinstance(value, str):
        raise Unmappable('the role takes one "start-end" string (it splits it on "-")')
    start, dash, end = (part.strip() for part in value.partition("-"))
    try:
        first, last = ipaddress.ip_address(start), ipaddress.ip_address(end)
    except ValueError:
        raise Unmappable('"start-end" with two addresses, e.g. "172.29.232.100-172.29.235.200"') from None
    if not dash or first.version != last.version or first > last:
        raise Unmappable('"start-end" of one IP version with start <= end')
    return [{"start": str(first), "end": str(last)}]


def _extra_specs(value: Any) -> Any:
    if value is None or value == {}:
        return KEEP_DEFAULT
    if not isinstance(value, dict) or not all(isinstance(k, str) and k.strip() for k in value):
        raise Unmappable("a mapping of extra spec names to values")
    # Nova stores extra specs as strings; YAML booleans become the "True"/"False" Nova shows.
    return {key: str(spec) for key, spec in value.items()}


def _interface(value: Any) -> str:
    name = _text(value)
    if not _INTERFACE.match(name):
        raise Unmappable("a Linux interface name: 1-15 letters, digits, '_', '.', '@' or '-'")
    return name


def _absolute_path(value: Any) -> str:
    path = _text(value)
    if not path.startswith("/"):
        raise Unmappable("an absolute directory path")
    return path.rstrip("/") or "/"


def _subject_text(value: Any) -> str:
    text = _text(value)
    if len(text) > 64:
        raise Unmappable("at most 64 characters (RFC 5280)")
    return text


def _country(value: Any) -> str:
    text = _text(value)
    if not _COUNTRY.match(text):
        raise Unmappable("two upper-case letters (ISO 3166), e.g. DE")
    return text


def _validity(value: Any) -> int:
    days = _integer(1, 36500)(value)
    if days <= CA_EXPIRY_WARNING_DAYS:
        raise Unmappable(
            f"more days than pki.<ca>.expiry_warning_days ({CA_EXPIRY_WARNING_DAYS}), which the stack warns from"
        )
    return days


def _amp_disk(value: Any) -> int:
    if value in (0, "0"):
        raise Unmappable(
            "0 means the amphora boots from a Cinder volume (octavia_cinder_enabled); the stack's flavor needs a "
            "root disk of 1-1024 GiB"
        )
    return _integer(1, 1024)(value)


# --- the table -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One os_octavia variable and the stack key(s) its converted value goes to.

    needs_literal: a Jinja expression is refused (the stack has no safe default for the key);
    otherwise it is ignored and the stack's default stays. in_role_defaults: False for variables
    the role reads but only documents (commented out) or never defines in its defaults/main.yml.
    """

    osa: str
    keys: tuple[str, ...]
    convert: Callable[[Any], Any]
    needs_literal: bool
    in_role_defaults: bool = True


MAPPINGS: tuple[Rule, ...] = (
    Rule("octavia_service_project_name", ("service_project",), _text, True),
    Rule("octavia_service_project_domain_id", ("service_project_domain",), _text, True),
    Rule("octavia_service_user_name", ("octavia_service_user",), _text, True),
    Rule("octavia_neutron_management_network_name", ("mgmt_network_name",), _text, False),
    Rule("octavia_provider_network_type", ("mgmt_network_type",), _choice(*NETWORK_TYPES), True),
    Rule("octavia_provider_network_name", ("mgmt_physical_network",), _text, True),
    Rule("octavia_provider_segmentation_id", ("mgmt_segmentation_id",), _optional(_integer(1, 16777215)), True, False),
    Rule("octavia_provider_network_mtu", ("mgmt_mtu",), _optional(_integer(68, 9216)), True, False),
    Rule("octavia_management_net_subnet_cidr", ("mgmt_subnet_cidr",), _cidr, True),
    Rule("octavia_management_net_subnet_allocation_pools", ("mgmt_allocation_pools",), _pools, True),
    Rule("octavia_management_net_subnet_gateway", ("mgmt_gateway_ip",), _optional(_address), True, False),
    Rule("octavia_management_net_dhcp", ("mgmt_enable_dhcp",), _boolean, True),
    Rule("octavia_health_manager_port", ("health_manager_port",), _integer(1, 65535), True),
    Rule("octavia_container_interface", ("health_manager_interface",), _interface, False),
    Rule("octavia_ssh_enabled", ("ssh_enabled",), _boolean, False),
    Rule("debug", ("debug",), _boolean, False),  # the role adds the ICMP rule to the amphora group
    Rule("octavia_amp_flavor_name", ("amp_flavor_name",), _text, False),
    Rule("octavia_amp_vcpu", ("amp_flavor_vcpus",), _integer(1, 64), False),
    Rule("octavia_amp_ram", ("amp_flavor_ram_mb",), _integer(512, 262144), False),
    Rule("octavia_amp_disk", ("amp_flavor_disk_gb",), _amp_disk, False),
    Rule("octavia_amp_extra_specs", ("amp_flavor_extra_specs",), _extra_specs, False, False),
    Rule("octavia_loadbalancer_topology", ("loadbalancer_topology",), _choice(*TOPOLOGIES), False),
    Rule("octavia_enable_anti_affinity", ("enable_anti_affinity",), _boolean, False),
    Rule("octavia_amp_availability_zone", ("amp_availability_zone",), _optional(_text), False),
    Rule("octavia_glance_image_tag", ("amp_image_tag",), _text, False),
    Rule("octavia_cert_dest_dir", ("octavia_cert_dir",), _absolute_path, False),
    Rule(
        "octavia_cert_validity_days", ("pki.server_ca.validity_days", "pki.client_ca.validity_days"), _validity, False
    ),
    Rule("octavia_cert_client_req_common_name", ("pki.client_cert.subject.common_name",), _subject_text, False),
    Rule(
        "octavia_cert_client_req_country_name",
        ("pki.server_ca.subject.country", "pki.client_ca.subject.country"),
        _country,
        False,
    ),
    Rule(
        "octavia_cert_client_req_organization_name",
        ("pki.server_ca.subject.organization", "pki.client_ca.subject.organization"),
        _subject_text,
        False,
    ),
)
RULES = {rule.osa: rule for rule in MAPPINGS}
# The amphora image is mapped by _images (three role variables decide one source).
IMAGE_VARIABLES = ("octavia_artefact_url", "octavia_amp_image_resource", "octavia_download_artefact")

_STACK_OWNS_CERTS = "the stack generates and renews the CAs and the controllers' client certificate (pki.*)"
_STACK_OWNS_KEYPAIR = (
    "the stack creates the amphora keypair (ssh_public_key, or a key Nova generates); to keep OpenStack-Ansible's "
    "key, set ssh_public_key to the contents of <octavia_ssh_key_dir>/<octavia_ssh_key_name>.pub"
)
_SECRET = "secret, not written here; {}: `pulumi config set --secret --path {}`"
_SUBJECT = "the stack's certificate subjects have no {} (common_name, organization, organizational_unit, country)"
_DOWNLOAD = "where the role downloads the image before its upload; the stack has Glance import URLs"
_ROLE_SECRET = "owned by the role: a service password of the Octavia services (user_secrets.yml)"
_CONF = "an octavia.conf option the role renders; the stack does not own it (keep it in user_variables)"
_INVENTORY = (
    "inventory plumbing: which openstack_user_config network carries the health managers (read from --user-config)"
)

# Variables with a reason of their own (role variables, and a few that were removed from the role).
IGNORED: dict[str, str] = {
    "octavia_service_net_setup": (
        "the stack creates the management network, or adopts one: set mgmt_network_id and mgmt_subnet_id"
    ),
    "octavia_neutron_management_network_uuid": (
        "an existing network the role was told to use: to keep it, set mgmt_network_id to it and mgmt_subnet_id to "
        "its subnet's ID (OpenStack-Ansible has no subnet variable)"
    ),
    "octavia_nova_flavor_uuid": "an existing flavor the role was told to use: the stack creates its own (amp_flavor_*)",
    "octavia_security_group_name": (
        "the stack creates its own security groups (lb-mgmt-sec-grp, lb-health-mgr-sec-grp, after name_prefix); the "
        "role's group stays until deleted"
    ),
    "octavia_security_group_rule_cidr": (
        "the management subnet, which every rule admits (mgmt_subnet_cidr); another network becomes mgmt_extra_sources"
    ),
    "octavia_security_group_additional_rules": "empty: nothing to carry over",
    "octavia_agent_port": f"the stack's amphora agent port is the same ({AMPHORA_AGENT_PORT})",
    "octavia_ssh_key_manage": _STACK_OWNS_KEYPAIR,
    "octavia_ssh_key_name": _STACK_OWNS_KEYPAIR,
    "octavia_ssh_key_dir": _STACK_OWNS_KEYPAIR,
    "octavia_ssh_key_comment": _STACK_OWNS_KEYPAIR,
    "octavia_ssh_key_format": _STACK_OWNS_KEYPAIR,
    "octavia_ssh_key_type": _STACK_OWNS_KEYPAIR,
    "octavia_ssh_key_size": _STACK_OWNS_KEYPAIR,
    "octavia_amp_image_owner_id": "the stack outputs the service project's ID as amp_image_owner_id",
    "octavia_amp_image_upload_enabled": "set by the role from octavia_download_artefact, and read by none of its tasks",
    "octavia_amp_image_path": _DOWNLOAD,
    "octavia_amp_image_path_owner": _DOWNLOAD,
    "octavia_hm_hosts": "addresses without host names: give each health manager as --health-manager HOST=IP",
    "octavia_hm_group": "health managers come from --health-manager HOST[=IP] (the role reads the inventory group)",
    "octavia_container_network_name": _INVENTORY,
    "octavia_provider_inventory_net_name": _INVENTORY,
    "octavia_provider_network": _INVENTORY,
    "octavia_ip_tables_fw": (
        "the controllers' host firewall: the stack renders its own (health_manager_firewall output); run one of the "
        "two (the stack's rendered user_variables say which)"
    ),
    "octavia_iptables_rules": (
        "the role's host firewall rules: the stack renders its own (health_manager_firewall output)"
    ),
    "octavia_generate_certs": _STACK_OWNS_CERTS,
    "octavia_generate_ca": _STACK_OWNS_CERTS,
    "octavia_generate_client_cert": _STACK_OWNS_CERTS,
    "octavia_regenerate_ca": _STACK_OWNS_CERTS,
    "octavia_regenerate_client_cert": _STACK_OWNS_CERTS,
    "octavia_cert_authorities": _STACK_OWNS_CERTS,
    "octavia_cert_certificates": _STACK_OWNS_CERTS,
    "octavia_cert_install_certificates": _STACK_OWNS_CERTS,
    "octavia_pki_backend": _STACK_OWNS_CERTS,
    "octavia_cert_setup_host": _STACK_OWNS_CERTS,
    "octavia_cert_keys_dir": _STACK_OWNS_CERTS,
    "octavia_cert_certs_dir": _STACK_OWNS_CERTS,
    "octavia_cert_dir": (
        "the role's PKI directory on the deployment host (its CAs are under roots/ there: import them as secret "
        "pki.<ca>.existing); the stack's octavia_cert_dir is the role's octavia_cert_dest_dir"
    ),
    "octavia_cert_client_req_state_or_province_name": _SUBJECT.format("state"),
    "octavia_cert_client_req_locality_name": _SUBJECT.format("locality"),
    "octavia_ca_certificate": (
        "a file on the deployment host: import the server CA as secret pki.server_ca.existing.certificate_pem "
        "(with private_key_pem)"
    ),
    "octavia_ca_private_key": (
        "a file on the deployment host: import it as secret pki.server_ca.existing.private_key_pem"
    ),
    "octavia_client_ca": (
        "a file on the deployment host: import the client CA as secret pki.client_ca.existing (certificate and key)"
    ),
    "octavia_client_cert": "the stack issues the controllers' client certificate from the client CA",
    "octavia_client_key": "the stack issues the controllers' client certificate from the client CA",
    "octavia_ca_private_key_passphrase": _SECRET.format(
        "with an imported server CA", "pki.server_ca.existing.private_key_passphrase"
    ),
    "octavia_cert_client_password": _SECRET.format(
        "with an imported client CA", "pki.client_ca.existing.private_key_passphrase"
    ),
    "octavia_health_hmac_key": _SECRET.format("running amphorae sign heartbeats with it", "pki.heartbeat_key"),
    "octavia_service_password": _ROLE_SECRET,
    "octavia_container_mysql_password": _ROLE_SECRET,
    "octavia_oslomsg_rpc_password": _ROLE_SECRET,
    "octavia_oslomsg_notify_password": _ROLE_SECRET,
    "octavia_required_secrets": "the role's own check of its secrets",
    "octavia_octavia_conf_overrides": (
        "the stack's rendered user_variables set octavia_octavia_conf_overrides too: merge yours into that file, or "
        "one replaces the other (Ansible does not merge a variable across files)"
    ),
    "cinder_default_availability_zone": _CONF + " ([cinder] availability_zone)",
    "octavia_cinder_enabled": _CONF + " (amphorae on Cinder volumes)",
    "octavia_cinder_volume_size": _CONF,
    "octavia_cinder_volume_type": _CONF,
}

# Names the role does not have (any more): removed in the commit named, or another tool's name.
NOT_IN_ROLE: dict[str, str] = {
    "octavia_spare_amphora_pool_size": (
        "removed from the role (1be636c, 2020) and from Octavia (Xena): nothing reads it"
    ),
    "octavia_legacy_policy": "removed from the role (90f522c, 2025): nothing reads it",
    "octavia_amp_image_file_name": (
        "removed from the role (33a7094, 2018): nothing reads it; set amp_images to the image file"
    ),
    "octavia_amp_image_id": "removed from the role (50b83c7, 2020): Octavia selects the image by amp_image_tag",
    "octavia_image_downloader": "removed from the role (33a7094, 2018): nothing reads it",
    "octavia_amp_image_tag": (
        "kolla-ansible's name, not os_octavia's: nothing reads it; the role's tag is octavia_glance_image_tag "
        "(-> amp_image_tag)"
    ),
    "octavia_amp_flavor_id": "kolla-ansible's name, not os_octavia's: nothing reads it; the stack creates the flavor",
    "octavia_amp_ssh_key_name": (
        "kolla-ansible's name, not os_octavia's: nothing reads it; the stack creates the keypair"
    ),
}

# Role variables the stack leaves to the role, by name prefix (checked after IGNORED and MAPPINGS).
PREFIX_REASONS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("octavia_galera_", "octavia_db_"), "the Octavia database: owned by the role"),
    (("octavia_oslomsg_", "octavia_rpc_", "octavia_ceilometer_enabled"), "the message queue: owned by the role"),
    (("octavia_coordination_",), "jobboard coordination: owned by the role"),
    (
        (
            "octavia_git_", "octavia_pip_", "octavia_user_pip_", "octavia_optional_ovn_octavia_provider_",
            "octavia_ovn_octavia_provider_", "octavia_venv_", "octavia_install_method", "octavia_package_state",
            "octavia_upper_constraints_url", "octavia_bin",
        ),
        "installation of the Octavia services: owned by the role",
    ),
    (
        (
            "octavia_system_", "octavia_lock_dir", "octavia_services", "octavia_api_init_overrides",
            "octavia_worker_init_overrides", "octavia_housekeeping_init_overrides",
            "octavia_health_manager_init_overrides", "octavia_driver_agent_init_overrides", "octavia_wsgi_",
            "octavia_uwsgi_", "octavia_api_", "octavia_plugin_dirs", "octavia_user_haproxy_templates",
            "octavia_haproxy_amphora_template", "octavia_memcached_servers", "octavia_policy_overrides",
            "octavia_backend_ssl",
        ),
        "the Octavia services on the controllers (processes, API, TLS, policy): owned by the role",
    ),
    (
        (
            "octavia_service_", "octavia_keystone_", "octavia_clients_endpoint", "octavia_auth_strategy",
            "octavia_resources_deploy_",
        ),
        "Keystone registration and OpenStack calls of the role: owned by the role",
    ),
    (
        (
            "octavia_ovn_", "octavia_enabled_provider_", "octavia_default_provider_driver", "octavia_amphora_driver",
            "octavia_compute_driver", "octavia_network_driver",
        ),
        "provider drivers of the Octavia API: owned by the role",
    ),
    (
        (
            "octavia_tls_listener_enabled", "octavia_barbican_enabled", "octavia_amp_active_retries",
            "octavia_task_flow_max_workers", "octavia_sync_provisioning_status",
        ),
        _CONF,
    ),
)


# --- the conversion --------------------------------------------------------------------------------


@dataclass(frozen=True)
class HealthManager:
    host: str
    ip: Optional[str] = None


@dataclass
class Options:
    health_managers: tuple[HealthManager, ...] = ()
    image_version: Optional[str] = None
    ignore: tuple[str, ...] = ()


@dataclass
class Conversion:
    config: dict[str, Any] = field(default_factory=dict)  # stack keys, without the project namespace
    mapped: dict[str, tuple[str, ...]] = field(default_factory=dict)  # source -> stack keys it set
    ignored: dict[str, str] = field(default_factory=dict)  # OSA variable -> reason
    notes: list[str] = field(default_factory=list)
    todo: list[str] = field(default_factory=list)  # placeholders the stack refuses until replaced
    sources: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Value:
    value: Any
    file: str
    via: Optional[str] = None  # the variable a "{{ name }}" reference was resolved through


def load_variables(paths: list[Path]) -> dict[str, _Value]:
    """Every top-level variable of the files; a later file wins, as in OpenStack-Ansible."""
    variables: dict[str, _Value] = {}
    for path in paths:
        data = yaml.load(Path(path).read_text(), Loader=_Loader) or {}
        if not isinstance(data, dict):
            raise Refused([f"{path}: not a YAML mapping of variables"])
        for name, value in data.items():
            variables[str(name)] = _Value(value, Path(path).name)
    return variables


def _is_jinja(value: Any) -> bool:
    if isinstance(value, Unsafe):
        return False
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(_is_jinja(v) for v in value.values())
    if isinstance(value, list):
        return any(_is_jinja(v) for v in value)
    return False


def _resolved(name: str, variables: dict[str, _Value]) -> _Value:
    """A value of exactly "{{ other }}" where `other` is set (literally) in the files, resolved."""
    entry, seen = variables[name], {name}
    while isinstance(entry.value, str) and not isinstance(entry.value, Unsafe):
        match = _REFERENCE.match(entry.value.strip())
        if not match or match.group(1) not in variables or match.group(1) in seen:
            break
        seen.add(match.group(1))
        entry = _Value(variables[match.group(1)].value, variables[name].file, match.group(1))
    return entry


def _shown(value: Any) -> str:
    return repr(value) if not isinstance(value, Unsafe) else repr(str(value))


class _Converter:
    def __init__(self, variables: dict[str, _Value], options: Options):
        self.variables, self.options = variables, options
        self.result = Conversion()
        self.refusals: dict[str, str] = {}

    # -- recording --

    def refuse(self, name: str, why: str, value: Any = None) -> None:
        entry = self.variables[name]
        shown = _shown(entry.value if value is None else value)
        if name in self.options.ignore:
            self.result.ignored[name] = f"dropped on request (--ignore): {why}"
        else:
            self.refusals[name] = f"{name}={shown} ({entry.file}): {why}"

    def ignore(self, name: str, reason: str) -> None:
        self.result.ignored[name] = reason

    def write(self, source: str, keys: tuple[str, ...], value: Any) -> None:
        for key in keys:
            _set_path(self.result.config, key, value)
        self.result.mapped[source] = keys

    # -- the variables --

    def run(self) -> Conversion:
        # Mapped variables first: some ignore reasons compare with what they set.
        for name in self.variables:
            if name in RULES:
                self.mapped(RULES[name])
        for name in self.variables:
            if name not in RULES and name not in IMAGE_VARIABLES:
                self.ignored(name)
        self.images()
        self.segment()
        if self.refusals:
            raise Refused(list(self.refusals.values()))
        return self.result

    def mapped(self, rule: Rule) -> None:
        entry = _resolved(rule.osa, self.variables)
        if isinstance(entry.value, Vault):
            why = f"encrypted with ansible-vault: write the plain value of {_keys(rule)} by hand"
            return self.refuse(rule.osa, why)
        if _is_jinja(entry.value):
            if rule.needs_literal:
                return self.refuse(
                    rule.osa, f"a Jinja expression, not a value; {_keys(rule)} needs the literal value and has no safe "
                    "default: write the value itself",
                )
            why = f"Jinja expression, not a value: set {_keys(rule)} by hand (the stack's default stays)"
            return self.ignore(rule.osa, why)
        try:
            value = rule.convert(entry.value)
        except Unmappable as error:
            return self.refuse(rule.osa, f"{_keys(rule)}: {error}", entry.value)
        source = rule.osa if entry.via is None else f"{rule.osa} (via {entry.via})"
        if value is KEEP_DEFAULT:
            self.result.mapped[source] = ()
        else:
            self.write(source, rule.keys, value)

    def ignored(self, name: str) -> None:
        value = _resolved(name, self.variables).value
        guard = GUARDS.get(name)
        why = guard(value) if guard else None
        if why:
            return self.refuse(name, why)
        if name == "octavia_security_group_rule_cidr" and not _is_jinja(value):
            return self._rule_cidr(name, value)
        if name in IGNORED or name in NOT_IN_ROLE:
            return self.ignore(name, IGNORED.get(name) or NOT_IN_ROLE[name])
        for prefixes, reason in PREFIX_REASONS:
            if name.startswith(prefixes):
                return self.ignore(name, reason)
        if name.startswith("octavia_"):
            known = [*RULES, *IGNORED, *NOT_IN_ROLE, *IMAGE_VARIABLES]
            guess = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
            hint = f"; did you mean {guess[0]}?" if guess else ""
            return self.ignore(name, f"not a variable of os_octavia at {ROLE_COMMIT[:10]}: nothing reads it{hint}")
        users = [n for n in self.variables if _resolved(n, self.variables).via == name]
        if users:
            return self.ignore(name, f"not an os_octavia variable; its value reached {', '.join(users)}")
        self.ignore(name, "not an os_octavia variable (other roles' and deployment-wide settings)")

    def _rule_cidr(self, name: str, value: Any) -> None:
        """The role's one rule source: the management subnet (nothing to write), or another network,
        which the stack admits besides the subnet (mgmt_extra_sources)."""
        key = "mgmt_extra_sources"
        try:
            network = ipaddress.ip_network(str(value).strip(), strict=False)
            subnet = ipaddress.ip_network(str(self.result.config.get("mgmt_subnet_cidr", OSA_DEFAULT_CIDR)), strict=False)
        except ValueError:
            return self.refuse(name, f"{key}: a network in CIDR form, e.g. 10.20.0.0/16")
        if network == subnet:
            return self.ignore(name, IGNORED[name])
        if network.prefixlen == 0:
            return self.refuse(
                name, f"{key}: {network} admits every address (the role's default before it scoped rules to the "
                "management subnet); the stack refuses it unless it is in mgmt_allowed_open_prefixes and in the policy "
                "pack's allowed_open_prefixes: set those and mgmt_extra_sources by hand to keep it, or convert with "
                f"--ignore {name} to admit the management subnet only",
            )
        if network.version != subnet.version or network.subnet_of(subnet):
            return self.refuse(name, f"{key}: an IPv{subnet.version} network outside mgmt_subnet_cidr {subnet}")
        # The role admits only this network; the stack admits it and the management subnet.
        self.write(name, (key,), [str(network)])

    def _literal(self, name: str) -> Any:
        if name not in self.variables:
            return None
        value = _resolved(name, self.variables).value
        return None if _is_jinja(value) or isinstance(value, Vault) else value

    def images(self) -> None:
        """amp_images from the image the role uploads: octavia_amp_image_resource or octavia_artefact_url."""
        download = True
        if "octavia_download_artefact" in self.variables:
            try:
                download = _boolean(self._literal("octavia_download_artefact"))
            except Unmappable:
                return self.refuse("octavia_download_artefact", "a boolean: whether the role uploads the amphora image")
            self.ignore(
                "octavia_download_artefact",
                "decides whether the role uploads an image: "
                + ("it does (-> amp_images)" if download else "it does not, so amp_images must be set by hand"),
            )
        source = None
        if "octavia_amp_image_resource" in self.variables:
            source = self._image_resource(download)
        if "octavia_artefact_url" in self.variables:
            if source is not None and source[0].endswith("(via octavia_artefact_url)"):
                self.ignore("octavia_artefact_url", "its value reached amp_images through octavia_amp_image_resource")
            elif source is not None:
                self.ignore("octavia_artefact_url", "not used by the role: octavia_amp_image_resource names the image")
            elif not download:
                self.ignore("octavia_artefact_url", "not used by the role: octavia_download_artefact is false")
            else:
                source = self._image_source("octavia_artefact_url", _resolved("octavia_artefact_url", self.variables))
        if source is not None:
            self.write(source[0], ("amp_images",), [{"version": self._image_version(), "source": source[1]}])
        elif not {"octavia_artefact_url", "octavia_amp_image_resource"} & set(self.refusals):
            self.result.config["amp_images"] = [
                {"version": IMAGE_VERSION_PLACEHOLDER, "source": IMAGE_SOURCE_PLACEHOLDER}
            ]
            why = (
                "the role downloaded its default, Octavia's test-only image, which is not for production"
                if download
                else "octavia_download_artefact is false: the image was uploaded outside the role"
            )
            self.result.todo.append(
                f"amp_images: placeholder ({why}); set {{version, source}} of the image to deploy (a file, an "
                "http(s) URL, or {manifest: PATH} of tools/amphora_image)"
            )

    def _image_resource(self, download: bool) -> Optional[tuple[str, str]]:
        name = "octavia_amp_image_resource"
        value = self.variables[name].value
        if not download:
            self.ignore(name, "not used by the role: octavia_download_artefact is false")
            return None
        if not (isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict) and "url" in value[0]):
            self.refuse(name, "amp_images takes one source per version: set it by hand from these images")
            return None
        url = value[0]["url"]
        match = _REFERENCE.match(url.strip()) if isinstance(url, str) and not isinstance(url, Unsafe) else None
        if match and match.group(1) in self.variables:  # e.g. the role's own url: "{{ octavia_artefact_url }}"
            return self._image_source(name, _resolved(match.group(1), self.variables), via=match.group(1))
        return self._image_source(name, _Value(url, self.variables[name].file))

    def _image_source(self, name: str, entry: _Value, via: Optional[str] = None) -> Optional[tuple[str, str]]:
        """(mapping source, amp_images source) of a literal file or URL, or None after a refusal."""
        if isinstance(entry.value, Vault):
            self.refuse(name, "encrypted with ansible-vault: write the image's URL or file in amp_images by hand")
        elif _is_jinja(entry.value):
            self.refuse(
                name, "a Jinja expression, not a value; amp_images needs the image's literal URL or file and has no "
                "safe default: write the value itself",
            )
        else:
            try:
                label = name if not (via or entry.via) else f"{name} (via {via or entry.via})"
                return label, _image_source(entry.value)
            except Unmappable as error:
                self.refuse(name, f"amp_images: {error}", entry.value)
        return None

    def _image_version(self) -> str:
        if self.options.image_version:
            return self.options.image_version
        branch = self._literal("octavia_git_install_branch")
        if isinstance(branch, str):
            version = branch.strip().rpartition("/")[2]
            if version != "master" and _VERSION.match(version):
                note = f"amp_images version {version!r} comes from octavia_git_install_branch ({branch})"
                self.result.notes.append(note)
                return version
        self.result.notes.append(
            'amp_images version "osa" names the image the role uploaded; --image-version sets another'
        )
        return "osa"

    def segment(self) -> None:
        """Network type against physical network and segmentation id, as the stack checks them."""
        config = self.result.config
        # The role's default is flat; a refused or Jinja type is not checked further.
        network_type = config.get("mgmt_network_type") if "octavia_provider_network_type" in self.variables else "flat"
        if network_type in OVERLAY_TYPES:
            config["mgmt_physical_network"] = ""
            overlay = f'{network_type} is an overlay: the stack sets no physical network (mgmt_physical_network: "")'
            if self.refusals.pop("octavia_provider_network_name", None):
                self.ignore("octavia_provider_network_name", overlay)
            for source in [s for s in self.result.mapped if s.split(" ")[0] == "octavia_provider_network_name"]:
                del self.result.mapped[source]
                self.ignore("octavia_provider_network_name", overlay)
            for source in [s for s in self.result.mapped if s.split(" ")[0] == "octavia_provider_network_type"]:
                self.result.mapped[source] = ("mgmt_network_type", "mgmt_physical_network")
        segment = config.get("mgmt_segmentation_id")
        if network_type == "flat" and segment:
            self.refuse(
                "octavia_provider_segmentation_id",
                "a flat network has no segmentation id (mgmt_segmentation_id must be 0): remove it or use vlan",
            )
        if network_type == "vlan" and segment and segment > 4094:
            self.refuse("octavia_provider_segmentation_id", "mgmt_segmentation_id: a VLAN id from 1 to 4094")


def _image_source(value: Any) -> str:
    source = _text(value)
    if "://" in source and not source.startswith(("http://", "https://")):
        raise Unmappable("a local file path or an http(s) URL (Glance web-download)")
    return source


def _keys(rule: Rule) -> str:
    return ", ".join(rule.keys)


def _additional_rules(value: Any) -> Optional[str]:
    if value in ([], None):
        return None
    return (
        "the stack's security groups are built from its own rule table: another source for its rules is "
        "mgmt_extra_sources; add other rules outside the stack, then convert with --ignore "
        "octavia_security_group_additional_rules"
    )


def _agent_port(value: Any) -> Optional[str]:
    if str(value).strip() == str(AMPHORA_AGENT_PORT):
        return None
    return f"the stack's amphora security group opens the agent on {AMPHORA_AGENT_PORT} only"


# Ignored variables whose value would change what the stack must build: refused unless the default.
GUARDS: dict[str, Callable[[Any], Optional[str]]] = {
    "octavia_security_group_additional_rules": _additional_rules,
    "octavia_agent_port": _agent_port,
}


def _set_path(config: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        config = config.setdefault(part, {})
    config[leaf] = value


# --- openstack_user_config.yml ---------------------------------------------------------------------


def _user_config_ranges(entries: Any) -> list[tuple[ipaddress._BaseAddress, ipaddress._BaseAddress, str]]:
    """used_ips entries ("first,last" or one address) as (first, last, text)."""
    ranges = []
    for text in entries or []:
        first_text, _, last_text = str(text).partition(",")
        try:
            first = ipaddress.ip_address(first_text.strip())
            last = ipaddress.ip_address((last_text or first_text).strip())
        except ValueError:
            raise Refused([f"used_ips entry {text!r}: not \"FIRST,LAST\" or one address"]) from None
        ranges.append((min(first, last), max(first, last), str(text)))
    return ranges


def _minus(first: int, last: int, holes: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """[first, last] without the holes, as sorted ranges."""
    pieces = [(first, last)]
    for hole_first, hole_last in holes:
        pieces = [
            part
            for low, high in pieces
            for part in ((low, min(high, hole_first - 1)), (max(low, hole_last + 1), high))
            if part[0] <= part[1]
        ]
    return pieces


def apply_user_config(conversion: Conversion, user_config: dict[str, Any], source: str) -> None:
    """used_ips -> mgmt_reserved_ranges / mgmt_used_ips; the provider network's interface; hints."""
    config = conversion.config
    cidr = ipaddress.ip_network(config.get("mgmt_subnet_cidr", OSA_DEFAULT_CIDR))
    pools = [
        (int(ipaddress.ip_address(p["start"])), int(ipaddress.ip_address(p["end"])))
        for p in config.get("mgmt_allocation_pools", [])
    ]
    fixed = {hm["ip"] for hm in config.get("health_managers", []) if hm.get("ip")}
    reserved, used, skipped = [], [], []
    subnet = (int(cidr.network_address), int(cidr.broadcast_address))
    for first, last, text in _user_config_ranges(user_config.get("used_ips")):
        if first.version != cidr.version or int(last) < subnet[0] or int(first) > subnet[1]:
            continue  # another network's addresses
        low, high = max(int(first), subnet[0]), min(int(last), subnet[1])
        # OpenStack-Ansible keeps used_ips away from its containers: a part inside the Neutron pool is
        # the pool itself, kept from the inventory, not an address the pool must avoid.
        parts = _minus(low, high, pools)
        if not parts:
            skipped.append(text)
        for part_first, part_last in parts:
            start, end = ipaddress.ip_address(part_first), ipaddress.ip_address(part_last)
            if part_first == part_last:
                if str(start) not in fixed:
                    used.append(str(start))
            else:
                reserved.append({"start": str(start), "end": str(end)})
    if reserved:
        config["mgmt_reserved_ranges"] = reserved
    if used:
        config["mgmt_used_ips"] = used
    if reserved or used:
        conversion.mapped[f"used_ips ({source})"] = tuple(
            key for key, items in (("mgmt_reserved_ranges", reserved), ("mgmt_used_ips", used)) if items
        )
    if skipped:
        conversion.notes.append(
            f"used_ips {', '.join(skipped)} ({source}) lie inside the allocation pools: they keep the pools away from "
            "the inventory's containers, so the stack does not reserve them"
        )
    _provider_network(conversion, user_config, source, cidr)
    hosts = sorted((user_config.get("octavia-infra_hosts") or {}).keys())
    if hosts and HEALTH_MANAGER_PLACEHOLDER in str(config.get("health_managers")):
        conversion.todo.append(
            f"{source} has octavia-infra_hosts {', '.join(hosts)}: their lbaas addresses are in "
            "openstack_inventory.json (container_networks.<queue>_address); pass --health-manager HOST=IP for each"
        )


def _provider_network(conversion: Conversion, user_config: dict[str, Any], source: str, cidr) -> None:
    """The provider network carrying the health managers: its container_interface and address queue."""
    config = conversion.config
    net_name = config.get("mgmt_physical_network") or "lbaas"
    networks = ((user_config.get("global_overrides") or {}).get("provider_networks")
                or user_config.get("provider_networks") or [])  # fmt: skip
    found = [n.get("network", {}) for n in networks if (n.get("network") or {}).get("net_name") == net_name]
    if not found:
        return
    network = found[0]
    interface = network.get("container_interface")
    if interface and "health_manager_interface" not in config:
        try:
            config["health_manager_interface"] = _interface(interface)
            conversion.mapped[f"provider_networks[net_name={net_name}].container_interface ({source})"] = (
                "health_manager_interface",
            )
            if network.get("container_bridge"):
                conversion.notes.append(
                    f"health_manager_interface {interface} is the containers' interface; a health manager on metal "
                    f"reaches the network on {network['container_bridge']}: set its health_managers[].interface"
                )
        except Unmappable:
            conversion.notes.append(f"container_interface {interface!r} ({source}) is not an interface name: not used")
    queue = network.get("ip_from_q")
    queue_cidr = (user_config.get("cidr_networks") or {}).get(queue)
    if queue_cidr and str(queue_cidr).strip() != str(cidr):
        conversion.notes.append(
            f"cidr_networks.{queue} is {queue_cidr} ({source}) but mgmt_subnet_cidr is {cidr}: the health managers' "
            "addresses must lie in the management subnet"
        )


# --- entry points ----------------------------------------------------------------------------------

# Role defaults that differ from the stack's: noted when the files leave the variable unset.
ROLE_DEFAULTS_THAT_DIFFER = (
    ("octavia_management_net_dhcp", "mgmt_enable_dhcp", '"False"', "true"),
    ("octavia_provider_network_mtu", "mgmt_mtu", "1500 (set by the role's network task)", "0, Neutron's value"),
    ("octavia_amp_flavor_name", "amp_flavor_name", "m1.amphora", "amphora"),
    ("octavia_amp_disk", "amp_flavor_disk_gb", "20 (0 with Cinder)", "2"),
    ("octavia_cert_validity_days", "pki.*_ca.validity_days", "1825", "3650"),
    ("octavia_container_interface", "health_manager_interface", "the provider network's container_interface", "o-hm0"),
)


def convert(
    variable_files: list[Path], user_configs: list[Path] = (), options: Optional[Options] = None
) -> Conversion:
    """The stack config for the files, or Refused with one line per variable that cannot be converted."""
    options = options or Options()
    variables = load_variables(list(variable_files))
    conversion = _Converter(variables, options).run()
    conversion.sources = [Path(p).name for p in variable_files]
    if options.health_managers:
        conversion.config["health_managers"] = [
            {"host": hm.host, **({"ip": hm.ip} if hm.ip else {})} for hm in options.health_managers
        ]
        conversion.mapped["--health-manager"] = ("health_managers",)
    else:
        conversion.config["health_managers"] = [{"host": HEALTH_MANAGER_PLACEHOLDER}]
        conversion.todo.insert(0, (
            "health_managers: placeholder, refused by the stack's validation; OpenStack-Ansible takes them from its "
            "inventory (octavia-health-manager hosts): convert again with --health-manager HOST[=IP] for each"
        ))  # fmt: skip
    for path in user_configs:
        data = yaml.load(Path(path).read_text(), Loader=_Loader) or {}
        conversion.sources.append(Path(path).name)
        apply_user_config(conversion, data, Path(path).name)
    for name, key, role_default, stack_default in ROLE_DEFAULTS_THAT_DIFFER:
        if name not in variables and not any(key == k for keys in conversion.mapped.values() for k in keys):
            conversion.notes.append(
                f"{name} is not set, so the role used {role_default}; the stack's {key} is {stack_default}"
            )
    return conversion


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False):  # lists indented under their key
        return super().increase_indent(flow, False)


_Dumper.add_representer(Unsafe, lambda dumper, data: dumper.represent_str(str(data)))


def render(conversion: Conversion, stack: Optional[str] = None) -> str:
    lines = [
        f"# {PROJECT} stack{' ' + stack if stack else ''}, converted from OpenStack-Ansible by "
        "`python -m tools.from_osa`",
        f"# from {', '.join(conversion.sources)}; variable names of {ROLE} at {ROLE_COMMIT[:12]}.",
    ]
    if conversion.todo:
        lines += ["#", "# TO DO before `pulumi preview` (the stack refuses this file until then):"]
        lines += [f"#   - {item}" for item in conversion.todo]
    lines += ["#", "# Mapped (OpenStack-Ansible -> stack key):"]
    lines += [f"#   {name} -> {', '.join(keys) or '(the stack default)'}" for name, keys in conversion.mapped.items()]
    if conversion.ignored:
        lines += ["#", "# Ignored (nothing in this file comes from them):"]
        lines += [f"#   {name}: {reason}" for name, reason in conversion.ignored.items()]
    if conversion.notes:
        lines += ["#", "# Notes:"]
        lines += [f"#   - {note}" for note in conversion.notes]
    body = {f"{PROJECT}:{key}": value for key, value in _ordered(conversion.config).items()}
    text = yaml.dump({"config": body}, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=120)
    return "\n".join(lines) + "\n" + text


def _ordered(config: dict[str, Any]) -> dict[str, Any]:
    order = [key for rule in MAPPINGS for key in rule.keys if "." not in key]
    order[order.index("mgmt_allocation_pools") + 1 : 0] = ["mgmt_reserved_ranges", "mgmt_used_ips"]
    order[order.index("health_manager_port") : 0] = ["health_managers"]
    order[order.index("amp_image_tag") : 0] = ["amp_images"]
    rank = {key: index for index, key in enumerate(order)}
    return dict(sorted(config.items(), key=lambda item: (item[0] == "pki", rank.get(item[0], len(rank)))))


def _stack_file_settings(path: Path, force: bool) -> dict[str, Any]:
    """The settings of an existing stack file besides its config (encryptionsalt, secretsprovider, ...).

    A file written by `pulumi stack init` (no config yet) is completed; one with config is replaced
    only with --force. Either way its secrets settings stay, so the stack's secrets keep decrypting.
    """
    if not path.exists():
        return {}
    existing = yaml.safe_load(path.read_text()) or {}
    if not isinstance(existing, dict):
        raise Refused([f"{path} is not a stack file (not a YAML mapping); remove it or choose another --output"])
    if existing.get("config") and not force:
        raise Refused([f"{path} already has config (maybe the stack's secrets); use --force to replace its config"])
    return {key: value for key, value in existing.items() if key != "config"}


def _health_manager(text: str) -> HealthManager:
    host, _, ip = (part.strip() for part in text.partition("="))
    if not _HOSTNAME.match(host):
        raise argparse.ArgumentTypeError(f"{text!r}: HOST[=IP] with an RFC 1123 host name")
    if ip:
        try:
            ip = str(ipaddress.ip_address(ip))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: IP is not an IPv4 or IPv6 address") from None
    return HealthManager(host, ip or None)


def _image_version_arg(text: str) -> str:
    if not _VERSION.match(text):
        raise argparse.ArgumentTypeError(
            f"{text!r}: letters, digits, '.', '_', '+' and '-', starting with a letter or digit"
        )
    return text


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.from_osa", description=__doc__.split("\n\n")[0].strip(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("files", nargs="+", type=Path, metavar="USER_VARIABLES.yml", help="later files win")
    parser.add_argument("--user-config", action="append", type=Path, default=[], metavar="openstack_user_config.yml",
                        help="read used_ips, cidr_networks and the provider network (repeatable)")  # fmt: skip
    parser.add_argument("--health-manager", action="append", type=_health_manager, default=[], metavar="HOST[=IP]",
                        help="a host running octavia-health-manager, with its fixed IP (repeatable)")  # fmt: skip
    parser.add_argument("--image-version", type=_image_version_arg,
                        help="amphora image version (default: octavia_git_install_branch's, else osa)")  # fmt: skip
    parser.add_argument("--ignore", action="append", default=[], metavar="VARIABLE",
                        help="drop this refused variable instead of stopping (repeatable)")  # fmt: skip
    parser.add_argument("--stack", help="stack name: the output goes to stacks/Pulumi.<NAME>.yaml unless --output")
    parser.add_argument("--output", type=Path, help="where to write the stack file (default: standard output)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing output file")
    args = parser.parse_args(argv)
    hosts = [hm.host for hm in args.health_manager]
    if len(set(hosts)) != len(hosts):
        repeated = sorted({host for host in hosts if hosts.count(host) > 1})
        parser.error(f"--health-manager: each host once; repeated: {', '.join(repeated)}")
    options = Options(tuple(args.health_manager), args.image_version, tuple(args.ignore))
    try:
        conversion = convert(args.files, args.user_config, options)
    except Refused as refused:
        for line in refused.lines:
            print(f"from_osa: refused: {line}", file=sys.stderr)
        return 2
    except (OSError, yaml.YAMLError) as error:
        print(f"from_osa: {error}", file=sys.stderr)
        return 2
    text = render(conversion, args.stack)
    output = args.output or (ROOT / "stacks" / f"Pulumi.{args.stack}.yaml" if args.stack else None)
    if output is None:
        sys.stdout.write(text)
    else:
        try:
            kept = _stack_file_settings(output, args.force)
        except Refused as refused:
            print(f"from_osa: {refused.lines[0]}", file=sys.stderr)
            return 2
        if kept:
            text += yaml.dump(kept, Dumper=_Dumper, sort_keys=False, default_flow_style=False)
        output.write_text(text)
        print(f"from_osa: wrote {output}" + (f" (kept its {', '.join(kept)})" if kept else ""), file=sys.stderr)
    for item in conversion.todo:
        print(f"from_osa: to do: {item}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
