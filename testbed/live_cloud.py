"""What a deployed stack should look like in the devcloud, checked through openstacksdk.

Expectations are written out from the stack's config (tables a reader can check by eye), not
computed by the components under test; the live objects are found by the IDs the stack exports.
Also: the engine operations of an update as readable (type, name, op) rows, and the objects a
stack name prefix still has in the cloud.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from typing import Optional

import openstack.connection
from pulumi import automation as auto

from testbed.stacks import connect as shared_connect
from testbed.stacks import engine  # noqa: F401  (re-exported: the tests run every engine call through it)
from testbed.devcloud_support import cloud_objects, keypair_owner_id

HEALTH_MANAGER_OWNER = "Octavia:health-mgr"
AMPHORA_GROUP, HEALTH_MANAGER_GROUP = "lb-mgmt-sec-grp", "lb-health-mgr-sec-grp"
# Neutron's default rules on a new group: egress anywhere, per ethertype. The stack keeps them
# (amphorae and controllers talk to each other as egress); nothing else may be there.
DEFAULT_EGRESS = {("egress", "IPv4", None, None, None, None), ("egress", "IPv6", None, None, None, None)}


def connect(env: dict, cloud: str = "devcloud") -> openstack.connection.Connection:
    """openstacksdk as the devcloud's admin (`devcloud`: admin in project admin) unless told otherwise."""
    return shared_connect(env, cloud)


# --- engine steps ----------------------------------------------------------------------------------

@dataclass(frozen=True, order=True)
class Step:
    type: str  # the resource class, e.g. "Port"
    name: str  # the Pulumi resource name
    op: str  # create, update, replace, delete


REPLACE_OPS = {auto.OpType.REPLACE, auto.OpType.CREATE_REPLACEMENT, auto.OpType.DELETE_REPLACED}
IGNORED_OPS = {auto.OpType.SAME, auto.OpType.READ, auto.OpType.REFRESH}


class StepRecorder:
    """on_event callback collecting every step that changes something, as Step rows.

    A provider's `update` is left out: the engine hands the whole stack config to the Python
    dynamic provider (the PKI's), so any config change shows as an update of
    `pulumi:providers:pulumi-python`, which touches no resource. Any other provider step is kept.
    """

    def __init__(self):
        self.steps: set[Step] = set()

    def __call__(self, event: auto.EngineEvent) -> None:
        pre = event.resource_pre_event
        if pre is None or pre.metadata.op in IGNORED_OPS:
            return
        if pre.metadata.type.startswith("pulumi:providers:") and pre.metadata.op == auto.OpType.UPDATE:
            return
        op = "replace" if pre.metadata.op in REPLACE_OPS else pre.metadata.op.value
        self.steps.add(Step(pre.metadata.type.rsplit(":", 1)[-1], pre.metadata.urn.split("::")[-1], op))


def up_steps(stack: auto.Stack) -> tuple[set[Step], auto.UpResult]:
    recorder = StepRecorder()
    result = engine(stack.up, on_event=recorder)
    return recorder.steps, result


def preview_steps(stack: auto.Stack) -> set[Step]:
    recorder = StepRecorder()
    engine(stack.preview, on_event=recorder)
    return recorder.steps


def outputs(result) -> dict:
    """Plain output values of an up result or of stack.outputs() (secrets in clear)."""
    values = result if isinstance(result, dict) else result.outputs
    return {name: output.value for name, output in values.items()}


# --- what the cloud must hold ---------------------------------------------------------------------


@dataclass
class Expected:
    """A deployed stack, as its config describes it. Quotas of the service project: {service: {name: value}}."""

    prefix: str
    network_type: str
    physical_network: Optional[str]
    segmentation_id: Optional[int]
    cidr: str
    pools: list[tuple[str, str]]
    dns_servers: list[str]
    hosts: dict[str, Optional[str]]  # host name -> fixed IP, or None (allocated from the pools)
    amphora_rules: set[tuple]  # (protocol, port) ingress from the subnet
    health_manager_rules: set[tuple]
    images: dict[str, bool]  # version -> tagged (the current one); exactly these exist
    quotas: Optional[dict[str, dict[str, int]]]  # None: the stack leaves quotas to another (manage_quotas)
    mtu: Optional[int] = None
    ssh_key: bool = False
    topologies: tuple[str, ...] = ("SINGLE", "ACTIVE_STANDBY")
    tag: str = "octavia-amphora-image"
    flavor: dict = field(default_factory=lambda: {"vcpus": 1, "ram": 1024, "disk": 2,
                                                  "extra_specs": {"hw_rng:allowed": "True"}})


def check_deployment(conn, out: dict, want: Expected, service_project_id: str) -> None:
    """Every resource of the stack, live; raises AssertionError naming the first difference."""
    check_network(conn, out, want)
    check_security_groups(conn, out, want)
    check_health_manager_ports(conn, out, want)
    check_flavor(conn, out, want, service_project_id)
    check_images(conn, out, want, service_project_id)
    check_octavia_flavors(conn, out, want)
    check_keypair(conn, out, want)
    if want.quotas is not None:
        check_quotas(conn, want, service_project_id)


def check_network(conn, out: dict, want: Expected) -> None:
    network = conn.network.get_network(out["mgmt_network_id"])
    assert network.name == f"{want.prefix}lbaas-mgmt"
    assert (network.provider_network_type, network.provider_physical_network) == (
        want.network_type, want.physical_network)
    if want.segmentation_id is not None:
        assert network.provider_segmentation_id == want.segmentation_id
    if want.mtu is not None:
        assert network.mtu == want.mtu
    assert not network.is_shared and not network.is_router_external and network.is_admin_state_up
    subnet = conn.network.get_subnet(out["mgmt_subnet_id"])
    assert subnet.network_id == network.id and network.subnet_ids == [subnet.id]
    assert (subnet.name, subnet.cidr, subnet.ip_version) == (f"{want.prefix}lbaas-mgmt", want.cidr, 4)
    assert out["mgmt_subnet_cidr"] == want.cidr
    assert [(p["start"], p["end"]) for p in subnet.allocation_pools] == want.pools
    assert subnet.gateway_ip is None  # no gateway: amphorae only talk to controllers on the segment
    assert subnet.is_dhcp_enabled is True
    assert subnet.dns_nameservers == want.dns_servers
    assert subnet.host_routes == []


def live_rules(conn, group_id: str) -> set[tuple]:
    return {
        (r.direction, r.ether_type, r.protocol, r.port_range_min, r.port_range_max, r.remote_ip_prefix)
        for r in conn.network.security_group_rules(security_group_id=group_id)
    }


def check_security_groups(conn, out: dict, want: Expected) -> None:
    for output, name, rules in (
        ("amphora_secgroup_id", AMPHORA_GROUP, want.amphora_rules),
        ("health_manager_secgroup_id", HEALTH_MANAGER_GROUP, want.health_manager_rules),
    ):
        group = conn.network.get_security_group(out[output])
        assert group.name == f"{want.prefix}{name}"
        expected = DEFAULT_EGRESS | {
            ("ingress", "IPv4", protocol, port, port, want.cidr) for protocol, port in rules
        }
        assert live_rules(conn, group.id) == expected, f"rules of {group.name}"


def check_health_manager_ports(conn, out: dict, want: Expected) -> None:
    assert set(out["health_manager_ports"]) == set(want.hosts)
    pools = [(ipaddress.ip_address(a), ipaddress.ip_address(b)) for a, b in want.pools]
    for host, fixed_ip in want.hosts.items():
        port = conn.network.get_port(out["health_manager_ports"][host])
        assert port.name == f"{want.prefix}octavia-health-manager-{host}-listen-port"
        assert port.network_id == out["mgmt_network_id"]
        assert port.device_owner == HEALTH_MANAGER_OWNER
        assert port.binding_host_id == host
        assert port.security_group_ids == [out["health_manager_secgroup_id"]]
        assert [ip["subnet_id"] for ip in port.fixed_ips] == [out["mgmt_subnet_id"]]
        ip = port.fixed_ips[0]["ip_address"]
        assert out["health_manager_ips"][host] == ip
        if fixed_ip:
            assert ip == fixed_ip
        else:
            assert any(low <= ipaddress.ip_address(ip) <= high for low, high in pools), f"{host}: {ip}"
    listed = ",".join(f"{out['health_manager_ips'][host]}:5555" for host in want.hosts)
    assert out["controller_ip_port_list"] == listed


def check_flavor(conn, out: dict, want: Expected, service_project_id: str) -> None:
    flavor = conn.compute.get_flavor(out["amp_flavor_id"])
    assert flavor.name == f"{want.prefix}amphora" and flavor.is_public is False
    assert {"vcpus": flavor.vcpus, "ram": flavor.ram, "disk": flavor.disk,
            "extra_specs": conn.compute.fetch_flavor_extra_specs(flavor).extra_specs} == want.flavor
    access = conn.compute.get_flavor_access(flavor)
    assert [entry["tenant_id"] for entry in access] == [service_project_id]


def stack_images(conn, prefix: str) -> dict:
    return {image.name: image for image in conn.image.images() if image.name.startswith(prefix)}


def check_images(conn, out: dict, want: Expected, service_project_id: str) -> None:
    images = stack_images(conn, want.prefix)
    assert set(images) == {f"{want.prefix}amphora-x64-haproxy-{version}" for version in want.images}
    for version, current in want.images.items():
        image = images[f"{want.prefix}amphora-x64-haproxy-{version}"]
        assert image.status == "active", f"{image.name}: {image.status}"
        assert image.tags == ([want.tag] if current else []), image.name
        assert (image.visibility, image.owner) == ("private", service_project_id), image.name
        assert (image.disk_format, image.container_format) == ("qcow2", "bare")
        assert image.properties["hw_architecture"] == "x86_64" and image.hw_rng_model == "virtio"
        assert image.properties["octavia_amphora_version"] == version
        if current:
            assert image.id == out["amp_image_id"]
    assert (out["amp_image_tag"], out["amp_image_owner_id"]) == (want.tag, service_project_id)


def check_octavia_flavors(conn, out: dict, want: Expected) -> None:
    assert set(out["octavia_flavor_ids"]) == set(out["octavia_flavor_profile_ids"]) == set(want.topologies)
    for topology in want.topologies:
        key = topology.lower().replace("_", "-")
        profile = conn.load_balancer.get_flavor_profile(out["octavia_flavor_profile_ids"][topology])
        assert (profile.name, profile.provider_name) == (f"{want.prefix}amphora-{key}", "amphora")
        assert json.loads(profile.flavor_data) == {
            "loadbalancer_topology": topology, "compute_flavor": out["amp_flavor_id"], "amp_image_tag": want.tag}
        flavor = conn.load_balancer.get_flavor(out["octavia_flavor_ids"][topology])
        assert (flavor.name, flavor.flavor_profile_id, flavor.is_enabled) == (
            f"{want.prefix}amphora-{key}", profile.id, True)


def check_keypair(conn, out: dict, want: Expected) -> None:
    """The amphora keypair belongs to Octavia's service user, who boots amphorae with it."""
    if not want.ssh_key:
        assert out["amp_ssh_key_name"] == ""
        return
    name = out["amp_ssh_key_name"]
    assert name == f"{want.prefix}octavia-ssh-key"
    owner = keypair_owner_id(conn)
    keypair = conn.compute.get_keypair(name, user_id=owner)
    assert keypair.user_id == owner
    assert keypair.public_key.startswith("ssh-")
    assert [k.name for k in cloud_objects(conn, want.prefix)["keypairs"]] == [name]
    # Not the caller's: Octavia could not boot with an admin's key ("Invalid key_name provided").
    assert conn.compute.find_keypair(name, ignore_missing=True) is None, f"{name} also belongs to the caller"
    assert out["amp_ssh_private_key"].startswith("-----BEGIN")  # Nova generated it, the stack keeps it


def live_quotas(conn, project_id: str) -> dict[str, dict[str, int]]:
    """The service project's quotas the stack manages. Not Octavia's: load balancers belong to tenants."""
    nova = conn.compute.get_quota_set(project_id)
    neutron = conn.network.get_quota(project_id)
    return {
        "nova": {"instances": nova.instances, "cores": nova.cores, "ram": nova.ram,
                 "server_groups": nova.server_groups, "server_group_members": nova.server_group_members},
        "neutron": {"port": neutron.ports, "security_group": neutron.security_groups,
                    "security_group_rule": neutron.security_group_rules},
    }


def check_quotas(conn, want: Expected, project_id: str) -> None:
    """The service project's quotas: project-wide, so they are those of the last stack that ran `up`."""
    live = live_quotas(conn, project_id)
    assert live == want.quotas, f"service project quotas {live}, expected {want.quotas}"


# --- what is left --------------------------------------------------------------------------------


def leftovers(conn, prefix: str, ids: dict[str, list[str]]) -> dict[str, list[str]]:
    """Objects of a stack still in the cloud: by name prefix, and by the IDs recorded before destroy."""
    found = {kind: [o.id for o in objects] for kind, objects in cloud_objects(conn, prefix).items()}
    by_id = {
        "networks": conn.network.find_network, "subnets": conn.network.find_subnet,
        "ports": conn.network.find_port, "security_groups": conn.network.find_security_group,
        "flavors": conn.compute.find_flavor, "images": conn.image.find_image,
        "octavia_flavors": conn.load_balancer.find_flavor,
        "octavia_flavor_profiles": conn.load_balancer.find_flavor_profile,
    }
    for kind, recorded in ids.items():
        found[kind] += [i for i in recorded if by_id[kind](i, ignore_missing=True) and i not in found[kind]]
    return {kind: items for kind, items in found.items() if items}


def recorded_ids(out: dict) -> dict[str, list[str]]:
    """The IDs a stack exported, by kind, for leftovers()."""
    return {
        "networks": [out["mgmt_network_id"]],
        "subnets": [out["mgmt_subnet_id"]],
        "ports": list(out["health_manager_ports"].values()),
        "security_groups": [out["amphora_secgroup_id"], out["health_manager_secgroup_id"]],
        "flavors": [out["amp_flavor_id"]],
        "images": [out["amp_image_id"]],
        "octavia_flavors": list(out["octavia_flavor_ids"].values()),
        "octavia_flavor_profiles": list(out["octavia_flavor_profile_ids"].values()),
    }
