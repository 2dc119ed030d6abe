"""The settings model: reads and validates the whole stack config before any resource is declared.

Input is a plain dict of config values keyed without the project namespace, so tests need no
Pulumi runtime. Keys, types and defaults come from the config schema in Pulumi.yaml (the one place
every knob is documented); this module adds the checks a type cannot express. Every failure is a
ConfigError naming the key, the bad value and what would be valid.
"""

from __future__ import annotations

import difflib
import functools
import ipaddress
import json
import math
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

import yaml
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from config.errors import ConfigError
from config.image_manifest import SUFFIX as MANIFEST_SUFFIX, file_sha256, read_manifest
from config.netmath import IPAddress, IPNetwork, IpRange, default_pools, first_overlap, subtract, usable_range
from config.pki import parse_pki_settings
from config.schema import ConfigKey, load_schema
from config.sources import parse_allowed_open_prefixes, parse_extra_sources

# Options that existed once and were removed (upstream, or here): asking for them is an error that
# says so.
REMOVED_KEYS = {
    "spare_amphora_pool_size": "the spare amphora pool was removed from Octavia in Xena; "
    "remove the key (failover speed now comes from a small image and a fast boot)",
    "lbaas_v1": "the neutron-lbaas v1 API is retired (neutron-lbaas itself was retired in Train); "
    "remove the key, Octavia serves the v2 API",
    "neutron_lbaas": "neutron-lbaas was retired in Train; remove the key, Octavia serves the "
    "load-balancer v2 API directly",
    "members_per_pool": "removed with the service project's Octavia quotas, which limited nothing "
    "(load balancers belong to tenants); remove the key, and set octavia_tenant_quotas.member for "
    "tenants' default",
}

AMPHORAE_PER_LOADBALANCER = {"SINGLE": 1, "ACTIVE_STANDBY": 2}
# Segmentation id range per network type; flat has none.
SEGMENTATION_RANGES = {"flat": None, "vlan": (1, 4094), "vxlan": (1, 16777215), "geneve": (1, 16777215)}
ANTI_AFFINITY_POLICIES = ("anti-affinity", "soft-anti-affinity")
ARCHITECTURES = ("x86_64", "aarch64", "ppc64le", "s390x")
# Glance disk formats an amphora image may have; the first is the default.
DISK_FORMATS = ("qcow2", "raw")
SSH_KEY_TYPES = ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521")
# Neutron DHCP ports also take pool addresses (dhcp_agents_per_network, 2 in HA deployments).
DHCP_PORTS_PER_NETWORK = 2
MTU_RANGE = (68, 9216)
IPV6_MIN_MTU = 1280
PORT_RANGE = (1, 65535)
# octavia_tenant_quotas keys: Octavia's [quotas] default_<name>_quota options (octavia/common/config.py).
OCTAVIA_TENANT_QUOTA_NAMES = ("load_balancer", "listener", "pool", "health_monitor", "member", "l7policy", "l7rule")
# Octavia's quota bounds (octavia/common/constants.py): QUOTA_UNLIMITED (-1) to MAX_QUOTA.
OCTAVIA_QUOTA_RANGE = (-1, 2000000000)
# RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens.
_HOSTNAME = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*$")
_NAME_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
# A Linux interface name (at most 15 bytes, IFNAMSIZ - 1), restricted to characters nftables and
# iptables take literally: no '+' (an iptables wildcard), quotes, '/', ':' or whitespace.
_INTERFACE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,14}$")


# --- the schema ---------------------------------------------------------------------------------


_PYTHON_TYPES = {"string": (str,), "integer": (int,), "boolean": (bool,), "array": (list, tuple), "object": (dict,)}


def _matches(value: Any, type_name: str) -> bool:
    # bool is an int in Python; a boolean must not pass as an integer or the reverse.
    if type_name == "integer" and isinstance(value, bool):
        return False
    return isinstance(value, _PYTHON_TYPES[type_name])


def _typed_values(raw: Mapping[str, Any], schema: Mapping[str, ConfigKey]) -> dict[str, Any]:
    """Defaults merged with raw values, after rejecting removed, unknown, missing and mistyped keys."""
    check_old_forms(raw)
    _reject_unknown(raw, schema)
    for key, value in raw.items():
        _check_type(key, value, schema[key])
    for key, spec in schema.items():
        if spec.default is None and key not in raw:  # Pulumi says so first; kept for callers without it
            shapes = " or ".join(map(str, RECORD_SHAPES.get(key, ())))
            raise ConfigError(key, None, f"required: a list of {shapes} (see Pulumi.yaml)" if shapes else "required")
    return {**{name: spec.default for name, spec in schema.items()}, **raw}


def _reject_unknown(raw: Mapping[str, Any], schema: Mapping[str, ConfigKey]) -> None:
    errors = unknown_key_errors(raw, schema)
    if errors:
        raise errors[0]


def unknown_key_errors(raw: Mapping[str, Any], schema: Mapping[str, ConfigKey]) -> list[ConfigError]:
    """Removed keys with the reason, then keys the schema does not know with a "did you mean"."""
    errors = [ConfigError(key, value, REMOVED_KEYS[key]) for key, value in raw.items() if key in REMOVED_KEYS]
    known = sorted(schema)
    for key, value in raw.items():
        if key not in known and key not in REMOVED_KEYS and key not in REPLACED_KEYS:
            guess = difflib.get_close_matches(key, known, n=1)
            hint = f"did you mean {guess[0]}? " if guess else ""
            errors.append(ConfigError(key, value, f"unknown key; {hint}known keys: {', '.join(known)}"))
    return errors


def _check_type(key: str, value: Any, spec: ConfigKey) -> None:
    if not _matches(value, spec.type):
        raise ConfigError(key, value, f"must be of type {spec.type}")
    if spec.type != "array":
        return
    for index, item in enumerate(value):
        if not _matches(item, spec.item_type):
            hint = _in_new_form(key, [item], item=True) if isinstance(item, str) else ""
            raise ConfigError(f"{key}[{index}]", item, f"must be of type {spec.item_type}{hint}")


# --- objects in arrays, and the string forms they replaced ---------------------------------------


@dataclass(frozen=True)
class Shape:
    """The fields of one kind of record in an array of objects; every field value is a string
    except those typed in `types` (field -> "integer" or an array of records, "array")."""

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    types: tuple[tuple[str, str], ...] = ()

    def fits(self, record: Mapping) -> bool:
        return set(self.required) <= set(record) <= {*self.required, *self.optional}

    def __str__(self) -> str:
        fields = [*self.required, *(f"{name} (optional)" for name in self.optional)]
        return "{" + ", ".join(fields) + "}"


# Each array of objects and the shapes its items may take (Pulumi.yaml describes them).
RECORD_SHAPES = {
    "mgmt_allocation_pools": (Shape(("start", "end")),),
    "mgmt_reserved_ranges": (Shape(("start", "end")), Shape(("cidr",))),
    "mgmt_host_routes": (Shape(("destination", "nexthop")),),
    "health_managers": (Shape(("host",), ("ip", "interface")),),
    "amp_images": (Shape(("version", "source"), ("disk_format",)), Shape(("manifest",))),
    "availability_zones": (Shape(
        ("name",),
        ("compute_zone", "subnet_cidr", "allocation_pools", "gateway_ip", "nexthop", "physical_network",
         "segmentation_id", "network_id", "subnet_id"),
        (("allocation_pools", "array"), ("segmentation_id", "integer")),
    ),),
}
# Arrays of records inside a record: field -> its records' shapes.
NESTED_SHAPES = {"allocation_pools": RECORD_SHAPES["mgmt_allocation_pools"]}


def _split(text: str, separator: str, names: tuple[str, str]) -> dict[str, str]:
    first, _, second = (part.strip() for part in text.partition(separator))
    return {names[0]: first, names[1]: second}


def _old_range(text: str) -> dict[str, str]:
    if "/" in text:
        return {"cidr": text.strip()}
    record = _split(text, "-", ("start", "end"))
    return {**record, "end": record["end"] or record["start"]}


def _old_image(text: str) -> dict[str, str]:
    return _split(text, "=", ("version", "source")) if "=" in text else {"manifest": text.strip()}


# The string forms values had before config was structured: each item's old form -> its new form.
# Only used to show an operator their value rewritten; the old forms are not accepted.
OLD_ITEM_FORMS: dict[str, Callable[[str], Any]] = {
    "mgmt_allocation_pools": _old_range,
    "mgmt_reserved_ranges": _old_range,
    "mgmt_host_routes": lambda text: _split(text, " via ", ("destination", "nexthop")),
    "amp_images": _old_image,
}


def _old_health_managers(raw: Mapping) -> list[dict[str, Any]]:
    """health_manager_hosts ("host" or "host=IP") and health_manager_interfaces ("host=INTERFACE")
    as health_managers records (those already given when only the interfaces are old)."""
    records = [_split(text, "=", ("host", "ip")) for text in raw.get("health_manager_hosts", [])]
    records = [{k: v for k, v in r.items() if v} for r in records] or [
        dict(r) for r in raw.get("health_managers") or [] if isinstance(r, dict)
    ]
    interfaces = dict(_split(text, "=", ("host", "interface")).values() for text in raw.get("health_manager_interfaces", []))
    return [{**r, **({"interface": interfaces[r.get("host")]} if r.get("host") in interfaces else {})} for r in records]


# Keys replaced by structured ones: old key -> (new key, the raw config rewritten as the new key's value).
REPLACED_KEYS: dict[str, tuple[str, Callable[[Mapping], Any]]] = {
    "health_manager_hosts": ("health_managers", _old_health_managers),
    "health_manager_interfaces": ("health_managers", _old_health_managers),
}


def _flow(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=1 << 16).strip()


def _in_new_form(key: str, value: Any, item: bool = False) -> str:
    """'; written as ...' for a value in a replaced string form, else ''."""
    if not (isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
        return ""
    if key == "amp_flavor_extra_specs":
        return f"; written as an object: {_flow(dict(_split(v, '=', ('k', 'v')).values() for v in value))}"
    if key in OLD_ITEM_FORMS:
        converted = [OLD_ITEM_FORMS[key](v) for v in value]
        return f"; written as an object: {_flow(converted[0])}" if item else f"; written as objects: {_flow(converted)}"
    return ""


def old_form_errors(raw: Mapping[str, Any]) -> list[ConfigError]:
    """Every value written in a string form of before structured config, each shown rewritten."""
    errors, replaced = [], set()
    for key, value in raw.items():
        if key in REPLACED_KEYS and REPLACED_KEYS[key][0] not in replaced:
            new_key, convert = REPLACED_KEYS[key]
            replaced.add(new_key)
            errors.append(ConfigError(key, value, f"replaced by {new_key}; written in its form: {new_key}: {_flow(convert(raw))}"))
        elif key not in REPLACED_KEYS and _in_new_form(key, value):
            errors.append(ConfigError(key, value, f"a structured value{_in_new_form(key, value)}"))
    return errors


def check_old_forms(raw: Mapping[str, Any]) -> None:
    """Refuse the first old-form value. Pulumi's own type check stops such a stack first with a bare
    type message, so tools/check_stack.py lists them all from the stack file (make preview / up)."""
    errors = old_form_errors(raw)
    if errors:
        raise errors[0]


def _records(values: Mapping, key: str) -> list[tuple[str, dict[str, Any]]]:
    """The items of an array of objects with their paths (key[i]), each checked against its shapes."""
    return _record_list(key, values[key], RECORD_SHAPES[key])


def _record_list(key: str, items: Any, shapes: tuple[Shape, ...]) -> list[tuple[str, dict[str, Any]]]:
    valid = " or ".join(str(shape) for shape in shapes)
    if not isinstance(items, (list, tuple)) or not all(isinstance(item, dict) for item in items):
        raise ConfigError(key, items, f"a list of objects {valid}")
    fields = sorted({name for shape in shapes for name in (*shape.required, *shape.optional)})
    types = {name: kind for shape in shapes for name, kind in shape.types}
    records = []
    for index, record in enumerate(items):
        path = f"{key}[{index}]"
        for name, value in record.items():
            if name not in fields:
                guess = difflib.get_close_matches(name, fields, n=1)
                hint = f"did you mean {guess[0]}? " if guess else ""
                raise ConfigError(f"{path}.{name}", value, f"unknown field; {hint}an item is {valid}")
            kind = types.get(name, "string")
            if kind == "string" and not isinstance(value, str):
                raise ConfigError(f"{path}.{name}", value, 'a string (quote it in YAML, e.g. version: "2025.1")')
            if kind != "string" and not _matches(value, kind):
                raise ConfigError(f"{path}.{name}", value, f"of type {kind}")
        if not any(shape.fits(record) for shape in shapes):
            raise ConfigError(path, record, f"an object {valid}")
        records.append((path, record))
    return records


def decode_config(raw: Mapping[str, str], schema: Optional[Mapping[str, ConfigKey]] = None) -> dict[str, Any]:
    """Turn the engine's config strings into typed values (arrays and objects arrive as JSON).

    Strings stay strings; anything that does not decode is passed on as-is so the type check
    reports it with its key.
    """
    schema = schema or load_schema()
    decoded = {}
    for key, text in raw.items():
        spec = schema.get(key)
        if spec is not None and spec.type == "string":
            decoded[key] = text
            continue
        try:
            decoded[key] = json.loads(text)
        except (TypeError, ValueError):
            decoded[key] = text
    return decoded


# --- the model ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HostRoute:
    destination: IPNetwork
    nexthop: IPAddress


@dataclass(frozen=True)
class AdoptedSubnet:
    """An existing subnet as Neutron has it (read once, before anything is declared)."""

    network_id: str
    cidr: IPNetwork
    allocation_pools: tuple[IpRange, ...]
    gateway_ip: Optional[IPAddress]


# Reads an adopted subnet by ID, naming the config key in its ConfigError when it cannot
# (components.network.read_subnet).
SubnetReader = Callable[..., AdoptedSubnet]


@dataclass(frozen=True)
class NetworkSettings:
    name: str
    network_type: str
    physical_network: Optional[str]
    segmentation_id: Optional[int]
    mtu: Optional[int]
    cidr: IPNetwork
    allocation_pools: tuple[IpRange, ...]  # effective pools: configured, or Neutron's default
    pools_configured: bool
    gateway_ip: Optional[IPAddress]
    enable_dhcp: bool
    dns_servers: tuple[IPAddress, ...]
    host_routes: tuple[HostRoute, ...]
    network_id: Optional[str]  # set when adopting an existing network
    subnet_id: Optional[str]
    # More sources every security-group rule admits besides cidr (config.sources checks them).
    extra_sources: tuple[IPNetwork, ...] = ()

    @property
    def ip_version(self) -> int:
        return self.cidr.version

    @property
    def adopted(self) -> bool:
        return self.network_id is not None


@dataclass(frozen=True)
class AvailabilityZone:
    """An Octavia availability zone: the Nova zone its amphorae boot in, and their management
    network (None: the stack's own)."""

    name: str
    compute_zone: str
    network: Optional[NetworkSettings]


# Reads the names of Nova's availability zones (components.network.read_compute_zones).
ComputeZoneReader = Callable[[], frozenset]


@dataclass(frozen=True)
class HealthManagerHost:
    name: str
    ip: Optional[IPAddress]  # None: Neutron allocates from the pools
    interface: str  # the host's management interface (its own, or health_manager_interface)


@dataclass(frozen=True)
class AccessSettings:
    ssh_enabled: bool
    ssh_public_key: Optional[str]  # None with ssh_enabled: Nova generates the key
    debug: bool
    log_offload: bool


@dataclass(frozen=True)
class FlavorSettings:
    name: str
    vcpus: int
    ram_mb: int
    disk_gb: int
    extra_specs: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class TopologySettings:
    default: str
    anti_affinity: bool
    anti_affinity_policy: str
    offered: tuple[str, ...]

    @property
    def max_amphorae_per_loadbalancer(self) -> int:
        return max(AMPHORAE_PER_LOADBALANCER[t] for t in (self.default, *self.offered))


@dataclass(frozen=True)
class ImageVersion:
    version: str
    source: str
    sha256: Optional[str] = None  # from a build manifest: the current file must match it
    disk_format: str = DISK_FORMATS[0]  # Glance's disk_format; a local current file must be of it

    @property
    def is_url(self) -> bool:
        return self.source.startswith(("http://", "https://"))


@dataclass(frozen=True)
class ImageSettings:
    tag: str
    architecture: str
    versions: tuple[ImageVersion, ...]  # oldest first; only the kept ones
    keep_previous: int
    tag_shared: bool = False  # amp_image_tag_shared: other images of the owner project may carry the tag

    @property
    def current(self) -> ImageVersion:
        return self.versions[-1]

    @property
    def previous(self) -> tuple[ImageVersion, ...]:
        return self.versions[:-1]


@dataclass(frozen=True)
class CapacitySettings:
    manage_quotas: bool
    expected_loadbalancers: int
    headroom_percent: int
    listeners_per_loadbalancer: int

    def with_headroom(self, count: int) -> int:
        return math.ceil(count * (100 + self.headroom_percent) / 100)


@dataclass(frozen=True)
class Settings:
    name_prefix: str
    service_project: str
    service_project_domain: str
    octavia_service_user: str  # owns the amphora keypair (Nova keypairs belong to a user)
    protect: bool
    network: NetworkSettings
    health_managers: tuple[HealthManagerHost, ...]
    health_manager_port: int
    access: AccessSettings
    flavor: FlavorSettings
    topology: TopologySettings
    image: ImageSettings
    capacity: CapacitySettings
    octavia_tenant_quotas: Mapping[str, int]  # only the names set, in OCTAVIA_TENANT_QUOTA_NAMES order
    cert_dir: str
    pki: Any  # config.pki.PkiSettings
    availability_zones: tuple[AvailabilityZone, ...] = ()
    amp_availability_zone: Optional[str] = None  # [nova] availability_zone; None: Nova's default

    @property
    def planned_amphorae(self) -> int:
        return self.capacity.expected_loadbalancers * self.topology.max_amphorae_per_loadbalancer

    @property
    def rule_sources(self) -> tuple[IPNetwork, ...]:
        """Sources every security-group rule admits besides the management subnet: the extra
        sources, then each availability zone's own subnet (amphorae there send heartbeats)."""
        zones = (zone.network.cidr for zone in self.availability_zones if zone.network)
        return tuple(dict.fromkeys((*self.network.extra_sources, *zones)))

    @property
    def zone_subnets(self) -> tuple[IPNetwork, ...]:
        """The availability zones' own management subnets."""
        return tuple(zone.network.cidr for zone in self.availability_zones if zone.network)


def parse_settings(
    raw: Mapping[str, Any],
    pki_parser: Callable[[Mapping], Any] = parse_pki_settings,
    read_subnet: Optional[SubnetReader] = None,
    read_compute_zones: Optional[ComputeZoneReader] = None,
) -> Settings:
    """Validate a whole config dict and return the settings, or raise the first ConfigError.

    pki_parser validates the `pki` section (components.pki owns its keys). read_subnet, when
    given, reads an adopted subnet so pools, gateway and fixed IPs are checked against it as it is;
    read_compute_zones, when given, lists Nova's zones so the compute zones named are checked.
    """
    values = _typed_values(raw, load_schema())
    topology = _topology(values)
    capacity = _capacity(values)
    network = _network(values, read_subnet)
    health_managers = _health_managers(values, network)
    _check_pool_capacity(values, network, health_managers, capacity, topology)
    zones = _availability_zones(values, network, read_subnet)
    amp_zone = values["amp_availability_zone"].strip() or None
    _check_compute_zones(values, zones, amp_zone, read_compute_zones)
    return Settings(
        name_prefix=_name_prefix(values),
        service_project=_non_empty(values, "service_project"),
        service_project_domain=_non_empty(values, "service_project_domain"),
        octavia_service_user=_non_empty(values, "octavia_service_user"),
        protect=values["protect"],
        network=network,
        health_managers=health_managers,
        health_manager_port=_integer(values, "health_manager_port", *PORT_RANGE),
        access=_access(values),
        flavor=_flavor(values),
        topology=topology,
        image=_image(values),
        capacity=capacity,
        octavia_tenant_quotas=_octavia_tenant_quotas(values),
        cert_dir=_non_empty(values, "octavia_cert_dir"),
        pki=pki_parser(values.get("pki") or {}),
        availability_zones=zones,
        amp_availability_zone=amp_zone,
    )


# --- scalar helpers -----------------------------------------------------------------------------


def _integer(values: Mapping, key: str, low: int, high: int) -> int:
    value = values[key]
    if not low <= value <= high:
        raise ConfigError(key, value, f"an integer from {low} to {high}")
    return value


def _choice(values: Mapping, key: str, valid: tuple[str, ...]) -> str:
    value = values[key]
    if value not in valid:
        raise ConfigError(key, value, f"one of {', '.join(valid)}")
    return value


def _non_empty(values: Mapping, key: str) -> str:
    value = values[key]
    if not value.strip():
        raise ConfigError(key, value, "a non-empty string")
    return value


def _optional(values: Mapping, key: str) -> Optional[str]:
    return values[key] or None


def _name_prefix(values: Mapping) -> str:
    value = values["name_prefix"]
    if value and not _NAME_PREFIX.match(value):
        raise ConfigError(
            "name_prefix", value, "empty, or letters, digits, '-', '_' and '.' starting with a letter or digit"
        )
    return value


def _address(key: str, text: str, shown: Any = None) -> IPAddress:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        raise ConfigError(key, shown if shown is not None else text, "an IPv4 or IPv6 address") from None


# --- management network -------------------------------------------------------------------------


def _network(values: Mapping, read_subnet: Optional[SubnetReader]) -> NetworkSettings:
    cidr = _cidr(values)
    gateway = _gateway(values, cidr)
    pools_configured = bool(values["mgmt_allocation_pools"])
    pools = _pools(values, cidr) if pools_configured else default_pools(cidr, gateway)
    network_type, physical_network, segmentation_id = _segment(values)
    network_id, subnet_id = _adoption(values)
    if subnet_id and read_subnet:
        pools, gateway = _as_adopted(values, read_subnet(subnet_id), cidr, pools, gateway)
    _check_ipv6(values, cidr)
    _check_pools_avoid(values, pools, gateway)
    return NetworkSettings(
        name=_non_empty(values, "mgmt_network_name"),
        network_type=network_type,
        physical_network=physical_network,
        segmentation_id=segmentation_id,
        mtu=_mtu(values, cidr),
        cidr=cidr,
        allocation_pools=pools,
        pools_configured=pools_configured,
        gateway_ip=gateway,
        enable_dhcp=values["mgmt_enable_dhcp"],
        dns_servers=_dns_servers(values, cidr),
        host_routes=_host_routes(values, cidr),
        network_id=network_id,
        subnet_id=subnet_id,
        extra_sources=parse_extra_sources(
            "mgmt_extra_sources", values["mgmt_extra_sources"], cidr,
            parse_allowed_open_prefixes("mgmt_allowed_open_prefixes", values["mgmt_allowed_open_prefixes"]),
        ),
    )


def _cidr(values: Mapping) -> IPNetwork:
    key, text = "mgmt_subnet_cidr", values["mgmt_subnet_cidr"]
    try:
        cidr = ipaddress.ip_network(text, strict=True)
    except ValueError:
        raise ConfigError(key, text, "a network in CIDR form without host bits, e.g. 172.29.232.0/22") from None
    if cidr.version == 4 and cidr.prefixlen > 29:
        raise ConfigError(key, text, "an IPv4 network of /29 or larger")
    if cidr.version == 6 and cidr.prefixlen != 64:
        raise ConfigError(key, text, "an IPv6 /64 (SLAAC needs a 64-bit prefix)")
    return cidr


def _gateway(values: Mapping, cidr: IPNetwork) -> Optional[IPAddress]:
    key, text = "mgmt_gateway_ip", values["mgmt_gateway_ip"]
    if not text:
        # IPv6 needs a gateway: the router that sends advertisements for SLAAC sits on it.
        return cidr[1] if cidr.version == 6 else None
    gateway = _address(key, text)
    if gateway not in cidr or gateway in (cidr.network_address, cidr.broadcast_address):
        raise ConfigError(key, text, f'"" or a host address inside {cidr}')
    return gateway


def _range(path: str, record: Mapping[str, str]) -> IpRange:
    """A {start, end} or {cidr} record as a range."""
    try:
        if "cidr" in record:
            return IpRange.parse(record["cidr"])
        start, end = (ipaddress.ip_address(record[name].strip()) for name in ("start", "end"))
    except ValueError:
        raise ConfigError(path, record, "IP addresses (or a CIDR) of one IP version") from None
    if start.version != end.version or start > end:
        raise ConfigError(path, record, "start and end of one IP version, start <= end")
    return IpRange(start, end)


def _pools(values: Mapping, cidr: IPNetwork) -> tuple[IpRange, ...]:
    key, pools = "mgmt_allocation_pools", []
    for path, record in _records(values, key):
        pool = _range(path, record)
        if (
            not pool.within(cidr)
            or pool.contains(cidr.network_address)
            or (cidr.version == 4 and pool.contains(cidr.broadcast_address))
        ):
            raise ConfigError(path, record, f"a range of host addresses inside {cidr}")
        pools.append(pool)
    overlap = first_overlap(pools)
    if overlap:
        raise ConfigError(key, _joined(pools), f"pools that do not overlap; {overlap[0]} overlaps {overlap[1]}")
    return tuple(sorted(pools))


def _check_pools_avoid(values: Mapping, pools: tuple[IpRange, ...], gateway: Optional[IPAddress]) -> None:
    """Pools must leave the gateway, reserved ranges and used addresses alone."""
    if gateway and any(pool.contains(gateway) for pool in pools):
        raise ConfigError("mgmt_gateway_ip", str(gateway), f"an address outside the allocation pools {_joined(pools)}")
    for path, record in _records(values, "mgmt_reserved_ranges"):
        if any(pool.overlaps(_range(path, record)) for pool in pools):
            raise ConfigError(path, record, f"a range outside the allocation pools {_joined(pools)}; shrink the pools")
    for text in values["mgmt_used_ips"]:
        used = _address("mgmt_used_ips", text)
        if any(pool.contains(used) for pool in pools):
            raise ConfigError(
                "mgmt_used_ips", text, f"an address outside the allocation pools {_joined(pools)}; shrink the pools"
            )


def _joined(pools) -> str:
    return ", ".join(str(p) for p in pools)


def _segment(values: Mapping) -> tuple[str, Optional[str], Optional[int]]:
    network_type = _choice(values, "mgmt_network_type", tuple(SEGMENTATION_RANGES))
    physical, segment = values["mgmt_physical_network"], values["mgmt_segmentation_id"]
    if network_type in ("flat", "vlan") and not physical:
        raise ConfigError(
            "mgmt_physical_network", physical, f"a physical network name; {network_type} networks need one"
        )
    if network_type in ("vxlan", "geneve") and physical:
        raise ConfigError(
            "mgmt_physical_network", physical, f'""; {network_type} is an overlay without a physical network'
        )
    if segment < 0:
        raise ConfigError("mgmt_segmentation_id", segment, "0 or a positive id")
    bounds = SEGMENTATION_RANGES[network_type]
    if bounds is None and segment:
        raise ConfigError("mgmt_segmentation_id", segment, "0; flat networks have no segmentation id")
    if bounds and segment and not bounds[0] <= segment <= bounds[1]:
        raise ConfigError(
            "mgmt_segmentation_id", segment, f"0 (Neutron chooses) or {bounds[0]}-{bounds[1]} for {network_type}"
        )
    return network_type, physical or None, segment or None


def _mtu(values: Mapping, cidr: IPNetwork) -> Optional[int]:
    mtu = values["mgmt_mtu"]
    if mtu == 0:
        return None
    low = IPV6_MIN_MTU if cidr.version == 6 else MTU_RANGE[0]
    if not low <= mtu <= MTU_RANGE[1]:
        raise ConfigError("mgmt_mtu", mtu, f"0 (Neutron's value) or {low}-{MTU_RANGE[1]} for IPv{cidr.version}")
    return mtu


def _adoption(values: Mapping) -> tuple[Optional[str], Optional[str]]:
    network_id, subnet_id = _optional(values, "mgmt_network_id"), _optional(values, "mgmt_subnet_id")
    if bool(network_id) != bool(subnet_id):
        missing = "mgmt_subnet_id" if network_id else "mgmt_network_id"
        raise ConfigError(
            missing,
            values[missing],
            "set together with the other of mgmt_network_id/mgmt_subnet_id to adopt an existing network",
        )
    return network_id, subnet_id


def _as_adopted(values: Mapping, subnet: AdoptedSubnet, cidr: IPNetwork, pools, gateway):
    """The adopted subnet's own pools and gateway, after checking the config describes that subnet
    (the stack does not change an adopted subnet; rules, ports and octavia.conf are scoped to it)."""
    network_id, subnet_id = values["mgmt_network_id"], values["mgmt_subnet_id"]
    if subnet.network_id != network_id:
        raise ConfigError("mgmt_subnet_id", subnet_id, f"a subnet of mgmt_network_id {network_id} (it is on network {subnet.network_id})")
    if subnet.cidr != cidr:
        raise ConfigError("mgmt_subnet_cidr", str(cidr), f"the adopted subnet's CIDR, {subnet.cidr}")
    if values["mgmt_allocation_pools"] and pools != tuple(sorted(subnet.allocation_pools)):
        raise ConfigError(
            "mgmt_allocation_pools", values["mgmt_allocation_pools"],
            f"the adopted subnet's pools {_joined(subnet.allocation_pools) or 'none'}, or leave the key out",
        )
    if values["mgmt_gateway_ip"] and gateway != subnet.gateway_ip:
        raise ConfigError("mgmt_gateway_ip", values["mgmt_gateway_ip"],
                          f"the adopted subnet's gateway, {subnet.gateway_ip or 'none'}, or leave the key out")
    return tuple(sorted(subnet.allocation_pools)), subnet.gateway_ip


def _check_ipv6(values: Mapping, cidr: IPNetwork) -> None:
    if cidr.version == 6 and not values["mgmt_enable_dhcp"]:
        raise ConfigError(
            "mgmt_enable_dhcp", False, "true for an IPv6 subnet (Neutron requires DHCP on for SLAAC address modes)"
        )


def _dns_servers(values: Mapping, cidr: IPNetwork) -> tuple[IPAddress, ...]:
    servers = tuple(_address("mgmt_dns_servers", text) for text in values["mgmt_dns_servers"])
    for server in servers:
        if server.version != cidr.version:
            raise ConfigError("mgmt_dns_servers", str(server), f"an IPv{cidr.version} address, like the subnet")
    return servers


def _host_routes(values: Mapping, cidr: IPNetwork) -> tuple[HostRoute, ...]:
    key, routes = "mgmt_host_routes", []
    for path, record in _records(values, key):
        try:
            destination = ipaddress.ip_network(record["destination"].strip())
        except ValueError:
            raise ConfigError(f"{path}.destination", record["destination"], "a network in CIDR form, e.g. 10.0.0.0/8") from None
        route = HostRoute(destination, _address(f"{path}.nexthop", record["nexthop"]))
        if route.nexthop not in cidr or route.destination.version != cidr.version:
            raise ConfigError(path, record, f"an IPv{cidr.version} route whose next hop is inside {cidr}")
        routes.append(route)
    destinations = [str(route.destination) for route in routes]
    if len(set(destinations)) != len(destinations):
        raise ConfigError(key, values[key], "one route per destination")
    return tuple(routes)


# --- availability zones -------------------------------------------------------------------------

# Fields that describe a network the stack creates for a zone; adopting or sharing takes none.
_ZONE_NETWORK_FIELDS = ("allocation_pools", "gateway_ip", "nexthop", "physical_network", "segmentation_id")


def _availability_zones(
    values: Mapping, network: NetworkSettings, read_subnet: Optional[SubnetReader]
) -> tuple[AvailabilityZone, ...]:
    key = "availability_zones"
    zones, paths = [], {}
    for path, record in _records(values, key):
        zone = _availability_zone(path, record, network, read_subnet)
        zones.append(zone)
        paths[zone.name] = path
    _check_unique(key, [zone.name for zone in zones], "names")
    taken = [("mgmt_subnet_cidr", network)]
    for zone in (zone for zone in zones if zone.network):
        path, own = paths[zone.name], zone.network
        for other_key, other in taken:
            if own.cidr.overlaps(other.cidr):
                raise ConfigError(f"{path}.subnet_cidr", str(own.cidr), f"a subnet that does not overlap {other_key} {other.cidr}")
            if not own.adopted and not other.adopted:
                _check_segments_differ(path, own, other_key, other)
        taken.append((f"{path}.subnet_cidr", own))
        _check_route_back(values, network, path, own.cidr)
    return tuple(zones)


def _availability_zone(
    path: str, record: Mapping, network: NetworkSettings, read_subnet: Optional[SubnetReader]
) -> AvailabilityZone:
    name = record["name"].strip()
    if not _NAME_PREFIX.match(name) or len(name) > 255:
        raise ConfigError(f"{path}.name", record["name"], "letters, digits, '-', '_' and '.', starting with a letter or digit")
    compute_zone = record.get("compute_zone", name).strip()
    if not compute_zone:
        raise ConfigError(f"{path}.compute_zone", record["compute_zone"], "a Nova availability zone name, or leave it out (the name)")
    adopting = "network_id" in record or "subnet_id" in record
    if not adopting and "subnet_cidr" not in record:
        given = [field for field in _ZONE_NETWORK_FIELDS if field in record]
        if given:
            raise ConfigError(f"{path}.{given[0]}", record[given[0]], "set with subnet_cidr: the zone's own subnet (without one, the zone uses the management network)")
        return AvailabilityZone(name, compute_zone, None)
    return AvailabilityZone(name, compute_zone, _zone_network(path, record, name, network, read_subnet, adopting))


def _zone_network(path, record, name, network: NetworkSettings, read_subnet, adopting: bool) -> NetworkSettings:
    cidr = _zone_cidr(path, record, network)
    if adopting:
        return _adopted_zone_network(path, record, name, cidr, network, read_subnet)
    gateway = _zone_gateway(path, record, cidr)
    nexthop = _address(f"{path}.nexthop", record["nexthop"]) if "nexthop" in record else None
    if "allocation_pools" in record:
        pools = _zone_pools(path, record, cidr)
    else:  # Neutron's default less the router's address, which the subnet must then be told
        pools = subtract(usable_range(cidr), [address for address in (gateway, nexthop) if address])
    for address, field in ((gateway, "gateway_ip"), (nexthop, "nexthop")):
        if address is not None and (address not in cidr or address in (cidr.network_address, cidr.broadcast_address)):
            raise ConfigError(f"{path}.{field}", record[field], f"a host address inside {cidr}")
        if address is not None and any(pool.contains(address) for pool in pools):
            raise ConfigError(f"{path}.{field}", record[field], f"an address outside the allocation pools {_joined(pools)}")
    if gateway is None and nexthop is None:
        raise ConfigError(
            path, record, f"a way from {cidr} to the health managers on {network.cidr}: nexthop (a router on "
            f"{cidr}, handed to amphorae as a route to {network.cidr}) or gateway_ip"
        )
    physical_network, segmentation_id = _zone_segment(path, record, network)
    return NetworkSettings(
        name=f"{network.name}-{name}",
        network_type=network.network_type,
        physical_network=physical_network,
        segmentation_id=segmentation_id,
        mtu=network.mtu,
        cidr=cidr,
        allocation_pools=pools,
        pools_configured=True,
        gateway_ip=gateway,
        enable_dhcp=network.enable_dhcp,
        dns_servers=network.dns_servers,
        host_routes=(HostRoute(network.cidr, nexthop),) if nexthop else (),
        network_id=None,
        subnet_id=None,
    )


def _zone_cidr(path: str, record: Mapping, network: NetworkSettings) -> IPNetwork:
    key, text = f"{path}.subnet_cidr", record.get("subnet_cidr")
    if text is None:
        raise ConfigError(key, None, "the CIDR of the adopted subnet (set with network_id and subnet_id)")
    try:
        cidr = ipaddress.ip_network(text.strip(), strict=True)
    except ValueError:
        raise ConfigError(key, text, "a network in CIDR form without host bits, e.g. 172.29.236.0/22") from None
    if cidr.version != network.ip_version:
        raise ConfigError(key, text, f"an IPv{network.ip_version} network, like mgmt_subnet_cidr (one rule set serves every zone)")
    if cidr.version == 4 and cidr.prefixlen > 29:
        raise ConfigError(key, text, "an IPv4 network of /29 or larger")
    if cidr.version == 6 and cidr.prefixlen != 64:
        raise ConfigError(key, text, "an IPv6 /64 (SLAAC needs a 64-bit prefix)")
    return cidr


def _zone_gateway(path: str, record: Mapping, cidr: IPNetwork) -> Optional[IPAddress]:
    if "gateway_ip" in record:
        return _address(f"{path}.gateway_ip", record["gateway_ip"])
    return cidr[1] if cidr.version == 6 else None  # the router advertising the prefix sits on it


def _zone_pools(path: str, record: Mapping, cidr: IPNetwork) -> tuple[IpRange, ...]:
    key, pools = f"{path}.allocation_pools", []
    for pool_path, pool_record in _record_list(key, record["allocation_pools"], NESTED_SHAPES["allocation_pools"]):
        pool = _range(pool_path, pool_record)
        if not pool.within(cidr) or pool.contains(cidr.network_address) or (cidr.version == 4 and pool.contains(cidr.broadcast_address)):
            raise ConfigError(pool_path, pool_record, f"a range of host addresses inside {cidr}")
        pools.append(pool)
    overlap = first_overlap(pools)
    if overlap or not pools:
        reason = f"{overlap[0]} overlaps {overlap[1]}" if overlap else "none given"
        raise ConfigError(key, record["allocation_pools"], f"at least one pool, pools that do not overlap; {reason}")
    return tuple(sorted(pools))


def _zone_segment(path: str, record: Mapping, network: NetworkSettings) -> tuple[Optional[str], Optional[int]]:
    network_type = network.network_type
    physical = record.get("physical_network", network.physical_network or "").strip() or None
    if network_type in ("vxlan", "geneve") and "physical_network" in record:
        raise ConfigError(f"{path}.physical_network", record["physical_network"], f"left out; {network_type} is an overlay without a physical network")
    if network_type in ("flat", "vlan") and not physical:
        raise ConfigError(f"{path}.physical_network", None, f"a physical network name; {network_type} networks need one")
    segment = record.get("segmentation_id")
    bounds = SEGMENTATION_RANGES[network_type]
    if segment is not None and (bounds is None or not bounds[0] <= segment <= bounds[1]):
        valid = f"left out; {network_type} networks have none" if bounds is None else f"{bounds[0]}-{bounds[1]} for {network_type}, or left out (Neutron chooses)"
        raise ConfigError(f"{path}.segmentation_id", segment, valid)
    return physical, segment


def _check_segments_differ(path: str, own: NetworkSettings, other_key: str, other: NetworkSettings) -> None:
    """Neutron takes one flat network per physical network, and a VLAN id once per physical network."""
    if own.physical_network != other.physical_network or own.network_type not in ("flat", "vlan"):
        return
    if own.network_type == "flat":
        raise ConfigError(
            f"{path}.physical_network", own.physical_network,
            f"another physical network than {other_key}'s network: Neutron allows one flat network per physical network",
        )
    if own.segmentation_id is not None and own.segmentation_id == other.segmentation_id:
        raise ConfigError(f"{path}.segmentation_id", own.segmentation_id, f"another VLAN id than {other_key}'s network on {own.physical_network}")


def _adopted_zone_network(path, record, name, cidr, network: NetworkSettings, read_subnet) -> NetworkSettings:
    network_id, subnet_id = (record.get(field, "").strip() for field in ("network_id", "subnet_id"))
    for field, value in (("network_id", network_id), ("subnet_id", subnet_id)):
        if not value:
            raise ConfigError(f"{path}.{field}", record.get(field), "set with the other of network_id/subnet_id to adopt an existing network")
    given = [field for field in _ZONE_NETWORK_FIELDS if field in record]
    if given:
        raise ConfigError(f"{path}.{given[0]}", record[given[0]], "left out for an adopted network: the stack does not change it")
    pools, gateway = default_pools(cidr, None), None
    if read_subnet:
        subnet = read_subnet(subnet_id, f"{path}.subnet_id")
        if subnet.network_id != network_id:
            raise ConfigError(f"{path}.subnet_id", subnet_id, f"a subnet of network_id {network_id} (it is on network {subnet.network_id})")
        if subnet.cidr != cidr:
            raise ConfigError(f"{path}.subnet_cidr", str(cidr), f"the adopted subnet's CIDR, {subnet.cidr}")
        pools, gateway = tuple(sorted(subnet.allocation_pools)), subnet.gateway_ip
    return NetworkSettings(
        name=f"{network.name}-{name}", network_type=network.network_type, physical_network=None, segmentation_id=None,
        mtu=None, cidr=cidr, allocation_pools=pools, pools_configured=False, gateway_ip=gateway,
        enable_dhcp=network.enable_dhcp, dns_servers=(), host_routes=(), network_id=network_id, subnet_id=subnet_id,
    )


def _check_route_back(values: Mapping, network: NetworkSettings, path: str, cidr: IPNetwork) -> None:
    """Health managers answer amphorae in a zone's subnet through a router the management subnet
    knows: its gateway, or a host route covering the zone's subnet."""
    if network.gateway_ip or any(cidr.subnet_of(route.destination) for route in network.host_routes):
        return
    raise ConfigError(
        "mgmt_host_routes", values["mgmt_host_routes"],
        f"a route covering {path}.subnet_cidr {cidr}, e.g. {{destination: {cidr}, nexthop: <router on "
        f"{network.cidr}>}}, or set mgmt_gateway_ip: the health managers answer amphorae there through it",
    )


def _check_compute_zones(values, zones, amp_zone: Optional[str], read_compute_zones: Optional[ComputeZoneReader]) -> None:
    named = [(f"availability_zones[{i}].compute_zone", zone.compute_zone) for i, zone in enumerate(zones)]
    named += [("amp_availability_zone", amp_zone)] if amp_zone else []
    if not named or read_compute_zones is None:
        return
    known = read_compute_zones()
    for key, zone in named:
        if zone not in known:
            guess = difflib.get_close_matches(zone, sorted(known), n=1)
            hint = f"did you mean {guess[0]}? " if guess else ""
            raise ConfigError(key, zone, f"a Nova availability zone; {hint}Nova has {', '.join(sorted(known)) or 'none'}")


# --- health managers ----------------------------------------------------------------------------


def _health_managers(values: Mapping, network: NetworkSettings) -> tuple[HealthManagerHost, ...]:
    key = "health_managers"
    records = _records(values, key)
    if not records:
        raise ConfigError(key, values[key], f"at least one {RECORD_SHAPES[key][0]}; Octavia needs a health manager")
    used = {_address("mgmt_used_ips", text) for text in values["mgmt_used_ips"]}
    default_interface = _interface_name("health_manager_interface", values["health_manager_interface"])
    hosts = tuple(_health_manager(path, record, network, used, default_interface) for path, record in records)
    _check_unique(key, [h.name for h in hosts], "host names")
    _check_unique(key, [str(h.ip) for h in hosts if h.ip], "fixed IPs")
    return hosts


def _interface_name(key: str, name: str) -> str:
    if not _INTERFACE.match(name):
        raise ConfigError(
            key, name, "a Linux interface name: 1-15 letters, digits, '_', '.', '@' or '-', starting with a letter or digit"
        )
    return name


def _health_manager(
    path: str, record: Mapping[str, str], network: NetworkSettings, used: set, default_interface: str
) -> HealthManagerHost:
    name = record["host"].strip()
    if not _HOSTNAME.match(name):
        raise ConfigError(f"{path}.host", record["host"], "an RFC 1123 host name (the controller's Neutron binding host)")
    interface = _interface_name(f"{path}.interface", record["interface"]) if "interface" in record else default_interface
    if "ip" not in record:
        return HealthManagerHost(name, None, interface)
    key, cidr = f"{path}.ip", network.cidr
    ip = _address(key, record["ip"])
    if cidr.version == 6:
        raise ConfigError(key, record["ip"], "no fixed IP on an IPv6 subnet (SLAAC assigns addresses); leave ip out")
    if ip not in cidr or ip in (cidr.network_address, cidr.broadcast_address, network.gateway_ip):
        raise ConfigError(key, record["ip"], f"a host address inside {cidr}, not the gateway")
    if ip in used:
        raise ConfigError(key, record["ip"], "a fixed IP not listed in mgmt_used_ips")
    if any(pool.contains(ip) for pool in network.allocation_pools):
        raise ConfigError(key, record["ip"], f"a fixed IP outside the allocation pools {_joined(network.allocation_pools)}")
    return HealthManagerHost(name, ip, interface)


def _check_unique(key: str, items: list[str], what: str) -> None:
    duplicates = sorted({item for item in items if items.count(item) > 1})
    if duplicates:
        raise ConfigError(key, duplicates, f"unique {what}; repeated: {', '.join(duplicates)}")


def _check_pool_capacity(values, network, health_managers, capacity, topology) -> None:
    """The pools must hold every planned amphora plus headroom, allocated health-manager ports and DHCP ports."""
    amphorae = capacity.expected_loadbalancers * topology.max_amphorae_per_loadbalancer
    needed = capacity.with_headroom(amphorae) + sum(1 for h in health_managers if h.ip is None)
    needed += DHCP_PORTS_PER_NETWORK if network.enable_dhcp else 0
    available = sum(pool.size for pool in network.allocation_pools)
    if available < needed:
        key = "mgmt_subnet_id" if network.adopted else "mgmt_allocation_pools" if network.pools_configured else "mgmt_subnet_cidr"
        value = values[key]
        raise ConfigError(
            key,
            value,
            f"pools with at least {needed} addresses (have {available}): {amphorae} amphorae for "
            f"{capacity.expected_loadbalancers} load balancers + {capacity.headroom_percent}% headroom, "
            "health-manager and DHCP ports; or lower expected_loadbalancers",
        )


# --- access, flavor, topology, image, capacity ---------------------------------------------------


def _access(values: Mapping) -> AccessSettings:
    key, public_key = "ssh_public_key", values["ssh_public_key"].strip()
    if public_key and not values["ssh_enabled"]:
        raise ConfigError(key, public_key, '"" while ssh_enabled is false (or set ssh_enabled: true)')
    if public_key:
        _check_ssh_public_key(key, public_key)
    return AccessSettings(values["ssh_enabled"], public_key or None, values["debug"], values["log_offload"])


def _check_ssh_public_key(key: str, public_key: str) -> None:
    """A known key type, and a key body that decodes (Nova would refuse it otherwise, mid-`up`)."""
    valid = f"an OpenSSH public key line starting with one of {', '.join(SSH_KEY_TYPES)}"
    if public_key.split()[0] not in SSH_KEY_TYPES:
        raise ConfigError(key, public_key, valid)
    try:
        serialization.load_ssh_public_key(public_key.encode())
    except (ValueError, UnsupportedAlgorithm) as error:
        raise ConfigError(key, public_key, f"{valid}, whose key data decodes ({error})") from None


def _flavor(values: Mapping) -> FlavorSettings:
    return FlavorSettings(
        name=_non_empty(values, "amp_flavor_name"),
        vcpus=_integer(values, "amp_flavor_vcpus", 1, 64),
        ram_mb=_integer(values, "amp_flavor_ram_mb", 512, 262144),
        disk_gb=_integer(values, "amp_flavor_disk_gb", 1, 1024),
        extra_specs=_extra_specs(values),
    )


def _extra_specs(values: Mapping) -> tuple[tuple[str, str], ...]:
    key, specs = "amp_flavor_extra_specs", []
    for name, value in values[key].items():
        # Nova keeps extra specs as strings; YAML's True or 2 mean "True" and "2".
        if isinstance(value, (dict, list)) or value is None or not str(value).strip() or not name.strip():
            raise ConfigError(f"{key}.{name}", value, 'a non-empty string value, e.g. hw_rng:allowed: "True"')
        specs.append((name, str(value)))
    return tuple(specs)


def _topology(values: Mapping) -> TopologySettings:
    topologies = tuple(AMPHORAE_PER_LOADBALANCER)
    offered = values["octavia_flavor_topologies"]
    for item in offered:
        if item not in topologies:
            raise ConfigError("octavia_flavor_topologies", item, f"one of {', '.join(topologies)}")
    _check_unique("octavia_flavor_topologies", list(offered), "topologies")
    return TopologySettings(
        default=_choice(values, "loadbalancer_topology", topologies),
        anti_affinity=values["enable_anti_affinity"],
        anti_affinity_policy=_choice(values, "anti_affinity_policy", ANTI_AFFINITY_POLICIES),
        offered=tuple(offered),
    )


def _image(values: Mapping) -> ImageSettings:
    key = "amp_images"
    records = _records(values, key)
    if not records:
        raise ConfigError(key, values[key], "at least one {version, source} (a file path or http(s) URL) or {manifest}")
    architecture = _choice(values, "amp_image_architecture", ARCHITECTURES)
    versions = tuple(_image_version(path, record, architecture) for path, record in records)
    _check_unique(key, [v.version for v in versions], "versions")
    keep = _integer(values, "amp_image_keep_previous", 0, 10)
    kept = versions[-(keep + 1) :]
    current_path, current_record = records[-1]
    _check_source(current_path, kept[-1])
    _check_disk_format(current_path, current_record, kept[-1])
    tag = _non_empty(values, "amp_image_tag")
    return ImageSettings(tag, architecture, kept, keep, values["amp_image_tag_shared"])


def _image_version(path: str, record: Mapping[str, str], architecture: str) -> ImageVersion:
    if "manifest" in record:
        return _manifest_version(f"{path}.manifest", record["manifest"].strip(), architecture)
    version, source = record["version"].strip(), record["source"].strip()
    if not _VERSION.match(version):
        raise ConfigError(f"{path}.version", record["version"], "letters, digits, '.', '_', '+' and '-'")
    if "://" in source and not source.startswith(("http://", "https://")):
        raise ConfigError(f"{path}.source", source, "a local file path or an http(s) URL")
    if source.endswith(MANIFEST_SUFFIX):
        raise ConfigError(f"{path}.source", source, "an image; a build manifest is written {manifest: PATH}")
    disk_format = record.get("disk_format", DISK_FORMATS[0]).strip()
    if disk_format not in DISK_FORMATS:
        raise ConfigError(f"{path}.disk_format", record["disk_format"], f"one of {', '.join(DISK_FORMATS)}")
    return ImageVersion(version, normal_source(source), disk_format=disk_format)


def _manifest_version(key: str, path: str, architecture: str) -> ImageVersion:
    """An entry that is a tools/amphora_image build manifest: version, file and checksum from it."""
    try:
        manifest = read_manifest(path)
    except ValueError as err:
        raise ConfigError(key, path, f"a valid build manifest: {err}") from None
    if manifest.architecture != architecture:
        raise ConfigError(
            key, path, f"an image built for amp_image_architecture {architecture} (the manifest says "
            f"{manifest.architecture})"
        )
    # Manifests record their image's format (tools/amphora_image builds qcow2); older ones did not.
    disk_format = manifest.fields.get("disk_format", DISK_FORMATS[0])
    if disk_format not in DISK_FORMATS:
        valid = ", ".join(DISK_FORMATS)
        raise ConfigError(key, path, f"a manifest whose disk_format is one of {valid} (it says {disk_format!r})")
    return ImageVersion(manifest.version, normal_source(manifest.image_path), manifest.sha256, disk_format)


def normal_source(source: str) -> str:
    """One spelling per local file, so a respelled path is no change of the image's source:
    `./.state/x.qcow2`, `.state//x.qcow2`, `.state/x.qcow2/` and `a/../.state/x.qcow2` are all
    `.state/x.qcow2`. A relative path stays relative to the project directory (the program's
    working directory) and an absolute one stays absolute, so stacks deployed before keep their
    source text. URLs are Glance's to read and stay as written."""
    if source.startswith(("http://", "https://")):
        return source
    return os.path.normpath(source)


def _check_source(path: str, current: ImageVersion) -> None:
    # Only the current image may still need uploading; kept versions already exist in Glance.
    if not current.is_url and not os.path.isfile(current.source):
        raise ConfigError(
            path, current.source, "a current image whose file exists (relative paths start at the project directory)"
        )
    if current.sha256 and file_sha256(current.source) != current.sha256:
        raise ConfigError(
            path, current.source, "the image file its build manifest describes: its sha256 differs (rebuilt or changed since)"
        )


def _check_disk_format(path: str, record: Mapping[str, str], current: ImageVersion) -> None:
    """A local current file must be of its disk_format: Glance refuses a mismatch mid-`up` (415).
    URLs are not read here (Glance checks the stream); kept versions are in Glance already."""
    if current.is_url:
        return
    key = f"{path}.manifest" if "manifest" in record else f"{path}.disk_format"
    value = record["manifest"] if "manifest" in record else current.disk_format
    actual = image_file_format(key, current.source)
    if actual != current.disk_format:
        said = f"the manifest's disk_format {current.disk_format}" if "manifest" in record else "disk_format"
        fix = f"set disk_format: {actual}, or " if actual in DISK_FORMATS and "manifest" not in record else ""
        raise ConfigError(
            key, value, f"{said} must be the file's format, and {current.source} is {actual} (qemu-img info); "
            f"{fix}convert the file: qemu-img convert -O {current.disk_format} FILE NEW_FILE"
        )


def image_file_format(key: str, path: str) -> str:
    """The format qemu-img reads the file as (qcow2, raw, vmdk, ...); ConfigError naming key if it cannot."""
    stat = os.stat(path)
    return _file_format(key, os.path.abspath(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=64)
def _file_format(key: str, path: str, _mtime_ns: int, _size: int) -> str:
    qemu_img = shutil.which("qemu-img")
    if qemu_img is None:
        raise ConfigError(
            key, path, "qemu-img on PATH, to check the image file's format before upload "
            "(apt-get install qemu-utils, or dnf install qemu-img)"
        )
    run = subprocess.run(
        [qemu_img, "info", "--force-share", "--output=json", path], capture_output=True, text=True, check=False
    )
    try:
        return str(json.loads(run.stdout)["format"])
    except (ValueError, KeyError, TypeError):
        message = (run.stderr or run.stdout).strip() or f"exit status {run.returncode}"
        raise ConfigError(key, path, f"an image file qemu-img can read ({message})") from None


def _capacity(values: Mapping) -> CapacitySettings:
    return CapacitySettings(
        manage_quotas=values["manage_quotas"],
        expected_loadbalancers=_integer(values, "expected_loadbalancers", 1, 100000),
        headroom_percent=_integer(values, "quota_headroom_percent", 0, 500),
        listeners_per_loadbalancer=_integer(values, "listeners_per_loadbalancer", 1, 1000),
    )


def _octavia_tenant_quotas(values: Mapping) -> dict[str, int]:
    key, quotas = "octavia_tenant_quotas", values["octavia_tenant_quotas"]
    for name in quotas:
        if name not in OCTAVIA_TENANT_QUOTA_NAMES:
            valid = ", ".join(OCTAVIA_TENANT_QUOTA_NAMES)
            raise ConfigError(f"{key}.{name}", quotas[name], f"unknown key; valid: {valid}")
    low, high = OCTAVIA_QUOTA_RANGE
    for name, value in quotas.items():
        if not _matches(value, "integer") or not low <= value <= high:
            raise ConfigError(f"{key}.{name}", value, f"an integer: -1 (unlimited) or 0 to {high}")
    return {name: quotas[name] for name in OCTAVIA_TENANT_QUOTA_NAMES if name in quotas}
