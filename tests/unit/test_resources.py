"""Every resource the foundation declares, checked input by input under Pulumi mocks."""

import ipaddress
import json

import pulumi
import pytest

from components.compute import AmphoraFlavor, AmphoraFlavorArgs
from config.errors import ConfigError
from components.health_manager import ip_port
from components.identity import Identities, look_up_identities
from components.network import read_subnet
from components.octavia_flavors import flavor_data
from config.names import names
from config.settings import parse_settings
from octavia_support import (
    ALLOCATED_IP,
    GENERATED_PRIVATE_KEY,
    PROJECT_ID,
    RecordingMocks,
    Run,
    declare,
    port_mac,
    stack_config,
    user_id,
)

NETWORK = "openstack:networking/network:Network"
SUBNET = "openstack:networking/subnet:Subnet"
ROUTER = "openstack:networking/router:Router"
ROUTER_INTERFACE = "openstack:networking/routerInterface:RouterInterface"
SUBNET_ROUTE = "openstack:networking/subnetRoute:SubnetRoute"
SECGROUP = "openstack:networking/secGroup:SecGroup"
RULE = "openstack:networking/secGroupRule:SecGroupRule"
PORT = "openstack:networking/port:Port"
FLAVOR = "openstack:compute/flavor:Flavor"
FLAVOR_ACCESS = "openstack:compute/flavorAccess:FlavorAccess"
KEYPAIR = "openstack:compute/keypair:Keypair"
IMAGE = "openstack:images/image:Image"
PROFILE = "openstack:loadbalancer/flavorprofileV2:FlavorprofileV2"
LB_FLAVOR = "openstack:loadbalancer/flavorV2:FlavorV2"
NOVA_QUOTA = "openstack:compute/quotaSetV2:QuotaSetV2"
NEUTRON_QUOTA = "openstack:networking/quotaV2:QuotaV2"
OCTAVIA_QUOTA = "openstack:loadbalancer/quota:Quota"
GET_USER = "openstack:identity/getUser:getUser"

IPV6 = {"mgmt_subnet_cidr": "fd00:29::/64", "mgmt_allocation_pools": [], "health_managers": [{"host": "ctl1"}]}


@pytest.fixture
def run(config):
    return declare(config)


# --- management network -----------------------------------------------------------------------


def test_flat_provider_network(run):
    (network,) = run.of_type(NETWORK)
    assert network.inputs["name"] == "lbaas-mgmt"
    assert network.inputs["segments"] == [{"networkType": "flat", "physicalNetwork": "lbaas"}]
    assert network.inputs["shared"] is False and network.inputs["external"] is False
    assert "mtu" not in network.inputs


def test_vlan_network_with_prefix_segment_and_mtu(config):
    run = declare(
        {**config, "name_prefix": "dev-", "mgmt_network_type": "vlan", "mgmt_segmentation_id": 2101, "mgmt_mtu": 1450}
    )
    (network,) = run.of_type(NETWORK)
    assert network.inputs["name"] == "dev-lbaas-mgmt"
    assert network.inputs["segments"] == [{"networkType": "vlan", "physicalNetwork": "lbaas", "segmentationId": 2101}]
    assert network.inputs["mtu"] == 1450


def test_ipv4_subnet(config):
    run = declare({**config, "mgmt_dns_servers": ["172.29.232.2"]})
    (subnet,) = run.of_type(SUBNET)
    (network,) = run.of_type(NETWORK)
    assert subnet.inputs["networkId"] == f"{network.name}-id"
    assert subnet.inputs["cidr"] == "172.29.232.0/24" and subnet.inputs["ipVersion"] == 4
    assert subnet.inputs["allocationPools"] == [{"start": "172.29.232.50", "end": "172.29.232.250"}]
    assert subnet.inputs["noGateway"] is True and "gatewayIp" not in subnet.inputs
    assert subnet.inputs["enableDhcp"] is True
    assert subnet.inputs["dnsNameservers"] == ["172.29.232.2"]
    assert "ipv6AddressMode" not in subnet.inputs
    assert not run.of_type(ROUTER)


def test_subnet_with_gateway_and_neutron_default_pools(config):
    config = {
        **config,
        "mgmt_allocation_pools": [],
        "mgmt_gateway_ip": "172.29.232.1",
        "health_managers": [{"host": "ctl1"}],
    }
    (subnet,) = declare(config).of_type(SUBNET)
    assert subnet.inputs["gatewayIp"] == "172.29.232.1" and "noGateway" not in subnet.inputs
    assert "allocationPools" not in subnet.inputs


def test_ipv6_subnet_uses_slaac_and_a_router_for_advertisements(config):
    run = declare({**config, **IPV6})
    (subnet,) = run.of_type(SUBNET)
    assert subnet.inputs["ipVersion"] == 6
    assert subnet.inputs["ipv6AddressMode"] == subnet.inputs["ipv6RaMode"] == "slaac"
    assert subnet.inputs["gatewayIp"] == "fd00:29::1"
    (router,) = run.of_type(ROUTER)
    (interface,) = run.of_type(ROUTER_INTERFACE)
    assert interface.inputs == {"routerId": f"{router.name}-id", "subnetId": f"{subnet.name}-id"}
    assert "externalNetworkId" not in router.inputs


def test_host_routes_are_keyed_by_destination(config):
    one = [{"destination": "10.0.0.0/8", "nexthop": "172.29.232.1"}]
    two = one + [{"destination": "192.168.0.0/16", "nexthop": "172.29.232.2"}]
    names_one = {r.name for r in declare({**config, "mgmt_host_routes": one}).of_type(SUBNET_ROUTE)}
    routes_two = declare({**config, "mgmt_host_routes": two}).of_type(SUBNET_ROUTE)
    assert names_one < {r.name for r in routes_two}
    by_destination = {r.inputs["destinationCidr"]: r.inputs["nextHop"] for r in routes_two}
    assert by_destination == {"10.0.0.0/8": "172.29.232.1", "192.168.0.0/16": "172.29.232.2"}


def test_adopted_network_creates_no_network(config):
    run = declare({**config, "mgmt_network_id": "existing-net", "mgmt_subnet_id": "existing-subnet"})
    assert not run.of_type(NETWORK) and not run.of_type(SUBNET)
    assert run.outputs["mgmt_network_id"] == "existing-net" and run.outputs["mgmt_subnet_id"] == "existing-subnet"
    assert {p.inputs["networkId"] for p in run.of_type(PORT)} == {"existing-net"}
    assert {p.inputs["fixedIps"][0]["subnetId"] for p in run.of_type(PORT)} == {"existing-subnet"}


class SubnetLookup(pulumi.runtime.Mocks):
    """Neutron holding one subnet, as getSubnet sees it."""

    def __init__(self, subnets: dict):
        self.subnets = subnets

    def new_resource(self, args):
        raise AssertionError(f"the check declared {args.typ}")

    def call(self, args):
        assert args.token == "openstack:networking/getSubnet:getSubnet"
        if args.args["subnetId"] not in self.subnets:
            raise Exception("Your query returned no results. Please change your search criteria and try again.")
        return self.subnets[args.args["subnetId"]]


ADOPTED = {"mgmt_network_id": "existing-net", "mgmt_subnet_id": "existing-subnet"}
POOL = [{"start": "172.29.232.50", "end": "172.29.232.250"}]


def adopted(config, subnet, **overrides):
    """Settings of config adopting `subnet` (None: Neutron has no such subnet)."""
    pulumi.runtime.set_mocks(SubnetLookup({"existing-subnet": subnet} if subnet else {}), preview=True)
    return parse_settings({**config, **ADOPTED, **overrides}, read_subnet=read_subnet)


@pytest.mark.parametrize("subnet, key, valid", [
    ({"networkId": "existing-net", "cidr": "172.29.232.0/24", "allocationPools": POOL}, None, None),
    ({"networkId": "existing-net", "cidr": "172.29.0.0/16", "allocationPools": POOL}, "mgmt_subnet_cidr",
     "the adopted subnet's CIDR, 172.29.0.0/16"),
    ({"networkId": "other-net", "cidr": "172.29.232.0/24", "allocationPools": POOL}, "mgmt_subnet_id",
     "it is on network other-net"),
    ({"networkId": "existing-net", "cidr": "172.29.232.0/24", "allocationPools": [{"start": "172.29.232.20", "end": "172.29.232.99"}]},
     "mgmt_allocation_pools", "the adopted subnet's pools 172.29.232.20-172.29.232.99, or leave the key out"),
    (None, "mgmt_subnet_id", "an existing subnet"),
])  # fmt: skip
def test_an_adopted_subnet_must_match_the_config(config, subnet, key, valid):
    if key is None:
        assert adopted(config, subnet).network.adopted
        return
    with pytest.raises(ConfigError) as raised:
        adopted(config, subnet)
    assert raised.value.key == key and valid in raised.value.valid


# OpenStack-Ansible's layout: a /22 whose pool leaves the first hundred addresses to the controllers.
OSA_SUBNET = {"networkId": "existing-net", "cidr": "172.29.232.0/22", "gatewayIp": "172.29.232.1",
              "allocationPools": [{"start": "172.29.232.100", "end": "172.29.235.200"}]}
OSA_CONFIG = {"mgmt_subnet_cidr": "172.29.232.0/22", "mgmt_allocation_pools": []}


def test_fixed_ips_are_checked_against_the_adopted_subnets_own_pools(config):
    settings = adopted(config, OSA_SUBNET, **OSA_CONFIG, health_managers=[{"host": "infra1", "ip": "172.29.232.21"}])
    assert [str(p) for p in settings.network.allocation_pools] == ["172.29.232.100-172.29.235.200"]
    assert str(settings.network.gateway_ip) == "172.29.232.1"
    with pytest.raises(ConfigError) as raised:
        adopted(config, OSA_SUBNET, **OSA_CONFIG, health_managers=[{"host": "infra1", "ip": "172.29.232.150"}])
    assert raised.value.key == "health_managers[0].ip"
    assert "outside the allocation pools 172.29.232.100-172.29.235.200" in raised.value.valid


def test_an_adopted_subnet_too_small_for_the_plan_names_the_subnet(config):
    small = {**OSA_SUBNET, "allocationPools": [{"start": "172.29.232.100", "end": "172.29.232.120"}]}
    with pytest.raises(ConfigError) as raised:
        adopted(config, small, **OSA_CONFIG)
    assert raised.value.key == "mgmt_subnet_id" and "(have 21)" in raised.value.valid


def test_a_gateway_other_than_the_adopted_subnets_is_refused(config):
    with pytest.raises(ConfigError) as raised:
        adopted(config, OSA_SUBNET, **OSA_CONFIG, mgmt_gateway_ip="172.29.232.2")
    assert raised.value.key == "mgmt_gateway_ip" and "the adopted subnet's gateway, 172.29.232.1" in raised.value.valid


def test_a_created_network_is_not_looked_up(config):
    pulumi.runtime.set_mocks(SubnetLookup({}), preview=True)
    parse_settings(config, read_subnet=read_subnet)


class KeystoneLookup(pulumi.runtime.Mocks):
    """Keystone as the identity lookups see it: the projects and users that exist, by name."""

    def __init__(self, projects: set, users: set):
        self.projects, self.users = projects, users

    def new_resource(self, args):
        raise AssertionError("nothing is declared before the lookups")

    def call(self, args):
        known = {"openstack:identity/getProject:getProject": self.projects,
                 "openstack:identity/getUser:getUser": self.users}[args.token]
        if args.args["name"] not in known:
            raise Exception("1 error occurred:\n\t* Your query returned no results. Please change your search criteria")
        return {"id": f"{args.args['name']}-id", "name": args.args["name"]}


@pytest.mark.parametrize("overrides, key", [
    ({"service_project": "servcie"}, "service_project"),
    ({"ssh_enabled": True, "octavia_service_user": "octavai"}, "octavia_service_user"),
])
def test_a_name_keystone_does_not_know_is_a_config_error(config, overrides, key):
    settings = parse_settings({**config, **overrides})
    pulumi.runtime.set_mocks(KeystoneLookup({"service"}, {"octavia"}), preview=True)
    with pytest.raises(ConfigError) as raised:
        look_up_identities(settings)
    assert raised.value.key == key and raised.value.value == overrides[key]
    assert "Your query returned no results" in raised.value.valid


def test_identities_found_and_the_user_only_with_ssh(config):
    pulumi.runtime.set_mocks(KeystoneLookup({"service"}, {"octavia"}), preview=True)
    assert look_up_identities(parse_settings({**config, "ssh_enabled": True})) == Identities("service-id", "octavia-id")
    pulumi.runtime.set_mocks(KeystoneLookup({"service"}, set()), preview=True)
    assert look_up_identities(parse_settings(config)) == Identities("service-id", None)


# --- security groups --------------------------------------------------------------------------


def rules_by_key(run):
    return {r.name.removeprefix("octavia-secgroups-"): r.inputs for r in run.of_type(RULE)}


def test_default_rules_are_agent_api_and_heartbeat_only(run):
    rules = rules_by_key(run)
    groups = {g.inputs["name"]: g.name for g in run.of_type(SECGROUP)}
    assert set(groups) == {"lb-mgmt-sec-grp", "lb-health-mgr-sec-grp"}
    assert set(rules) == {"amphora-agent-api", "health-manager-heartbeat"}
    assert rules["amphora-agent-api"]["securityGroupId"] == f"{groups['lb-mgmt-sec-grp']}-id"
    assert (rules["amphora-agent-api"]["protocol"], rules["amphora-agent-api"]["portRangeMin"]) == ("tcp", 9443)
    assert rules["health-manager-heartbeat"]["securityGroupId"] == f"{groups['lb-health-mgr-sec-grp']}-id"
    assert (rules["health-manager-heartbeat"]["protocol"], rules["health-manager-heartbeat"]["portRangeMax"]) == (
        "udp",
        5555,
    )
    assert all(g.inputs["deleteDefaultRules"] is False for g in run.of_type(SECGROUP))


def test_optional_rules_follow_their_switches(config):
    run = declare({**config, "ssh_enabled": True, "debug": True, "log_offload": True, "health_manager_port": 5556})
    rules = rules_by_key(run)
    assert (rules["amphora-ssh"]["protocol"], rules["amphora-ssh"]["portRangeMin"]) == ("tcp", 22)
    assert rules["amphora-icmp"]["protocol"] == "icmp" and "portRangeMin" not in rules["amphora-icmp"]
    assert rules["health-manager-heartbeat"]["portRangeMin"] == 5556
    assert {(r["protocol"], r["portRangeMin"]) for k, r in rules.items() if "log" in k} == {
        ("udp", 10514),
        ("udp", 20514),
    }


def test_adding_rules_keeps_existing_rule_names(config, run):
    more = declare({**config, "ssh_enabled": True, "debug": True, "log_offload": True})
    assert {r.name for r in run.of_type(RULE)} < {r.name for r in more.of_type(RULE)}


@pytest.mark.parametrize("extra, cidr, ethertype", [({}, "172.29.232.0/24", "IPv4"), (IPV6, "fd00:29::/64", "IPv6")])
def test_every_rule_is_ingress_from_the_management_cidr(config, extra, cidr, ethertype):
    run = declare({**config, **extra, "ssh_enabled": True, "debug": True, "log_offload": True})
    rules = run.of_type(RULE)
    assert len(rules) == 6
    for rule in rules:
        assert rule.inputs["direction"] == "ingress"
        assert rule.inputs["remoteIpPrefix"] == cidr not in ("0.0.0.0/0", "::/0")
        assert rule.inputs["ethertype"] == ethertype
    icmp = [r for r in rules if r.name.endswith("-icmp")][0]
    assert icmp.inputs["protocol"] == ("icmp" if ethertype == "IPv4" else "ipv6-icmp")


# --- health-manager ports ---------------------------------------------------------------------


def test_one_port_per_health_manager_host(run):
    ports = {p.name: p.inputs for p in run.of_type(PORT)}
    assert set(ports) == {"octavia-health-manager-ctl1", "octavia-health-manager-ctl2"}
    hm_group = [g.name for g in run.of_type(SECGROUP) if g.inputs["name"] == "lb-health-mgr-sec-grp"][0]
    (subnet,) = run.of_type(SUBNET)
    for host, port in (("ctl1", ports["octavia-health-manager-ctl1"]), ("ctl2", ports["octavia-health-manager-ctl2"])):
        assert port["deviceOwner"] == "Octavia:health-mgr"
        assert port["binding"] == {"hostId": host}
        assert port["securityGroupIds"] == [f"{hm_group}-id"]
        assert port["fixedIps"][0]["subnetId"] == f"{subnet.name}-id"
        assert port["name"] == f"octavia-health-manager-{host}-listen-port"
    assert ports["octavia-health-manager-ctl1"]["fixedIps"][0]["ipAddress"] == "172.29.232.11"
    assert "ipAddress" not in ports["octavia-health-manager-ctl2"]["fixedIps"][0]


def test_health_manager_outputs(run):
    assert run.outputs["health_manager_ips"] == {"ctl1": "172.29.232.11", "ctl2": ALLOCATED_IP}
    assert run.outputs["health_manager_ports"] == {
        "ctl1": "octavia-health-manager-ctl1-id",
        "ctl2": "octavia-health-manager-ctl2-id",
    }
    assert run.outputs["controller_ip_port_list"] == f"172.29.232.11:5555,{ALLOCATED_IP}:5555"


def test_health_manager_plugs_carry_each_port_id_mac_and_address(run):
    plugs = run.outputs["health_manager_plugs"]
    assert set(plugs) == {"ctl1", "ctl2"}
    for host, ip in (("ctl1", "172.29.232.11"), ("ctl2", ALLOCATED_IP)):
        plug, mac = plugs[host], port_mac(f"octavia-health-manager-{host}")
        assert plug["port_id"] == run.outputs["health_manager_ports"][host] == f"octavia-health-manager-{host}-id"
        assert (plug["mac_address"], plug["ip_address"], plug["prefix_length"]) == (mac, ip, 24)
        assert (plug["interface"], plug["addressing"]) == ("o-hm0", "static")
        assert f"external-ids:iface-id=octavia-health-manager-{host}-id" in plug["ovs"]
        assert f"external-ids:attached-mac={mac}" in plug["ovs"]
        assert f"ip link set dev o-hm0 address {mac}\n" in plug["ovs"]
        assert f"ip addr replace {ip}/24 dev o-hm0\n" in plug["ovs"]


def test_ipv6_health_manager_plug_uses_the_slaac_address(config):
    run = declare({**config, **IPV6})
    (plug,) = run.outputs["health_manager_plugs"].values()
    assert plug["ip_address"] == run.outputs["health_manager_ips"]["ctl1"]
    mac = plug["mac_address"].split(":")  # fa:16:3e:xx:yy:zz -> EUI-64 f816:3eff:fexx:yyzz
    eui64 = f"fd00:29::f816:3eff:fe{mac[3]}:{mac[4]}{mac[5]}"
    assert ipaddress.ip_address(plug["ip_address"]) == ipaddress.ip_address(eui64)
    assert (plug["addressing"], plug["prefix_length"]) == ("slaac", 64)
    assert "net.ipv6.conf.o-hm0.accept_ra_defrtr=0" in plug["ovs"]


def test_ipv6_controller_ip_port_list_brackets_addresses():
    assert ip_port("fd00:29::5", 5555) == "[fd00:29::5]:5555"
    assert ip_port("172.29.232.11", 5555) == "172.29.232.11:5555"


def test_adding_a_controller_keeps_the_other_ports(config, run):
    more = declare({**config, "health_managers": [*config["health_managers"], {"host": "ctl3"}]})
    assert {p.name for p in run.of_type(PORT)} < {p.name for p in more.of_type(PORT)}


# --- compute flavor and keypair ---------------------------------------------------------------


def test_private_amphora_flavor_shared_with_the_service_project(run):
    (flavor,) = run.of_type(FLAVOR)
    assert flavor.inputs["isPublic"] is False
    assert (flavor.inputs["vcpus"], flavor.inputs["ram"], flavor.inputs["disk"]) == (1, 1024, 2)
    assert flavor.inputs["extraSpecs"] == {"hw_rng:allowed": "True"}
    assert flavor.opts.delete_before_replace is True
    (access,) = run.of_type(FLAVOR_ACCESS)
    assert access.inputs == {"flavorId": f"{flavor.name}-id", "tenantId": PROJECT_ID}
    assert run.outputs["amp_flavor_id"] == f"{flavor.name}-id"


def test_no_keypair_without_ssh(run):
    assert not run.of_type(KEYPAIR)
    assert run.outputs["amp_ssh_key_name"] == "" and run.outputs["amp_ssh_private_key"] == ""
    assert GET_USER not in run.lookups  # no keypair, no owner to look up


def test_keypair_from_configured_public_key(config):
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIARoLgDxhrRlBvtT6odksp221slOHhHKluMlQDdFqC9+ operator"
    run = declare({**config, "ssh_enabled": True, "ssh_public_key": key, "name_prefix": "dev-"})
    (keypair,) = run.of_type(KEYPAIR)
    assert keypair.inputs == {"name": "dev-octavia-ssh-key", "publicKey": key, "userId": user_id("octavia", "default")}
    assert keypair.opts.delete_before_replace is True
    assert run.outputs["amp_ssh_key_name"] == "dev-octavia-ssh-key"


def test_keypair_belongs_to_the_configured_octavia_user_in_the_service_domain(config):
    # Octavia boots amphorae as its service user; Nova only lets a keypair's owner boot with it.
    run = declare({**config, "ssh_enabled": True, "octavia_service_user": "lbaas", "service_project_domain": "svc"})
    (keypair,) = run.of_type(KEYPAIR)
    assert keypair.inputs["userId"] == user_id("lbaas", "svc")
    assert keypair.opts.delete_before_replace is True


def test_generated_keypair_private_key_is_a_secret(config):
    run = declare({**config, "ssh_enabled": True})
    (keypair,) = run.of_type(KEYPAIR)
    assert "publicKey" not in keypair.inputs
    assert run.outputs["amp_ssh_private_key"] == GENERATED_PRIVATE_KEY
    assert "amp_ssh_private_key" in run.secret_outputs


# --- images -------------------------------------------------------------------------------------


def test_current_image_is_private_tagged_qcow2_with_amphora_properties(run, image):
    (current,) = run.of_type(IMAGE)
    assert current.inputs["visibility"] == "private"
    assert (current.inputs["containerFormat"], current.inputs["diskFormat"]) == ("bare", "qcow2")
    assert current.inputs["tags"] == ["octavia-amphora-image"]
    assert current.inputs["properties"]["hw_architecture"] == "x86_64"
    assert current.inputs["properties"]["hw_rng_model"] == "virtio"
    assert current.inputs["localFilePath"] == image
    assert run.outputs["amp_image_id"] == f"{current.name}-id"
    assert run.outputs["amp_image_tag"] == "octavia-amphora-image"
    assert run.outputs["amp_image_owner_id"] == PROJECT_ID


def test_image_owner_output_is_glance_owner_and_a_foreign_owner_warns(config, monkeypatch):
    warnings = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, resource=None, **_: warnings.append(message))
    run = declare(config, image_owner="admin-project-uuid")
    assert run.outputs["amp_image_owner_id"] == "admin-project-uuid"
    assert any("admin-project-uuid" in w and PROJECT_ID in w for w in warnings)


def test_no_owner_warning_when_the_service_project_owns_the_image(config, monkeypatch):
    warnings = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, resource=None, **_: warnings.append(message))
    declare(config)
    assert not [w for w in warnings if "service project" in w]


def test_rotation_tags_only_the_newest_and_untags_after_it(config, image):
    url = "https://example.com/amphora-v3.qcow2"
    run = declare({**config, "amp_images": [{"version": "v1", "source": image}, {"version": "v2", "source": image}, {"version": "v3", "source": url}], "amp_image_keep_previous": 1})
    images = {i.name: i for i in run.of_type(IMAGE)}
    assert set(images) == {"octavia-amp-image-v2", "octavia-amp-image-v3"}  # v1 dropped: deleted
    current, previous = images["octavia-amp-image-v3"], images["octavia-amp-image-v2"]
    assert current.inputs["tags"] == ["octavia-amphora-image"] and previous.inputs.get("tags", []) == []
    assert current.inputs["imageSourceUrl"] == url and current.inputs["webDownload"] is True
    assert [r._name for r in previous.opts.depends_on] == ["octavia-amp-image-v3"]
    assert not current.opts.depends_on
    assert run.outputs["amp_image_id"] == "octavia-amp-image-v3-id"


def test_every_image_is_replaced_create_before_delete(config, image):
    # The provider asks for delete-first (the Glance name stays); the tagged image must stay until
    # its successor is active, so the program says create-first for current and kept versions alike.
    run = declare({**config, "amp_images": [{"version": "v1", "source": image}, {"version": "v2", "source": image}]})
    images = run.of_type(IMAGE)
    assert len(images) == 2
    for declared in images:
        assert declared.opts.delete_before_replace is False, declared.name
        assert declared.opts.replace_on_changes == ["diskFormat"]


def test_images_of_this_stack_with_the_tag_are_no_conflict(config, image):
    config = {**config, "name_prefix": "dev-"}
    ours = {"dev-amphora-x64-haproxy-v0": "old-id", "dev-amphora-x64-haproxy-v1": "current-id"}
    run = declare(config, tagged_images=ours)
    assert run.lookups.count("openstack:images/getImageIds:getImageIds") == 2
    assert run.outputs["amp_image_owner_id"] == PROJECT_ID


@pytest.mark.parametrize("foreign", ["amphora-x64-haproxy-v1", "prod-amphora-x64-haproxy-v1", "xdev-amphora-x64-haproxy-v1", "ubuntu"])
def test_an_image_another_stack_tagged_stops_the_program(config, foreign):
    tagged = {"dev-amphora-x64-haproxy-v1": "our-id", foreign: "foreign-id"}
    with pytest.raises(Exception) as refused:
        declare({**config, "name_prefix": "dev-"}, tagged_images=tagged)
    message = str(refused.value)
    assert "amp_image_tag='octavia-amphora-image'" in message and "foreign-id" in message, message
    assert "our-id" not in message and "amp_image_tag_shared: true" in message


def test_a_shared_tag_said_in_config_looks_nothing_up(config):
    run = declare({**config, "amp_image_tag_shared": True}, tagged_images={"prod-amphora-x64-haproxy-v1": "foreign-id"})
    assert "openstack:images/getImageIds:getImageIds" not in run.lookups
    assert run.outputs["amp_image_owner_id"] == PROJECT_ID


# --- Octavia flavors ----------------------------------------------------------------------------


def test_one_octavia_flavor_and_profile_per_topology(run):
    (compute_flavor,) = run.of_type(FLAVOR)
    profiles = {p.inputs["name"]: p for p in run.of_type(PROFILE)}
    assert set(profiles) == {"amphora-single", "amphora-active-standby"}
    for name, topology in (("amphora-single", "SINGLE"), ("amphora-active-standby", "ACTIVE_STANDBY")):
        profile = profiles[name]
        assert profile.inputs["providerName"] == "amphora"
        data = {
            "loadbalancer_topology": topology,
            "compute_flavor": f"{compute_flavor.name}-id",
            "amp_image_tag": "octavia-amphora-image",
        }
        assert json.loads(profile.inputs["flavorData"]) == data
        # The provider's normal form, or every preview shows a change.
        assert profile.inputs["flavorData"] == json.dumps(data, sort_keys=True, separators=(",", ":"))
    flavors = {f.inputs["name"]: f for f in run.of_type(LB_FLAVOR)}
    assert {n: f.inputs["flavorProfileId"] for n, f in flavors.items()} == {
        n: f"{p.name}-id" for n, p in profiles.items()
    }
    assert all(f.opts.delete_before_replace for f in flavors.values())
    # Octavia refuses updates to a profile in use, so a new profile replaces it.
    assert all(p.opts.replace_on_changes == ["flavor_data"] for p in profiles.values())
    assert run.outputs["octavia_flavor_ids"] == {
        "SINGLE": "octavia-octavia-flavors-single-id",
        "ACTIVE_STANDBY": "octavia-octavia-flavors-active-standby-id",
    }


# --- quotas -------------------------------------------------------------------------------------


def test_quotas_are_sized_from_load_balancers_and_topology(run):
    # 10 ACTIVE_STANDBY load balancers, 25% headroom: 13 load balancers, 25 amphorae (ceil 20 x 1.25).
    (nova,) = run.of_type(NOVA_QUOTA)
    (neutron,) = run.of_type(NEUTRON_QUOTA)
    assert nova.inputs == {
        "projectId": PROJECT_ID,
        "instances": 25,
        "cores": 25,
        "ram": 25 * 1024,
        "serverGroups": 13,
        "serverGroupMembers": 3,
    }
    # ports: 2 per amphora + 13 VIPs + 2 health managers + 2 DHCP; rules: 26 listeners + 13 x 3 + 20.
    assert neutron.inputs == {"projectId": PROJECT_ID, "port": 67, "securityGroup": 16, "securityGroupRule": 85}


def test_no_octavia_quotas_on_the_service_project(run):
    # Load balancers belong to tenants: Octavia quotas on the service project would limit nothing.
    assert not run.of_type(OCTAVIA_QUOTA)


def test_single_topology_halves_amphorae_and_needs_no_server_groups(config):
    config = {**config, "loadbalancer_topology": "SINGLE", "octavia_flavor_topologies": ["SINGLE"]}
    (nova,) = declare(config).of_type(NOVA_QUOTA)
    assert (nova.inputs["instances"], nova.inputs["serverGroups"], nova.inputs["serverGroupMembers"]) == (13, 0, 2)


def test_a_stack_sharing_the_service_project_leaves_its_quotas_alone(config):
    run = declare({**config, "manage_quotas": False})
    assert not any(run.of_type(kind) for kind in (NOVA_QUOTA, NEUTRON_QUOTA, OCTAVIA_QUOTA))
    assert run.of_type(NETWORK)  # the rest is still declared


# --- protection and structure -------------------------------------------------------------------


def test_production_protects_network_subnet_and_cas_only(config):
    run = declare({**config, "protect": True})
    protected = {r.name for r in run.resources if r.opts and r.opts.protect}
    assert protected == {
        "octavia-mgmt-network",
        "octavia-mgmt-subnet",
        "octavia-pki-server-ca",
        "octavia-pki-client-ca",
    }


def test_nothing_is_protected_by_default(run):
    assert not [r.name for r in run.resources if r.opts and r.opts.protect]


def test_every_resource_has_a_parent_and_components_our_type_tokens(run):
    for resource in run.resources:
        if resource.name != "octavia":
            assert resource.opts.parent is not None, resource.name
        if not resource.type.startswith(("openstack:", "pulumi-python:dynamic")):
            assert resource.type.startswith("octavia-infra:"), resource.type


# --- dev and prod side by side on one cloud -------------------------------------------------------

UNIQUE_NAMES = (FLAVOR, KEYPAIR, LB_FLAVOR)  # Nova and Octavia refuse duplicate names


@pytest.fixture
def devcloud_overrides(image):
    """The overrides docs/configuration.md gives for running dev and prod on the devcloud."""
    return {
        "dev": {"amp_images": [{"version": "dev", "source": image}]},
        "prod": {"amp_images": [{"version": "prod", "source": image}], "name_prefix": "prod-", "protect": False},
    }


def test_dev_and_prod_on_one_cloud_share_no_unique_name_or_segment(devcloud_overrides):
    runs = {env: declare({**stack_config(env), **overrides}) for env, overrides in devcloud_overrides.items()}
    names = {env: {r.inputs["name"] for token in UNIQUE_NAMES for r in run.of_type(token)} for env, run in runs.items()}
    assert names["dev"] and names["prod"] and not names["dev"] & names["prod"]
    segments = {env: run.of_type(NETWORK)[0].inputs["segments"][0] for env, run in runs.items()}
    assert segments["dev"] != segments["prod"]


# --- ordering Octavia's validation needs ------------------------------------------------------------


def dependencies_of(output_factory):
    """Run output_factory under mocks; return the resources its output depends on."""
    found = []
    pulumi.runtime.set_mocks(RecordingMocks(Run()), project="octavia-infra", stack="unit", preview=False)

    @pulumi.runtime.test
    def program():
        output = output_factory()

        async def collect():
            found.extend(await output.resources())

        return pulumi.Output.from_input(collect())

    program()
    return found


def test_flavor_profiles_wait_for_the_tagged_image(run):
    # Octavia rejects a profile whose amp_image_tag matches no image yet. The image is a
    # dependency, not an input: an input would be unknown in the preview of every image rotation.
    (image,) = run.of_type("openstack:images/image:Image")
    profiles = run.of_type(PROFILE)
    assert len(profiles) == 2
    for profile in profiles:
        assert [r._name for r in profile.opts.depends_on] == [image.name]
    assert [type(r).__name__ for r in dependencies_of(lambda: flavor_data("SINGLE", "flavor-id", "tag"))] == []


def test_flavor_id_resolves_only_once_the_service_project_has_access(config):
    settings = parse_settings(config)

    def flavor_id():
        return AmphoraFlavor("f", AmphoraFlavorArgs(settings.flavor, PROJECT_ID, names(settings))).flavor_id

    assert {type(r).__name__ for r in dependencies_of(flavor_id)} == {"Flavor", "FlavorAccess"}
