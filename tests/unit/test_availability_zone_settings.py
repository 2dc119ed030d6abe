"""availability_zones and amp_availability_zone: the settings checks (a table of bad values, each
naming its entry), what a zone adds to rules, host firewall, host plug and octavia.conf, what is
declared under mocks, and the dynamic providers' diff (the devcloud test runs them for real)."""

import ipaddress
import json

import pytest

from components.octavia_az_provider import AvailabilityZoneProfileProvider, AvailabilityZoneProvider, zone_data
from components.security_groups import rule_table
from config.errors import ConfigError
from config.settings import AdoptedSubnet, parse_settings
from config.netmath import IpRange
from octavia_support import declare
from render.firewall import render_health_manager_firewalls
from render.host_plug import render_health_manager_plugs
from render.rendering import render_octavia_conf, render_openstack_ansible

OWN = {"name": "az2", "compute_zone": "nova-az2", "subnet_cidr": "172.29.240.0/24", "nexthop": "172.29.240.1",
       "physical_network": "lbaas-az2",
       "allocation_pools": [{"start": "172.29.240.50", "end": "172.29.240.200"}]}
ROUTE_BACK = {"mgmt_host_routes": [{"destination": "172.29.240.0/21", "nexthop": "172.29.232.1"}]}
ZONES = {"availability_zones": [{"name": "az1"}, OWN], **ROUTE_BACK}
NOVA_ZONES = frozenset({"az1", "nova-az2"})
PROFILE = "pulumi-python:dynamic/octavia:AvailabilityZoneProfile"
ZONE = "pulumi-python:dynamic/octavia:AvailabilityZone"


def parse(config, **readers):
    return parse_settings(config, pki_parser=lambda section: section, **readers)


def adopted(subnet_id, key="mgmt_subnet_id"):
    return AdoptedSubnet("net-az3", ipaddress.ip_network("172.29.244.0/24"),
                         (IpRange(ipaddress.ip_address("172.29.244.10"), ipaddress.ip_address("172.29.244.99")),),
                         ipaddress.ip_address("172.29.244.1"))


def test_no_zones_by_default(config):
    settings = parse(config)
    assert (settings.availability_zones, settings.amp_availability_zone, settings.zone_subnets) == ((), None, ())


def test_a_zone_without_a_network_uses_the_management_network(config):
    [zone] = parse({**config, "availability_zones": [{"name": "az1"}]}).availability_zones
    assert (zone.name, zone.compute_zone, zone.network) == ("az1", "az1", None)


def test_a_zone_with_its_own_subnet(config):
    settings = parse({**config, **ZONES, "mgmt_network_type": "vlan", "mgmt_segmentation_id": 3101})
    own = settings.availability_zones[1].network
    assert (own.name, own.network_type, own.physical_network, own.segmentation_id) == ("lbaas-mgmt-az2", "vlan", "lbaas-az2", None)
    assert [str(p) for p in own.allocation_pools] == ["172.29.240.50-172.29.240.200"]
    assert [(str(r.destination), str(r.nexthop)) for r in own.host_routes] == [("172.29.232.0/24", "172.29.240.1")]
    assert settings.zone_subnets == (ipaddress.ip_network("172.29.240.0/24"),)


def test_without_pools_the_routers_address_is_left_out_of_neutrons_default(config):
    zone = {k: v for k, v in OWN.items() if k != "allocation_pools"}
    network = parse({**config, **ROUTE_BACK, "availability_zones": [zone]}).availability_zones[0].network
    assert network.pools_configured and [str(p) for p in network.allocation_pools] == ["172.29.240.2-172.29.240.254"]


def test_an_adopted_zone_network_is_read_and_taken_as_it_is(config):
    zone = {"name": "az3", "network_id": "net-az3", "subnet_id": "sub-az3", "subnet_cidr": "172.29.244.0/24"}
    reads = []
    settings = parse({**config, **ROUTE_BACK, "availability_zones": [zone]},
                     read_subnet=lambda subnet_id, key="mgmt_subnet_id": reads.append((subnet_id, key)) or adopted(subnet_id))
    network = settings.availability_zones[0].network
    assert reads == [("sub-az3", "availability_zones[0].subnet_id")]
    assert (network.adopted, network.network_id, network.subnet_id, str(network.gateway_ip)) == (True, "net-az3", "sub-az3", "172.29.244.1")


@pytest.mark.parametrize("zones, extra, key, valid", [
    ([{"name": "az 1"}], {}, "availability_zones[0].name", "letters, digits"),
    ([{"name": "az1"}, {"name": "az1"}], {}, "availability_zones", "unique names; repeated: az1"),
    ([{"name": "az1", "compute_zne": "x"}], {}, "availability_zones[0].compute_zne", "did you mean compute_zone?"),
    ([{"name": "az1", "nexthop": "172.29.240.1"}], {}, "availability_zones[0].nexthop", "set with subnet_cidr"),
    ([{"name": "az2", "subnet_cidr": "172.29.232.128/25", "nexthop": "172.29.232.129"}], ROUTE_BACK, "availability_zones[0].subnet_cidr",
     "does not overlap mgmt_subnet_cidr 172.29.232.0/24"),
    ([OWN, {**OWN, "name": "az3", "physical_network": "lbaas-az3"}], ROUTE_BACK, "availability_zones[1].subnet_cidr",
     "does not overlap availability_zones[0].subnet_cidr 172.29.240.0/24"),
    ([{**OWN, "subnet_cidr": "fd00:40::/64"}], {}, "availability_zones[0].subnet_cidr", "an IPv4 network"),
    ([{**OWN, "subnet_cidr": "172.29.240.0/30"}], {}, "availability_zones[0].subnet_cidr", "/29 or larger"),
    ([{**OWN, "subnet_cidr": "172.29.240.1/24"}], {}, "availability_zones[0].subnet_cidr", "without host bits"),
    ([{**OWN, "allocation_pools": [{"start": "172.29.241.1", "end": "172.29.241.9"}]}], ROUTE_BACK,
     "availability_zones[0].allocation_pools[0]", "inside 172.29.240.0/24"),
    ([{**OWN, "allocation_pools": []}], ROUTE_BACK, "availability_zones[0].allocation_pools", "at least one pool"),
    ([{**OWN, "allocation_pools": "172.29.240.50-172.29.240.200"}], ROUTE_BACK, "availability_zones[0].allocation_pools",
     "of type array"),
    ([{**OWN, "nexthop": "172.29.240.60"}], ROUTE_BACK, "availability_zones[0].nexthop", "outside the allocation pools"),
    ([{**OWN, "nexthop": "172.29.241.1"}], ROUTE_BACK, "availability_zones[0].nexthop", "inside 172.29.240.0/24"),
    ([{k: v for k, v in OWN.items() if k != "nexthop"}], ROUTE_BACK, "availability_zones[0]",
     "nexthop (a router on 172.29.240.0/24"),
    ([OWN], {}, "mgmt_host_routes", "a route covering availability_zones[0].subnet_cidr 172.29.240.0/24"),
    ([{**OWN, "physical_network": "lbaas"}], ROUTE_BACK, "availability_zones[0].physical_network",
     "one flat network per physical network"),
    ([{**OWN, "physical_network": "lbaas", "segmentation_id": 3101}],
     {**ROUTE_BACK, "mgmt_network_type": "vlan", "mgmt_segmentation_id": 3101},
     "availability_zones[0].segmentation_id", "another VLAN id"),
    ([{**OWN, "segmentation_id": 5000}], {**ROUTE_BACK, "mgmt_network_type": "vlan"},
     "availability_zones[0].segmentation_id", "1-4094 for vlan"),
    ([{**OWN, "segmentation_id": "3102"}], {**ROUTE_BACK, "mgmt_network_type": "vlan"},
     "availability_zones[0].segmentation_id", "of type integer"),
    ([{**OWN, "physical_network": "lbaas2"}], {**ROUTE_BACK, "mgmt_network_type": "vxlan", "mgmt_physical_network": ""},
     "availability_zones[0].physical_network", "vxlan is an overlay"),
    ([{"name": "az3", "network_id": "n", "subnet_cidr": "172.29.244.0/24"}], ROUTE_BACK,
     "availability_zones[0].subnet_id", "set with the other of network_id/subnet_id"),
    ([{"name": "az3", "network_id": "n", "subnet_id": "s"}], ROUTE_BACK, "availability_zones[0].subnet_cidr",
     "the CIDR of the adopted subnet"),
    ([{"name": "az3", "network_id": "n", "subnet_id": "s", "subnet_cidr": "172.29.244.0/24", "nexthop": "172.29.244.1"}],
     ROUTE_BACK, "availability_zones[0].nexthop", "left out for an adopted network"),
])
def test_bad_zones_name_the_entry_value_and_what_is_valid(config, zones, extra, key, valid):
    with pytest.raises(ConfigError) as caught:
        parse({**config, **extra, "availability_zones": zones})
    assert caught.value.key == key and valid in str(caught.value), str(caught.value)


def test_an_adopted_zone_subnet_elsewhere_is_refused(config):
    zone = {"name": "az3", "network_id": "other-net", "subnet_id": "sub-az3", "subnet_cidr": "172.29.244.0/24"}
    with pytest.raises(ConfigError, match=r"availability_zones\[0\].subnet_id.*a subnet of network_id other-net"):
        parse({**config, **ROUTE_BACK, "availability_zones": [zone]}, read_subnet=lambda s, key: adopted(s))


@pytest.mark.parametrize("extra, key, shown, hint", [
    ({"availability_zones": [{"name": "az1", "compute_zone": "az-1"}]}, "availability_zones[0].compute_zone", "az-1",
     "did you mean az1?"),
    ({"amp_availability_zone": "nova"}, "amp_availability_zone", "nova", "Nova has az1, nova-az2"),
])
def test_compute_zones_are_checked_against_novas(config, extra, key, shown, hint):
    with pytest.raises(ConfigError) as caught:
        parse({**config, **extra}, read_compute_zones=lambda: NOVA_ZONES)
    assert (caught.value.key, caught.value.value) == (key, shown) and hint in str(caught.value)


def test_novas_zones_are_read_only_for_a_stack_that_names_one(config):
    def unexpected():
        raise AssertionError("no zone named, no read")

    parse(config, read_compute_zones=unexpected)
    assert parse({**config, **ZONES, "amp_availability_zone": "az1"}, read_compute_zones=lambda: NOVA_ZONES)


def test_every_rule_also_admits_each_zone_subnet_once(config):
    settings = parse({**config, **ZONES, "mgmt_extra_sources": ["172.29.240.0/24", "10.20.0.0/16"]})
    assert [str(s) for s in settings.rule_sources] == ["172.29.240.0/24", "10.20.0.0/16"]
    rules = rule_table(settings)
    assert {r.key for r in rules if r.source == "172.29.240.0/24"} == {"heartbeat-from-172.29.240.0-24", "agent-api-from-172.29.240.0-24"}


def test_host_firewall_and_plug_reach_the_zone_subnets(config):
    settings = parse({**config, **ZONES, "log_offload": True})
    firewall = render_health_manager_firewalls(settings)["ctl1"]
    assert "ip saddr { 172.29.232.0/24, 172.29.240.0/24 } udp dport 5555 accept" in firewall["nftables"]
    assert "-A octavia-hm -s 172.29.240.0/24 -p udp -m udp --dport 10514" in firewall["iptables"]
    ports = {h.name: {"id": f"port-{h.name}", "mac_address": "fa:16:3e:00:00:01", "ip_address": "172.29.232.11"}
             for h in settings.health_managers}
    script = render_health_manager_plugs(settings, ports)["ctl1"]["ovs"]
    assert "ip route replace 172.29.240.0/24 via 172.29.232.1 dev o-hm0" in script.splitlines()


def test_amp_availability_zone_renders_novas_option_and_osas_variable(config):
    run = declare({**config, "amp_availability_zone": "az1"})
    assert "[nova]" in run.outputs["octavia_conf"] and "availability_zone = az1" in run.outputs["octavia_conf"]
    assert "octavia_amp_availability_zone: az1" in run.outputs["openstack_ansible_user_variables"]
    assert "availability_zone" not in render_octavia_conf({}) + render_openstack_ansible({})


def test_declared_zones_profiles_and_zone_networks(config):
    run = declare({**config, **ZONES})
    profiles = {r.name: r.inputs for r in run.of_type(PROFILE)}
    zones = {r.name: r.inputs for r in run.of_type(ZONE)}
    assert set(zones) == {"octavia-azs-az1", "octavia-azs-az2"}
    assert {z["name"]: z["availability_zone_profile_id"] for z in zones.values()} == {
        "az1": "octavia-azs-az1-profile-id", "az2": "octavia-azs-az2-profile-id"}
    data = {name: json.loads(p["availability_zone_data"]) for name, p in profiles.items()}
    assert data["octavia-azs-az1-profile"] == {"compute_zone": "az1", "management_network": "octavia-mgmt-network-id"}
    assert data["octavia-azs-az2-profile"] == {"compute_zone": "nova-az2", "management_network": "octavia-azs-az2-mgmt-network-id"}
    assert profiles["octavia-azs-az2-profile"]["name"] == "octavia-az-az2"
    subnets = {r.name: r.inputs for r in run.of_type("openstack:networking/subnet:Subnet")}
    assert subnets["octavia-azs-az2-mgmt-subnet"]["name"] == "lbaas-mgmt-az2"
    routes = [r.inputs for r in run.of_type("openstack:networking/subnetRoute:SubnetRoute")]
    assert {(r["destinationCidr"], r["nextHop"], r["subnetId"]) for r in routes} >= {
        ("172.29.232.0/24", "172.29.240.1", "octavia-azs-az2-mgmt-subnet-id")}
    assert run.outputs["availability_zones"]["az2"]["subnet_cidr"] == "172.29.240.0/24"


@pytest.mark.parametrize("provider, olds, news, replaces", [
    (AvailabilityZoneProfileProvider(), {"name": "a", "provider_name": "amphora", "availability_zone_data": zone_data("az1", "n")},
     {"name": "b", "provider_name": "amphora", "availability_zone_data": zone_data("az1", "n")}, []),
    (AvailabilityZoneProfileProvider(), {"name": "a", "provider_name": "amphora", "availability_zone_data": zone_data("az1", "n")},
     {"name": "a", "provider_name": "amphora", "availability_zone_data": zone_data("az2", "n")}, ["availability_zone_data"]),
    (AvailabilityZoneProvider(), {"name": "az1", "availability_zone_profile_id": "p", "description": "d", "enabled": False},
     {"name": "az1", "availability_zone_profile_id": "p", "description": "d", "enabled": True}, []),
    (AvailabilityZoneProvider(), {"name": "az1", "availability_zone_profile_id": "p", "description": "d", "enabled": True},
     {"name": "az1", "availability_zone_profile_id": "q", "description": "d", "enabled": True}, ["availability_zone_profile_id"]),
])
def test_what_changes_in_place_and_what_makes_a_new_object(provider, olds, news, replaces):
    diff = provider.diff("id", olds, news)
    assert (diff.changes, diff.replaces) == (True, replaces)
    assert provider.diff("id", olds, olds).changes is False


def test_a_stack_without_zones_declares_no_zone_component(config):
    """A component new to every stack would show as a create in the preview of stacks made before."""
    declared = {r.type for r in declare(config).resources}
    assert "octavia-infra:octavia:AvailabilityZones" not in declared and PROFILE not in declared
    assert "octavia-infra:octavia:AvailabilityZones" in {r.type for r in declare({**config, **ZONES}).resources}
