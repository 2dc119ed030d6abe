"""Health-manager host firewall: interface settings (and their bad configs) and the rendered rules."""

import pytest

from config.errors import ConfigError
from render.firewall import render_health_manager_firewalls
from config.settings import parse_settings
from octavia_support import base_config
from testbed.stacks import make_test_image


@pytest.fixture
def config(tmp_path):
    image = tmp_path / "amphora.qcow2"
    make_test_image(image, "1M")
    return base_config(str(image))  # hosts ctl1=172.29.232.11 and ctl2 on 172.29.232.0/24


def parse(config):
    return parse_settings(config, pki_parser=lambda section: section)


def firewalls(config, **overrides):
    return render_health_manager_firewalls(parse({**config, **overrides}))


def test_interfaces_default_to_o_hm0_with_per_host_exceptions(config):
    hosts = parse({**config, "health_managers": [*config["health_managers"][:1], {"host": "ctl2", "interface": "br-lbaas"}]}).health_managers
    assert [(h.name, h.interface) for h in hosts] == [("ctl1", "o-hm0"), ("ctl2", "br-lbaas")]
    hosts = parse({**config, "health_manager_interface": "eth14"}).health_managers
    assert {h.interface for h in hosts} == {"eth14"}


BAD_CONFIGS = [
    ("interface-too-long", {"health_manager_interface": "a-very-long-ifname"}, "health_manager_interface"),
    ("interface-wildcard", {"health_manager_interface": "eth+"}, "health_manager_interface"),
    ("interface-empty", {"health_manager_interface": ""}, "health_manager_interface"),
    ("interface-quote", {"health_manager_interface": 'o"hm'}, "health_manager_interface"),
    ("override-bad-name", {"health_managers": [{"host": "ctl1", "interface": "eth 1"}]}, "health_managers[0].interface"),
    ("override-wildcard", {"health_managers": [{"host": "ctl1", "interface": "eth+"}]}, "health_managers[0].interface"),
    ("override-not-a-string", {"health_managers": [{"host": "ctl1", "interface": ["eth1"]}]}, "health_managers[0].interface"),
    ("old-overrides-key", {"health_manager_interfaces": ["ctl1=eth1"]}, "health_manager_interfaces"),
]


@pytest.mark.parametrize("overrides, key", [c[1:] for c in BAD_CONFIGS], ids=[c[0] for c in BAD_CONFIGS])
def test_bad_interface_config_names_the_key(config, overrides, key):
    with pytest.raises(ConfigError) as caught:
        parse({**config, **overrides})
    assert caught.value.key == key and key in str(caught.value)


def test_one_rendering_per_host_with_its_interface(config):
    rendered = firewalls(config, health_managers=[*config["health_managers"][:1], {"host": "ctl2", "interface": "br-lbaas"}])
    assert set(rendered) == {"ctl1", "ctl2"}
    assert set(rendered["ctl1"]) == {"interface", "nftables", "iptables", "ip6tables"}
    assert 'iifname "o-hm0" jump management' in rendered["ctl1"]["nftables"]
    assert 'iifname "br-lbaas" jump management' in rendered["ctl2"]["nftables"]
    assert "-A INPUT -i br-lbaas -j octavia-hm" in rendered["ctl2"]["iptables"]
    assert "-A INPUT -i br-lbaas -j octavia-hm" in rendered["ctl2"]["ip6tables"]


def chain_rules(text, prefix):
    return [line for line in text.splitlines() if line.startswith(prefix)]


def test_iptables_accept_replies_icmp_and_heartbeats_from_the_subnet_then_reject(config):
    rules = chain_rules(firewalls(config, health_manager_port=5999)["ctl1"]["iptables"], "-A octavia-hm")
    assert rules == [
        '-A octavia-hm -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "established" -j ACCEPT',
        '-A octavia-hm -p icmp -m comment --comment "icmp" -j ACCEPT',
        '-A octavia-hm -s 172.29.232.0/24 -p udp -m udp --dport 5999 -m comment --comment "heartbeats" -j ACCEPT',
        '-A octavia-hm -m comment --comment "reject" -j REJECT --reject-with icmp-admin-prohibited',
    ]


def test_ip6tables_of_an_ipv4_subnet_keep_icmpv6_and_replies_only(config):
    rules = chain_rules(firewalls(config)["ctl1"]["ip6tables"], "-A octavia-hm")
    assert rules == [
        '-A octavia-hm -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "established" -j ACCEPT',
        '-A octavia-hm -p ipv6-icmp -m comment --comment "icmp" -j ACCEPT',
        '-A octavia-hm -m comment --comment "reject" -j REJECT --reject-with icmp6-adm-prohibited',
    ]


def test_log_offload_opens_its_two_ports_from_the_subnet(config):
    rendered = firewalls(config, log_offload=True)["ctl1"]
    assert "ip saddr 172.29.232.0/24 udp dport 10514 accept" in rendered["nftables"]
    assert "ip saddr 172.29.232.0/24 udp dport 20514 accept" in rendered["nftables"]
    assert sum("--dport 10514" in line or "--dport 20514" in line for line in rendered["iptables"].splitlines()) == 2
    assert "10514" not in firewalls(config)["ctl1"]["nftables"]


def test_ipv6_subnet_moves_heartbeats_to_ip6tables(config):
    ipv6 = {
        **config,
        "mgmt_subnet_cidr": "fd00:172:29::/64",
        "mgmt_allocation_pools": [],
        "health_managers": [{"host": "ctl1"}],
    }
    rendered = render_health_manager_firewalls(parse(ipv6))["ctl1"]
    assert "-s fd00:172:29::/64 -p udp -m udp --dport 5555" in rendered["ip6tables"]
    assert "--dport" not in rendered["iptables"]
    assert "ip6 saddr fd00:172:29::/64 udp dport 5555 accept" in rendered["nftables"]


def test_nftables_file_replaces_only_its_own_table(config):
    lines = firewalls(config)["ctl1"]["nftables"].splitlines()
    body = [line for line in lines if not line.startswith("#")]
    assert body[:3] == ["table inet octavia_hm", "delete table inet octavia_hm", "table inet octavia_hm {"]
    assert sum(line.startswith("table ") for line in body) == 2  # no other table is touched
    assert [line.strip() for line in body if "reject" in line] == ['reject with icmpx admin-prohibited comment "reject"']
