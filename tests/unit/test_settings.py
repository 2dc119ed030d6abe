"""The settings model: defaults from the schema, and one clear error per bad config."""

import json
from pathlib import Path

import pytest
import yaml

from config.errors import ConfigError
from config.schema import SCHEMA_PATH, load_schema
from config.settings import REMOVED_KEYS, REPLACED_KEYS, decode_config, parse_settings
from octavia_support import base_config, stack_config
from testbed.stacks import make_test_image

ROOT = Path(__file__).resolve().parents[2]


def no_pki(section):
    return section


def parse(config):
    return parse_settings(config, pki_parser=no_pki)


# --- happy paths ------------------------------------------------------------------------------


def test_defaults_come_from_the_schema(config):
    settings = parse(config)
    schema = load_schema()
    assert settings.network.name == schema["mgmt_network_name"].default == "lbaas-mgmt"
    assert settings.network.physical_network == schema["mgmt_physical_network"].default == "lbaas"
    assert settings.topology.default == "ACTIVE_STANDBY" and settings.topology.anti_affinity
    assert (settings.flavor.vcpus, settings.flavor.ram_mb, settings.flavor.disk_gb) == (1, 1024, 2)
    assert settings.flavor.extra_specs == (("hw_rng:allowed", "True"),)
    assert settings.image.tag == "octavia-amphora-image"
    assert not settings.access.ssh_enabled and settings.access.ssh_public_key is None
    assert settings.octavia_service_user == schema["octavia_service_user"].default == "octavia"
    assert settings.octavia_tenant_quotas == {}  # Octavia's own defaults apply


def test_default_cidr_and_pools_follow_neutron(image):
    config = base_config(image)
    del config["mgmt_subnet_cidr"], config["mgmt_allocation_pools"]
    config["health_managers"] = [{"host": "ctl1"}]
    network = parse(config).network
    assert str(network.cidr) == "172.29.232.0/22"
    # No gateway and no pools configured: Neutron's default pool is every host address.
    assert [str(p) for p in network.allocation_pools] == ["172.29.232.1-172.29.235.254"]
    assert not network.pools_configured


def test_health_managers_keep_config_order_and_fixed_ips(config):
    hosts = parse(config).health_managers
    assert [(h.name, str(h.ip) if h.ip else None) for h in hosts] == [("ctl1", "172.29.232.11"), ("ctl2", None)]


def test_a_health_manager_names_its_own_interface_or_gets_the_default(config):
    config = {**config, "health_manager_interface": "br-mgmt"}
    config["health_managers"] = [{"host": "ctl1", "ip": "172.29.232.11"}, {"host": "ctl2", "interface": "br-lbaas"}]
    assert [(h.name, h.interface) for h in parse(config).health_managers] == [("ctl1", "br-mgmt"), ("ctl2", "br-lbaas")]


def test_extra_specs_are_an_object_of_strings(config):
    specs = parse({**config, "amp_flavor_extra_specs": {"hw_rng:allowed": True, "hw:cpu_cores": 2}}).flavor.extra_specs
    assert specs == (("hw_rng:allowed", "True"), ("hw:cpu_cores", "2"))


def test_reserved_ranges_take_start_end_or_cidr(config):
    reserved = [{"start": "172.29.232.1", "end": "172.29.232.9"}, {"cidr": "172.29.232.16/28"}]
    assert parse({**config, "mgmt_reserved_ranges": reserved}).network.allocation_pools  # outside the pools: valid


def test_planned_amphorae_count_two_per_active_standby_load_balancer(config):
    assert parse({**config, "expected_loadbalancers": 7}).planned_amphorae == 14
    single = {
        **config,
        "expected_loadbalancers": 7,
        "loadbalancer_topology": "SINGLE",
        "octavia_flavor_topologies": ["SINGLE"],
    }
    assert parse(single).planned_amphorae == 7


def test_offering_active_standby_plans_for_it_even_when_default_is_single(config):
    config = {**config, "expected_loadbalancers": 7, "loadbalancer_topology": "SINGLE"}
    assert parse(config).planned_amphorae == 14


def test_ipv6_subnet_gets_a_gateway_for_router_advertisements(config):
    config = {
        **config,
        "mgmt_subnet_cidr": "fd00:29::/64",
        "mgmt_allocation_pools": [],
        "health_managers": [{"host": "ctl1"}],
    }
    network = parse(config).network
    assert network.ip_version == 6 and str(network.gateway_ip) == "fd00:29::1"


def test_image_versions_keep_only_the_newest(config, image):
    versions = [{"version": v, "source": image} for v in ("v1", "v2", "v3")]
    config = {**config, "amp_images": versions, "amp_image_keep_previous": 1}
    settings = parse(config).image
    assert [v.version for v in settings.versions] == ["v2", "v3"]
    assert settings.current.version == "v3" and [v.version for v in settings.previous] == ["v2"]


def test_url_sources_need_no_local_file(config):
    config = {**config, "amp_images": [{"version": "v9", "source": "https://example.com/amphora.qcow2"}]}
    assert parse(config).image.current.is_url


@pytest.mark.parametrize(
    "spelling", [".state/x.qcow2", "./.state/x.qcow2", ".state//x.qcow2", ".state/x.qcow2/", "other/../.state/x.qcow2"]
)
def test_a_respelled_local_source_is_the_same_source(config, tmp_path, monkeypatch, spelling):
    # Relative to the project directory, where the program runs; the kept version is not read.
    monkeypatch.chdir(tmp_path)
    make_test_image(tmp_path / ".state" / "x.qcow2", "1M")
    versions = [{"version": "v1", "source": f"./{spelling}"}, {"version": "v2", "source": spelling}]
    image = parse({**config, "amp_images": versions}).image
    assert [v.source for v in image.versions] == [".state/x.qcow2", ".state/x.qcow2"]


def test_absolute_sources_stay_absolute_and_urls_as_written(config, image):
    url = "https://example.com/a/../amphora.qcow2"
    versions = [{"version": "v1", "source": url}, {"version": "v2", "source": image.replace("/amphora", "//./amphora")}]
    settings = parse({**config, "amp_images": versions}).image
    assert [v.source for v in settings.versions] == [url, image]


def test_a_manifests_image_path_is_normalised(config, tmp_path, monkeypatch):
    from tools.amphora_image.cli import main as amphora_image

    monkeypatch.chdir(tmp_path)
    make_test_image(tmp_path / "builds" / "v1" / "amphora-x64-haproxy.qcow2", "1M")
    assert amphora_image(["manifest", "--from-existing", "builds/v1/amphora-x64-haproxy.qcow2", "--version", "v1"]) == 0
    manifest = "./builds/v1/amphora-x64-haproxy.manifest.json"
    assert parse({**config, "amp_images": [{"manifest": manifest}]}).image.current.source == (
        "builds/v1/amphora-x64-haproxy.qcow2"
    )


def test_the_image_tag_is_not_shared_unless_said(config):
    assert parse(config).image.tag_shared is False
    assert parse({**config, "amp_image_tag_shared": True}).image.tag_shared is True


def test_adopting_an_existing_network(config):
    network = parse({**config, "mgmt_network_id": "net-1", "mgmt_subnet_id": "sub-1"}).network
    assert network.adopted and (network.network_id, network.subnet_id) == ("net-1", "sub-1")


def test_tenant_quotas_keep_only_the_names_set_in_octavias_order(config):
    quotas = {"member": 500, "load_balancer": 10, "l7rule": -1, "pool": 0}
    settings = parse({**config, "octavia_tenant_quotas": quotas})
    assert list(settings.octavia_tenant_quotas.items()) == [
        ("load_balancer", 10), ("pool", 0), ("member", 500), ("l7rule", -1)
    ]


def test_pki_section_goes_to_the_pki_parser(config):
    seen = []
    parse_settings(config, pki_parser=lambda section: seen.append(section) or "parsed")
    assert seen == [config["pki"]]


# --- the table of bad configs -----------------------------------------------------------------

IMAGE = "__image__"  # replaced with the test's image file


def POOL(start, end):
    return {"start": start, "end": end}


def HM(host, ip):
    return {"host": host, "ip": ip}


def ROUTE(destination, nexthop):
    return {"destination": destination, "nexthop": nexthop}


def IMG(version, source):
    return {"version": version, "source": source}

# fmt: off
BAD_CONFIGS = [
    # (case id, overrides, key named in the error, value shown in the error)
    ("typo", {"mgmt_subnet_cdir": "10.0.0.0/24"}, "mgmt_subnet_cdir", "10.0.0.0/24"),
    ("spare-pool-removed", {"spare_amphora_pool_size": 2}, "spare_amphora_pool_size", "2"),
    ("lbaas-v1-retired", {"lbaas_v1": True}, "lbaas_v1", "True"),
    ("neutron-lbaas-retired", {"neutron_lbaas": True}, "neutron_lbaas", "True"),
    ("string-for-array", {"mgmt_dns_servers": "172.29.232.2"}, "mgmt_dns_servers", "172.29.232.2"),
    ("bool-for-integer", {"expected_loadbalancers": True}, "expected_loadbalancers", "True"),
    ("string-for-boolean", {"ssh_enabled": "yes"}, "ssh_enabled", "yes"),
    ("integer-for-string", {"mgmt_network_name": 5}, "mgmt_network_name", "5"),
    ("array-item-type", {"health_managers": [{"host": "ctl1"}, 7]}, "health_managers[1]", "7"),
    ("required-missing", {"health_managers": None}, "health_managers", "None"),
    ("cidr-malformed", {"mgmt_subnet_cidr": "172.29.232.0/33"}, "mgmt_subnet_cidr", "172.29.232.0/33"),
    ("cidr-host-bits", {"mgmt_subnet_cidr": "172.29.232.5/24"}, "mgmt_subnet_cidr", "172.29.232.5/24"),
    ("cidr-too-small", {"mgmt_subnet_cidr": "172.29.232.0/30"}, "mgmt_subnet_cidr", "172.29.232.0/30"),
    ("ipv6-not-64", {"mgmt_subnet_cidr": "fd00::/48", "mgmt_allocation_pools": []}, "mgmt_subnet_cidr", "fd00::/48"),
    ("pool-outside-subnet", {"mgmt_allocation_pools": [POOL("172.29.233.1", "172.29.233.100")]}, "mgmt_allocation_pools[0]", "172.29.233.100"),
    ("pool-reversed", {"mgmt_allocation_pools": [POOL("172.29.232.250", "172.29.232.50")]}, "mgmt_allocation_pools[0]", "172.29.232.250"),
    ("pool-malformed", {"mgmt_allocation_pools": [POOL("first", "last")]}, "mgmt_allocation_pools[0]", "first"),
    ("pool-missing-end", {"mgmt_allocation_pools": [{"start": "172.29.232.50"}]}, "mgmt_allocation_pools[0]", "172.29.232.50"),
    ("pool-includes-broadcast", {"mgmt_allocation_pools": [POOL("172.29.232.50", "172.29.232.255")]}, "mgmt_allocation_pools[0]", "172.29.232.255"),
    ("pools-overlap", {"mgmt_allocation_pools": [POOL("172.29.232.50", "172.29.232.150"), POOL("172.29.232.140", "172.29.232.250")]}, "mgmt_allocation_pools", "172.29.232.140-172.29.232.250"),
    ("gateway-outside-subnet", {"mgmt_gateway_ip": "10.0.0.1"}, "mgmt_gateway_ip", "10.0.0.1"),
    ("gateway-in-pool", {"mgmt_gateway_ip": "172.29.232.60"}, "mgmt_gateway_ip", "172.29.232.60"),
    ("gateway-not-an-ip", {"mgmt_gateway_ip": "router"}, "mgmt_gateway_ip", "router"),
    ("pool-too-small", {"mgmt_allocation_pools": [POOL("172.29.232.50", "172.29.232.60")]}, "mgmt_allocation_pools", "172.29.232.60"),
    ("subnet-too-small-for-plan", {"mgmt_allocation_pools": [], "health_managers": [{"host": "ctl1"}], "expected_loadbalancers": 200}, "mgmt_subnet_cidr", "172.29.232.0/24"),
    ("pool-over-reserved", {"mgmt_reserved_ranges": [{"cidr": "172.29.232.0/26"}]}, "mgmt_reserved_ranges[0]", "172.29.232.0/26"),
    ("reserved-malformed", {"mgmt_reserved_ranges": [{"cidr": "controllers"}]}, "mgmt_reserved_ranges[0]", "controllers"),
    ("reserved-mixed-shape", {"mgmt_reserved_ranges": [{"cidr": "172.29.232.0/28", "start": "172.29.232.1"}]}, "mgmt_reserved_ranges[0]", "172.29.232.0/28"),
    ("pool-over-used-ip", {"mgmt_used_ips": ["172.29.232.77"]}, "mgmt_used_ips", "172.29.232.77"),
    ("hm-fixed-ip-used", {"mgmt_used_ips": ["172.29.232.11"]}, "health_managers[0].ip", "172.29.232.11"),
    ("hm-none", {"health_managers": []}, "health_managers", "[]"),
    ("hm-no-host", {"health_managers": [{"ip": "172.29.232.11"}]}, "health_managers[0]", "172.29.232.11"),
    ("hm-field-typo", {"health_managers": [{"host": "ctl1", "interfce": "eth1"}]}, "health_managers[0].interfce", "eth1"),
    ("hm-duplicate-host", {"health_managers": [{"host": "ctl1"}, {"host": "ctl1", "ip": "172.29.232.12"}]}, "health_managers", "ctl1"),
    ("hm-duplicate-ip", {"health_managers": [HM("ctl1", "172.29.232.11"), HM("ctl2", "172.29.232.11")]}, "health_managers", "172.29.232.11"),
    ("hm-ip-in-pool", {"health_managers": [HM("ctl1", "172.29.232.100")]}, "health_managers[0].ip", "172.29.232.100"),
    ("hm-ip-outside-subnet", {"health_managers": [HM("ctl1", "10.1.1.1")]}, "health_managers[0].ip", "10.1.1.1"),
    ("hm-ip-is-gateway", {"mgmt_gateway_ip": "172.29.232.1", "health_managers": [HM("ctl1", "172.29.232.1")]}, "health_managers[0].ip", "172.29.232.1"),
    ("hm-bad-hostname", {"health_managers": [{"host": "ctl_1"}]}, "health_managers[0].host", "ctl_1"),
    ("hm-bad-ip", {"health_managers": [HM("ctl1", "172.29.232.300")]}, "health_managers[0].ip", "172.29.232.300"),
    ("hm-ip-not-a-string", {"health_managers": [{"host": "ctl1", "ip": 3}]}, "health_managers[0].ip", "3"),
    ("hm-fixed-ip-on-ipv6", {"mgmt_subnet_cidr": "fd00:29::/64", "mgmt_allocation_pools": [], "health_managers": [HM("ctl1", "fd00:29::5")]}, "health_managers[0].ip", "fd00:29::5"),
    ("hm-bad-interface", {"health_managers": [{"host": "ctl1", "interface": "eth 1"}]}, "health_managers[0].interface", "eth 1"),
    ("hm-port-range", {"health_manager_port": 70000}, "health_manager_port", "70000"),
    ("network-type", {"mgmt_network_type": "gre"}, "mgmt_network_type", "gre"),
    ("vlan-id-range", {"mgmt_network_type": "vlan", "mgmt_segmentation_id": 4095}, "mgmt_segmentation_id", "4095"),
    ("flat-with-segment", {"mgmt_segmentation_id": 100}, "mgmt_segmentation_id", "100"),
    ("negative-segment", {"mgmt_network_type": "vxlan", "mgmt_physical_network": "", "mgmt_segmentation_id": -1}, "mgmt_segmentation_id", "-1"),
    ("vxlan-with-physnet", {"mgmt_network_type": "vxlan"}, "mgmt_physical_network", "lbaas"),
    ("vlan-without-physnet", {"mgmt_network_type": "vlan", "mgmt_physical_network": ""}, "mgmt_physical_network", "''"),
    ("mtu-range", {"mgmt_mtu": 20000}, "mgmt_mtu", "20000"),
    ("mtu-below-ipv4-minimum", {"mgmt_mtu": 67}, "mgmt_mtu", "67"),
    ("ipv6-mtu", {"mgmt_subnet_cidr": "fd00:29::/64", "mgmt_allocation_pools": [], "health_managers": [{"host": "ctl1"}], "mgmt_mtu": 1000}, "mgmt_mtu", "1000"),
    ("ipv6-without-dhcp", {"mgmt_subnet_cidr": "fd00:29::/64", "mgmt_allocation_pools": [], "health_managers": [{"host": "ctl1"}], "mgmt_enable_dhcp": False}, "mgmt_enable_dhcp", "False"),
    ("dns-not-ip", {"mgmt_dns_servers": ["dns.example.com"]}, "mgmt_dns_servers", "dns.example.com"),
    ("dns-wrong-version", {"mgmt_dns_servers": ["2001:db8::53"]}, "mgmt_dns_servers", "2001:db8::53"),
    ("route-malformed", {"mgmt_host_routes": [ROUTE("10.0.0.0/33", "172.29.232.1")]}, "mgmt_host_routes[0].destination", "10.0.0.0/33"),
    ("route-nexthop-not-ip", {"mgmt_host_routes": [ROUTE("10.0.0.0/8", "gw")]}, "mgmt_host_routes[0].nexthop", "gw"),
    ("route-nexthop-outside", {"mgmt_host_routes": [ROUTE("10.0.0.0/8", "10.0.0.1")]}, "mgmt_host_routes[0]", "10.0.0.1"),
    ("adopt-network-only", {"mgmt_network_id": "net-1"}, "mgmt_subnet_id", "''"),
    ("adopt-subnet-only", {"mgmt_subnet_id": "sub-1"}, "mgmt_network_id", "''"),
    ("topology", {"loadbalancer_topology": "ACTIVE_ACTIVE"}, "loadbalancer_topology", "ACTIVE_ACTIVE"),
    ("offered-topology", {"octavia_flavor_topologies": ["SINGLE", "ACTIVE"]}, "octavia_flavor_topologies", "ACTIVE"),
    ("offered-duplicate", {"octavia_flavor_topologies": ["SINGLE", "SINGLE"]}, "octavia_flavor_topologies", "SINGLE"),
    ("anti-affinity-policy", {"anti_affinity_policy": "spread"}, "anti_affinity_policy", "spread"),
    ("flavor-vcpus", {"amp_flavor_vcpus": 0}, "amp_flavor_vcpus", "0"),
    ("flavor-ram", {"amp_flavor_ram_mb": 128}, "amp_flavor_ram_mb", "128"),
    ("extra-spec-empty", {"amp_flavor_extra_specs": {"hw_rng:allowed": ""}}, "amp_flavor_extra_specs.hw_rng:allowed", "''"),
    ("extra-spec-nested", {"amp_flavor_extra_specs": {"hw:cpu": {"policy": "x"}}}, "amp_flavor_extra_specs.hw:cpu", "policy"),
    ("ssh-key-while-disabled", {"ssh_public_key": "ssh-ed25519 AAAAC3Nza test"}, "ssh_public_key", "ssh-ed25519 AAAAC3Nza test"),
    ("ssh-key-malformed", {"ssh_enabled": True, "ssh_public_key": "BEGIN PUBLIC KEY"}, "ssh_public_key", "BEGIN PUBLIC KEY"),
    ("images-empty", {"amp_images": []}, "amp_images", "[]"),
    ("image-missing-file", {"amp_images": [IMG("v1", "/nonexistent/amphora.qcow2")]}, "amp_images[0]", "/nonexistent/amphora.qcow2"),
    ("image-ftp", {"amp_images": [IMG("v1", "ftp://example.com/a.qcow2")]}, "amp_images[0].source", "ftp://example.com/a.qcow2"),
    ("image-no-version", {"amp_images": [{"source": IMAGE}]}, "amp_images[0]", IMAGE),
    ("image-version-as-number", {"amp_images": [{"version": 2025.1, "source": IMAGE}]}, "amp_images[0].version", "2025.1"),
    ("image-bad-version", {"amp_images": [IMG("v 1", IMAGE)]}, "amp_images[0].version", "v 1"),
    ("image-duplicate-version", {"amp_images": [IMG("v1", IMAGE), IMG("v1", IMAGE)]}, "amp_images", "v1"),
    ("image-keep-negative", {"amp_image_keep_previous": -1}, "amp_image_keep_previous", "-1"),
    ("image-architecture", {"amp_image_architecture": "i386"}, "amp_image_architecture", "i386"),
    ("no-load-balancers", {"expected_loadbalancers": 0}, "expected_loadbalancers", "0"),
    ("name-prefix", {"name_prefix": "dev prefix"}, "name_prefix", "dev prefix"),
    ("empty-service-project", {"service_project": " "}, "service_project", "' '"),
    ("empty-octavia-service-user", {"octavia_service_user": ""}, "octavia_service_user", "''"),
    ("tenant-quotas-as-text", {"octavia_tenant_quotas": "member=10"}, "octavia_tenant_quotas", "member=10"),
    ("tenant-quota-nested", {"octavia_tenant_quotas": {"pool": {"max": 5}}}, "octavia_tenant_quotas.pool", "'max'"),
]
# fmt: on


def _with_image(value, image):
    if isinstance(value, str):
        return value.replace(IMAGE, image)
    if isinstance(value, list):
        return [_with_image(item, image) for item in value]
    if isinstance(value, dict):
        return {key: _with_image(item, image) for key, item in value.items()}
    return value


@pytest.mark.parametrize(
    "overrides, key, shown", [case[1:] for case in BAD_CONFIGS], ids=[case[0] for case in BAD_CONFIGS]
)
def test_bad_config_names_key_and_value(config, image, overrides, key, shown):
    overrides = {name: _with_image(value, image) for name, value in overrides.items()}
    config = {**config, **overrides}
    config = {name: value for name, value in config.items() if value is not None}  # None: not set
    with pytest.raises(ConfigError) as caught:
        parse(config)
    message = str(caught.value)
    assert caught.value.key == key
    assert key in message and _with_image(shown, image) in message
    assert caught.value.valid  # says what would be valid


def test_table_is_large_and_ids_are_unique():
    ids = [case[0] for case in BAD_CONFIGS]
    assert len(ids) >= 30 and len(set(ids)) == len(ids)


def test_unknown_key_lists_the_known_keys(config):
    with pytest.raises(ConfigError) as caught:
        parse({**config, "sssh_enabled": True})
    assert caught.value.valid.startswith("unknown key; did you mean ssh_enabled?")
    assert "mgmt_subnet_cidr" in caught.value.valid


@pytest.mark.parametrize("key", sorted(REMOVED_KEYS))
def test_removed_keys_say_they_were_removed(config, key):
    with pytest.raises(ConfigError) as caught:
        parse({**config, key: 1})
    assert any(word in caught.value.valid for word in ("removed", "retired"))


# The string forms values had before config was structured: refused, showing the value rewritten.
OLD_FORMS = [
    ("mgmt_allocation_pools", ["172.29.232.50-172.29.232.250"], "mgmt_allocation_pools",
     "written as objects: [{start: 172.29.232.50, end: 172.29.232.250}]"),
    ("mgmt_reserved_ranges", ["172.29.232.0/28", "172.29.232.20-172.29.232.30"], "mgmt_reserved_ranges",
     "written as objects: [{cidr: 172.29.232.0/28}, {start: 172.29.232.20, end: 172.29.232.30}]"),
    ("mgmt_host_routes", ["10.0.0.0/8 via 172.29.232.1"], "mgmt_host_routes",
     "written as objects: [{destination: 10.0.0.0/8, nexthop: 172.29.232.1}]"),
    ("amp_images", ["2025.1=https://example.com/a.qcow2"], "amp_images",
     "written as objects: [{version: '2025.1', source: 'https://example.com/a.qcow2'}]"),
    ("amp_images", ["build/a.manifest.json"], "amp_images", "written as objects: [{manifest: build/a.manifest.json}]"),
    ("amp_flavor_extra_specs", ["hw_rng:allowed=True"], "amp_flavor_extra_specs",
     "written as an object: {'hw_rng:allowed': 'True'}"),
    ("health_manager_hosts", ["ctl1=172.29.232.11", "ctl2"], "health_manager_hosts",
     "replaced by health_managers; written in its form: health_managers: [{host: ctl1, ip: 172.29.232.11}, {host: ctl2}]"),
]


@pytest.mark.parametrize("key, old, named, new_form", OLD_FORMS, ids=[f"{case[0]}-{i}" for i, case in enumerate(OLD_FORMS)])
def test_an_old_string_form_is_refused_showing_the_new_form(config, key, old, named, new_form):
    with pytest.raises(ConfigError) as caught:
        parse({**config, key: old})
    assert caught.value.key == named and new_form in str(caught.value)
    assert "\n" not in str(caught.value)  # one line


def test_one_old_item_among_objects_is_shown_rewritten(config):
    images = [{"version": "v1", "source": "https://example.com/a.qcow2"}, "v2=https://example.com/b.qcow2"]
    with pytest.raises(ConfigError) as caught:
        parse({**config, "amp_images": images})
    assert caught.value.key == "amp_images[1]"
    assert "written as an object: {version: v2, source: 'https://example.com/b.qcow2'}" in str(caught.value)


def test_replaced_interface_overrides_move_into_their_health_manager(config):
    old = {"health_manager_hosts": ["ctl1", "ctl2=172.29.232.12"], "health_manager_interfaces": ["ctl2=br-lbaas"]}
    with pytest.raises(ConfigError) as caught:
        parse({**config, **old})
    assert "health_managers: [{host: ctl1}, {host: ctl2, ip: 172.29.232.12, interface: br-lbaas}]" in str(caught.value)
    assert set(REPLACED_KEYS) == set(old)


def test_pool_size_error_explains_the_arithmetic(config):
    with pytest.raises(ConfigError) as caught:
        parse({**config, "expected_loadbalancers": 100})
    # 100 ACTIVE_STANDBY load balancers: 200 amphorae + 25% = 250, + 1 allocated HM port + 2 DHCP ports.
    assert "at least 253 addresses (have 201)" in caught.value.valid


# --- the schema --------------------------------------------------------------------------------


REQUIRED_KEYS = {"health_managers", "amp_images"}


def test_every_schema_key_is_typed_described_and_defaulted_unless_required():
    for spec in load_schema().values():
        assert spec.type in ("string", "integer", "boolean", "array", "object"), spec.name
        assert spec.description.strip(), f"{spec.name} has no description"
        assert spec.type != "array" or spec.item_type in ("string", "object"), spec.name
    # No fake default for what a stack must say: Pulumi itself then refuses a stack without it.
    assert {spec.name for spec in load_schema().values() if spec.default is None} == REQUIRED_KEYS


def test_arrays_of_objects_have_declared_shapes():
    from config.settings import RECORD_SHAPES

    objects = {spec.name for spec in load_schema().values() if spec.item_type == "object"}
    assert objects == set(RECORD_SHAPES)


def test_pki_defaults_are_declared_in_the_schema():
    from config.pki import parse_pki_settings

    declared = load_schema()["pki"].default
    settings = parse_pki_settings(None)
    assert declared["server_ca"]["key_size"] == settings.server_ca.key_size == 4096
    assert declared["client_cert"]["validity_days"] == settings.client_cert.validity_days == 730
    assert parse_pki_settings(declared) == settings  # the engine passes the default whole


WRONG_TYPE = {"string": 1, "integer": "1", "boolean": "true", "array": "x", "object": ["x"]}


@pytest.mark.parametrize("key", sorted(load_schema()))
def test_every_schema_key_is_type_checked(config, key):
    spec = load_schema()[key]
    with pytest.raises(ConfigError) as caught:
        parse({**config, key: WRONG_TYPE[spec.type]})
    assert caught.value.key == key and spec.type in caught.value.valid


def test_pulumi_yaml_keeps_stacks_in_their_directory():
    project = yaml.safe_load(SCHEMA_PATH.read_text())
    assert project["stackConfigDir"] == "stacks" and project["name"] == "octavia-infra"


# --- decoding the engine's strings ---------------------------------------------------------------


def test_decode_config_types_values_by_schema():
    raw = {
        "mgmt_network_name": "123",
        "expected_loadbalancers": "12",
        "ssh_enabled": "true",
        "amp_images": json.dumps([{"version": "v1", "source": "/tmp/a.qcow2"}]),
        "pki": json.dumps({"server_ca": {"validity_days": 10}}),
        "typo": "not json",
    }
    assert decode_config(raw) == {
        "mgmt_network_name": "123",
        "expected_loadbalancers": 12,
        "ssh_enabled": True,
        "amp_images": [{"version": "v1", "source": "/tmp/a.qcow2"}],
        "pki": {"server_ca": {"validity_days": 10}},
        "typo": "not json",
    }


# --- the shipped stack files ---------------------------------------------------------------------


@pytest.mark.parametrize("env", ["local", "dev", "prod"])
def test_stack_files_are_valid(env, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the local stack's image path is relative to the project directory
    (tmp_path / ".state").mkdir()
    make_test_image(tmp_path / ".state" / "amphora-test.qcow2", "1M")
    settings = parse(stack_config(env))
    assert settings.health_managers


def test_prod_is_protected_active_standby_with_three_fixed_controllers():
    settings = parse(stack_config("prod"))
    assert settings.protect and settings.network.network_type == "vlan"
    assert settings.topology.default == "ACTIVE_STANDBY" and settings.topology.anti_affinity
    assert len(settings.health_managers) == 3 and all(h.ip for h in settings.health_managers)


def test_dev_and_prod_can_share_one_cloud():
    dev, prod = parse(stack_config("dev")), parse(stack_config("prod"))
    assert dev.name_prefix != prod.name_prefix
    same_segment = (dev.network.physical_network, dev.network.segmentation_id) == (
        prod.network.physical_network,
        prod.network.segmentation_id,
    )
    assert not same_segment


def test_configuration_docs_list_every_key_with_its_type_and_default():
    docs = (ROOT / "docs" / "configuration.md").read_text()
    for spec in load_schema().values():
        kind = f"array<{spec.item_type}>" if spec.type == "array" else spec.type
        default = "required" if spec.default is None else "see below" if spec.name == "pki" else f"`{json.dumps(spec.default)}`"
        assert f"| `{spec.name}` | {kind} | {default} |" in docs, spec.name


def test_test_file_names_are_unique_across_directories():
    """pytest imports test files by basename: a name used twice stops the whole run at collection."""
    names = [path.name for path in (ROOT / "tests").rglob("test_*.py")]
    assert len(names) == len(set(names)), sorted({name for name in names if names.count(name) > 1})
